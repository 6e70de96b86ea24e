//! Quality floors: `mapseg segment` at its defaults (k = the number of classes), with K-Means and with the CNN, on
//! the real labelled scenes of
//! `tests/fixtures/labelled/`, scored against their reference labels with shard-tools' metric (clusters matched one
//! to one to classes, label 0 ignored). `cargo xtask quality` prints the same scores next to scikit-learn's.

use std::path::PathBuf;
use std::process::Command;

use shard_tools::eval::raster::evaluate_files;
use shard_tools::eval::{EvalOptions, MatchingMode};

use super::{MAPSEG, workspace};

/// A row of `tests/fixtures/labelled/scenes.json` (the list `cargo xtask quality` scores).
///
/// Each floor is the mean IoU measured with the current defaults, minus 0.01 (measured: 0.2173,
/// 0.3781, 0.1214, 0.1212, 1.0, 1.0 in file order). Floors must only move up: when a change
/// raises a scene's score, raise its floor to the new value minus 0.01; never lower one to let a
/// change in.
#[derive(serde::Deserialize)]
struct Floor {
    /// Names the configuration in failures (as `cargo xtask quality` names it).
    id: String,
    /// Folder under `tests/fixtures/labelled/`.
    dir: String,
    image: String,
    labels: String,
    /// 1-based bands for `--bands`; empty for every data band.
    bands: Vec<usize>,
    k: usize,
    /// The lowest acceptable mean IoU.
    floor: f64,
    /// The lowest acceptable mean IoU of `--method cnn` with the built-in model (measured
    /// 0.220, 0.423, 0.130, 0.129, 1.0, 1.0 in file order, minus 0.01; raise them with a
    /// better model, never lower them to let a change in).
    cnn_floor: f64,
}

fn floors() -> Vec<Floor> {
    let path = labelled("", "scenes.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn labelled(dir: &str, file: &str) -> PathBuf {
    workspace("tests/fixtures/labelled").join(dir).join(file)
}

/// Segments one configuration at the defaults of `method` and returns its mean IoU.
fn mean_iou(f: &Floor, method: &str) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("labels.tif");
    let mut cmd = Command::new(MAPSEG);
    cmd.arg("segment")
        .arg(labelled(&f.dir, &f.image))
        .arg("-o")
        .arg(&out)
        .args(["--k", &f.k.to_string(), "--quiet", "--method", method]);
    if !f.bands.is_empty() {
        let bands: Vec<String> = f.bands.iter().map(ToString::to_string).collect();
        cmd.args(["--bands", &bands.join(",")]);
    }
    let run = cmd.output().expect("mapseg runs");
    assert!(
        run.status.success(),
        "{}: mapseg failed: {}",
        f.id,
        String::from_utf8_lossy(&run.stderr)
    );
    let options = EvalOptions {
        ignore: vec![0],
        matching: MatchingMode::Hungarian,
    };
    let report = evaluate_files(&out, &labelled(&f.dir, &f.labels), &options).unwrap();
    assert_eq!(
        report.classes.len(),
        f.k,
        "{}: classes in {}",
        f.id,
        f.labels
    );
    report.mean_iou.expect("labelled pixels to score")
}

#[test]
fn mean_iou_stays_at_or_above_each_scenes_floor() {
    let mut below = Vec::new();
    for f in &floors() {
        for (method, floor) in [("kmeans", f.floor), ("cnn", f.cnn_floor)] {
            let miou = mean_iou(f, method);
            eprintln!("{} {method}: mean IoU {miou:.4} (floor {floor:.3})", f.id);
            if miou < floor {
                below.push(format!(
                    "{} {method}: mean IoU {miou:.4} < floor {floor:.3}",
                    f.id
                ));
            }
        }
    }
    assert!(below.is_empty(), "quality dropped:\n{}", below.join("\n"));
}
