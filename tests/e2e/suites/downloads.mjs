// The exports of a result, read back with GDAL.

import fs from 'node:fs';
import path from 'node:path';
import { assert, assertEqual } from '../lib/assert.mjs';
import { download, loadFile, runToResult, text, tid } from '../lib/app.mjs';
import { L7 } from '../lib/fixtures.mjs';
import { allMetadata, bandBytes, gdalinfo, ogrSql, ogrSummary } from '../lib/gdal.mjs';

/** The legend rows shown: name and pixels of each class. */
async function legendRows(page) {
  const n = await page.locator('[data-testid^="legend-row-"]').count();
  const rows = [];
  for (let i = 0; i < n; i++) {
    rows.push({
      name: await page.locator(tid(`legend-name-${i}`)).inputValue(),
      pixels: Number((await text(page, `legend-pixels-${i}`)).replace(/\D/g, '')),
    });
  }
  return rows;
}

/** The layer of a one-layer vector file, checked with GDAL: valid geometries and its features' areas. */
function checkLayer(file) {
  const layer = /^Layer name: (.*)$/m.exec(ogrSummary(file))?.[1];
  assert(layer, `no layer in ${path.basename(file)}`);
  const [invalid] = ogrSql(file, `SELECT COUNT(*) AS invalid FROM "${layer}" WHERE NOT ST_IsValid(geometry)`);
  assertEqual(Number(invalid.invalid), 0, `invalid geometries in ${path.basename(file)}`);
  return layer;
}

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
  {
    name: 'downloads: class polygons as GeoJSON in WGS 84 and, after a merge, simplified FlatGeobuf in the raster CRS',
    async fn(t) {
      const page = await l7Result(t);
      const legend = await legendRows(page);
      const classes = legend.filter((c) => c.pixels > 0);
      const pixelArea = 28.49999999927454 ** 2;

      // Exact pixel edges in WGS 84: one valid MultiPolygon per class, where GDAL puts the raster.
      const geojsonFile = await download(page, 'download-polygons', t.tmp);
      assert(geojsonFile.endsWith('_classes.geojson'), `GeoJSON file name: ${geojsonFile}`);
      checkLayer(geojsonFile);
      const geojson = JSON.parse(fs.readFileSync(geojsonFile, 'utf8'));
      assertEqual(geojson.type, 'FeatureCollection', 'GeoJSON type');
      assertEqual(geojson.features.length, classes.length, 'GeoJSON features (one per class)');
      for (const f of geojson.features) {
        assertEqual(f.geometry.type, 'MultiPolygon', 'geometry type');
        const shown = legend[f.properties.class];
        assertEqual(f.properties.name, shown.name, `name of class ${f.properties.class}`);
        assertEqual(f.properties.pixels, shown.pixels, `pixels of class ${f.properties.class}`);
        assert(Math.abs(f.properties.area_m2 - shown.pixels * pixelArea) < 1e-3 * f.properties.area_m2, `area of class ${f.properties.class}`);
      }
      // The raster's corners as GDAL reprojects them; UTM's grid is turned against WGS 84's.
      const corners = gdalinfo(L7).wgs84Extent.coordinates[0];
      const [lons, lats] = [corners.map((c) => c[0]), corners.map((c) => c[1])];
      const slack = 1e-5; // about 1 m, a thirtieth of a pixel
      const points = geojson.features.flatMap((f) => f.geometry.coordinates.flat(2));
      for (const [lon, lat] of points) {
        assert(lon >= Math.min(...lons) - slack && lon <= Math.max(...lons) + slack, `longitude ${lon} outside the raster`);
        assert(lat >= Math.min(...lats) - slack && lat <= Math.max(...lats) + slack, `latitude ${lat} outside the raster`);
      }
      for (const [lon, lat] of corners) {
        const nearest = Math.min(...points.map(([x, y]) => Math.hypot(x - lon, y - lat)));
        assert(nearest < slack, `no polygon vertex within 1 m of the raster corner ${lon}, ${lat} (${nearest}°)`);
      }

      // Merge classes 1 and 3, then FlatGeobuf simplified by 60 m: the merged class is one
      // feature, the CRS is the raster's, and neighbours neither overlap nor leave gaps.
      await page.locator(tid('legend-select-1')).check();
      await page.locator(tid('legend-select-3')).check();
      await page.locator(tid('merge-selected')).click();
      const merged = await legendRows(page);
      await page.locator(tid('polygon-format')).selectOption('fgb');
      await page.locator(tid('polygon-simplify')).fill('60');
      const fgb = await download(page, 'download-polygons', t.tmp);
      assert(fgb.endsWith('_classes.fgb'), `FlatGeobuf file name: ${fgb}`);
      const layer = checkLayer(fgb);
      const summary = ogrSummary(fgb);
      const crsName = /^PROJCRS\["([^"]+)"/.exec(gdalinfo(L7).coordinateSystem.wkt)[1];
      assert(summary.includes(`PROJCRS["${crsName}"`), `FlatGeobuf CRS is not ${crsName}:\n${summary}`);
      const features = ogrSql(fgb, `SELECT class, name, pixels FROM "${layer}" ORDER BY class`);
      assertEqual(features.length, merged.filter((c) => c.pixels > 0).length, 'FlatGeobuf features after the merge');
      assertEqual(features[1].name, merged[1].name, 'merged class name');
      assertEqual(Number(features[1].pixels), legend[1].pixels + legend[3].pixels, 'merged class pixels');
      const [{ total }] = ogrSql(fgb, `SELECT SUM(ST_Area(geometry)) AS total FROM "${layer}"`);
      const [w, h] = gdalinfo(L7).size;
      const rasterArea = w * h * pixelArea;
      assert(Math.abs(Number(total) - rasterArea) < 1, `simplified polygons cover ${total} m², the raster ${rasterArea} m² (a gap or an overlap)`);
      const [{ overlap }] = ogrSql(
        fgb,
        `SELECT COALESCE(SUM(ST_Area(ST_Intersection(a.geometry, b.geometry))), 0) AS overlap FROM "${layer}" a, "${layer}" b WHERE a.class < b.class AND ST_Intersects(a.geometry, b.geometry)`,
      );
      assert(Number(overlap) < 1, `simplified classes overlap by ${overlap} m²`);
    },
  },
  {
    name: 'legend: suggested class names are offered, taken one or all, and reach the GeoTIFF',
    async fn(t) {
      const page = await l7Result(t);
      const n = await page.locator('[data-testid^="legend-row-"]').count();
      const offered = [];
      for (let i = 0; i < n; i++) {
        const button = page.locator(tid(`legend-suggest-${i}`));
        if ((await button.count()) && (await button.isVisible())) offered.push(i);
      }
      // Six Landsat ETM+ bands (blue … SWIR2): every class gets a suggestion from its indices.
      assertEqual(offered.length, n, 'classes with a suggested name');
      const first = page.locator(tid(`legend-suggest-${offered[0]}`));
      const suggested = (await first.textContent()).replace(/^suggested: /, '');
      assert(suggested.length > 0, 'empty suggestion');
      assert(/NDVI/.test(await first.getAttribute('title')), 'the suggestion does not say what it rests on');
      await first.click();
      assertEqual(await page.locator(tid(`legend-name-${offered[0]}`)).inputValue(), suggested, 'name after taking the suggestion');
      assert(!(await first.isVisible()), 'the suggestion stays offered once taken');

      await page.locator(tid('use-suggested-names')).click();
      const names = [];
      for (let i = 0; i < n; i++) names.push(await page.locator(tid(`legend-name-${i}`)).inputValue());
      assert(names.every((name) => !/^class \d+$/.test(name)), `default names left: ${names}`);
      const edited = page.locator(tid('legend-name-1'));
      await edited.fill(`${names[1]} (checked)`);
      await edited.dispatchEvent('change');
      const metadata = allMetadata(gdalinfo(await download(page, 'download-geotiff', t.tmp), '-mdd', 'all'));
      for (let i = 0; i < n; i++) {
        assertEqual(metadata[`CLASS_${i}_NAME`], i === 1 ? `${names[1]} (checked)` : names[i], `CLASS_${i}_NAME`);
      }
    },
  },
];
