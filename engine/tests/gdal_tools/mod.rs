//! GDAL as the independent judge of written files: its command-line programs (gdal-bin) and its
//! cloud-optimised GeoTIFF validator (from python3-gdal, which gdal-bin depends on). Used by the
//! engine's COG tests and, through a `#[path]` module, by the CLI's end-to-end tests.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The validator's Python module.
const COG_VALIDATOR: &str = "osgeo_utils.samples.validate_cloud_optimized_geotiff";

/// Runs a GDAL program (package gdal-bin), which must succeed, and returns its standard output.
pub fn gdal(command: &mut Command) -> Vec<u8> {
    let program = command.get_program().to_string_lossy().into_owned();
    let out = command.output().unwrap_or_else(|e| {
        panic!(
            "{program} (package gdal-bin) must be installed: `cargo xtask test` installs it ({e})"
        )
    });
    assert!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `gdalinfo -json` of `path` with more `options`.
pub fn gdalinfo_with(path: &Path, options: &[&str]) -> Value {
    let json = gdal(
        Command::new("gdalinfo")
            .arg("-json")
            .args(options)
            .arg(path),
    );
    serde_json::from_slice(&json).expect("gdalinfo -json prints JSON")
}

/// `gdalinfo -json -mdd all`: the description with every metadata domain.
pub fn gdalinfo(path: &Path) -> Value {
    gdalinfo_with(path, &["-mdd", "all"])
}

/// The pixels of `path` as GDAL reads them (`gdal_translate` to raw ENVI): full resolution
/// (`None`) or overview `index` (0 the largest).
pub fn gdal_pixels(path: &Path, overview: Option<usize>) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let raw = dir.path().join("level.img");
    let level = overview.map_or_else(|| "NONE".to_owned(), |i| i.to_string());
    gdal(
        Command::new("gdal_translate")
            .args(["-q", "-of", "ENVI", "-ovr", &level])
            .arg(path)
            .arg(&raw),
    );
    std::fs::read(raw).expect("gdal_translate wrote the pixels")
}

/// The Python interpreter that has GDAL's bindings (Debian's, when another `python3` comes
/// first on the PATH).
fn python_with_gdal() -> &'static str {
    ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|python| {
            Command::new(python)
                .args(["-c", &format!("import {COG_VALIDATOR}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("GDAL's COG validator needs python3-gdal (a dependency of gdal-bin)")
}

/// Runs GDAL's COG validator with the full check (tile leaders and trailers, row-major order):
/// no error and no warning.
pub fn assert_valid_cog(path: &Path) {
    let out = Command::new(python_with_gdal())
        .args(["-m", COG_VALIDATOR, "--full-check=yes"])
        .arg(path)
        .output()
        .expect("the COG validator runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("is a valid cloud optimized GeoTIFF"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("warning"), "{text}");
}
