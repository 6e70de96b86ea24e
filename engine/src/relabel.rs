//! Class merging: a mapping of label values applied to label rows and tiles, class statistics,
//! the statistics table and the legend, and recorded in the manifest.
//!
//! Semantics: merging a set of classes gives them one value, the lowest of the set; every
//! class above a removed value moves down to close the gap, so the classes stay numbered
//! `0..k` without holes (the legend, the colour table, the `CLASS_{i}_NAME` metadata and the
//! statistics all index classes by value). Classes keep their order. Nodata ([`NODATA`]) and
//! any value past the last class are left as they are. Merges apply in order, each to the
//! classes the previous ones left; the merged entry of the legend takes the given name (or the
//! merged names joined with " + ") and the colour of the lowest class.

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;

use crate::geotiff::EncodedTile;
use crate::labels::{LegendEntry, NODATA};
use crate::stats::{ClassRow, table};

/// What a merge asks for: two or more classes (label values, 0-based) into one, optionally
/// named.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Merge {
    pub classes: Vec<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A merge as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MergeRecord {
    /// The merged classes, as label values of the raster before this merge (ascending).
    pub classes: Vec<u8>,
    /// The value they share afterwards (the lowest of them).
    pub into: u8,
    /// The merged class's name.
    pub name: String,
}

/// Why a merge cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelabelError {
    #[error("a merge needs at least two different classes (got {0})")]
    TooFew(usize),
    #[error("class {class} does not exist: the raster has classes 0 to {last}")]
    UnknownClass { class: u8, last: usize },
    #[error("a label tile does not decompress: {0}")]
    Tile(String),
}

/// A mapping of label values: `lut[old] = new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassMap {
    lut: [u8; 256],
    before: usize,
    after: usize,
}

impl ClassMap {
    /// Every one of `k` classes to itself.
    pub fn identity(k: usize) -> Self {
        let mut lut = [0u8; 256];
        for (i, v) in lut.iter_mut().enumerate() {
            *v = i as u8;
        }
        Self {
            lut,
            before: k,
            after: k,
        }
    }

    /// Merges `classes` (of `k`) into the lowest of them, closing the gaps.
    pub fn merge(k: usize, classes: &[u8]) -> Result<Self, RelabelError> {
        let mut set: Vec<u8> = classes.to_vec();
        set.sort_unstable();
        set.dedup();
        if let Some(&class) = set.iter().find(|&&c| usize::from(c) >= k) {
            return Err(RelabelError::UnknownClass {
                class,
                last: k.saturating_sub(1),
            });
        }
        if set.len() < 2 {
            return Err(RelabelError::TooFew(set.len()));
        }
        let mut map = Self::identity(k);
        let into = set[0];
        let mut next = 0u8;
        for old in 0..k {
            let old = old as u8;
            if old != into && set.contains(&old) {
                map.lut[usize::from(old)] = into;
            } else {
                map.lut[usize::from(old)] = next;
                next += 1;
            }
        }
        map.after = usize::from(next);
        Ok(map)
    }

    /// This mapping followed by `then`.
    pub fn then(&self, then: &ClassMap) -> ClassMap {
        let mut lut = self.lut;
        for (old, v) in lut.iter_mut().enumerate().take(self.before) {
            *v = then.lut[usize::from(self.lut[old])];
        }
        ClassMap {
            lut,
            before: self.before,
            after: then.after,
        }
    }

    /// Classes before the mapping.
    pub fn before(&self) -> usize {
        self.before
    }

    /// Classes after the mapping.
    pub fn after(&self) -> usize {
        self.after
    }

    /// Whether no class changes.
    pub fn is_identity(&self) -> bool {
        self.before == self.after
    }

    /// The new value of label `value` (nodata and values past the classes unchanged).
    pub fn value(&self, value: u8) -> u8 {
        if usize::from(value) < self.before && value != NODATA {
            self.lut[usize::from(value)]
        } else {
            value
        }
    }

    /// Rewrites labels in place.
    pub fn apply(&self, labels: &mut [u8]) {
        if self.is_identity() {
            return;
        }
        let lut: [u8; 256] = std::array::from_fn(|v| self.value(v as u8));
        for l in labels {
            *l = lut[usize::from(*l)];
        }
    }

    /// A compressed label tile (as [`crate::geotiff::TileEncoder`] writes them: zlib, one u8
    /// band) with its labels rewritten.
    pub fn apply_tile(&self, tile: &EncodedTile) -> Result<EncodedTile, RelabelError> {
        if self.is_identity() {
            return Ok(tile.clone());
        }
        let mut pixels = tile
            .decompress()
            .map_err(|e| RelabelError::Tile(e.to_string()))?;
        self.apply(&mut pixels);
        let mut encoder = ZlibEncoder::new(Vec::with_capacity(tile.bytes.len()), TILE_LEVEL);
        let bytes = encoder
            .write_all(&pixels)
            .and_then(|()| encoder.finish())
            .map_err(|e| RelabelError::Tile(e.to_string()))?;
        Ok(EncodedTile {
            column: tile.column,
            row: tile.row,
            bytes,
        })
    }

    /// Per-class values after the mapping where merged classes can only keep what they share:
    /// a new class takes the value of its old classes when all of them have one and `same`
    /// holds between them (the first one's), else none.
    pub fn shared<T: Clone>(
        &self,
        values: &[Option<T>],
        same: impl Fn(&T, &T) -> bool,
    ) -> Vec<Option<T>> {
        // Per new class: not seen yet (`None`), or what its classes share so far.
        let mut out: Vec<Option<Option<T>>> = vec![None; self.after];
        for (old, value) in values.iter().enumerate().take(self.before) {
            if let Some(slot) = out.get_mut(usize::from(self.lut[old])) {
                *slot = Some(match slot.take() {
                    None => value.clone(),
                    Some(first) => first.filter(|f| value.as_ref().is_some_and(|v| same(f, v))),
                });
            }
        }
        out.into_iter().map(Option::flatten).collect()
    }

    /// Per-class values (counts, areas) summed into the new classes.
    pub fn sum<T: Copy + std::ops::AddAssign + Default>(&self, values: &[T]) -> Vec<T> {
        let mut out = vec![T::default(); self.after];
        for (old, v) in values.iter().enumerate().take(self.before) {
            if let Some(slot) = out.get_mut(usize::from(self.lut[old])) {
                *slot += *v;
            }
        }
        out
    }

    /// The statistics table after the mapping: pixels and areas summed, shares recomputed,
    /// names from `legend` (the legend after the mapping).
    pub fn rows(&self, rows: &[ClassRow], legend: &[LegendEntry]) -> Vec<ClassRow> {
        let mut pixels = vec![0u64; self.before];
        let mut area: Option<Vec<f64>> = Some(vec![0.0; self.before]);
        for r in rows {
            let c = usize::from(r.class);
            if c < self.before {
                pixels[c] = r.pixels;
                match (area.as_mut(), r.area_m2) {
                    (Some(a), Some(v)) => a[c] = v,
                    _ => area = None,
                }
            }
        }
        let area = area.map(|a| self.sum(&a));
        table(&self.sum(&pixels), area.as_deref(), legend)
    }
}

/// Deflate level of re-encoded tiles (the writer's).
const TILE_LEVEL: Compression = Compression::new(1);

/// A sequence of merges resolved against a legend: the combined mapping, the new legend and
/// the manifest's records.
#[derive(Debug, Clone, PartialEq)]
pub struct Relabelling {
    pub map: ClassMap,
    pub legend: Vec<LegendEntry>,
    pub records: Vec<MergeRecord>,
}

/// Applies `merges` in order to the classes of `legend` (one entry per class).
pub fn plan(legend: &[LegendEntry], merges: &[Merge]) -> Result<Relabelling, RelabelError> {
    let mut map = ClassMap::identity(legend.len());
    let mut legend = legend.to_vec();
    let mut records = Vec::with_capacity(merges.len());
    for merge in merges {
        let step = ClassMap::merge(legend.len(), &merge.classes)?;
        let mut classes = merge.classes.clone();
        classes.sort_unstable();
        classes.dedup();
        let name = merge.name.clone().unwrap_or_else(|| {
            classes
                .iter()
                .filter_map(|&c| legend.get(usize::from(c)).map(|e| e.name.as_str()))
                .collect::<Vec<_>>()
                .join(" + ")
        });
        legend = merged_legend(&legend, &step, &name);
        records.push(MergeRecord {
            into: classes[0],
            classes,
            name,
        });
        map = map.then(&step);
    }
    Ok(Relabelling {
        map,
        legend,
        records,
    })
}

/// The legend after `step`: each new class keeps the entry of its lowest old class, the merged
/// one renamed `name`.
fn merged_legend(legend: &[LegendEntry], step: &ClassMap, name: &str) -> Vec<LegendEntry> {
    let mut out: Vec<Option<LegendEntry>> = vec![None; step.after()];
    for (old, e) in legend.iter().enumerate() {
        let new = usize::from(step.value(old as u8));
        match out.get_mut(new) {
            Some(slot @ None) => *slot = Some(e.clone()),
            Some(Some(first)) => first.name = name.to_owned(),
            None => {}
        }
    }
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::default_legend;
    use crate::stats::ClassStats;

    #[test]
    fn merged_classes_keep_only_a_shared_value() {
        let values = [Some("water"), Some("trees"), Some("water"), None];
        let same = |a: &&str, b: &&str| a == b;
        let map = ClassMap::merge(4, &[0, 2]).expect("merge");
        assert_eq!(
            map.shared(&values, same),
            [Some("water"), Some("trees"), None]
        );
        let map = ClassMap::merge(4, &[1, 2]).expect("merge");
        assert_eq!(map.shared(&values, same), [Some("water"), None, None]);
        let map = ClassMap::merge(4, &[2, 3]).expect("merge");
        assert_eq!(
            map.shared(&values, same),
            [Some("water"), Some("trees"), None]
        );
        assert_eq!(ClassMap::identity(4).shared(&values, same), values);
    }

    #[test]
    fn merge_keeps_lowest_and_closes_gaps() {
        let map = ClassMap::merge(6, &[4, 1]).expect("merge");
        let got: Vec<u8> = (0..6).map(|v| map.value(v)).collect();
        assert_eq!(got, vec![0, 1, 2, 3, 1, 4]);
        assert_eq!(map.after(), 5);
        assert_eq!(map.value(NODATA), NODATA);
        let mut labels = vec![0, 4, NODATA, 5, 1];
        map.apply(&mut labels);
        assert_eq!(labels, vec![0, 1, NODATA, 4, 1]);
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(ClassMap::merge(3, &[1, 1]), Err(RelabelError::TooFew(1)));
        assert_eq!(
            ClassMap::merge(3, &[0, 7]),
            Err(RelabelError::UnknownClass { class: 7, last: 2 })
        );
    }

    #[test]
    fn plan_composes_legend_rows_and_records() {
        let legend = default_legend(5);
        let merges = [
            Merge {
                classes: vec![1, 3],
                name: None,
            },
            Merge {
                classes: vec![0, 3],
                name: Some("water".into()),
            },
        ];
        let p = plan(&legend, &merges).expect("plan");
        // First: 0 1 2 3 4 -> 0 1 2 1 3; second merges 0 and 3 (old 4): -> 0 1 2 1 0.
        let got: Vec<u8> = (0..5).map(|v| p.map.value(v)).collect();
        assert_eq!(got, vec![0, 1, 2, 1, 0]);
        assert_eq!(p.legend.len(), 3);
        assert_eq!(p.legend[0].name, "water");
        assert_eq!(p.legend[0].colour, legend[0].colour);
        assert_eq!(p.legend[1].name, "class 2 + class 4");
        assert_eq!(p.legend[1].colour, legend[1].colour);
        assert_eq!(p.records[0].into, 1);
        assert_eq!(p.records[1].classes, vec![0, 3]);

        let mut stats = ClassStats::new(5, None);
        stats.add_rows(0, 5, &[0, 1, 2, 3, 4, 4, 4, NODATA, 1, 1]);
        let merged = stats.relabelled(&p.map);
        assert_eq!(merged.counts, vec![4, 4, 1]);
        let rows = p.map.rows(&stats.rows(&legend), &p.legend);
        assert_eq!(rows, merged.rows(&p.legend));
    }

    #[test]
    fn tiles_are_rewritten() {
        let map = ClassMap::merge(3, &[0, 2]).expect("merge");
        let mut enc = ZlibEncoder::new(Vec::new(), TILE_LEVEL);
        enc.write_all(&[0, 1, 2, NODATA]).expect("write");
        let tile = EncodedTile {
            column: 1,
            row: 2,
            bytes: enc.finish().expect("finish"),
        };
        let out = map.apply_tile(&tile).expect("tile");
        assert_eq!(out.decompress().expect("read"), vec![0, 1, 0, NODATA]);
        assert_eq!((out.column, out.row), (1, 2));
    }
}
