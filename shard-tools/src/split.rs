//! Deterministic split assignment.
//!
//! Every unit (an item, or a window when `splits.unit: window`) gets a rank from a stable hash of
//! `(seed, purpose, unit id)` (BLAKE3), so the assignment depends only on the seed and the set of
//! ids, never on the order files were listed in.
//!
//! 1. The metrics holdout is chosen first: every unit of the `holdout.items`, plus the
//!    `round(fraction × labelled units)` labelled units with the lowest holdout rank (ranked with
//!    `holdout.seed`, not `splits.seed`). Held-out units are never assigned anything else.
//! 2. The other units go by the split manifest, or by the ratios: sorted by their split rank,
//!    the first `n_train` go to train, the next `n_val` to val, the rest to test, where the
//!    counts are `n × ratio` rounded down and the units left over are handed out one at a time
//!    to the splits with the largest fractional parts (ties in train, val, test order).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::header::{Holdout, Ratios};

/// A split of a shard tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training data.
    Train,
    /// Validation data.
    Val,
    /// Test data.
    Test,
    /// The labelled metrics holdout.
    Metrics,
}

impl Split {
    /// Every split, in tree order.
    pub const ALL: [Split; 4] = [Split::Train, Split::Val, Split::Test, Split::Metrics];

    /// The split's folder name.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
            Split::Metrics => "metrics",
        }
    }

    /// Parses a folder or manifest name (`validation` is accepted for `val`).
    pub fn parse(s: &str) -> Option<Split> {
        match s {
            "train" => Some(Split::Train),
            "val" | "validation" => Some(Split::Val),
            "test" => Some(Split::Test),
            "metrics" => Some(Split::Metrics),
            _ => None,
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One unit to assign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit<'a> {
    /// The unit's id (item id, or window id).
    pub id: &'a str,
    /// The item the unit belongs to (the unit id itself for item units).
    pub item: &'a str,
    /// Whether the unit has a target.
    pub labelled: bool,
}

/// How units are split.
#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// Fractions of the non-holdout units.
    Ratios(Ratios),
    /// Split per item id.
    Manifest(BTreeMap<String, Split>),
}

/// Split assignment settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitConfig {
    /// Seed of the ratio assignment.
    pub seed: u64,
    /// Ratios or manifest.
    pub policy: Policy,
    /// The metrics holdout, if any.
    pub holdout: Option<Holdout>,
}

/// Failure to assign splits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// A holdout item is not in the dataset.
    #[error("splits.holdout.items: {0:?} is not an item of the dataset")]
    UnknownHoldoutItem(String),
    /// A holdout item has no target.
    #[error("splits.holdout.items: {0:?} has no target, and the holdout must be labelled")]
    UnlabelledHoldout(String),
    /// The split manifest does not name an item.
    #[error("splits.manifest: item {0:?} has no split")]
    MissingFromManifest(String),
    /// The split manifest puts an unlabelled item in the metrics split.
    #[error("splits.manifest: item {0:?} is in metrics but has no target")]
    UnlabelledMetrics(String),
}

/// The split of every unit, in the order of `units`.
pub fn assign(units: &[Unit<'_>], cfg: &SplitConfig) -> Result<Vec<Split>, SplitError> {
    let mut out: Vec<Option<Split>> = vec![None; units.len()];
    if let Some(h) = &cfg.holdout {
        for i in holdout(units, h)? {
            out[i] = Some(Split::Metrics);
        }
    }
    match &cfg.policy {
        Policy::Manifest(map) => {
            for (i, u) in units.iter().enumerate() {
                if out[i].is_some() {
                    continue;
                }
                let s = *map
                    .get(u.item)
                    .ok_or_else(|| SplitError::MissingFromManifest(u.item.to_owned()))?;
                if s == Split::Metrics && !u.labelled {
                    return Err(SplitError::UnlabelledMetrics(u.item.to_owned()));
                }
                out[i] = Some(s);
            }
        }
        Policy::Ratios(r) => {
            let mut rest: Vec<usize> = (0..units.len()).filter(|&i| out[i].is_none()).collect();
            rank(&mut rest, units, cfg.seed, b"split");
            let counts = largest_remainder(rest.len(), &[r.train, r.val, r.test]);
            let splits = [Split::Train, Split::Val, Split::Test];
            let mut pos = 0;
            for (split, count) in splits.iter().zip(counts) {
                for &i in &rest[pos..pos + count] {
                    out[i] = Some(*split);
                }
                pos += count;
            }
        }
    }
    Ok(out.into_iter().map(|s| s.unwrap_or(Split::Train)).collect())
}

/// Indices of the held-out units.
fn holdout(units: &[Unit<'_>], h: &Holdout) -> Result<BTreeSet<usize>, SplitError> {
    let mut chosen = BTreeSet::new();
    for item in &h.items {
        let mut found = false;
        for (i, u) in units.iter().enumerate().filter(|(_, u)| u.item == item) {
            if !u.labelled {
                return Err(SplitError::UnlabelledHoldout(item.clone()));
            }
            chosen.insert(i);
            found = true;
        }
        if !found {
            return Err(SplitError::UnknownHoldoutItem(item.clone()));
        }
    }
    if let Some(f) = h.fraction {
        let mut labelled: Vec<usize> = (0..units.len()).filter(|&i| units[i].labelled).collect();
        let count = ((f * labelled.len() as f64).round() as usize).min(labelled.len());
        rank(&mut labelled, units, h.seed, b"holdout");
        chosen.extend(labelled.into_iter().take(count));
    }
    Ok(chosen)
}

/// Sorts unit indices by their stable hash rank.
fn rank(indices: &mut [usize], units: &[Unit<'_>], seed: u64, purpose: &[u8]) {
    indices.sort_by_cached_key(|&i| (rank_key(seed, purpose, units[i].id), units[i].id));
}

/// The rank of `id` for `seed` and `purpose`: the first 8 bytes of BLAKE3(seed ‖ purpose ‖ 0 ‖ id).
pub fn rank_key(seed: u64, purpose: &[u8], id: &str) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&seed.to_le_bytes());
    hasher.update(purpose);
    hasher.update(&[0]);
    hasher.update(id.as_bytes());
    let bytes = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

/// Splits `n` into counts proportional to `weights` by the largest-remainder method.
pub fn largest_remainder(n: usize, weights: &[f64]) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    if n == 0 || sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let raw: Vec<f64> = weights.iter().map(|w| n as f64 * w / sum).collect();
    let mut counts: Vec<usize> = raw.iter().map(|r| r.floor() as usize).collect();
    let mut left = n.saturating_sub(counts.iter().sum());
    let mut order: Vec<usize> = (0..weights.len()).filter(|&i| weights[i] > 0.0).collect();
    order.sort_by(|&a, &b| {
        let fa = raw[a] - raw[a].floor();
        let fb = raw[b] - raw[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &i in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remainders() {
        assert_eq!(largest_remainder(10, &[0.6, 0.3, 0.1]), vec![6, 3, 1]);
        assert_eq!(largest_remainder(14, &[0.7, 0.2, 0.1]), vec![10, 3, 1]);
        assert_eq!(largest_remainder(3, &[1.0, 0.0, 0.0]), vec![3, 0, 0]);
        assert_eq!(largest_remainder(0, &[0.5, 0.5, 0.0]), vec![0, 0, 0]);
    }
}
