//! `cargo xtask bench cluster`: `mapseg fit`, `apply` and `merge` against one `mapseg segment` run, as a cluster of
//! N nodes would run them, on one machine.
//!
//! The raster is `yell_16384.tif` (16384², 754 MB; `--raster small`: `yell_4096.tif`, 4096²) of `cargo xtask bench`
//! (a NEON orthophoto, RGB u8, tiled Deflate GeoTIFF, made or reused in the bench directory). Every command runs at
//! its defaults on all cores, once, timed around the process with its peak resident memory:
//!
//! 1. `mapseg segment IN -o one.tif --stats one.csv`: the one-machine baseline;
//! 2. `mapseg fit IN -o model.json`, once for every split;
//! 3. for each N of `--parts` (default 1, 2, 4): `mapseg apply model.json IN --parts N --part I -o parts-N/` for
//!    each part I, one after the other, each on all cores as each node of a cluster would have them, then
//!    `mapseg merge parts-N -o merged.tif --stats merged.csv`; `merged.tif` must equal `one.tif` byte for byte and
//!    `merged.csv` must equal `one.csv`, else the split counts as failed and its files stay for inspection.
//!
//! The projected wall time on N nodes is fit + the slowest part + merge: the parts run at once, one a node, and
//! moving the parts to the merging node (a shared file system in practice) is not counted. The speed-up is the
//! one-machine `mapseg segment` wall time ÷ that projection. Standard output gets a Markdown table per split and one
//! per part (its pixel rows, wall time, peak RSS); the results go to `bench-cluster-results.json` in the bench
//! directory, the outputs to its `bench-cluster/` folder (each split's part folder and merged files are deleted once
//! they check out). It fails on errors and on a merge that differs from the one-machine run, never on speed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use engine::pipeline::Part;
use serde::Serialize;

use super::data::{self, Rasters, SIZE};
use super::{bench_dir, build_mapseg};
use crate::cmd::note;
use crate::peak_rss;

const KIB_PER_MIB: f64 = 1024.0;

/// Which bench raster is labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Raster {
    /// `yell_4096.tif`: 4096², 16.8 MP.
    Small,
    /// `yell_16384.tif`: 16384², 268 MP.
    Large,
}

impl Raster {
    fn side(self) -> u32 {
        match self {
            Self::Small => SIZE,
            Self::Large => Rasters::LARGE_SIZE,
        }
    }
}

/// One timed process.
#[derive(Debug, Clone, Copy, Serialize)]
struct Run {
    wall_s: f64,
    peak_rss_mib: f64,
}

/// One `mapseg apply` part.
#[derive(Debug, Serialize)]
struct PartRun {
    index: u32,
    /// The pixel rows the part labels, `[first, end)`.
    rows: [u32; 2],
    #[serde(flatten)]
    run: Run,
}

/// The raster labelled in `parts` parts and merged.
#[derive(Debug, Serialize)]
struct Split {
    parts: u32,
    part_runs: Vec<PartRun>,
    merge: Run,
    slowest_part_s: f64,
    sum_of_parts_s: f64,
    /// fit + slowest part + merge.
    projected_wall_s: f64,
    /// One-machine `mapseg segment` wall time ÷ `projected_wall_s`.
    speedup: f64,
    /// Whether the merged GeoTIFF and statistics equal the one-machine run's.
    identical: bool,
    /// What differed, when they do not.
    #[serde(skip_serializing_if = "Option::is_none")]
    mismatch: Option<String>,
}

#[derive(Debug, Serialize)]
struct Results {
    raster: PathBuf,
    width: u32,
    height: u32,
    megapixels: f64,
    mapseg: PathBuf,
    cpus: usize,
    /// `mapseg segment IN -o one.tif --stats one.csv`.
    segment: Run,
    /// `mapseg fit IN -o model.json`, shared by every split.
    fit: Run,
    splits: Vec<Split>,
}

/// The files of the runs, in the bench directory's `bench-cluster/` folder.
struct Work {
    input: PathBuf,
    mapseg: PathBuf,
    dir: PathBuf,
    model: PathBuf,
    one_tif: PathBuf,
    one_csv: PathBuf,
    /// Where `peak-rss` writes its report.
    rss_report: PathBuf,
}

pub fn run(mapseg: Option<PathBuf>, parts: &[u32], raster: Raster) -> Result<ExitCode> {
    let bench = bench_dir()?;
    let dir = bench.join("bench-cluster");
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    note(&format!("bench directory: {}", bench.display()));

    let side = raster.side();
    let plans = plan_splits(side, parts)?;
    note("preparing the 4096² and 16384² rasters");
    let python = data::ensure_venv(&bench)?;
    let rasters = data::ensure_rasters(&bench, &python)?;
    let input = match raster {
        Raster::Small => rasters.small,
        Raster::Large => rasters.large,
    };
    note("preparing mapseg (release)");
    let mapseg = match mapseg {
        Some(path) => path,
        None => build_mapseg()?,
    };
    let work = Work {
        input,
        mapseg,
        model: dir.join("model.json"),
        one_tif: dir.join("one.tif"),
        one_csv: dir.join("one.csv"),
        rss_report: dir.join("peak-rss-kib.txt"),
        dir,
    };

    note("one machine: mapseg segment");
    let segment = work.time(&[
        "segment".into(),
        work.input.clone().into(),
        "-o".into(),
        work.one_tif.clone().into(),
        "--stats".into(),
        work.one_csv.clone().into(),
        "-q".into(),
    ])?;
    note("mapseg fit");
    let fit = work.time(&[
        "fit".into(),
        work.input.clone().into(),
        "-o".into(),
        work.model.clone().into(),
        "-q".into(),
    ])?;
    let mut splits = Vec::with_capacity(plans.len());
    for plan in &plans {
        splits.push(work.split(plan, segment.wall_s, fit.wall_s)?);
    }

    let results = Results {
        raster: work.input.clone(),
        width: side,
        height: side,
        megapixels: f64::from(side) * f64::from(side) / 1e6,
        mapseg: work.mapseg.clone(),
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        segment,
        fit,
        splits,
    };
    results.print();
    let path = bench.join("bench-cluster-results.json");
    let json = serde_json::to_string_pretty(&results)?;
    std::fs::write(&path, json + "\n")
        .with_context(|| format!("could not write {}", path.display()))?;
    note(&format!("results written to {}", path.display()));

    let failed: Vec<&Split> = results.splits.iter().filter(|s| !s.identical).collect();
    for split in &failed {
        eprintln!(
            "error: {} part(s) merged differ from one `mapseg segment` run: {} (kept in {})",
            split.parts,
            split.mismatch.as_deref().unwrap_or("?"),
            work.parts_dir(split.parts).display()
        );
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every part of each split of a `side`² raster, checked before anything runs.
fn plan_splits(side: u32, parts: &[u32]) -> Result<Vec<Vec<Part>>> {
    if parts.is_empty() {
        bail!("--parts names no part count");
    }
    parts
        .iter()
        .map(|&n| {
            if n == 0 {
                bail!("--parts 0: the number of parts must be at least 1");
            }
            Part::all(side, side, n).with_context(|| format!("--parts {n} on a {side}² raster"))
        })
        .collect()
}

impl Work {
    /// Runs `mapseg args…`: its wall time (around the process) and peak RSS.
    fn time(&self, args: &[OsString]) -> Result<Run> {
        let start = Instant::now();
        let kib = peak_rss::measure(&self.mapseg, args, &self.rss_report)?;
        Ok(Run {
            wall_s: start.elapsed().as_secs_f64(),
            peak_rss_mib: kib as f64 / KIB_PER_MIB,
        })
    }

    fn parts_dir(&self, parts: u32) -> PathBuf {
        self.dir.join(format!("parts-{parts}"))
    }

    /// Labels the raster in `plan`'s parts one after the other, merges them and checks the merge against the
    /// one-machine run; deletes the parts and the merge when they check out.
    fn split(&self, plan: &[Part], segment_s: f64, fit_s: f64) -> Result<Split> {
        let count = plan.len() as u32;
        let parts_dir = self.parts_dir(count);
        remove_dir(&parts_dir)?;
        let mut part_runs = Vec::with_capacity(plan.len());
        for part in plan {
            note(&format!("part {} of {count}", part.index));
            let run = self.time(&[
                "apply".into(),
                self.model.clone().into(),
                self.input.clone().into(),
                "--parts".into(),
                count.to_string().into(),
                "--part".into(),
                part.index.to_string().into(),
                "-o".into(),
                parts_dir.clone().into(),
                "-q".into(),
            ])?;
            part_runs.push(PartRun {
                index: part.index,
                rows: [part.window.y, part.window.y + part.window.height],
                run,
            });
        }
        note(&format!("merging {count} part(s)"));
        let merged_tif = self.dir.join("merged.tif");
        let merged_csv = self.dir.join("merged.csv");
        let merge = self.time(&[
            "merge".into(),
            parts_dir.clone().into(),
            "-o".into(),
            merged_tif.clone().into(),
            "--stats".into(),
            merged_csv.clone().into(),
            "-q".into(),
        ])?;

        let mismatch = match same_bytes(&merged_tif, &self.one_tif)? {
            Some(difference) => Some(difference),
            None => same_text(&merged_csv, &self.one_csv)?,
        };
        if mismatch.is_none() {
            note(&format!(
                "{count} part(s): merged.tif and merged.csv equal one.tif and one.csv"
            ));
            remove_dir(&parts_dir)?;
            remove_file(&merged_tif)?;
            remove_file(&merged_csv)?;
        }
        let slowest_part_s = part_runs.iter().map(|p| p.run.wall_s).fold(0.0, f64::max);
        let projected_wall_s = fit_s + slowest_part_s + merge.wall_s;
        Ok(Split {
            parts: count,
            sum_of_parts_s: part_runs.iter().map(|p| p.run.wall_s).sum(),
            part_runs,
            merge,
            slowest_part_s,
            projected_wall_s,
            speedup: segment_s / projected_wall_s,
            identical: mismatch.is_none(),
            mismatch,
        })
    }
}

/// `None` when the files hold the same bytes, else where they first differ.
fn same_bytes(merged: &Path, one: &Path) -> Result<Option<String>> {
    let a = read(merged)?;
    let b = read(one)?;
    if a == b {
        return Ok(None);
    }
    let at = a.iter().zip(&b).position(|(x, y)| x != y);
    let (m, o) = (file_name(merged), file_name(one));
    Ok(Some(match at {
        Some(offset) => format!(
            "{m} ({} bytes) and {o} ({} bytes) first differ at byte {offset}",
            a.len(),
            b.len()
        ),
        None => format!("{m} has {} bytes, {o} {}", a.len(), b.len()),
    }))
}

/// `None` when the text files are equal, else their first differing line.
fn same_text(merged: &Path, one: &Path) -> Result<Option<String>> {
    let a = String::from_utf8_lossy(&read(merged)?).into_owned();
    let b = String::from_utf8_lossy(&read(one)?).into_owned();
    if a == b {
        return Ok(None);
    }
    let (m, o) = (file_name(merged), file_name(one));
    let mut lines = a.lines().zip(b.lines()).enumerate();
    Ok(Some(match lines.find(|(_, (x, y))| x != y) {
        Some((i, (x, y))) => format!("line {} of {m} is {x:?}, of {o} {y:?}", i + 1),
        None => format!(
            "{m} has {} lines, {o} {}",
            a.lines().count(),
            b.lines().count()
        ),
    }))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("could not read {}", path.display()))
}

fn remove_dir(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("could not delete {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn remove_file(path: &Path) -> Result<()> {
    std::fs::remove_file(path).with_context(|| format!("could not delete {}", path.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn seconds(s: f64) -> String {
    format!("{s:.2} s")
}

fn mib(run: &Run) -> String {
    format!("{:.0} MiB", run.peak_rss_mib)
}

impl Results {
    fn print(&self) {
        println!();
        println!(
            "{}: {}×{} px ({:.1} MP), RGB u8 GeoTIFF; {}, every command at its defaults on all {} CPUs, once",
            file_name(&self.raster),
            self.width,
            self.height,
            self.megapixels,
            self.mapseg.display(),
            self.cpus
        );
        println!(
            "one machine: `mapseg segment IN -o one.tif --stats one.csv` {} (peak RSS {}); `mapseg fit` {} (peak RSS \
             {})",
            seconds(self.segment.wall_s),
            mib(&self.segment),
            seconds(self.fit.wall_s),
            mib(&self.fit)
        );
        println!(
            "N nodes: the N parts of `mapseg apply --parts N` ran one after the other here; projected wall = fit + \
             slowest part + merge; speed-up = one-machine segment ÷ projected wall"
        );
        println!();
        println!(
            "| parts | fit | slowest part | sum of parts | merge | projected wall on N nodes | speed-up | merge = \
             one run |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|---|");
        for split in &self.splits {
            println!(
                "| {} | {} | {} | {} | {} | {} | {:.2}× | {} |",
                split.parts,
                seconds(self.fit.wall_s),
                seconds(split.slowest_part_s),
                seconds(split.sum_of_parts_s),
                seconds(split.merge.wall_s),
                seconds(split.projected_wall_s),
                split.speedup,
                if split.identical {
                    "yes (bytes, CSV)".to_owned()
                } else {
                    format!(
                        "**NO**: {}",
                        split.mismatch.as_deref().unwrap_or("?").replace('|', "\\|")
                    )
                },
            );
        }
        println!();
        println!("| parts | part | pixel rows | wall | peak RSS |");
        println!("|---:|---:|---|---:|---:|");
        for split in &self.splits {
            for part in &split.part_runs {
                println!(
                    "| {} | {} | {}–{} | {} | {} |",
                    split.parts,
                    part.index,
                    part.rows[0],
                    part.rows[1],
                    seconds(part.run.wall_s),
                    mib(&part.run)
                );
            }
            println!(
                "| {} | merge | | {} | {} |",
                split.parts,
                seconds(split.merge.wall_s),
                mib(&split.merge)
            );
        }
        println!();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_are_planned_in_whole_tile_rows_and_too_many_parts_refused() -> Result<()> {
        let plans = plan_splits(Rasters::LARGE_SIZE, &[1, 2, 4])?;
        let rows: Vec<Vec<(u32, u32)>> = plans
            .iter()
            .map(|plan| {
                plan.iter()
                    .map(|p| (p.window.y, p.window.y + p.window.height))
                    .collect()
            })
            .collect();
        assert_eq!(rows[0], [(0, 16384)]);
        assert_eq!(rows[1], [(0, 8192), (8192, 16384)]);
        assert_eq!(rows[2].len(), 4);
        assert!(plan_splits(SIZE, &[17]).is_err());
        assert!(plan_splits(SIZE, &[0]).is_err());
        assert!(plan_splits(SIZE, &[]).is_err());
        Ok(())
    }

    #[test]
    fn reports_where_outputs_differ() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-bench-cluster-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let write = |name: &str, text: &str| -> Result<PathBuf> {
            let path = dir.join(name);
            std::fs::write(&path, text)?;
            Ok(path)
        };
        let one = write("one.csv", "class,pixels\n0,10\n1,5\n")?;
        let same = write("same.csv", "class,pixels\n0,10\n1,5\n")?;
        let other = write("other.csv", "class,pixels\n0,10\n1,6\n")?;
        let short = write("short.csv", "class,pixels\n0,10\n")?;
        assert_eq!(same_bytes(&same, &one)?, None);
        assert_eq!(same_text(&same, &one)?, None);
        assert_eq!(
            same_bytes(&other, &one)?.as_deref(),
            Some("other.csv (22 bytes) and one.csv (22 bytes) first differ at byte 20")
        );
        assert_eq!(
            same_text(&other, &one)?.as_deref(),
            Some(r#"line 3 of other.csv is "1,6", of one.csv "1,5""#)
        );
        assert_eq!(
            same_bytes(&short, &one)?.as_deref(),
            Some("short.csv has 18 bytes, one.csv 22")
        );
        assert_eq!(
            same_text(&short, &one)?.as_deref(),
            Some("short.csv has 2 lines, one.csv 3")
        );
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
