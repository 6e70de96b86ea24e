"""The plugin: actions, the panel, the app server, and layers going to the app and back."""

import functools
import os
import traceback

from qgis.core import Qgis, QgsApplication, QgsMessageLog, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtGui import QDesktopServices, QGuiApplication, QIcon
from qgis.PyQt.QtWidgets import QFileDialog, QProgressDialog

try:
    from qgis.PyQt.QtGui import QAction  # Qt 6
except ImportError:
    from qgis.PyQt.QtWidgets import QAction  # Qt 5

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
            QgsMessageLog.logMessage(traceback.format_exc(), LOG_TAG, Qgis.MessageLevel.Critical)
            self.show_error(f"unexpected error: {error} (details in the Mapseg log)")
        return None

    return wrapper


def app_dir():
    """The bundled app (``app/`` in the plugin; ``MAPSEG_APP_DIR`` overrides it)."""
    return os.environ.get("MAPSEG_APP_DIR") or os.path.join(PLUGIN_DIR, "app")


class ExportProgress(QProgressDialog):
    """The progress of one export.

    The task's progress goes to a method of the dialog itself, so PyQt drops that connection
    when the dialog is deleted (a lambda would go on calling a deleted dialog).
    """

    def __init__(self, text, parent):
        super().__init__(text, "Cancel", 0, 100, parent)
        self.setWindowTitle("Mapseg: exporting to GeoTIFF")
        self.setMinimumDuration(0)
        self.setValue(0)

    def show_progress(self, percent):
        self.setValue(int(percent))

    def dismiss(self):
        """Closes and deletes the dialog without a ``canceled`` signal (closing one sends it)."""
        self.blockSignals(True)
        self.close()
        self.deleteLater()


class MapsegPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.server = None
        self.panel = None
        self.actions = []
        self.results = []  # result layers added in this session, oldest first
        self.last_result = None  # the app's last result message (protocol.Result)
        self._exports = {}  # running export task → (its dialog, layer id, layer name)
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
            action.deleteLater()
        self.actions = []
        for task, (dialog, _, _) in self._exports.items():
            dialog.dismiss()
            task.cancel()  # its end, later, finds nothing to report to
        self._exports = {}
        self._close_panel()
        if self.server is not None:
            self.server.stop()
            self.server = None

    # --- messages ---

    def show_error(self, message):
        QgsMessageLog.logMessage(message, LOG_TAG, Qgis.MessageLevel.Critical)
        self.iface.messageBar().pushMessage(
            "Mapseg", message, level=Qgis.MessageLevel.Critical, duration=15)

    def show_info(self, message, level=Qgis.MessageLevel.Info, duration=10):
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
            self.session.reset()  # a new page: nothing goes to it before it says ready
            self.panel.received.connect(self._received)
            self.panel.loading.connect(self.session.reset)
            self.panel.load_failed.connect(self.show_error)
            self.iface.addDockWidget(dock_area(), self.panel)
        self.panel.show()
        self.panel.raise_()

    def _close_panel(self):
        """Removes the panel, its page deleted at once (see ``panel.py``)."""
        if self.panel is None:
            return
        self.iface.removeDockWidget(self.panel)
        self.panel.shutdown()
        self.panel.deleteLater()
        self.panel = None

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
    def _received(self, text):
        """A message from the app (a slot: whatever goes wrong ends in the message bar)."""
        self.session.receive(text)

    @reported
    def edit_settings(self, *_):
        before = settings.app_url()
        dialog = settings.SettingsDialog(self.iface.mainWindow())
        accepted = dialog.exec()
        dialog.deleteLater()
        if accepted and settings.app_url() != before and self.panel is not None:
            self._close_panel()
            self.show_panel()

    # --- layers to the app ---

    @reported
    def send_active_layer(self, *_):
        layer = self.iface.activeLayer()
        if not isinstance(layer, QgsRasterLayer):
            raise PluginError("select a raster layer in the Layers panel, then send it")
        path = layers.geotiff_source(layer)
        if path is not None:
            self._deliver(path, layer.id(), layer.name())
            return
        layers.check_exportable(layer)
        folder = self.results_folder()
        if folder is None:
            return
        self._export(layer, folder)

    def _export(self, layer, folder):
        """Writes the layer to a new GeoTIFF in ``folder`` in the background, then sends that."""
        stem = layers.safe_stem(layer.name()) + "_for_mapseg"
        task = layers.ExportTask(layer, folder, stem, self._export_finished)
        dialog = ExportProgress(
            f"Writing “{layer.name()}” to {os.path.basename(task.path)}…", self.iface.mainWindow())
        task.progressChanged.connect(dialog.show_progress)
        dialog.canceled.connect(task.cancel)
        self._exports[task] = (dialog, layer.id(), layer.name())
        QgsApplication.taskManager().addTask(task)

    @reported
    def _export_finished(self, task, ok):
        """An export has ended (main thread): its file goes to the app, or the user learns why not."""
        if task not in self._exports:  # the plugin was unloaded meanwhile
            return
        dialog, layer_id, name = self._exports.pop(task)
        dialog.dismiss()
        if ok:
            self._deliver(task.path, layer_id, name)
        elif task.isCanceled():
            self.show_info(f"the export of “{name}” was cancelled")
        else:
            self.show_error(f"could not export “{name}”: {task.error or 'GDAL failed'}")

    def _deliver(self, path, layer_id, layer_name):
        """Shows the panel and hands the file to the app (by URL from our server, else inline)."""
        name = os.path.basename(path)
        if not webengine.AVAILABLE:
            self._open_in_browser(raster=path)
            return
        self.show_panel()
        if self.panel is None:  # the panel could not be made; show_panel said why
            return
        if self.serves_app():
            message = protocol.open_url(name, self._server().publish(path))
        else:
            message = protocol.open_bytes(name, self._inline_bytes(path))
        self.session.open(message, name, layer_id)
        self.show_info(f"“{layer_name}” is open in the Mapseg panel: choose a method and press Segment.")

    def _inline_bytes(self, path):
        """The file's bytes for an app the plugin does not serve (at most ``MAX_INLINE_BYTES``)."""
        name = os.path.basename(path)
        try:
            size = os.path.getsize(path)
            if size > MAX_INLINE_BYTES:
                raise PluginError(
                    f"{name} is {size >> 20} MiB: an app from a configured URL gets at most "
                    f"{MAX_INLINE_BYTES >> 20} MiB; clear the app URL in Mapseg settings to use "
                    "the bundled app, which reads files of any size")
            with open(path, "rb") as f:
                return f.read()
        except OSError as error:
            raise PluginError(f"cannot read {path}: {error}") from error

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
            self.show_info(f"{layer.name()} does not cover the extent of “{source.name()}”",
                           level=Qgis.MessageLevel.Warning)
        self.show_info(f"added {layer.name()} (saved as {path})", level=Qgis.MessageLevel.Success)
