"""Mapseg for QGIS: the Mapseg web app in a panel, with layers handed to it and results back as styled layers.

Pure Python on what QGIS ships; the app is the same static build as the web version, served
from a loopback server (see ``server.py``).
"""


def classFactory(iface):  # noqa: N802 — the name QGIS looks for
    from .plugin import MapsegPlugin

    return MapsegPlugin(iface)
