"""Qt 6 spellings: QGIS on Qt 6 runs PyQt6, which knows enum members only by their scoped names
(``Qt.DockWidgetArea.RightDockWidgetArea``), has no ``exec_()``, and must never meet PyQt5."""

import ast
import importlib
import importlib.util

import pytest

pytestmark = pytest.mark.usefixtures("qgis_app")

MODULES = ["plugin", "panel", "layers", "settings", "webengine", "server", "protocol", "session"]


def is_enum_type(value):
    return type(value).__name__ == "enumtype"  # sip's enums (PyQt5)


def is_enum_member(value):
    return is_enum_type(type(value))


def problems(module):
    """``Class.Member`` enum spellings, ``exec_`` calls and direct PyQt imports in a module's source."""
    with open(module.__file__, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("PyQt5", "PyQt6")):
            found.append(f"line {node.lineno}: import from {node.module} (use qgis.PyQt)")
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr == "exec_":
            found.append(f"line {node.lineno}: exec_ (use exec)")
        if isinstance(node.value, ast.Name):
            owner = getattr(module, node.value.id, None)
            member = getattr(owner, node.attr, None)
            if isinstance(owner, type) and not is_enum_type(owner) and is_enum_member(member):
                name, scope = node.value.id, type(member).__name__
                found.append(f"line {node.lineno}: {name}.{node.attr} (use {name}.{scope}.{node.attr})")
    return found


@pytest.mark.parametrize("name", MODULES)
def test_enums_are_scoped_and_pyqt_comes_through_qgis(name):
    module = importlib.import_module(f"mapseg.{name}")
    assert problems(module) == []


def test_the_check_sees_what_pyqt6_refuses(tmp_path):
    source = tmp_path / "qt5_only.py"
    source.write_text(
        "from qgis.PyQt.QtCore import Qt\n"
        "from qgis.core import Qgis\n"
        "from PyQt5.QtWidgets import QDialog\n"
        "AREA = Qt.RightDockWidgetArea\n"
        "LEVEL = Qgis.Critical\n"
        "SCOPED = Qt.DockWidgetArea.RightDockWidgetArea\n"
        "def run(dialog):\n"
        "    return dialog.exec_()\n")
    spec = importlib.util.spec_from_file_location("qt5_only", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert [line.split(":")[0] for line in sorted(problems(module))] == [
        "line 3", "line 4", "line 5", "line 8"]


def test_webengine_classes_come_from_the_binding_qgis_runs_on():
    from mapseg import webengine

    assert webengine.BINDING in ("PyQt5", "PyQt6")
    assert webengine.AVAILABLE, webengine.MISSING_REASON
    for cls in (webengine.QWebEngineView, webengine.QWebEnginePage, webengine.QWebEngineProfile,
                webengine.QWebEngineScript, webengine.QWebChannel):
        assert cls.__module__.startswith(webengine.BINDING + "."), cls
    assert "QWebChannel" in webengine.qwebchannel_js()
    with pytest.raises(ImportError):
        webengine._find("NoSuchClass", "QtCore")
