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
    ended = []
    task = layers.ExportTask(other, str(tmp_path), "erdas_for_mapseg", lambda t, ok: ended.append((t, ok)))
    target = str(tmp_path / "erdas_for_mapseg.tif")
    assert task.path == target and os.path.getsize(target) == 0  # claimed at once
    assert task.run(), task.error
    task.finished(True)
    assert ended == [(task, True)]
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


def test_an_export_never_takes_a_name_in_use(osbs, tmp_path):
    from mapseg import layers

    img = str(tmp_path / "osbs.img")
    gdal.Translate(img, osbs, format="HFA")
    other = raster_layer(img, "erdas")
    (tmp_path / "x.tif.part").write_bytes(b"someone's")
    (tmp_path / "x_2.tif.aux.xml").write_text("<PAMDataset/>")
    first = layers.ExportTask(other, str(tmp_path), "x", lambda t, ok: None)
    second = layers.ExportTask(other, str(tmp_path), "x", lambda t, ok: None)
    assert (first.path, second.path) == (str(tmp_path / "x_3.tif"), str(tmp_path / "x_4.tif"))
    assert (tmp_path / "x.tif.part").read_bytes() == b"someone's"


def test_a_cancelled_or_failed_export_leaves_nothing_and_says_so(osbs, tmp_path, monkeypatch):
    from mapseg import layers

    img = str(tmp_path / "osbs.img")
    gdal.Translate(img, osbs, format="HFA")
    other = raster_layer(img, "erdas")
    ended = []
    cancelled = layers.ExportTask(other, str(tmp_path), "c", lambda t, ok: ended.append(ok))
    cancelled.cancel()
    assert not cancelled.run()
    cancelled.finished(False)
    failing = layers.ExportTask(other, str(tmp_path), "f", lambda t, ok: ended.append(ok))
    monkeypatch.setattr(failing, "_write", lambda: 1 / 0)
    assert not failing.run()  # an exception in the worker thread must not escape
    assert "division by zero" in failing.error
    failing.finished(False)
    assert ended == [False, False]
    assert [n for n in os.listdir(tmp_path) if not n.startswith("osbs.img")] == []


def test_a_result_never_overwrites_a_file_beside_it(osbs, tmp_path):
    from mapseg import layers

    source = raster_layer(osbs, "OSBS 029")
    geotiff = label_geotiff(osbs, str(tmp_path / "labels.tif"))
    folder = tmp_path / "project"
    folder.mkdir()
    mine = {"OSBS_029_mapseg_kmeans_k3.csv": "my table", "OSBS_029_mapseg_kmeans_k3_2.qml": "my style",
            "OSBS_029_mapseg_kmeans_k3_3.manifest.json": "my notes"}
    for name, text in mine.items():
        (folder / name).write_text(text)
    _, _, path = layers.add_result(make_result(geotiff), source, str(folder))
    assert path == str(folder / "OSBS_029_mapseg_kmeans_k3_4.tif")
    assert {name: (folder / name).read_text() for name in mine} == mine


def test_a_result_that_cannot_be_saved_leaves_nothing_half_written(osbs, tmp_path):
    from mapseg import layers

    geotiff = label_geotiff(osbs, str(tmp_path / "labels.tif"))
    folder = tmp_path / "project"
    folder.mkdir()
    bad = protocol.Result("OSBS_029.tif", geotiff, LEGEND, [], "\ud800", {"name": "kmeans"})
    with pytest.raises(layers.LayerError, match="cannot save the result"):
        layers.add_result(bad, None, str(folder))
    assert os.listdir(folder) == []
    # A file that appears beside a claimed name is kept, and the claim given up.
    claimed = layers.claim_path(str(folder), "r", layers.RESULT_SUFFIXES)
    (folder / "r.csv").write_text("appeared meanwhile")
    with pytest.raises(FileExistsError):
        layers.save_result_files(claimed, make_result(geotiff))
    assert sorted(os.listdir(folder)) == ["r.csv"] and (folder / "r.csv").read_text() == "appeared meanwhile"


def test_claims_are_exclusive(tmp_path):
    from mapseg import layers

    paths = [layers.claim_path(str(tmp_path), "a", (".tif", ".csv")) for _ in range(3)]
    assert paths == [str(tmp_path / n) for n in ("a.tif", "a_2.tif", "a_3.tif")]
    with pytest.raises(layers.LayerError, match="cannot write in"):
        layers.claim_path(str(tmp_path / "missing"), "a", (".tif",))
