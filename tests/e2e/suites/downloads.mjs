// The exports of a result, read back with GDAL.

import fs from 'node:fs';
import { assert, assertEqual } from '../lib/assert.mjs';
import { download, loadFile, runToResult, text, tid } from '../lib/app.mjs';
import { L7 } from '../lib/fixtures.mjs';
import { allMetadata, bandBytes, gdalinfo } from '../lib/gdal.mjs';

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
  {
    name: 'legend: merging two classes reaches the GeoTIFF, CSV and manifest, and undo brings them back',
    async fn(t) {
      const page = await l7Result(t);
      const rows = () => page.locator('[data-testid^="legend-row-"]').count();
      const pixels = async (i) => Number((await text(page, `legend-pixels-${i}`)).replace(/\D/g, ''));
      const nameOf = (i) => page.locator(tid(`legend-name-${i}`)).inputValue();
      const n = await rows();
      assert(n >= 4, `only ${n} classes`);
      const [p1, p3] = [await pixels(1), await pixels(3)];
      const [name1, name3] = [await nameOf(1), await nameOf(3)];
      const colour1 = await page.locator(`${tid('legend-row-1')} input[type="color"]`).inputValue();

      assert(await page.locator(tid('merge-selected')).isDisabled(), 'merge enabled with nothing selected');
      await page.locator(tid('legend-select-1')).check();
      assert(await page.locator(tid('merge-selected')).isDisabled(), 'merge enabled with one class selected');
      await page.locator(tid('legend-select-3')).check();
      await page.locator(tid('merge-selected')).click();

      assertEqual(await rows(), n - 1, 'legend rows after the merge');
      assertEqual(await pixels(1), p1 + p3, 'merged class pixels');
      const merged = `${name1} + ${name3}`;
      assertEqual(await nameOf(1), merged, 'merged class name');

      const tif = await download(page, 'download-geotiff', t.tmp);
      const info = gdalinfo(tif, '-mdd', 'all');
      const metadata = allMetadata(info);
      assertEqual(metadata.CLASS_1_NAME, merged, 'metadata CLASS_1_NAME');
      assertEqual(metadata[`CLASS_${n - 1}_NAME`], undefined, 'no name for the removed class');
      const entry = info.bands[0].colorTable.entries[1];
      const hex = '#' + entry.slice(0, 3).map((v) => v.toString(16).padStart(2, '0')).join('');
      assertEqual(hex, colour1, 'colour table entry of the merged class');
      const manifest = JSON.parse(metadata.MAPSEG_MANIFEST);
      assertEqual(manifest.merges, [{ classes: [1, 3], into: 1, name: merged }], 'manifest merges');
      const counts = new Array(256).fill(0);
      for (const v of bandBytes(tif, t.tmp)) counts[v] += 1;
      assertEqual(counts[n - 1], 0, `pixels of value ${n - 1} after the merge`);

      const csv = fs.readFileSync(await download(page, 'download-csv', t.tmp), 'utf8').trim().split(/\r?\n/);
      assertEqual(csv.length - 1, n - 1, 'CSV rows after the merge');
      assert(csv[2].startsWith(`1,${merged},${p1 + p3},`), `CSV merged row: ${csv[2]}`);
      const shownManifest = JSON.parse(fs.readFileSync(await download(page, 'download-manifest', t.tmp), 'utf8'));
      assertEqual(shownManifest.merges?.length, 1, 'downloaded manifest merges');

      await page.locator(tid('undo-merge')).click();
      assertEqual(await rows(), n, 'legend rows after undo');
      assertEqual(await pixels(1), p1, 'class 1 pixels after undo');
      assertEqual(await pixels(3), p3, 'class 3 pixels after undo');
      assertEqual(await nameOf(1), name1, 'class 1 name after undo');
      assert(await page.locator(tid('undo-merge')).isDisabled(), 'undo enabled with nothing to undo');
      const undone = allMetadata(gdalinfo(await download(page, 'download-geotiff', t.tmp), '-mdd', 'all'));
      assertEqual(undone[`CLASS_${n - 1}_NAME`], `class ${n}`, 'every class back in the GeoTIFF');
      assertEqual(JSON.parse(undone.MAPSEG_MANIFEST).merges, undefined, 'no merges after undo');
    },
  },
];
