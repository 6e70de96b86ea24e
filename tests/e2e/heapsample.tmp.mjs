import { launch } from './lib/browser.mjs';
import { openApp, loadFile, tid } from './lib/app.mjs';
import { serveDir } from './lib/server.mjs';
const [dist, file, workers, ms] = process.argv.slice(2);
const server = await serveDir(dist);
const b = await launch();
const log = [];
const page = await openApp(b.context, `${server.url}?backend=cpu&workers=${workers}`, log);
await page.waitForFunction(() => document.body.dataset.workerReady === '1', null, { timeout: 60000 });
const vers = await (await fetch('http://127.0.0.1:9333/json/version')).json();
const ws = new WebSocket(vers.webSocketDebuggerUrl);
await new Promise((r) => ws.onopen = r);
let id = 0; const pending = new Map(); const sessions = [];
ws.onmessage = (ev) => {
  const m = JSON.parse(ev.data);
  if (m.id && pending.has(m.id)) { pending.get(m.id)(m); pending.delete(m.id); }
  if (m.method === 'Target.attachedToTarget') {
    const s = m.params.sessionId; const t = m.params.targetInfo;
    sessions.push({ s, t });
    send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: true }, s);
    send('Runtime.runIfWaitingForDebugger', {}, s);
  }
};
const send = (method, params = {}, sessionId) => new Promise((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params, sessionId })); });
await send('Target.setDiscoverTargets', { discover: true });
const targets = (await send('Target.getTargets')).result.targetInfos;
for (const t of targets.filter((t) => t.type === 'page' && t.url.includes('127.0.0.1'))) {
  await send('Target.attachToTarget', { targetId: t.targetId, flatten: true });
}
await new Promise((r) => setTimeout(r, 1500));
const ws_ = sessions.filter(({ t }) => t.type === 'worker');
console.log('workers', ws_.map(({ t }) => t.url || t.title));
for (const { s } of ws_) { await send('HeapProfiler.enable', {}, s); await send('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true }, s); }
await loadFile(page, file);
await page.locator(tid('run')).click();
await page.waitForTimeout(Number(ms));
for (const { s, t } of ws_) {
  const r = await send('HeapProfiler.stopSampling', {}, s);
  const prof = r.result?.profile; if (!prof) { console.log('no profile', t.title, JSON.stringify(r).slice(0, 200)); continue; }
  const agg = new Map(); let total = 0;
  const walk = (n, stack) => { const fr = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`; const st = [...stack, fr]; if (n.selfSize) { const key = st.slice(-4).join(' < '); agg.set(key, (agg.get(key) || 0) + n.selfSize); total += n.selfSize; } for (const c of n.children) walk(c, st); };
  walk(prof.head, []);
  console.log(`== ${t.title} ${t.url} total sampled ${(total / 1048576).toFixed(1)} MiB`);
  for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${(v / 1048576).toFixed(2)} ${k.split(' < ').reverse().join(' < ')}`);
}
ws.close(); await b.close(); await server.close();
