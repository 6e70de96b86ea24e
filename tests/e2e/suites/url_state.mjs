// Parameters round-trip through the URL query.

import { assert, assertEqual } from '../lib/assert.mjs';
import { setControl, tid } from '../lib/app.mjs';

export default [
  {
    name: 'URL query: k=5 is written and read back',
    async fn(t) {
      const page = await t.open();
      await setControl(page, 'k', 5);
      await page.waitForFunction(() => new URLSearchParams(location.search).get('k') === '5', null, { timeout: 5_000 })
        .catch(() => { throw new Error(`URL has no k=5 after setting k: ${page.url()}`); });
      const url = new URL(page.url());
      assert(url.search.includes('k=5'), `URL ${url} lacks k=5`);
      const again = await t.open(url.search);
      assertEqual(await again.locator(tid('k')).inputValue(), '5', 'k after loading the URL');
    },
  },
];
