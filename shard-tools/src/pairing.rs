//! Pairing input rasters with target rasters, by file stem or by a CSV manifest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::header::{Header, LoadedHeader, PairingKind, is_valid_id};

/// One dataset item: an input raster and, when labelled, its target raster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Item id (the shared stem, or the manifest's `id`).
    pub id: String,
    /// Input path as written in indexes: relative to the header's folder, `/`-separated.
    pub input: String,
    /// Target path, like `input`.
    pub target: Option<String>,
}

/// The items of a dataset and what did not pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs {
    /// Items sorted by id.
    pub items: Vec<Item>,
    /// Target files that no input matched (relative paths).
    pub unmatched_targets: Vec<String>,
}

impl Pairs {
    /// Number of items with a target.
    pub fn labelled(&self) -> usize {
        self.items.iter().filter(|i| i.target.is_some()).count()
    }
}

/// Failure to pair a dataset.
#[derive(Debug, thiserror::Error)]
pub enum PairingError {
    /// A folder or manifest could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// What was read.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A manifest is malformed.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
    /// Two files give the same item id.
    #[error("item id {id:?} is given by both {first} and {second}")]
    Duplicate {
        /// The id.
        id: String,
        /// The first file.
        first: String,
        /// The second file.
        second: String,
    },
    /// A stem or manifest id cannot be used as an item id.
    #[error("{source_path}: {id:?} is not a valid item id (letters, digits, '-', '_', '.')")]
    InvalidId {
        /// The id.
        id: String,
        /// Where it came from.
        source_path: String,
    },
}

/// Pairs the header's inputs with its targets.
pub fn pair(h: &LoadedHeader) -> Result<Pairs, PairingError> {
    let pairs = match h.header.pairing.by {
        PairingKind::Stem => pair_by_stem(h)?,
        PairingKind::Manifest => pair_by_manifest(h)?,
    };
    Ok(pairs)
}

fn pair_by_stem(h: &LoadedHeader) -> Result<Pairs, PairingError> {
    let header: &Header = &h.header;
    let input = &header.modalities.input;
    let input_dir = input.dir.clone().unwrap_or_default();
    let inputs = scan(h, &input_dir, &input.pattern, &input.stem_suffix)?;
    let targets = match &header.modalities.target {
        Some(t) => scan(
            h,
            &t.dir.clone().unwrap_or_default(),
            &t.pattern,
            &t.stem_suffix,
        )?,
        None => BTreeMap::new(),
    };
    let mut pairs = Pairs::default();
    for (id, rel) in &inputs {
        pairs.items.push(Item {
            id: id.clone(),
            input: rel.clone(),
            target: targets.get(id).cloned(),
        });
    }
    pairs.unmatched_targets = targets
        .iter()
        .filter(|(id, _)| !inputs.contains_key(*id))
        .map(|(_, rel)| rel.clone())
        .collect();
    Ok(pairs)
}

/// Files in `dir` matching `pattern`, keyed by stem (minus `suffix`), valued by relative path.
fn scan(
    h: &LoadedHeader,
    dir: &Path,
    pattern: &str,
    suffix: &str,
) -> Result<BTreeMap<String, String>, PairingError> {
    let full = h.resolve(dir);
    let rd = std::fs::read_dir(&full).map_err(|source| PairingError::Io {
        path: full.clone(),
        source,
    })?;
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|source| PairingError::Io {
            path: full.clone(),
            source,
        })?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if wildcard_match(pattern, &name) && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    let mut out = BTreeMap::new();
    for name in names {
        let stem = Path::new(&name)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(&name);
        let id = stem.strip_suffix(suffix).unwrap_or(stem).to_owned();
        let rel = join_rel(dir, &name);
        if !is_valid_id(&id) {
            return Err(PairingError::InvalidId {
                id,
                source_path: rel,
            });
        }
        if let Some(first) = out.get(&id) {
            return Err(PairingError::Duplicate {
                id,
                first: String::clone(first),
                second: rel,
            });
        }
        out.insert(id, rel);
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestRow {
    #[serde(default)]
    id: Option<String>,
    input: String,
    #[serde(default)]
    target: Option<String>,
}

fn pair_by_manifest(h: &LoadedHeader) -> Result<Pairs, PairingError> {
    let rel_manifest = h.header.pairing.manifest.clone().unwrap_or_default();
    let path = h.resolve(&rel_manifest);
    let manifest_dir = rel_manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(&path)
        .map_err(|e| manifest_error(&path, &e))?;
    let mut by_id: BTreeMap<String, Item> = BTreeMap::new();
    for row in reader.deserialize::<ManifestRow>() {
        let row = row.map_err(|e| manifest_error(&path, &e))?;
        let input = join_rel(&manifest_dir, &row.input);
        let id = match row.id.filter(|s| !s.is_empty()) {
            Some(id) => id,
            None => Path::new(&row.input)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned(),
        };
        if !is_valid_id(&id) {
            return Err(PairingError::InvalidId {
                id,
                source_path: path.display().to_string(),
            });
        }
        let target = row
            .target
            .filter(|t| !t.is_empty())
            .map(|t| join_rel(&manifest_dir, &t));
        if let Some(first) = by_id.get(&id) {
            return Err(PairingError::Duplicate {
                id,
                first: first.input.clone(),
                second: input,
            });
        }
        by_id.insert(id.clone(), Item { id, input, target });
    }
    Ok(Pairs {
        items: by_id.into_values().collect(),
        unmatched_targets: Vec::new(),
    })
}

fn manifest_error(path: &Path, e: &csv::Error) -> PairingError {
    PairingError::Manifest {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// `dir/name` as a `/`-separated string (just `name` when `dir` is empty or `name` absolute).
pub fn join_rel(dir: &Path, name: &str) -> String {
    if Path::new(name).is_absolute() {
        return name.to_owned();
    }
    let d = dir.to_string_lossy().replace('\\', "/");
    let d = d.trim_end_matches('/');
    if d.is_empty() || d == "." {
        name.to_owned()
    } else {
        format!("{d}/{name}")
    }
}

/// Matches `name` against `pattern`, where `*` is any run of characters and `?` one character.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.tif", "a.tif"));
        assert!(!wildcard_match("*.tif", "a.tiff"));
        assert!(wildcard_match("tile_??.tif", "tile_07.tif"));
        assert!(!wildcard_match("tile_??.tif", "tile_7.tif"));
        assert!(wildcard_match("*_mask*", "x_mask.tif"));
        assert!(wildcard_match("*", ""));
    }

    #[test]
    fn relative_joins() {
        assert_eq!(join_rel(Path::new(""), "a.tif"), "a.tif");
        assert_eq!(join_rel(Path::new("."), "a.tif"), "a.tif");
        assert_eq!(join_rel(Path::new("../real/"), "a.tif"), "../real/a.tif");
    }
}
