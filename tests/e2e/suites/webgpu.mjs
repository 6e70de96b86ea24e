// WebGPU and the CPU path: the page names its backend, both backends give the same labels for
// both methods, a GPU lost mid-run hands over to the CPU, and a 16384 × 16384 raster runs to
// the end on either backend.
//
// Headless Chromium runs WebGPU on SwiftShader (a CPU Vulkan) with --enable-unsafe-webgpu.

import fs from 'node:fs';
import path from 'node:path';
import { assert, assertEqual } from '../lib/assert.mjs';
import { download, loadFile, runToResult, text, tid, trySample } from '../lib/app.mjs';
import { bandBytes } from '../lib/gdal.mjs';

/** Least share of pixels with the same label on the CPU and on WebGPU. */
const MIN_AGREEMENT = 0.999;
/** Largest difference between a CPU and a WebGPU run's CNN centres (standardised features). */
const CENTRE_TOLERANCE = 1e-3;

const CPU = 'CPU (WebAssembly)';

/** Waits until the page names its backend; returns [name, gpu]. */
async function backendOf(page) {
  // The worker starts on the CPU and reports the GPU once it has one: wait for that answer
  // (`data-pending` is true from the page's choice until the worker's reply).
  await page.waitForFunction(
    (sel) => document.querySelector(sel)?.dataset.pending === 'false',
    tid('backend'),
    { timeout: 60_000 },
  );
  const el = page.locator(tid('backend'));
  return [(await el.innerText()).trim(), (await el.getAttribute('data-gpu')) === 'true'];
}

/** Runs `query` on `load(page)` and returns the labels (band 1 of the GeoTIFF) and the manifest. */
async function runOnce(t, query, load = trySample) {
  const page = await t.open(query);
  await load(page);
  const [backend, gpu] = await backendOf(page);
  const ms = await runToResult(page);
  const tif = await download(page, 'download-geotiff', t.tmp);
  const manifest = JSON.parse(fs.readFileSync(await download(page, 'download-manifest', t.tmp), 'utf8'));
  const curve = page.locator(tid('k-curve'));
  const suggestedK = (await curve.count()) ? await curve.getAttribute('data-suggested-k') : null;
  await page.close();
  return { backend, gpu, ms, labels: bandBytes(tif, t.tmp), manifest, suggestedK };
}

function agreement(a, b) {
  assertEqual(a.length, b.length, 'label raster sizes');
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

function centreDifference(a, b) {
  const ca = a.method.centres;
  const cb = b.method.centres;
  assertEqual(ca.length, cb.length, 'number of centres');
  let max = 0;
  ca.forEach((row, i) => row.forEach((v, j) => { max = Math.max(max, Math.abs(v - cb[i][j])); }));
  return max;
}

/** The same run on the CPU and on WebGPU: labels agree, the manifests name the backends. */
async function parity(t, query, load) {
  const cpu = await runOnce(t, `${query}&backend=cpu`, load);
  const gpu = await runOnce(t, `${query}&backend=webgpu`, load);
  assertEqual(cpu.backend, CPU, 'backend shown with backend=cpu');
  assert(gpu.gpu && gpu.backend.startsWith('WebGPU: '), `backend shown with backend=webgpu: ${gpu.backend}`);
  assertEqual(cpu.manifest.backend, CPU, 'CPU manifest backend');
  assertEqual(gpu.manifest.backend, gpu.backend, 'WebGPU manifest backend');
  const share = agreement(cpu.labels, gpu.labels);
  const centres = centreDifference(cpu.manifest, gpu.manifest);
  console.log(`      ${query}: ${(share * 100).toFixed(4)} % of ${cpu.labels.length} pixels agree; `
    + `centres differ by at most ${centres.toExponential(2)}; CPU ${cpu.ms.toFixed(0)} ms, ${gpu.backend} ${gpu.ms.toFixed(0)} ms`);
  assert(share >= MIN_AGREEMENT, `only ${(share * 100).toFixed(3)} % of the labels agree (at least ${MIN_AGREEMENT * 100} %)`);
  assert(centres <= CENTRE_TOLERANCE, `centres differ by ${centres} (at most ${CENTRE_TOLERANCE})`);
  return { cpu, gpu };
}

/** Prepended to the worker's loader: remembers every GPUDevice the worker creates. */
const CAPTURE_DEVICES = `self.__mapsegGpuDevices = [];
if (self.GPUAdapter) {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = function (...args) {
    return requestDevice.apply(this, args).then((d) => { self.__mapsegGpuDevices.push(d); return d; });
  };
}
`;

/**
 * Runs the CNN on WebGPU on the 1600² raster, calls `fail` in the worker (with the GPUDevices it
 * created in `self.__mapsegGpuDevices`; it returns how many it touched) once the page shows the
 * "assigning" stage, and checks that the run still ends with a result made on the CPU. Returns
 * the page's note.
 */
async function gpuFailsWhileAssigning(t, fail) {
  await t.context.route('**/worker_loader.js', async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, body: CAPTURE_DEVICES + await response.text() });
  });
  const page = await t.open('?method=cnn&k=6&res=2&backend=webgpu');
  await loadFile(page, t.fixtures.medium());
  const [name, gpu] = await backendOf(page);
  assert(gpu, `no WebGPU adapter: ${name}`);
  await page.click(tid('run'));
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.stage === 'assigning', tid('progress'), { timeout: 240_000, polling: 50 });
  const worker = page.workers().find((w) => w.url().includes('worker_loader.js'));
  assert(worker, 'the worker is not visible to the test');
  assert((await worker.evaluate(fail)) >= 1, 'the worker created no GPU device');
  await page.waitForFunction(
    ([ready, error]) => document.querySelector(ready) || document.querySelector(error),
    [tid('result-ready'), tid('error')],
    { timeout: 480_000, polling: 200 },
  );
  const failure = await page.evaluate((sel) => document.querySelector(sel)?.textContent ?? null, tid('error'));
  assert(failure === null, `the run failed: ${failure}`);
  assertEqual(await text(page, 'backend'), CPU, 'backend after the failure');
  const note = await text(page, 'backend-note');
  assert(/CPU/.test(note), `the page does not say the CPU finished the run: ${note}`);
  const manifest = JSON.parse(fs.readFileSync(await download(page, 'download-manifest', t.tmp), 'utf8'));
  assertEqual(manifest.backend, CPU, 'manifest backend after the failure');
  console.log(`      note: ${note}`);
  return note;
}

export default [
  {
    name: 'webgpu: the page names the adapter, and the CPU when asked',
    async fn(t) {
      const page = await t.open();
      const [name, gpu] = await backendOf(page);
      assert(gpu && name.startsWith('WebGPU: '), `backend shown by default: ${name}`);
      await page.selectOption(tid('backend-choice'), 'cpu');
      await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.gpu === 'false', tid('backend'));
      assertEqual(await text(page, 'backend'), CPU, 'backend after choosing the CPU');
      assert(page.url().includes('backend=cpu'), `the URL keeps the choice: ${page.url()}`);
      const again = await t.open('?backend=cpu');
      assertEqual((await backendOf(again))[0], CPU, 'backend with ?backend=cpu');
    },
  },
  {
    name: 'webgpu: K-Means labels on WebGPU equal the CPU path',
    async fn(t) {
      const { cpu, gpu } = await parity(t, '?k=6&res=1&smooth=0');
      assertEqual(centreDifference(cpu.manifest, gpu.manifest), 0, 'K-Means centres (fitted on the CPU both times)');
    },
  },
  {
    name: 'webgpu: CNN labels on WebGPU equal the CPU path',
    async fn(t) {
      const { cpu, gpu } = await parity(t, '?method=cnn&k=6&res=2&smooth=0');
      assert(cpu.suggestedK, 'no k curve for the CNN');
      assertEqual(gpu.suggestedK, cpu.suggestedK, 'suggested k on WebGPU and on the CPU');
    },
  },
  {
    name: 'webgpu: the worker for browsers without WebAssembly SIMD (ndarray) labels like the flex CPU path',
    serviceWorkers: 'block',
    async fn(t) {
      const query = '?method=cnn&k=6&res=2&smooth=0&backend=cpu';
      const flex = await runOnce(t, query);
      // What Chromium 87 sees: the SIMD probe fails, and worker_loader.js starts worker_legacy.
      await t.context.route('**/worker_loader.js', async (route) => {
        const response = await route.fetch();
        await route.fulfill({ response, body: 'WebAssembly.validate = function () { return false; };\n' + await response.text() });
      });
      let legacyLoaded = false;
      t.context.on('request', (r) => { if (r.url().includes('worker_legacy_bg.wasm')) legacyLoaded = true; });
      const legacy = await runOnce(t, query);
      assert(legacyLoaded, 'worker_legacy_bg.wasm was not loaded');
      const share = agreement(flex.labels, legacy.labels);
      const centres = centreDifference(flex.manifest, legacy.manifest);
      console.log(`      flex vs ndarray: ${(share * 100).toFixed(4)} % of the labels agree; centres differ by at most ${centres.toExponential(2)}`);
      assert(share >= MIN_AGREEMENT, `only ${(share * 100).toFixed(3)} % of the labels agree`);
      assert(centres <= CENTRE_TOLERANCE, `centres differ by ${centres}`);
    },
  },
  {
    name: 'webgpu: a device lost mid-run hands the run to the CPU',
    serviceWorkers: 'block',
    async fn(t) {
      const note = await gpuFailsWhileAssigning(t, () => {
        for (const d of self.__mapsegGpuDevices) d.destroy();
        return self.__mapsegGpuDevices.length;
      });
      assert(/failed during the run/.test(note), `the page does not say what happened: ${note}`);
    },
  },
  {
    name: 'webgpu: a GPU out-of-memory error mid-run takes the worker down, and the page finishes the run on the CPU',
    serviceWorkers: 'block',
    async fn(t) {
      // What the browser reports when an allocation fails: an uncaptured GPUOutOfMemoryError.
      const note = await gpuFailsWhileAssigning(t, () => {
        for (const d of self.__mapsegGpuDevices) {
          d.dispatchEvent(new GPUUncapturedErrorEvent('uncapturederror', { error: new GPUOutOfMemoryError('test: allocation refused') }));
        }
        return self.__mapsegGpuDevices.length;
      });
      assert(/out of memory/i.test(note) && !/panicked at/.test(note), `the page does not say what happened: ${note}`);
    },
  },
  {
    // Memory does not grow with the raster (1024 x 256 px units), so the CNN, at about 2 MP/s
    // on the CPU and 0.2 MP/s on SwiftShader's emulated GPU, runs the 8192 x 8192 raster on the
    // CPU here (the 16384 one takes 144 s); `cargo xtask bench web` times it on WebGPU.
    name: 'webgpu: a 16384 x 16384 raster runs to the end on either backend, and the CNN an 8192 x 8192 one',
    async fn(t) {
      const runs = [
        ['?backend=cpu&k=5&res=8', t.fixtures.huge()],
        ['?backend=webgpu&k=5&res=8', t.fixtures.huge()],
        ['?method=cnn&backend=cpu&k=5&res=8', t.fixtures.large()],
      ];
      for (const [query, file] of runs) {
        const page = await t.open(query);
        await loadFile(page, file);
        const [name] = await backendOf(page);
        const ms = await runToResult(page, 1_200_000);
        const crashed = page.mapsegErrors.length;
        assertEqual(crashed, 0, 'page errors');
        console.log(`      ${query}: ${path.basename(file)} on ${name} in ${(ms / 1000).toFixed(1)} s`);
        await page.close();
      }
    },
  },
];
