//! The naming rules: class signatures and band roles in, a suggestion (or none) per class out.
//!
//! With near infrared and red, standard normalised-difference indices of each class's mean
//! values decide, with their published thresholds (never thresholds fitted to one scene):
//!
//! - water: with SWIR1, MNDWI above 0 where NDVI is low, MNDWI = (green − SWIR1) / (green +
//!   SWIR1) (Xu 2006, *Int. J. Remote Sensing* 27(14)); without SWIR1, NDWI above 0, NDWI =
//!   (green − NIR) / (green + NIR) (McFeeters 1996, *Int. J. Remote Sensing* 17(7)). Xu's
//!   index replaces McFeeters' where it can because built-up land, bright in green, often has
//!   a positive NDWI too (as the town in the Landsat 7 fixture does: NDWI 0.05 to 0.13, MNDWI
//!   −0.14 to −0.22);
//! - vegetation: NDVI = (NIR − red) / (NIR + red) (Rouse et al. 1974) above 0.5 is dense
//!   vegetation (forest, full crops), 0.2–0.5 sparse vegetation (grass, shrubs, young or
//!   senescent crops): the USGS and NASA Earth Observatory ranges;
//! - below NDVI 0.2, with SWIR1: NDBI = (SWIR1 − NIR) / (SWIR1 + NIR) > 0 (Zha et al. 2003,
//!   *Int. J. Remote Sensing* 24(3)) suggests built-up, otherwise bare soil; without SWIR
//!   the two cannot be told apart and the name says so.
//!
//! RGB alone carries no such index. Brightness and greenness are judged against the scene
//! itself (each band standardised by the scene's area-weighted mean and spread, which also
//! makes raw sensor counts and stretched 8-bit exports comparable), and the names say what
//! RGB cannot decide ("water or shadow").
//!
//! A single band, a panchromatic band or bands of unknown role give no suggestion.

use super::{Signatures, Suggestion};
use crate::cnn::bands::{BandRole, BandRoles};

/// NDWI and MNDWI above this: open water (McFeeters 1996; Xu 2006).
pub const WATER_INDEX: f64 = 0.0;
/// NDVI at or above this: dense vegetation.
pub const DENSE_NDVI: f64 = 0.5;
/// NDVI at or above this (below [`DENSE_NDVI`]): sparse vegetation; below: little or none.
pub const SPARSE_NDVI: f64 = 0.2;
/// NDBI above this (with NDVI below [`SPARSE_NDVI`]): built-up (Zha et al. 2003).
pub const BUILT_NDBI: f64 = 0.0;

/// The file band of each role the rules read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Bands {
    blue: Option<usize>,
    green: Option<usize>,
    red: Option<usize>,
    nir: Option<usize>,
    swir1: Option<usize>,
}

impl Bands {
    fn of(roles: &BandRoles) -> Self {
        let band = |wanted: BandRole| {
            roles
                .bands
                .iter()
                .find(|&&(_, role)| role == wanted)
                .map(|&(b, _)| b)
        };
        Self {
            blue: band(BandRole::Blue),
            green: band(BandRole::Green),
            red: band(BandRole::Red),
            nir: band(BandRole::Nir),
            swir1: band(BandRole::Swir1),
        }
    }

    fn spectral(&self) -> bool {
        self.nir.is_some() && self.red.is_some()
    }

    fn rgb(&self) -> bool {
        self.red.is_some() && self.green.is_some() && self.blue.is_some()
    }
}

/// Whether `roles` allow any suggestion (near infrared and red, or red, green and blue).
pub fn can_name(roles: &BandRoles) -> bool {
    let bands = Bands::of(roles);
    bands.spectral() || bands.rgb()
}

/// A suggestion per class of `signatures` (none for a class without pixels, or when the roles
/// allow none).
pub fn suggest(signatures: &Signatures, roles: &BandRoles) -> Vec<Option<Suggestion>> {
    let bands = Bands::of(roles);
    let fits = |b: Option<usize>| b.is_none_or(|b| b < signatures.bands);
    let all_fit = [bands.blue, bands.green, bands.red, bands.nir, bands.swir1]
        .into_iter()
        .all(fits);
    if !all_fit {
        return vec![None; signatures.classes.len()];
    }
    if bands.spectral() {
        signatures
            .classes
            .iter()
            .map(|c| (!c.is_empty()).then(|| spectral(&c.mean, bands)).flatten())
            .collect()
    } else if bands.rgb() {
        rgb(signatures, bands)
    } else {
        vec![None; signatures.classes.len()]
    }
}

/// (a − b) / (a + b), where both are positive.
fn normalised_difference(a: f64, b: f64) -> Option<f64> {
    (a > 0.0 && b > 0.0).then(|| (a - b) / (a + b))
}

/// "0.71", "−0.58" (a true minus sign).
fn value(v: f64) -> String {
    let text = format!("{v:.2}");
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().any(|c| c != '0' && c != '.') => format!("\u{2212}{rest}"),
        Some(rest) => rest.to_owned(),
        None => text,
    }
}

/// The standard indices of one class's means.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Indices {
    pub ndvi: Option<f64>,
    pub ndwi: Option<f64>,
    pub mndwi: Option<f64>,
    pub ndbi: Option<f64>,
}

impl Indices {
    fn of(mean: &[f64], bands: Bands) -> Self {
        let at = |b: Option<usize>| b.and_then(|b| mean.get(b).copied());
        let nd = |a: Option<usize>, b: Option<usize>| normalised_difference(at(a)?, at(b)?);
        Self {
            ndvi: nd(bands.nir, bands.red),
            ndwi: nd(bands.green, bands.nir),
            mndwi: nd(bands.green, bands.swir1),
            ndbi: nd(bands.swir1, bands.nir),
        }
    }

    /// "NDVI 0.71, NDWI −0.58, …" for the indices present.
    fn basis(&self) -> String {
        [
            ("NDVI", self.ndvi),
            ("NDWI", self.ndwi),
            ("MNDWI", self.mndwi),
            ("NDBI", self.ndbi),
        ]
        .into_iter()
        .filter_map(|(name, v)| Some(format!("{name} {}", value(v?))))
        .collect::<Vec<_>>()
        .join(", ")
    }

    /// The name these indices suggest.
    pub fn name(&self) -> Option<&'static str> {
        let ndvi = self.ndvi?;
        let water = match (self.mndwi, self.ndwi) {
            (Some(mndwi), _) => mndwi > WATER_INDEX && ndvi < SPARSE_NDVI,
            (None, Some(ndwi)) => ndwi > WATER_INDEX,
            (None, None) => false,
        };
        Some(if water {
            "water"
        } else if ndvi >= DENSE_NDVI {
            "dense vegetation"
        } else if ndvi >= SPARSE_NDVI {
            "sparse vegetation"
        } else {
            match self.ndbi {
                Some(ndbi) if ndbi <= BUILT_NDBI => "bare soil",
                _ => "built-up or bare soil",
            }
        })
    }
}

fn spectral(mean: &[f64], bands: Bands) -> Option<Suggestion> {
    let indices = Indices::of(mean, bands);
    Some(Suggestion {
        name: indices.name()?.to_owned(),
        basis: indices.basis(),
    })
}

/// RGB classes, judged against the scene.
fn rgb(signatures: &Signatures, bands: Bands) -> Vec<Option<Suggestion>> {
    let none = vec![None; signatures.classes.len()];
    let (Some(r), Some(g), Some(b)) = (bands.red, bands.green, bands.blue) else {
        return none;
    };
    let Some((mean, std)) = signatures.scene() else {
        return none;
    };
    let z = |m: &[f64], band: usize| {
        if std[band] > 0.0 {
            (m[band] - mean[band]) / std[band]
        } else {
            0.0
        }
    };
    signatures
        .classes
        .iter()
        .map(|c| {
            if c.is_empty() {
                return None;
            }
            let colour = Colour::new(z(&c.mean, r), z(&c.mean, g), z(&c.mean, b));
            Some(Suggestion {
                name: colour.name().to_owned(),
                basis: format!(
                    "against the scene: brightness {}, greenness {}, redness {}",
                    value(colour.brightness),
                    value(colour.greenness),
                    value(colour.redness)
                ),
            })
        })
        .collect()
}

/// Half a scene standard deviation: a class this far from the scene's mean (or this much
/// redder, greener) stands out from the scene; nearer, it does not.
pub const STANDS_OUT: f64 = 0.5;
/// A quarter of a scene standard deviation: a clear colour cast.
pub const CAST: f64 = 0.25;

/// A class's colour against the scene: red, green and blue standardised by the scene's mean
/// and standard deviation (z-scores).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Colour {
    pub red: f64,
    pub green: f64,
    pub blue: f64,
    /// Mean of the three z-scores.
    pub brightness: f64,
    /// Green against red and blue: half the excess green index 2g − r − b (Woebbecke et al.
    /// 1995, *Trans. ASAE* 38(1)) of the standardised bands.
    pub greenness: f64,
    /// Red against green and blue (iron-rich bare soil reflects red most).
    pub redness: f64,
}

impl Colour {
    pub fn new(red: f64, green: f64, blue: f64) -> Self {
        Self {
            red,
            green,
            blue,
            brightness: (red + green + blue) / 3.0,
            greenness: green - (red + blue) / 2.0,
            redness: red - (green + blue) / 2.0,
        }
    }

    /// The RGB name: bright surfaces first (roofs, roads, dry bare ground stand out as
    /// bright), then dark ones (forest; deep water and shadow where blue clearly exceeds red
    /// without a green excess), then colour casts: red (iron-rich bare soil) or lacking red
    /// (chlorophyll and water both absorb red: vegetation only with a clear green excess,
    /// else the name keeps both). No cast: vegetation or bare soil.
    pub fn name(&self) -> &'static str {
        if self.brightness >= STANDS_OUT {
            "bright surface (built-up or bare)"
        } else if self.brightness <= -STANDS_OUT {
            if self.blue - self.red >= STANDS_OUT && self.greenness < 0.0 {
                "water or shadow"
            } else {
                "dark vegetation"
            }
        } else if self.redness >= CAST {
            "bare soil"
        } else if self.redness <= -CAST {
            if self.greenness >= STANDS_OUT {
                "vegetation"
            } else {
                "water or vegetation"
            }
        } else {
            "vegetation or bare soil"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnn::bands::RoleSource;
    use crate::naming::ClassSignature;

    fn roles(list: &[BandRole]) -> BandRoles {
        BandRoles {
            bands: list.iter().copied().enumerate().collect(),
            source: RoleSource::User,
        }
    }

    fn class(mean: &[f64], share: f64) -> ClassSignature {
        ClassSignature {
            pixels: 100,
            mean: mean.to_vec(),
            variance: vec![0.0; mean.len()],
            share,
        }
    }

    fn names(signatures: &Signatures, roles: &BandRoles) -> Vec<Option<String>> {
        suggest(signatures, roles)
            .into_iter()
            .map(|s| s.map(|s| s.name))
            .collect()
    }

    const SENTINEL: [BandRole; 5] = [
        BandRole::Blue,
        BandRole::Green,
        BandRole::Red,
        BandRole::Nir,
        BandRole::Swir1,
    ];

    #[test]
    fn indices_name_typical_surface_reflectances() {
        // Reflectance × 10000 in blue, green, red, NIR, SWIR1 (typical library spectra).
        let signatures = Signatures {
            bands: 5,
            classes: vec![
                class(&[600.0, 500.0, 300.0, 150.0, 80.0], 0.2), // clear water
                class(&[300.0, 600.0, 300.0, 4000.0, 1800.0], 0.2), // forest
                class(&[600.0, 800.0, 900.0, 1800.0, 2000.0], 0.2), // dry grass
                class(&[1200.0, 1300.0, 1400.0, 1600.0, 2200.0], 0.2), // roofs, roads
                class(&[900.0, 1000.0, 1000.0, 1100.0, 1000.0], 0.1), // moist dark soil
                ClassSignature {
                    pixels: 0,
                    mean: Vec::new(),
                    variance: Vec::new(),
                    share: 0.1,
                },
            ],
        };
        assert_eq!(
            names(&signatures, &roles(&SENTINEL)),
            [
                Some("water"),
                Some("dense vegetation"),
                Some("sparse vegetation"),
                Some("built-up or bare soil"),
                Some("bare soil"),
                None,
            ]
            .map(|n| n.map(str::to_owned))
        );
        let all = suggest(&signatures, &roles(&SENTINEL));
        let water = all[0].as_ref().expect("water");
        assert_eq!(
            water.basis,
            "NDVI \u{2212}0.33, NDWI 0.54, MNDWI 0.72, NDBI \u{2212}0.30"
        );
        // Without SWIR: no NDBI, no MNDWI; built-up and bare soil stay together.
        let rgbn = roles(&SENTINEL[..4]);
        let named = names(&signatures, &rgbn);
        assert_eq!(named[3].as_deref(), Some("built-up or bare soil"));
        assert_eq!(named[4].as_deref(), Some("built-up or bare soil"));
        assert!(!all[3].as_ref().expect("built").basis.is_empty());
        assert!(
            !suggest(&signatures, &rgbn)[0]
                .as_ref()
                .expect("water")
                .basis
                .contains("MNDWI")
        );
    }

    #[test]
    fn mndwi_decides_water_where_there_is_swir() {
        let i = Indices {
            ndvi: Some(0.05),
            ndwi: Some(-0.1),
            mndwi: Some(0.2),
            ndbi: Some(-0.2),
        };
        assert_eq!(i.name(), Some("water"));
        let vegetated = Indices {
            ndvi: Some(0.4),
            ..i
        };
        assert_eq!(vegetated.name(), Some("sparse vegetation"));
        assert_eq!(Indices::default().name(), None);
        // A town bright in green: NDWI > 0, but MNDWI < 0.
        let town = Indices {
            ndvi: Some(-0.1),
            ndwi: Some(0.1),
            mndwi: Some(-0.2),
            ndbi: Some(0.3),
        };
        assert_eq!(town.name(), Some("built-up or bare soil"));
        let no_swir = Indices {
            mndwi: None,
            ndbi: None,
            ..town
        };
        assert_eq!(no_swir.name(), Some("water"));
    }

    #[test]
    fn rgb_names_are_relative_to_the_scene() {
        let scene = |classes: Vec<ClassSignature>| Signatures { bands: 3, classes };
        let rgb = roles(&[BandRole::Red, BandRole::Green, BandRole::Blue]);
        // Red, green, blue means: a bright class, a dark one, a reddish one, a green one.
        let s = scene(vec![
            class(&[200.0, 200.0, 200.0], 0.2),
            class(&[30.0, 40.0, 35.0], 0.3),
            class(&[150.0, 90.0, 70.0], 0.25),
            class(&[60.0, 140.0, 60.0], 0.25),
        ]);
        assert_eq!(
            names(&s, &rgb),
            [
                "bright surface (built-up or bare)",
                "dark vegetation",
                "bare soil",
                "vegetation"
            ]
            .map(|n| Some(n.to_owned()))
        );
        // Scaling or offsetting a band (raw counts, a stretch) changes nothing.
        let shifted = scene(
            s.classes
                .iter()
                .map(|c| {
                    class(
                        &[
                            c.mean[0] * 40.0 + 6000.0,
                            c.mean[1] * 30.0 + 7000.0,
                            c.mean[2] + 9.0,
                        ],
                        c.share,
                    )
                })
                .collect(),
        );
        assert_eq!(names(&shifted, &rgb), names(&s, &rgb));
        let basis = suggest(&s, &rgb)[0].clone().expect("named").basis;
        assert!(
            basis.starts_with("against the scene: brightness 1."),
            "{basis}"
        );
        // A dark class with blue well above red and no green excess: water or shadow.
        assert_eq!(Colour::new(-1.5, -0.9, -0.2).name(), "water or shadow");
        assert_eq!(Colour::new(-0.6, 0.0, 0.3).name(), "water or vegetation");
        assert_eq!(
            Colour::new(0.1, 0.0, -0.1).name(),
            "vegetation or bare soil"
        );
    }

    #[test]
    fn single_band_or_unknown_roles_get_nothing() {
        let s = Signatures {
            bands: 1,
            classes: vec![class(&[10.0], 0.5), class(&[20.0], 0.5)],
        };
        assert_eq!(names(&s, &roles(&[BandRole::Pan])), vec![None, None]);
        assert!(!can_name(&roles(&[BandRole::Pan])));
        assert!(!can_name(&roles(&[BandRole::Red, BandRole::Green])));
        assert!(can_name(&roles(&[BandRole::Red, BandRole::Nir])));
        // Roles naming bands the signatures do not have: nothing.
        assert_eq!(names(&s, &roles(&SENTINEL)), vec![None, None]);
    }

    #[test]
    fn values_use_a_true_minus_sign() {
        assert_eq!(value(-0.583), "\u{2212}0.58");
        assert_eq!(value(0.714), "0.71");
        assert_eq!(value(-0.001), "0.00");
    }
}
