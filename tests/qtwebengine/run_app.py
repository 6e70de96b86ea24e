#!/usr/bin/python3
"""Loads the built web app in QtWebEngine 5.15 (Chromium 87, the engine of QGIS's web panel on Debian 12),
runs the sample and waits for a result.

Usage: xvfb-run -a /usr/bin/python3 tests/qtwebengine/run_app.py DIST
Prints the user agent and PASS (exit 0), or FAIL with the page's console log (exit 1).
"""

import functools
import http.server
import os
import sys
import threading
import time

TIMEOUT_S = float(os.environ.get("MAPSEG_QT_TIMEOUT_S", "180"))
READY_TIMEOUT_S = 60.0
POLL_MS = 250

# The app must start in Chromium 87 with no feature flags (the wasm is built without reference
# types); the only flag is the sandbox switch Chromium needs when it runs as root.
CHROMIUM_FLAGS = []
if os.geteuid() == 0:
    CHROMIUM_FLAGS.append("--no-sandbox")


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".js": "text/javascript",
        ".mjs": "text/javascript",
    }

    def log_message(self, *args):
        pass


def serve(dist):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=dist))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def main():
    if len(sys.argv) != 2 or not os.path.isfile(os.path.join(sys.argv[1], "index.html")):
        print("usage: run_app.py DIST (a directory with index.html)", file=sys.stderr)
        return 2
    os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = " ".join(
        filter(None, [os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", ""), *CHROMIUM_FLAGS]))

    from PyQt5.QtCore import QTimer, QUrl
    from PyQt5.QtWidgets import QApplication
    from PyQt5.QtWebEngineWidgets import QWebEnginePage, QWebEngineView

    server, url = serve(os.path.abspath(sys.argv[1]))
    log = []

    class Page(QWebEnginePage):
        def javaScriptConsoleMessage(self, level, message, line, source):
            log.append(f"[console {level}] {message} ({source}:{line})")

    app = QApplication(sys.argv[:1])
    view = QWebEngineView()
    page = Page(view)
    view.setPage(page)
    view.resize(1280, 860)
    view.show()  # a hidden page gets throttled timers
    state = {"phase": "loading", "since": time.monotonic(), "ok": False, "ua": "", "elapsed": None}

    def finish(ok, reason=""):
        if "reason" in state:
            return
        state["ok"] = ok
        state["reason"] = reason
        app.quit()

    def js(code, callback=lambda _: None):
        page.runJavaScript(code, callback)

    def on_state(value):
        now = time.monotonic()
        phase = state["phase"]
        if isinstance(value, str) and value.startswith("error:"):
            finish(False, f"the app shows an error: {value[len('error:'):].strip()}")
        elif phase == "loading":
            if value == "ready":
                state.update(phase="sample", since=now)
                js("document.querySelector('[data-testid=try-sample]').click()")
            elif now - state["since"] > READY_TIMEOUT_S:
                finish(False, f"body[data-ready] not set within {READY_TIMEOUT_S:.0f} s")
        elif phase == "sample":
            if value == "loaded":
                state.update(phase="run", since=now)
                js("document.querySelector('[data-testid=run]').click()")
            elif now - state["since"] > READY_TIMEOUT_S:
                finish(False, "the sample did not load")
        elif phase == "run":
            if isinstance(value, str) and value.startswith("result:"):
                state["elapsed"] = value.split(":", 1)[1]
                finish(True)
            elif now - state["since"] > TIMEOUT_S:
                finish(False, f"no result-ready within {TIMEOUT_S:.0f} s")

    probe = """(() => {
      const q = (id) => document.querySelector('[data-testid="' + id + '"]');
      if (q('error')) return 'error:' + q('error').textContent;
      const r = q('result-ready');
      if (r) return 'result:' + r.getAttribute('data-elapsed-ms');
      const dims = q('file-dimensions');
      if (dims && dims.textContent.indexOf('400 \\u00d7 400') >= 0) return 'loaded';
      return document.body && document.body.dataset.ready === '1' ? 'ready' : 'starting';
    })()"""

    timer = QTimer()
    timer.timeout.connect(lambda: js(probe, on_state))
    timer.start(POLL_MS)
    page.loadFinished.connect(lambda _ok: js("navigator.userAgent", lambda ua: state.update(ua=ua or "")))
    view.load(QUrl(url))
    app.exec_()
    server.shutdown()

    print(f"user agent: {state['ua']}")
    if state["ok"] and "Chrome/87" not in state["ua"]:
        state.update(ok=False, reason="the user agent is not Chrome/87")
    if state["ok"]:
        print(f"result-ready data-elapsed-ms={state['elapsed']}")
        print("PASS  QtWebEngine 5.15: sample runs to a result")
        return 0
    print(f"FAIL  QtWebEngine 5.15: {state.get('reason', 'unknown')} (phase {state['phase']})")
    for line in log:
        print(f"      | {line}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
