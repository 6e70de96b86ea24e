"""The plugin's actions with a stand-in for QGIS's interface: every failure ends in the message bar,
an export runs in QGIS's task manager and its file goes to the app, and unloading mid-export
leaves nothing behind."""

import os
import time

import pytest
from osgeo import gdal

pytestmark = pytest.mark.usefixtures("qgis_app")


class Iface:
    """What the plugin uses of ``QgisInterface``; messages are kept as ``(level, text)``."""

    def __init__(self):
        self.messages = []
        self.active = None

    def mainWindow(self):  # noqa: N802 — QGIS's names
        return None

    def messageBar(self):  # noqa: N802
        return self

    def pushMessage(self, title, text, level=None, duration=None):  # noqa: N802
        self.messages.append((int(level), text))

    def activeLayer(self):  # noqa: N802
        return self.active


@pytest.fixture
def project(tmp_path):
    """An unsaved project whose folder is ``tmp_path/project`` (results go there)."""
    from qgis.core import QgsProject

    folder = tmp_path / "project"
    folder.mkdir()
    QgsProject.instance().setFileName(str(folder / "p.qgz"))
    yield folder
    QgsProject.instance().clear()


@pytest.fixture
def plugin(monkeypatch):
    from mapseg.plugin import MapsegPlugin

    p = MapsegPlugin(Iface())
    p.delivered = []
    monkeypatch.setattr(p, "_deliver", lambda path, layer_id, name: p.delivered.append((path, name)))
    yield p
    p.unload()


def imagine_layer(osbs, folder):
    from qgis.core import QgsProject, QgsRasterLayer

    img = str(folder / "osbs.img")
    gdal.Translate(img, osbs, format="HFA")
    layer = QgsRasterLayer(img, "OSBS as Imagine", "gdal")
    QgsProject.instance().addMapLayer(layer)
    return layer


def wait_for(condition, seconds=30):
    from qgis.PyQt.QtCore import QCoreApplication

    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.01)
    assert condition()


def errors(plugin):
    from qgis.core import Qgis

    return [text for level, text in plugin.iface.messages if level == int(Qgis.MessageLevel.Critical)]


def test_a_layer_that_is_no_raster_is_a_message_not_a_traceback(plugin):
    plugin.send_active_layer()
    assert errors(plugin) == ["select a raster layer in the Layers panel, then send it"]


def test_an_exported_layer_goes_to_the_app(plugin, project, osbs):
    plugin.iface.active = imagine_layer(osbs, project)
    plugin.send_active_layer()
    wait_for(lambda: plugin.delivered)
    target = str(project / "OSBS_as_Imagine_for_mapseg.tif")
    assert plugin.delivered == [(target, "OSBS as Imagine")]
    assert plugin._exports == {} and errors(plugin) == []
    assert gdal.Open(target).RasterXSize == 400
    # Sent again: a new file, the first one kept.
    plugin.send_active_layer()
    wait_for(lambda: len(plugin.delivered) == 2)
    assert plugin.delivered[1][0] == str(project / "OSBS_as_Imagine_for_mapseg_2.tif")
    assert os.path.getsize(target) > 0


def test_unloading_during_an_export_cancels_it_and_leaves_nothing(plugin, project, osbs, monkeypatch):
    import threading

    from qgis.core import QgsApplication

    from mapseg import layers

    started = threading.Event()

    def slow_write(task):  # in the worker thread, until the task is cancelled
        started.set()
        while not task.isCanceled():
            time.sleep(0.01)
        return False

    monkeypatch.setattr(layers.ExportTask, "_write", slow_write)
    plugin.iface.active = imagine_layer(osbs, project)
    plugin.send_active_layer()
    (task,) = plugin._exports
    path = task.path
    assert os.path.getsize(path) == 0  # claimed
    assert started.wait(30)
    plugin.unload()
    wait_for(lambda: QgsApplication.taskManager().count() == 0)
    assert plugin.delivered == [] and errors(plugin) == []
    assert not os.path.exists(path) and not os.path.exists(path + ".part")


def test_a_failed_export_is_a_message_and_leaves_nothing(plugin, project, osbs, monkeypatch):
    from mapseg import layers

    def failing_write(task):
        raise OSError("disk full")

    monkeypatch.setattr(layers.ExportTask, "_write", failing_write)
    plugin.iface.active = imagine_layer(osbs, project)
    plugin.send_active_layer()
    wait_for(lambda: not plugin._exports)
    assert errors(plugin) == ["could not export “OSBS as Imagine”: disk full"]
    assert plugin.delivered == []
    assert not [n for n in os.listdir(project) if "for_mapseg" in n]
