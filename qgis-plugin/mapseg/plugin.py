"""The plugin: actions, the panel, the app server, and layers going to the app and back."""

import functools
import os
import traceback

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtGui import QDesktopServices, QGuiApplication, QIcon
from qgis.PyQt.QtWidgets import QAction, QFileDialog, QProgressDialog

from . import layers, protocol, settings, webengine
from .server import AppServer, ServerError
from .session import Session

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))
MENU = "&Mapseg"
LOG_TAG = "Mapseg"
# A raster sent inside a message (base64) to an app the plugin does not serve.
MAX_INLINE_BYTES = 256 << 20


class PluginError(Exception):
    """Something the user should read in the message bar."""


def reported(method):
    """Shows any failure of a user action in the message bar (and the log), never as a traceback dialog."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (PluginError, layers.LayerError, ServerError) as error:
            self.show_error(str(error))
        except Exception as error:  # noqa: BLE001 — a slot must never raise into Qt
            QgsMessageLog.logMessage(traceback.format_exc(), LOG_TAG, Qgis.Critical)
            self.show_error(f"unexpected error: {error} (details in the Mapseg log)")
        return None

    return wrapper


def app_dir():
    """The bundled app (``app/`` in the plugin; ``MAPSEG_APP_DIR`` overrides it)."""
    return os.environ.get("MAPSEG_APP_DIR") or os.path.join(PLUGIN_DIR, "app")


class MapsegPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.server = None
        self.panel = None
        self.actions = []
        self.results = []  # result layers added in this session, oldest first
        self.last_result = None  # the app's last result message (protocol.Result)
        self._tasks = []  # running export tasks (kept alive)
        self.session = Session(self._send, self._on_result, self.show_error)

    # --- QGIS plugin interface ---

    def initGui(self):
        window = self.iface.mainWindow()
        icon = QIcon(os.path.join(PLUGIN_DIR, "icon.png"))
        self.panel_action = QAction(icon, "Mapseg panel", window)
        self.panel_action.setToolTip("Show the Mapseg panel (unsupervised land-cover segmentation)")
        self.panel_action.triggered.connect(self.show_panel)
        self.send_action = QAction(icon, "Send active layer to Mapseg", window)
        self.send_action.setToolTip("Open the active raster layer in the Mapseg panel")
        self.send_action.triggered.connect(self.send_active_layer)
        self.settings_action = QAction("Mapseg settings…", window)
        self.settings_action.triggered.connect(self.edit_settings)
        self.actions = [self.panel_action, self.send_action, self.settings_action]
        for action in self.actions:
            self.iface.addPluginToRasterMenu(MENU, action)
        self.iface.addToolBarIcon(self.panel_action)
        self.iface.addToolBarIcon(self.send_action)

    def unload(self):
        for action in self.actions:
            self.iface.removePluginRasterMenu(MENU, action)
            self.iface.removeToolBarIcon(action)
        self.actions = []
        if self.panel is not None:
            self.iface.removeDockWidget(self.panel)
            self.panel.shutdown()
            self.panel.deleteLater()
            self.panel = None
        if self.server is not None:
            self.server.stop()
            self.server = None

    # --- messages ---

    def show_error(self, message):
        QgsMessageLog.logMessage(message, LOG_TAG, Qgis.Critical)
        self.iface.messageBar().pushMessage("Mapseg", message, level=Qgis.Critical, duration=15)

    def show_info(self, message, level=Qgis.Info, duration=10):
        QgsMessageLog.logMessage(message, LOG_TAG, level)
        self.iface.messageBar().pushMessage("Mapseg", message, level=level, duration=duration)

    # --- the app ---

    def serves_app(self):
        """Whether the app comes from this plugin's own server (no app URL in the settings)."""
        return not settings.app_url()

    def app_url(self):
        configured = settings.app_url()
        if configured:
            problem = settings.check_url(configured)
            if problem:
                raise PluginError(f"{problem}: fix it in Mapseg settings")
            return configured
        return self._server().url

    def _server(self):
        if self.server is None:
            folder = app_dir()
            if not os.path.isfile(os.path.join(folder, "index.html")):
                raise PluginError(
                    f"the app is not bundled with this plugin ({folder} is missing): install the "
                    "packaged plugin, or set an app URL in Mapseg settings")
            self.server = AppServer(folder)
            self.server.start()
        return self.server

    @reported
    def show_panel(self, *_):
        if not webengine.AVAILABLE:
            self._open_in_browser()
            return
        if self.panel is None:
            from .panel import MapsegPanel, dock_area

            self.panel = MapsegPanel(self.app_url(), self._downloads_folder, self.iface.mainWindow())
            self.panel.received.connect(self.session.receive)
            self.panel.loading.connect(self.session.reset)
            self.panel.load_failed.connect(self.show_error)
            self.iface.addDockWidget(dock_area(), self.panel)
        self.panel.show()
        self.panel.raise_()

    def _open_in_browser(self, raster=None):
        url = self.app_url()
        if not QDesktopServices.openUrl(QUrl(url)):
            raise PluginError(f"no web browser could open {url}")
        how = ("Mapseg opened in your web browser (this QGIS has no QtWebEngine: "
               f"{webengine.MISSING_REASON or 'not installed'}). ")
        if raster:
            QGuiApplication.clipboard().setText(raster)
            how += f"Drag {raster} (its path is on the clipboard) into the page, "
        else:
            how += "Drop a GeoTIFF into the page, "
        how += ("press Segment, download the GeoTIFF, and add it with Layer ▸ Add Layer ▸ Add "
                "Raster Layer: it keeps the input's CRS, colours and class names.")
        self.show_info(how, duration=0)

    def _send(self, text):
        if self.panel is not None:
            self.panel.send(text)

    @reported
    def edit_settings(self, *_):
        before = settings.app_url()
        dialog = settings.SettingsDialog(self.iface.mainWindow())
        if dialog.exec_() and settings.app_url() != before and self.panel is not None:
            self.iface.removeDockWidget(self.panel)
            self.panel.shutdown()
            self.panel.deleteLater()
            self.panel = None
            self.show_panel()

    # --- layers to the app ---

    @reported
    def send_active_layer(self, *_):
        layer = self.iface.activeLayer()
        if not isinstance(layer, QgsRasterLayer):
            raise PluginError("select a raster layer in the Layers panel, then send it")
        path = layers.geotiff_source(layer)
        if path is not None:
            self._deliver(layer, path)
            return
        layers.check_exportable(layer)
        folder = self.results_folder()
        if folder is None:
            return
        target = layers.unique_path(folder, layers.safe_stem(layer.name()) + "_for_mapseg", ".tif")
        self._export(layer, target)

    def _export(self, layer, target):
        task = layers.ExportTask(layer, target)
        dialog = QProgressDialog(
            f"Writing “{layer.name()}” to {os.path.basename(target)}…", "Cancel", 0, 100,
            self.iface.mainWindow())
        dialog.setWindowTitle("Mapseg: exporting to GeoTIFF")
        dialog.setMinimumDuration(0)
        dialog.setValue(0)
        task.progressChanged.connect(lambda p: dialog.setValue(int(p)))
        dialog.canceled.connect(task.cancel)
        layer_id = layer.id()

        def done(ok):
            canceled = task.isCanceled()
            dialog.canceled.disconnect(task.cancel)  # closing the dialog would signal a cancel
            dialog.close()
            if task in self._tasks:
                self._tasks.remove(task)
            if ok:
                source = QgsProject.instance().mapLayer(layer_id)
                if source is not None:
                    self._deliver_reported(source, target)
            elif not canceled:
                self.show_error(f"could not export “{layer.name()}”: {task.error or 'GDAL failed'}")

        task.taskCompleted.connect(lambda: done(True))
        task.taskTerminated.connect(lambda: done(False))
        self._tasks.append(task)
        QgsApplication.taskManager().addTask(task)

    @reported
    def _deliver_reported(self, layer, path):
        self._deliver(layer, path)

    def _deliver(self, layer, path):
        """Shows the panel and hands the file to the app (by URL from our server, else inline)."""
        name = os.path.basename(path)
        if not webengine.AVAILABLE:
            self._open_in_browser(raster=path)
            return
        self.show_panel()
        if self.serves_app():
            message = protocol.open_url(name, self._server().publish(path))
        else:
            size = os.path.getsize(path)
            if size > MAX_INLINE_BYTES:
                raise PluginError(
                    f"{name} is {size >> 20} MiB: an app from a configured URL gets at most "
                    f"{MAX_INLINE_BYTES >> 20} MiB; clear the app URL in Mapseg settings to use "
                    "the bundled app, which reads files of any size")
            with open(path, "rb") as f:
                message = protocol.open_bytes(name, f.read())
        self.session.open(message, name, layer.id())
        self.show_info(f"“{layer.name()}” is open in the Mapseg panel: choose a method and press Segment.")

    # --- results back ---

    def results_folder(self):
        """Where results are saved: the settings' folder, else the project's, else one the user picks."""
        folder = settings.output_folder() or QgsProject.instance().absolutePath()
        if folder and os.path.isdir(folder):
            return folder
        folder = QFileDialog.getExistingDirectory(
            self.iface.mainWindow(),
            "Where should Mapseg save its results? (the project is not saved yet)")
        if not folder:
            self.show_error("no folder chosen: save the project or pick a results folder in Mapseg settings")
            return None
        settings.set_output_folder(folder)
        return folder

    def _downloads_folder(self):
        return settings.output_folder() or QgsProject.instance().absolutePath()

    @reported
    def _on_result(self, result, layer_id):
        source = QgsProject.instance().mapLayer(layer_id) if layer_id else None
        folder = self.results_folder()
        if folder is None:
            return
        layer, _table, path = layers.add_result(result, source, folder)
        self.last_result = result
        self.results.append(layer)
        if source is not None and not layers.extent_matches(layer, source):
            self.show_info(
                f"{layer.name()} does not cover the extent of “{source.name()}”", level=Qgis.Warning)
        self.show_info(f"added {layer.name()} (saved as {path})", level=Qgis.Success)
