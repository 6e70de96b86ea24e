"""Layers in and out: which file the app gets for a raster layer, and the styled result layer.

The result is kept where the user keeps work (next to the project, or a folder they pick),
never in a temporary folder: the label GeoTIFF, its class statistics (CSV, added as a table),
the run manifest and a QGIS style file beside it, so the palette and class names come back
whenever the file is opened again. No file is ever overwritten: every name is claimed with
:func:`claim_path`, which creates the file exclusively, under a stem no existing file uses.
"""

import csv
import os
import re

from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsLayerMetadata,
    QgsPalettedRasterRenderer,
    QgsProject,
    QgsRasterBlockFeedback,
    QgsRasterFileWriter,
    QgsRasterInterface,
    QgsRasterLayer,
    QgsRasterPipe,
    QgsTask,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtGui import QColor

GEOTIFF_SUFFIXES = (".tif", ".tiff")
STATS_COLUMNS = ("class", "name", "pixels", "area_m2", "area_ha", "percent")
# The files of one result, and of one exported layer (GDAL writes it to .part first): a stem is
# taken only when none of them exists (a stale .aux.xml would lend the new GeoTIFF its metadata).
RESULT_SUFFIXES = (".tif", ".csv", ".manifest.json", ".qml", ".tif.aux.xml")
EXPORT_SUFFIXES = (".tif", ".tif.part", ".tif.aux.xml")


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
    if provider is None or not provider.capabilities() & _fixed_size():
        raise LayerError(
            f"“{layer.name()}” is a web or tile layer without a fixed size: make it a file first "
            "(Raster ▸ Conversion ▸ Convert Map to Raster) and send that layer")
    if layer.width() <= 0 or layer.height() <= 0:
        raise LayerError(f"“{layer.name()}” has no pixels")


def _fixed_size():
    """The raster interface capability ``Size`` (``Qgis.RasterInterfaceCapability`` in newer QGIS)."""
    scoped = getattr(Qgis, "RasterInterfaceCapability", None)
    return scoped.Size if scoped is not None else QgsRasterInterface.Capability.Size


def _writer_success():
    """``writeRaster``'s success code (``Qgis.RasterFileWriterResult`` in newer QGIS)."""
    scoped = getattr(Qgis, "RasterFileWriterResult", None)
    return scoped.Success if scoped is not None else QgsRasterFileWriter.WriterError.NoError


class ExportTask(QgsTask):
    """Writes a raster layer to a new GeoTIFF ``folder/<stem>.tif`` in the background.

    The file (``path``) is claimed when the task is made, so no other export takes its name;
    ``QgsRasterFileWriter`` writes ``<path>.part``, which becomes ``path`` on success, and both
    are removed otherwise. ``on_finished(task, ok)`` is called in the main thread when the task
    ends, however it ends (also when it is cancelled before it ran).
    """

    def __init__(self, layer, folder, stem, on_finished):
        super().__init__(f"Mapseg: exporting “{layer.name()}” to GeoTIFF", QgsTask.Flag.CanCancel)
        check_exportable(layer)
        self.error = None
        self._on_finished = on_finished
        self._provider = layer.dataProvider().clone()
        self._extent = layer.extent()
        self._width = layer.width()
        self._height = layer.height()
        self._crs = layer.crs()
        self._context = QgsProject.instance().transformContext()
        self._feedback = QgsRasterBlockFeedback()
        self._feedback.progressChanged.connect(self.setProgress)
        self.path = claim_path(folder, stem, EXPORT_SUFFIXES)  # last: nothing fails after it

    def cancel(self):
        self._feedback.cancel()
        super().cancel()

    def run(self):
        """Runs in a worker thread, so it never raises: QGIS would show the traceback."""
        try:
            return self._write()
        except Exception as error:  # noqa: BLE001
            self.error = str(error) or type(error).__name__
            return False

    def finished(self, result):
        """Main thread, once the task has ended: drops what a failed export left, then reports."""
        if not result:
            _remove(self.path + ".part")
            _remove_claim(self.path)
        self._on_finished(self, result)

    def _write(self):
        part = self.path + ".part"
        pipe = QgsRasterPipe()
        if not pipe.set(self._provider):
            self.error = "the layer's data provider cannot be read"
            return False
        writer = QgsRasterFileWriter(part)
        writer.setOutputFormat("GTiff")
        # setCreateOptions is deprecated since QGIS 3.44 in favour of setCreationOptions.
        set_options = getattr(writer, "setCreationOptions", None) or writer.setCreateOptions
        set_options(["COMPRESS=DEFLATE", "TILED=YES", "BIGTIFF=IF_SAFER"])
        code = writer.writeRaster(
            pipe, self._width, self._height, self._extent, self._crs, self._context, self._feedback)
        if self.isCanceled():
            return False
        if code != _writer_success():
            self.error = f"GDAL could not write {part} (error {getattr(code, 'name', code)})"
            return False
        os.replace(part, self.path)  # over the empty file claimed for it
        return True


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _remove_claim(path):
    """Removes a file :func:`claim_path` created, as long as nothing was written to it."""
    try:
        if os.path.getsize(path) == 0:
            os.remove(path)
    except OSError:
        pass


def safe_stem(text):
    """A file name stem from a layer name: letters, digits, ``-``, ``_`` and ``.``."""
    stem = re.sub(r"[^\w.-]+", "_", text, flags=re.UNICODE).strip("._")
    return stem or "raster"


def claim_path(folder, stem, suffixes):
    """Creates the empty file ``folder/<stem><suffixes[0]>`` and returns its path.

    The stem is ``stem``, else ``stem_2``, ``stem_3``…: the first for which no file with any of
    ``suffixes`` exists. The file is created exclusively, so an existing file is never
    overwritten, not even one that appeared a moment ago, and two claims never get one path.
    """
    n = 1
    while True:
        candidate = stem if n == 1 else f"{stem}_{n}"
        paths = [os.path.join(folder, candidate + suffix) for suffix in suffixes]
        if not any(os.path.lexists(p) for p in paths):
            try:
                with open(paths[0], "xb"):
                    return paths[0]
            except FileExistsError:
                pass
            except OSError as error:
                raise LayerError(f"cannot write in {folder}: {error}") from error
        n += 1


def save_result_files(path, result):
    """The result's GeoTIFF into ``path`` (claimed, empty), its manifest and statistics beside it.

    The manifest and the CSV are new files, never replacing one; if any write fails, every file
    written here is removed again.
    """
    stem = os.path.splitext(path)[0]
    written = [path]
    try:
        with open(path, "wb") as f:
            f.write(result.geotiff)
        with _new_text_file(stem + ".manifest.json", written) as f:
            f.write(result.manifest)
        with _new_text_file(stem + ".csv", written) as f:
            write_stats_csv(f, result.stats, result.legend)
    except BaseException:
        for done in written:
            _remove(done)
        raise


def _new_text_file(path, written):
    """Opens a new UTF-8 file (``FileExistsError`` rather than replacing one) and lists it in ``written``."""
    f = open(path, "x", newline="", encoding="utf-8")
    written.append(path)
    return f


def write_stats_csv(f, stats, legend):
    """The class statistics as CSV into the text file ``f`` (one row per class; the legend's names)."""
    writer = csv.writer(f)
    writer.writerow(STATS_COLUMNS)
    for row in stats:
        value = row.get("class")
        name = row.get("name")
        if isinstance(value, int) and 0 <= value < len(legend):
            name = legend[value].name
        writer.writerow([value, name, *(row.get(c) for c in STATS_COLUMNS[2:])])


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
    path = claim_path(folder, result_stem(result, input_layer), RESULT_SUFFIXES)
    stem = os.path.splitext(path)[0]
    try:
        save_result_files(path, result)
    except (OSError, UnicodeError) as error:
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
    layer.saveNamedStyle(stem + ".qml")  # what QGIS loads as the file's default style
    table = QgsVectorLayer(
        _csv_uri(stem + ".csv"), f"{name} class statistics", "delimitedtext")
    project.addMapLayer(layer)
    if table.isValid():
        project.addMapLayer(table)
    else:
        table = None
    return layer, table, path


def _csv_uri(path):
    url = QUrl.fromLocalFile(path).toString()
    return f"{url}?type=csv&delimiter=,&detectTypes=yes&geomType=none"


def extent_matches(layer, reference, tolerance_pixels=0.5):
    """Whether two raster layers cover the same extent (within half a pixel of ``layer``)."""
    a, b = layer.extent(), reference.extent()
    tol_x = tolerance_pixels * layer.rasterUnitsPerPixelX()
    tol_y = tolerance_pixels * layer.rasterUnitsPerPixelY()
    return (abs(a.xMinimum() - b.xMinimum()) <= tol_x and abs(a.xMaximum() - b.xMaximum()) <= tol_x
            and abs(a.yMinimum() - b.yMinimum()) <= tol_y and abs(a.yMaximum() - b.yMaximum()) <= tol_y)
