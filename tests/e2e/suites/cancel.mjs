// Cancelling a long run returns to idle quickly and leaves the app usable.

import { assert, assertEqual } from '../lib/assert.mjs';
import { errorText, loadFile, runToResult, text, tid, trySample } from '../lib/app.mjs';

const CANCEL_LIMIT_MS = 1000;

/** Starts a run of the large raster with `query`, cancels it mid-run, then runs the sample. */
async function cancelMidRun(t, query) {
  const page = await t.open(query);
  await loadFile(page, t.fixtures.large());
  assertEqual(await text(page, 'file-dimensions'), '8192 \u00d7 8192', 'file-dimensions');
  await page.click(tid('run'));
  await page.waitForFunction(
    ([progress, ready]) => {
      const p = document.querySelector(progress);
      return document.querySelector(ready) || (p && !p.closest('[hidden]') && p.dataset.stage);
    },
    [tid('progress'), tid('result-ready')],
    { timeout: 60_000 },
  );
  assert(!(await page.locator(tid('result-ready')).count()), 'the run finished before it could be cancelled');
  const stage = await page.locator(tid('progress')).getAttribute('data-stage');
  const { progressGoneMs, ms } = await page.evaluate(([cancel, progress, run]) => new Promise((resolve) => {
    const start = performance.now();
    let progressGoneMs = null;
    document.querySelector(cancel).click();
    const check = () => {
      const p = document.querySelector(progress);
      const now = performance.now() - start;
      if (!(p && !p.closest('[hidden]'))) progressGoneMs ??= now;
      if (progressGoneMs !== null && !document.querySelector(run)?.disabled) resolve({ progressGoneMs, ms: now });
      else if (now > 10_000) resolve({ progressGoneMs, ms: Infinity });
      else setTimeout(check, 10);
    };
    check();
  }), [tid('cancel'), tid('progress'), tid('run')]);
  console.log(`      cancelled during stage "${stage}": progress hidden after ${Math.round(progressGoneMs)} ms, `
    + `run enabled after ${Math.round(ms)} ms`);
  assert(ms <= CANCEL_LIMIT_MS, `not idle ${CANCEL_LIMIT_MS} ms after cancel: progress hidden after `
    + `${Math.round(progressGoneMs)} ms, [data-testid=run] still disabled after ${Math.round(ms)} ms`);
  assert(!(await page.locator(tid('result-ready')).count()), 'a result is shown after cancel');
  const error = await errorText(page);
  assert(error === null, `an error is shown after cancel: ${error}`);
  await trySample(page);
  await runToResult(page);
}

export default [
  {
    name: 'cancel: a large raster mid-run, then run the sample',
    fn: (t) => cancelMidRun(t, ''),
  },
  {
    name: 'cancel: a CNN run on WebGPU mid-run, then run the sample',
    fn: (t) => cancelMidRun(t, '?method=cnn&backend=webgpu'),
  },
];
