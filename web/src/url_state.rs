//! The run settings in the page's URL query, so that a link reproduces a run:
//! `?k=6&res=4&smooth=5&mmu=64&seed=7&bands=1,2,3&rgb=3,2,1&presmooth=1&normalise=zscore`
//! (bands 1-based; `presmooth` and `normalise` only when they differ from the defaults, like
//! the CLI's `--presmooth` and `--normalise`). Missing or invalid values fall back to the
//! engine's defaults.

use std::ops::RangeInclusive;

pub use engine::features::RESOLUTIONS;
use engine::kmeans::MAX_K;
use engine::kmeans::model::KMeansParams;
use engine::normalise::Normalisation;
use engine::pipeline::{MethodParams, PostProcess, SegmentParams};

/// The numbers of classes the engine fits.
pub const K_RANGE: RangeInclusive<usize> = 2..=MAX_K;
/// Majority-filter sizes offered in the UI (0 = off).
pub const SMOOTHING: [usize; 4] = [0, 3, 5, 7];

/// Everything the controls set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub k: usize,
    pub resolution: u32,
    /// 3×3 mean filter on the pixels before the block means.
    pub presmooth: bool,
    /// How band values are scaled before clustering.
    pub normalise: Normalisation,
    pub smooth: usize,
    pub mmu: u32,
    pub seed: u64,
    /// Bands to cluster on (0-based); `None` = every data band.
    pub bands: Option<Vec<usize>>,
    /// Display mapping (0-based); `None` = the raster's default.
    pub display: Option<[usize; 3]>,
}

impl Default for Settings {
    fn default() -> Self {
        let kmeans = KMeansParams::default();
        let post = PostProcess::default();
        Self {
            k: kmeans.k,
            resolution: kmeans.resolution,
            presmooth: kmeans.presmooth,
            normalise: kmeans.normalise,
            smooth: post.smooth,
            mmu: post.mmu,
            seed: SegmentParams::default().seed,
            bands: None,
            display: None,
        }
    }
}

impl Settings {
    /// Reads a query string (with or without the leading `?`).
    pub fn from_query(query: &str) -> Self {
        let mut s = Settings::default();
        for pair in query.trim_start_matches('?').split('&') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            match key {
                "k" => set(&mut s.k, value, |k| K_RANGE.contains(k)),
                "res" => set(&mut s.resolution, value, |r| RESOLUTIONS.contains(r)),
                "presmooth" => {
                    if let Some(on) = flag(value) {
                        s.presmooth = on;
                    }
                }
                "normalise" => set(&mut s.normalise, value, |_| true),
                "smooth" => set(&mut s.smooth, value, |v| SMOOTHING.contains(v)),
                "mmu" => set(&mut s.mmu, value, |v| *v <= 1_000_000),
                "seed" => set(&mut s.seed, value, |_| true),
                "bands" => s.bands = one_based_list(value).filter(|b| !b.is_empty()),
                "rgb" => {
                    s.display = one_based_list(value).and_then(|b| <[usize; 3]>::try_from(b).ok())
                }
                _ => {}
            }
        }
        s
    }

    /// The query string (with the leading `?`) that [`Settings::from_query`] reads back.
    pub fn to_query(&self) -> String {
        let mut q = format!(
            "?k={}&res={}&smooth={}&mmu={}&seed={}",
            self.k, self.resolution, self.smooth, self.mmu, self.seed
        );
        if let Some(bands) = &self.bands {
            q.push_str("&bands=");
            q.push_str(&join_one_based(bands));
        }
        if let Some(rgb) = &self.display {
            q.push_str("&rgb=");
            q.push_str(&join_one_based(rgb));
        }
        if self.presmooth {
            q.push_str("&presmooth=1");
        }
        if self.normalise != Normalisation::default() {
            q.push_str("&normalise=");
            q.push_str(self.normalise.name());
        }
        q
    }

    /// The engine parameters of a run with these settings on a raster with `data_bands`.
    pub fn params(&self, data_bands: &[usize]) -> SegmentParams {
        let bands = self
            .bands
            .as_ref()
            .map(|b| {
                let mut chosen: Vec<usize> = Vec::with_capacity(b.len());
                for &x in b {
                    if data_bands.contains(&x) && !chosen.contains(&x) {
                        chosen.push(x);
                    }
                }
                chosen
            })
            .filter(|b| !b.is_empty() && b.len() < data_bands.len());
        SegmentParams {
            method: MethodParams::Kmeans(KMeansParams {
                k: self.k,
                resolution: self.resolution,
                bands,
                presmooth: self.presmooth,
                normalise: self.normalise,
                ..KMeansParams::default()
            }),
            post: PostProcess {
                smooth: self.smooth,
                mmu: self.mmu,
            },
            seed: self.seed,
        }
    }
}

/// A boolean query value: `1`/`true` or `0`/`false`.
fn flag(value: &str) -> Option<bool> {
    match value {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

fn set<T: std::str::FromStr>(field: &mut T, value: &str, ok: impl Fn(&T) -> bool) {
    if let Ok(v) = value.parse::<T>()
        && ok(&v)
    {
        *field = v;
    }
}

fn one_based_list(value: &str) -> Option<Vec<usize>> {
    value
        .replace("%2C", ",")
        .replace("%2c", ",")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().ok()?.checked_sub(1))
        .collect()
}

fn join_one_based(bands: &[usize]) -> String {
    bands
        .iter()
        .map(|b| (b + 1).to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kmeans(params: SegmentParams) -> KMeansParams {
        let MethodParams::Kmeans(p) = params.method else {
            panic!("not a K-Means run: {params:?}");
        };
        p
    }

    #[test]
    fn defaults_are_the_engines() {
        let s = Settings::from_query("");
        let p = SegmentParams::default();
        assert_eq!(s.params(&[0, 1, 2]), p);
        assert_eq!(s.seed, p.seed);
        assert_eq!((s.smooth, s.mmu), (p.post.smooth, p.post.mmu));
        let MethodParams::Kmeans(k) = p.method else {
            panic!("the default method is K-Means");
        };
        assert_eq!(
            (s.k, s.resolution, s.presmooth, s.normalise),
            (k.k, k.resolution, k.presmooth, k.normalise)
        );
    }

    #[test]
    fn round_trip() {
        let s = Settings {
            k: 6,
            resolution: 4,
            presmooth: false,
            normalise: Normalisation::Auto,
            smooth: 5,
            mmu: 64,
            seed: 7,
            bands: Some(vec![3, 4, 5]),
            display: Some([2, 1, 0]),
        };
        assert_eq!(Settings::from_query(&s.to_query()), s);
        assert_eq!(
            s.to_query(),
            "?k=6&res=4&smooth=5&mmu=64&seed=7&bands=4,5,6&rgb=3,2,1"
        );
    }

    #[test]
    fn presmooth_and_normalise_round_trip() {
        let s = Settings {
            presmooth: true,
            normalise: Normalisation::Zscore,
            ..Settings::default()
        };
        let q = s.to_query();
        assert!(q.ends_with("&presmooth=1&normalise=zscore"), "{q}");
        assert_eq!(Settings::from_query(&q), s);
        for n in Normalisation::ALL {
            let s = Settings {
                normalise: n,
                ..Settings::default()
            };
            assert_eq!(Settings::from_query(&s.to_query()).normalise, n);
        }
    }

    #[test]
    fn presmooth_and_normalise_reach_the_params() {
        let s = Settings::from_query("?presmooth=1&normalise=robust");
        let p = kmeans(s.params(&[0, 1, 2]));
        assert!(p.presmooth);
        assert_eq!(p.normalise, Normalisation::Robust);
        let s = Settings::from_query("?presmooth=true&normalise=robust_clip");
        assert!(s.presmooth);
        assert_eq!(s.normalise, Normalisation::RobustClip);
        assert!(!Settings::from_query("?presmooth=1&presmooth=0").presmooth);
    }

    #[test]
    fn every_setting_reaches_the_params() {
        let s = Settings::from_query("?k=12&res=8&smooth=7&mmu=100&seed=42&bands=2,3");
        let p = s.params(&[0, 1, 2, 3]);
        assert_eq!(p.seed, 42);
        assert_eq!(
            p.post,
            PostProcess {
                smooth: 7,
                mmu: 100
            }
        );
        let k = kmeans(p);
        assert_eq!((k.k, k.resolution), (12, 8));
        assert_eq!(k.bands, Some(vec![1, 2]));
    }

    #[test]
    fn k_range_is_the_engines() {
        assert_eq!(Settings::from_query(&format!("?k={MAX_K}")).k, MAX_K);
        let default_k = Settings::default().k;
        assert_eq!(
            Settings::from_query(&format!("?k={}", MAX_K + 1)).k,
            default_k
        );
        assert_eq!(Settings::from_query("?k=1").k, default_k);
        assert_eq!(Settings::from_query("?k=2").k, 2);
        for r in RESOLUTIONS {
            assert_eq!(Settings::from_query(&format!("?res={r}")).resolution, r);
        }
    }

    #[test]
    fn bad_values_fall_back() {
        let s = Settings::from_query(
            "?k=99&res=3&smooth=4&bands=0,x&rgb=1,2&seed=-1&presmooth=yes&normalise=minmax",
        );
        assert_eq!(s, Settings::default());
        let s = Settings::from_query("?bands=1%2C3");
        assert_eq!(s.bands, Some(vec![0, 2]));
    }

    #[test]
    fn repeated_bands_count_once() {
        let s = Settings::from_query("?bands=1,1,1");
        assert_eq!(kmeans(s.params(&[0, 1, 2])).bands, Some(vec![0]));
        let s = Settings::from_query("?bands=2,1,2");
        assert_eq!(kmeans(s.params(&[0, 1, 2])).bands, Some(vec![1, 0]));
    }

    #[test]
    fn all_bands_means_none() {
        let s = Settings {
            bands: Some(vec![0, 1, 2]),
            ..Settings::default()
        };
        assert_eq!(kmeans(s.params(&[0, 1, 2])).bands, None);
        let s = Settings {
            bands: Some(vec![2]),
            ..Settings::default()
        };
        assert_eq!(kmeans(s.params(&[0, 1, 2])).bands, Some(vec![2]));
    }
}
