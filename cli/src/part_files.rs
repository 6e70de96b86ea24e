//! What `mapseg apply` leaves for `mapseg merge`: one `part-NNNNNN.json` per part, written
//! after the part's label GeoTIFF(s), so its presence says the part is complete.
//!
//! A part file names the model (its BLAKE3), the part (index, count, where the index came
//! from) and each label GeoTIFF of the part with the whole run's manifest and the exact
//! class statistics (counts, and areas as integer sums of a quantum, so the parts' sums
//! equal one run's).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use engine::manifest::RunManifest;
use engine::raster::Window;
use engine::stats::ClassStats;

/// Version of the part file's layout.
pub const PART_FILE_FORMAT: u32 = 1;

/// One part's record.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartFile {
    pub format: u32,
    pub software: String,
    pub version: String,
    /// BLAKE3 of the model file, hex.
    pub model_blake3: String,
    pub index: u32,
    pub count: u32,
    /// Where the index came from (`--part`, or a scheduler's variable).
    pub index_from: String,
    pub work: PartWork,
}

/// What a part labelled.
// One per part file: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "split", rename_all = "snake_case")]
pub enum PartWork {
    /// A band of whole tile rows of one raster, in its own GeoTIFF.
    Rows {
        /// The pixels of the raster the part holds.
        window: Window,
        output: PartOutput,
    },
    /// Whole files of a list (`first` is the index of the first in the list of `files`).
    Files {
        first: usize,
        files: usize,
        outputs: Vec<PartOutput>,
    },
}

/// One label GeoTIFF a part wrote.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartOutput {
    /// File name in the part folder.
    pub file: String,
    /// The manifest of the whole run (what one `mapseg segment` of the raster writes).
    pub run: RunManifest,
    pub stats: ClassStats,
}

impl PartFile {
    /// The file name of part `index`: zero-padded, so that names sort in index order.
    pub fn name(index: u32) -> String {
        format!("part-{index:06}.json")
    }

    pub fn to_json(&self) -> String {
        // Plain values: a failure here would be a bug in these types.
        #[allow(clippy::expect_used)]
        serde_json::to_string_pretty(self).expect("a part file always serialises")
    }

    /// Reads the part file at `path`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let part: Self = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a Mapseg part file", path.display()))?;
        if part.format != PART_FILE_FORMAT {
            bail!(
                "{} has format {}, but this Mapseg reads format {PART_FILE_FORMAT}",
                path.display(),
                part.format
            );
        }
        Ok(part)
    }
}

/// Every part of one run in `dir`, in index order: refuses a folder without parts, parts of
/// different models or part counts, and missing parts, naming them.
pub fn read_all(dir: &Path) -> anyhow::Result<Vec<PartFile>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the folder {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("part-") && n.ends_with(".json"))
        })
        .collect();
    paths.sort();
    let Some(first_path) = paths.first() else {
        bail!(
            "{} holds no parts (part-NNNNNN.json): run `mapseg apply` into it first",
            dir.display()
        );
    };
    let first = PartFile::read(first_path)?;
    let mut parts: Vec<Option<PartFile>> = vec![None; first.count as usize];
    for path in &paths {
        let part = PartFile::read(path)?;
        let name = path.display();
        if part.model_blake3 != first.model_blake3 {
            bail!(
                "{name} was labelled with another model than {} (model BLAKE3 {} vs {}): the parts of one merge come from one model file",
                first_path.display(),
                short(&part.model_blake3),
                short(&first.model_blake3)
            );
        }
        if part.count != first.count {
            bail!(
                "{name} is part of a split into {} parts, {} of one into {}: remove the parts of the other split",
                part.count,
                first_path.display(),
                first.count
            );
        }
        if PartFile::name(part.index) != path.file_name().and_then(|n| n.to_str()).unwrap_or("") {
            bail!("{name} holds part {}: it was renamed", part.index);
        }
        let index = part.index as usize;
        parts[index] = Some(part);
    }
    let missing: Vec<String> = parts
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_none())
        .map(|(i, _)| i.to_string())
        .collect();
    if !missing.is_empty() {
        let (what, verb) = if missing.len() == 1 {
            ("part", "is")
        } else {
            ("parts", "are")
        };
        bail!(
            "{what} {} of {} {verb} missing in {} (no {}): its task failed or has not finished; run `mapseg apply … --parts {} --part {}` again",
            missing.join(", "),
            first.count,
            dir.display(),
            missing
                .iter()
                .map(|i| PartFile::name(i.parse().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", "),
            first.count,
            missing[0]
        );
    }
    Ok(parts.into_iter().flatten().collect())
}

/// The first 12 hex digits of a hash, enough to tell two apart in a message.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
