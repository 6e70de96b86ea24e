//! Checking a shard tree against its indexes: missing or extra files, shapes, georeferencing,
//! class histograms and label ranges.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use engine::raster::Window;

use crate::build::histogram;
use crate::index::{
    self, BuildState, INDEX_FILE, INPUTS_DIR, IndexEntry, PARTIAL_DIR, SHARD_FILE, ShardRecord,
    Summary, TARGETS_DIR,
};
use crate::rio::{RasterFile, transforms_match};
use crate::split::Split;

/// One problem in a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file or folder at fault.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// What validation found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationReport {
    /// Datasets seen.
    pub datasets: BTreeSet<String>,
    /// Shard folders checked.
    pub shards: usize,
    /// Index entries checked.
    pub windows: usize,
    /// Every problem.
    pub problems: Vec<Problem>,
}

impl ValidationReport {
    fn problem(&mut self, path: &Path, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_owned(),
            message: message.into(),
        });
    }
}

/// Failure to validate at all.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The folder cannot be listed.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

fn sorted_dirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, ValidateError> {
    let mut out = Vec::new();
    let rd = fs::read_dir(dir).map_err(|source| ValidateError::Io {
        path: dir.to_owned(),
        source,
    })?;
    for entry in rd.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.push((entry.file_name().to_string_lossy().into_owned(), path));
        }
    }
    out.sort();
    Ok(out)
}

/// What a dataset's summary allows.
#[derive(Debug, Default)]
struct Allowed {
    labels: Option<BTreeSet<i64>>,
}

/// Validates every shard under `root`.
pub fn validate_tree(root: &Path) -> Result<ValidationReport, ValidateError> {
    let mut report = ValidationReport::default();
    if !root.join(index::MARKER).is_file() {
        report.problem(root, format!("not a shard tree (no {})", index::MARKER));
    }
    let partial = root.join(PARTIAL_DIR);
    if partial.is_dir() {
        report.problem(
            &partial,
            "unfinished shards: a build was interrupted; rerun it",
        );
    }
    let mut allowed: BTreeMap<String, Allowed> = BTreeMap::new();
    let mut seen_ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut seen_shards: BTreeSet<String> = BTreeSet::new();
    for (split_name, split_dir) in sorted_dirs(root)? {
        let Some(split) = Split::parse(&split_name).filter(|s| s.name() == split_name) else {
            continue;
        };
        for (dataset, dataset_dir) in sorted_dirs(&split_dir)? {
            report.datasets.insert(dataset.clone());
            let allow = allowed
                .entry(dataset.clone())
                .or_insert_with(|| load_allowed(root, &dataset, &mut report));
            let ids = seen_ids.entry(dataset.clone()).or_default();
            for (name, shard_dir) in sorted_dirs(&dataset_dir)? {
                if !name.starts_with("shard-") {
                    report.problem(&shard_dir, "unexpected folder (not a shard)");
                    continue;
                }
                seen_shards.insert(format!("{split_name}/{dataset}/{name}"));
                report.shards += 1;
                check_shard(&shard_dir, split, &dataset, allow, ids, &mut report);
            }
        }
    }
    for dataset in report.datasets.clone() {
        let state_path = index::state_path(root, &dataset);
        let Ok(text) = fs::read_to_string(&state_path) else {
            continue;
        };
        match serde_json::from_str::<BuildState>(&text) {
            Ok(state) => {
                for rel in state.shards {
                    if !seen_shards.contains(&rel) {
                        report.problem(
                            &root.join(&rel),
                            "shard listed in the build state is missing",
                        );
                    }
                }
            }
            Err(e) => report.problem(&state_path, format!("unreadable build state: {e}")),
        }
    }
    Ok(report)
}

fn load_allowed(root: &Path, dataset: &str, report: &mut ValidationReport) -> Allowed {
    let path = index::summary_path(root, dataset);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(_) => {
            report.problem(&path, "missing: the build of this dataset did not complete");
            return Allowed::default();
        }
    };
    match serde_json::from_str::<Summary>(&text) {
        Ok(s) => Allowed {
            labels: s
                .labels
                .map(|l| l.into_iter().chain(s.ignore_labels).collect()),
        },
        Err(e) => {
            report.problem(&path, format!("unreadable summary: {e}"));
            Allowed::default()
        }
    }
}

fn check_shard(
    dir: &Path,
    split: Split,
    dataset: &str,
    allow: &Allowed,
    ids: &mut BTreeSet<String>,
    report: &mut ValidationReport,
) {
    let record_path = dir.join(SHARD_FILE);
    let record = match fs::read_to_string(&record_path) {
        Ok(text) => match serde_json::from_str::<ShardRecord>(&text) {
            Ok(r) => Some(r),
            Err(e) => {
                report.problem(&record_path, format!("unreadable: {e}"));
                None
            }
        },
        Err(_) => {
            report.problem(&record_path, "missing: the shard is incomplete");
            None
        }
    };
    let index_path = dir.join(INDEX_FILE);
    let Ok(text) = fs::read_to_string(&index_path) else {
        report.problem(&index_path, "missing");
        return;
    };
    let mut listed: BTreeSet<String> = BTreeSet::new();
    let mut count = 0;
    for (n, line) in text.lines().enumerate() {
        let entry: IndexEntry = match serde_json::from_str(line) {
            Ok(e) => e,
            Err(e) => {
                report.problem(&index_path, format!("line {}: {e}", n + 1));
                continue;
            }
        };
        count += 1;
        report.windows += 1;
        if entry.split != split || entry.dataset != dataset {
            report.problem(
                &index_path,
                format!(
                    "line {}: entry {} says {}/{} but lies in {}/{dataset}",
                    n + 1,
                    entry.id,
                    entry.split,
                    entry.dataset,
                    split
                ),
            );
        }
        if !ids.insert(entry.id.clone()) {
            report.problem(
                &index_path,
                format!("line {}: window {} appears twice", n + 1, entry.id),
            );
        }
        listed.insert(entry.input.clone());
        if let Some(t) = &entry.target {
            listed.insert(t.clone());
        }
        check_entry(dir, &entry, allow, report);
    }
    if let Some(r) = record
        && r.written != count
    {
        report.problem(
            &index_path,
            format!(
                "holds {count} entries but shard.json says {} were written",
                r.written
            ),
        );
    }
    for sub in [INPUTS_DIR, TARGETS_DIR] {
        let Ok(rd) = fs::read_dir(dir.join(sub)) else {
            continue;
        };
        let mut names: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let rel = format!("{sub}/{name}");
            if !listed.contains(&rel) {
                report.problem(&dir.join(&rel), "not listed in index.jsonl");
            }
        }
    }
}

fn check_entry(dir: &Path, e: &IndexEntry, allow: &Allowed, report: &mut ValidationReport) {
    let input_path = dir.join(&e.input);
    let input = match RasterFile::open(&input_path) {
        Ok(f) => f,
        Err(err) => {
            report.problem(&input_path, format!("unreadable: {err}"));
            return;
        }
    };
    let info = input.info().clone();
    if (info.width, info.height) != (e.window.width, e.window.height) {
        report.problem(
            &input_path,
            format!(
                "is {}x{} but the index says {}x{}",
                info.width, info.height, e.window.width, e.window.height
            ),
        );
    }
    if info.bands != e.bands || info.sample_type != e.sample_type {
        report.problem(
            &input_path,
            format!(
                "has {} {} bands but the index says {} {}",
                info.bands, info.sample_type, e.bands, e.sample_type
            ),
        );
    }
    match (&e.geo_transform, &info.georef) {
        (Some(expected), Some(g)) if !transforms_match(expected, &g.transform.0) => {
            report.problem(&input_path, "georeference differs from the index");
        }
        (Some(_), None) => {
            report.problem(&input_path, "is not georeferenced but the index says it is")
        }
        _ => {}
    }
    match (&e.target, e.has_target) {
        (Some(rel), true) => check_target(dir, rel, e, &info, allow, report),
        (None, false) => {}
        _ => report.problem(
            &dir.join(INDEX_FILE),
            format!("window {}: has_target disagrees with target", e.id),
        ),
    }
}

fn check_target(
    dir: &Path,
    rel: &str,
    e: &IndexEntry,
    input: &engine::geotiff::RasterInfo,
    allow: &Allowed,
    report: &mut ValidationReport,
) {
    let path = dir.join(rel);
    let mut target = match RasterFile::open(&path) {
        Ok(f) => f,
        Err(err) => {
            report.problem(&path, format!("unreadable: {err}"));
            return;
        }
    };
    let info = target.info().clone();
    if info.bands != 1 {
        report.problem(
            &path,
            format!("has {} bands; a target must have one", info.bands),
        );
        return;
    }
    if (info.width, info.height) != (input.width, input.height) {
        report.problem(
            &path,
            format!(
                "is {}x{} but its input is {}x{}",
                info.width, info.height, input.width, input.height
            ),
        );
        return;
    }
    if let (Some(a), Some(b)) = (&info.georef, &input.georef)
        && !transforms_match(&a.transform.0, &b.transform.0)
    {
        report.problem(&path, "georeference differs from its input");
    }
    let block = match target.read(Window::new(0, 0, info.width, info.height)) {
        Ok(b) => b,
        Err(err) => {
            report.problem(&path, format!("unreadable pixels: {err}"));
            return;
        }
    };
    let (hist, nodata) = histogram(&block.samples, info.nodata);
    if hist != e.class_histogram || nodata != e.target_nodata {
        report.problem(&path, "class histogram differs from the index");
    }
    if let Some(labels) = &allow.labels {
        let bad: Vec<String> = hist
            .keys()
            .filter(|l| !labels.contains(l))
            .map(i64::to_string)
            .collect();
        if !bad.is_empty() {
            report.problem(
                &path,
                format!("labels outside the header's list: {}", bad.join(", ")),
            );
        }
    }
}
