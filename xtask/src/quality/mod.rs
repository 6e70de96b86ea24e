//! `cargo xtask quality`: how well `mapseg segment` recovers reference land cover on real labelled scenes, next to
//! scikit-learn K-Means on the same pixels.
//!
//! For every configuration of `tests/fixtures/labelled/scenes.json` ([`scenes`]: a scene of `tests/fixtures/labelled/`, the bands to cluster on and a
//! label raster), it
//!
//! 1. runs the `mapseg` executable (`--mapseg PATH`, else the release build of `mapseg-cli`) as
//!    `mapseg segment IMAGE -o OUT --k K --quiet [--bands …]`, everything else at its default, K being the number of
//!    classes in the labels, with any trailing arguments appended (`cargo xtask quality -- --smooth 0`);
//! 2. runs `KMeans(n_clusters=K, n_init=1, random_state=0)` from scikit-learn (`xtask/quality/sklearn_kmeans.py`,
//!    the bench's venv, one thread) on every valid pixel of the same bands, each z-scored over the valid pixels;
//! 3. scores both with the same metric, `shard_tools::eval` (clusters matched one to one to classes by the
//!    Hungarian method, label 0 ignored, nodata masked): mean IoU and pixel accuracy over the labelled pixels.
//!
//! It prints a Markdown table (with the normalisation our run recorded in its manifest) and writes everything,
//! full evaluation reports included, to `quality-results.json` in the bench directory; the outputs and the
//! baseline's inputs stay in its `quality/` folder. The exit status reports errors only, never the scores: the
//! floor test in `cli/tests/cli/quality.rs` guards those.

mod report;
mod sklearn;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, ensure};
use shard_tools::eval::{EvalOptions, EvalReport, MatchingMode};

use crate::bench::{bench_dir, build_mapseg, ensure_venv};
use crate::cmd::{Cmd, note, repo_root};

/// One scored configuration: an image of a labelled scene, the bands to cluster on and its labels
/// (a row of `tests/fixtures/labelled/scenes.json`, which the floor test reads too).
#[derive(Debug, serde::Deserialize)]
pub struct Scene {
    /// Names the configuration in the table and its output files.
    pub id: String,
    /// Folder under `tests/fixtures/labelled/`.
    pub dir: String,
    pub image: String,
    pub labels: String,
    /// 1-based bands, as `--bands` takes them; empty for every data band (the default).
    pub bands: Vec<usize>,
    /// Classes present in the labels (checked against them), and so the number of clusters.
    pub k: u32,
}

/// Every configuration `cargo xtask quality` scores.
pub fn scenes() -> Result<Vec<Scene>> {
    let path = repo_root().join("tests/fixtures/labelled/scenes.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("could not read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a list of scenes", path.display()))
}

impl Scene {
    fn path(&self, file: &str) -> PathBuf {
        repo_root()
            .join("tests/fixtures/labelled")
            .join(&self.dir)
            .join(file)
    }

    pub fn image_path(&self) -> PathBuf {
        self.path(&self.image)
    }

    pub fn labels_path(&self) -> PathBuf {
        self.path(&self.labels)
    }

    /// The bands as the table shows them: `all` or `3,2,1`.
    pub fn bands_shown(&self) -> String {
        if self.bands.is_empty() {
            "all".to_owned()
        } else {
            join(&self.bands)
        }
    }
}

/// The metric: label 0 is unlabelled, clusters go one to one to classes.
pub fn eval_options() -> EvalOptions {
    EvalOptions {
        ignore: vec![0],
        matching: MatchingMode::Hungarian,
    }
}

pub fn run(mapseg: Option<PathBuf>, segment_args: &[OsString]) -> Result<ExitCode> {
    let bench = bench_dir()?;
    let dir = bench.join("quality");
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    note(&format!("quality directory: {}", dir.display()));

    let mapseg = match mapseg {
        Some(path) => path,
        None => build_mapseg()?,
    };
    let python = ensure_venv(&bench)?;

    let scenes = scenes()?;
    let mut results = Vec::with_capacity(scenes.len());
    for scene in &scenes {
        note(&format!(
            "{}: {} bands {} vs {}, k = {}",
            scene.id,
            scene.image,
            scene.bands_shown(),
            scene.labels,
            scene.k
        ));
        let ours = ours(&mapseg, scene, &dir, segment_args)?;
        let baseline = sklearn::run(&python, scene, &dir)?;
        results.push(report::SceneResult::new(scene, ours, baseline));
    }

    let results = report::Results {
        mapseg: mapseg.display().to_string(),
        segment_args: segment_args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        scenes: results,
    };
    println!();
    print!("{}", results.markdown());
    let path = bench.join("quality-results.json");
    results.write(&path)?;
    note(&format!("results written to {}", path.display()));
    Ok(ExitCode::SUCCESS)
}

/// What `mapseg segment` produced for one configuration, scored.
#[derive(Debug)]
pub struct OursRun {
    pub report: EvalReport,
    /// The concrete normalisation its manifest records, when it records one.
    pub normalisation: Option<String>,
}

fn ours(mapseg: &Path, scene: &Scene, dir: &Path, segment_args: &[OsString]) -> Result<OursRun> {
    let out = dir.join(format!("{}-mapseg.tif", scene.id));
    let manifest = dir.join(format!("{}-mapseg.json", scene.id));
    let mut cmd = Cmd::new(mapseg)?
        .arg("segment")
        .arg(scene.image_path())
        .arg("-o")
        .arg(&out)
        .args(["--k", &scene.k.to_string(), "--quiet", "--manifest"])
        .arg(&manifest);
    if !scene.bands.is_empty() {
        cmd = cmd.args(["--bands", &join(&scene.bands)]);
    }
    cmd.args(segment_args).run()?;
    let report =
        shard_tools::eval::raster::evaluate_files(&out, &scene.labels_path(), &eval_options())
            .with_context(|| format!("could not score {}", out.display()))?;
    check_classes(scene, &report)?;
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("could not read {}", manifest.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("invalid JSON in {}", manifest.display()))?;
    Ok(OursRun {
        report,
        normalisation: normalisation(&json),
    })
}

/// The table's k must be the number of classes the labels hold.
pub fn check_classes(scene: &Scene, report: &EvalReport) -> Result<()> {
    ensure!(
        report.classes.len() == scene.k as usize,
        "{}: {} holds {} classes ({:?}) but the scene table says k = {}",
        scene.id,
        scene.labels,
        report.classes.len(),
        report.classes,
        scene.k
    );
    Ok(())
}

/// The normalisation a run manifest records: the first `normaliser` or `normalisation` entry, a name or an object
/// whose `method` is the name.
fn normalisation(manifest: &serde_json::Value) -> Option<String> {
    manifest
        .pointer("/method/normaliser/method")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

fn join(bands: &[usize]) -> String {
    bands
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scene_file_exists() {
        for scene in scenes().unwrap() {
            assert!(
                scene.image_path().is_file(),
                "{}",
                scene.image_path().display()
            );
            assert!(
                scene.labels_path().is_file(),
                "{}",
                scene.labels_path().display()
            );
        }
    }

    #[test]
    fn normalisation_is_read_from_the_manifest() {
        let nested = serde_json::json!({"method": {"name": "kmeans", "normaliser": {"method": "robust_clip"}}});
        assert_eq!(normalisation(&nested).as_deref(), Some("robust_clip"));
        assert_eq!(normalisation(&serde_json::json!({"k": 8})), None);
    }
}
