// The embedding contract (README, "Embedding contract"): a host page frames the app, sends a
// raster with `autorun`, and gets the label GeoTIFF, legend, statistics and manifest back, for
// either method (the app's URL picks it); a QGIS-like host does the same over Qt's QWebChannel
// (Qt's real qwebchannel.js and a fake `qt.webChannelTransport`), by URL or base64.

import fs from 'node:fs';
import path from 'node:path';
import { assert, assertEqual } from '../lib/assert.mjs';
import { errorText, tid } from '../lib/app.mjs';
import { OSBS } from '../lib/fixtures.mjs';
import { installFakeQtHost, qtErrors, qtReceive, qtSend } from '../lib/qt_host.mjs';

/** Where the tests serve OSBS_029.tif on the app's own origin, relative to the app. */
const HOST_RASTER = 'host-raster/OSBS_029.tif';
const MISSING_RASTER = 'host-raster/missing.tif';

/** Serves OSBS_029.tif at HOST_RASTER and a 404 at MISSING_RASTER, on the app's origin. */
async function routeHostRasters(t) {
  await t.context.route(`**/${HOST_RASTER}`, (route) => route.fulfill({ contentType: 'image/tiff', body: fs.readFileSync(OSBS) }));
  await t.context.route(`**/${MISSING_RASTER}`, (route) => route.fulfill({ status: 404, contentType: 'text/plain', body: 'not found' }));
}

/** A little-endian classic TIFF or BigTIFF. */
const isTiff = (head) => [[73, 73, 42, 0], [73, 73, 43, 0]].some((m) => m.join() === Array.from(head).join());

/** A host page: frames the app with `query` and records what the app sends. */
const hostPage = (query) => `<!doctype html><meta charset="utf-8"><title>host</title>
<iframe id="app" src="./${query}" style="width:1200px;height:800px"></iframe>
<script>
  window.received = [];
  window.addEventListener('message', (e) => {
    if (e.source === document.getElementById('app').contentWindow) window.received.push(e.data);
  });
</script>`;

/** Frames the app with `query`, sends OSBS_029.tif with autorun (as `buffer`, or by `url`), returns the app's result. */
async function hostRun(t, query, { url = null } = {}) {
  await t.context.route('**/host.html', (route) => route.fulfill({ contentType: 'text/html', body: hostPage(query) }));
  const page = await t.context.newPage();
  page.on('console', (msg) => t.log.push(`[host console.${msg.type()}] ${msg.text()}`));
  await page.goto(`${t.url}host.html`);
  await page.waitForFunction(() => window.received.some((m) => m.type === 'ready'), null, { timeout: 60_000 });
  if (url) {
    await page.evaluate((u) => document.getElementById('app').contentWindow.postMessage({ type: 'open', url: u, autorun: true }, '*'), url);
  } else {
    const b64 = fs.readFileSync(OSBS).toString('base64');
    await page.evaluate(([name, data]) => {
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      document.getElementById('app').contentWindow.postMessage({ type: 'open', name, buffer: bytes.buffer, autorun: true }, '*', [bytes.buffer]);
    }, [path.basename(OSBS), b64]);
  }
  await page.waitForFunction(() => window.received.some((m) => m.type === 'result' || m.type === 'error'), null, { timeout: 240_000 });
  return page.evaluate(() => {
    const m = window.received.find((x) => x.type === 'result' || x.type === 'error');
    if (m.type === 'error') return { error: m.message };
    const head = new Uint8Array(m.geotiff, 0, 4);
    return {
      name: m.name,
      magic: Array.from(head),
      bytes: m.geotiff.byteLength,
      legend: m.legend.length,
      stats: m.stats.length,
      manifest: JSON.parse(m.manifest),
    };
  });
}

/** Opens the app with `query` as the page of a fake Qt host, waits for `ready` over the channel. */
async function qtHostPage(t, query, options) {
  await installFakeQtHost(t.context, options);
  await routeHostRasters(t);
  const page = await t.open(query);
  const ready = await qtReceive(page, ['ready'], 60_000);
  assertEqual(ready, { type: 'ready' }, 'the first message over Qt');
  return page;
}

/** Sends `open` over Qt and waits for the app's `result` or `error` (what it posted before is forgotten). */
async function qtOpen(page, open) {
  await page.evaluate(() => { window.__qtHost.posted = []; });
  await qtSend(page, { type: 'open', ...open });
  const answer = await qtReceive(page, ['result', 'error']);
  assertEqual(await qtErrors(page), [], 'calls the fake Qt host did not expect');
  return answer;
}

/** Checks a `result` from Qt: a base64 GeoTIFF, `k` legend entries, statistics and the manifest. */
function assertQtResult(answer, k) {
  assert(answer.type === 'result', `the app answered with an error: ${answer.message}`);
  assertEqual(answer.name, 'OSBS_029.tif', 'name');
  assert(!('geotiff' in answer), 'a Qt result carries the GeoTIFF as geotiff_base64 only');
  const geotiff = Buffer.from(answer.geotiff_base64, 'base64');
  assertEqual(geotiff.toString('base64'), answer.geotiff_base64, 'geotiff_base64 is standard base64');
  assert(isTiff(geotiff.subarray(0, 4)), `geotiff_base64 is not a little-endian TIFF: ${Array.from(geotiff.subarray(0, 4))}`);
  assertEqual(answer.legend.length, k, 'legend entries');
  assert(answer.legend.every((e) => typeof e.name === 'string' && e.colour.length === 3), `legend: ${JSON.stringify(answer.legend)}`);
  assert(answer.stats.length >= 2 && answer.stats.every((r) => 'pixels' in r && 'percent' in r), `stats: ${JSON.stringify(answer.stats)}`);
  const manifest = JSON.parse(answer.manifest);
  assertEqual(manifest.method.name, 'kmeans', 'manifest method');
  assertEqual(manifest.method.params.k, k, 'manifest k');
  return geotiff.length;
}

export default [
  {
    name: 'embedding: a host frames the app with ?method=cnn and gets the CNN result back',
    serviceWorkers: 'block',
    async fn(t) {
      const result = await hostRun(t, '?method=cnn&k=5&backend=cpu');
      assert(!result.error, `the app answered with an error: ${result.error}`);
      assertEqual(result.name, 'OSBS_029.tif', 'name');
      assert(isTiff(result.magic), `not a little-endian TIFF: ${result.magic}`);
      assertEqual(result.legend, 5, 'legend entries');
      assertEqual(result.manifest.method.name, 'cnn', 'manifest method');
      assertEqual(result.manifest.method.params.k, 5, 'manifest k');
      assertEqual(result.manifest.backend, 'CPU (WebAssembly)', 'manifest backend');
      assert(result.stats >= 2, `only ${result.stats} class row(s)`);
      console.log(`      CNN result for the host: ${result.bytes} bytes of GeoTIFF, ${result.stats} classes`);
    },
  },
  {
    name: 'embedding: a host frames the app and sends a raster by url (postMessage)',
    serviceWorkers: 'block',
    async fn(t) {
      await routeHostRasters(t);
      const result = await hostRun(t, '?k=4', { url: HOST_RASTER });
      assert(!result.error, `the app answered with an error: ${result.error}`);
      assertEqual(result.name, 'OSBS_029.tif', 'name (from the url)');
      assert(isTiff(result.magic), `not a little-endian TIFF: ${result.magic}`);
      assertEqual(result.legend, 4, 'legend entries');
      assertEqual(result.manifest.method.params.k, 4, 'manifest k');
    },
  },
  {
    name: 'embedding: a Qt host (QWebChannel) sends a url with autorun and gets the result as base64',
    serviceWorkers: 'block',
    async fn(t) {
      const page = await qtHostPage(t, '?k=5');
      const answer = await qtOpen(page, { name: 'OSBS_029.tif', url: HOST_RASTER, autorun: true });
      const bytes = assertQtResult(answer, 5);
      assert(await page.locator(tid('result-ready')).count(), 'the page does not show the result');
      console.log(`      Qt result: ${bytes} bytes of GeoTIFF, ${answer.stats.length} classes`);
    },
  },
  {
    name: 'embedding: a Qt host (QWebChannel) sends the raster as base64',
    serviceWorkers: 'block',
    async fn(t) {
      const page = await qtHostPage(t, '?k=3');
      const base64 = fs.readFileSync(OSBS).toString('base64');
      assertQtResult(await qtOpen(page, { name: path.basename(OSBS), base64, autorun: true }), 3);
    },
  },
  {
    name: 'embedding: a Qt host\'s url that answers 404 gives an error naming it, in the page and to the host',
    serviceWorkers: 'block',
    async fn(t) {
      const page = await qtHostPage(t, '');
      const answer = await qtOpen(page, { name: 'missing.tif', url: MISSING_RASTER, autorun: true });
      assertEqual(answer.type, 'error', `answer type (${JSON.stringify(answer)})`);
      for (const part of [MISSING_RASTER, '404']) {
        assert(answer.message.includes(part), `the error does not name ${part}: ${answer.message}`);
      }
      console.log(`      error for the host: ${answer.message}`);
      const shown = await errorText(page);
      assert(shown?.includes(MISSING_RASTER), `the page does not show the error: ${shown}`);
      const none = await qtOpen(page, { name: 'a.tif' });
      assertEqual(none, { type: 'error', message: 'the host sent no raster (expected `url` or `base64`)' }, 'an open without a raster');
    },
  },
  {
    name: 'embedding: a Qt transport without qwebchannel.js is named in a warning; the app starts',
    async fn(t) {
      await installFakeQtHost(t.context, { qwebchannel: false });
      const page = await t.open();
      const warned = () => t.log.some((line) => line.startsWith('[console.warning]') && line.includes('qwebchannel.js'));
      for (let i = 0; i < 50 && !warned(); i++) await page.waitForTimeout(100);
      assert(warned(), `no console warning names qwebchannel.js: ${t.log.join(' | ')}`);
      assertEqual(await page.evaluate(() => window.__qtHost.protocol), [], 'messages on the Qt transport');
    },
  },
];
