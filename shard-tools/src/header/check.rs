//! Semantic checks of a parsed header; each problem names its field.

use std::collections::BTreeSet;
use std::fmt;

use super::{Header, MAX_WINDOW, PairingKind, is_valid_id};

/// One problem in a header: the dotted field path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Dotted path of the field, e.g. `splits.ratios`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

struct Issues(Vec<Issue>);

impl Issues {
    fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(Issue {
            field: field.to_owned(),
            message: message.into(),
        });
    }
}

/// Every semantic problem of `h`, in field order.
pub(super) fn check(h: &Header) -> Vec<Issue> {
    let mut out = Issues(Vec::new());
    if !is_valid_id(&h.dataset) {
        out.push(
            "dataset",
            format!(
                "must be letters, digits, '-', '_' or '.' and not start with '.' (got {:?})",
                h.dataset
            ),
        );
    }
    check_modalities(h, &mut out);
    check_pairing(h, &mut out);
    check_splits(h, &mut out);
    check_sharding(h, &mut out);
    out.0
}

fn check_modalities(h: &Header, out: &mut Issues) {
    let input = &h.modalities.input;
    check_pattern("modalities.input.pattern", &input.pattern, out);
    if let Some(bands) = &input.bands {
        if bands.is_empty() {
            out.push("modalities.input.bands", "must list at least one band");
        }
        if bands.contains(&0) {
            out.push("modalities.input.bands", "bands are numbered from 1");
        }
        let unique: BTreeSet<_> = bands.iter().collect();
        if unique.len() != bands.len() {
            out.push("modalities.input.bands", "lists a band twice");
        }
    }
    if let Some(target) = &h.modalities.target {
        check_pattern("modalities.target.pattern", &target.pattern, out);
        if let Some(labels) = &target.labels {
            if labels.is_empty() {
                out.push("modalities.target.labels", "must list at least one label");
            }
            let unique: BTreeSet<_> = labels.iter().collect();
            if unique.len() != labels.len() {
                out.push("modalities.target.labels", "lists a label twice");
            }
        }
    }
}

fn check_pattern(field: &str, pattern: &str, out: &mut Issues) {
    if pattern.is_empty() {
        out.push(field, "must not be empty");
    } else if pattern.contains('/') || pattern.contains('\\') {
        out.push(
            field,
            "matches file names only and must not contain a path separator",
        );
    }
}

fn check_pairing(h: &Header, out: &mut Issues) {
    match h.pairing.by {
        PairingKind::Stem => {
            if h.pairing.manifest.is_some() {
                out.push("pairing.manifest", "is only used with `by: manifest`");
            }
            if h.modalities.input.dir.is_none() {
                out.push("modalities.input.dir", "is required when pairing by stem");
            }
            if let Some(t) = &h.modalities.target
                && t.dir.is_none()
            {
                out.push("modalities.target.dir", "is required when pairing by stem");
            }
        }
        PairingKind::Manifest => {
            if h.pairing.manifest.is_none() {
                out.push("pairing.manifest", "is required with `by: manifest`");
            }
        }
    }
}

fn check_splits(h: &Header, out: &mut Issues) {
    let s = &h.splits;
    match (&s.ratios, &s.manifest) {
        (Some(_), Some(_)) => out.push("splits", "give either `ratios` or `manifest`, not both"),
        (None, None) => out.push("splits", "give either `ratios` or `manifest`"),
        _ => {}
    }
    if let Some(r) = &s.ratios {
        let values = [("train", r.train), ("val", r.val), ("test", r.test)];
        for (name, v) in values {
            if !v.is_finite() || v < 0.0 {
                out.push(
                    &format!("splits.ratios.{name}"),
                    format!("must be a number >= 0 (got {v})"),
                );
            }
        }
        let sum = r.train + r.val + r.test;
        if (sum - 1.0).abs() > 1e-6 {
            out.push(
                "splits.ratios",
                format!("must sum to 1.0 (got {})", round6(sum)),
            );
        }
    }
    if let Some(holdout) = &s.holdout {
        if h.modalities.target.is_none() {
            out.push(
                "splits.holdout",
                "needs a target modality: the holdout is made of labelled units",
            );
        }
        if let Some(f) = holdout.fraction
            && !(0.0..=1.0).contains(&f)
        {
            out.push(
                "splits.holdout.fraction",
                format!("must be between 0 and 1 (got {f})"),
            );
        }
        if holdout.fraction.is_none() && holdout.items.is_empty() {
            out.push("splits.holdout", "give `items`, `fraction` or both");
        }
        for id in &holdout.items {
            if !is_valid_id(id) {
                out.push(
                    "splits.holdout.items",
                    format!("{id:?} is not a valid item id"),
                );
            }
        }
    }
}

fn check_sharding(h: &Header, out: &mut Issues) {
    let sh = &h.sharding;
    if sh.window == 0 || sh.window > MAX_WINDOW {
        out.push(
            "sharding.window",
            format!("must be between 1 and {MAX_WINDOW} (got {})", sh.window),
        );
    }
    if let Some(stride) = sh.stride
        && (stride == 0 || stride > MAX_WINDOW)
    {
        out.push(
            "sharding.stride",
            format!("must be between 1 and {MAX_WINDOW} (got {stride})"),
        );
    }
    if sh.shard_size == 0 {
        out.push("sharding.shard_size", "must be at least 1");
    }
    if !(0.0..=1.0).contains(&sh.max_nodata_fraction) {
        out.push(
            "sharding.max_nodata_fraction",
            format!("must be between 0 and 1 (got {})", sh.max_nodata_fraction),
        );
    }
}

/// Rounds to six decimals so that `0.7 + 0.3 + 0.1` prints as `1.1`.
fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}
