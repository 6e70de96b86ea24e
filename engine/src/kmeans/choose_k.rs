//! Help choosing k: inertia and a silhouette estimate over a range of k, and a suggested k.

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;

use super::{FitOptions, KMeansError, assign, fit};
use crate::progress::{Progress, Stage};

/// Points used for the silhouette estimate (its cost grows with the square of this).
const SILHOUETTE_POINTS: usize = 1500;

/// Keeps the silhouette subsample independent of the k-means++ draws of the same seed.
const SILHOUETTE_SEED_SALT: u64 = 0x5eed_5111;

/// How well `k` clusters fit the sample.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KChoice {
    pub k: usize,
    /// Sum of squared distances to the nearest centre, over the sample.
    pub inertia: f64,
    /// Mean silhouette coefficient on a seeded subsample, in `-1.0..=1.0` (higher is better).
    pub silhouette: f64,
}

/// Fits every k in `ks` (ascending) to `points` with the same seed and reports inertia and
/// silhouette. The curve stops before the first k the points cannot support (fewer distinct
/// points than k); progress is reported as [`Stage::KCurve`] over the whole curve.
pub fn inertia_curve(
    points: &[f32],
    dims: usize,
    ks: impl IntoIterator<Item = usize>,
    seed: u64,
    progress: &impl Progress,
) -> Result<Vec<KChoice>, KMeansError> {
    let n = points.len() / dims.max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SILHOUETTE_SEED_SALT);
    let subset: Vec<usize> = sample(&mut rng, n, SILHOUETTE_POINTS.min(n)).into_vec();
    let sub_points: Vec<f32> = subset
        .iter()
        .flat_map(|&i| points[i * dims..(i + 1) * dims].iter().copied())
        .collect();
    let ks: Vec<usize> = ks.into_iter().collect();
    let mut curve = Vec::with_capacity(ks.len());
    for (i, &k) in ks.iter().enumerate() {
        let scaled = Scaled {
            inner: progress,
            done: i,
            total: ks.len(),
        };
        let centres = match fit(points, dims, k, seed, FitOptions::default(), &scaled) {
            Ok(c) => c,
            Err(KMeansError::TooFewPoints { .. } | KMeansError::TooFewDistinctPoints { .. }) => {
                break;
            }
            Err(e) => return Err(e),
        };
        let mut labels = vec![0u8; sub_points.len() / dims];
        assign(&sub_points, dims, &centres.values, &mut labels, None);
        curve.push(KChoice {
            k,
            inertia: centres.inertia,
            silhouette: silhouette(&sub_points, dims, &labels, k),
        });
    }
    progress.report(Stage::KCurve, 1.0);
    Ok(curve)
}

/// Reports one fit of the curve as its share of [`Stage::KCurve`].
struct Scaled<'a, P> {
    inner: &'a P,
    done: usize,
    total: usize,
}

impl<P: Progress> Progress for Scaled<'_, P> {
    fn report(&self, _stage: Stage, fraction: f32) {
        self.inner.report(
            Stage::KCurve,
            (self.done as f32 + fraction) / self.total as f32,
        );
    }

    fn is_cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }
}

/// Mean silhouette coefficient of a labelled point set (exact, quadratic in the point count).
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd"),
    target_feature(enable = "simd128")
)]
fn silhouette(points: &[f32], dims: usize, labels: &[u8], k: usize) -> f64 {
    let n = labels.len();
    let mut sizes = vec![0usize; k];
    for &l in labels {
        sizes[usize::from(l)] += 1;
    }
    let mut total = 0.0;
    let mut sums = vec![0f64; k];
    for i in 0..n {
        sums.iter_mut().for_each(|s| *s = 0.0);
        let p = &points[i * dims..(i + 1) * dims];
        for j in 0..n {
            let q = &points[j * dims..(j + 1) * dims];
            let d: f32 = p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum();
            sums[usize::from(labels[j])] += f64::from(d.sqrt());
        }
        let own = usize::from(labels[i]);
        if sizes[own] <= 1 {
            continue; // silhouette of a singleton is 0
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != own && sizes[c] > 0)
            .map(|c| sums[c] / sizes[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() && a.max(b) > 0.0 {
            total += (b - a) / a.max(b);
        }
    }
    if n == 0 { 0.0 } else { total / n as f64 }
}

/// The elbow of the inertia curve: the k whose point lies farthest below the straight line
/// joining the first and last points (both axes normalised). `None` for fewer than three points.
pub fn suggest_k(curve: &[KChoice]) -> Option<usize> {
    let (first, last) = (curve.first()?, curve.last()?);
    if curve.len() < 3 || last.k == first.k {
        return None;
    }
    let span_k = (last.k - first.k) as f64;
    let span_i = (first.inertia - last.inertia).abs().max(f64::MIN_POSITIVE);
    curve
        .iter()
        .map(|c| {
            let x = (c.k - first.k) as f64 / span_k;
            let y = (c.inertia - last.inertia) / span_i;
            // Distance below the chord from (0, 1) to (1, 0).
            (c.k, (1.0 - x) - y)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    #[test]
    fn four_blobs_suggest_four() {
        let mut pts = Vec::new();
        let mut s = 1u32;
        let mut noise = move || {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32 * 0.04 - 0.02
        };
        for (x, y) in [(0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9)] {
            for _ in 0..300 {
                pts.push(x + noise());
                pts.push(y + noise());
            }
        }
        let curve = inertia_curve(&pts, 2, 2..=8, 3, &NoProgress).unwrap();
        assert_eq!(curve.len(), 7);
        assert!(
            curve
                .windows(2)
                .all(|w| w[1].inertia <= w[0].inertia * 1.05)
        );
        assert_eq!(suggest_k(&curve), Some(4));
        let best_sil = curve
            .iter()
            .max_by(|a, b| a.silhouette.total_cmp(&b.silhouette))
            .unwrap();
        assert_eq!(best_sil.k, 4);
    }
}
