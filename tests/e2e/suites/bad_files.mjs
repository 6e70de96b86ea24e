// Unreadable inputs: each shows an error naming the problem, and the app stays usable.

import { assert, assertMatch } from '../lib/assert.mjs';
import { errorText, runToResult, tid, trySample } from '../lib/app.mjs';

/** Loads `file`; if it opens without an error, runs it. Returns the error shown (or fails). */
async function errorFor(page, file) {
  await page.setInputFiles(tid('file-input'), file);
  const name = file.split('/').pop();
  const settled = ([panelName, error, n]) => document.querySelector(error)
    || document.querySelector(panelName)?.textContent.includes(n);
  await page.waitForFunction(settled, [tid('file-name'), tid('error'), name], { timeout: 30_000 });
  if (!(await page.locator(tid('error')).count())) {
    await page.click(tid('run'));
    await page.waitForFunction(([ready, error]) => document.querySelector(error) || document.querySelector(ready),
      [tid('result-ready'), tid('error')], { timeout: 120_000 });
  }
  const message = await errorText(page);
  assert(message !== null, `${name} gave no error (the file opened and ran)`);
  return message;
}

function badFile(label, make, pattern) {
  return {
    name: `bad file: ${label}`,
    async fn(t) {
      const page = await t.open();
      const message = await errorFor(page, make(t.fixtures));
      assertMatch(message, pattern, `error for ${label}`);
      assert((await page.locator(tid('error')).getAttribute('data-kind')) !== 'panic', `${label} caused a panic: ${message}`);
      console.log(`      ${label}: "${message.replace(/\s+/g, ' ')}"`);
      await trySample(page);
      await runToResult(page);
    },
  };
}

export default [
  badFile('text file named .tif', (f) => f.notTiff(), /not a TIFF/i),
  badFile('TIFF without georeferencing', (f) => f.noGeoreference(), /georeferenc|coordinate reference|CRS|projection/i),
  badFile('LZMA compression', (f) => f.lzma(), /LZMA.*not supported|compression.*not supported/i),
  badFile('truncated file', (f) => f.truncated(), /truncated/i),
  {
    name: 'unexpected failure in the worker: shown in the page, app stays usable',
    async fn(t) {
      const page = await t.open();
      await trySample(page);
      const [worker] = page.workers();
      assert(worker, 'the app runs no Web Worker');
      await worker.evaluate(() => setTimeout(() => { throw new Error('injected failure'); }, 0));
      await page.waitForSelector(`${tid('error')}[data-kind="panic"]`, { timeout: 10_000 });
      assertMatch(await errorText(page), /injected failure/, 'the page names the failure');
      await trySample(page);
      await runToResult(page);
    },
  },
];
