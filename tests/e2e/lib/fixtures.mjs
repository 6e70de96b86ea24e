// Test inputs: the real GeoTIFFs in tests/fixtures/real and files derived from them into a temp dir.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { gdalTranslate } from './gdal.mjs';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const REAL = path.join(REPO, 'tests', 'fixtures', 'real');
export const OSBS = path.join(REAL, 'OSBS_029.tif');
export const L7 = path.join(REAL, 'L7_ETMs.tif');
export const BAD_INPUTS = path.join(REPO, 'tests', 'fixtures', 'bad-inputs');

/**
 * `bytes` (a classic little-endian TIFF) with its first directory rewritten at the end of the file
 * plus ModelPixelScale, ModelTiepoint and a GeoKeyDirectory for EPSG:32617, so that the app gets
 * past its georeferencing check to the preview and the run; everything else is kept byte for byte.
 * `null` when the file is not such a TIFF or its directory has no room for three more entries.
 */
export function georeferenced(bytes) {
  const b = Buffer.from(bytes);
  if (b.length < 8 || b.toString('latin1', 0, 2) !== 'II' || b.readUInt16LE(2) !== 42) return null;
  const first = b.readUInt32LE(4);
  if (first + 2 > b.length) return null;
  const count = b.readUInt16LE(first);
  if (count > 65535 - 3 || first + 2 + 12 * count + 4 > b.length) return null;
  const entries = [];
  for (let i = 0; i < count; i++) entries.push(b.subarray(first + 2 + 12 * i, first + 14 + 12 * i));
  const next = b.readUInt32LE(first + 2 + 12 * count);
  const ifdAt = b.length + (b.length % 2);
  const valuesAt = ifdAt + 2 + 12 * (count + 3) + 4;
  const doubles = (values) => {
    const out = Buffer.alloc(8 * values.length);
    values.forEach((v, i) => out.writeDoubleLE(v, 8 * i));
    return out;
  };
  const keys = [1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32617];
  const keyBytes = Buffer.alloc(2 * keys.length);
  keys.forEach((v, i) => keyBytes.writeUInt16LE(v, 2 * i));
  const entry = (tag, type, n, at) => {
    const e = Buffer.alloc(12);
    e.writeUInt16LE(tag, 0); e.writeUInt16LE(type, 2); e.writeUInt32LE(n, 4); e.writeUInt32LE(at, 8);
    return e;
  };
  entries.push(entry(33550, 12, 3, valuesAt), entry(33922, 12, 6, valuesAt + 24),
    entry(34735, 3, keys.length, valuesAt + 72));
  entries.sort((x, y) => x.readUInt16LE(0) - y.readUInt16LE(0));
  const head = Buffer.alloc(2);
  head.writeUInt16LE(entries.length);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(next);
  const out = Buffer.concat([b, Buffer.alloc(ifdAt - b.length), head, ...entries, tail,
    doubles([0.5, 0.5, 0]), doubles([0, 0, 0, 500000, 4000000, 0]), keyBytes]);
  out.writeUInt32LE(ifdAt, 4);
  return out;
}

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

  /** A 16384 × 16384 tiled, deflated RGB raster (OSBS upsampled, 268 megapixels). */
  huge() {
    return this.#once('huge_16384.tif', (f) => gdalTranslate(OSBS, f,
      '-outsize', '16384', '16384', '-co', 'TILED=YES', '-co', 'COMPRESS=DEFLATE', '-co', 'BIGTIFF=IF_SAFER'));
  }

  /** A 1600 × 1600 tiled RGB raster (OSBS upsampled): a CNN run long enough to interrupt. */
  medium() {
    return this.#once('medium_1600.tif', (f) => gdalTranslate(OSBS, f,
      '-outsize', '1600', '1600', '-r', 'bilinear', '-co', 'TILED=YES'));
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

  /**
   * Every file of tests/fixtures/bad-inputs (decompressed), and a georeferenced variant of each
   * that can take one, so that the worker's preview and run see the crafted structures too.
   */
  badInputs() {
    const files = [];
    for (const name of fs.readdirSync(BAD_INPUTS).filter((n) => /\.tif(\.gz)?$/.test(n)).sort()) {
      const stored = fs.readFileSync(path.join(BAD_INPUTS, name));
      const bytes = name.endsWith('.gz') ? zlib.gunzipSync(stored) : stored;
      const plain = name.replace(/\.gz$/, '');
      files.push(this.#once(plain, (f) => fs.writeFileSync(f, bytes)));
      const geo = georeferenced(bytes);
      if (geo) files.push(this.#once(plain.replace(/\.tif$/, '_georef.tif'), (f) => fs.writeFileSync(f, geo)));
    }
    return files;
  }

  cleanup() {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
