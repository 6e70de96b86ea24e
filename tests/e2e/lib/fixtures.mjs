// Test inputs: the real GeoTIFFs in tests/fixtures/real and files derived from them into a temp dir.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gdalTranslate } from './gdal.mjs';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const REAL = path.join(REPO, 'tests', 'fixtures', 'real');
export const OSBS = path.join(REAL, 'OSBS_029.tif');
export const L7 = path.join(REAL, 'L7_ETMs.tif');

/** A temp dir whose derived fixtures are made on first use and removed by `cleanup()`. */
export class Fixtures {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapseg-e2e-'));
    this.made = new Map();
  }

  #once(name, make) {
    if (!this.made.has(name)) {
      const file = path.join(this.dir, name);
      make(file);
      this.made.set(name, file);
    }
    return this.made.get(name);
  }

  /** An 8192 × 8192 tiled, deflated RGB raster (OSBS upsampled): big enough to cancel mid-run. */
  large() {
    return this.#once('large_8192.tif', (f) => gdalTranslate(OSBS, f,
      '-outsize', '8192', '8192', '-co', 'TILED=YES', '-co', 'COMPRESS=DEFLATE'));
  }

  /** A text file named .tif. */
  notTiff() {
    return this.#once('notes.tif', (f) => fs.writeFileSync(f, 'This is a text file, not an image.\n'.repeat(20)));
  }

  /** A baseline TIFF without any GeoTIFF tags. */
  noGeoreference() {
    return this.#once('no_georef.tif', (f) => {
      gdalTranslate(L7, f, '-co', 'PROFILE=BASELINE');
      fs.rmSync(`${f}.aux.xml`, { force: true });
    });
  }

  /** A GeoTIFF with LZMA compression (code 34925), which the engine does not decode. */
  lzma() {
    return this.#once('lzma.tif', (f) => gdalTranslate(L7, f, '-co', 'COMPRESS=LZMA'));
  }

  /** The first half of OSBS_029.tif. */
  truncated() {
    return this.#once('truncated.tif', (f) => {
      const bytes = fs.readFileSync(OSBS);
      fs.writeFileSync(f, bytes.subarray(0, bytes.length >> 1));
    });
  }

  cleanup() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
