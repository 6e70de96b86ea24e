"""The app's embedding contract as the plugin speaks it over the ``QWebChannel`` bridge.

Every message is the JSON text of one object (README, "Embedding contract"):

- plugin → app: ``{"type": "open", "name", "url" | "base64", "autorun"}``;
- app → plugin: ``{"type": "ready"}``, ``{"type": "error", "message"}`` and
  ``{"type": "result", "name", "geotiff_base64", "legend", "stats", "manifest"}``.

Standard library only: the tests import it without QGIS.
"""

import base64
import binascii
import json
from dataclasses import dataclass, field


class ProtocolError(Exception):
    """A message from the app that does not follow the contract."""


@dataclass(frozen=True)
class LegendEntry:
    name: str
    colour: tuple  # (r, g, b), 0–255


@dataclass(frozen=True)
class Result:
    """A finished run, as the app sends it."""

    name: str
    geotiff: bytes
    legend: list
    stats: list
    manifest: str
    method: dict = field(default_factory=dict)

    @property
    def method_name(self):
        return str(self.method.get("name", "segments"))

    @property
    def k(self):
        """The run's number of classes, or ``None`` when the manifest has no integer ``k``."""
        params = self.method.get("params")
        k = params.get("k") if isinstance(params, dict) else None
        return k if isinstance(k, int) and not isinstance(k, bool) else None


@dataclass(frozen=True)
class Ready:
    pass


@dataclass(frozen=True)
class Failure:
    message: str


def open_url(name, url, autorun=False):
    """The ``open`` message for a raster the app fetches from ``url``."""
    return json.dumps({"type": "open", "name": name, "url": url, "autorun": bool(autorun)})


def open_bytes(name, data, autorun=False):
    """The ``open`` message carrying the raster itself (base64), for an app the plugin does not serve."""
    encoded = base64.b64encode(data).decode("ascii")
    return json.dumps({"type": "open", "name": name, "base64": encoded, "autorun": bool(autorun)})


def parse(text):
    """One message from the app: :class:`Ready`, :class:`Failure` or :class:`Result`.

    Raises :class:`ProtocolError` naming what is wrong; returns ``None`` for a message type
    this plugin does not know (a newer app may send more).
    """
    try:
        message = json.loads(text)
    except (TypeError, ValueError, RecursionError) as error:
        raise ProtocolError(f"the app sent a message that is not JSON: {error}") from error
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("the app sent a message without a type")
    kind = message["type"]
    if kind == "ready":
        return Ready()
    if kind == "error":
        return Failure(str(message.get("message") or "the app reported an error"))
    if kind == "result":
        return _result(message)
    return None


def _result(message):
    name = message.get("name")
    if not isinstance(name, str) or not name:
        raise ProtocolError("the app's result has no name")
    encoded = message.get("geotiff_base64")
    if not isinstance(encoded, str):
        raise ProtocolError("the app's result has no GeoTIFF (geotiff_base64)")
    try:
        geotiff = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ProtocolError(f"the app's GeoTIFF is not valid base64: {error}") from error
    if geotiff[:4] not in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        raise ProtocolError("the app's result is not a TIFF file")
    legend = [_legend_entry(i, e) for i, e in enumerate(_list(message, "legend"))]
    if not legend:
        raise ProtocolError("the app's result has an empty legend")
    stats = _list(message, "stats")
    if not all(isinstance(row, dict) for row in stats):
        raise ProtocolError("the app's statistics are not a list of rows")
    manifest = message.get("manifest")
    if not isinstance(manifest, str):
        raise ProtocolError("the app's result has no manifest")
    try:
        parsed = json.loads(manifest)
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"the app's manifest is not JSON: {error}") from error
    method = parsed.get("method") if isinstance(parsed, dict) else None
    return Result(name, geotiff, legend, stats, manifest, method if isinstance(method, dict) else {})


def _list(message, key):
    value = message.get(key)
    if not isinstance(value, list):
        raise ProtocolError(f"the app's result has no {key} list")
    return value


def _legend_entry(index, entry):
    if not isinstance(entry, dict):
        raise ProtocolError(f"legend entry {index} is not an object")
    name = entry.get("name")
    colour = entry.get("colour")
    if not isinstance(name, str):
        raise ProtocolError(f"legend entry {index} has no name")
    if (not isinstance(colour, list) or len(colour) != 3
            or not all(isinstance(c, int) and 0 <= c <= 255 for c in colour)):
        raise ProtocolError(f"legend entry {index} has no [r, g, b] colour of 0–255 integers")
    return LegendEntry(name, tuple(colour))
