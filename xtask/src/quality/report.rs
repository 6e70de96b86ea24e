//! The quality results: a Markdown table on the terminal and the full JSON beside the bench's results.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Serialize;
use shard_tools::eval::EvalReport;

use super::sklearn::{Baseline, Fit};
use super::{OursRun, Scene};

/// Mean IoU and pixel accuracy of one method on one configuration, with the whole report.
#[derive(Debug, Serialize)]
pub struct Score {
    pub mean_iou: f64,
    pub pixel_accuracy: f64,
    pub report: EvalReport,
}

impl Score {
    fn new(report: EvalReport) -> Self {
        Self {
            mean_iou: report.mean_iou.unwrap_or(0.0),
            pixel_accuracy: report.pixel_accuracy.unwrap_or(0.0),
            report,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Ours {
    #[serde(flatten)]
    pub score: Score,
    pub normalisation: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Sklearn {
    #[serde(flatten)]
    pub score: Score,
    pub fit: Fit,
}

#[derive(Debug, Serialize)]
pub struct SceneResult {
    pub scene: String,
    pub image: String,
    pub labels: String,
    pub bands: String,
    pub k: u32,
    pub labelled_pixels: u64,
    pub ours: Ours,
    pub sklearn_zscore: Sklearn,
    /// Ours minus scikit-learn's mean IoU.
    pub difference: f64,
}

impl SceneResult {
    pub fn new(scene: &Scene, ours: OursRun, baseline: Baseline) -> Self {
        let ours = Ours {
            score: Score::new(ours.report),
            normalisation: ours.normalisation,
        };
        let sklearn = Sklearn {
            score: Score::new(baseline.report),
            fit: baseline.fit,
        };
        Self {
            scene: scene.id.clone(),
            image: format!("{}/{}", scene.dir, scene.image),
            labels: scene.labels.clone(),
            bands: scene.bands_shown(),
            k: scene.k,
            labelled_pixels: ours.score.report.valid_pixels,
            difference: ours.score.mean_iou - sklearn.score.mean_iou,
            ours,
            sklearn_zscore: sklearn,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Results {
    pub mapseg: String,
    /// Arguments appended to every `mapseg segment`.
    pub segment_args: Vec<String>,
    pub scenes: Vec<SceneResult>,
}

impl Results {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        if !self.segment_args.is_empty() {
            let _ = writeln!(
                out,
                "`mapseg segment` with: `{}`\n",
                self.segment_args.join(" ")
            );
        }
        out.push_str(
            "| scene | image | labels | bands | k | ours mIoU | scikit-learn z-score mIoU | difference | ours acc | \
             scikit-learn acc | our normalisation |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
        );
        for s in &self.scenes {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.3} | {:.3} | {:+.3} | {:.3} | {:.3} | {} |",
                s.scene,
                s.image,
                s.labels,
                s.bands,
                s.k,
                s.ours.score.mean_iou,
                s.sklearn_zscore.score.mean_iou,
                s.difference,
                s.ours.score.pixel_accuracy,
                s.sklearn_zscore.score.pixel_accuracy,
                s.ours.normalisation.as_deref().unwrap_or("?"),
            );
        }
        out
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).context("could not serialise the results")?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("could not write {}", path.display()))
    }
}
