//! The QGIS plugin: `cargo xtask package-qgis` (an installable zip with the release build of the
//! app inside) and the test steps (pytest of the plugin's Python, then an end-to-end run in a
//! real QGIS under Xvfb, installed from that zip).

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use zip::write::FileOptions;

use crate::cmd::{Cmd, note, repo_root};

/// Debian packages of the plugin's tests: QGIS with its Python bindings, and pytest.
pub const APT_PACKAGES: &[&str] = &["qgis", "python3-qgis", "python3-pytest"];

/// The plugin's folder name (QGIS's plugin id) inside the zip and in a profile.
const PLUGIN_ID: &str = "mapseg";
const PLUGIN_SRC: &str = "qgis-plugin/mapseg";
const PLUGIN_TESTS: &str = "qgis-plugin/tests";
const E2E_SCRIPT: &str = "qgis-plugin/tests/e2e/run_qgis.py";
/// The raster the end-to-end test sends (a real NEON orthophoto, EPSG:32617).
const E2E_RASTER: &str = "tests/fixtures/real/OSBS_029.tif";

/// Where the zip goes unless `--out` says otherwise.
pub fn default_out_dir() -> PathBuf {
    repo_root().join("qgis-plugin").join("dist")
}

/// Writes `<out>/mapseg-<version>.zip` from the plugin's sources and the built app in `dist`;
/// returns the zip's path.
pub fn package(dist: &Path, out: &Path) -> Result<PathBuf> {
    let version = env!("CARGO_PKG_VERSION");
    let src = repo_root().join(PLUGIN_SRC);
    check_metadata_version(&src, version)?;
    if !dist.join("index.html").is_file() {
        bail!("{} has no index.html: build the app first", dist.display());
    }
    std::fs::create_dir_all(out)?;
    let zip_path = out.join(format!("{PLUGIN_ID}-{version}.zip"));
    let part = zip_path.with_extension("zip.part");
    let mut zip = zip::ZipWriter::new(
        File::create(&part).with_context(|| format!("cannot create {}", part.display()))?,
    );
    let mut count = 0usize;
    for (file, name) in files_under(&src)?
        .into_iter()
        .filter(|(_, name)| is_plugin_file(name))
    {
        add_file(&mut zip, &file, &format!("{PLUGIN_ID}/{name}"))?;
        count += 1;
    }
    for (file, name) in files_under(dist)? {
        add_file(&mut zip, &file, &format!("{PLUGIN_ID}/app/{name}"))?;
        count += 1;
    }
    zip.finish()?;
    std::fs::rename(&part, &zip_path)?;
    note(&format!(
        "QGIS plugin: {} ({count} files, {:.1} MB)",
        zip_path.display(),
        std::fs::metadata(&zip_path)?.len() as f64 / 1e6
    ));
    Ok(zip_path)
}

/// `metadata.txt` must announce the workspace's version (what the plugin manager shows).
fn check_metadata_version(src: &Path, version: &str) -> Result<()> {
    let metadata = std::fs::read_to_string(src.join("metadata.txt"))
        .context("the plugin has no metadata.txt")?;
    let declared = metadata
        .lines()
        .find_map(|l| l.trim().strip_prefix("version="))
        .map(str::trim);
    if declared != Some(version) {
        bail!(
            "{PLUGIN_SRC}/metadata.txt says version={}, the workspace is {version}: update metadata.txt",
            declared.unwrap_or("(none)")
        );
    }
    Ok(())
}

/// Sources only: no bytecode caches, no app folder left by a development setup.
fn is_plugin_file(name: &str) -> bool {
    !name
        .split('/')
        .any(|part| part == "__pycache__" || part == "app")
        && !name.ends_with(".pyc")
}

/// Every file under `root` (sorted, so the zip's order is stable) with its `/`-separated relative name.
fn files_under(root: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path.strip_prefix(root)?;
                let name = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((path, name));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

fn add_file(zip: &mut zip::ZipWriter<File>, file: &Path, name: &str) -> Result<()> {
    let options = FileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    zip.start_file(name, options)?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    zip.write_all(&bytes)?;
    Ok(())
}

/// `cargo xtask package-qgis`: builds the release app unless `dist` is given, then the zip.
pub fn run(dist: Option<PathBuf>, out: Option<PathBuf>) -> Result<()> {
    let dist = match dist {
        Some(dist) => dist,
        None => crate::web::build_dist(true)?,
    };
    let zip = package(&dist, &out.unwrap_or_else(default_out_dir))?;
    println!("{}", zip.display());
    println!(
        "Install it in QGIS with Plugins ▸ Manage and Install Plugins ▸ Install from ZIP, then \
         Raster ▸ Mapseg ▸ Mapseg panel."
    );
    Ok(())
}

/// The plugin's Python tests (server, messages, layers with a headless QGIS).
pub fn run_pytest() -> Result<()> {
    let status = Cmd::new("/usr/bin/python3")?
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", PLUGIN_TESTS])
        .env("QT_QPA_PLATFORM", "offscreen")
        .run();
    status.context("the QGIS plugin's Python tests failed")
}

/// The end-to-end test: QGIS under Xvfb with the plugin installed from `zip` into a fresh
/// profile sends a real GeoTIFF to the panel, runs K-Means there and checks the new layer.
pub fn run_e2e(zip: &Path) -> Result<()> {
    let artifacts = crate::e2e::artifacts_dir()?;
    std::fs::create_dir_all(&artifacts)?;
    Cmd::new("xvfb-run")?
        .args([
            "-a",
            "-s",
            "-screen 0 1600x1000x24",
            "/usr/bin/python3",
            E2E_SCRIPT,
        ])
        .arg("--zip")
        .arg(zip)
        .arg("--raster")
        .arg(repo_root().join(E2E_RASTER))
        .arg("--screenshot")
        .arg(artifacts.join("qgis-panel.png"))
        .run()
        .context("the QGIS end-to-end test failed")
}
