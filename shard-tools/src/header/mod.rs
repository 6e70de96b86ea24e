//! The dataset header: one YAML file that says where a dataset's rasters are, how inputs pair
//! with targets, how items are split, how windows are cut into shards and which labels are
//! ignored by the metrics.
//!
//! Parsing is strict: unknown fields are errors, and every semantic problem names the file and
//! the field (`header.yaml: splits.ratios: must sum to 1.0 (got 1.1)`). Relative paths in a
//! header are relative to the directory that holds the header file.
//!
//! ```yaml
//! dataset: spacenet-atlanta-buildings
//! description: SpaceNet Atlanta tile with its rasterised building footprints
//! modalities:
//!   input: { dir: images, pattern: "*.tif" }
//!   target: { dir: masks, pattern: "*.tif", labels: [0, 1] }
//! pairing: { by: stem }
//! splits:
//!   seed: 7
//!   ratios: { train: 0.8, val: 0.1, test: 0.1 }
//!   holdout: { fraction: 0.1 }
//! sharding: { window: 256, stride: 256, shard_size: 64 }
//! validation: { ignore_labels: [255] }
//! ```

mod check;
mod template;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use check::Issue;
pub use template::{TemplateOptions, render_template};

/// The largest window side a header may ask for.
pub const MAX_WINDOW: u32 = 16_384;

/// A parsed and validated dataset header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Dataset id: letters, digits, `-`, `_` and `.`; it names the dataset's folder in a shard tree.
    pub dataset: String,
    /// Free-form version of the dataset.
    #[serde(default = "default_version")]
    pub version: String,
    /// What the dataset is.
    #[serde(default)]
    pub description: String,
    /// The input rasters and the optional target (label) rasters.
    pub modalities: Modalities,
    /// How inputs are paired with targets.
    #[serde(default)]
    pub pairing: Pairing,
    /// How units (items or windows) are assigned to splits.
    #[serde(default)]
    pub splits: Splits,
    /// Window size, stride and shard size.
    #[serde(default)]
    pub sharding: Sharding,
    /// What the metrics and the validator ignore.
    #[serde(default)]
    pub validation: Validation,
}

fn default_version() -> String {
    "1".to_owned()
}

/// The input modality and the optional target modality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modalities {
    /// Input rasters (imagery).
    pub input: InputModality,
    /// Target rasters (one band of integer labels); absent for unlabelled datasets.
    #[serde(default)]
    pub target: Option<TargetModality>,
}

/// Where the input rasters are and which bands to keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputModality {
    /// Folder of input rasters (required when pairing by stem).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// File-name pattern with `*` and `?` wildcards, matched case-sensitively.
    #[serde(default = "default_pattern")]
    pub pattern: String,
    /// Suffix removed from file stems before pairing (`tile_7_img.tif` → `tile_7`).
    #[serde(default)]
    pub stem_suffix: String,
    /// 1-based bands to keep, in order; every band but alpha when absent.
    #[serde(default)]
    pub bands: Option<Vec<usize>>,
}

/// Where the target rasters are and which labels they may hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetModality {
    /// Folder of target rasters (required when pairing by stem).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// File-name pattern with `*` and `?` wildcards.
    #[serde(default = "default_pattern")]
    pub pattern: String,
    /// Suffix removed from file stems before pairing (`tile_7_mask.tif` → `tile_7`).
    #[serde(default)]
    pub stem_suffix: String,
    /// The label values targets may hold (besides nodata and ignored labels); unchecked when absent.
    #[serde(default)]
    pub labels: Option<Vec<i64>>,
}

fn default_pattern() -> String {
    "*.tif".to_owned()
}

/// How inputs are paired with targets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pairing {
    /// `stem` (same file stem in both folders) or `manifest` (a CSV file).
    #[serde(default)]
    pub by: PairingKind,
    /// CSV with the columns `id,input,target` (target may be empty); paths relative to the CSV.
    #[serde(default)]
    pub manifest: Option<PathBuf>,
}

/// The pairing strategy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PairingKind {
    /// Input and target share a file stem (after removing each modality's `stem_suffix`).
    #[default]
    Stem,
    /// Pairs are listed in a CSV manifest.
    Manifest,
}

/// How units are assigned to the `train`, `val`, `test` and `metrics` splits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Splits {
    /// Seed of the ratio assignment.
    #[serde(default)]
    pub seed: u64,
    /// What is assigned to a split: whole items (scenes) or single windows.
    #[serde(default)]
    pub unit: SplitUnit,
    /// Fractions of the non-holdout units per split; they must sum to 1.0.
    #[serde(default)]
    pub ratios: Option<Ratios>,
    /// CSV with the columns `id,split` (item ids; split is train, val, test or metrics).
    #[serde(default)]
    pub manifest: Option<PathBuf>,
    /// Labelled units kept for the metrics split only.
    #[serde(default)]
    pub holdout: Option<Holdout>,
}

/// The unit of split assignment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitUnit {
    /// Every window of an item lands in the same split (no spatial leakage between splits).
    #[default]
    Item,
    /// Each window is assigned on its own (for datasets made of a few large scenes).
    Window,
}

/// Split fractions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ratios {
    /// Fraction for `train`.
    #[serde(default)]
    pub train: f64,
    /// Fraction for `val`.
    #[serde(default)]
    pub val: f64,
    /// Fraction for `test`.
    #[serde(default)]
    pub test: f64,
}

/// The labelled metrics holdout: chosen before any other split and never part of train or val.
///
/// Its choice depends only on its own `seed`, so changing `splits.seed` or the ratios never
/// moves a unit into or out of the holdout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holdout {
    /// Item ids held out, with all their windows.
    #[serde(default)]
    pub items: Vec<String>,
    /// Fraction of the labelled units held out (rounded to the nearest count).
    #[serde(default)]
    pub fraction: Option<f64>,
    /// Seed of the fraction draw.
    #[serde(default)]
    pub seed: u64,
}

/// How rasters are cut into windows and windows grouped into shards.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sharding {
    /// Window side in pixels.
    #[serde(default = "default_window")]
    pub window: u32,
    /// Step between windows in pixels; the window side when absent.
    #[serde(default)]
    pub stride: Option<u32>,
    /// Windows per shard.
    #[serde(default = "default_shard_size")]
    pub shard_size: usize,
    /// What happens at the right and bottom edges when the stride does not fit exactly.
    #[serde(default)]
    pub edge: Edge,
    /// Windows whose fraction of nodata pixels is above this are skipped (1.0 keeps all).
    #[serde(default = "default_max_nodata")]
    pub max_nodata_fraction: f64,
}

impl Default for Sharding {
    fn default() -> Self {
        Self {
            window: default_window(),
            stride: None,
            shard_size: default_shard_size(),
            edge: Edge::default(),
            max_nodata_fraction: default_max_nodata(),
        }
    }
}

impl Sharding {
    /// The stride in effect.
    pub fn stride(&self) -> u32 {
        self.stride.unwrap_or(self.window)
    }
}

fn default_window() -> u32 {
    256
}
fn default_shard_size() -> usize {
    256
}
fn default_max_nodata() -> f64 {
    1.0
}

/// Edge handling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Edge {
    /// Add a last window flush with the edge (it overlaps its neighbour).
    #[default]
    Shift,
    /// Drop the strip that does not fill a whole window.
    Drop,
}

/// Labels that metrics and validation ignore.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validation {
    /// Target labels excluded from IoU and accuracy (for instance 255 for "unknown").
    #[serde(default)]
    pub ignore_labels: Vec<i64>,
}

/// Failure to load a header.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The header file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not fit the schema (unknown field, wrong type).
    #[error("{}: {message}", path.display())]
    Parse {
        /// The header file.
        path: PathBuf,
        /// The parser's message, which names the field.
        message: String,
    },
    /// The header parsed but some values are invalid.
    #[error("{}", format_issues(path, issues))]
    Invalid {
        /// The header file.
        path: PathBuf,
        /// Every problem found.
        issues: Vec<Issue>,
    },
}

impl HeaderError {
    /// Every problem as its own `file: field: message` line.
    pub fn lines(&self) -> Vec<String> {
        match self {
            HeaderError::Invalid { path, issues } => issues
                .iter()
                .map(|i| format!("{}: {i}", path.display()))
                .collect(),
            other => vec![other.to_string()],
        }
    }
}

fn format_issues(path: &Path, issues: &[Issue]) -> String {
    let first = issues
        .first()
        .map(|i| format!("{}: {i}", path.display()))
        .unwrap_or_else(|| format!("{}: invalid header", path.display()));
    match issues.len() {
        0 | 1 => first,
        n => format!("{first} (and {} more problems)", n - 1),
    }
}

/// A header together with the file it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedHeader {
    /// The header file as given by the caller.
    pub path: PathBuf,
    /// The folder relative paths in the header are resolved against.
    pub base: PathBuf,
    /// The parsed, validated header.
    pub header: Header,
}

impl LoadedHeader {
    /// `rel` resolved against the header's folder.
    pub fn resolve(&self, rel: &Path) -> PathBuf {
        self.base.join(rel)
    }
}

/// Reads, parses and validates a header file.
pub fn load(path: &Path) -> Result<LoadedHeader, HeaderError> {
    let text = std::fs::read_to_string(path).map_err(|source| HeaderError::Io {
        path: path.to_owned(),
        source,
    })?;
    let header = parse(path, &text)?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok(LoadedHeader {
        path: path.to_owned(),
        base,
        header,
    })
}

/// Parses and validates header text; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<Header, HeaderError> {
    let header: Header = serde_norway::from_str(text).map_err(|e| HeaderError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let issues = check::check(&header);
    if issues.is_empty() {
        Ok(header)
    } else {
        Err(HeaderError::Invalid {
            path: path.to_owned(),
            issues,
        })
    }
}

/// Whether `id` may name a dataset or an item: non-empty ASCII letters, digits, `-`, `_`, `.`,
/// not starting with `.`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
