"""QtWebEngine and QtWebChannel, wherever this QGIS has them.

QGIS 3.22's ``qgis.PyQt`` has no ``QtWebEngineWidgets`` (nor ``QtWebChannel``), later versions
re-export them, and Qt 6 moves the page classes to ``QtWebEngineCore``. Where ``qgis.PyQt`` lacks
a module it comes from the PyQt that QGIS runs on (``PyQt5`` or ``PyQt6``, never the other one:
two Qt versions in one process would crash it). ``AVAILABLE`` is ``False`` when none is
installed: the plugin then opens the app in the system browser.
"""

import importlib

from qgis.PyQt.QtCore import QCoreApplication, QFile, QIODevice, Qt

# The PyQt package behind qgis.PyQt: "PyQt5" or "PyQt6".
BINDING = QCoreApplication.__module__.split(".", 1)[0]
QWEBCHANNEL_JS = ":/qtwebchannel/qwebchannel.js"

AVAILABLE = False
MISSING_REASON = ""

# QtWebEngine shares OpenGL contexts with the application. QGIS 3.22 starts without asking for
# that, and PyQt then refuses to import QtWebEngineWidgets into the running application; asking
# now is what Qt's own warning ("initialized from a plugin") recommends short of a rebuilt QGIS.
_SHARE_GL = Qt.ApplicationAttribute.AA_ShareOpenGLContexts
if QCoreApplication.instance() is not None and not QCoreApplication.testAttribute(_SHARE_GL):
    QCoreApplication.setAttribute(_SHARE_GL)


def _find(name, *modules):
    """The class ``name`` from the first of ``modules`` (``qgis.PyQt``'s, else ``BINDING``'s) that has it."""
    reason = f"{BINDING} has no {name}"
    for module in modules:
        for package in ("qgis.PyQt", BINDING):
            try:
                found = getattr(importlib.import_module(f"{package}.{module}"), name, None)
            except ImportError as error:
                reason = str(error)
                continue
            if found is not None:
                return found
    raise ImportError(reason)


try:
    QWebEngineView = _find("QWebEngineView", "QtWebEngineWidgets")
    QWebEnginePage = _find("QWebEnginePage", "QtWebEngineCore", "QtWebEngineWidgets")
    QWebEngineProfile = _find("QWebEngineProfile", "QtWebEngineCore", "QtWebEngineWidgets")
    QWebEngineScript = _find("QWebEngineScript", "QtWebEngineCore", "QtWebEngineWidgets")
    QWebChannel = _find("QWebChannel", "QtWebChannel")
    AVAILABLE = True
except ImportError as error:  # no QtWebEngine in this QGIS
    QWebEngineView = QWebEnginePage = QWebEngineProfile = QWebEngineScript = QWebChannel = None
    MISSING_REASON = str(error)


def qwebchannel_js():
    """Qt's own ``qwebchannel.js`` (a resource of the QtWebChannel library)."""
    f = QFile(QWEBCHANNEL_JS)
    if not f.open(QIODevice.OpenModeFlag.ReadOnly):
        raise RuntimeError(f"Qt's {QWEBCHANNEL_JS} is missing")
    try:
        return f.readAll().data().decode("utf-8")
    finally:
        f.close()
