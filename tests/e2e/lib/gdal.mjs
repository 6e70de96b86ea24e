// GDAL command-line helpers (gdal-bin): reading rasters back and making test inputs.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

function run(program, args) {
  return execFileSync(program, args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `gdalinfo -json [extra…] file`, parsed. */
export function gdalinfo(file, ...extra) {
  return JSON.parse(run('gdalinfo', ['-json', ...extra, file]));
}

export function gdalTranslate(src, dst, ...options) {
  run('gdal_translate', ['-q', ...options, src, dst]);
  return dst;
}

/** Every metadata item of a `gdalinfo -json -mdd all` result (dataset and band level, all domains). */
export function allMetadata(info) {
  const items = {};
  const collect = (metadata) => {
    for (const domain of Object.values(metadata ?? {})) {
      if (domain && typeof domain === 'object' && !Array.isArray(domain)) Object.assign(items, domain);
    }
  };
  collect(info.metadata);
  for (const band of info.bands ?? []) collect(band.metadata);
  return items;
}

/** The pixels of band 1 of `file` as bytes (8-bit rasters), read through GDAL. */
export function bandBytes(file, tmpDir) {
  const raw = path.join(tmpDir, `${path.basename(file)}.${process.hrtime.bigint()}.bin`);
  run('gdal_translate', ['-q', '-of', 'ENVI', '-b', '1', file, raw]);
  const bytes = fs.readFileSync(raw);
  for (const f of [raw, `${raw}.aux.xml`, raw.replace(/\.bin$/, '.hdr')]) fs.rmSync(f, { force: true });
  return bytes;
}

/** `ogrinfo -dialect sqlite -sql SQL file`: one object of field name to value (text) per row. */
export function ogrSql(file, sql) {
  const out = run('ogrinfo', ['-q', '-ro', '-dialect', 'sqlite', '-sql', sql, file]);
  const rows = [];
  for (const line of out.split(/\r?\n/)) {
    if (line.startsWith('OGRFeature(')) rows.push({});
    const field = /^\s+(\w+) \([^)]*\) = (.*)$/.exec(line);
    if (field && rows.length) rows[rows.length - 1][field[1]] = field[2];
  }
  return rows;
}

/** `ogrinfo -so -al file`: the layers' summaries (name, geometry type, feature count, SRS) as text. */
export function ogrSummary(file) {
  return run('ogrinfo', ['-ro', '-so', '-al', file]);
}
