// Unreadable inputs: each shows an error naming the problem, and the app stays usable.

import { assert, assertMatch } from '../lib/assert.mjs';
import { errorText, runToResult, tid, trySample } from '../lib/app.mjs';
import { largestRenderer } from '../lib/procmem.mjs';

/** What the worker may use on any hostile file: the engine's bound, like the CLI's. */
const MEMORY_KIB = 1024 * 1024;
/** How long a hostile file may take to open, and then to run, in the worker. */
const SETTLE_MS = 15_000;

/**
 * Loads `file` and, if it opens without an error, runs it, waiting at most `openMs` for the file
 * panel or an error and `runMs` for the result or an error. Returns the error shown, or null.
 */
async function settle(page, file, openMs, runMs) {
  const name = file.split('/').pop();
  await page.setInputFiles(tid('file-input'), file);
  await page.waitForFunction(([panelName, error, n]) => document.querySelector(error)
    || document.querySelector(panelName)?.textContent.includes(n),
  [tid('file-name'), tid('error'), name], { timeout: openMs });
  if (!(await page.locator(tid('error')).count())) {
    await page.click(tid('run'));
    await page.waitForFunction(([ready, error]) => document.querySelector(error) || document.querySelector(ready),
      [tid('result-ready'), tid('error')], { timeout: runMs });
  }
  return errorText(page);
}

/**
 * The error a hostile `file` shows, or null for a result. Fails when opening or running takes
 * longer than SETTLE_MS or the worker dies (a panic).
 */
async function outcome(page, file) {
  const message = await settle(page, file, SETTLE_MS, SETTLE_MS);
  const kind = await page.locator(tid('error')).getAttribute('data-kind', { timeout: 1_000 }).catch(() => null);
  assert(kind !== 'panic', `${file.split('/').pop()} killed the worker: ${message}`);
  return message;
}

/** Loads `file`; if it opens without an error, runs it. Returns the error shown (or fails). */
async function errorFor(page, file) {
  const message = await settle(page, file, 30_000, 120_000);
  assert(message !== null, `${file.split('/').pop()} gave no error (the file opened and ran)`);
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
  {
    name: 'hostile files (tests/fixtures/bad-inputs): errors or results, never a dead worker',
    async fn(t) {
      const page = await t.open();
      for (const file of t.fixtures.badInputs()) {
        const message = await outcome(page, file);
        console.log(`      ${file.split('/').pop()}: ${message === null ? 'segmented' : `"${message.replace(/\s+/g, ' ')}"`}`);
        const peak = largestRenderer(t.profile).hwmKib;
        assert(peak < MEMORY_KIB, `the renderer peaked at ${peak} KiB after ${file}`);
      }
      await trySample(page);
      await runToResult(page);
    },
  },
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
