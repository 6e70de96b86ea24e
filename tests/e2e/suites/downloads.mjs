// The exports of a result, read back with GDAL.

import fs from 'node:fs';
import { assert, assertEqual } from '../lib/assert.mjs';
import { download, loadFile, runToResult, tid } from '../lib/app.mjs';
import { L7 } from '../lib/fixtures.mjs';
import { allMetadata, gdalinfo } from '../lib/gdal.mjs';

async function l7Result(t) {
  const page = await t.open();
  await loadFile(page, L7);
  await runToResult(page);
  return page;
}

export default [
  {
    name: 'downloads: GeoTIFF, CSV, manifest, PNG',
    async fn(t) {
      const page = await l7Result(t);
      const k = Number(await page.locator(tid('k')).inputValue());

      const tif = await download(page, 'download-geotiff', t.tmp);
      const input = gdalinfo(L7);
      const output = gdalinfo(tif);
      assertEqual(output.coordinateSystem?.wkt, input.coordinateSystem?.wkt, 'GeoTIFF coordinateSystem.wkt');
      assertEqual(output.geoTransform, input.geoTransform, 'GeoTIFF geoTransform');
      assertEqual(output.size, input.size, 'GeoTIFF size');
      assert(output.bands?.[0]?.colorTable?.count > 0, 'GeoTIFF band 1 has no colour table');
      assertEqual(output.bands[0].noDataValue, 255, 'GeoTIFF nodata');

      const csv = fs.readFileSync(await download(page, 'download-csv', t.tmp), 'utf8').trim().split(/\r?\n/);
      assertEqual(csv[0], 'class,name,pixels,area_m2,area_ha,percent', 'CSV header');
      assertEqual(csv.length - 1, k, 'CSV rows (k)');

      const manifest = JSON.parse(fs.readFileSync(await download(page, 'download-manifest', t.tmp), 'utf8'));
      assertEqual(manifest.method?.params?.k, k, 'manifest method.params.k');

      const png = fs.readFileSync(await download(page, 'download-png', t.tmp));
      assertEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG magic bytes');
    },
  },
  {
    name: 'legend: a renamed class reaches the GeoTIFF metadata',
    async fn(t) {
      const page = await l7Result(t);
      const name = page.locator(tid('legend-name-0'));
      await name.fill('water');
      await name.dispatchEvent('change');
      const tif = await download(page, 'download-geotiff', t.tmp);
      const metadata = allMetadata(gdalinfo(tif, '-mdd', 'all'));
      assertEqual(metadata.CLASS_0_NAME, 'water', 'metadata CLASS_0_NAME');
    },
  },
];
