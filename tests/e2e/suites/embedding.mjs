// The embedding contract (README, "Embedding contract"): a host page frames the app, sends a
// raster with `autorun`, and gets the label GeoTIFF, legend, statistics and manifest back, for
// either method (the app's URL picks it).

import fs from 'node:fs';
import path from 'node:path';
import { assert, assertEqual } from '../lib/assert.mjs';
import { OSBS } from '../lib/fixtures.mjs';

/** A host page: frames the app with `query` and records what the app sends. */
const hostPage = (query) => `<!doctype html><meta charset="utf-8"><title>host</title>
<iframe id="app" src="./${query}" style="width:1200px;height:800px"></iframe>
<script>
  window.received = [];
  window.addEventListener('message', (e) => {
    if (e.source === document.getElementById('app').contentWindow) window.received.push(e.data);
  });
</script>`;

/** Frames the app with `query`, sends OSBS_029.tif with autorun, returns the app's result. */
async function hostRun(t, query) {
  await t.context.route('**/host.html', (route) => route.fulfill({ contentType: 'text/html', body: hostPage(query) }));
  const page = await t.context.newPage();
  page.on('console', (msg) => t.log.push(`[host console.${msg.type()}] ${msg.text()}`));
  await page.goto(`${t.url}host.html`);
  await page.waitForFunction(() => window.received.some((m) => m.type === 'ready'), null, { timeout: 60_000 });
  const b64 = fs.readFileSync(OSBS).toString('base64');
  await page.evaluate(([name, data]) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    document.getElementById('app').contentWindow.postMessage({ type: 'open', name, buffer: bytes.buffer, autorun: true }, '*', [bytes.buffer]);
  }, [path.basename(OSBS), b64]);
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

export default [
  {
    name: 'embedding: a host frames the app with ?method=cnn and gets the CNN result back',
    serviceWorkers: 'block',
    async fn(t) {
      const result = await hostRun(t, '?method=cnn&k=5&backend=cpu');
      assert(!result.error, `the app answered with an error: ${result.error}`);
      assertEqual(result.name, 'OSBS_029.tif', 'name');
      assert([[73, 73, 42, 0], [73, 73, 43, 0]].some((m) => m.join() === result.magic.join()), `not a little-endian TIFF: ${result.magic}`);
      assertEqual(result.legend, 5, 'legend entries');
      assertEqual(result.manifest.method.name, 'cnn', 'manifest method');
      assertEqual(result.manifest.method.params.k, 5, 'manifest k');
      assertEqual(result.manifest.backend, 'CPU (WebAssembly)', 'manifest backend');
      assert(result.stats >= 2, `only ${result.stats} class row(s)`);
      console.log(`      CNN result for the host: ${result.bytes} bytes of GeoTIFF, ${result.stats} classes`);
    },
  },
];
