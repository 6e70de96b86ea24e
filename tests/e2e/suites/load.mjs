// Start-up, the sample, and loading a real GeoTIFF by file input and by drag and drop.

import fs from 'node:fs';
import path from 'node:path';
import { assert, assertEqual } from '../lib/assert.mjs';
import { loadFile, progressShown, dropFile, progressLog, runToResult, text, tid, trySample, watchProgress } from '../lib/app.mjs';
import { L7 } from '../lib/fixtures.mjs';

async function assertL7Panel(page) {
  assertEqual(await text(page, 'file-bands'), '6', 'file-bands');
  assertEqual(await text(page, 'file-dimensions'), '349 \u00d7 352', 'file-dimensions');
  assertEqual(await text(page, 'file-epsg'), 'EPSG:31985', 'file-epsg');
}

export default [
  {
    name: 'app loads and marks itself ready',
    async fn(t) {
      const page = await t.open();
      assertEqual(await page.evaluate(() => document.body.dataset.ready), '1', 'body[data-ready]');
      for (const id of ['file-input', 'try-sample', 'run', 'k']) {
        assert(await page.locator(tid(id)).count(), `[data-testid=${id}] is missing`);
      }
      assert(!(await page.locator(tid('result-ready')).count()), 'result-ready shown before any run');
      assert(!(await page.locator(tid('error')).count()), 'error shown at start-up');
    },
  },
  {
    name: 'sample: load, run with progress, result',
    async fn(t) {
      const page = await t.open();
      await trySample(page);
      assertEqual(await text(page, 'file-dimensions'), '400 \u00d7 400', 'file-dimensions');
      assertEqual(await text(page, 'file-epsg'), 'EPSG:32617', 'file-epsg');
      await watchProgress(page);
      const elapsed = await runToResult(page);
      const seen = await progressLog(page);
      assert(seen.some((p) => p.stage !== ''), `progress never showed a stage: ${JSON.stringify(seen)}`);
      assert(seen.some((p) => p.fraction > 0), `progress never showed data-fraction > 0: ${JSON.stringify(seen)}`);
      assert(!(await progressShown(page)), 'progress still shown after the result');
      const k = Number(await page.locator(tid('k')).inputValue());
      assertEqual(await page.locator(`${tid('legend')} [data-testid^="legend-row-"]`).count(), k, 'legend rows (k)');
      assert(await page.locator(tid('map-canvas')).isVisible(), 'map-canvas is not visible');
      assert(await page.locator(tid('opacity')).count(), '[data-testid=opacity] is missing');
      const suggested = await page.locator(`${tid('k-curve')}[data-suggested-k]:not([data-suggested-k=""])`)
        .getAttribute('data-suggested-k', { timeout: 60_000 });
      assert(Number.isInteger(Number(suggested)) && Number(suggested) >= 2, `k-curve data-suggested-k=${suggested}`);
      const canvas = await page.locator(tid('map-canvas')).boundingBox();
      await page.mouse.move(canvas.x + canvas.width / 2, canvas.y + canvas.height / 2);
      await page.waitForFunction((sel) => document.querySelector(sel)?.textContent.trim(), tid('hover-class'),
        { timeout: 5_000 }).catch(() => { throw new Error('hover-class stays empty with the mouse over the map'); });
      console.log(`      sample: result-ready data-elapsed-ms=${elapsed}`);
      const shot = path.join(t.artifacts, 'result.png');
      await page.screenshot({ path: shot });
      if (process.env.MAPSEG_UPDATE_SCREENSHOT === '1') {
        fs.mkdirSync(path.join(t.repo, 'docs'), { recursive: true });
        fs.copyFileSync(shot, path.join(t.repo, 'docs', 'screenshot.png'));
      }
    },
  },
  {
    name: 'file input: a 6-band Landsat GeoTIFF',
    async fn(t) {
      const page = await t.open();
      await loadFile(page, L7);
      await assertL7Panel(page);
    },
  },
  {
    name: 'drag and drop: a 6-band Landsat GeoTIFF',
    async fn(t) {
      const page = await t.open();
      await dropFile(page, L7);
      await assertL7Panel(page);
    },
  },
];
