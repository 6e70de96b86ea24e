//! Seeded K-Means in `f32`: k-means++ initialisation, Lloyd iterations with a tolerance and an
//! iteration cap, empty-cluster repair, and centres ordered by brightness.
//!
//! [`model`] makes it a segmentation method: parameters, the fitting sample of a raster, the
//! fitted model.
//!
//! Points are flat `f32` slices of `dims` values each. Everything random takes a seed, so the same
//! input and seed always give the same centres.

mod assign;
mod choose_k;
#[cfg(feature = "cnn")]
pub mod device;
pub mod model;

pub use assign::assign;
pub use choose_k::{KChoice, inertia_curve, suggest_k};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::progress::{self, Cancelled, Progress, Stage};

/// The largest number of clusters; labels are `u8` and 255 is reserved for nodata.
pub const MAX_K: usize = 64;

/// Why a fit could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KMeansError {
    #[error("k must be between 2 and {MAX_K} (got {0})")]
    BadK(usize),
    /// Fewer points than clusters.
    #[error("only {points} point(s), too few for k = {k} clusters")]
    TooFewPoints { points: usize, k: usize },
    /// Enough points, but fewer distinct values among them than clusters.
    #[error("only {distinct} distinct point(s), too few for k = {k} clusters")]
    TooFewDistinctPoints { distinct: usize, k: usize },
    #[error("feature vectors must have at least one dimension")]
    NoDimensions,
    /// A feature is NaN or infinite: it would give NaN centres.
    #[error("point {point} has a NaN or infinite feature")]
    NonFinite { point: usize },
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

/// Lloyd's stopping rules.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FitOptions {
    /// Stop when no centre moves further than this (Euclidean, in feature units).
    pub tolerance: f32,
    /// Stop after this many Lloyd iterations at the latest.
    pub max_iterations: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            tolerance: 1e-4,
            max_iterations: 100,
        }
    }
}

/// Fitted centres, darkest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Centres {
    pub dims: usize,
    /// `k * dims` values, centre after centre, ordered by ascending brightness (sum of components).
    pub values: Vec<f32>,
    /// Sum of squared distances of the fitted points to their centres.
    pub inertia: f64,
    /// Lloyd iterations run.
    pub iterations: usize,
}

impl Centres {
    pub fn k(&self) -> usize {
        self.values.len() / self.dims
    }

    /// Every centre as its own vector, label 0 first (what manifests record).
    pub fn rows(&self) -> Vec<Vec<f32>> {
        self.values
            .chunks_exact(self.dims)
            .map(<[f32]>::to_vec)
            .collect()
    }

    pub fn centre(&self, i: usize) -> &[f32] {
        &self.values[i * self.dims..(i + 1) * self.dims]
    }
}

/// Fits `k` centres to `points` (k-means++ seeding, then Lloyd), reporting [`Stage::Fitting`].
pub fn fit(
    points: &[f32],
    dims: usize,
    k: usize,
    seed: u64,
    options: FitOptions,
    progress: &impl Progress,
) -> Result<Centres, KMeansError> {
    if dims == 0 {
        return Err(KMeansError::NoDimensions);
    }
    if !(2..=MAX_K).contains(&k) {
        return Err(KMeansError::BadK(k));
    }
    let n = points.len() / dims;
    if n < k {
        return Err(KMeansError::TooFewPoints { points: n, k });
    }
    if let Some(bad) = points.iter().position(|v| !v.is_finite()) {
        return Err(KMeansError::NonFinite { point: bad / dims });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut centres = kmeans_plus_plus(points, dims, k, &mut rng)?;
    let mut labels = vec![0u8; n];
    let mut dist = vec![0f32; n];
    let mut iterations = 0;
    while iterations < options.max_iterations {
        progress::check(progress)?;
        progress.report(
            Stage::Fitting,
            iterations as f32 / options.max_iterations as f32,
        );
        assign(points, dims, &centres, &mut labels, Some(&mut dist));
        let moved = update_centres(points, dims, &labels, &dist, &mut centres);
        iterations += 1;
        if moved <= options.tolerance {
            break;
        }
    }
    assign(points, dims, &centres, &mut labels, Some(&mut dist));
    let inertia = dist.iter().map(|&d| f64::from(d)).sum();
    progress.report(Stage::Fitting, 1.0);
    Ok(Centres {
        dims,
        values: order_by_brightness(&centres, dims),
        inertia,
        iterations,
    })
}

/// k-means++: the first centre uniformly, each next one with probability proportional to the
/// squared distance to the nearest centre chosen so far.
fn kmeans_plus_plus(
    points: &[f32],
    dims: usize,
    k: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<f32>, KMeansError> {
    let n = points.len() / dims;
    let point = |i: usize| &points[i * dims..(i + 1) * dims];
    let mut centres = Vec::with_capacity(k * dims);
    centres.extend_from_slice(point(rng.random_range(0..n)));
    let mut nearest: Vec<f32> = (0..n)
        .map(|i| sq_dist(point(i), &centres[..dims]))
        .collect();
    // Greedy k-means++ (as in Arthur & Vassilvitskii's paper and scikit-learn): each step draws
    // a few D²-weighted candidates and keeps the one that lowers the potential most, which makes
    // the start, and so the result, depend much less on the seed.
    let candidates = 2 + (k as f64).ln() as usize;
    let mut trial = vec![0f32; n];
    for _ in 1..k {
        let total: f64 = nearest.iter().map(|&d| f64::from(d)).sum();
        if total <= 0.0 {
            let distinct = count_distinct(points, dims, k);
            return Err(KMeansError::TooFewDistinctPoints { distinct, k });
        }
        let mut best: Option<(f64, usize)> = None;
        let mut best_nearest = nearest.clone();
        for _ in 0..candidates {
            let chosen = draw_weighted(&nearest, total, rng);
            let c = point(chosen);
            let mut potential = 0f64;
            for (i, (t, &d)) in trial.iter_mut().zip(&nearest).enumerate() {
                *t = d.min(sq_dist(point(i), c));
                potential += f64::from(*t);
            }
            if best.is_none_or(|(p, _)| potential < p) {
                best = Some((potential, chosen));
                best_nearest.copy_from_slice(&trial);
            }
        }
        let Some((_, chosen)) = best else {
            break;
        };
        nearest = best_nearest;
        centres.extend_from_slice(point(chosen));
    }
    Ok(centres)
}

/// A point index drawn with probability proportional to `weights[i]` (which sum to `total` > 0).
fn draw_weighted(weights: &[f32], total: f64, rng: &mut ChaCha8Rng) -> usize {
    let mut target = rng.random::<f64>() * total;
    for (i, &d) in weights.iter().enumerate() {
        target -= f64::from(d);
        if target < 0.0 && d > 0.0 {
            return i;
        }
    }
    // Rounding left nothing at the end: take the farthest point instead.
    argmax(weights)
}

/// Moves every centre to the mean of its points; a centre that lost all its points is moved to
/// the point farthest from its own centre. Returns the largest distance a centre moved.
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd"),
    target_feature(enable = "simd128")
)]
fn update_centres(
    points: &[f32],
    dims: usize,
    labels: &[u8],
    dist: &[f32],
    centres: &mut [f32],
) -> f32 {
    let k = centres.len() / dims;
    let mut sums = vec![0f64; k * dims];
    let mut counts = vec![0u64; k];
    for (p, &l) in points.chunks_exact(dims).zip(labels) {
        let l = usize::from(l);
        counts[l] += 1;
        for (s, &v) in sums[l * dims..(l + 1) * dims].iter_mut().zip(p) {
            *s += f64::from(v);
        }
    }
    let mut taken = vec![false; labels.len()];
    let mut moved = 0f32;
    for c in 0..k {
        let new: Vec<f32> = if counts[c] > 0 {
            sums[c * dims..(c + 1) * dims]
                .iter()
                .map(|&s| (s / counts[c] as f64) as f32)
                .collect()
        } else {
            let far = farthest_untaken(dist, &taken);
            taken[far] = true;
            points[far * dims..(far + 1) * dims].to_vec()
        };
        let old = &mut centres[c * dims..(c + 1) * dims];
        moved = moved.max(sq_dist(old, &new).sqrt());
        old.copy_from_slice(&new);
    }
    moved
}

fn farthest_untaken(dist: &[f32], taken: &[bool]) -> usize {
    let mut best = (f32::NEG_INFINITY, 0);
    for (i, (&d, &t)) in dist.iter().zip(taken).enumerate() {
        if !t && d > best.0 {
            best = (d, i);
        }
    }
    best.1
}

/// Reorders centres so that index 0 is the darkest (smallest component sum); ties keep their
/// original order.
fn order_by_brightness(centres: &[f32], dims: usize) -> Vec<f32> {
    let mut order: Vec<usize> = (0..centres.len() / dims).collect();
    let brightness = |i: usize| {
        centres[i * dims..(i + 1) * dims]
            .iter()
            .map(|&v| f64::from(v))
            .sum::<f64>()
    };
    order.sort_by(|&a, &b| brightness(a).total_cmp(&brightness(b)).then(a.cmp(&b)));
    order
        .iter()
        .flat_map(|&i| centres[i * dims..(i + 1) * dims].iter().copied())
        .collect()
}

fn count_distinct(points: &[f32], dims: usize, limit: usize) -> usize {
    let mut seen: Vec<&[f32]> = Vec::new();
    for p in points.chunks_exact(dims) {
        if !seen.contains(&p) {
            seen.push(p);
            if seen.len() >= limit {
                break;
            }
        }
    }
    seen.len()
}

fn argmax(values: &[f32]) -> usize {
    let mut best = (f32::NEG_INFINITY, 0);
    for (i, &v) in values.iter().enumerate() {
        if v > best.0 {
            best = (v, i);
        }
    }
    best.1
}

#[inline]
fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    /// Three well-separated 2-D blobs.
    fn blobs() -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut pts = Vec::new();
        for (cx, cy) in [(0.1f32, 0.1f32), (0.5, 0.9), (0.9, 0.2)] {
            for _ in 0..200 {
                pts.push(cx + rng.random_range(-0.05..0.05));
                pts.push(cy + rng.random_range(-0.05..0.05));
            }
        }
        pts
    }

    #[test]
    fn finds_separated_clusters_ordered_by_brightness() {
        let c = fit(&blobs(), 2, 3, 1, FitOptions::default(), &NoProgress).unwrap();
        let sums: Vec<f32> = (0..3).map(|i| c.centre(i).iter().sum()).collect();
        assert!(sums[0] < sums[1] && sums[1] < sums[2], "{sums:?}");
        assert!((c.centre(0)[0] - 0.1).abs() < 0.02);
        assert!((c.centre(2)[1] - 0.9).abs() < 0.02);
    }

    #[test]
    fn same_seed_same_centres() {
        let a = fit(&blobs(), 2, 5, 42, FitOptions::default(), &NoProgress).unwrap();
        let b = fit(&blobs(), 2, 5, 42, FitOptions::default(), &NoProgress).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn too_few_points_or_distinct_points_is_an_error() {
        let pts = vec![0.5f32; 40];
        assert_eq!(
            fit(&pts, 2, 3, 0, FitOptions::default(), &NoProgress),
            Err(KMeansError::TooFewDistinctPoints { distinct: 1, k: 3 })
        );
        let two = [0.0f32, 0.0, 1.0, 1.0];
        assert_eq!(
            fit(&two, 2, 3, 0, FitOptions::default(), &NoProgress),
            Err(KMeansError::TooFewPoints { points: 2, k: 3 })
        );
        assert_eq!(
            fit(&pts, 2, 1, 0, FitOptions::default(), &NoProgress),
            Err(KMeansError::BadK(1))
        );
    }

    #[test]
    fn empty_cluster_is_repaired() {
        let pts = [0.0f32, 0.0, 1.0, 1.0];
        let mut centres = vec![0.0, 0.5, 5.0, 5.0];
        let labels = [0u8, 0];
        let dist = [0.25f32, 0.5];
        update_centres(&pts, 2, &labels, &dist, &mut centres);
        assert_eq!(centres, [0.5, 0.5, 1.0, 1.0]);
    }

    #[test]
    fn non_finite_points_are_refused_rather_than_giving_nan_centres() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut points: Vec<f32> = (0..40).map(|i| i as f32).collect();
            points[23] = bad;
            let result = fit(&points, 2, 3, 0, FitOptions::default(), &NoProgress);
            assert!(
                matches!(result, Err(KMeansError::NonFinite { point: 11 })),
                "{bad}: {result:?}"
            );
        }
    }
}
