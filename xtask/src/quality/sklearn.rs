//! The baseline: scikit-learn K-Means on the z-scored bands of every valid pixel, scored like our output.
//!
//! The engine's decoder hands the bands to Python as raw float32 (so the venv needs no GDAL), Python writes one u8
//! label per pixel (255 where invalid), and the labels are scored here with `shard_tools::eval`.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result, ensure};
use engine::raster::{Samples, Window};
use serde::{Deserialize, Serialize};
use shard_tools::eval::{Accumulator, EvalReport};
use shard_tools::rio::RasterFile;

use super::{Scene, check_classes, eval_options};
use crate::cmd::{Cmd, repo_root};

/// Label the script writes for pixels it did not cluster.
const INVALID: u8 = 255;

/// What the script reports about its fit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fit {
    pub valid_pixels: u64,
    pub fit_s: f64,
    pub iterations: u64,
    pub inertia: f64,
}

#[derive(Debug)]
pub struct Baseline {
    pub report: EvalReport,
    pub fit: Fit,
}

pub fn run(python: &Path, scene: &Scene, dir: &Path) -> Result<Baseline> {
    let image = scene.image_path();
    let mut raster = RasterFile::open(&image)?;
    let info = raster.info().clone();
    let bands: Vec<usize> = if scene.bands.is_empty() {
        info.data_bands()
    } else {
        scene.bands.iter().map(|b| b - 1).collect()
    };
    ensure!(
        bands.iter().all(|&b| b < info.bands),
        "{}: bands {:?} out of range ({} bands)",
        image.display(),
        scene.bands,
        info.bands
    );
    let block = raster.read(Window::new(0, 0, info.width, info.height))?;
    let pixels = dir.join(format!("{}-pixels.f32", scene.id));
    write_f32(&pixels, &block.samples, info.bands, &bands)?;

    let labels = dir.join(format!("{}-sklearn.u8", scene.id));
    let _ = std::fs::remove_file(&labels);
    let nodata = info
        .nodata
        .map_or_else(|| "none".to_owned(), |v| v.to_string());
    let stdout = Cmd::new(python)?
        .env("OMP_NUM_THREADS", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1")
        .arg(repo_root().join("xtask/quality/sklearn_kmeans.py"))
        .arg(&pixels)
        .args([
            info.height.to_string(),
            info.width.to_string(),
            bands.len().to_string(),
            nodata,
            scene.k.to_string(),
        ])
        .arg(&labels)
        .output()?;
    let fit: Fit = serde_json::from_str(stdout.trim())
        .with_context(|| format!("sklearn_kmeans.py printed unexpected output: {stdout}"))?;

    let pred =
        std::fs::read(&labels).with_context(|| format!("could not read {}", labels.display()))?;
    let report = score(&pred, &scene.labels_path(), (info.width, info.height))?;
    check_classes(scene, &report)?;
    Ok(Baseline { report, fit })
}

/// The bands `keep` (0-based) of pixel-interleaved `samples` with `bands` bands, as little-endian f32.
fn write_f32(path: &Path, samples: &Samples, bands: usize, keep: &[usize]) -> Result<()> {
    let file = std::fs::File::create(path)
        .with_context(|| format!("could not create {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    for pixel in 0..samples.len() / bands {
        for &b in keep {
            // Every supported integer type up to u16 is exact in f32; u32 and f64 round as NumPy's would.
            out.write_all(&(samples.get_f64(pixel * bands + b) as f32).to_le_bytes())?;
        }
    }
    out.flush()
        .with_context(|| format!("could not write {}", path.display()))
}

/// Scores u8 labels (`INVALID` masked) against the label raster, as `evaluate_files` scores a label GeoTIFF.
fn score(pred: &[u8], labels: &Path, (width, height): (u32, u32)) -> Result<EvalReport> {
    let mut target = RasterFile::open(labels)?;
    let info = target.info().clone();
    ensure!(
        (info.width, info.height, info.bands) == (width, height, 1),
        "{}: {}x{} with {} bands, expected a single band of {width}x{height}",
        labels.display(),
        info.width,
        info.height,
        info.bands
    );
    ensure!(
        pred.len() == width as usize * height as usize,
        "the baseline wrote {} labels for {width}x{height} pixels",
        pred.len()
    );
    let block = target.read(Window::new(0, 0, width, height))?;
    let Samples::U8(truth) = &block.samples else {
        anyhow::bail!("{}: expected u8 labels", labels.display());
    };
    let target_nodata = info.nodata;
    let valid: Vec<bool> = pred
        .iter()
        .zip(truth)
        .map(|(&p, &t)| p != INVALID && target_nodata != Some(f64::from(t)))
        .collect();
    let mut acc = Accumulator::new(&eval_options());
    acc.add_masked(pred, truth, &valid)?;
    Ok(acc.finish()?)
}
