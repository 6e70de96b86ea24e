//! Per-band normalisation of raw samples before clustering.
//!
//! K-Means measures Euclidean distance, so how each band is scaled decides how much it counts,
//! and a long tail (cloud, roofs, bare fields) can take a whole cluster. A [`Normalisation`] is
//! what a user chooses; the [`Normaliser`] is what it becomes for one raster, computed from the
//! values of the fitting sample (never from a tile, so every window of the raster is normalised
//! alike and there are no seams).
//!
//! The default ([`Normalisation::DEFAULT`]) was chosen by measuring every candidate against
//! reference land-cover maps of real scenes (`cargo xtask quality`): see the README's quality
//! table.

use std::fmt;
use std::str::FromStr;

use crate::raster::SampleType;

/// Percentiles of the stretch.
pub const STRETCH_PERCENTILES: (f64, f64) = (0.02, 0.98);

/// Where [`Normalisation::RobustClip`] clips, in robust standard deviations from the median.
pub const ROBUST_CLIP_SIGMAS: f64 = 3.0;

/// Normal-consistent scale of the median absolute deviation (MAD × 1.4826 ≈ σ for normal data).
const MAD_TO_SIGMA: f64 = 1.482_602_2;

/// How raw band values are scaled for clustering.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Normalisation {
    /// The default for the raster's sample type ([`Normalisation::DEFAULT`]).
    #[default]
    Auto,
    /// Divide by 255 (8-bit data only).
    Unit,
    /// Per-band 2–98 % percentile stretch to 0..1, values outside clamped.
    Stretch,
    /// Per-band z-score: `(v − mean) / standard deviation` of the sample.
    Zscore,
    /// Per-band robust z-score: `(v − median) / (1.4826 × MAD)` of the sample.
    Robust,
    /// [`Self::Robust`] clipped to ±3: equal weight per band like a z-score, but a bright tail
    /// (towns, bare fields, cloud) cannot pull a cluster of its own.
    RobustClip,
}

impl Normalisation {
    /// What [`Normalisation::Auto`] becomes, for every sample type.
    pub const DEFAULT: Normalisation = Normalisation::RobustClip;

    /// Every choice, in the order the CLI lists them.
    pub const ALL: [Normalisation; 6] = [
        Normalisation::Auto,
        Normalisation::Unit,
        Normalisation::Stretch,
        Normalisation::Zscore,
        Normalisation::Robust,
        Normalisation::RobustClip,
    ];

    /// The concrete normalisation for data of `sample_type` (resolves [`Normalisation::Auto`]).
    pub fn resolve(self, _sample_type: SampleType) -> Normalisation {
        match self {
            Normalisation::Auto => Self::DEFAULT,
            other => other,
        }
    }

    /// The name users type (`--normalise`) and manifests record.
    pub fn name(self) -> &'static str {
        match self {
            Normalisation::Auto => "auto",
            Normalisation::Unit => "unit",
            Normalisation::Stretch => "stretch",
            Normalisation::Zscore => "zscore",
            Normalisation::Robust => "robust",
            Normalisation::RobustClip => "robust_clip",
        }
    }

    /// Whether [`Normaliser::fit`] needs the sample's values (everything but [`Self::Unit`]).
    pub fn needs_sample(self) -> bool {
        !matches!(self, Normalisation::Unit)
    }
}

impl fmt::Display for Normalisation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`Normalisation`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown normalisation `{0}` (expected one of: auto, unit, stretch, zscore, robust, robust_clip)"
)]
pub struct UnknownNormalisation(pub String);

impl FromStr for Normalisation {
    type Err = UnknownNormalisation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Normalisation::ALL
            .into_iter()
            .find(|n| n.name() == s)
            .ok_or_else(|| UnknownNormalisation(s.to_owned()))
    }
}

/// Maps a band's raw values to normalised units: `(v − offset) × scale`, then clamped to the
/// band's `[low, high]` when `clamp` holds bounds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normaliser {
    /// The concrete normalisation this came from (never [`Normalisation::Auto`]).
    pub method: Normalisation,
    pub offset: Vec<f32>,
    pub scale: Vec<f32>,
    /// Per-band `[low, high]` in normalised units, or `None` when values are not clamped.
    pub clamp: Option<Vec<[f32; 2]>>,
}

impl Normaliser {
    /// 8-bit data divided by 255, no clamp.
    pub fn unit_u8(bands: usize) -> Self {
        Self {
            method: Normalisation::Unit,
            offset: vec![0.0; bands],
            scale: vec![1.0 / 255.0; bands],
            clamp: None,
        }
    }

    /// The normaliser of `method` (not [`Normalisation::Auto`] or [`Normalisation::Unit`]) from
    /// `values[band]`, the raw samples of the sample's valid pixels. The slices are reordered.
    /// A band whose spread is zero (a constant band) gets scale 1.
    pub fn fit(method: Normalisation, values: &mut [Vec<f64>]) -> Self {
        let (lo_q, hi_q) = STRETCH_PERCENTILES;
        let bands = values.len();
        let mut offset = Vec::with_capacity(bands);
        let mut scale = Vec::with_capacity(bands);
        let mut clamp = Vec::with_capacity(bands);
        for v in values.iter_mut() {
            let (o, spread, bounds) = match method {
                Normalisation::Zscore => {
                    let (mean, sd) = mean_sd(v);
                    (mean, sd, None)
                }
                Normalisation::Robust | Normalisation::RobustClip => {
                    let (median, sigma) = robust_sigma(v);
                    let bounds = (method == Normalisation::RobustClip).then(|| {
                        let c = ROBUST_CLIP_SIGMAS * sigma;
                        (median - c, median + c)
                    });
                    (median, sigma, bounds)
                }
                // Stretch (and, defensively, anything else): 2–98 % to 0..1.
                _ => {
                    let (lo, hi) = (percentile(v, lo_q), percentile(v, hi_q));
                    (lo, hi - lo, Some((lo, hi)))
                }
            };
            // A spread too small for f32 gets the largest finite scale instead of infinity.
            let s = if spread > 0.0 && spread.is_finite() {
                (1.0 / spread).min(f64::from(f32::MAX))
            } else {
                1.0
            };
            // Valid samples lie within the f32 range, and so does their centre; an empty band
            // (no valid samples) gets 0.
            let o = if o.is_finite() {
                o.clamp(-f64::from(f32::MAX), f64::from(f32::MAX))
            } else {
                0.0
            };
            offset.push(o as f32);
            scale.push(s as f32);
            clamp.push(bounds.map(|(lo, hi)| [((lo - o) * s) as f32, ((hi - o) * s) as f32]));
        }
        let method = match method {
            Normalisation::Zscore | Normalisation::Robust | Normalisation::RobustClip => method,
            _ => Normalisation::Stretch,
        };
        let clamp = clamp.into_iter().collect::<Option<Vec<_>>>();
        Self {
            method,
            offset,
            scale,
            clamp,
        }
    }

    /// Whether values are clamped after scaling.
    pub fn clamps(&self) -> bool {
        self.clamp.is_some()
    }

    /// The normalised value of raw sample `v` of (selected) band `band`, at most
    /// [`MAX_FEATURE`] in magnitude. Computed in f32, or in f64 where f32 overflows.
    #[inline]
    pub fn apply(&self, band: usize, v: f64) -> f32 {
        let (offset, scale) = (self.offset[band], self.scale[band]);
        let mut n = (v as f32 - offset) * scale;
        if n.is_infinite() {
            n = ((v - f64::from(offset)) * f64::from(scale)) as f32;
        }
        let n = match &self.clamp {
            Some(bounds) => n.clamp(bounds[band][0], bounds[band][1]),
            None => n,
        };
        n.clamp(-MAX_FEATURE, MAX_FEATURE)
    }
}

/// The largest magnitude of a normalised value: squared distances between features of up to
/// 255 bands stay finite in f32 (255 × (2 × 10¹⁷)² ≈ 10³⁷ < 3.4 × 10³⁸), so an outlier can never
/// turn a fit's distances, centres or inertia into infinity or NaN.
pub const MAX_FEATURE: f32 = 1e17;

/// Median and robust standard deviation of `values` (reordered): 1.4826 × MAD, or where more
/// than half the values are equal (MAD 0, common in quantised bands), the interquartile range
/// / 1.349, then the standard deviation.
fn robust_sigma(values: &mut [f64]) -> (f64, f64) {
    let median = percentile(values, 0.5);
    let mut dev: Vec<f64> = values.iter().map(|x| (x - median).abs()).collect();
    let mad = percentile(&mut dev, 0.5) * MAD_TO_SIGMA;
    if mad > 0.0 {
        return (median, mad);
    }
    let iqr = (percentile(values, 0.75) - percentile(values, 0.25)) / 1.349;
    if iqr > 0.0 {
        return (median, iqr);
    }
    (median, mean_sd(values).1)
}

/// Mean and population standard deviation (0 for fewer than two values).
fn mean_sd(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// The value at quantile `q` of `values` (nearest rank); 0 for an empty slice.
fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let idx = ((values.len() - 1) as f64 * q).round() as usize;
    let (_, v, _) = values.select_nth_unstable_by(idx, f64::total_cmp);
    *v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp() -> Vec<Vec<f64>> {
        vec![(0..=100).map(f64::from).collect()]
    }

    #[test]
    fn percentile_stretch_clamps() {
        let n = Normaliser::fit(Normalisation::Stretch, &mut ramp());
        assert_eq!(n.offset, vec![2.0]);
        assert!((n.apply(0, 50.0) - 0.5).abs() < 1e-6);
        assert_eq!(n.apply(0, 0.0), 0.0);
        assert_eq!(n.apply(0, 100.0), 1.0);
    }

    #[test]
    fn zscore_centres_and_scales() {
        let n = Normaliser::fit(Normalisation::Zscore, &mut ramp());
        assert!((n.offset[0] - 50.0).abs() < 1e-6);
        let sd = (10200.0f64 / 12.0).sqrt(); // population sd of 0..=100
        assert!((n.apply(0, 50.0 + sd) - 1.0).abs() < 1e-4);
        assert!(n.clamp.is_none());
    }

    #[test]
    fn robust_uses_median_and_mad() {
        let mut v = vec![vec![1.0, 2.0, 3.0, 4.0, 1000.0]];
        let n = Normaliser::fit(Normalisation::Robust, &mut v);
        assert_eq!(n.offset, vec![3.0]);
        // MAD of [2, 1, 0, 1, 997] is 1.
        assert!((n.scale[0] as f64 - 1.0 / MAD_TO_SIGMA).abs() < 1e-6);
    }

    #[test]
    fn robust_clip_bounds_a_bright_tail() {
        let mut v = vec![(0..100).map(f64::from).chain([1e6]).collect::<Vec<_>>()];
        let n = Normaliser::fit(Normalisation::RobustClip, &mut v);
        assert_eq!(n.apply(0, 1e6), 3.0, "a far outlier is clamped at +3 sigma");
        assert_eq!(n.apply(0, -1e6), -3.0);
        assert!(n.apply(0, 50.0).abs() < 1e-6, "the median maps to 0");
    }

    #[test]
    fn robust_sigma_falls_back_when_most_values_are_equal() {
        let mut v = vec![
            vec![5.0; 60]
                .into_iter()
                .chain((0..40).map(f64::from))
                .collect(),
        ];
        let n = Normaliser::fit(Normalisation::Robust, &mut v);
        assert!(n.scale[0] < 1.0 && n.scale[0] > 0.0, "{:?}", n.scale);
    }

    #[test]
    fn constant_bands_get_unit_scale() {
        for m in [
            Normalisation::Stretch,
            Normalisation::Zscore,
            Normalisation::Robust,
            Normalisation::RobustClip,
        ] {
            let n = Normaliser::fit(m, &mut [vec![7.0; 10]]);
            assert_eq!(n.scale, vec![1.0], "{m}");
            assert_eq!(n.apply(0, 7.0), 0.0, "{m}");
        }
    }

    #[test]
    fn names_round_trip() {
        for n in Normalisation::ALL {
            assert_eq!(n.name().parse::<Normalisation>(), Ok(n));
        }
        let err = "minmax".parse::<Normalisation>().unwrap_err();
        assert!(err.to_string().contains("unknown normalisation `minmax`"));
    }

    #[test]
    fn normalised_values_stay_finite_and_bounded_whatever_the_sample() {
        // A spread far below f32's smallest normal number, an outlier near f32::MAX, and a
        // difference (offset near -f32::MAX) that overflows f32 before scaling.
        let cases: [(Normalisation, Vec<f64>, f64); 3] = [
            (Normalisation::Zscore, vec![0.0, 1e-300, 2e-300], 1.0),
            (Normalisation::Robust, vec![0.0, 1.0, 1.0, 2.0, 3e38], 3e38),
            (
                Normalisation::Zscore,
                vec![-3e38, -3e38, -3e38, -2.9e38],
                3e38,
            ),
        ];
        for (method, values, probe) in cases {
            let n = Normaliser::fit(method, &mut [values.clone()]);
            for v in values.iter().chain([&probe]) {
                let x = n.apply(0, *v);
                assert!(
                    x.is_finite() && x.abs() <= MAX_FEATURE,
                    "{method:?} {v}: {x}"
                );
            }
        }
    }
}
