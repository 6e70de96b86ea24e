//! The records a shard tree is made of.
//!
//! ```text
//! <out>/.shard-tools.json                        marks the folder as a shard tree
//! <out>/metadata/<dataset>.build.json            build state: plan fingerprint and shard list
//! <out>/metadata/<dataset>.summary.json          written when a build completes
//! <out>/<split>/<dataset>/shard-NNNNN/
//!     inputs/<window id>.tif                     input window (selected bands, georeferenced)
//!     targets/<window id>.tif                    target window, for labelled items
//!     index.jsonl                                one IndexEntry per line
//!     shard.json                                 ShardRecord, written last: the shard is complete
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use engine::raster::{SampleType, Window};
use serde::{Deserialize, Serialize};

use crate::split::Split;

/// Format tag of every record.
pub const FORMAT: &str = "mapseg-shards/1";
/// File marking a folder as a shard tree.
pub const MARKER: &str = ".shard-tools.json";
/// Folder of the build states and summaries.
pub const METADATA_DIR: &str = "metadata";
/// Folder where shards are written before they are moved into place.
pub const PARTIAL_DIR: &str = ".partial";
/// A shard's index.
pub const INDEX_FILE: &str = "index.jsonl";
/// A shard's completion record.
pub const SHARD_FILE: &str = "shard.json";
/// A shard's input folder.
pub const INPUTS_DIR: &str = "inputs";
/// A shard's target folder.
pub const TARGETS_DIR: &str = "targets";

/// Contents of the tree marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Always [`FORMAT`].
    pub format: String,
}

/// Name of the `n`-th shard folder.
pub fn shard_dir_name(n: usize) -> String {
    format!("shard-{n:05}")
}

/// `<out>/<split>/<dataset>/shard-NNNNN`.
pub fn shard_dir(out: &Path, split: Split, dataset: &str, n: usize) -> PathBuf {
    out.join(split.name()).join(dataset).join(shard_dir_name(n))
}

/// `<out>/metadata/<dataset>.build.json`.
pub fn state_path(out: &Path, dataset: &str) -> PathBuf {
    out.join(METADATA_DIR).join(format!("{dataset}.build.json"))
}

/// `<out>/metadata/<dataset>.summary.json`.
pub fn summary_path(out: &Path, dataset: &str) -> PathBuf {
    out.join(METADATA_DIR)
        .join(format!("{dataset}.summary.json"))
}

/// Where a window's pixels came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFiles {
    /// Input raster, relative to the header's folder.
    pub input: String,
    /// Target raster, relative to the header's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// One window of a shard: a line of `index.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexEntry {
    /// Window id, unique in the dataset: `<item>_x<col>_y<row>`.
    pub id: String,
    /// The item (scene) the window was cut from.
    pub item: String,
    /// Dataset id.
    pub dataset: String,
    /// The split.
    pub split: Split,
    /// The source rasters.
    pub source: SourceFiles,
    /// The window in the source's pixel grid.
    pub window: Window,
    /// Input file, relative to the shard folder.
    pub input: String,
    /// Target file, relative to the shard folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether the window has a target.
    pub has_target: bool,
    /// Bands in the input file.
    pub bands: usize,
    /// Sample type of the input file.
    pub sample_type: SampleType,
    /// Georeferencing transform of the input window (GDAL order), if the source had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_transform: Option<[f64; 6]>,
    /// EPSG code of the source, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsg: Option<u32>,
    /// Fraction of input pixels that are nodata in every band.
    pub nodata_fraction: f64,
    /// Pixels per target label (target nodata excluded); empty without a target.
    #[serde(default)]
    pub class_histogram: BTreeMap<i64, u64>,
    /// Target pixels equal to the target's nodata value.
    #[serde(default)]
    pub target_nodata: u64,
}

/// A window that was planned but not written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedWindow {
    /// Window id.
    pub id: String,
    /// Why it was not written.
    pub reason: String,
}

/// `shard.json`: written last into a shard, so that its presence means the shard is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardRecord {
    /// Always [`FORMAT`].
    pub format: String,
    /// Dataset id.
    pub dataset: String,
    /// The split.
    pub split: Split,
    /// Shard number within the split.
    pub shard: usize,
    /// Fingerprint of the plan the shard was built from.
    pub fingerprint: String,
    /// Windows planned for the shard.
    pub planned: usize,
    /// Windows written (lines of `index.jsonl`).
    pub written: usize,
    /// Windows skipped for holding too much nodata.
    pub skipped_nodata: Vec<String>,
    /// Windows that could not be read or written (data dropped).
    pub failed: Vec<SkippedWindow>,
}

/// A source file the build could not use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DroppedItem {
    /// Item id.
    pub item: String,
    /// The file at fault, relative to the header's folder.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The build state: what the tree of one dataset is being built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildState {
    /// Always [`FORMAT`].
    pub format: String,
    /// Dataset id.
    pub dataset: String,
    /// Fingerprint of the plan.
    pub fingerprint: String,
    /// Every shard folder of the plan, relative to the tree root.
    pub shards: Vec<String>,
}

/// Per-split counts of a summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitCounts {
    /// Items with at least one planned window in this split.
    pub items: usize,
    /// Windows planned.
    pub planned_windows: usize,
    /// Windows written.
    pub windows: usize,
    /// Windows with a target.
    pub labelled_windows: usize,
    /// Shards.
    pub shards: usize,
    /// Pixels per label over the split's windows.
    pub class_histogram: BTreeMap<i64, u64>,
}

/// `<dataset>.summary.json`: what a completed build holds and what it dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Always [`FORMAT`].
    pub format: String,
    /// Dataset id.
    pub dataset: String,
    /// Dataset version.
    pub version: String,
    /// Fingerprint of the plan.
    pub fingerprint: String,
    /// Split seed.
    pub seed: u64,
    /// Split unit (`item` or `window`).
    pub split_unit: String,
    /// Window side.
    pub window: u32,
    /// Window stride.
    pub stride: u32,
    /// Windows per shard.
    pub shard_size: usize,
    /// Allowed target labels, if the header lists them.
    pub labels: Option<Vec<i64>>,
    /// Labels the metrics ignore.
    pub ignore_labels: Vec<i64>,
    /// Items paired from the header.
    pub items: usize,
    /// Items with a target.
    pub labelled_items: usize,
    /// Counts per split.
    pub splits: BTreeMap<Split, SplitCounts>,
    /// Windows skipped for holding too much nodata (not an error).
    pub skipped_nodata_windows: usize,
    /// Items whose files could not be used.
    pub dropped_items: Vec<DroppedItem>,
    /// Windows that could not be read or written.
    pub failed_windows: Vec<SkippedWindow>,
}

impl Summary {
    /// Whether any data was dropped (a bad file or a failed window).
    pub fn dropped_data(&self) -> bool {
        !self.dropped_items.is_empty() || !self.failed_windows.is_empty()
    }
}
