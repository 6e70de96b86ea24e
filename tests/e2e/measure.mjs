// Timing and memory of the built app on large rasters (a measurement, not a test):
//   node measure.mjs DIST [FILE…] [--runs LIST] [--workers LIST] [--sample | --no-sample] [--out FILE]
//                    [--polygons M]
//
//   FILE…         rasters to measure (default: the bench rasters yell_4096.tif and yell_16384.tif in $MAPSEG_BENCH,
//                 else ~/.cache/mapseg-bench, that exist)
//   --runs LIST   method:backend pairs, comma-separated, each FILE measured once per pair (default: all four):
//                 kmeans:cpu (?backend=cpu), kmeans:webgpu (?backend=webgpu), cnn:cpu (?method=cnn&backend=cpu),
//                 cnn:webgpu (?method=cnn&backend=webgpu)
//   --workers LIST  worker pool sizes, comma-separated, each FILE measured once per (run, size) pair (default: all):
//                 N adds `&workers=N` to the run's query; `all` adds nothing, so the app uses
//                 navigator.hardwareConcurrency workers. Each FILE line has `workers` (N or "all") and
//                 `hardware_concurrency` (the page's navigator.hardwareConcurrency)
//   --sample      also measure the built-in sample at the app's default settings (the default without --runs)
//   --no-sample   do not (the default with --runs)
//   --out FILE    also append each result line to FILE
//   --polygons M  after each result, also time the class polygon download (GeoJSON, simplified by M metres; 0 keeps
//                 pixel edges): `polygons_ms` (click to file), `polygons_bytes`, and the peaks again after it
//
// MAPSEG_MEASURE_LOG=1 also prints the page's and the worker's console output of each measurement to standard error.
//
// One JSON object per measurement on standard output. For each: the app's start-up until its worker is ready
// (`worker_ready_ms`) and until its warm-up is done (`worker_warm_ms`; a user picks a file meanwhile, so the clock
// starts after it), the time from handing the file
// to the page until the file panel shows it (`load_ms`), until the map shows the display image (`preview_ms`; the panel
// comes first, and the run asked for meanwhile waits for the image), until `result-ready` (the map: `drop_to_result_ms`) and until the
// details that follow it, the suggested class names and a k curve still being drawn (`drop_to_details_ms`), and megapixels per second over it (width × height of the raster as the page
// shows it, else from gdalinfo). These three are taken on the page's clock, from the event that hands the file over
// (the file input's change, a drop, the click on "Try a sample") until the element appears, so they leave out the
// DevTools round trips and the polling of this script; the same spans as this script saw them, which add those, are
// `load_wall_ms`, `drop_to_result_wall_ms` and `drop_to_details_wall_ms`. Run is clicked as soon as the panel shows. Also: the app's own `data-elapsed-ms` (Run to result), the backend the page says it ran on
// (`[data-testid=backend]`, with `gpu` from its `data-gpu`), the renderer's peak resident memory (VmHWM of the process
// that hosts the page and its worker; the baseline after start-up is printed next to it; the GPU process is not
// counted) and, when the app reports it, `data-wasm-memory-bytes` of the worker. Otherwise the worker's WebAssembly
// memory is read through a getter installed on `WebAssembly.Memory.prototype.buffer` (the wasm-bindgen glue reads
// `memory.buffer` after every growth); wasm memory never shrinks, so its final size is its peak. Every measurement
// runs in a fresh browser. Exit status 1 when a measurement failed (its line has `error`).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch } from './lib/browser.mjs';
import { detailsReady, loadFile, openApp, runToResult, tid, trySample, workerWarm } from './lib/app.mjs';
import { gdalinfo } from './lib/gdal.mjs';
import { largestRenderer } from './lib/procmem.mjs';
import { serveDir } from './lib/server.mjs';

const BENCH = process.env.MAPSEG_BENCH || path.join(os.homedir(), '.cache', 'mapseg-bench');
const MIB = 1024;
const USAGE = 'usage: node measure.mjs DIST [FILE…] [--runs kmeans:cpu,kmeans:webgpu,cnn:cpu,cnn:webgpu] '
  + '[--workers 1,2,all] [--sample | --no-sample] [--out FILE] [--polygons METRES]';

/** The URL query of each method:backend run. */
const RUNS = {
  'kmeans:cpu': '?backend=cpu',
  'kmeans:webgpu': '?backend=webgpu',
  'cnn:cpu': '?method=cnn&backend=cpu',
  'cnn:webgpu': '?method=cnn&backend=webgpu',
};

/** An error that is reported by its message alone (a wrong command line). */
function usage(message) {
  return Object.assign(new Error(message), { usage: true });
}

/** `--workers LIST`: positive counts and `all` (the app's default), in order, without repeats. */
function parseWorkers(list) {
  const sizes = [...new Set(list.split(',').map((w) => w.trim()).filter(Boolean))];
  const bad = sizes.filter((w) => w !== 'all' && !/^[1-9]\d*$/.test(w));
  if (bad.length) throw usage(`--workers takes counts of 1 or more and \`all\`, not ${bad.join(', ')}\n${USAGE}`);
  if (!sizes.length) throw usage(`--workers is empty\n${USAGE}`);
  return sizes.map((w) => (w === 'all' ? w : Number(w)));
}

/** The URL query of `run` with `workers` workers (`all`: the app's default, no parameter). */
function runQuery(run, workers) {
  return workers === 'all' ? RUNS[run] : `${RUNS[run]}&workers=${workers}`;
}

/** `{ dist, files, runs, workers, sample, out, polygons }` from the command line. */
function parseArgs(argv) {
  const options = {
    dist: process.env.MAPSEG_DIST, files: [], runs: null, workers: null, sample: null, out: null, polygons: null,
  };
  const positional = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[(i += 1)];
      if (v === undefined || v === '') throw usage(`${name} needs a value\n${USAGE}`);
      return v;
    };
    if (name === '--runs') options.runs = value().split(',').map((r) => r.trim()).filter(Boolean);
    else if (name === '--workers') options.workers = parseWorkers(value());
    else if (name === '--out') options.out = value();
    else if (name === '--polygons') {
      options.polygons = Number(value());
      if (!(options.polygons >= 0)) throw usage(`--polygons needs a tolerance in metres, 0 or more\n${USAGE}`);
    }
    else if (name === '--sample') options.sample = true;
    else if (name === '--no-sample') options.sample = false;
    else if (name === '--help' || name === '-h') throw usage(USAGE);
    else if (name.startsWith('--')) throw usage(`unknown option ${name}\n${USAGE}`);
    else positional.push(arg);
  }
  const unknown = (options.runs ?? []).filter((r) => !Object.hasOwn(RUNS, r));
  if (unknown.length) throw usage(`unknown run(s) ${unknown.join(', ')}: choose from ${Object.keys(RUNS).join(', ')}`);
  if (options.runs?.length === 0) throw usage(`--runs is empty\n${USAGE}`);
  options.sample ??= options.runs === null;
  options.runs ??= Object.keys(RUNS);
  options.workersGiven = options.workers !== null;
  options.workers ??= ['all'];
  if (positional.length) options.dist = positional.shift();
  if (!options.dist) throw usage(USAGE);
  options.files = positional;
  return options;
}

/**
 * Records, on the page's own clock (`performance.now()`), when the user hands a file over (the first `change`, `drop`
 * or `click` event: the file input, a drop, "Try a sample"), when the file panel first names a file, when the map
 * shows the display image, and when
 * `result-ready` and its details appear (a MutationObserver), into `window.__mapsegClock`. Times taken here leave out
 * what driving the browser adds: the DevTools round trips and the polling of this script's waits.
 */
async function watchClock(page) {
  await page.evaluate(([fileName, ready, canvas]) => {
    const clock = { start: null, panel: null, preview: null, result: null, details: null };
    window.__mapsegClock = clock;
    for (const type of ['change', 'drop', 'click']) {
      document.addEventListener(type, () => { clock.start ??= performance.now(); }, true);
    }
    const look = () => {
      if (clock.start === null) return;
      const now = performance.now();
      if (clock.panel === null && document.querySelector(fileName)?.textContent.trim()) clock.panel = now;
      if (clock.preview === null && document.querySelector(`${canvas}[data-preview]`)) clock.preview = now;
      const shown = document.querySelector(ready);
      if (shown && clock.result === null) clock.result = now;
      if (shown?.dataset.details === 'ready' && clock.details === null) clock.details = now;
    };
    new MutationObserver(look).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  }, [tid('file-name'), tid('result-ready'), tid('map-canvas')]);
}

/** The times `watchClock` recorded, in ms from the hand-over: `{ panel, preview, result, details }` (null where not seen). */
async function clockTimes(page) {
  const clock = await page.evaluate(() => window.__mapsegClock);
  const since = (t) => (clock?.start != null && t != null ? Math.round(t - clock.start) : null);
  return {
    panel: since(clock?.panel),
    preview: since(clock?.preview),
    result: since(clock?.result),
    details: since(clock?.details),
  };
}

/** Makes the worker remember the WebAssembly.Memory its glue code touches. */
async function watchWasmMemory(page) {
  const deadline = Date.now() + 30_000;
  while (!page.workers().length && Date.now() < deadline) await page.waitForTimeout(100);
  for (const worker of page.workers()) {
    await worker.evaluate(() => {
      const proto = WebAssembly.Memory.prototype;
      const get = Object.getOwnPropertyDescriptor(proto, 'buffer').get;
      Object.defineProperty(proto, 'buffer', {
        configurable: true,
        get() { self.__mapsegMemory = this; return get.call(this); },
      });
    });
  }
}

async function wasmMemoryBytes(page) {
  const sizes = await Promise.all(page.workers().map((w) => w.evaluate(() => self.__mapsegMemory?.buffer.byteLength ?? 0)));
  return Math.max(0, ...sizes) || null;
}

/** `[width, height]` of the loaded raster from the file panel ("W × H"), else from gdalinfo of `file`. */
async function rasterSize(page, file) {
  const dims = page.locator(tid('file-dimensions'));
  const text = (await dims.count()) ? await dims.first().innerText({ timeout: 5_000 }) : '';
  const match = text.replaceAll(/[\s,]/g, '').match(/^(\d+)[×x](\d+)/);
  if (match) return [Number(match[1]), Number(match[2])];
  try {
    if (file) return gdalinfo(file).size;
  } catch {
    // no gdalinfo: the size stays unknown
  }
  return [null, null];
}

/** The backend the page says it ran on: `{ backend, gpu, backend_note }`. */
async function backendShown(page) {
  const el = page.locator(tid('backend'));
  if (!(await el.count())) return { backend: null, gpu: null, backend_note: null };
  const note = page.locator(tid('backend-note'));
  const noteShown = (await note.count()) && !(await note.first().evaluate((e) => Boolean(e.closest('[hidden]'))));
  return {
    backend: (await el.first().innerText()).trim(),
    gpu: (await el.first().getAttribute('data-gpu')) === 'true',
    backend_note: noteShown ? (await note.first().innerText()).trim() || null : null,
  };
}

/** One measurement in a fresh browser: `load(page)` hands the input over, then Run until the result. */
async function measure(url, fields, load, file = null, polygons = null) {
  const browser = await launch();
  const log = [];
  try {
    const page = await openApp(browser.context, url, log);
    await watchWasmMemory(page);
    // A user picks a file while the app starts: time from the drop once the worker is ready.
    const opened = Date.now();
    await page.waitForFunction(() => document.body.dataset.workerReady === '1', null, { timeout: 60_000 });
    const workerReadyMs = Date.now() - opened;
    // and until its warm-up (a run on synthetic rasters that has the code optimised) is done: a user
    // picking a file takes longer; a file dropped earlier cuts the warm-up short.
    const warm = await workerWarm(page);
    const workerWarmMs = warm ? Date.now() - opened : null;
    const baseline = largestRenderer(browser.profile);
    await watchClock(page);
    const start = Date.now();
    await load(page);
    const loadedMs = Date.now() - start;
    const elapsedMs = await runToResult(page, 1_800_000, { details: false });
    const wallMs = Date.now() - start;
    await detailsReady(page, 600_000);
    const detailsMs = Date.now() - start;
    const clock = await clockTimes(page);
    const wasmBytes = await page.locator(tid('result-ready')).getAttribute('data-wasm-memory-bytes')
      ?? await wasmMemoryBytes(page);
    const peak = largestRenderer(browser.profile);
    if (process.env.MAPSEG_MEASURE_LOG) for (const line of log) process.stderr.write(`${line}\n`);
    const [width, height] = await rasterSize(page, file);
    const hardwareConcurrency = await page.evaluate(() => navigator.hardwareConcurrency);
    const megapixels = width && height ? (width * height) / 1e6 : null;
    const polygonFields = polygons === null ? {} : await measurePolygons(page, browser.profile, polygons);
    return {
      ...fields,
      ...(await backendShown(page)),
      width,
      height,
      megapixels,
      hardware_concurrency: hardwareConcurrency,
      worker_ready_ms: workerReadyMs,
      worker_warm_ms: workerWarmMs,
      load_ms: clock.panel ?? loadedMs,
      preview_ms: clock.preview,
      drop_to_result_ms: clock.result ?? wallMs,
      drop_to_details_ms: clock.details ?? detailsMs,
      load_wall_ms: loadedMs,
      drop_to_result_wall_ms: wallMs,
      drop_to_details_wall_ms: detailsMs,
      data_elapsed_ms: elapsedMs,
      megapixels_per_s: megapixels && (clock.result ?? wallMs) > 0 ? megapixels / ((clock.result ?? wallMs) / 1000) : null,
      renderer_peak_rss_mib: peak && Math.round(peak.hwmKib / MIB),
      renderer_rss_after_startup_mib: baseline && Math.round(baseline.rssKib / MIB),
      wasm_memory_mib: wasmBytes === null ? null : Math.round(Number(wasmBytes) / 2 ** 20),
      ...polygonFields,
    };
  } catch (error) {
    return { ...fields, error: String(error.message ?? error), log: log.slice(-20) };
  } finally {
    await browser.close();
  }
}

/** Times the polygon download (GeoJSON, simplified by `metres`) of the shown result. */
async function measurePolygons(page, profile, metres) {
  await page.locator(tid('polygon-format')).selectOption('geojson');
  await page.locator(tid('polygon-simplify')).fill(String(metres));
  const start = Date.now();
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 1_800_000 }),
    page.click(tid('download-polygons')),
  ]);
  const file = await download.path();
  const polygonsMs = Date.now() - start;
  const peak = largestRenderer(profile);
  return {
    polygons_simplify_m: metres,
    polygons_ms: polygonsMs,
    polygons_bytes: file ? fs.statSync(file).size : null,
    renderer_peak_rss_after_polygons_mib: peak && Math.round(peak.hwmKib / MIB),
    wasm_memory_after_polygons_mib: Math.round(Number(await wasmMemoryBytes(page)) / 2 ** 20) || null,
  };
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const inputs = options.files.length ? options.files
    : ['yell_4096.tif', 'yell_16384.tif'].map((f) => path.join(BENCH, f)).filter((f) => fs.existsSync(f));
  if (!inputs.length) console.error(`no rasters given and none found in ${BENCH}`);
  const results = [];
  const emit = (result) => {
    results.push(result);
    const line = JSON.stringify(result);
    console.log(line);
    if (options.out) fs.appendFileSync(options.out, `${line}\n`);
  };
  const server = await serveDir(options.dist);
  try {
    if (options.sample) emit(await measure(server.url, { label: 'sample', file: null, run: null }, trySample));
    for (const file of inputs) {
      for (const run of options.runs) {
        for (const workers of options.workers) {
          const [method, backend] = run.split(':');
          const label = `${path.basename(file)} ${run}${options.workersGiven ? ` workers=${workers}` : ''}`;
          console.error(`measuring ${label} …`);
          const fields = { label, file, run, method, backend_requested: backend, workers };
          const url = server.url + runQuery(run, workers);
          emit(await measure(url, fields, (page) => loadFile(page, file), file, options.polygons));
        }
      }
    }
    return results.some((r) => r.error) ? 1 : 0;
  } finally {
    await server.close();
  }
}

main().then((code) => process.exit(code), (error) => {
  console.error(`error: ${error.usage ? error.message : error.stack ?? error}`);
  process.exit(2);
});
