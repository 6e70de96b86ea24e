//! `native-trainer eval`: the CNN and K-Means at the same k, with the same post-processing, on
//! labelled scenes, scored with `shard-tools`' metric (clusters matched one to one to classes,
//! label 0 ignored).

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use engine::cnn::{Artifact, CnnParams, CnnRuntime};
use engine::geotiff::GeoTiffReader;
use engine::kmeans::model::KMeansParams;
use engine::manifest::InputIdentity;
use engine::pipeline::{self, MethodParams, Runtime, SegmentParams};
use engine::progress::NoProgress;
use shard_tools::eval::{EvalOptions, MatchingMode};

/// A labelled configuration (a row of `tests/fixtures/labelled/scenes.json`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct LabelledScene {
    pub id: String,
    pub dir: String,
    pub image: String,
    pub labels: String,
    /// 1-based bands to use; empty for all.
    pub bands: Vec<usize>,
    pub k: usize,
}

/// One row of the table.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub scene: String,
    pub seed: u64,
    pub bands: String,
    pub k: usize,
    pub cnn_miou: f64,
    pub kmeans_miou: f64,
    pub cnn_accuracy: f64,
    pub kmeans_accuracy: f64,
}

/// Reads a `scenes.json`.
pub fn scenes(path: &Path) -> Result<Vec<LabelledScene>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not a list of scenes", path.display()))
}

fn open(path: &Path) -> Result<GeoTiffReader<BufReader<File>>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    GeoTiffReader::open(BufReader::new(file))
        .with_context(|| format!("cannot read {}", path.display()))
}

/// Segments `image` with `params` into `out`.
fn segment(image: &Path, params: &SegmentParams, runtime: &Runtime, out: &Path) -> Result<()> {
    let mut reader = open(image)?;
    let sink = BufWriter::new(File::create(out)?);
    let identity = InputIdentity {
        name: image.display().to_string(),
        bytes: 0,
        blake3: String::new(),
    };
    pollster::block_on(pipeline::segment(
        &mut reader,
        sink,
        params,
        runtime,
        identity,
        &NoProgress,
    ))
    .with_context(|| format!("cannot segment {}", image.display()))?;
    Ok(())
}

/// Scores the CNN of `artifact` and K-Means on every scene of `scenes_json`.
pub fn run(
    artifact: Artifact,
    scenes_json: &Path,
    work: &Path,
    seed: u64,
    spectra: Option<f32>,
) -> Result<Vec<Row>> {
    let root = scenes_json
        .parent()
        .map_or_else(PathBuf::new, Path::to_path_buf);
    let runtime = Runtime {
        cnn: Some(CnnRuntime::cpu(artifact.clone())),
        ..Runtime::default()
    };
    let model = artifact.meta.id.clone();
    let options = EvalOptions {
        ignore: vec![0],
        matching: MatchingMode::Hungarian,
    };
    std::fs::create_dir_all(work)?;
    let mut rows = Vec::new();
    for scene in scenes(scenes_json)? {
        let image = root.join(&scene.dir).join(&scene.image);
        let labels = root.join(&scene.dir).join(&scene.labels);
        let kmeans = SegmentParams {
            method: MethodParams::Kmeans(KMeansParams {
                k: scene.k,
                bands: (!scene.bands.is_empty())
                    .then(|| scene.bands.iter().map(|b| b - 1).collect()),
                ..KMeansParams::default()
            }),
            seed,
            ..SegmentParams::default()
        };
        let cnn = SegmentParams {
            method: MethodParams::Cnn(CnnParams {
                k: scene.k,
                model: model.clone(),
                bands: (!scene.bands.is_empty())
                    .then(|| scene.bands.iter().map(|b| b - 1).collect()),
                spectra: spectra.unwrap_or(engine::cnn::DEFAULT_SPECTRA),
                ..CnnParams::default()
            }),
            seed,
            ..SegmentParams::default()
        };
        let score = |params: &SegmentParams, name: &str| -> Result<(f64, f64)> {
            let out = work.join(format!("{}-{name}.tif", scene.id));
            segment(&image, params, &runtime, &out)?;
            let report = shard_tools::eval::raster::evaluate_files(&out, &labels, &options)
                .with_context(|| format!("cannot score {}", out.display()))?;
            Ok((
                report.mean_iou.unwrap_or(0.0),
                report.pixel_accuracy.unwrap_or(0.0),
            ))
        };
        let (cnn_miou, cnn_accuracy) = score(&cnn, "cnn")?;
        let (kmeans_miou, kmeans_accuracy) = score(&kmeans, "kmeans")?;
        rows.push(Row {
            scene: scene.id.clone(),
            seed,
            bands: if scene.bands.is_empty() {
                "all".into()
            } else {
                scene
                    .bands
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            },
            k: scene.k,
            cnn_miou,
            kmeans_miou,
            cnn_accuracy,
            kmeans_accuracy,
        });
    }
    Ok(rows)
}

/// The rows as a Markdown table: one line per scene, means over the seeds, each seed's mIoU
/// in brackets.
pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| scene | bands | k | CNN mIoU | K-Means mIoU | CNN accuracy | K-Means accuracy | CNN mIoU by seed | K-Means mIoU by seed |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut scenes: Vec<&str> = Vec::new();
    for r in rows {
        if !scenes.contains(&r.scene.as_str()) {
            scenes.push(&r.scene);
        }
    }
    for scene in scenes {
        let of: Vec<&Row> = rows.iter().filter(|r| r.scene == scene).collect();
        let mean = |f: fn(&Row) -> f64| of.iter().map(|r| f(r)).sum::<f64>() / of.len() as f64;
        let each = |f: fn(&Row) -> f64| {
            of.iter()
                .map(|r| format!("{:.3}", f(r)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        s += &format!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} |\n",
            scene,
            of[0].bands,
            of[0].k,
            mean(|r| r.cnn_miou),
            mean(|r| r.kmeans_miou),
            mean(|r| r.cnn_accuracy),
            mean(|r| r.kmeans_accuracy),
            each(|r| r.cnn_miou),
            each(|r| r.kmeans_miou),
        );
    }
    s
}
