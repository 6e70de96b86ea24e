"""The loopback server: token, Host check, no way out of the app folder, CSP by browser, rasters."""

import http.client
import os

import pytest

from mapseg.server import AppServer, ServerError, needs_unsafe_eval, relax_policy, resolve_static

STRICT = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; object-src 'none'"
INDEX = f'<!doctype html><meta http-equiv="Content-Security-Policy" content="{STRICT}"><p>app</p>'
CHROME_87 = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "QtWebEngine/5.15.13 Chrome/87.0.4280.144 Safari/537.36")
CHROME_156 = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"


@pytest.fixture
def tree(tmp_path):
    app = tmp_path / "app"
    (app / "sub").mkdir(parents=True)
    (app / "index.html").write_text(INDEX)
    (app / "web.js").write_text("console.log(1)")
    (app / "sub" / "index.html").write_text(INDEX)
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", app / "link.txt")
    return tmp_path


@pytest.fixture
def server(tree):
    s = AppServer(str(tree / "app"))
    s.start()
    yield s
    s.stop()


def get(server, path, host=None, method="GET", ua=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Host": host or f"127.0.0.1:{server.port}"}
    if ua:
        headers["User-Agent"] = ua
    # skip_host: the Host header is ours; the path goes out exactly as written (no normalisation).
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), body


def test_serves_the_app_under_the_token_only(server):
    t = server.token
    assert server.url == f"http://127.0.0.1:{server.port}/{t}/"
    status, headers, body = get(server, f"/{t}/web.js")
    assert status == 200 and body == b"console.log(1)"
    assert headers["Content-Type"].startswith("text/javascript")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert get(server, f"/{t}/")[0] == 200
    assert get(server, "/web.js")[0] == 403
    assert get(server, "/")[0] == 403
    assert get(server, f"/{t[:-1]}/web.js")[0] == 403
    assert get(server, f"/{t}x/web.js")[0] == 403
    assert get(server, f"/{t}")[0] == 301


def test_a_new_start_has_a_new_token(tree):
    a, b = AppServer(str(tree / "app")), AppServer(str(tree / "app"))
    assert a.token != b.token and len(a.token) >= 32


@pytest.mark.parametrize("path", [
    "../secret.txt",
    "%2e%2e/secret.txt",
    "%2E%2E%2Fsecret.txt",
    "sub/../../secret.txt",
    "sub/%2e%2e/%2e%2e/secret.txt",
    "..%5csecret.txt",
    "%5c..%5csecret.txt",
    "link.txt",
    "%00index.html",
    "%ff",
])
def test_no_path_leaves_the_app_folder(server, path):
    status, _, body = get(server, f"/{server.token}/{path}")
    assert status == 404, path
    assert b"secret" not in body


def test_resolve_static_stays_inside(tree):
    root = str(tree / "app")
    assert resolve_static(root, "sub/") == os.path.join(os.path.realpath(root), "sub", "index.html")
    assert resolve_static(root, "/etc/passwd") is None
    assert resolve_static(root, "../secret.txt") is None


def test_other_hosts_are_refused(server):
    assert get(server, f"/{server.token}/web.js", host=f"attacker.example:{server.port}")[0] == 403
    assert get(server, f"/{server.token}/web.js", host="127.0.0.1")[0] == 403
    assert get(server, f"/{server.token}/web.js", host=f"localhost:{server.port}")[0] == 200


def test_only_reads_are_allowed(server):
    assert get(server, f"/{server.token}/web.js", method="POST")[0] == 405
    assert get(server, f"/{server.token}/web.js", method="DELETE")[0] == 405
    status, headers, body = get(server, f"/{server.token}/web.js", method="HEAD")
    assert status == 200 and body == b"" and headers["Content-Length"] == "14"


def test_old_chromium_gets_unsafe_eval_and_others_the_strict_policy(server):
    _, _, old = get(server, f"/{server.token}/", ua=CHROME_87)
    assert b"script-src 'self' 'unsafe-eval';" in old and b"wasm-unsafe-eval" not in old
    for ua in (CHROME_156, None, "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"):
        _, _, new = get(server, f"/{server.token}/index.html", ua=ua)
        assert new == INDEX.encode(), ua
        assert b"'unsafe-eval'" not in new


def test_policy_helpers():
    assert needs_unsafe_eval(CHROME_87)
    assert not needs_unsafe_eval(CHROME_156)
    assert not needs_unsafe_eval("")
    assert not needs_unsafe_eval(None)
    relaxed = relax_policy(INDEX)
    assert "script-src 'self' 'unsafe-eval';" in relaxed
    assert relaxed.count("unsafe-eval'") == 1
    assert relax_policy("<p>no policy</p>") == "<p>no policy</p>"


def test_published_rasters_only(server, osbs, tmp_path):
    url = server.publish(osbs)
    assert url.startswith(server.url + "raster/") and url.endswith("/OSBS_029.tif")
    path = url[len(f"http://127.0.0.1:{server.port}"):]
    status, headers, body = get(server, path)
    with open(osbs, "rb") as f:
        assert status == 200 and body == f.read()
    assert headers["Content-Type"] == "image/tiff"
    assert get(server, f"/{server.token}/raster/unknown/OSBS_029.tif")[0] == 404
    assert get(server, f"/{server.token}/raster/")[0] == 404
    with pytest.raises(ServerError, match="no such file"):
        server.publish(str(tmp_path / "missing.tif"))


def test_stop_closes_the_port(tree):
    s = AppServer(str(tree / "app"))
    s.start()
    port = s.port
    s.stop()
    with pytest.raises(OSError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/")


def test_no_app_no_server(tmp_path):
    with pytest.raises(ServerError, match="no index.html"):
        AppServer(str(tmp_path))


def test_a_folders_index_html_that_links_out_is_refused(server, tree):
    (tree / "app" / "linked").mkdir()
    os.symlink(tree / "secret.txt", tree / "app" / "linked" / "index.html")
    os.symlink(tree, tree / "app" / "outside")
    for path in ("linked/", "linked", "outside/", "outside/secret.txt"):
        status, _, body = get(server, f"/{server.token}/{path}")
        assert status == 404 and b"secret" not in body, path
    assert resolve_static(str(tree / "app"), "linked/") is None


def test_a_silent_client_is_dropped(server, monkeypatch):
    import socket

    from mapseg import server as module

    monkeypatch.setattr(module._Handler, "timeout", 0.5)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
        assert idle.recv(1) == b""  # closed by the server, not left waiting forever
    assert get(server, f"/{server.token}/web.js")[0] == 200
