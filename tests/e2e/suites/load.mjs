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
  // 28.499999999274539 m pixels, corners at .25/.75 m: shown without float noise.
  assertEqual(await text(page, 'file-pixel-size'), '28.5 \u00d7 28.5 m', 'file-pixel-size');
  assertEqual(await text(page, 'file-extent'), 'x 288776.25 to 298722.75, y 9110728.75 to 9120760.75', 'file-extent');
}

/** The display pickers' bands (1-based, as shown) for red, green and blue. */
const displayBands = (page) => Promise.all(['r', 'g', 'b'].map((c) => page.locator(tid(`display-${c}`)).inputValue()));

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
  {
    name: 'display: a Landsat file stored blue first shows in true colour (3, 2, 1); false colour in one click',
    async fn(t) {
      const page = await t.open();
      await loadFile(page, L7);
      assertEqual((await displayBands(page)).join(), '3,2,1', 'true colour by default');
      await page.click(tid('display-false-colour'));
      assertEqual((await displayBands(page)).join(), '4,3,2', 'false colour (NIR, red, green)');
      await page.click(tid('display-true-colour'));
      assertEqual((await displayBands(page)).join(), '3,2,1', 'back to true colour');
      await trySample(page);
      assertEqual((await displayBands(page)).join(), '1,2,3', 'an RGB photo');
      assertEqual(await page.locator(tid('display-false-colour')).count(), 0, 'no false colour without NIR');
    },
  },
  {
    name: 'layout: Segment is on screen at 1280 x 720 without scrolling',
    async fn(t) {
      const page = await t.open();
      await page.setViewportSize({ width: 1280, height: 720 });
      await trySample(page);
      const box = await page.locator(tid('run')).boundingBox();
      const scrolled = await page.evaluate(() => window.scrollY);
      assertEqual(scrolled, 0, 'the page scrolled');
      assert(box && box.y >= 0 && box.y + box.height <= 720, `Segment is at ${JSON.stringify(box)}, outside 1280 x 720`);
      await page.click(tid('run'), { trial: true });
    },
  },
  {
    name: 'installable: a web app manifest with icons and a service worker (no installability errors)',
    async fn(t) {
      const page = await t.open();
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null || navigator.serviceWorker.ready, null, { timeout: 30_000 });
      await page.evaluate(() => navigator.serviceWorker.ready);
      const manifest = await page.evaluate(async () => {
        const link = document.querySelector('link[rel=manifest]');
        const response = await fetch(link.href);
        return response.json();
      });
      assertEqual(manifest.short_name, 'Mapseg', 'short_name');
      assertEqual(manifest.display, 'standalone', 'display');
      for (const icon of manifest.icons) {
        const ok = await page.evaluate(async (src) => (await fetch(src)).ok, icon.src);
        assert(ok, `icon ${icon.src} does not load`);
      }
      const cdp = await t.context.newCDPSession(page);
      const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
      assertEqual(JSON.stringify(installabilityErrors), '[]', 'installability errors');
    },
  },
];
