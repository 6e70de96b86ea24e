//! `cargo xtask bench`: `mapseg` against scikit-learn's MiniBatchKMeans and faiss k-means on the same real pixels.
//! `cargo xtask bench cnn` ([`cnn`]): the CNN method's speed beside K-Means on a Sentinel-2 scene.
//! `cargo xtask bench cluster` ([`cluster`]): `mapseg fit`, `apply` in N parts and `merge` beside one
//! `mapseg segment` run, with the projected wall time on N nodes.
//!
//! Everything it makes lives in the bench directory (beside the cargo target directory, never in the repository)
//! and is reused by later runs: the Python venv, the downloaded imagery, the rasters. Delete a file to make it
//! again.

pub mod cluster;
pub mod cnn;
mod data;
mod ours;
mod peers;
mod report;
pub mod web;

pub use data::ensure_venv;
pub use ours::build as build_mapseg;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::cmd::{note, repo_root, target_dir};

/// Clusters and seed used by every contestant.
const K: u32 = 8;
const SEED: u64 = 0;

pub fn run(strict: bool, mapseg: Option<PathBuf>) -> Result<ExitCode> {
    let dir = bench_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    note(&format!("bench directory: {}", dir.display()));

    let python = data::ensure_venv(&dir)?;
    let rasters = data::ensure_rasters(&dir, &python)?;
    let peers = peers::run(&python, &rasters.pixels)?;
    report::print_peers(&peers);

    let ours = ours::run(mapseg, &dir, &rasters);
    let results = report::Results::new(&rasters, peers, ours.as_ref().ok().cloned());
    results.print();
    let path = dir.join("bench-results.json");
    results.write(&path)?;
    note(&format!("results written to {}", path.display()));
    ours?;

    let failed = results.targets.iter().filter(|t| !t.pass).count();
    Ok(if strict && failed > 0 {
        eprintln!("error: {failed} target(s) missed");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `$CARGO_TARGET_DIR/../mapseg-bench`, or `<target dir>/bench` when that sibling would be inside the repository.
pub fn bench_dir() -> Result<PathBuf> {
    let target =
        std::path::absolute(target_dir()?).context("could not resolve the target directory")?;
    let sibling = target.parent().map(|p| p.join("mapseg-bench"));
    Ok(match sibling {
        Some(dir) if !dir.starts_with(repo_root()) => dir,
        _ => target.join("bench"),
    })
}

/// Writes `path` through `make`, which fills a temporary file beside it; an existing `path` is reused as is.
fn produce(path: &Path, make: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = path
        .file_name()
        .context("output path without a file name")?
        .to_string_lossy();
    if path.exists() {
        note(&format!("{name}: exists, reused"));
        return Ok(());
    }
    let partial = path.with_file_name(format!("partial-{name}"));
    make(&partial)?;
    std::fs::rename(&partial, path).with_context(|| {
        format!(
            "could not rename {} to {}",
            partial.display(),
            path.display()
        )
    })
}
