//! What a build writes: the usable items, their windows, the split of every window and the
//! shards they are grouped into. Planning opens every raster (descriptions only, no pixels).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use engine::raster::Window;
use serde::{Deserialize, Serialize};

use crate::header::{Edge, Header, LoadedHeader, SplitUnit};
use crate::index::{DroppedItem, FORMAT};
use crate::pairing::{Item, PairingError, pair};
use crate::rio::{RasterFile, same_georef};
use crate::split::{Policy, Split, SplitConfig, SplitError, Unit, assign};

/// A usable item: both rasters open and agree.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedItem {
    /// The pairing's item.
    pub item: Item,
    /// Raster width.
    pub width: u32,
    /// Raster height.
    pub height: u32,
    /// 0-based input bands kept, in order.
    pub bands: Vec<usize>,
}

/// One window to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedWindow {
    /// Window id: `<item>_x<col>_y<row>`.
    pub id: String,
    /// Index into [`Plan::items`].
    pub item: usize,
    /// The window in the item's pixel grid.
    pub window: Window,
    /// Its split.
    pub split: Split,
}

/// One shard to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardPlan {
    /// The split.
    pub split: Split,
    /// Shard number within the split.
    pub number: usize,
    /// The windows, in item, row, column order.
    pub windows: Vec<PlannedWindow>,
}

/// A complete build plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The header.
    pub header: LoadedHeader,
    /// Usable items, sorted by id.
    pub items: Vec<PlannedItem>,
    /// Items whose files could not be used.
    pub dropped: Vec<DroppedItem>,
    /// Target files no input matched.
    pub unmatched_targets: Vec<String>,
    /// Shards per split, splits in train, val, test, metrics order.
    pub shards: Vec<ShardPlan>,
    /// Windows per split.
    pub windows_per_split: BTreeMap<Split, usize>,
    /// BLAKE3 of the header and of every source file's id, path, size and shape.
    pub fingerprint: String,
}

impl Plan {
    /// The header.
    pub fn h(&self) -> &Header {
        &self.header.header
    }

    /// Total planned windows.
    pub fn total_windows(&self) -> usize {
        self.shards.iter().map(|s| s.windows.len()).sum()
    }
}

/// The most windows one build may plan (each is an entry of the plan and a pair of files).
pub const MAX_WINDOWS: u64 = 10_000_000;

/// Failure to plan a build.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The window grid of the items is larger than a build can hold.
    #[error(
        "the items would be cut into at least {windows} windows, more than the limit of {MAX_WINDOWS}: use a larger window or stride"
    )]
    TooManyWindows {
        /// Windows the items would give.
        windows: u64,
    },
    /// Pairing failed.
    #[error(transparent)]
    Pairing(#[from] PairingError),
    /// Split assignment failed.
    #[error("{}: {source}", path.display())]
    Split {
        /// The header.
        path: PathBuf,
        /// The cause.
        source: SplitError,
    },
    /// The split manifest is unreadable or malformed.
    #[error("{}: {message}", path.display())]
    SplitManifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Plans the build of `header`.
pub fn plan(header: LoadedHeader) -> Result<Plan, PlanError> {
    let pairs = pair(&header)?;
    let h = &header.header;
    let mut items = Vec::new();
    let mut dropped = Vec::new();
    for item in pairs.items {
        match open_item(&header, &item) {
            Ok(p) => items.push(p),
            Err((path, reason)) => dropped.push(DroppedItem {
                item: item.id.clone(),
                path,
                reason,
            }),
        }
    }
    // Items too small for a single window are dropped too: their data would be lost silently.
    let stride = h.sharding.stride();
    let mut windows: Vec<(usize, Window)> = Vec::new();
    let mut kept = Vec::new();
    for p in items {
        let xs = positions(p.width, h.sharding.window, stride, h.sharding.edge);
        let ys = positions(p.height, h.sharding.window, stride, h.sharding.edge);
        if xs.is_empty() || ys.is_empty() {
            dropped.push(DroppedItem {
                item: p.item.id.clone(),
                path: p.item.input.clone(),
                reason: format!(
                    "{}x{} is smaller than the {} px window",
                    p.width, p.height, h.sharding.window
                ),
            });
            continue;
        }
        let planned = windows.len() as u64 + xs.len() as u64 * ys.len() as u64;
        if planned > MAX_WINDOWS {
            return Err(PlanError::TooManyWindows { windows: planned });
        }
        let idx = kept.len();
        for &y in &ys {
            for &x in &xs {
                windows.push((idx, Window::new(x, y, h.sharding.window, h.sharding.window)));
            }
        }
        kept.push(p);
    }
    let items = kept;
    dropped.sort_by(|a, b| a.item.cmp(&b.item));

    let ids: Vec<String> = windows
        .iter()
        .map(|(i, w)| window_id(&items[*i].item.id, w))
        .collect();
    let units: Vec<Unit<'_>> = match h.splits.unit {
        SplitUnit::Item => items
            .iter()
            .map(|p| Unit {
                id: &p.item.id,
                item: &p.item.id,
                labelled: p.item.target.is_some(),
            })
            .collect(),
        SplitUnit::Window => windows
            .iter()
            .zip(&ids)
            .map(|((i, _), id)| Unit {
                id,
                item: &items[*i].item.id,
                labelled: items[*i].item.target.is_some(),
            })
            .collect(),
    };
    let config = split_config(&header, &dropped)?;
    let unit_splits = assign(&units, &config).map_err(|source| PlanError::Split {
        path: header.path.clone(),
        source,
    })?;
    let window_splits: Vec<Split> = match h.splits.unit {
        SplitUnit::Item => windows.iter().map(|(i, _)| unit_splits[*i]).collect(),
        SplitUnit::Window => unit_splits,
    };

    let mut per_split: BTreeMap<Split, Vec<PlannedWindow>> = BTreeMap::new();
    for (((item, window), id), split) in windows.into_iter().zip(ids).zip(window_splits) {
        per_split.entry(split).or_default().push(PlannedWindow {
            id,
            item,
            window,
            split,
        });
    }
    let mut shards = Vec::new();
    let mut windows_per_split = BTreeMap::new();
    for (split, list) in per_split {
        windows_per_split.insert(split, list.len());
        for (number, chunk) in list.chunks(h.sharding.shard_size.max(1)).enumerate() {
            shards.push(ShardPlan {
                split,
                number,
                windows: chunk.to_vec(),
            });
        }
    }
    let fingerprint = fingerprint(&header, &items, &dropped);
    Ok(Plan {
        header,
        items,
        dropped,
        unmatched_targets: pairs.unmatched_targets,
        shards,
        windows_per_split,
        fingerprint,
    })
}

/// `<item>_x<col>_y<row>`.
pub fn window_id(item: &str, w: &Window) -> String {
    format!("{item}_x{}_y{}", w.x, w.y)
}

/// Window origins along one axis of `len` pixels.
pub fn positions(len: u32, window: u32, stride: u32, edge: Edge) -> Vec<u32> {
    let mut out = Vec::new();
    if window == 0 || stride == 0 || len < window {
        return out;
    }
    let mut p = 0u32;
    while p <= len - window {
        out.push(p);
        match p.checked_add(stride) {
            Some(next) => p = next,
            None => break,
        }
    }
    let last = len - window;
    if edge == Edge::Shift && out.last().is_some_and(|&l| l < last) {
        out.push(last);
    }
    out
}

/// Opens an item's rasters and checks they agree; `Err((path, reason))` names the bad file.
fn open_item(h: &LoadedHeader, item: &Item) -> Result<PlannedItem, (String, String)> {
    let input = RasterFile::open(&h.resolve(Path::new(&item.input)))
        .map_err(|e| (item.input.clone(), source_message(&e)))?;
    let info = input.info();
    let bands = match &h.header.modalities.input.bands {
        Some(list) => {
            if let Some(&b) = list.iter().find(|&&b| b == 0 || b > info.bands) {
                return Err((
                    item.input.clone(),
                    format!("band {b} asked for, but the file has {} bands", info.bands),
                ));
            }
            list.iter().map(|b| b - 1).collect()
        }
        None => info.data_bands(),
    };
    if bands.is_empty() {
        return Err((item.input.clone(), "has no data band".to_owned()));
    }
    if let Some(target) = &item.target {
        let t = RasterFile::open(&h.resolve(Path::new(target)))
            .map_err(|e| (target.clone(), source_message(&e)))?;
        let ti = t.info();
        let problem = if ti.bands != 1 {
            Some(format!(
                "has {} bands; a target must have one band",
                ti.bands
            ))
        } else if matches!(
            ti.sample_type,
            engine::raster::SampleType::F32 | engine::raster::SampleType::F64
        ) {
            Some(format!(
                "holds {} samples; target labels must be integers",
                ti.sample_type
            ))
        } else if (ti.width, ti.height) != (info.width, info.height) {
            Some(format!(
                "is {}x{} but its input {} is {}x{}",
                ti.width, ti.height, item.input, info.width, info.height
            ))
        } else if let (Some(a), Some(b)) = (&info.georef, &ti.georef)
            && !same_georef(a, b)
        {
            Some(format!(
                "is not georeferenced like its input {}",
                item.input
            ))
        } else {
            None
        };
        if let Some(reason) = problem {
            return Err((target.clone(), reason));
        }
    }
    Ok(PlannedItem {
        item: item.clone(),
        width: info.width,
        height: info.height,
        bands,
    })
}

/// The error's message without the path prefix (the path is reported beside it).
fn source_message(e: &crate::rio::RasterError) -> String {
    match e {
        crate::rio::RasterError::Io { source, .. } => source.to_string(),
        crate::rio::RasterError::Decode { source, .. } => source.to_string(),
        crate::rio::RasterError::Encode { source, .. } => source.to_string(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitRow {
    id: String,
    split: String,
}

fn split_config(h: &LoadedHeader, dropped: &[DroppedItem]) -> Result<SplitConfig, PlanError> {
    let s = &h.header.splits;
    let policy = match (&s.ratios, &s.manifest) {
        (_, Some(rel)) => {
            let path = h.resolve(rel);
            let err = |message: String| PlanError::SplitManifest {
                path: path.clone(),
                message,
            };
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .from_path(&path)
                .map_err(|e| err(e.to_string()))?;
            let mut map = BTreeMap::new();
            for row in reader.deserialize::<SplitRow>() {
                let row = row.map_err(|e| err(e.to_string()))?;
                let split = Split::parse(&row.split).ok_or_else(|| {
                    err(format!(
                        "item {:?}: unknown split {:?} (train, val, test or metrics)",
                        row.id, row.split
                    ))
                })?;
                map.insert(row.id, split);
            }
            Policy::Manifest(map)
        }
        (Some(r), None) => Policy::Ratios(*r),
        (None, None) => Policy::Ratios(crate::header::Ratios {
            train: 1.0,
            val: 0.0,
            test: 0.0,
        }),
    };
    // A held-out item whose files are bad is reported as dropped, not as an unknown item.
    let gone: BTreeSet<&str> = dropped.iter().map(|d| d.item.as_str()).collect();
    let holdout = s.holdout.clone().map(|mut ho| {
        ho.items.retain(|i| !gone.contains(i.as_str()));
        ho
    });
    Ok(SplitConfig {
        seed: s.seed,
        policy,
        holdout,
    })
}

#[derive(Serialize)]
struct FingerprintItem<'a> {
    id: &'a str,
    input: &'a str,
    input_bytes: u64,
    target: Option<&'a str>,
    target_bytes: Option<u64>,
    width: u32,
    height: u32,
    bands: &'a [usize],
}

fn fingerprint(h: &LoadedHeader, items: &[PlannedItem], dropped: &[DroppedItem]) -> String {
    let size = |rel: &str| {
        std::fs::metadata(h.resolve(Path::new(rel)))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    let list: Vec<FingerprintItem<'_>> = items
        .iter()
        .map(|p| FingerprintItem {
            id: &p.item.id,
            input: &p.item.input,
            input_bytes: size(&p.item.input),
            target: p.item.target.as_deref(),
            target_bytes: p.item.target.as_deref().map(size),
            width: p.width,
            height: p.height,
            bands: &p.bands,
        })
        .collect();
    let value = serde_json::json!({
        "format": FORMAT,
        "header": h.header,
        "items": list,
        "dropped": dropped,
    });
    let bytes = serde_json::to_vec(&value).unwrap_or_default();
    blake3::hash(&bytes).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_positions() {
        assert_eq!(
            positions(900, 256, 256, Edge::Shift),
            vec![0, 256, 512, 644]
        );
        assert_eq!(positions(900, 256, 256, Edge::Drop), vec![0, 256, 512]);
        assert_eq!(positions(512, 256, 256, Edge::Shift), vec![0, 256]);
        assert_eq!(positions(100, 256, 256, Edge::Shift), Vec::<u32>::new());
        assert_eq!(positions(10, 4, 3, Edge::Shift), vec![0, 3, 6]);
    }
}
