"""The loopback HTTP server that serves the bundled app to the panel (and to the system browser).

It binds 127.0.0.1 on a free port and answers only requests whose path starts with a random
per-start token (``/<token>/…``) and whose ``Host`` header names this server (no DNS
rebinding). Under the token it serves the app's static files (never a path outside the app's
folder) and the raster files the plugin published for the app to fetch (``raster/<id>/<name>``).

QtWebEngine 5.15 (Chromium 87) does not know the ``'wasm-unsafe-eval'`` source of the app's
Content-Security-Policy and needs ``'unsafe-eval'`` to compile WebAssembly: for browsers older
than Chromium 97 the served ``index.html`` has ``'unsafe-eval'`` in its place (an unknown source would
only add a console warning); every other browser gets the strict policy as built.

Standard library only: the tests import it without QGIS.
"""

import hmac
import os
import re
import secrets
import shutil
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The first Chromium that knows 'wasm-unsafe-eval'.
WASM_UNSAFE_EVAL_SINCE = 97

_CHROME_MAJOR = re.compile(r"\bChrome/(\d+)\.")
_SCRIPT_SRC = re.compile(r"(script-src\b[^;\"]*?)'wasm-unsafe-eval'")

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".bpk": "application/octet-stream",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}

COPY_CHUNK = 1 << 20
# Seconds a connection may stay silent (a client that never sends its request holds no thread for long).
IDLE_TIMEOUT_S = 60


class ServerError(Exception):
    """The server cannot start or cannot serve what was asked."""


def needs_unsafe_eval(user_agent):
    """Whether a browser with this User-Agent needs 'unsafe-eval' to compile WebAssembly."""
    match = _CHROME_MAJOR.search(user_agent or "")
    return bool(match) and int(match.group(1)) < WASM_UNSAFE_EVAL_SINCE


def relax_policy(html):
    """``index.html`` with ``'unsafe-eval'`` where its CSP's ``script-src`` has ``'wasm-unsafe-eval'``."""
    return _SCRIPT_SRC.sub(r"\1'unsafe-eval'", html, count=1)


def resolve_static(root, relative):
    """The file under ``root`` for a URL path relative to it, or ``None``.

    ``relative`` is percent-decoded; any ``..``, absolute part, backslash or NUL is refused, and
    so is a path that leaves ``root`` through a symbolic link. A folder gives its ``index.html``.
    """
    try:
        decoded = urllib.parse.unquote(relative, errors="strict")
    except UnicodeDecodeError:
        return None
    if "\\" in decoded or "\0" in decoded:
        return None
    parts = [p for p in decoded.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    root = os.path.realpath(root)
    path = os.path.join(root, *parts)
    if os.path.isdir(path):
        path = os.path.join(path, "index.html")
    path = os.path.realpath(path)  # the file itself may be a link too
    if not path.startswith(root + os.sep):
        return None
    return path if os.path.isfile(path) else None


class AppServer:
    """Serves ``app_dir`` on ``http://127.0.0.1:<port>/<token>/`` until :meth:`stop`."""

    def __init__(self, app_dir):
        if not os.path.isfile(os.path.join(app_dir, "index.html")):
            raise ServerError(f"the app is missing: {app_dir} has no index.html")
        self.app_dir = os.path.realpath(app_dir)
        self.token = secrets.token_urlsafe(24)
        self._rasters = {}
        self._lock = threading.Lock()
        self._httpd = None
        self._thread = None

    @property
    def port(self):
        if self._httpd is None:
            raise ServerError("the server is not running")
        return self._httpd.server_address[1]

    @property
    def url(self):
        """The app's address, token included (ends with ``/``)."""
        return f"http://127.0.0.1:{self.port}/{self.token}/"

    def start(self):
        if self._httpd is not None:
            return self.url
        try:
            self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        except OSError as error:
            raise ServerError(f"cannot listen on 127.0.0.1: {error}") from error
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="mapseg-app-server", daemon=True)
        self._thread.start()
        return self.url

    def stop(self):
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def publish(self, path):
        """Makes a raster file fetchable by the app; returns its URL (token included)."""
        if not os.path.isfile(path):
            raise ServerError(f"no such file: {path}")
        key = secrets.token_urlsafe(12)
        with self._lock:
            self._rasters[key] = os.path.realpath(path)
        name = urllib.parse.quote(os.path.basename(path))
        return f"{self.url}raster/{key}/{name}"

    def published(self, key):
        with self._lock:
            return self._rasters.get(key)

    def _handler_class(self):
        server = self

        class Handler(_Handler):
            app = server

        return Handler


class _Handler(BaseHTTPRequestHandler):
    app = None  # the AppServer, set by AppServer._handler_class
    server_version = "mapseg"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._answer(send_body=True)

    def do_HEAD(self):
        self._answer(send_body=False)

    def _refuse(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _do_other(self):
        self._refuse(405, "method not allowed")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _do_other

    def _answer(self, send_body):
        if not self._host_allowed():
            return self._refuse(403, "forbidden")
        path = urllib.parse.urlsplit(self.path).path
        prefix = f"/{self.app.token}"
        token_part, _, rest = path[1:].partition("/")
        if not hmac.compare_digest(f"/{token_part}".encode(), prefix.encode()):
            return self._refuse(403, "forbidden")
        if path == prefix:
            self.send_response(301)
            self.send_header("Location", prefix + "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if rest.startswith("raster/"):
            file = self.app.published(rest.split("/")[1])
            if file is None:
                return self._refuse(404, "not found")
            return self._send_file(file, "image/tiff", send_body)
        file = resolve_static(self.app.app_dir, rest)
        if file is None:
            return self._refuse(404, "not found")
        mime = MIME_TYPES.get(os.path.splitext(file)[1].lower(), "application/octet-stream")
        if os.path.basename(file) == "index.html":
            return self._send_index(file, mime, send_body)
        return self._send_file(file, mime, send_body)

    def _host_allowed(self):
        host = self.headers.get("Host", "")
        port = self.server.server_address[1]
        return host in (f"127.0.0.1:{port}", f"localhost:{port}")

    def _headers(self, mime, length):
        self.send_response(200)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()

    def _send_index(self, file, mime, send_body):
        with open(file, encoding="utf-8") as f:
            html = f.read()
        if needs_unsafe_eval(self.headers.get("User-Agent")):
            html = relax_policy(html)
        body = html.encode("utf-8")
        self._headers(mime, len(body))
        if send_body:
            self.wfile.write(body)

    def _send_file(self, file, mime, send_body):
        try:
            f = open(file, "rb")
        except OSError:
            return self._refuse(404, "not found")
        with f:
            self._headers(mime, os.fstat(f.fileno()).st_size)
            if send_body:
                try:
                    shutil.copyfileobj(f, self.wfile, COPY_CHUNK)
                except OSError:  # the client left, or went silent past the timeout
                    pass
        return None
