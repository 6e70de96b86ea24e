#!/usr/bin/python3
"""Loads the built web app in QtWebEngine 5.15 (Chromium 87, the engine of QGIS's web panel on Debian 12),
runs the sample with K-Means and then with the CNN (on the CPU path: Chromium 87 has no WebGPU) and waits
for each result.

The app is served by the QGIS plugin's own loopback server (qgis-plugin/mapseg/server.py), as in
the plugin's panel: the public build's page policy allows only 'wasm-unsafe-eval', which
Chromium 87 does not know, and that server gives such browsers the 'unsafe-eval' they need.

Usage: xvfb-run -a /usr/bin/python3 tests/qtwebengine/run_app.py DIST
Prints the user agent and PASS (exit 0), or FAIL with the page's console log (exit 1).
"""

import os
import sys
import time

TIMEOUT_S = float(os.environ.get("MAPSEG_QT_TIMEOUT_S", "180"))
READY_TIMEOUT_S = 60.0
POLL_MS = 250
# (method, URL query) of each run, in order.
RUNS = [("K-Means", "kmeans", ""), ("CNN", "cnn", "?method=cnn&k=6")]
CPU_BACKEND = "CPU (WebAssembly)"

# The app must start in Chromium 87 with no feature flags (the wasm is built without reference
# types); the only flag is the sandbox switch Chromium needs when it runs as root.
CHROMIUM_FLAGS = []
if os.geteuid() == 0:
    CHROMIUM_FLAGS.append("--no-sandbox")


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "qgis-plugin"))
from mapseg.server import AppServer  # noqa: E402 — the plugin's package, found through the line above


def serve(dist):
    server = AppServer(dist)
    return server, server.start()


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
    state = {"phase": "loading", "since": time.monotonic(), "ok": False, "ua": "", "run": 0, "results": []}

    def finish(ok, reason=""):
        if "reason" in state:
            return
        state["ok"] = ok
        state["reason"] = reason
        app.quit()

    def js(code, callback=lambda _: None):
        page.runJavaScript(code, callback)

    def on_state(reply):
        now = time.monotonic()
        phase = state["phase"]
        value, _, method_name = (reply or "").partition("|")
        if method_name not in ("", RUNS[state["run"]][1]):
            return  # the previous run's page, before the next one loads
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
                elapsed, _, backend = value.split(":", 1)[1].partition(";")
                method = RUNS[state["run"]][0]
                if backend != CPU_BACKEND:
                    finish(False, f"{method} ran on {backend!r}, not on {CPU_BACKEND!r}")
                    return
                state["results"].append(f"{method}: result-ready data-elapsed-ms={elapsed} on {backend}")
                if state["run"] + 1 == len(RUNS):
                    finish(True)
                else:
                    state.update(phase="loading", since=now, run=state["run"] + 1)
                    view.load(QUrl(url + RUNS[state["run"]][2]))
            elif now - state["since"] > TIMEOUT_S:
                finish(False, f"no result-ready within {TIMEOUT_S:.0f} s")

    probe = """(() => {
      const q = (id) => document.querySelector('[data-testid="' + id + '"]');
      const state = (() => {
        if (q('error')) return 'error:' + q('error').textContent;
        const r = q('result-ready');
        if (r) return 'result:' + r.getAttribute('data-elapsed-ms') + ';' + (q('backend') ? q('backend').textContent.trim() : '');
        const dims = q('file-dimensions');
        if (dims && dims.textContent.indexOf('400 \\u00d7 400') >= 0) return 'loaded';
        return document.body && document.body.dataset.ready === '1' ? 'ready' : 'starting';
      })();
      return state + '|' + (q('method') ? q('method').value : '');
    })()"""

    timer = QTimer()
    timer.timeout.connect(lambda: js(probe, on_state))
    timer.start(POLL_MS)
    page.loadFinished.connect(lambda _ok: js("navigator.userAgent", lambda ua: state.update(ua=ua or "")))
    view.load(QUrl(url))
    app.exec_()
    server.stop()

    print(f"user agent: {state['ua']}")
    if state["ok"] and "Chrome/87" not in state["ua"]:
        state.update(ok=False, reason="the user agent is not Chrome/87")
    for line in state["results"]:
        print(line)
    if state["ok"]:
        print("PASS  QtWebEngine 5.15: the sample runs to a result with K-Means and with the CNN")
        return 0
    print(f"FAIL  QtWebEngine 5.15: {state.get('reason', 'unknown')} (phase {state['phase']})")
    for line in log:
        print(f"      | {line}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
