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
 *  `serviceWorkers: 'block'` keeps the app's service worker out (so routes see every request). */
export async function launch({ serviceWorkers = 'allow' } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mapseg-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    acceptDownloads: true,
    serviceWorkers,
    viewport: { width: 1280, height: 860 },
  });
  return {
    context,
    profile,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
