//! The evaluation report and its text rendering.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Matching;

/// Scores of one target class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    /// The class label.
    pub class: i64,
    /// Intersection over union.
    pub iou: f64,
    /// Pixels of the class predicted as the class.
    pub true_positive: u64,
    /// Pixels of other classes predicted as the class.
    pub false_positive: u64,
    /// Pixels of the class predicted as something else.
    pub false_negative: u64,
    /// Valid pixels of the class in the target.
    pub pixels: u64,
}

/// Where a cluster went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMatch {
    /// The predicted label.
    pub cluster: i64,
    /// The class it was matched to; `None` when unmatched (its pixels count as wrong).
    pub class: Option<i64>,
    /// Valid pixels predicted as this cluster.
    pub pixels: u64,
}

/// Everything an evaluation found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The matching used.
    pub matching: Matching,
    /// Whether each class got at most one cluster.
    pub one_to_one: bool,
    /// Target classes present in valid pixels, ascending.
    pub classes: Vec<i64>,
    /// Predicted labels present in valid pixels, ascending.
    pub clusters: Vec<i64>,
    /// The cluster-to-class matching.
    pub mapping: Vec<ClusterMatch>,
    /// `confusion[i][j]`: pixels of class `classes[i]` predicted as cluster `clusters[j]`.
    pub confusion: Vec<Vec<u64>>,
    /// Scores per class, in `classes` order.
    pub per_class: Vec<ClassScore>,
    /// Mean IoU over the classes present; `None` without valid pixels.
    pub mean_iou: Option<f64>,
    /// Share of valid pixels whose matched class is right; `None` without valid pixels.
    pub pixel_accuracy: Option<f64>,
    /// Pixels scored.
    pub valid_pixels: u64,
    /// Pixels whose target label is ignored.
    pub ignored_pixels: u64,
    /// Pixels masked as nodata.
    pub masked_pixels: u64,
}

/// Builds the report from a confusion matrix and an assignment (`assignment[cluster]` = class
/// index).
pub(super) fn score(
    matching: Matching,
    classes: Vec<i64>,
    clusters: Vec<i64>,
    confusion: Vec<Vec<u64>>,
    assignment: &[Option<usize>],
    ignored: u64,
    masked: u64,
) -> EvalReport {
    let class_totals: Vec<u64> = confusion.iter().map(|r| r.iter().sum()).collect();
    let cluster_totals: Vec<u64> = (0..clusters.len())
        .map(|j| confusion.iter().map(|r| r[j]).sum())
        .collect();
    let valid: u64 = class_totals.iter().sum();
    let mut per_class = Vec::with_capacity(classes.len());
    let mut correct = 0u64;
    for (i, &class) in classes.iter().enumerate() {
        let mut tp = 0;
        let mut predicted = 0;
        for (j, a) in assignment.iter().enumerate() {
            if *a == Some(i) {
                tp += confusion[i][j];
                predicted += cluster_totals[j];
            }
        }
        correct += tp;
        let fp = predicted - tp;
        let fn_ = class_totals[i] - tp;
        let union = tp + fp + fn_;
        per_class.push(ClassScore {
            class,
            iou: if union == 0 {
                0.0
            } else {
                tp as f64 / union as f64
            },
            true_positive: tp,
            false_positive: fp,
            false_negative: fn_,
            pixels: class_totals[i],
        });
    }
    let mean_iou = (!per_class.is_empty())
        .then(|| per_class.iter().map(|c| c.iou).sum::<f64>() / per_class.len() as f64);
    let pixel_accuracy = (valid > 0).then(|| correct as f64 / valid as f64);
    let mapping: Vec<ClusterMatch> = clusters
        .iter()
        .enumerate()
        .map(|(j, &cluster)| ClusterMatch {
            cluster,
            class: assignment.get(j).copied().flatten().map(|i| classes[i]),
            pixels: cluster_totals[j],
        })
        .collect();
    let mut used = vec![0usize; classes.len()];
    for i in assignment.iter().flatten() {
        used[*i] += 1;
    }
    EvalReport {
        matching,
        one_to_one: used.iter().all(|&n| n <= 1),
        classes,
        clusters,
        mapping,
        confusion,
        per_class,
        mean_iou,
        pixel_accuracy,
        valid_pixels: valid,
        ignored_pixels: ignored,
        masked_pixels: masked,
    }
}

/// More clusters than this are left out of the text tables.
const MAX_TABLE_CLUSTERS: usize = 24;

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.4}"))
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.matching {
            Matching::Hungarian => "one to one",
            Matching::Majority => "many to one",
            Matching::Identity => "labels as they are",
        };
        writeln!(f, "matching        {} ({kind})", self.matching.name())?;
        writeln!(f, "mean IoU        {}", opt(self.mean_iou))?;
        writeln!(f, "pixel accuracy  {}", opt(self.pixel_accuracy))?;
        writeln!(
            f,
            "pixels          {} valid, {} ignored, {} nodata",
            self.valid_pixels, self.ignored_pixels, self.masked_pixels
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:>8}  {:>8}  {:>12}  {:>12}  {:>12}  {:>12}",
            "class", "IoU", "pixels", "TP", "FP", "FN"
        )?;
        for c in &self.per_class {
            writeln!(
                f,
                "{:>8}  {:>8.4}  {:>12}  {:>12}  {:>12}  {:>12}",
                c.class, c.iou, c.pixels, c.true_positive, c.false_positive, c.false_negative
            )?;
        }
        if self.clusters.len() > MAX_TABLE_CLUSTERS {
            writeln!(f)?;
            writeln!(
                f,
                "{} clusters: the mapping and the confusion matrix are in the JSON report (--json)",
                self.clusters.len()
            )?;
            return Ok(());
        }
        writeln!(f)?;
        writeln!(f, "clusters -> classes")?;
        for m in &self.mapping {
            let class = m
                .class
                .map_or_else(|| "unmatched".to_owned(), |c| c.to_string());
            writeln!(f, "{:>8} -> {class:<9} ({} px)", m.cluster, m.pixels)?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "confusion (rows: target class, columns: predicted cluster)"
        )?;
        write!(f, "{:>8}", "")?;
        for c in &self.clusters {
            write!(f, "  {c:>10}")?;
        }
        writeln!(f)?;
        for (class, row) in self.classes.iter().zip(&self.confusion) {
            write!(f, "{class:>8}")?;
            for v in row {
                write!(f, "  {v:>10}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
