// Static and private: every request stays on the app's own origin, the page declares a CSP that
// says so, and after the first visit the app and its sample work with the network cut.

import { assert } from '../lib/assert.mjs';
import { runToResult, setControl, trySample } from '../lib/app.mjs';

export default [
  {
    name: 'privacy: every request stays on the app origin, the CSP allows no other and no eval',
    async fn(t) {
      const page = await t.open();
      const origin = new URL(t.url).origin;
      const foreign = [];
      page.context().on('request', (request) => {
        const url = request.url();
        if (!url.startsWith('blob:') && !url.startsWith('data:') && new URL(url).origin !== origin) {
          foreign.push(url);
        }
      });
      await trySample(page);
      await runToResult(page);
      assert(foreign.length === 0, `requests left the app's origin: ${foreign.join(', ')}`);
      const csp = await page.evaluate(
        () => document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content ?? '');
      for (const directive of ["default-src 'self'", "connect-src 'self'", "script-src 'self' 'wasm-unsafe-eval';"]) {
        assert(csp.includes(directive), `the CSP lacks ${directive}: ${csp}`);
      }
      // The public build allows no eval: only WebAssembly compiles (the page and the worker ran above).
      assert(!csp.includes("'unsafe-eval'"), `the CSP allows 'unsafe-eval': ${csp}`);
      const blocked = await page.evaluate(async () => {
        try {
          await fetch('http://192.0.2.1/never');
          return false;
        } catch {
          return true;
        }
      });
      assert(blocked, 'a fetch to another origin was not blocked');
    },
  },
  {
    name: 'offline: after the first visit the app, the sample and the CNN work without a network',
    async fn(t) {
      const page = await t.open();
      const registered = await page.evaluate(() => Promise.race([
        navigator.serviceWorker.ready.then(() => true),
        new Promise((resolve) => setTimeout(() => resolve(false), 30_000)),
      ]));
      assert(registered, 'no service worker became ready within 30 s');
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 })
        .catch(async () => {
          // The first visit installs the worker; a reload puts the page under its control.
          await page.reload();
          await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
        });
      await trySample(page);
      await page.context().setOffline(true);
      try {
        await page.reload();
        await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 60_000 });
        await trySample(page);
        await runToResult(page);
        // The CNN's model was cached at the first visit too.
        await setControl(page, 'method', 'cnn');
        await runToResult(page);
      } finally {
        await page.context().setOffline(false);
      }
    },
  },
];
