//! The run settings in the page's URL query, so that a link reproduces a run:
//! `?k=6&res=4&smooth=5&mmu=64&seed=7&bands=1,2,3&rgb=3,2,1` (bands 1-based). Missing or invalid
//! values fall back to the engine's defaults.

use engine::pipeline::SegmentParams;

/// Resolutions offered in the UI.
pub const RESOLUTIONS: [u32; 5] = [1, 2, 4, 8, 16];
/// Majority-filter sizes offered in the UI (0 = off).
pub const SMOOTHING: [usize; 4] = [0, 3, 5, 7];

/// Everything the controls set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub k: usize,
    pub resolution: u32,
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
        let p = SegmentParams::default();
        Self {
            k: p.k,
            resolution: p.resolution,
            smooth: p.smooth,
            mmu: p.mmu,
            seed: p.seed,
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
                "k" => set(&mut s.k, value, |k| (2..=64).contains(k)),
                "res" => set(&mut s.resolution, value, |r| RESOLUTIONS.contains(r)),
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
            k: self.k,
            resolution: self.resolution,
            bands,
            smooth: self.smooth,
            mmu: self.mmu,
            seed: self.seed,
            ..SegmentParams::default()
        }
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

    #[test]
    fn defaults_are_the_engines() {
        let s = Settings::from_query("");
        let p = SegmentParams::default();
        assert_eq!(
            (s.k, s.resolution, s.smooth, s.mmu, s.seed),
            (p.k, p.resolution, p.smooth, p.mmu, p.seed)
        );
    }

    #[test]
    fn round_trip() {
        let s = Settings {
            k: 6,
            resolution: 4,
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
    fn bad_values_fall_back() {
        let s = Settings::from_query("?k=99&res=3&smooth=4&bands=0,x&rgb=1,2&seed=-1");
        assert_eq!(s, Settings::default());
        let s = Settings::from_query("?bands=1%2C3");
        assert_eq!(s.bands, Some(vec![0, 2]));
    }

    #[test]
    fn repeated_bands_count_once() {
        let s = Settings::from_query("?bands=1,1,1");
        assert_eq!(s.params(&[0, 1, 2]).bands, Some(vec![0]));
        let s = Settings::from_query("?bands=2,1,2");
        assert_eq!(s.params(&[0, 1, 2]).bands, Some(vec![1, 0]));
    }

    #[test]
    fn all_bands_means_none() {
        let s = Settings {
            bands: Some(vec![0, 1, 2]),
            ..Settings::default()
        };
        assert_eq!(s.params(&[0, 1, 2]).bands, None);
        let s = Settings {
            bands: Some(vec![2]),
            ..Settings::default()
        };
        assert_eq!(s.params(&[0, 1, 2]).bands, Some(vec![2]));
    }
}
