// Debian's Chromium, headless, through playwright-core (no downloaded browsers).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.MAPSEG_CHROMIUM || '/usr/bin/chromium';

const ARGS = [
  '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--enable-unsafe-webgpu',
];

/** A fresh persistent context (new user-data-dir); `close()` also removes the profile.
 *  `serviceWorkers: 'block'` keeps the app's service worker out (so routes see every request).
 *  `devtools: true` also opens the DevTools protocol on a free port: `devtoolsUrl()` then gives
 *  the browser's WebSocket address (for what playwright does not reach, such as the workers of
 *  a worker). */
export async function launch({ serviceWorkers = 'allow', devtools = false } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mapseg-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: devtools ? [...ARGS, '--remote-debugging-port=0'] : ARGS,
    acceptDownloads: true,
    serviceWorkers,
    viewport: { width: 1280, height: 860 },
  });
  return {
    context,
    profile,
    /** `ws://127.0.0.1:PORT/devtools/browser/…` (Chromium writes it into the profile's DevToolsActivePort). */
    devtoolsUrl() {
      const [port, browserPath] = fs.readFileSync(path.join(profile, 'DevToolsActivePort'), 'utf8').split('\n');
      return `ws://127.0.0.1:${port.trim()}${browserPath.trim()}`;
    },
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
