"""Runs inside QGIS (``qgis --code in_qgis.py``, started by run_qgis.py): sends a real GeoTIFF to the
Mapseg panel, presses Segment there (K-Means, the app's defaults), and checks the layer that comes
back, then the same with the CNN, then with a layer that must be exported first; then reloads the plugin as if QtWebEngine were missing and checks the system-browser
fallback. Writes a JSON report to $MAPSEG_E2E_REPORT and ends QGIS.
"""

import json
import os
import sys
import time
import traceback
import urllib.request

import qgis.utils

from osgeo import gdal
from qgis.core import Qgis, QgsApplication, QgsPalettedRasterRenderer, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QObject, QTimer, QUrl, pyqtSlot
from qgis.PyQt.QtGui import QDesktopServices, QGuiApplication
from qgis.utils import iface, plugins

RASTER = os.environ["MAPSEG_E2E_RASTER"]
PROJECT_DIR = os.environ["MAPSEG_E2E_PROJECT_DIR"]
REPORT = os.environ["MAPSEG_E2E_REPORT"]
SCREENSHOT = os.environ.get("MAPSEG_E2E_SCREENSHOT", "")
PLUGIN_TIMEOUT_S = 90
RUN_TIMEOUT_S = 300
POLL_MS = 500

# What the page shows: an error, or the file it has open once it can be segmented.
PROBE = """(() => {
  const q = (id) => document.querySelector('[data-testid="' + id + '"]');
  if (q('error')) return 'error:' + q('error').textContent;
  const name = q('file-name'), dims = q('file-dimensions'), run = q('run');
  if (name && dims && dims.textContent.trim() && run && !run.disabled) return 'loaded:' + name.textContent.trim();
  return document.body && document.body.dataset.ready === '1' ? 'ready' : 'starting';
})()"""

log = []
state = {"phase": "plugin", "since": time.monotonic(), "page": "", "checks": []}


def on_log(message, tag, level):
    if tag == "Mapseg":
        log.append(f"[{tag} {int(level)}] {message}")


QgsApplication.messageLog().messageReceived.connect(on_log)


def finish(ok, reason=""):
    if state.get("done"):
        return
    state["done"] = True
    report = {"ok": ok, "reason": reason, "checks": state["checks"], "log": log,
              "qgis": Qgis.QGIS_VERSION, "page": state["page"]}
    with open(REPORT, "w") as f:
        json.dump(report, f, indent=1)
    QTimer.singleShot(200, lambda: os._exit(0))


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    state["checks"].append(what)


def step():
    try:
        advance()
    except Exception:  # noqa: BLE001 — any failure ends the test with its traceback
        finish(False, traceback.format_exc())


def advance():
    phase = state["phase"]
    waited = time.monotonic() - state["since"]
    if phase == "plugin":
        if "mapseg" in plugins:
            start()
        elif waited > PLUGIN_TIMEOUT_S:
            finish(False, f"the plugin did not load within {PLUGIN_TIMEOUT_S} s: {sorted(plugins)}")
        return
    if waited > RUN_TIMEOUT_S:
        finish(False, f"stuck in phase {phase!r} for {RUN_TIMEOUT_S} s; the page said {state['page']!r}")
        return
    plugin = plugins["mapseg"]
    if phase == "running" and plugin.results:
        verify(plugin)
        start_cnn(plugin)
        return
    if phase == "cnn" and len(plugin.results) >= 2:
        verify_cnn(plugin)
        return
    if phase == "export-running" and len(plugin.results) >= 3:
        verify_export(plugin)
        return
    if plugin.panel is not None:
        plugin.panel.run_javascript(PROBE, on_page)


def start():
    project = QgsProject.instance()
    project.setFileName(os.path.join(PROJECT_DIR, "e2e.qgz"))
    layer = QgsRasterLayer(RASTER, "OSBS 029", "gdal")
    check(layer.isValid(), f"QGIS opened {os.path.basename(RASTER)}")
    project.addMapLayer(layer)
    check(project.write(), "the project is saved (results go next to it)")
    iface.setActiveLayer(layer)
    state.update(source=layer.id(), phase="sent", since=time.monotonic(),
                 expect=os.path.basename(RASTER), then="running")
    plugins["mapseg"].send_active_layer()
    check(plugins["mapseg"].panel is not None and plugins["mapseg"].panel.isVisible(),
          "Send active layer opened the Mapseg panel")


def on_page(reply):
    if state.get("done"):
        return
    state["page"] = reply or ""
    reply = reply or ""
    if reply.startswith("error:"):
        finish(False, f"the app shows an error: {reply[6:].strip()}")
    elif state["phase"] == "sent" and reply == f"loaded:{state['expect']}":
        state["checks"].append(f"the app opened {state['expect']} sent by the plugin")
        state.update(phase=state["then"], since=time.monotonic())
        plugins["mapseg"].panel.run_javascript("document.querySelector('[data-testid=run]').click()")


def verify(plugin):
    layer = plugin.results[-1]
    result = plugin.last_result
    source = QgsProject.instance().mapLayer(state["source"])
    path = layer.source().split("|")[0]
    check(QgsProject.instance().mapLayer(layer.id()) is layer, f"the result layer {layer.name()!r} is in the project")
    check(os.path.dirname(path) == PROJECT_DIR, f"the result is saved next to the project: {os.path.basename(path)}")
    check(layer.crs().authid() == source.crs().authid() == "EPSG:32617",
          f"the result's CRS is the input's ({layer.crs().authid()})")
    a, b = layer.extent(), source.extent()
    tolerance = 0.5 * source.rasterUnitsPerPixelX()
    deltas = [abs(a.xMinimum() - b.xMinimum()), abs(a.xMaximum() - b.xMaximum()),
              abs(a.yMinimum() - b.yMinimum()), abs(a.yMaximum() - b.yMaximum())]
    check(max(deltas) <= tolerance, f"the result's extent is the input's (largest difference {max(deltas):.3g} m)")
    check((layer.width(), layer.height()) == (source.width(), source.height()),
          f"the result has the input's size ({layer.width()} × {layer.height()})")
    renderer = layer.renderer()
    check(isinstance(renderer, QgsPalettedRasterRenderer), "the result has a paletted renderer")
    classes = renderer.classes()
    names = [e.name for e in result.legend]
    check(result.method_name == "kmeans" and len(classes) == len(result.legend) == result.k,
          f"one palette class per K-Means class (k = {result.k})")
    check([c.label for c in classes] == names, f"the palette has the legend's class names: {names}")
    check([c.color.getRgb()[:3] for c in classes] == [e.colour for e in result.legend],
          "the palette has the legend's colours")
    dataset = gdal.Open(path)  # kept alive while its band is used
    table = dataset.GetRasterBand(1).GetColorTable()
    if table is not None:
        check(all(table.GetColorEntry(i)[:3] == e.colour for i, e in enumerate(result.legend)),
              "the saved GeoTIFF's colour table matches the palette")
    stats = [l for l in QgsProject.instance().mapLayers().values() if l.name() == f"{layer.name()} class statistics"]
    check(len(stats) == 1 and stats[0].featureCount() == len(result.stats),
          f"the class statistics are an attribute table ({len(result.stats)} rows)")
    pixels = sum(int(f["pixels"]) for f in stats[0].getFeatures())
    labelled = int((dataset.GetRasterBand(1).ReadAsArray() != 255).sum())  # 255: nodata
    check(pixels == labelled, f"the statistics count every labelled pixel ({pixels})")
    abstract = layer.metadata().abstract()
    check(all(name in abstract for name in names), "the layer's metadata holds the statistics table")


# The CNN chosen in the panel's method select, then Segment.
CHOOSE_CNN = """(() => {
  const method = document.querySelector('[data-testid=method]');
  method.value = 'cnn';
  method.dispatchEvent(new Event('change', { bubbles: true }));
  setTimeout(() => document.querySelector('[data-testid=run]').click(), 500);
})()"""


def start_cnn(plugin):
    state.update(phase="cnn", since=time.monotonic())
    plugin.panel.run_javascript(CHOOSE_CNN)


def verify_cnn(plugin):
    layer, result = plugin.results[-1], plugin.last_result
    source = QgsProject.instance().mapLayer(state["source"])
    check(result.method_name == "cnn", f"the CNN, chosen in the panel, ran: {layer.name()!r}")
    check(layer.crs() == source.crs() and isinstance(layer.renderer(), QgsPalettedRasterRenderer)
          and [c.label for c in layer.renderer().classes()] == [e.name for e in result.legend],
          "its layer has the input's CRS and the legend's palette")
    check(layer.name() != plugin.results[0].name(), "the K-Means result is kept beside it")
    state["phase"] = "screenshot"
    # The picture: the CNN layer's palette in the layer tree, the app's legend in the panel.
    root = QgsProject.instance().layerTreeRoot()
    for node in root.findLayers():
        node.setExpanded(node.layerId() == layer.id())
        node.setItemVisibilityChecked(node.layerId() in (layer.id(), source.id()))
    plugin.panel.run_javascript(
        "(document.querySelector('[data-testid=legend-row-0]') || document.body).scrollIntoView()")
    iface.mapCanvas().setExtent(layer.extent())
    iface.mapCanvas().refresh()
    QTimer.singleShot(3000, screenshot)


def screenshot():
    try:
        if SCREENSHOT:
            check(iface.mainWindow().grab().save(SCREENSHOT), f"screenshot saved: {SCREENSHOT}")
        start_export()
    except Exception:  # noqa: BLE001
        finish(False, traceback.format_exc())


def start_export():
    """A raster layer that is no GeoTIFF (ERDAS Imagine): exported first, then sent."""
    img = os.path.join(PROJECT_DIR, "osbs.img")
    gdal.Translate(img, RASTER, format="HFA")
    layer = QgsRasterLayer(img, "OSBS as Imagine", "gdal")
    check(layer.isValid(), "QGIS opened an ERDAS Imagine copy of the raster")
    QgsProject.instance().addMapLayer(layer)
    iface.setActiveLayer(layer)
    state.update(imagine=layer.id(), phase="sent", since=time.monotonic(),
                 expect="OSBS_as_Imagine_for_mapseg.tif", then="export-running")
    plugins["mapseg"].send_active_layer()


def verify_export(plugin):
    layer = plugin.results[-1]
    imagine = QgsProject.instance().mapLayer(state["imagine"])
    exported = os.path.join(PROJECT_DIR, "OSBS_as_Imagine_for_mapseg.tif")
    check(os.path.isfile(exported), "the Imagine layer was exported to a GeoTIFF next to the project")
    check(layer.name().startswith("OSBS_as_Imagine_mapseg_cnn"), f"its result came back: {layer.name()!r}")
    check(layer.crs() == imagine.crs() and layer.extent() == imagine.extent()
          and isinstance(layer.renderer(), QgsPalettedRasterRenderer),
          "in the Imagine layer's CRS and extent, styled")
    without_webengine()
    finish(True)


class BrowserRecorder(QObject):
    """Stands in for the system browser: QDesktopServices hands it every http URL."""

    def __init__(self):
        super().__init__()
        self.urls = []

    @pyqtSlot(QUrl)
    def open(self, url):
        self.urls.append(url.toString())


def without_webengine():
    """The plugin reloaded in a QGIS without QtWebEngine: Send active layer opens the browser."""
    for name in ("PyQt5.QtWebEngineWidgets", "PyQt5.QtWebEngineCore", "PyQt5.QtWebChannel",
                 "qgis.PyQt.QtWebEngineWidgets", "qgis.PyQt.QtWebEngineCore", "qgis.PyQt.QtWebChannel"):
        sys.modules[name] = None  # importing it now raises ImportError, as where it is not installed
    check(qgis.utils.reloadPlugin("mapseg"), "the plugin unloads (panel and server closed) and loads again")
    plugin = plugins["mapseg"]
    check(not sys.modules["mapseg.webengine"].AVAILABLE, "the reloaded plugin finds no QtWebEngine")
    browser = BrowserRecorder()
    QDesktopServices.setUrlHandler("http", browser, "open")
    try:
        source = QgsProject.instance().mapLayer(state["source"])
        iface.setActiveLayer(source)
        plugin.send_active_layer()
    finally:
        QDesktopServices.unsetUrlHandler("http")
    check(plugin.panel is None and len(browser.urls) == 1, f"the system browser was asked to open {browser.urls}")
    url = browser.urls[0]
    check(url == plugin.server.url, "…the app on the plugin's loopback server")
    with urllib.request.urlopen(url, timeout=10) as response:
        check(response.status == 200 and b"Mapseg" in response.read(), "the server answers the browser")
    check(QGuiApplication.clipboard().text() == RASTER, "the raster's path is on the clipboard")
    check(any("opened in your web browser" in line and "Add Raster Layer" in line for line in log),
          "the message bar explains how to load the result")


iface.mainWindow().resize(1600, 1000)
timer = QTimer()
timer.timeout.connect(step)
timer.start(POLL_MS)
