"""pytest set-up: the plugin package on the path, real fixtures, and one headless QGIS for the layer tests."""

import os
import sys

import pytest

PLUGIN_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(PLUGIN_ROOT)
FIXTURES = os.path.join(REPO, "tests", "fixtures", "real")
sys.path.insert(0, PLUGIN_ROOT)


@pytest.fixture(scope="session")
def osbs():
    """A real RGB orthophoto GeoTIFF (NEON OSBS, EPSG:32617, 400 × 400)."""
    return os.path.join(FIXTURES, "OSBS_029.tif")


@pytest.fixture(scope="session")
def qgis_app():
    """A headless QgsApplication (offscreen Qt platform), started once."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    yield app
    app.exitQgis()
