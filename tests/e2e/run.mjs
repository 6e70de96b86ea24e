// Browser tests of the built web app: `node run.mjs [DIST] [--grep TEXT]`.
//
// DIST (or $MAPSEG_DIST) is the trunk output to serve. Each test gets a fresh headless Chromium profile.
// Artefacts (screenshots, failure captures) go to $MAPSEG_ARTIFACTS (default: mapseg-e2e next to the cargo
// target dir); MAPSEG_UPDATE_SCREENSHOT=1 also copies the result screenshot to docs/screenshot.png.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch } from './lib/browser.mjs';
import { openApp } from './lib/app.mjs';
import { Fixtures, REPO } from './lib/fixtures.mjs';
import { serveDir } from './lib/server.mjs';
import badFiles from './suites/bad_files.mjs';
import cancel from './suites/cancel.mjs';
import downloads from './suites/downloads.mjs';
import embedding from './suites/embedding.mjs';
import load from './suites/load.mjs';
import offlinePrivacy from './suites/offline_privacy.mjs';
import pool from './suites/pool.mjs';
import urlState from './suites/url_state.mjs';
import webgpu from './suites/webgpu.mjs';

const TEST_TIMEOUT_MS = Number(process.env.MAPSEG_E2E_TEST_TIMEOUT_MS || 600_000);
const SUITES = [load, downloads, urlState, badFiles, cancel, offlinePrivacy, embedding, pool, webgpu];

function parseArgs(argv) {
  const options = { dist: process.env.MAPSEG_DIST, grep: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--grep') options.grep = argv[++i];
    else options.dist = argv[i];
  }
  if (!options.dist) throw new Error('usage: node run.mjs DIST [--grep TEXT] (or set MAPSEG_DIST)');
  if (!fs.existsSync(path.join(options.dist, 'index.html'))) throw new Error(`${options.dist}/index.html does not exist`);
  return options;
}

function artifactsDir() {
  const target = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache', 'mapseg-target');
  const dir = process.env.MAPSEG_ARTIFACTS || path.join(path.dirname(path.resolve(target)), 'mapseg-e2e');
  fs.mkdirSync(dir, { recursive: true });
  for (const stale of fs.readdirSync(dir).filter((f) => f.startsWith('fail-'))) fs.rmSync(path.join(dir, stale));
  return dir;
}

const slug = (name) => name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`test timed out after ${ms} ms`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function runTest(test, env) {
  const log = [];
  const browser = await launch({ serviceWorkers: test.serviceWorkers });
  const tmp = fs.mkdtempSync(path.join(env.fixtures.dir, `${slug(test.name)}-`));
  const pages = [];
  const t = {
    ...env,
    tmp,
    log,
    profile: browser.profile,
    context: browser.context,
    open: async (query = '') => {
      const page = await openApp(browser.context, env.url + query, log);
      pages.push(page);
      return page;
    },
  };
  const start = Date.now();
  try {
    await withTimeout(test.fn(t), TEST_TIMEOUT_MS);
    const pageErrors = pages.flatMap((p) => p.mapsegErrors);
    if (pageErrors.length) throw new Error(`uncaught errors in the page: ${pageErrors.join(' | ')}`);
    return { ok: true, ms: Date.now() - start };
  } catch (error) {
    for (const [i, page] of pages.entries()) {
      const shot = path.join(env.artifacts, `fail-${slug(test.name)}-${i}.png`);
      await page.screenshot({ path: shot, fullPage: true, timeout: 10_000 }).catch(() => {});
    }
    return { ok: false, ms: Date.now() - start, error, log };
  } finally {
    await browser.close().catch(() => {});
  }
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const tests = SUITES.flat().filter((test) => !options.grep || test.name.includes(options.grep));
  const server = await serveDir(options.dist);
  const fixtures = new Fixtures();
  const env = { url: server.url, fixtures, artifacts: artifactsDir(), repo: REPO };
  console.log(`serving ${path.resolve(options.dist)} at ${server.url}; artefacts in ${env.artifacts}`);
  const failed = [];
  try {
    for (const test of tests) {
      const result = await runTest(test, env);
      const secs = (result.ms / 1000).toFixed(1);
      if (result.ok) {
        console.log(`PASS  ${test.name} (${secs} s)`);
      } else {
        failed.push(test.name);
        console.log(`FAIL  ${test.name} (${secs} s)\n      ${result.error.stack ?? result.error}`);
        for (const line of result.log.slice(-40)) console.log(`      | ${line}`);
      }
    }
  } finally {
    fixtures.cleanup();
    await server.close();
  }
  console.log(`\n${tests.length - failed.length} passed, ${failed.length} failed of ${tests.length}`);
  for (const name of failed) console.log(`  failed: ${name}`);
  return failed.length ? 1 : 0;
}

main().then((code) => process.exit(code), (error) => {
  console.error(`error: ${error.stack ?? error}`);
  process.exit(2);
});
