// Driving the app through its data-testid contract.

import fs from 'node:fs';
import path from 'node:path';
import { assert } from './assert.mjs';

export const tid = (id) => `[data-testid="${id}"]`;

const RUN_TIMEOUT_MS = Number(process.env.MAPSEG_E2E_RUN_TIMEOUT_MS || 240_000);

/** Opens a new page at `url`, records page errors and console output, waits for `body[data-ready="1"]`. */
export async function openApp(context, url, log) {
  const page = await context.newPage();
  page.mapsegErrors = [];
  page.on('console', (msg) => log.push(`[console.${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (err) => {
    log.push(`[pageerror] ${err.message}`);
    page.mapsegErrors.push(err.message);
  });
  page.on('crash', () => page.mapsegErrors.push('page crashed'));
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 60_000 });
  return page;
}

export const text = (page, id) => page.locator(tid(id)).innerText({ timeout: 5_000 }).then((t) => t.trim());

/** Waits until the file panel names `name` (the loaded file), or fails with the app's error. */
export async function waitForFile(page, name, timeout = 60_000) {
  await page.waitForFunction(
    ([fileName, error, expected]) => document.querySelector(error)
      || document.querySelector(fileName)?.textContent.includes(expected),
    [tid('file-name'), tid('error'), name],
    { timeout },
  ).catch(() => { throw new Error(`file panel did not show ${name} within ${timeout} ms`); });
  await assertNoError(page, `loading ${name}`);
}

/** Whether `progress` is shown (present and not hidden). */
export const progressShown = (page) => page.evaluate(isShown, tid('progress'));

/** In the page: the element matching `selector` exists and is not inside a `hidden` element. */
export function isShown(selector) {
  const el = document.querySelector(selector);
  return Boolean(el && !el.closest('[hidden]'));
}

export async function loadFile(page, file) {
  await page.setInputFiles(tid('file-input'), file);
  await waitForFile(page, path.basename(file));
}

/** Clicks "Try a sample" and waits for its 400 × 400 panel, no error and an enabled Run button. */
export async function trySample(page, timeout = 60_000) {
  await page.click(tid('try-sample'));
  await page.waitForFunction(
    ([dims, error, run]) => !document.querySelector(error)
      && document.querySelector(dims)?.textContent.includes('400 \u00d7 400')
      && document.querySelector(run)?.disabled === false,
    [tid('file-dimensions'), tid('error'), tid('run')],
    { timeout },
  ).catch(async () => {
    throw new Error(`the sample did not load within ${timeout} ms (error shown: ${await errorText(page)})`);
  });
}

/** Drops `file` on the page body the way a browser does: dragenter, dragover, drop with a DataTransfer. */
export async function dropFile(page, file) {
  const b64 = fs.readFileSync(file).toString('base64');
  await page.evaluate(([name, data]) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type: 'image/tiff' }));
    for (const type of ['dragenter', 'dragover', 'drop']) {
      document.body.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
    }
  }, [path.basename(file), b64]);
  await waitForFile(page, path.basename(file));
}

export async function errorText(page) {
  const error = page.locator(tid('error'));
  return (await error.count()) ? (await error.innerText()).trim() : null;
}

export async function assertNoError(page, during) {
  const message = await errorText(page);
  assert(message === null, `the app shows an error while ${during}: ${message}`);
}

/** Records every `progress` state seen (data-stage, data-fraction) into `window.__progress`. */
export async function watchProgress(page) {
  await page.evaluate((sel) => {
    window.__progress = [];
    const record = () => {
      const p = document.querySelector(sel);
      if (!p || p.closest('[hidden]')) return;
      const last = window.__progress.at(-1);
      const entry = { stage: p.dataset.stage ?? '', fraction: Number(p.dataset.fraction ?? 'NaN') };
      if (!last || last.stage !== entry.stage || last.fraction !== entry.fraction) window.__progress.push(entry);
    };
    window.__progressObserver?.disconnect();
    window.__progressObserver = new MutationObserver(record);
    window.__progressObserver.observe(document.body, { subtree: true, childList: true, attributes: true });
    record();
  }, tid('progress'));
}

export const progressLog = (page) => page.evaluate(() => window.__progress ?? []);

/**
 * Clicks Run and waits for `result-ready` (fails early if `error` shows up), then for the details that follow the
 * map (suggested names, a k curve still being drawn: `data-details="ready"`) unless `details` is false; returns
 * data-elapsed-ms (Run to the map).
 */
export async function runToResult(page, timeout = RUN_TIMEOUT_MS, { details = true } = {}) {
  await page.locator(tid('run')).click();
  await page.waitForFunction(
    ([ready, error]) => document.querySelector(ready) || document.querySelector(error),
    [tid('result-ready'), tid('error')],
    { timeout, polling: 100 },
  ).catch(() => { throw new Error(`no result-ready within ${timeout} ms`); });
  await assertNoError(page, 'running');
  if (details) await detailsReady(page, timeout);
  return Number(await page.locator(tid('result-ready')).getAttribute('data-elapsed-ms'));
}

/**
 * Waits until the worker has warmed its code up on synthetic rasters (`body[data-worker-warm]`), as a user picking a
 * file would; `true` once it has, `false` if it has not within `timeout` (a file handed over earlier cuts the warm-up
 * short, which is also how the app works).
 */
export async function workerWarm(page, timeout = 15_000) {
  return page.waitForFunction(() => document.body.dataset.workerWarm === '1', null, { timeout })
    .then(() => true, () => false);
}

/** Waits until the details that follow a result (suggested names, the k curve) have come. */
export async function detailsReady(page, timeout = RUN_TIMEOUT_MS) {
  await page.waitForFunction((ready) => document.querySelector(ready)?.dataset.details === 'ready',
    tid('result-ready'), { timeout, polling: 50 })
    .catch(() => { throw new Error(`the result's details did not come within ${timeout} ms`); });
}

/** Clicks a download button and saves the file into `dir`; returns its path. */
export async function download(page, id, dir) {
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click(tid(id), { timeout: 10_000 })]);
  const file = path.join(dir, `${id}-${dl.suggestedFilename()}`);
  await dl.saveAs(file);
  return file;
}

/** Sets a control (input or select) and fires input and change. */
export async function setControl(page, id, value) {
  const control = page.locator(tid(id));
  if ((await control.evaluate((e) => e.tagName)) === 'SELECT') await control.selectOption(String(value));
  else await control.fill(String(value));
  await control.dispatchEvent('change');
}
