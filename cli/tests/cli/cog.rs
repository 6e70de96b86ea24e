//! The label GeoTIFF of a real segmentation is a cloud-optimised GeoTIFF (GDAL's validator, from
//! python3-gdal, which gdal-bin depends on) whose overviews, as GDAL reads them, are the 2×2 modes
//! of the labels level by level.

use std::path::Path;
use std::process::Command;

use super::{gdalinfo, segment};

const NODATA: u8 = 255;

/// The Python interpreter that has GDAL's bindings (Debian's, when another `python3` comes
/// first on the PATH).
fn python_with_gdal() -> &'static str {
    ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|python| {
            Command::new(python)
                .args([
                    "-c",
                    "import osgeo_utils.samples.validate_cloud_optimized_geotiff",
                ])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("GDAL's COG validator needs python3-gdal (a dependency of gdal-bin)")
}

/// GDAL's COG validator with its full check (tile leaders, trailers and order): no error, no
/// warning.
pub fn assert_valid_cog(path: &Path) {
    let out = Command::new(python_with_gdal())
        .args([
            "-m",
            "osgeo_utils.samples.validate_cloud_optimized_geotiff",
            "--full-check=yes",
        ])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("is a valid cloud optimized GeoTIFF"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("warning"), "{text}");
}

/// The pixels of `path` as GDAL reads them: full resolution (`None`) or overview `index`.
fn gdal_pixels(path: &Path, overview: Option<usize>) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("level.img");
    let level = overview.map_or_else(|| "NONE".to_owned(), |i| i.to_string());
    let out = Command::new("gdal_translate")
        .args(["-q", "-of", "ENVI", "-ovr", &level])
        .arg(path)
        .arg(&raw)
        .output()
        .expect("gdal_translate (package gdal-bin) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(raw).unwrap()
}

/// Each pixel the most frequent non-nodata value of its 2×2 block (smaller at an odd edge), the
/// smallest on a tie, nodata only for a block of nodata.
fn mode_overview(src: &[u8], width: usize, height: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for y in 0..height.div_ceil(2) {
        for x in 0..width.div_ceil(2) {
            let mut votes = [0u32; 256];
            for (px, py) in [(2 * x, 2 * y), (2 * x + 1, 2 * y), (2 * x, 2 * y + 1)]
                .into_iter()
                .chain([(2 * x + 1, 2 * y + 1)])
            {
                if px < width && py < height && src[py * width + px] != NODATA {
                    votes[usize::from(src[py * width + px])] += 1;
                }
            }
            let best = (0..256).rev().max_by_key(|&c| votes[c]).unwrap();
            out.push(if votes[best] == 0 { NODATA } else { best as u8 });
        }
    }
    out
}

#[test]
fn the_label_geotiff_is_a_cog_with_mode_overviews() {
    let (_dir, out) = segment("sample_geotiff.tif", &["--k", "6", "--smooth", "0"]);
    assert_valid_cog(&out);
    let info = gdalinfo(&out);
    assert_eq!(info["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"], "COG");
    let band = &info["bands"][0];
    assert_eq!(
        band["overviews"],
        serde_json::json!([{"size": [450, 450]}, {"size": [225, 225]}])
    );
    let (mut w, mut h) = (900, 900);
    let mut labels = gdal_pixels(&out, None);
    assert_eq!(labels.len(), w * h);
    assert!(
        labels.iter().any(|&l| l != labels[0]),
        "a segmentation has several classes"
    );
    for index in 0..2 {
        labels = mode_overview(&labels, w, h);
        (w, h) = (w.div_ceil(2), h.div_ceil(2));
        assert_eq!(gdal_pixels(&out, Some(index)), labels, "overview {index}");
    }
}
