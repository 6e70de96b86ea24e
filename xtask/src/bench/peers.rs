//! The peers: scikit-learn's MiniBatchKMeans and faiss k-means, timed by `xtask/bench/peers.py`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use super::{K, SEED};
use crate::cmd::{Cmd, repo_root};

/// Wall times of repeated runs, each fitting and labelling every pixel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timing {
    pub runs_s: Vec<f64>,
    pub median_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Peers {
    pub pixels: u64,
    pub cpus: Option<u32>,
    pub versions: BTreeMap<String, String>,
    pub minibatch_kmeans: Timing,
    pub faiss: Timing,
}

impl Peers {
    /// Each peer's short name, a label with its version, and its timing.
    pub fn each(&self) -> [(&'static str, String, &Timing); 2] {
        let version = |package: &str| self.versions.get(package).map_or("?", String::as_str);
        [
            (
                "MiniBatchKMeans",
                format!("MiniBatchKMeans (scikit-learn {})", version("scikit-learn")),
                &self.minibatch_kmeans,
            ),
            (
                "faiss",
                format!("faiss k-means (faiss {})", version("faiss")),
                &self.faiss,
            ),
        ]
    }
}

pub fn run(python: &Path, pixels: &Path) -> Result<Peers> {
    let stdout = Cmd::new(python)?
        .arg(repo_root().join("xtask/bench/peers.py"))
        .arg(pixels)
        .args([K.to_string(), SEED.to_string()])
        .output()?;
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .with_context(|| format!("peers.py printed unexpected output: {stdout}"))
}
