//! Ours: the release `mapseg` binary, end to end, clustering alone, and peak memory on the large raster.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, ensure};
use serde::{Deserialize, Serialize};

use super::data::{Rasters, SIZE};
use super::{K, SEED};
use crate::cmd::{Cmd, target_dir};
use crate::peak_rss;

const CLUSTER_RUNS: usize = 3;

/// One `mapseg bench-cluster --json` result (extra keys are ignored).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterRun {
    pub pixels: u64,
    pub fit_s: f64,
    pub assign_s: f64,
    pub cluster_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ours {
    /// The run with the median `cluster_s`.
    pub cluster: ClusterRun,
    pub cluster_runs_s: Vec<f64>,
    /// `mapseg segment` on the small raster, measured around the process.
    pub segment_wall_s: f64,
    /// The numeric entries of the `--timings` file of that run.
    pub segment_timings: BTreeMap<String, f64>,
    /// Peak RSS of `mapseg segment` (defaults) on the large raster.
    pub large_peak_rss_kib: u64,
}

/// Runs the given `mapseg` executable, or the release build of `mapseg-cli`.
pub fn run(mapseg: Option<PathBuf>, dir: &Path, rasters: &Rasters) -> Result<Ours> {
    let mapseg = match mapseg {
        Some(path) => path,
        None => build()?,
    };
    let (segment_wall_s, segment_timings) = segment(&mapseg, dir, &rasters.small)?;
    let (cluster, cluster_runs_s) = cluster(&mapseg, &rasters.small)?;
    let large_out = dir.join(format!("out{}.tif", Rasters::LARGE_SIZE));
    let args: Vec<OsString> = vec![
        "segment".into(),
        rasters.large.clone().into(),
        "-o".into(),
        large_out.into(),
    ];
    let large_peak_rss_kib = peak_rss::measure(&mapseg, &args, &dir.join("peak-rss-kib.txt"))?;
    Ok(Ours {
        cluster,
        cluster_runs_s,
        segment_wall_s,
        segment_timings,
        large_peak_rss_kib,
    })
}

/// Builds the release `mapseg` and returns its path.
pub fn build() -> Result<PathBuf> {
    Cmd::cargo(["build", "--release", "-p", "mapseg-cli"])?.run()?;
    Ok(target_dir()?.join("release").join("mapseg"))
}

/// `mapseg segment` end to end: wall time and the timings file it writes.
fn segment(mapseg: &Path, dir: &Path, raster: &Path) -> Result<(f64, BTreeMap<String, f64>)> {
    let timings = dir.join("timings.json");
    let _ = std::fs::remove_file(&timings);
    let wall = Cmd::new(mapseg)?
        .arg("segment")
        .arg(raster)
        .arg("-o")
        .arg(dir.join("out.tif"))
        .args([
            "--k",
            &K.to_string(),
            "--resolution",
            "1",
            "--smooth",
            "0",
            "--mmu",
            "0",
        ])
        .args(["--seed", &SEED.to_string(), "--timings"])
        .arg(&timings)
        .run_timed()?;
    let text = std::fs::read_to_string(&timings)
        .with_context(|| format!("could not read {}", timings.display()))?;
    let json: BTreeMap<String, serde_json::Value> = serde_json::from_str(&text)
        .with_context(|| format!("invalid JSON in {}", timings.display()))?;
    let numbers = json
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.as_f64()?)))
        .collect();
    Ok((wall.as_secs_f64(), numbers))
}

/// `mapseg bench-cluster` CLUSTER_RUNS times; the run with the median clustering time, and all times.
fn cluster(mapseg: &Path, raster: &Path) -> Result<(ClusterRun, Vec<f64>)> {
    let mut runs = Vec::with_capacity(CLUSTER_RUNS);
    for _ in 0..CLUSTER_RUNS {
        let stdout = Cmd::new(mapseg)?
            .arg("bench-cluster")
            .arg(raster)
            .args(["--k", &K.to_string(), "--seed", &SEED.to_string(), "--json"])
            .output()?;
        let run: ClusterRun = serde_json::from_str(stdout.trim())
            .with_context(|| format!("mapseg bench-cluster printed unexpected output: {stdout}"))?;
        let expected = u64::from(SIZE).pow(2);
        ensure!(
            run.pixels == expected,
            "mapseg bench-cluster clustered {} pixels, expected {expected}",
            run.pixels
        );
        runs.push(run);
    }
    runs.sort_by(|a, b| a.cluster_s.total_cmp(&b.cluster_s));
    let times = runs.iter().map(|r| r.cluster_s).collect();
    let median = runs.swap_remove(CLUSTER_RUNS / 2);
    Ok((median, times))
}
