"""The dock panel: a ``QWebEngineView`` with the app, and the ``QWebChannel`` bridge to it.

The page gets Qt's ``qwebchannel.js`` in its main world before any of its own scripts run, and
one object, ``mapsegHost``: the app calls its ``post(text)`` slot with a message's JSON text and
listens to its ``message(text)`` signal (README, "Embedding contract"). The page lives in an
off-the-record profile, so nothing of it (service worker, caches) piles up on disk; files the
app offers for download are saved where the user says.

A profile must outlive its pages (QtWebEngine warns, and may crash, otherwise): the view, which
owns the page, is created before the profile and :meth:`MapsegPanel.shutdown` deletes it at once,
since deferred deletion no longer runs once QGIS's event loop has ended.
"""

import os

from qgis.core import Qgis, QgsMessageLog
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QObject, Qt, QUrl, pyqtSignal, pyqtSlot
from qgis.PyQt.QtGui import QDesktopServices
from qgis.PyQt.QtWidgets import QDockWidget, QFileDialog

from . import webengine
from .webengine import QWebChannel, QWebEnginePage, QWebEngineProfile, QWebEngineScript, QWebEngineView

LOG_TAG = "Mapseg"
BRIDGE_NAME = "mapsegHost"
DEFAULT_PORTS = {"http": 80, "https": 443}


class HostBridge(QObject):
    """The object the app sees as ``mapsegHost``."""

    message = pyqtSignal(str)  # plugin → app: a message's JSON text
    received = pyqtSignal(str)  # app → plugin (not for the page)

    @pyqtSlot(str)
    def post(self, text):
        self.received.emit(text)


class AppPage(QWebEnginePage if webengine.AVAILABLE else QObject):
    """The app's page: console errors go to the QGIS log, links away from the app to the browser."""

    def __init__(self, profile, parent, app_origin):
        super().__init__(profile, parent)
        self._origin = app_origin

    def javaScriptConsoleMessage(self, level, message, line, source):
        if level == QWebEnginePage.JavaScriptConsoleMessageLevel.ErrorMessageLevel:
            # errors only; the app reports failures in the page itself
            QgsMessageLog.logMessage(f"{message} ({source}:{line})", LOG_TAG, Qgis.MessageLevel.Warning)

    def acceptNavigationRequest(self, url, kind, is_main_frame):
        leaves = url.scheme() in ("http", "https") and _origin(url) != self._origin
        if is_main_frame and leaves:
            QDesktopServices.openUrl(url)
            return False
        return super().acceptNavigationRequest(url, kind, is_main_frame)


def _origin(url):
    scheme = url.scheme()
    return (scheme, url.host(), url.port(DEFAULT_PORTS.get(scheme, -1)))


class MapsegPanel(QDockWidget):
    """The panel. ``received(text)`` carries the app's messages; :meth:`send` delivers one."""

    received = pyqtSignal(str)
    loading = pyqtSignal()
    load_failed = pyqtSignal(str)

    def __init__(self, url, downloads_folder, parent=None):
        script = _channel_script()  # first: without qwebchannel.js no widget is left behind
        super().__init__("Mapseg", parent)
        self.setObjectName("MapsegPanel")
        self._url = QUrl(url)
        self._downloads_folder = downloads_folder
        self._started = False  # the app has loaded since the page last stopped
        self.view = QWebEngineView(self)  # before the profile: children go in creation order
        self.profile = QWebEngineProfile(self)  # off the record: no storage name
        self.profile.downloadRequested.connect(self._download)
        self.profile.scripts().insert(script)
        self.page = AppPage(self.profile, self.view, _origin(self._url))
        self.page.renderProcessTerminated.connect(self._render_ended)
        self.bridge = HostBridge(self)
        self.bridge.received.connect(self.received)
        self.channel = QWebChannel(self.page)
        self.channel.registerObject(BRIDGE_NAME, self.bridge)
        self.page.setWebChannel(self.channel)
        self.view.setPage(self.page)
        self.view.loadStarted.connect(self.loading)
        self.view.loadFinished.connect(self._loaded)
        self.setWidget(self.view)
        self.setMinimumWidth(420)
        self.view.load(self._url)

    def send(self, text):
        self.bridge.message.emit(text)

    def run_javascript(self, code, callback=None):
        """Runs script in the page (for tests and diagnostics)."""
        if callback is None:
            self.page.runJavaScript(code)
        else:
            self.page.runJavaScript(code, callback)

    def shutdown(self):
        """Deletes the view and its page now, before the profile; the panel says nothing more."""
        self.blockSignals(True)
        self.view.stop()
        self.page.setWebChannel(None)
        sip.delete(self.view)

    def _loaded(self, ok):
        self._started = self._started or ok
        if not ok:
            self.load_failed.emit(f"the app did not load from {self._url.toString()}")

    def _render_ended(self, status, code):
        """The page's process ended (a crash, or out of memory): say so, and start the app again
        unless it had not even started since the last time (no endless restarts)."""
        if status == QWebEnginePage.RenderProcessTerminationStatus.NormalTerminationStatus:
            return
        restart = self._started
        self._started = False
        self.loading.emit()  # nothing goes to the page until an app says ready again
        self.load_failed.emit(
            f"the Mapseg page stopped (exit code {code}; it may have run out of memory)"
            + (" and starts again: send the layer once more" if restart else " before the app started"))
        if restart:
            self.view.load(self._url)

    def _download(self, item):
        suggested = _suggested_name(item)
        start = os.path.join(self._downloads_folder() or os.path.expanduser("~"), suggested)
        path, _ = QFileDialog.getSaveFileName(self, "Save Mapseg download", start)
        if not path:
            item.cancel()
            return
        if hasattr(item, "setDownloadDirectory"):  # Qt ≥ 5.14; Qt 6 has no setPath
            item.setDownloadDirectory(os.path.dirname(path))
            item.setDownloadFileName(os.path.basename(path))
        else:
            item.setPath(path)
        item.accept()


def _suggested_name(item):
    for attribute in ("downloadFileName", "suggestedFileName"):
        getter = getattr(item, attribute, None)
        if getter is not None and getter():
            return getter()
    return os.path.basename(item.path()) if hasattr(item, "path") else "mapseg-download"


def _channel_script():
    script = QWebEngineScript()
    script.setName("qwebchannel")
    script.setSourceCode(webengine.qwebchannel_js())
    script.setInjectionPoint(QWebEngineScript.InjectionPoint.DocumentCreation)
    script.setWorldId(QWebEngineScript.ScriptWorldId.MainWorld)
    script.setRunsOnSubFrames(False)
    return script


def dock_area():
    return Qt.DockWidgetArea.RightDockWidgetArea
