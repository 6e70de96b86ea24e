"""The embedding contract's messages as the plugin reads and writes them."""

import base64
import json

import pytest

from mapseg import protocol

TIFF = b"II*\0" + bytes(60)
MANIFEST = json.dumps({"format_version": 2, "method": {"name": "kmeans", "params": {"k": 2}}})


def result(**changes):
    message = {
        "type": "result",
        "name": "scene.tif",
        "geotiff_base64": base64.b64encode(TIFF).decode(),
        "legend": [{"name": "water", "colour": [0, 0, 255]}, {"name": "forest", "colour": [0, 128, 0]}],
        "stats": [{"class": 0, "name": "water", "pixels": 10, "area_m2": 10.0, "area_ha": 0.001, "percent": 50.0}],
        "manifest": MANIFEST,
    }
    message.update(changes)
    return json.dumps(message)


def test_open_messages():
    by_url = json.loads(protocol.open_url("a b.tif", "http://127.0.0.1:1/t/raster/k/a%20b.tif"))
    assert by_url == {"type": "open", "name": "a b.tif", "url": "http://127.0.0.1:1/t/raster/k/a%20b.tif",
                      "autorun": False}
    inline = json.loads(protocol.open_bytes("x.tif", b"\x00\xff", autorun=True))
    assert inline["base64"] == "AP8=" and inline["autorun"] is True and "url" not in inline


def test_ready_error_and_unknown():
    assert protocol.parse('{"type": "ready"}') == protocol.Ready()
    assert protocol.parse('{"type": "error", "message": "bad file"}') == protocol.Failure("bad file")
    assert protocol.parse('{"type": "progress", "fraction": 0.5}') is None


def test_result():
    r = protocol.parse(result())
    assert r.name == "scene.tif" and r.geotiff == TIFF
    assert r.legend == [protocol.LegendEntry("water", (0, 0, 255)), protocol.LegendEntry("forest", (0, 128, 0))]
    assert r.stats[0]["pixels"] == 10
    assert r.method_name == "kmeans" and r.k == 2


@pytest.mark.parametrize("text, problem", [
    ("not json", "not JSON"),
    ("[1, 2]", "without a type"),
    ('{"type": 3}', "without a type"),
    (result(name=""), "no name"),
    (result(geotiff_base64=None), "no GeoTIFF"),
    (result(geotiff_base64="***"), "not valid base64"),
    (result(geotiff_base64=base64.b64encode(b"PK\3\4....").decode()), "not a TIFF"),
    (result(legend=[]), "empty legend"),
    (result(legend=[{"name": "a", "colour": [0, 0]}]), "legend entry 0"),
    (result(legend=[{"name": "a", "colour": [0, 0, 256]}]), "legend entry 0"),
    (result(legend=[{"colour": [0, 0, 0]}]), "legend entry 0 has no name"),
    (result(stats="none"), "no stats list"),
    (result(stats=[1]), "not a list of rows"),
    (result(manifest=None), "no manifest"),
    (result(manifest="{"), "manifest is not JSON"),
])
def test_bad_messages_are_named(text, problem):
    with pytest.raises(protocol.ProtocolError, match=problem):
        protocol.parse(text)


def test_hostile_messages_are_errors_not_crashes():
    with pytest.raises(protocol.ProtocolError, match="not JSON"):
        protocol.parse("[" * 100000)
    with pytest.raises(protocol.ProtocolError, match="manifest is not JSON"):
        protocol.parse(result(manifest="[" * 100000))


def test_k_is_an_integer_or_nothing():
    for k, expected in ((6, 6), ("/../../escape", None), (True, None), (2.5, None)):
        manifest = json.dumps({"method": {"name": "kmeans", "params": {"k": k}}})
        assert protocol.parse(result(manifest=manifest)).k == expected
