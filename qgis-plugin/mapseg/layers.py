"""Layers in and out: which file the app gets for a raster layer, and the styled result layer.

The result is kept where the user keeps work (next to the project, or a folder they pick),
never in a temporary folder: the label GeoTIFF, its class statistics (CSV, added as a table),
the run manifest and a QGIS style file beside it, so the palette and class names come back
whenever the file is opened again.
"""

import csv
import os
import re

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsLayerMetadata,
    QgsPalettedRasterRenderer,
    QgsProject,
    QgsRasterBlockFeedback,
    QgsRasterFileWriter,
    QgsRasterLayer,
    QgsRasterPipe,
    QgsTask,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QColor

GEOTIFF_SUFFIXES = (".tif", ".tiff")
STATS_COLUMNS = ("class", "name", "pixels", "area_m2", "area_ha", "percent")


class LayerError(Exception):
    """A layer that cannot be sent, or a result that cannot be added; the message says why."""


def source_path(layer):
    """The file behind a raster layer (text before GDAL's ``|`` options), or ``None``."""
    if layer.providerType().lower() != "gdal":
        return None
    path = layer.source().split("|", 1)[0]
    return path if os.path.isfile(path) else None


def geotiff_source(layer):
    """The layer's file when the app can read it as it is (a GeoTIFF), else ``None``."""
    path = source_path(layer)
    if path is None or not path.lower().endswith(GEOTIFF_SUFFIXES):
        return None
    return path


def check_exportable(layer):
    """Raises :class:`LayerError` for a raster layer whose pixels cannot be written to a file."""
    if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
        raise LayerError("the active layer is not a valid raster layer")
    provider = layer.dataProvider()
    if provider is None or not provider.capabilities() & provider.Size:
        raise LayerError(
            f"“{layer.name()}” is a web or tile layer without a fixed size: make it a file first "
            "(Raster ▸ Conversion ▸ Convert Map to Raster) and send that layer")
    if layer.width() <= 0 or layer.height() <= 0:
        raise LayerError(f"“{layer.name()}” has no pixels")


class ExportTask(QgsTask):
    """Writes a raster layer to a GeoTIFF in the background (``QgsRasterFileWriter``)."""

    def __init__(self, layer, path):
        super().__init__(f"Mapseg: exporting “{layer.name()}” to GeoTIFF", QgsTask.CanCancel)
        check_exportable(layer)
        self.path = path
        self.error = None
        self._provider = layer.dataProvider().clone()
        self._extent = layer.extent()
        self._width = layer.width()
        self._height = layer.height()
        self._crs = layer.crs()
        self._context = QgsProject.instance().transformContext()
        self._feedback = QgsRasterBlockFeedback()
        self._feedback.progressChanged.connect(self.setProgress)

    def cancel(self):
        self._feedback.cancel()
        super().cancel()

    def run(self):
        part = self.path + ".part"
        pipe = QgsRasterPipe()
        if not pipe.set(self._provider):
            self.error = "the layer's data provider cannot be read"
            return False
        writer = QgsRasterFileWriter(part)
        writer.setOutputFormat("GTiff")
        writer.setCreateOptions(["COMPRESS=DEFLATE", "TILED=YES", "BIGTIFF=IF_SAFER"])
        code = writer.writeRaster(
            pipe, self._width, self._height, self._extent, self._crs, self._context, self._feedback)
        if self.isCanceled():
            _remove(part)
            return False
        if code != QgsRasterFileWriter.NoError:
            _remove(part)
            self.error = f"GDAL could not write {part} (error {int(code)})"
            return False
        os.replace(part, self.path)
        return True


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def safe_stem(text):
    """A file name stem from a layer name: letters, digits, ``-``, ``_`` and ``.``."""
    stem = re.sub(r"[^\w.-]+", "_", text, flags=re.UNICODE).strip("._")
    return stem or "raster"


def unique_path(folder, stem, suffix):
    """``folder/stem{suffix}``, or with ``_2``, ``_3``… so that no file is ever overwritten."""
    candidate = os.path.join(folder, stem + suffix)
    n = 2
    while os.path.exists(candidate):
        candidate = os.path.join(folder, f"{stem}_{n}{suffix}")
        n += 1
    return candidate


def write_atomically(path, data, mode="wb"):
    part = path + ".part"
    with open(part, mode) as f:
        f.write(data)
    os.replace(part, path)


def write_stats_csv(path, stats, legend):
    """The class statistics as CSV (one row per class; the legend's names)."""
    part = path + ".part"
    with open(part, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(STATS_COLUMNS)
        for row in stats:
            value = row.get("class")
            name = row.get("name")
            if isinstance(value, int) and 0 <= value < len(legend):
                name = legend[value].name
            writer.writerow([value, name, *(row.get(c) for c in STATS_COLUMNS[2:])])
    os.replace(part, path)


def stats_summary(stats, legend):
    """A plain-text table of the statistics for the layer's metadata."""
    lines = ["class\tname\tpixels\tarea (ha)\tshare (%)"]
    for row in stats:
        value = row.get("class")
        name = legend[value].name if isinstance(value, int) and 0 <= value < len(legend) else row.get("name")
        lines.append(f"{value}\t{name}\t{row.get('pixels')}\t{row.get('area_ha')}\t{row.get('percent')}")
    return "\n".join(lines)


def paletted_renderer(layer, legend):
    """A paletted renderer of band 1 with the legend's colours and class names."""
    classes = [
        QgsPalettedRasterRenderer.Class(value, QColor(*entry.colour), entry.name)
        for value, entry in enumerate(legend)
    ]
    return QgsPalettedRasterRenderer(layer.dataProvider(), 1, classes)


def result_stem(result, input_layer):
    """``<input>_mapseg_<method>_k<k>``; the input is the layer, or the raster's name."""
    method = safe_stem(result.method_name)
    k = f"_k{result.k}" if result.k is not None else ""
    base = input_layer.name() if input_layer is not None else os.path.splitext(result.name)[0]
    return f"{safe_stem(base)}_mapseg_{method}{k}"


def add_result(result, input_layer, folder, project=None):
    """Saves a result in ``folder`` and adds it to the project as a styled layer.

    Returns ``(raster_layer, table_layer, path)``. The raster layer has the input layer's CRS
    (the file's, or the one the user set on the input layer when it differs; ``input_layer`` is
    ``None`` for a raster the plugin did not send) and a paletted renderer with the legend; the
    statistics are a table layer and part of the layer's metadata.
    """
    project = project or QgsProject.instance()
    if not os.path.isdir(folder):
        raise LayerError(f"the output folder does not exist: {folder}")
    path = unique_path(folder, result_stem(result, input_layer), ".tif")
    stem = os.path.splitext(path)[0]
    try:
        write_atomically(path, result.geotiff)
        write_atomically(stem + ".manifest.json", result.manifest, mode="w")
        write_stats_csv(stem + ".csv", result.stats, result.legend)
    except OSError as error:
        raise LayerError(f"cannot save the result in {folder}: {error}") from error
    name = os.path.basename(stem)
    layer = QgsRasterLayer(path, name, "gdal")
    if not layer.isValid():
        raise LayerError(f"QGIS cannot open the result {path}")
    crs = input_layer.crs() if input_layer is not None else QgsCoordinateReferenceSystem()
    if crs.isValid() and layer.crs() != crs:
        layer.setCrs(QgsCoordinateReferenceSystem(crs))
    layer.setRenderer(paletted_renderer(layer, result.legend))
    metadata = QgsLayerMetadata(layer.metadata())
    metadata.setTitle(name)
    metadata.setAbstract(
        f"Mapseg {result.method_name} segmentation of {result.name}.\n\n"
        + stats_summary(result.stats, result.legend))
    layer.setMetadata(metadata)
    layer.saveDefaultStyle()
    table = QgsVectorLayer(
        _csv_uri(stem + ".csv"), f"{name} class statistics", "delimitedtext")
    project.addMapLayer(layer)
    if table.isValid():
        project.addMapLayer(table)
    else:
        table = None
    return layer, table, path


def _csv_uri(path):
    from qgis.PyQt.QtCore import QUrl

    url = QUrl.fromLocalFile(path).toString()
    return f"{url}?type=csv&delimiter=,&detectTypes=yes&geomType=none"


def extent_matches(layer, reference, tolerance_pixels=0.5):
    """Whether two raster layers cover the same extent (within half a pixel of ``layer``)."""
    a, b = layer.extent(), reference.extent()
    tol_x = tolerance_pixels * layer.rasterUnitsPerPixelX()
    tol_y = tolerance_pixels * layer.rasterUnitsPerPixelY()
    return (abs(a.xMinimum() - b.xMinimum()) <= tol_x and abs(a.xMaximum() - b.xMaximum()) <= tol_x
            and abs(a.yMinimum() - b.yMinimum()) <= tol_y and abs(a.yMaximum() - b.yMaximum()) <= tol_y)
