"""QtWebEngine and QtWebChannel, wherever this QGIS has them.

QGIS 3.22's ``qgis.PyQt`` has no ``QtWebEngineWidgets`` (nor ``QtWebChannel``), later versions
re-export them, and Qt 6 moves the page classes to ``QtWebEngineCore``. ``AVAILABLE`` is
``False`` when none is installed: the plugin then opens the app in the system browser.
"""

from qgis.PyQt.QtCore import QCoreApplication, Qt

AVAILABLE = False
MISSING_REASON = ""

# QtWebEngine shares OpenGL contexts with the application. QGIS 3.22 starts without asking for
# that, and PyQt then refuses to import QtWebEngineWidgets into the running application; asking
# now is what Qt's own warning ("initialized from a plugin") recommends short of a rebuilt QGIS.
if QCoreApplication.instance() is not None and not QCoreApplication.testAttribute(Qt.AA_ShareOpenGLContexts):
    QCoreApplication.setAttribute(Qt.AA_ShareOpenGLContexts)

try:
    try:
        from qgis.PyQt.QtWebEngineWidgets import QWebEngineView
    except ImportError:
        from PyQt5.QtWebEngineWidgets import QWebEngineView  # QGIS 3.22 on Qt 5
    try:
        from qgis.PyQt.QtWebEngineCore import QWebEnginePage, QWebEngineProfile, QWebEngineScript
    except ImportError:
        try:
            from qgis.PyQt.QtWebEngineWidgets import QWebEnginePage, QWebEngineProfile, QWebEngineScript
        except ImportError:
            from PyQt5.QtWebEngineWidgets import QWebEnginePage, QWebEngineProfile, QWebEngineScript
    try:
        from qgis.PyQt.QtWebChannel import QWebChannel
    except ImportError:
        from PyQt5.QtWebChannel import QWebChannel
    AVAILABLE = True
except ImportError as error:  # no QtWebEngine in this QGIS
    QWebEngineView = QWebEnginePage = QWebEngineProfile = QWebEngineScript = QWebChannel = None
    MISSING_REASON = str(error)

QWEBCHANNEL_JS = ":/qtwebchannel/qwebchannel.js"


def qwebchannel_js():
    """Qt's own ``qwebchannel.js`` (a resource of the QtWebChannel library)."""
    from qgis.PyQt.QtCore import QFile, QIODevice

    f = QFile(QWEBCHANNEL_JS)
    if not f.open(QIODevice.ReadOnly):
        raise RuntimeError(f"Qt's {QWEBCHANNEL_JS} is missing")
    try:
        return bytes(f.readAll()).decode("utf-8")
    finally:
        f.close()
