"""Message handling between the plugin and the app (the Session the panel feeds)."""

import base64
import json

from mapseg import protocol
from mapseg.session import Session


class Recorder:
    def __init__(self):
        self.sent, self.results, self.errors = [], [], []
        self.session = Session(self.sent.append, lambda r, layer: self.results.append((r, layer)),
                               self.errors.append)


def result_text(name):
    return json.dumps({
        "type": "result", "name": name, "geotiff_base64": base64.b64encode(b"II*\0rest").decode(),
        "legend": [{"name": "a", "colour": [1, 2, 3]}], "stats": [], "manifest": "{}",
    })


def test_a_raster_waits_for_ready_and_only_the_latest_is_sent():
    r = Recorder()
    r.session.open(protocol.open_url("a.tif", "u1"), "a.tif", "layer-a")
    r.session.open(protocol.open_url("b.tif", "u2"), "b.tif", "layer-b")
    assert r.sent == []
    r.session.receive('{"type": "ready"}')
    assert [json.loads(m)["url"] for m in r.sent] == ["u2"]
    r.session.open(protocol.open_url("c.tif", "u3"), "c.tif", "layer-c")
    assert json.loads(r.sent[-1])["url"] == "u3"


def test_a_reload_holds_messages_until_ready_again():
    r = Recorder()
    r.session.receive('{"type": "ready"}')
    r.session.reset()
    assert not r.session.ready
    r.session.open(protocol.open_url("a.tif", "u1"), "a.tif", "layer-a")
    assert r.sent == []
    r.session.receive('{"type": "ready"}')
    assert len(r.sent) == 1


def test_results_are_matched_to_the_layer_that_was_sent():
    r = Recorder()
    r.session.receive('{"type": "ready"}')
    r.session.open(protocol.open_url("a.tif", "u"), "a.tif", "layer-a")
    r.session.receive(result_text("a.tif"))
    r.session.receive(result_text("dropped-by-the-user.tif"))
    assert [(res.name, layer) for res, layer in r.results] == [
        ("a.tif", "layer-a"), ("dropped-by-the-user.tif", None)]
    assert r.errors == []


def test_errors_reach_the_user():
    r = Recorder()
    r.session.receive('{"type": "error", "message": "the file is not a GeoTIFF"}')
    r.session.receive("{broken")
    assert r.errors[0] == "the file is not a GeoTIFF"
    assert "not JSON" in r.errors[1]
    assert r.results == []
