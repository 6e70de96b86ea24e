//! Unsupervised segmentation metrics: clusters matched to classes, then IoU and accuracy.
//!
//! Predicted labels are cluster ids in an arbitrary order, so they are matched to the target's
//! classes before scoring:
//!
//! - **Hungarian** (one to one): the assignment of clusters to classes that maximises the pixels
//!   they share (`pathfinding`'s Kuhn–Munkres). Used when there are as many clusters as classes.
//! - **Majority** (many to one): each cluster goes to the class it overlaps most. Used when the
//!   counts differ (over- or under-clustering); reported as such.
//! - **Identity**: cluster id = class id, for supervised predictions.
//!
//! Then, per class `c` present in the target: `IoU = TP / (TP + FP + FN)`, where the predicted
//! pixels of `c` are those of the clusters matched to `c`. The mean IoU is the unweighted mean
//! over the classes present in the target; pixel accuracy is the share of valid pixels whose
//! matched class is right. Target pixels with an ignored label, and pixels masked as nodata,
//! count nowhere.
//!
//! The same code serves in-memory arrays (a trainer) and rasters ([`raster::evaluate_files`]):
//!
//! ```
//! use shard_tools::eval::{EvalOptions, evaluate};
//! let target: [u8; 6] = [0, 0, 1, 1, 2, 2];
//! let pred: [u8; 6] = [5, 5, 7, 7, 9, 9];
//! let report = evaluate(&pred, &target, &EvalOptions::default())?;
//! assert_eq!(report.mean_iou, Some(1.0));
//! # Ok::<(), shard_tools::eval::EvalError>(())
//! ```

mod matching;
pub mod raster;
mod report;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use report::{ClassScore, ClusterMatch, EvalReport};

/// How clusters are matched to classes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchingMode {
    /// Hungarian when the cluster and class counts are equal, majority otherwise.
    #[default]
    Auto,
    /// One-to-one assignment maximising shared pixels.
    Hungarian,
    /// Each cluster to its most-overlapping class.
    Majority,
    /// Cluster id = class id.
    Identity,
}

/// The matching a report used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Matching {
    /// One-to-one (Kuhn–Munkres).
    Hungarian,
    /// Many-to-one (majority vote).
    Majority,
    /// No matching.
    Identity,
}

impl Matching {
    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Matching::Hungarian => "hungarian",
            Matching::Majority => "majority",
            Matching::Identity => "identity",
        }
    }
}

/// Metric settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalOptions {
    /// Target labels that count nowhere.
    pub ignore: Vec<i64>,
    /// How clusters are matched to classes.
    pub matching: MatchingMode,
}

/// Failure to evaluate.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Prediction and target arrays differ in length.
    #[error("prediction has {pred} pixels but target has {target}")]
    LengthMismatch {
        /// Prediction length.
        pred: usize,
        /// Target length.
        target: usize,
    },
    /// The mask differs in length from the arrays.
    #[error("mask has {mask} entries but the arrays have {pixels}")]
    MaskMismatch {
        /// Mask length.
        mask: usize,
        /// Array length.
        pixels: usize,
    },
    /// More distinct labels than a confusion matrix is built for (object ids rather than
    /// classes on both sides, say).
    #[error(
        "{classes} target classes and {clusters} predicted labels: their confusion matrix would have more than {MAX_CELLS} cells"
    )]
    TooManyLabels {
        /// Distinct target classes.
        classes: usize,
        /// Distinct predicted labels.
        clusters: usize,
    },
    /// A raster problem.
    #[error(transparent)]
    Raster(#[from] raster::RasterEvalError),
}

/// The most cells of the confusion matrix (target classes × predicted labels): it is dense, and
/// the one-to-one matching is cubic in its side (at most 1024 when both sides are equal).
pub const MAX_CELLS: usize = 1 << 20;

/// A value usable as a label: integers, widened to `i64`.
pub trait Label: Copy {
    /// The label as `i64`.
    fn label(self) -> i64;
}

macro_rules! label_impl {
    ($($t:ty),*) => {$(
        impl Label for $t {
            #[inline]
            fn label(self) -> i64 {
                self as i64
            }
        }
    )*};
}
label_impl!(u8, u16, u32, i8, i16, i32, i64);

/// Dense counts for labels in `0..DENSE`, a map for the rest.
const DENSE: i64 = 256;

/// Streams (prediction, target) pixels into a confusion matrix; call [`Accumulator::finish`]
/// for the report. Accumulators of parts of a dataset can be merged.
#[derive(Debug, Clone)]
pub struct Accumulator {
    options: EvalOptions,
    ignore_dense: Vec<bool>,
    /// `dense[target * DENSE + pred]`.
    dense: Vec<u64>,
    sparse: BTreeMap<(i64, i64), u64>,
    ignored: u64,
    masked: u64,
}

impl Accumulator {
    /// An empty accumulator.
    pub fn new(options: &EvalOptions) -> Self {
        let mut ignore_dense = vec![false; DENSE as usize];
        for &l in &options.ignore {
            if (0..DENSE).contains(&l) {
                ignore_dense[l as usize] = true;
            }
        }
        Self {
            options: options.clone(),
            ignore_dense,
            dense: vec![0; (DENSE * DENSE) as usize],
            sparse: BTreeMap::new(),
            ignored: 0,
            masked: 0,
        }
    }

    /// Adds pixels; `pred[i]` and `target[i]` are the same pixel.
    pub fn add<P: Label, T: Label>(&mut self, pred: &[P], target: &[T]) -> Result<(), EvalError> {
        if pred.len() != target.len() {
            return Err(EvalError::LengthMismatch {
                pred: pred.len(),
                target: target.len(),
            });
        }
        for (p, t) in pred.iter().zip(target) {
            self.push(p.label(), t.label());
        }
        Ok(())
    }

    /// Adds the pixels where `valid[i]` is true; the others count as masked (nodata).
    pub fn add_masked<P: Label, T: Label>(
        &mut self,
        pred: &[P],
        target: &[T],
        valid: &[bool],
    ) -> Result<(), EvalError> {
        if pred.len() != target.len() {
            return Err(EvalError::LengthMismatch {
                pred: pred.len(),
                target: target.len(),
            });
        }
        if valid.len() != pred.len() {
            return Err(EvalError::MaskMismatch {
                mask: valid.len(),
                pixels: pred.len(),
            });
        }
        for ((p, t), &ok) in pred.iter().zip(target).zip(valid) {
            if ok {
                self.push(p.label(), t.label());
            } else {
                self.masked += 1;
            }
        }
        Ok(())
    }

    /// Counts `n` pixels as masked (nodata) without a label.
    pub fn add_masked_count(&mut self, n: u64) {
        self.masked += n;
    }

    #[inline]
    fn push(&mut self, p: i64, t: i64) {
        let t_dense = (0..DENSE).contains(&t);
        if if t_dense {
            self.ignore_dense[t as usize]
        } else {
            self.options.ignore.contains(&t)
        } {
            self.ignored += 1;
            return;
        }
        if t_dense && (0..DENSE).contains(&p) {
            self.dense[(t * DENSE + p) as usize] += 1;
        } else {
            *self.sparse.entry((t, p)).or_insert(0) += 1;
        }
    }

    /// Adds another accumulator's counts (same options assumed).
    pub fn merge(&mut self, other: &Accumulator) {
        for (a, b) in self.dense.iter_mut().zip(&other.dense) {
            *a += b;
        }
        for (k, v) in &other.sparse {
            *self.sparse.entry(*k).or_insert(0) += v;
        }
        self.ignored += other.ignored;
        self.masked += other.masked;
    }

    /// Every non-zero `((target, pred), count)`.
    fn counts(&self) -> BTreeMap<(i64, i64), u64> {
        let mut all = self.sparse.clone();
        for (i, &c) in self.dense.iter().enumerate() {
            if c > 0 {
                let i = i as i64;
                *all.entry((i / DENSE, i % DENSE)).or_insert(0) += c;
            }
        }
        all
    }

    /// Matches clusters to classes and scores them.
    ///
    /// # Errors
    ///
    /// [`EvalError::TooManyLabels`] when the confusion matrix would exceed [`MAX_CELLS`].
    pub fn finish(&self) -> Result<EvalReport, EvalError> {
        let counts = self.counts();
        let classes: Vec<i64> = counts
            .keys()
            .map(|k| k.0)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let clusters: Vec<i64> = counts
            .keys()
            .map(|k| k.1)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if classes.len().saturating_mul(clusters.len()) > MAX_CELLS {
            return Err(EvalError::TooManyLabels {
                classes: classes.len(),
                clusters: clusters.len(),
            });
        }
        let mut confusion = vec![vec![0u64; clusters.len()]; classes.len()];
        for (&(t, p), &c) in &counts {
            let (Ok(ti), Ok(pi)) = (classes.binary_search(&t), clusters.binary_search(&p)) else {
                continue;
            };
            confusion[ti][pi] = c;
        }
        let matching = match self.options.matching {
            MatchingMode::Auto if clusters.len() == classes.len() => Matching::Hungarian,
            MatchingMode::Auto | MatchingMode::Majority => Matching::Majority,
            MatchingMode::Hungarian => Matching::Hungarian,
            MatchingMode::Identity => Matching::Identity,
        };
        let assignment = match matching {
            Matching::Hungarian => matching::hungarian(&confusion),
            Matching::Majority => matching::majority(&confusion),
            Matching::Identity => clusters
                .iter()
                .map(|c| classes.binary_search(c).ok())
                .collect(),
        };
        Ok(report::score(
            matching,
            classes,
            clusters,
            confusion,
            &assignment,
            self.ignored,
            self.masked,
        ))
    }
}

/// Scores `pred` against `target` (same length, same pixel order).
pub fn evaluate<P: Label, T: Label>(
    pred: &[P],
    target: &[T],
    options: &EvalOptions,
) -> Result<EvalReport, EvalError> {
    let mut acc = Accumulator::new(options);
    acc.add(pred, target)?;
    acc.finish()
}
