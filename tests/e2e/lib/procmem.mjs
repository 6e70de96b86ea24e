// Peak resident memory of Chromium's renderer processes, read from /proc (Linux only).

import fs from 'node:fs';

function read(file) {
  try { return fs.readFileSync(file, 'utf8'); } catch { return ''; }
}

function processes() {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))
    .map((pid) => ({ pid: Number(pid), cmdline: read(`/proc/${pid}/cmdline`).replaceAll('\0', ' ') }));
}

function statusKib(pid, field) {
  const match = read(`/proc/${pid}/status`).match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return match ? Number(match[1]) : 0;
}

/** Renderer processes of the browser that uses the profile directory `profile`. */
export function rendererPids(profile) {
  return processes()
    // Chromium rewrites its argv into one space-separated string.
    .filter((p) => p.cmdline.includes('--type=renderer ') && p.cmdline.includes(`--user-data-dir=${profile} `))
    .map((p) => p.pid);
}

/** `{ pid, rssKib, hwmKib }` of the renderer with the largest peak (VmHWM). */
export function largestRenderer(profile) {
  return rendererPids(profile)
    .map((pid) => ({ pid, rssKib: statusKib(pid, 'VmRSS'), hwmKib: statusKib(pid, 'VmHWM') }))
    .sort((a, b) => b.hwmKib - a.hwmKib)[0] ?? null;
}
