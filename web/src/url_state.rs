//! The run settings in the page's URL query, so that a link reproduces a run:
//! `?k=6&res=4&smooth=5&mmu=64&seed=7&bands=1,2,3&rgb=3,2,1&presmooth=1&normalise=zscore`, or
//! `?method=cnn&k=8&res=2&spectra=0.5&roles=red,green,blue,nir` for the CNN, and
//! `&backend=cpu` or `&backend=webgpu` to force where the work runs, `&workers=N` to set how
//! many workers read and label in parallel (default: one per core, at most 8)
//! (bands 1-based; `method`, `backend`, `presmooth`, `normalise` and `spectra` only when they
//! differ from the defaults, like the CLI's options). Missing or invalid values fall back to
//! the engine's defaults.

use std::ops::RangeInclusive;

use engine::cnn::{CnnParams, DEFAULT_SPECTRA};
pub use engine::features::RESOLUTIONS;
use engine::kmeans::MAX_K;
use engine::kmeans::model::KMeansParams;
use engine::normalise::Normalisation;
use engine::pipeline::{MethodParams, PostProcess, SegmentParams};

use crate::protocol::{BackendChoice, MAX_WORKERS};

/// The numbers of classes the engine fits.
pub const K_RANGE: RangeInclusive<usize> = 2..=MAX_K;
/// Majority-filter sizes offered in the UI (0 = off).
pub const SMOOTHING: [usize; 4] = [0, 3, 5, 7];
/// Weights of the band values beside the CNN's embedding offered in the UI.
pub const SPECTRA: [f32; 5] = [0.0, 0.5, 1.0, 2.0, 4.0];

/// The segmentation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    #[default]
    Kmeans,
    Cnn,
}

impl Method {
    pub const ALL: [Method; 2] = [Method::Kmeans, Method::Cnn];

    /// The name in URLs and in the engine's parameters.
    pub fn name(self) -> &'static str {
        match self {
            Method::Kmeans => "kmeans",
            Method::Cnn => "cnn",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Method::Kmeans => "K-Means",
            Method::Cnn => "CNN (learned features)",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Everything the controls set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    pub method: Method,
    /// Where the work runs: the GPU through WebGPU when there is one, or forced.
    pub backend: BackendChoice,
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
    /// CNN: weight of the band values beside the embedding.
    pub spectra: f32,
    /// CNN: band roles (the CLI's `--band-roles` syntax); `None` reads them from the file.
    pub roles: Option<String>,
    /// Size of the worker pool (`None`: one per logical core, capped).
    pub workers: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        let kmeans = KMeansParams::default();
        let post = PostProcess::default();
        Self {
            method: Method::default(),
            backend: BackendChoice::default(),
            k: kmeans.k,
            resolution: kmeans.resolution,
            presmooth: kmeans.presmooth,
            normalise: kmeans.normalise,
            smooth: post.smooth,
            mmu: post.mmu,
            seed: SegmentParams::default().seed,
            bands: None,
            display: None,
            spectra: DEFAULT_SPECTRA,
            roles: None,
            workers: None,
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
                "method" => {
                    if let Some(m) = Method::from_name(value) {
                        s.method = m;
                    }
                }
                "backend" => {
                    if let Some(b) = BackendChoice::from_name(value) {
                        s.backend = b;
                    }
                }
                "spectra" => set(&mut s.spectra, value, |v| SPECTRA.contains(v)),
                "roles" => {
                    let roles = decode(value);
                    s.roles = (!roles.trim().is_empty()).then_some(roles);
                }
                "workers" => {
                    if let Ok(n) = value.parse::<usize>()
                        && (1..=MAX_WORKERS).contains(&n)
                    {
                        s.workers = Some(n);
                    }
                }
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
        let mut q = String::from("?");
        if self.method != Method::default() {
            q.push_str(&format!("method={}&", self.method.name()));
        }
        q.push_str(&format!(
            "k={}&res={}&smooth={}&mmu={}&seed={}",
            self.k, self.resolution, self.smooth, self.mmu, self.seed
        ));
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
        if self.spectra != DEFAULT_SPECTRA {
            q.push_str(&format!("&spectra={}", self.spectra));
        }
        if let Some(roles) = &self.roles {
            q.push_str("&roles=");
            q.push_str(&encode(roles));
        }
        if self.backend != BackendChoice::default() {
            q.push_str("&backend=");
            q.push_str(self.backend.name());
        }
        if let Some(n) = self.workers {
            q.push_str(&format!("&workers={n}"));
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
        let method = match self.method {
            Method::Kmeans => MethodParams::Kmeans(KMeansParams {
                k: self.k,
                resolution: self.resolution,
                bands,
                presmooth: self.presmooth,
                normalise: self.normalise,
                ..KMeansParams::default()
            }),
            Method::Cnn => MethodParams::Cnn(CnnParams {
                k: self.k,
                resolution: self.resolution,
                bands,
                band_roles: self.roles.clone(),
                spectra: self.spectra,
                ..CnnParams::default()
            }),
        };
        SegmentParams {
            method,
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

/// A query value with `%XX` escapes and `+` decoded (invalid escapes are kept as they are).
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `value` with every byte but letters, digits, `,`, `-`, `=`, `.` and `_` escaped.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b",-=._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
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
            ..Settings::default()
        };
        assert_eq!(Settings::from_query(&s.to_query()), s);
        assert_eq!(
            s.to_query(),
            "?k=6&res=4&smooth=5&mmu=64&seed=7&bands=4,5,6&rgb=3,2,1"
        );
    }

    #[test]
    fn the_pool_size_round_trips_and_out_of_range_sizes_fall_back() {
        let s = Settings {
            workers: Some(3),
            ..Settings::default()
        };
        assert!(s.to_query().ends_with("&workers=3"));
        assert_eq!(Settings::from_query(&s.to_query()), s);
        for bad in ["0", "33", "-1", "two", ""] {
            assert_eq!(
                Settings::from_query(&format!("?workers={bad}")).workers,
                None,
                "workers={bad}"
            );
        }
        assert_eq!(Settings::from_query("?workers=32").workers, Some(32));
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
    fn a_cnn_run_round_trips_with_its_settings() {
        let s = Settings {
            method: Method::Cnn,
            backend: BackendChoice::Cpu,
            k: 9,
            resolution: 2,
            spectra: 0.5,
            roles: Some("red,green,blue,nir".into()),
            ..Settings::default()
        };
        let q = s.to_query();
        assert_eq!(
            q,
            "?method=cnn&k=9&res=2&smooth=3&mmu=0&seed=0&spectra=0.5&roles=red,green,blue,nir&backend=cpu"
                .replace("smooth=3&mmu=0&seed=0", &format!(
                    "smooth={}&mmu={}&seed={}",
                    s.smooth, s.mmu, s.seed
                ))
        );
        assert_eq!(Settings::from_query(&q), s);
        let MethodParams::Cnn(p) = s.params(&[0, 1, 2, 3]).method else {
            panic!("not a CNN run");
        };
        assert_eq!((p.k, p.resolution, p.spectra), (9, 2, 0.5));
        assert_eq!(p.band_roles.as_deref(), Some("red,green,blue,nir"));
    }

    #[test]
    fn roles_with_spaces_and_equals_signs_round_trip() {
        let s = Settings {
            method: Method::Cnn,
            roles: Some("4=nir, 3=red".into()),
            ..Settings::default()
        };
        let q = s.to_query();
        assert!(
            q.contains("roles=4=nir%2C%203=red") || q.contains("roles=4=nir,%203=red"),
            "{q}"
        );
        assert_eq!(Settings::from_query(&q).roles, s.roles);
        assert_eq!(
            Settings::from_query("?roles=%E2%82%AC%zz").roles.as_deref(),
            Some("€%zz")
        );
    }

    #[test]
    fn backend_and_method_fall_back_to_the_defaults() {
        let s = Settings::from_query("?method=svm&backend=tpu&spectra=3");
        assert_eq!(s.method, Method::Kmeans);
        assert_eq!(s.backend, BackendChoice::Auto);
        assert_eq!(s.spectra, DEFAULT_SPECTRA);
        assert_eq!(
            Settings::from_query("?backend=webgpu").backend,
            BackendChoice::Webgpu
        );
        assert!(!Settings::default().to_query().contains("backend"));
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
