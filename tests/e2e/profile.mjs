// CPU profiles of one run of the built app: the page, its worker and every helper of the worker's pool (a
// measurement tool, not a test):
//   node profile.mjs DIST FILE [--workers N] [--query Q] [--out DIR] [--top N]
//
//   FILE          the raster handed to the page (through the file input), then Segment as soon as the panel shows
//   --workers N   adds `&workers=N` to the query (default: the app's own pool size)
//   --query Q     the app's query (default `?backend=cpu`)
//   --out DIR     where the profiles go (default: a new folder in the system's temporary folder)
//   --top N       functions listed per target (default 25)
//
// Each target's profile is written as `<type>-<n>.cpuprofile` (open it in Chromium's DevTools, Performance panel). On
// standard output, per target: its busy time, the functions with the most time of their own and with the most time
// under them, and its busy milliseconds per 100 ms from the start of the profiling, just before the hand-over of the file. Helpers started during the run are
// profiled from their first instruction (the protocol holds each new worker until its profiler runs).
//
// The release build's WebAssembly has no function names (`.cargo/config.toml` strips them); for names, build the app
// with that file's wasm32 rustflags less `-Cstrip=symbols` (in `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS`).
// Node 20 needs `--experimental-websocket`; later versions have WebSocket built in.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launch } from './lib/browser.mjs';
import { detailsReady, loadFile, openApp, runToResult, workerWarm } from './lib/app.mjs';
import { serveDir } from './lib/server.mjs';

const USAGE = 'usage: node profile.mjs DIST FILE [--workers N] [--query Q] [--out DIR] [--top N]';
/** Microseconds between two samples. */
const SAMPLING_US = 500;

function parseArgs(argv) {
  const options = { workers: null, query: '?backend=cpu', out: null, top: 25 };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value\n${USAGE}`);
      return argv[++i];
    };
    if (argv[i] === '--workers') options.workers = Number(value());
    else if (argv[i] === '--query') options.query = value();
    else if (argv[i] === '--out') options.out = value();
    else if (argv[i] === '--top') options.top = Number(value());
    else positional.push(argv[i]);
  }
  [options.dist, options.file] = positional;
  if (!options.dist || !options.file || positional.length > 2) throw new Error(USAGE);
  return options;
}

/** The browser's DevTools protocol over one WebSocket, flattened sessions included. */
class Protocol {
  constructor(url) {
    this.socket = new WebSocket(url);
    this.next = 0;
    this.pending = new Map();
    this.listeners = [];
    this.socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      const waiter = this.pending.get(message.id);
      if (waiter) {
        this.pending.delete(message.id);
        if (message.error) waiter.reject(new Error(`${waiter.method}: ${message.error.message}`));
        else waiter.resolve(message.result);
      } else if (message.method) {
        for (const listener of this.listeners) listener(message);
      }
    };
  }

  opened() {
    return new Promise((resolve, reject) => {
      this.socket.onopen = resolve;
      this.socket.onerror = () => reject(new Error('could not reach the browser\'s DevTools protocol'));
    });
  }

  send(method, params = {}, sessionId = undefined) {
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, method });
      this.socket.send(JSON.stringify({ id, method, params, sessionId }));
    });
  }

  close() {
    this.socket.close();
  }
}

/** Attaches to the app's page and, as they start, to every worker under it; profiles each from `start()` on. */
async function profileTargets(protocol, pageUrl) {
  const targets = [];
  let profiling = false;
  const begin = async (sessionId) => {
    await protocol.send('Profiler.enable', {}, sessionId);
    await protocol.send('Profiler.setSamplingInterval', { interval: SAMPLING_US }, sessionId);
    await protocol.send('Profiler.start', {}, sessionId);
  };
  protocol.listeners.push(({ method, params }) => {
    if (method !== 'Target.attachedToTarget') return;
    const { sessionId, targetInfo } = params;
    const target = { sessionId, type: targetInfo.type, title: targetInfo.title, profiled: false };
    targets.push(target);
    (async () => {
      // New workers wait for this before they run: their helpers are attached (and profiled) from the start.
      await protocol.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: true }, sessionId);
      if (profiling && target.type === 'worker') {
        await begin(sessionId);
        target.profiled = true;
      }
      await protocol.send('Runtime.runIfWaitingForDebugger', {}, sessionId);
    })().catch((error) => console.error(`profile: ${target.type} ${target.title}: ${error.message}`));
  });
  const { targetInfos } = await protocol.send('Target.getTargets');
  const page = targetInfos.find((t) => t.type === 'page' && t.url.startsWith(pageUrl));
  if (!page) throw new Error(`no page at ${pageUrl}`);
  await protocol.send('Target.attachToTarget', { targetId: page.targetId, flatten: true });
  // Let the auto-attachment reach the worker that is already running.
  const deadline = Date.now() + 5_000;
  while (!targets.some((t) => t.type === 'worker') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return {
    targets,
    async start() {
      profiling = true;
      for (const target of targets.filter((t) => !t.profiled && (t.type === 'page' || t.type === 'worker'))) {
        await begin(target.sessionId);
        target.profiled = true;
      }
    },
  };
}

/** Busy time, top functions and a per-100 ms busy line (from `since`, in the profile's microseconds) of a profile. */
function summary(profile, top, since) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const own = new Map();
  const under = new Map();
  const buckets = [];
  let busy = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const node = nodes.get(profile.samples[i]);
    const name = node.callFrame.functionName || '(anonymous)';
    if (name === '(idle)' || name === '(program)') continue;
    busy += ms;
    own.set(name, (own.get(name) ?? 0) + ms);
    const seen = new Set();
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const frame = nodes.get(id).callFrame.functionName || '(anonymous)';
      if (!seen.has(frame)) under.set(frame, (under.get(frame) ?? 0) + ms);
      seen.add(frame);
    }
    const bucket = Math.floor((t - since) / 100_000);
    if (bucket >= 0) buckets[bucket] = (buckets[bucket] ?? 0) + ms;
  }
  const list = (map) => [...map].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, ms]) => `    ${ms.toFixed(0).padStart(6)} ms  ${name.slice(0, 160)}`);
  return [
    `  busy ${busy.toFixed(0)} ms`,
    '  own time:', ...list(own),
    '  time under:', ...list(under),
    `  busy ms per 100 ms: ${Array.from(buckets, (b) => Math.round(b ?? 0)).join(' ')}`,
  ].join('\n');
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (typeof WebSocket !== 'function') throw new Error('this Node has no WebSocket: run it with --experimental-websocket');
  const out = options.out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mapseg-profile-'));
  fs.mkdirSync(out, { recursive: true });
  const server = await serveDir(options.dist);
  const browser = await launch({ devtools: true });
  const protocol = new Protocol(browser.devtoolsUrl());
  try {
    await protocol.opened();
    const query = options.query + (options.workers ? `&workers=${options.workers}` : '');
    const page = await openApp(browser.context, server.url + query, []);
    await page.waitForFunction(() => document.body.dataset.workerReady === '1', null, { timeout: 60_000 });
    // As a user who picks a file: after the worker's warm-up (when it has one).
    await workerWarm(page);
    const session = await profileTargets(protocol, server.url);
    await session.start();
    const started = Date.now();
    await loadFile(page, options.file);
    await runToResult(page, 600_000, { details: false });
    const resultMs = Date.now() - started;
    await detailsReady(page, 600_000);
    console.log(`${path.basename(options.file)}${query}: result after ${resultMs} ms, details after ${Date.now() - started} ms `
      + '(as this script saw them, from the hand-over of the file)');
    const profiles = [];
    for (const target of session.targets.filter((t) => t.profiled)) {
      const { profile } = await protocol.send('Profiler.stop', {}, target.sessionId).catch(() => ({}));
      if (profile) profiles.push({ target, profile });
    }
    if (!profiles.length) throw new Error('no profile came back');
    // Every profile's times are on the same monotonic clock: the lines count from the first start, just before
    // the file was handed over.
    const since = Math.min(...profiles.map(({ profile }) => profile.startTime));
    profiles.forEach(({ target, profile }, i) => {
      const file = path.join(out, `${target.type}-${i + 1}.cpuprofile`);
      fs.writeFileSync(file, JSON.stringify(profile));
      console.log(`\n${target.type} ${target.title} (${file})`);
      console.log(summary(profile, options.top, since));
    });
  } finally {
    protocol.close();
    await browser.close();
    await server.close();
  }
}

main().catch((error) => {
  console.error(`error: ${error.message}`);
  process.exit(1);
});
