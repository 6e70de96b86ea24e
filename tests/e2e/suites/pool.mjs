// The worker's pool of parallel workers: a run writes the same GeoTIFF whatever the number of
// workers, whether K-Means was fitted on opening (one helper) or at Segment (the whole pool) and whether the file came
// during the worker's warm-up or after it,
// and the worker for browsers without WebAssembly SIMD writes it too; the manifest's
// input hash (computed by the worker, the file streaming in while the run goes on) names the file.

import fs from 'node:fs';
import { assert, assertEqual } from '../lib/assert.mjs';
import { download, loadFile, runToResult, setControl, workerWarm } from '../lib/app.mjs';
import { OSBS } from '../lib/fixtures.mjs';

/** The BLAKE3 of tests/fixtures/real/OSBS_029.tif, as `mapseg segment --manifest` records it. */
const OSBS_BLAKE3 = '3433ac0215dd1be3a92d42fddaa13e525e4a76a38ebb0adb043f6cee0b23973e';

/**
 * K-Means (k = 6) on the CPU with `workers` workers on `file`: the GeoTIFF's bytes and the manifest. The fit begun on
 * opening (one helper reads the whole sample) serves the run; with `refit`, the page opens with k = 5 and the user
 * sets 6 before Segment, so the run fits again with the sample read by the whole pool.
 */
async function geotiff(t, file, workers, { refit = false, warm = false } = {}) {
  const page = await t.open(`?backend=cpu&k=${refit ? 5 : 6}&res=2&smooth=3&mmu=16${workers ? `&workers=${workers}` : ''}`);
  // The worker warms its code up on synthetic rasters once started (without `warm`, the file comes during the warm-up,
  // which gives way to it).
  if (warm) assert(await workerWarm(page, 60_000), 'the worker did not finish its warm-up within 60 s');
  await loadFile(page, file);
  if (refit) await setControl(page, 'k', 6);
  await runToResult(page);
  const bytes = fs.readFileSync(await download(page, 'download-geotiff', t.tmp));
  const manifest = JSON.parse(fs.readFileSync(await download(page, 'download-manifest', t.tmp), 'utf8'));
  assertEqual(page.mapsegErrors.length, 0, 'page errors');
  await page.close();
  return { bytes, manifest };
}

export default [
  {
    name: 'pool: one, two and four workers, a run after the warm-up, a fit made at Segment, and the worker without WebAssembly SIMD write the same GeoTIFF',
    serviceWorkers: 'block',
    async fn(t) {
      // 1600 x 1600 px: 8 jobs of up to 1024 x 512, so every worker labels several.
      const file = t.fixtures.medium();
      const one = await geotiff(t, file, 1);
      assertEqual(one.manifest.input.bytes, fs.statSync(file).size, 'manifest: input bytes');
      assert(/^[0-9a-f]{64}$/.test(one.manifest.input.blake3), `manifest: input hash ${one.manifest.input.blake3}`);
      const real = await geotiff(t, OSBS, 2);
      assertEqual(real.manifest.input.blake3, OSBS_BLAKE3, 'manifest: the BLAKE3 of OSBS_029.tif');
      assertEqual(real.manifest.input.bytes, fs.statSync(OSBS).size, 'manifest: the size of OSBS_029.tif');
      for (const workers of [2, 4]) {
        const other = await geotiff(t, file, workers);
        assert(other.bytes.equals(one.bytes), `the GeoTIFF of ${workers} workers differs from one worker's`);
      }
      // A file dropped once the warm-up is done: the warm-up leaves nothing behind that changes a run.
      const warmed = await geotiff(t, file, 2, { warm: true });
      assert(warmed.bytes.equals(one.bytes), 'the GeoTIFF of a run after the warm-up differs');
      // The fit at Segment, its sample read by two helpers, equals the one begun on opening on one helper.
      const refitted = await geotiff(t, file, 2, { refit: true });
      assert(refitted.bytes.equals(one.bytes), 'the GeoTIFF of a fit made at Segment on the pool differs from the fit made on opening');
      // What Chromium 87 sees: the SIMD probe fails, and worker_loader.js starts worker_legacy.
      await t.context.route('**/worker_loader.js', async (route) => {
        const response = await route.fetch();
        await route.fulfill({ response, body: 'WebAssembly.validate = function () { return false; };\n' + await response.text() });
      });
      let legacyLoaded = false;
      t.context.on('request', (r) => { if (r.url().includes('worker_legacy_bg.wasm')) legacyLoaded = true; });
      const legacy = await geotiff(t, file, 2);
      assert(legacyLoaded, 'worker_legacy_bg.wasm was not loaded');
      assert(legacy.bytes.equals(one.bytes), 'the GeoTIFF of the worker without SIMD differs');
    },
  },
];
