"""Layers with a real (headless) QGIS and real GDAL: which file goes to the app, the styled result."""

import csv
import json
import os

import pytest
from osgeo import gdal

from mapseg import protocol

pytestmark = pytest.mark.usefixtures("qgis_app")
gdal.UseExceptions()

LEGEND = [protocol.LegendEntry("water", (31, 120, 180)), protocol.LegendEntry("forest", (51, 160, 44)),
          protocol.LegendEntry("bare soil", (227, 178, 90))]


def label_geotiff(reference, path, with_crs=True):
    """A 3-class label raster on the reference's grid, written by GDAL (as the app's is)."""
    src = gdal.Open(reference)
    dst = gdal.GetDriverByName("GTiff").Create(path, src.RasterXSize, src.RasterYSize, 1, gdal.GDT_Byte)
    dst.SetGeoTransform(src.GetGeoTransform())
    if with_crs:
        dst.SetProjection(src.GetProjection())
    band = dst.GetRasterBand(1)
    band.SetNoDataValue(255)
    band.Fill(0)
    import array
    row = array.array("B", [(x * 3) // src.RasterXSize for x in range(src.RasterXSize)]).tobytes()
    for y in range(src.RasterYSize):
        band.WriteRaster(0, y, src.RasterXSize, 1, row)
    dst = None
    with open(path, "rb") as f:
        return f.read()


def make_result(geotiff, name="OSBS_029.tif"):
    stats = [{"class": i, "name": f"class {i}", "pixels": 100, "area_m2": 1.0, "area_ha": 0.0001,
              "percent": 33.3} for i in range(3)]
    manifest = json.dumps({"method": {"name": "kmeans", "params": {"k": 3}}})
    return protocol.Result(name, geotiff, LEGEND, stats, manifest, {"name": "kmeans", "params": {"k": 3}})


def raster_layer(path, name="input"):
    from qgis.core import QgsRasterLayer

    layer = QgsRasterLayer(path, name, "gdal")
    assert layer.isValid(), path
    return layer


def test_a_geotiff_goes_as_it_is_and_other_rasters_are_exported(osbs, tmp_path):
    from mapseg import layers

    assert layers.geotiff_source(raster_layer(osbs)) == osbs
    img = str(tmp_path / "osbs.img")
    gdal.Translate(img, osbs, format="HFA")
    other = raster_layer(img, "erdas")
    assert layers.geotiff_source(other) is None
    layers.check_exportable(other)
    target = str(tmp_path / "erdas_for_mapseg.tif")
    task = layers.ExportTask(other, target)
    assert task.run(), task.error
    assert not os.path.exists(target + ".part")
    out = gdal.Open(target)
    assert out.GetDriver().ShortName == "GTiff"
    assert (out.RasterXSize, out.RasterYSize, out.RasterCount) == (400, 400, 3)
    assert out.GetGeoTransform() == pytest.approx(gdal.Open(osbs).GetGeoTransform())
    assert "32617" in out.GetProjection()
    assert out.GetRasterBand(2).Checksum() == gdal.Open(osbs).GetRasterBand(2).Checksum()


def test_a_layer_without_a_size_is_refused_with_a_way_out():
    from qgis.core import QgsRasterLayer

    from mapseg import layers

    xyz = QgsRasterLayer("type=xyz&url=http://127.0.0.1:9/%7Bz%7D/%7Bx%7D/%7By%7D.png&zmax=19&zmin=0",
                         "tiles", "wms")
    with pytest.raises(layers.LayerError, match="Convert Map to Raster|not a valid raster"):
        layers.check_exportable(xyz)


def test_the_result_is_saved_styled_and_in_the_inputs_crs(osbs, tmp_path):
    from qgis.core import QgsPalettedRasterRenderer, QgsProject

    from mapseg import layers

    folder = tmp_path / "project"
    folder.mkdir()
    source = raster_layer(osbs, "OSBS 029")
    geotiff = label_geotiff(osbs, str(tmp_path / "labels.tif"))
    layer, table, path = layers.add_result(make_result(geotiff), source, str(folder))
    assert path == str(folder / "OSBS_029_mapseg_kmeans_k3.tif")
    assert os.path.isfile(path) and os.path.isfile(path[:-4] + ".qml")
    assert QgsProject.instance().mapLayer(layer.id()) is layer
    assert layer.crs().authid() == "EPSG:32617" == source.crs().authid()
    assert layers.extent_matches(layer, source)
    renderer = layer.renderer()
    assert isinstance(renderer, QgsPalettedRasterRenderer)
    classes = [(c.value, c.label, c.color.getRgb()[:3]) for c in renderer.classes()]
    assert classes == [(i, e.name, e.colour) for i, e in enumerate(LEGEND)]
    assert "bare soil" in layer.metadata().abstract()
    fields = [f.name() for f in table.fields()]
    assert fields == list(layers.STATS_COLUMNS)
    rows = [[str(v) for v in f.attributes()[:2]] for f in table.getFeatures()]
    assert rows == [["0", "water"], ["1", "forest"], ["2", "bare soil"]]
    with open(path[:-4] + ".csv", newline="", encoding="utf-8") as f:
        assert next(csv.reader(f)) == list(layers.STATS_COLUMNS)
    assert json.load(open(path[:-4] + ".manifest.json"))["method"]["name"] == "kmeans"

    # A second result never overwrites the first.
    again, _, second = layers.add_result(make_result(geotiff), source, str(folder))
    assert second == str(folder / "OSBS_029_mapseg_kmeans_k3_2.tif") and os.path.isfile(path)
    # Reopened later, the file keeps its palette and names (the .qml beside it).
    reopened = raster_layer(path)
    assert [c.label for c in reopened.renderer().classes()] == [e.name for e in LEGEND]


def test_a_result_without_a_crs_takes_the_input_layers(osbs, tmp_path):
    from mapseg import layers

    source = raster_layer(osbs, "no-crs input")
    geotiff = label_geotiff(osbs, str(tmp_path / "labels.tif"), with_crs=False)
    layer, _, _ = layers.add_result(make_result(geotiff), source, str(tmp_path))
    assert layer.crs().authid() == "EPSG:32617"


def test_a_missing_folder_is_named(osbs, tmp_path):
    from mapseg import layers

    with pytest.raises(layers.LayerError, match="does not exist"):
        layers.add_result(make_result(b"II*\0"), None, str(tmp_path / "nope"))


def test_names_and_paths():
    from mapseg import layers

    assert layers.safe_stem("Ortho 2024 / NIR…") == "Ortho_2024_NIR"
    assert layers.safe_stem("///") == "raster"
