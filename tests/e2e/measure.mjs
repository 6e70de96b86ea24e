// Timing and memory of the built app on large rasters (a measurement, not a test):
//   node measure.mjs DIST [FILE…]      (default files: the bench rasters under ~/.cache/mapseg-bench)
//
// For the sample and each file: wall time from handing the file to the page until `result-ready`, the app's own
// `data-elapsed-ms` (Run to result), the renderer's peak resident memory (VmHWM of the process that hosts the page
// and its worker; the baseline after start-up is printed next to it) and, when the app reports it,
// `data-wasm-memory-bytes` of the worker. Otherwise the worker's WebAssembly memory is read through a getter
// installed on `WebAssembly.Memory.prototype.buffer` (the wasm-bindgen glue reads `memory.buffer` after every
// growth); wasm memory never shrinks, so its final size is its peak.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch } from './lib/browser.mjs';
import { loadFile, openApp, runToResult, tid, trySample } from './lib/app.mjs';
import { largestRenderer } from './lib/procmem.mjs';
import { serveDir } from './lib/server.mjs';

const BENCH = path.join(os.homedir(), '.cache', 'mapseg-bench');
const MIB = 1024;

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

async function measure(url, label, load) {
  const browser = await launch();
  const log = [];
  try {
    const page = await openApp(browser.context, url, log);
    await watchWasmMemory(page);
    const baseline = largestRenderer(browser.profile);
    const start = Date.now();
    await load(page);
    const loadedMs = Date.now() - start;
    const elapsedMs = await runToResult(page, 1_800_000);
    const wallMs = Date.now() - start;
    const wasmBytes = await page.locator(tid('result-ready')).getAttribute('data-wasm-memory-bytes')
      ?? await wasmMemoryBytes(page);
    const peak = largestRenderer(browser.profile);
    return {
      label,
      load_ms: loadedMs,
      drop_to_result_ms: wallMs,
      data_elapsed_ms: elapsedMs,
      renderer_peak_rss_mib: peak && Math.round(peak.hwmKib / MIB),
      renderer_rss_after_startup_mib: baseline && Math.round(baseline.rssKib / MIB),
      wasm_memory_mib: wasmBytes === null ? null : Math.round(Number(wasmBytes) / 2 ** 20),
    };
  } catch (error) {
    return { label, error: String(error.message ?? error), log: log.slice(-20) };
  } finally {
    await browser.close();
  }
}

async function main() {
  const [dist = process.env.MAPSEG_DIST, ...files] = process.argv.slice(2);
  if (!dist) throw new Error('usage: node measure.mjs DIST [FILE…]');
  const inputs = files.length ? files
    : ['yell_4096.tif', 'yell_16384.tif'].map((f) => path.join(BENCH, f)).filter((f) => fs.existsSync(f));
  const server = await serveDir(dist);
  try {
    const results = [await measure(server.url, 'sample', trySample)];
    console.log(JSON.stringify(results[0]));
    for (const file of inputs) {
      results.push(await measure(server.url, path.basename(file), (page) => loadFile(page, file)));
      console.log(JSON.stringify(results.at(-1)));
    }
    return results.some((r) => r.error) ? 1 : 0;
  } finally {
    await server.close();
  }
}

main().then((code) => process.exit(code), (error) => {
  console.error(`error: ${error.stack ?? error}`);
  process.exit(2);
});
