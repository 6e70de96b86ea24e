//! The bench's verdict: a table on stdout and `bench-results.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;

use super::data::{Rasters, SIZE};
use super::ours::Ours;
use super::peers::Peers;
use super::{K, SEED};

/// How much faster than each peer our clustering must be.
const MIN_SPEEDUP: [f64; 2] = [5.0, 2.0];
const MAX_PEAK_RSS_MIB: f64 = 1024.0;

#[derive(Debug, Serialize)]
pub struct Results {
    raster: PathBuf,
    size: u32,
    k: u32,
    seed: u64,
    peers: Peers,
    ours: Option<Ours>,
    pub targets: Vec<Target>,
}

#[derive(Debug, Serialize)]
pub struct Target {
    name: String,
    measured: String,
    pub pass: bool,
}

impl Results {
    pub fn new(rasters: &Rasters, peers: Peers, ours: Option<Ours>) -> Self {
        let targets = ours
            .as_ref()
            .map(|o| targets(&peers, o))
            .unwrap_or_default();
        Self {
            raster: rasters.small.clone(),
            size: SIZE,
            k: K,
            seed: SEED,
            peers,
            ours,
            targets,
        }
    }

    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("could not write {}", path.display()))
    }

    /// Ours against each peer, then PASS/FAIL per target (nothing without our measurements).
    pub fn print(&self) {
        let Some(ours) = &self.ours else { return };
        let cluster = ours.cluster.cluster_s;
        println!();
        row(
            "ours, clustering (median of 3)",
            cluster,
            &format!(
                "fit {:.3} s + assign {:.3} s",
                ours.cluster.fit_s, ours.cluster.assign_s
            ),
        );
        row(
            "ours, end to end (segment, wall)",
            ours.segment_wall_s,
            &stages(&ours.segment_timings),
        );
        for (_, label, timing) in self.peers.each() {
            let peer = timing.median_s;
            let versus = format!(
                "{} ours clustering; {} ours end to end",
                relative(peer / cluster),
                relative(peer / ours.segment_wall_s)
            );
            row(&label, peer, &versus);
        }
        println!(
            "{:<44} {:>7.0} MiB",
            format!("ours, peak RSS on {0}x{0}", Rasters::LARGE_SIZE),
            mib(ours)
        );
        println!();
        for target in &self.targets {
            let verdict = if target.pass { "PASS" } else { "FAIL" };
            println!("{verdict}  {} ({})", target.name, target.measured);
        }
    }
}

/// Prints the peers' timings as soon as they are known.
pub fn print_peers(peers: &Peers) {
    println!();
    println!(
        "{} pixels, k={K}, {} CPUs",
        peers.pixels,
        peers.cpus.unwrap_or(0)
    );
    for (_, label, timing) in peers.each() {
        let runs: Vec<String> = timing.runs_s.iter().map(|t| format!("{t:.3}")).collect();
        row(
            &label,
            timing.median_s,
            &format!("runs {} s", runs.join(", ")),
        );
    }
}

fn targets(peers: &Peers, ours: &Ours) -> Vec<Target> {
    let cluster = ours.cluster.cluster_s;
    let end_to_end = ours.segment_wall_s;
    let mut targets = Vec::new();
    for ((name, _, timing), min) in peers.each().into_iter().zip(MIN_SPEEDUP) {
        let speedup = timing.median_s / cluster;
        targets.push(Target {
            name: format!("ours clustering ≥{min}x faster than {name}"),
            measured: format!("{speedup:.1}x: {cluster:.3} s vs {:.3} s", timing.median_s),
            pass: speedup >= min,
        });
    }
    for (name, _, timing) in peers.each() {
        targets.push(Target {
            name: format!(
                "ours decode→encode (segment, wall) faster than {name}'s clustering alone"
            ),
            measured: format!("{end_to_end:.3} s vs {:.3} s", timing.median_s),
            pass: end_to_end < timing.median_s,
        });
    }
    targets.push(Target {
        name: format!(
            "peak RSS of segment on {0}x{0} < {MAX_PEAK_RSS_MIB} MiB",
            Rasters::LARGE_SIZE
        ),
        measured: format!("{:.0} MiB", mib(ours)),
        pass: mib(ours) < MAX_PEAK_RSS_MIB,
    });
    targets
}

/// The `--timings` entries, pipeline stages first.
fn stages(timings: &BTreeMap<String, f64>) -> String {
    const ORDER: [&str; 5] = ["decode_s", "fit_s", "assign_s", "encode_s", "total_s"];
    let rank = |key: &str| ORDER.iter().position(|k| *k == key).unwrap_or(ORDER.len());
    let mut entries: Vec<_> = timings.iter().collect();
    entries.sort_by_key(|(key, _)| rank(key));
    let entries: Vec<String> = entries.iter().map(|(k, v)| format!("{k} {v:.3}")).collect();
    entries.join(", ")
}

fn row(label: &str, seconds: f64, detail: &str) {
    println!("{label:<44} {seconds:>7.3} s   {detail}");
}

/// "7.3x slower than" / "1.5x faster than" / "about as fast as", for a peer/ours time ratio.
fn relative(ratio: f64) -> String {
    if ratio >= 1.05 {
        format!("{ratio:.1}x slower than")
    } else if ratio <= 1.0 / 1.05 {
        format!("{:.1}x faster than", 1.0 / ratio)
    } else {
        "about as fast as".to_owned()
    }
}

fn mib(ours: &Ours) -> f64 {
    ours.large_peak_rss_kib as f64 / 1024.0
}
