// GDAL command-line helpers (gdal-bin): reading rasters back and making test inputs.

import { execFileSync } from 'node:child_process';

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
