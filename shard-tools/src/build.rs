//! Writing a shard tree from a [`Plan`]: resumable, idempotent, and careful with files it did
//! not write.
//!
//! - Each shard is written into `<out>/.partial/…` and renamed into place once its
//!   `shard.json` is written, so a shard folder in the tree is either complete or absent.
//! - A rerun with the same plan (same fingerprint) keeps every complete shard and writes the
//!   missing ones; the result is byte-for-byte the tree an uninterrupted build writes.
//! - A plan with another fingerprint is refused unless [`BuildOptions::rebuild`] is set; then the
//!   old shards are removed file by file (only names this crate writes).
//! - A window whose source cannot be decoded is recorded in its shard and skipped; a failure to
//!   write the output stops the build.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use engine::features::Validity;
use engine::geotiff::WriterOptions;
use engine::raster::{PixelBlock, Samples};

use crate::fsutil::{self, FsError, io};
use crate::index::{
    self, BuildState, FORMAT, INDEX_FILE, INPUTS_DIR, IndexEntry, PARTIAL_DIR, SHARD_FILE,
    ShardRecord, SkippedWindow, SourceFiles, SplitCounts, Summary, TARGETS_DIR,
};
use crate::plan::{Plan, PlannedItem, PlannedWindow, ShardPlan};
use crate::rio::{RasterError, RasterFile, is_integer, label_at, select_bands};
use crate::split::Split;

/// Build settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Replace a tree built from a different plan of the same dataset.
    pub rebuild: bool,
    /// Stop after writing this many new shards (the next run continues).
    pub stop_after: Option<usize>,
}

/// Receives build progress (one tick per planned window).
pub trait BuildProgress {
    /// The build starts with `total` planned windows.
    fn begin(&self, total: u64);
    /// `n` more windows are done (written, skipped or reused).
    fn advance(&self, n: u64);
    /// The build has ended.
    fn finish(&self);
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl BuildProgress for NoProgress {
    fn begin(&self, _total: u64) {}
    fn advance(&self, _n: u64) {}
    fn finish(&self) {}
}

/// What a build did.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildOutcome {
    /// The summary, when every shard is complete.
    pub summary: Option<Summary>,
    /// Shards written by this run.
    pub shards_written: usize,
    /// Complete shards kept from an earlier run.
    pub shards_reused: usize,
    /// Shards in the plan.
    pub shards_total: usize,
}

impl BuildOutcome {
    /// Whether every planned shard is complete.
    pub fn complete(&self) -> bool {
        self.summary.is_some()
    }
}

/// Failure of a build.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// File-system failure or refusal.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The tree holds a build of this dataset from a different plan.
    #[error(
        "{} was built from a different header or different sources; pass --rebuild to replace it",
        path.display()
    )]
    Stale {
        /// The build state file.
        path: PathBuf,
    },
    /// An output raster could not be written.
    #[error("cannot write {0}")]
    Output(#[source] RasterError),
    /// A record of the tree is unreadable.
    #[error("{}: {message}", path.display())]
    Record {
        /// The record.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Builds (or resumes) the shard tree of `plan` under `out`.
pub fn build(
    plan: &Plan,
    out: &Path,
    options: &BuildOptions,
    progress: &dyn BuildProgress,
) -> Result<BuildOutcome, BuildError> {
    fsutil::prepare_tree(out)?;
    let dataset = plan.h().dataset.clone();
    let meta = out.join(index::METADATA_DIR);
    fs::create_dir_all(&meta).map_err(io(&meta))?;
    check_state(plan, out, options.rebuild)?;
    let state = BuildState {
        format: FORMAT.to_owned(),
        dataset: dataset.clone(),
        fingerprint: plan.fingerprint.clone(),
        shards: plan
            .shards
            .iter()
            .map(|s| relative_shard(s, &dataset))
            .collect(),
    };
    fsutil::write_atomic(&index::state_path(out, &dataset), &to_json(&state))?;

    progress.begin(plan.total_windows() as u64);
    let mut outcome = BuildOutcome {
        summary: None,
        shards_written: 0,
        shards_reused: 0,
        shards_total: plan.shards.len(),
    };
    let mut stopped = false;
    for shard in &plan.shards {
        let final_dir = index::shard_dir(out, shard.split, &dataset, shard.number);
        if is_complete(&final_dir, &plan.fingerprint) {
            outcome.shards_reused += 1;
            progress.advance(shard.windows.len() as u64);
            continue;
        }
        if options
            .stop_after
            .is_some_and(|n| outcome.shards_written >= n)
        {
            stopped = true;
            break;
        }
        fsutil::remove_shard_dir(&final_dir)?;
        let partial = out
            .join(PARTIAL_DIR)
            .join(shard.split.name())
            .join(&dataset)
            .join(index::shard_dir_name(shard.number));
        fsutil::remove_shard_dir(&partial)?;
        write_shard(plan, shard, &partial, progress)?;
        if let Some(parent) = final_dir.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        fs::rename(&partial, &final_dir).map_err(io(&final_dir))?;
        if let Some(parent) = final_dir.parent() {
            fsutil::sync_dir(parent);
        }
        outcome.shards_written += 1;
    }
    for split in Split::ALL {
        fsutil::remove_empty_dirs(
            &out.join(PARTIAL_DIR).join(split.name()).join(&dataset),
            out,
        );
    }
    if !stopped {
        let summary = summarize(plan, out)?;
        fsutil::write_atomic(&index::summary_path(out, &dataset), &to_json(&summary))?;
        outcome.summary = Some(summary);
    }
    progress.finish();
    Ok(outcome)
}

fn relative_shard(s: &ShardPlan, dataset: &str) -> String {
    format!(
        "{}/{}/{}",
        s.split.name(),
        dataset,
        index::shard_dir_name(s.number)
    )
}

fn to_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(v).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Refuses a tree built from another plan, or clears it with `rebuild`.
fn check_state(plan: &Plan, out: &Path, rebuild: bool) -> Result<(), BuildError> {
    let dataset = &plan.h().dataset;
    let path = index::state_path(out, dataset);
    if !path.exists() {
        return Ok(());
    }
    let text = fs::read_to_string(&path).map_err(io(&path))?;
    let old: BuildState = serde_json::from_str(&text).map_err(|e| BuildError::Record {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if old.fingerprint == plan.fingerprint {
        return Ok(());
    }
    if !rebuild {
        return Err(BuildError::Stale { path });
    }
    for rel in &old.shards {
        let dir = out.join(rel);
        // Only folders shaped like ours are touched, whatever the state file says.
        let ok = rel.split('/').count() == 3
            && rel.starts_with(|c: char| c.is_ascii_lowercase())
            && rel.contains("/shard-")
            && !rel.contains("..");
        if ok {
            fsutil::remove_shard_dir(&dir)?;
            if let Some(parent) = dir.parent() {
                fsutil::remove_empty_dirs(parent, out);
            }
        }
    }
    let summary = index::summary_path(out, dataset);
    if summary.is_file() {
        fs::remove_file(&summary).map_err(io(&summary))?;
    }
    Ok(())
}

/// Whether `dir` holds a complete shard of the plan with this fingerprint.
fn is_complete(dir: &Path, fingerprint: &str) -> bool {
    let Ok(text) = fs::read_to_string(dir.join(SHARD_FILE)) else {
        return false;
    };
    match serde_json::from_str::<ShardRecord>(&text) {
        Ok(r) => r.fingerprint == fingerprint && dir.join(INDEX_FILE).is_file(),
        Err(_) => false,
    }
}

/// Open readers of one item.
struct Sources {
    item: usize,
    input: RasterFile,
    target: Option<RasterFile>,
}

/// Why a window was not written.
enum WindowFailure {
    /// The source could not be read: recorded, the build goes on.
    Source(String),
    /// The output could not be written: the build stops.
    Output(RasterError),
}

fn write_shard(
    plan: &Plan,
    shard: &ShardPlan,
    dir: &Path,
    progress: &dyn BuildProgress,
) -> Result<(), BuildError> {
    let inputs = dir.join(INPUTS_DIR);
    fs::create_dir_all(&inputs).map_err(io(&inputs))?;
    let labelled = shard
        .windows
        .iter()
        .any(|w| plan.items[w.item].item.target.is_some());
    if labelled {
        let targets = dir.join(TARGETS_DIR);
        fs::create_dir_all(&targets).map_err(io(&targets))?;
    }
    let mut record = ShardRecord {
        format: FORMAT.to_owned(),
        dataset: plan.h().dataset.clone(),
        split: shard.split,
        shard: shard.number,
        fingerprint: plan.fingerprint.clone(),
        planned: shard.windows.len(),
        written: 0,
        skipped_nodata: Vec::new(),
        failed: Vec::new(),
    };
    let mut lines = String::new();
    let mut sources: Option<Sources> = None;
    let mut bad_items: BTreeMap<usize, String> = BTreeMap::new();
    for w in &shard.windows {
        progress.advance(1);
        if let Some(reason) = bad_items.get(&w.item) {
            record.failed.push(SkippedWindow {
                id: w.id.clone(),
                reason: reason.clone(),
            });
            continue;
        }
        if sources.as_ref().is_none_or(|s| s.item != w.item) {
            match open_sources(plan, w.item) {
                Ok(s) => sources = Some(s),
                Err(reason) => {
                    bad_items.insert(w.item, reason.clone());
                    record.failed.push(SkippedWindow {
                        id: w.id.clone(),
                        reason,
                    });
                    sources = None;
                    continue;
                }
            }
        }
        let Some(src) = sources.as_mut() else {
            continue;
        };
        match write_window(plan, w, src, dir) {
            Ok(Some(entry)) => {
                let line = serde_json::to_string(&entry).map_err(|e| BuildError::Record {
                    path: dir.join(INDEX_FILE),
                    message: e.to_string(),
                })?;
                lines.push_str(&line);
                lines.push('\n');
                record.written += 1;
            }
            Ok(None) => record.skipped_nodata.push(w.id.clone()),
            Err(WindowFailure::Source(reason)) => record.failed.push(SkippedWindow {
                id: w.id.clone(),
                reason,
            }),
            Err(WindowFailure::Output(e)) => return Err(BuildError::Output(e)),
        }
    }
    fsutil::write_atomic(&dir.join(INDEX_FILE), lines.as_bytes())?;
    fsutil::write_atomic(&dir.join(SHARD_FILE), &to_json(&record))?;
    fsutil::sync_dir(dir);
    Ok(())
}

fn open_sources(plan: &Plan, item: usize) -> Result<Sources, String> {
    let p = &plan.items[item].item;
    let input =
        RasterFile::open(&plan.header.resolve(Path::new(&p.input))).map_err(|e| e.to_string())?;
    let target = match &p.target {
        Some(t) => {
            Some(RasterFile::open(&plan.header.resolve(Path::new(t))).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    Ok(Sources {
        item,
        input,
        target,
    })
}

/// Writes one window; `Ok(None)` when it holds too much nodata.
fn write_window(
    plan: &Plan,
    w: &PlannedWindow,
    src: &mut Sources,
    dir: &Path,
) -> Result<Option<IndexEntry>, WindowFailure> {
    let item: &PlannedItem = &plan.items[w.item];
    let block = src
        .input
        .read(w.window)
        .map_err(|e| WindowFailure::Source(e.to_string()))?;
    let info = src.input.info();
    let nodata_fraction = nodata_fraction(&block, &Validity::of(info));
    if nodata_fraction > plan.h().sharding.max_nodata_fraction {
        return Ok(None);
    }
    let samples = select_bands(&block.samples, block.bands, &item.bands);
    let georef = info.georef.as_ref().map(|g| g.for_window(w.window));
    let input_rel = format!("{INPUTS_DIR}/{}.tif", w.id);
    let options = WriterOptions {
        width: w.window.width,
        height: w.window.height,
        bands: item.bands.len(),
        sample_type: samples.sample_type(),
        georef: georef.clone(),
        nodata: info.nodata,
        palette: None,
        metadata: Vec::new(),
        band_descriptions: Vec::new(),
    };
    crate::rio::write(&dir.join(&input_rel), options, &samples).map_err(WindowFailure::Output)?;

    let mut entry = IndexEntry {
        id: w.id.clone(),
        item: item.item.id.clone(),
        dataset: plan.h().dataset.clone(),
        split: w.split,
        source: SourceFiles {
            input: item.item.input.clone(),
            target: item.item.target.clone(),
        },
        window: w.window,
        input: input_rel,
        target: None,
        has_target: false,
        bands: item.bands.len(),
        sample_type: samples.sample_type(),
        geo_transform: georef.as_ref().map(|g| g.transform.0),
        epsg: georef.as_ref().and_then(|g| g.epsg),
        nodata_fraction,
        class_histogram: BTreeMap::new(),
        target_nodata: 0,
    };
    if let Some(target) = src.target.as_mut() {
        let t = target
            .read(w.window)
            .map_err(|e| WindowFailure::Source(e.to_string()))?;
        let tinfo = target.info();
        let (hist, nodata) = histogram(&t.samples, tinfo.nodata);
        let target_rel = format!("{TARGETS_DIR}/{}.tif", w.id);
        let options = WriterOptions {
            width: w.window.width,
            height: w.window.height,
            bands: 1,
            sample_type: t.samples.sample_type(),
            georef: tinfo.georef.as_ref().map(|g| g.for_window(w.window)),
            nodata: tinfo.nodata,
            palette: None,
            metadata: Vec::new(),
            band_descriptions: Vec::new(),
        };
        crate::rio::write(&dir.join(&target_rel), options, &t.samples)
            .map_err(WindowFailure::Output)?;
        entry.target = Some(target_rel);
        entry.has_target = true;
        entry.class_histogram = hist;
        entry.target_nodata = nodata;
    }
    Ok(Some(entry))
}

/// Fraction of the pixels of `block` that are nodata by the engine's rule ([`Validity`]): the
/// pixels Mapseg would neither sample nor cluster.
pub fn nodata_fraction(block: &PixelBlock, validity: &Validity) -> f64 {
    let mask = validity.mask(block);
    if mask.is_empty() {
        return 0.0;
    }
    let nodata = mask.iter().filter(|&&valid| !valid).count();
    nodata as f64 / mask.len() as f64
}

/// Pixels per label of one-band integer `samples`, and the count of nodata pixels.
pub fn histogram(samples: &Samples, nodata: Option<f64>) -> (BTreeMap<i64, u64>, u64) {
    let mut hist = BTreeMap::new();
    let mut nd = 0;
    if !is_integer(samples) {
        return (hist, nd);
    }
    let mut dense = [0u64; 256];
    for i in 0..samples.len() {
        let v = label_at(samples, i);
        if nodata.is_some_and(|n| v as f64 == n) {
            nd += 1;
        } else if (0..256).contains(&v) {
            dense[v as usize] += 1;
        } else {
            *hist.entry(v).or_insert(0) += 1;
        }
    }
    for (label, &count) in dense.iter().enumerate() {
        if count > 0 {
            hist.insert(label as i64, count);
        }
    }
    (hist, nd)
}

/// Reads every shard's records back and sums them up.
fn summarize(plan: &Plan, out: &Path) -> Result<Summary, BuildError> {
    let h = plan.h();
    let mut splits: BTreeMap<Split, SplitCounts> = BTreeMap::new();
    let mut items_per_split: BTreeMap<Split, BTreeSet<usize>> = BTreeMap::new();
    let mut skipped = 0;
    let mut failed = Vec::new();
    for shard in &plan.shards {
        let dir = index::shard_dir(out, shard.split, &h.dataset, shard.number);
        let record_path = dir.join(SHARD_FILE);
        let text = fs::read_to_string(&record_path).map_err(io(&record_path))?;
        let record: ShardRecord = serde_json::from_str(&text).map_err(|e| BuildError::Record {
            path: record_path.clone(),
            message: e.to_string(),
        })?;
        let counts = splits.entry(shard.split).or_default();
        counts.shards += 1;
        counts.planned_windows += shard.windows.len();
        items_per_split
            .entry(shard.split)
            .or_default()
            .extend(shard.windows.iter().map(|w| w.item));
        skipped += record.skipped_nodata.len();
        failed.extend(record.failed);
        let index_path = dir.join(INDEX_FILE);
        let text = fs::read_to_string(&index_path).map_err(io(&index_path))?;
        for (n, line) in text.lines().enumerate() {
            let entry: IndexEntry = serde_json::from_str(line).map_err(|e| BuildError::Record {
                path: index_path.clone(),
                message: format!("line {}: {e}", n + 1),
            })?;
            counts.windows += 1;
            if entry.has_target {
                counts.labelled_windows += 1;
            }
            for (label, count) in entry.class_histogram {
                *counts.class_histogram.entry(label).or_insert(0) += count;
            }
        }
    }
    for (split, items) in items_per_split {
        if let Some(c) = splits.get_mut(&split) {
            c.items = items.len();
        }
    }
    Ok(Summary {
        format: FORMAT.to_owned(),
        dataset: h.dataset.clone(),
        version: h.version.clone(),
        fingerprint: plan.fingerprint.clone(),
        seed: h.splits.seed,
        split_unit: match h.splits.unit {
            crate::header::SplitUnit::Item => "item".to_owned(),
            crate::header::SplitUnit::Window => "window".to_owned(),
        },
        window: h.sharding.window,
        stride: h.sharding.stride(),
        shard_size: h.sharding.shard_size,
        labels: h.modalities.target.as_ref().and_then(|t| t.labels.clone()),
        ignore_labels: h.validation.ignore_labels.clone(),
        items: plan.items.len() + plan.dropped.len(),
        labelled_items: plan
            .items
            .iter()
            .filter(|p| p.item.target.is_some())
            .count(),
        splits,
        skipped_nodata_windows: skipped,
        dropped_items: plan.dropped.clone(),
        failed_windows: failed,
    })
}

#[cfg(test)]
mod tests {
    use engine::raster::Window;

    use super::*;

    #[test]
    fn nodata_is_the_engines_nodata() {
        // Two data bands and an alpha band; nodata 0.
        let pixels = [
            [0.0, 0.0, 255.0],      // every data band is nodata
            [0.0, 5.0, 255.0],      // one data band is nodata: still data
            [f32::NAN, 1.0, 255.0], // NaN in one band
            [3.0, 3.0, 0.0],        // transparent
            [3.0, 3.0, 255.0],
        ];
        let block = PixelBlock {
            window: Window::new(0, 0, 5, 1),
            bands: 3,
            samples: Samples::F32(pixels.concat()),
        };
        let validity = Validity {
            data_bands: vec![0, 1],
            nodata: Some(0.0),
            alpha_band: Some(2),
        };
        assert_eq!(nodata_fraction(&block, &validity), 3.0 / 5.0);
        let no_rule = Validity {
            data_bands: vec![0, 1],
            nodata: None,
            alpha_band: None,
        };
        assert_eq!(nodata_fraction(&block, &no_rule), 1.0 / 5.0);
        let empty = PixelBlock {
            window: Window::new(0, 0, 0, 0),
            bands: 3,
            samples: Samples::F32(Vec::new()),
        };
        assert_eq!(nodata_fraction(&empty, &validity), 0.0);
    }
}
