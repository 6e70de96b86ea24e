//! Model artifacts: `models/<id>/weights.bpk` (burnpack), `meta.json` (architecture, input
//! slots, normalisation, stride, receptive field, and the training run's provenance) and
//! `metrics.json` (the `eval` table).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use engine::cnn::{Artifact, ModelMeta};

use crate::eval::Row;
use crate::train::{Objective, TrainConfig, Trained};

/// Reads a model folder.
pub fn read(dir: &Path) -> Result<Artifact> {
    let meta = fs::read(dir.join("meta.json"))
        .with_context(|| format!("cannot read {}", dir.join("meta.json").display()))?;
    let weights = fs::read(dir.join("weights.bpk"))
        .with_context(|| format!("cannot read {}", dir.join("weights.bpk").display()))?;
    Artifact::from_bytes(&meta, &weights)
        .with_context(|| format!("{}: not a usable model", dir.display()))
}

/// The machine a run trained on.
fn hardware() -> serde_json::Value {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    serde_json::json!({
        "cpu": cpu,
        "threads": std::thread::available_parallelism().map_or(1, usize::from),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
}

/// Writes `<run>/summary.json`: steps, wall time, hardware, command and the data files.
pub fn write_run_summary(out: &Path, trained: &Trained, files: &[PathBuf]) -> Result<()> {
    let mut data = Vec::new();
    for f in files {
        let bytes = fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
        data.push(serde_json::json!({
            "file": f.file_name().map(|n| n.to_string_lossy().into_owned()),
            "bytes": bytes.len(),
            "blake3": blake3::hash(&bytes).to_hex().to_string(),
        }));
    }
    let summary = serde_json::json!({
        "steps": trained.steps,
        "wall_s": (trained.wall_s * 10.0).round() / 10.0,
        "hardware": hardware(),
        "backend": "flex",
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "data": data,
        "scenes_used": trained.scenes,
    });
    fs::write(
        out.join("summary.json"),
        serde_json::to_vec_pretty(&summary)?,
    )?;
    Ok(())
}

/// Exports run folder `run` as `<models>/<id>/`.
pub fn run(run: &Path, id: &str, models: &Path, sources: Option<&Path>) -> Result<()> {
    let config: TrainConfig = serde_json::from_slice(
        &fs::read(run.join("config.json")).context("the run has no config.json")?,
    )?;
    let summary: serde_json::Value = serde_json::from_slice(
        &fs::read(run.join("summary.json"))
            .context("the run has no summary.json: it did not finish")?,
    )?;
    let weights = fs::read(run.join("model.bpk")).context("the run has no model.bpk")?;
    let sources = match sources {
        Some(p) => serde_json::from_slice(
            &fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
        )
        .with_context(|| format!("{}: not JSON", p.display()))?,
        None => serde_json::Value::Null,
    };
    let training = serde_json::json!({
        "objective": match config.objective {
            Objective::Vicreg => "VICReg on 2x2-pooled embeddings of paired views (D4, shifts, photometric jitter, band dropout)",
            Objective::Iic => "dense IIC: mutual information of the cluster assignments of paired views (D4, shifts, photometric jitter, band dropout)",
        },
        "config": config,
        "run": summary,
        "sources": sources,
    });
    let meta = ModelMeta::new(id, config.architecture.clone(), training);
    let meta_json = serde_json::to_vec_pretty(&meta)?;
    // The artifact must decode into the current network before it is written.
    Artifact::from_bytes(&meta_json, &weights).context("the exported model does not load")?;
    let dir = models.join(id);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    fs::write(dir.join("weights.bpk"), &weights)?;
    fs::write(dir.join("meta.json"), &meta_json)?;
    eprintln!(
        "exported {} ({} bytes of weights)",
        dir.display(),
        weights.len()
    );
    Ok(())
}

/// The `metrics.json` of an evaluation.
pub fn metrics(rows: &[Row]) -> serde_json::Value {
    serde_json::json!({
        "metric": "shard-tools eval: Hungarian-matched mean IoU and pixel accuracy over labelled pixels (label 0 ignored); CNN and K-Means at the same k, default resolution, smoothing and minimum mapping unit, one row per scene and seed",
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "rows": rows,
    })
}
