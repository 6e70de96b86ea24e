//! Browser tests of the web app: the Playwright suite (headless Debian Chromium) and a start-up run in
//! QtWebEngine 5.15 (Chromium 87, the web view of QGIS on Debian 12), both against one release build of `dist/`.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context as _, Result};

use crate::cmd::{Cmd, repo_root, target_dir};
use crate::install::ensure_npm_deps;
use crate::test::Step;
use crate::web::build_dist;

/// Debian packages the browser tests need.
pub const APT_PACKAGES: &[&str] = &["chromium", "xvfb", "python3-pyqt5.qtwebengine"];

const E2E_DIR: &str = "tests/e2e";
const QT_SCRIPT: &str = "tests/qtwebengine/run_app.py";

/// Installs the npm packages of the Playwright suite (the Debian packages come with the other ones).
pub fn ensure_tools() -> Result<()> {
    ensure_npm_deps(&repo_root().join(E2E_DIR))
}

/// Where screenshots and failure captures go: `mapseg-e2e` next to the cargo target dir.
pub fn artifacts_dir() -> Result<PathBuf> {
    let target = target_dir()?;
    let parent = target.parent().unwrap_or(&target);
    Ok(parent.join("mapseg-e2e"))
}

/// Builds `dist/` once, then runs both browser suites against it, packages the QGIS plugin with
/// it and runs the plugin in a real QGIS.
pub fn steps() -> Vec<Step> {
    let dist: Rc<OnceCell<PathBuf>> = Rc::default();
    let (built, for_chromium, for_qt) = (Rc::clone(&dist), Rc::clone(&dist), Rc::clone(&dist));
    let plugin_zip: Rc<OnceCell<PathBuf>> = Rc::default();
    let for_qgis = Rc::clone(&plugin_zip);
    vec![
        Step::new("web build (dist, release)", move || {
            let path = build_dist(true)?;
            built.get_or_init(|| path);
            Ok(())
        }),
        Step::new("browser tests (Chromium, Playwright)", move || {
            run_playwright(built_dist(&for_chromium)?)
        }),
        Step::new(
            "browser test (QtWebEngine 5.15, through the plugin's server)",
            move || run_qtwebengine(built_dist(&for_qt)?),
        ),
        Step::new("QGIS plugin package", move || {
            let zip = crate::qgis::package(built_dist(&dist)?, &crate::qgis::default_out_dir())?;
            plugin_zip.get_or_init(|| zip);
            Ok(())
        }),
        Step::new("QGIS end-to-end (real QGIS under Xvfb)", move || {
            let zip = for_qgis.get().context("the plugin was not packaged")?;
            crate::qgis::run_e2e(zip)
        }),
    ]
}

fn built_dist(dist: &OnceCell<PathBuf>) -> Result<&Path> {
    dist.get()
        .map(PathBuf::as_path)
        .context("dist was not built")
}

fn run_playwright(dist: &Path) -> Result<()> {
    Cmd::new("node")?
        .arg(Path::new(E2E_DIR).join("run.mjs"))
        .arg(dist)
        .env("MAPSEG_ARTIFACTS", artifacts_dir()?)
        .run()
}

fn run_qtwebengine(dist: &Path) -> Result<()> {
    Cmd::new("xvfb-run")?
        .args(["-a", "/usr/bin/python3", QT_SCRIPT])
        .arg(dist)
        .run()
}
