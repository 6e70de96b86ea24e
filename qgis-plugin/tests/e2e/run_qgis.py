#!/usr/bin/python3
"""End-to-end test of the plugin in a real QGIS: install the packaged plugin into a fresh profile,
start QGIS (``--code in_qgis.py`` drives it), and read the report it writes.

Usage (an X display is needed: run it under ``xvfb-run -a -s "-screen 0 1600x1000x24"``):
    /usr/bin/python3 run_qgis.py --zip mapseg-X.zip --raster scene.tif [--screenshot out.png]

Prints PASS with what was checked (exit 0) or FAIL with QGIS's output and the Mapseg log (exit 1).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_S = float(os.environ.get("MAPSEG_QGIS_TIMEOUT_S", "420"))


def install_plugin(zip_path, profile):
    """Unpacks the plugin zip as QGIS's plugin installer does, and enables it."""
    plugins = os.path.join(profile, "python", "plugins")
    os.makedirs(plugins)
    with zipfile.ZipFile(zip_path) as z:
        names = z.namelist()
        if not names or any(not n.startswith("mapseg/") for n in names):
            raise SystemExit(f"FAIL  {zip_path}: every entry must be under mapseg/ (the plugin repository's layout)")
        for required in ("mapseg/__init__.py", "mapseg/metadata.txt", "mapseg/app/index.html"):
            if required not in names:
                raise SystemExit(f"FAIL  {zip_path} has no {required}")
        z.extractall(plugins)
    settings = os.path.join(profile, "QGIS")
    os.makedirs(settings)
    with open(os.path.join(settings, "QGIS3.ini"), "w") as f:
        f.write("[PythonPlugins]\nmapseg=true\n\n[qgis]\ncheckVersion=false\n"
                "showTips=false\nallowVersionCheck=false\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", required=True)
    parser.add_argument("--raster", required=True)
    parser.add_argument("--screenshot")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="mapseg-qgis-e2e-")
    try:
        profiles = os.path.join(work, "profiles")
        install_plugin(args.zip, os.path.join(profiles, "profiles", "default"))
        project_dir = os.path.join(work, "project")
        os.makedirs(project_dir)
        report_path = os.path.join(work, "report.json")
        env = dict(os.environ)
        env.update({
            "MAPSEG_E2E_RASTER": os.path.abspath(args.raster),
            "MAPSEG_E2E_PROJECT_DIR": project_dir,
            "MAPSEG_E2E_REPORT": report_path,
            "MAPSEG_E2E_SCREENSHOT": os.path.abspath(args.screenshot) if args.screenshot else "",
        })
        if os.geteuid() == 0:  # Chromium refuses to start its sandbox as root
            env["QTWEBENGINE_CHROMIUM_FLAGS"] = (env.get("QTWEBENGINE_CHROMIUM_FLAGS", "") + " --no-sandbox").strip()
        command = ["qgis", "--nologo", "--noversioncheck", "--profiles-path", profiles,
                   "--code", os.path.join(HERE, "in_qgis.py")]
        started = time.monotonic()
        with open(os.path.join(work, "qgis.log"), "w") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                code = process.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                code = "timeout"
        elapsed = time.monotonic() - started
        report = {}
        if os.path.isfile(report_path):
            with open(report_path) as f:
                report = json.load(f)
        for line in report.get("checks", []):
            print(f"      ok: {line}")
        if report.get("ok"):
            print(f"PASS  QGIS {report.get('qgis')}: the plugin sent a GeoTIFF and an exported "
                  f"layer, K-Means and the CNN ran in the panel, their results are styled layers, and "
                  f"without QtWebEngine the app opens in the browser ({elapsed:.0f} s)")
            if args.screenshot and os.path.isfile(args.screenshot):
                print(f"      screenshot: {args.screenshot}")
            return 0
        reason = report.get("reason") or f"QGIS ended ({code}) without a report"
        print(f"FAIL  QGIS end-to-end: {reason}")
        for line in report.get("log", []):
            print(f"      | {line}")
        with open(os.path.join(work, "qgis.log"), errors="replace") as f:
            for line in f.read().splitlines()[-60:]:
                print(f"      qgis> {line}")
        return 1
    finally:
        if os.environ.get("MAPSEG_QGIS_KEEP"):
            print(f"      kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
