//! Georeferencing: the affine transform, the GeoKey directory and what follows from them.

use std::fmt;

use super::ifd::tag;
use crate::raster::Window;

/// An affine pixel-to-model transform in GDAL order:
/// `[x0, pixel_width, row_rotation, y0, column_rotation, pixel_height]`.
///
/// It maps the top-left corner of pixel (0, 0) to `(x0, y0)` (the PixelIsArea convention), as
/// GDAL reports it: for PixelIsPoint rasters it is shifted by half a pixel, like GDAL does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoTransform(pub [f64; 6]);

impl GeoTransform {
    /// Model coordinates of the pixel position (`col`, `row`).
    pub fn apply(&self, col: f64, row: f64) -> (f64, f64) {
        let [x0, a, b, y0, d, e] = self.0;
        (x0 + col * a + row * b, y0 + col * d + row * e)
    }

    /// Absolute size of one pixel along x and along y, in model units.
    pub fn pixel_size(&self) -> (f64, f64) {
        let [_, a, b, _, d, e] = self.0;
        (a.hypot(d), b.hypot(e))
    }

    /// Area of one pixel in squared model units.
    pub fn pixel_area(&self) -> f64 {
        let [_, a, b, _, d, e] = self.0;
        (a * e - b * d).abs()
    }

    /// The same transform with its origin moved to pixel (`col`, `row`).
    pub fn shifted(&self, col: f64, row: f64) -> GeoTransform {
        let (x0, y0) = self.apply(col, row);
        let [_, a, b, _, d, e] = self.0;
        GeoTransform([x0, a, b, y0, d, e])
    }
}

/// GTRasterTypeGeoKey: whether a pixel value covers an area or sits at a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RasterType {
    PixelIsArea,
    PixelIsPoint,
}

impl fmt::Display for RasterType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RasterType::PixelIsArea => "PixelIsArea",
            RasterType::PixelIsPoint => "PixelIsPoint",
        })
    }
}

/// The unit of the model coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LinearUnit {
    /// The metre (EPSG 9001), or a user-defined unit exactly one metre long.
    Metre,
    /// A linear unit other than the metre: a known EPSG unit such as the US survey foot or the
    /// kilometre, or a user-defined length (ProjLinearUnitSizeGeoKey).
    Other {
        /// "US survey foot", "kilometre", …; "user-defined unit" for a user-defined length.
        name: &'static str,
        /// A short form for labels: "ftUS", "km", …; "units" for a user-defined length.
        symbol: &'static str,
        /// Length of one unit in metres.
        metres: f64,
    },
    /// Degrees of a geographic coordinate system.
    Degree,
    /// A unit that the GeoKeys leave undefined or that is not known here.
    Unknown,
}

impl LinearUnit {
    /// Length of one unit in metres, for linear units.
    pub fn metres(self) -> Option<f64> {
        match self {
            LinearUnit::Metre => Some(1.0),
            LinearUnit::Other { metres, .. } => Some(metres),
            LinearUnit::Degree | LinearUnit::Unknown => None,
        }
    }
}

/// "metre", "US survey foot (0.30480061 m)", "degree", "unknown unit".
impl fmt::Display for LinearUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinearUnit::Metre => f.write_str("metre"),
            LinearUnit::Other { name, metres, .. } => write!(f, "{name} ({metres} m)"),
            LinearUnit::Degree => f.write_str("degree"),
            LinearUnit::Unknown => f.write_str("unknown unit"),
        }
    }
}

/// One entry of the GeoKey directory.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoKey {
    pub id: u16,
    pub value: GeoKeyValue,
}

/// The value of a GeoKey, resolved from the directory or its parameter tags.
#[derive(Debug, Clone, PartialEq)]
pub enum GeoKeyValue {
    Short(u16),
    Doubles(Vec<f64>),
    Ascii(String),
}

/// The georeferencing tags exactly as stored, for writers to carry over verbatim.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawGeoTags {
    pub model_pixel_scale: Option<Vec<f64>>,
    pub model_tiepoint: Option<Vec<f64>>,
    pub model_transformation: Option<Vec<f64>>,
    pub geo_key_directory: Vec<u16>,
    pub geo_double_params: Option<Vec<f64>>,
    pub geo_ascii_params: Option<String>,
}

/// Where a raster lies: its transform, its coordinate reference system and the raw tags.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoReference {
    pub transform: GeoTransform,
    pub raster_type: RasterType,
    /// Every key of the directory with its value resolved.
    pub keys: Vec<GeoKey>,
    /// ProjectedCSTypeGeoKey or GeographicTypeGeoKey when it is an EPSG code.
    pub epsg: Option<u32>,
    /// The name of a well-known EPSG code, else a citation from the keys.
    pub crs_name: Option<String>,
    pub geographic: bool,
    pub unit: LinearUnit,
    pub raw: RawGeoTags,
    /// The ellipsoid of geographic areas, resolved once from the keys.
    ellipsoid: Ellipsoid,
}

/// GeoKey ids used here.
mod key {
    pub const MODEL_TYPE: u16 = 1024;
    pub const RASTER_TYPE: u16 = 1025;
    pub const CITATION: u16 = 1026;
    pub const GEOGRAPHIC_TYPE: u16 = 2048;
    pub const GEOG_CITATION: u16 = 2049;
    pub const GEOG_ANGULAR_UNITS: u16 = 2054;
    pub const GEOG_ELLIPSOID: u16 = 2056;
    pub const GEOG_SEMI_MAJOR_AXIS: u16 = 2057;
    pub const GEOG_SEMI_MINOR_AXIS: u16 = 2058;
    pub const GEOG_INV_FLATTENING: u16 = 2059;
    pub const PROJECTED_TYPE: u16 = 3072;
    pub const PCS_CITATION: u16 = 3073;
    pub const PROJ_LINEAR_UNITS: u16 = 3076;
    pub const PROJ_LINEAR_UNIT_SIZE: u16 = 3077;
}

/// The GeoKey value meaning "user-defined".
const USER_DEFINED: u16 = 32767;

impl GeoReference {
    /// Interprets raw georeferencing tags; `None` when they hold no affine transform.
    pub fn from_raw(raw: RawGeoTags) -> Option<GeoReference> {
        let keys = parse_keys(&raw);
        let raster_type = match short_key(&keys, key::RASTER_TYPE) {
            Some(2) => RasterType::PixelIsPoint,
            _ => RasterType::PixelIsArea,
        };
        let mut transform = transform_from_raw(&raw)?;
        if raster_type == RasterType::PixelIsPoint {
            transform = transform.shifted(-0.5, -0.5);
        }
        let projected = code_key(&keys, key::PROJECTED_TYPE);
        let geographic_code = code_key(&keys, key::GEOGRAPHIC_TYPE);
        let geographic = match short_key(&keys, key::MODEL_TYPE) {
            Some(model) => model == 2,
            None => projected.is_none() && geographic_code.is_some(),
        };
        let epsg = if geographic {
            geographic_code
        } else {
            projected.or(geographic_code)
        };
        Some(GeoReference {
            transform,
            raster_type,
            crs_name: crs_name(&keys, epsg),
            unit: linear_unit(&keys, geographic, epsg),
            epsg,
            geographic,
            ellipsoid: Ellipsoid::of(&keys),
            keys,
            raw,
        })
    }

    /// The value of key `id`.
    pub fn key(&self, id: u16) -> Option<&GeoKeyValue> {
        find_key(&self.keys, id)
    }

    /// The same georeferencing for a window of this raster: the origin moves to the window's
    /// top-left pixel, in the transform and in the raw tags alike.
    pub fn for_window(&self, window: Window) -> GeoReference {
        let (col, row) = (f64::from(window.x), f64::from(window.y));
        let mut moved = self.clone();
        moved.transform = self.transform.shifted(col, row);
        if let Some(m) = moved.raw.model_transformation.as_mut() {
            shift_model_transformation(m, col, row);
        } else if let (Some(tie), Some(scale)) = (
            moved.raw.model_tiepoint.as_mut(),
            self.raw.model_pixel_scale.as_ref(),
        ) {
            shift_tiepoint(tie, scale, col, row);
        }
        moved
    }

    /// `[min_x, min_y, max_x, max_y]` of a `width` × `height` raster's corners in CRS units.
    pub fn extent(&self, width: u32, height: u32) -> [f64; 4] {
        let (w, h) = (f64::from(width), f64::from(height));
        let mut e = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for (col, row) in [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)] {
            let (x, y) = self.transform.apply(col, row);
            e = [e[0].min(x), e[1].min(y), e[2].max(x), e[3].max(y)];
        }
        e
    }

    /// Area of one pixel of row `row` (0-based; the row spans `row..row + 1`) in m²: the
    /// transform's pixel area in the CRS's linear
    /// unit for projected systems, the ellipsoidal area of the pixel's latitude band for
    /// geographic ones; `None` when the unit is unknown.
    pub fn pixel_area_m2(&self, row: f64) -> Option<f64> {
        self.pixel_area().m2(row)
    }

    /// What pixel areas depend on, small and `Copy`, for code that needs areas row by row
    /// without holding the whole georeferencing (its raw tags may be large).
    pub fn pixel_area(&self) -> PixelArea {
        PixelArea {
            transform: self.transform,
            unit: self.unit,
            ellipsoid: self.ellipsoid,
        }
    }
}

/// The areas of a raster's pixels, row by row ([`GeoReference::pixel_area`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelArea {
    transform: GeoTransform,
    unit: LinearUnit,
    ellipsoid: Ellipsoid,
}

impl PixelArea {
    /// Area of one pixel of row `row` in m² (see [`GeoReference::pixel_area_m2`]).
    pub fn m2(&self, row: f64) -> Option<f64> {
        match self.unit {
            LinearUnit::Degree => self.geographic(row),
            unit => unit.metres().map(|m| self.transform.pixel_area() * m * m),
        }
    }

    fn geographic(&self, row: f64) -> Option<f64> {
        let [_, _, _, y0, _, e] = self.transform.0;
        if e == 0.0 {
            return None;
        }
        let width_deg = self.transform.pixel_area() / e.abs();
        let lat_top = y0 + row * e;
        let band = self.ellipsoid.zone_area(lat_top + e) - self.ellipsoid.zone_area(lat_top);
        Some((band * width_deg.to_radians()).abs()).filter(|area| area.is_finite())
    }
}

fn transform_from_raw(raw: &RawGeoTags) -> Option<GeoTransform> {
    if let Some(m) = raw.model_transformation.as_deref() {
        let [m0, m1, _, m3, m4, m5, _, m7, ..] = *m else {
            return None;
        };
        return Some(GeoTransform([m3, m0, m1, m7, m4, m5])).filter(is_finite);
    }
    let [i, j, _, x, y, ..] = *raw.model_tiepoint.as_deref()? else {
        return None;
    };
    let [sx, sy, ..] = *raw.model_pixel_scale.as_deref()? else {
        return None;
    };
    if sx == 0.0 || sy == 0.0 {
        return None;
    }
    Some(GeoTransform([x - i * sx, sx, 0.0, y + j * sy, 0.0, -sy])).filter(is_finite)
}

/// A usable transform: finite, and mapping a pixel to a non-empty area (a zero determinant
/// would give 0 m² pixels and a 0 × 0 pixel size).
fn is_finite(t: &GeoTransform) -> bool {
    let [_, a, b, _, d, e] = t.0;
    let det = a * e - b * d;
    t.0.iter().all(|v| v.is_finite()) && det != 0.0 && det.is_finite()
}

fn shift_model_transformation(m: &mut [f64], col: f64, row: f64) {
    if let [m0, m1, _, m3, m4, m5, _, m7, ..] = m {
        *m3 += *m0 * col + *m1 * row;
        *m7 += *m4 * col + *m5 * row;
    }
}

fn shift_tiepoint(tie: &mut [f64], scale: &[f64], col: f64, row: f64) {
    if let ([_, _, _, x, y, ..], [sx, sy, ..]) = (tie, scale) {
        *x += col * sx;
        *y -= row * sy;
    }
}

/// Resolves every entry of the GeoKey directory; entries whose value cannot be found are
/// skipped, and so is a second entry for the same key.
///
/// The values resolved together may hold at most as many elements as the two params tags: keys
/// of a valid file never share values, and a directory whose thousands of keys all point at the
/// same long array would otherwise copy it once per key.
fn parse_keys(raw: &RawGeoTags) -> Vec<GeoKey> {
    let dir = &raw.geo_key_directory;
    let count = dir.get(3).map_or(0, |&n| usize::from(n));
    let mut budget = raw.geo_double_params.as_ref().map_or(0, Vec::len)
        + raw.geo_ascii_params.as_ref().map_or(0, String::len);
    let mut seen = std::collections::HashSet::new();
    let mut keys = Vec::new();
    for entry in dir.get(4..).unwrap_or_default().chunks_exact(4).take(count) {
        let &[id, location, count, offset] = entry else {
            continue;
        };
        if location != 0 {
            let Some(left) = budget.checked_sub(usize::from(count)) else {
                continue;
            };
            budget = left;
        }
        if !seen.insert(id) {
            continue;
        }
        if let Some(value) = key_value(raw, location, usize::from(count), usize::from(offset)) {
            keys.push(GeoKey { id, value });
        }
    }
    keys
}

fn key_value(raw: &RawGeoTags, location: u16, count: usize, offset: usize) -> Option<GeoKeyValue> {
    let end = offset.checked_add(count)?;
    match location {
        0 => u16::try_from(offset).ok().map(GeoKeyValue::Short),
        tag::GEO_DOUBLE_PARAMS => {
            let params = raw.geo_double_params.as_deref()?.get(offset..end)?;
            Some(GeoKeyValue::Doubles(params.to_vec()))
        }
        tag::GEO_ASCII_PARAMS => {
            let params = raw.geo_ascii_params.as_deref()?.get(offset..end)?;
            let text = params.trim_end_matches(['|', '\0']);
            Some(GeoKeyValue::Ascii(text.to_owned()))
        }
        _ => None,
    }
}

fn find_key(keys: &[GeoKey], id: u16) -> Option<&GeoKeyValue> {
    keys.iter().find(|k| k.id == id).map(|k| &k.value)
}

fn short_key(keys: &[GeoKey], id: u16) -> Option<u16> {
    match find_key(keys, id)? {
        GeoKeyValue::Short(v) => Some(*v),
        _ => None,
    }
}

fn double_key(keys: &[GeoKey], id: u16) -> Option<f64> {
    match find_key(keys, id)? {
        GeoKeyValue::Doubles(v) => v.first().copied(),
        _ => None,
    }
}

fn ascii_key(keys: &[GeoKey], id: u16) -> Option<&str> {
    match find_key(keys, id)? {
        GeoKeyValue::Ascii(s) if !s.trim().is_empty() => Some(s.as_str()),
        _ => None,
    }
}

/// A key holding an EPSG code: neither 0 (undefined) nor user-defined.
fn code_key(keys: &[GeoKey], id: u16) -> Option<u32> {
    short_key(keys, id)
        .filter(|&c| c != 0 && c != USER_DEFINED)
        .map(u32::from)
}

/// The name of a well-known EPSG code (as GDAL reports it), else the citation of the keys.
fn crs_name(keys: &[GeoKey], epsg: Option<u32>) -> Option<String> {
    let citation = [key::CITATION, key::PCS_CITATION, key::GEOG_CITATION]
        .into_iter()
        .find_map(|id| ascii_key(keys, id));
    epsg.and_then(well_known_name)
        .or_else(|| citation.map(|s| first_citation_part(s).to_owned()))
}

/// ESRI-style citations pack several names separated by `|`; the first is the CRS's.
fn first_citation_part(citation: &str) -> &str {
    let first = citation.split('|').next().unwrap_or(citation);
    first.strip_prefix("PCS Name = ").unwrap_or(first).trim()
}

/// Names of well-known EPSG codes.
pub fn well_known_name(epsg: u32) -> Option<String> {
    let utm =
        |datum: &str, zone: u32, hemisphere: char| format!("{datum} / UTM zone {zone}{hemisphere}");
    Some(match epsg {
        4326 => "WGS 84".to_owned(),
        4269 => "NAD83".to_owned(),
        4258 => "ETRS89".to_owned(),
        4674 => "SIRGAS 2000".to_owned(),
        3857 => "WGS 84 / Pseudo-Mercator".to_owned(),
        32601..=32660 => utm("WGS 84", epsg - 32600, 'N'),
        32701..=32760 => utm("WGS 84", epsg - 32700, 'S'),
        31965..=31976 => utm("SIRGAS 2000", epsg - 31954, 'N'),
        31977..=31985 => utm("SIRGAS 2000", epsg - 31960, 'S'),
        26901..=26923 => utm("NAD83", epsg - 26900, 'N'),
        25828..=25838 => utm("ETRS89", epsg - 25800, 'N'),
        _ => return None,
    })
}

/// Well-known projected codes whose unit is the metre.
fn is_metric_epsg(epsg: u32) -> bool {
    matches!(epsg, 3857 | 32601..=32660 | 32701..=32760 | 31965..=31985 | 26901..=26923 | 25828..=25838)
}

fn linear_unit(keys: &[GeoKey], geographic: bool, epsg: Option<u32>) -> LinearUnit {
    if geographic {
        return match short_key(keys, key::GEOG_ANGULAR_UNITS) {
            None | Some(9102) => LinearUnit::Degree,
            Some(_) => LinearUnit::Unknown,
        };
    }
    match short_key(keys, key::PROJ_LINEAR_UNITS) {
        Some(USER_DEFINED) => double_key(keys, key::PROJ_LINEAR_UNIT_SIZE)
            .filter(|m| m.is_finite() && *m > 0.0)
            .map_or(LinearUnit::Unknown, user_defined_unit),
        Some(code) => epsg_linear_unit(code).unwrap_or(LinearUnit::Unknown),
        None if epsg.is_some_and(is_metric_epsg) => LinearUnit::Metre,
        None => LinearUnit::Unknown,
    }
}

fn user_defined_unit(metres: f64) -> LinearUnit {
    if metres == 1.0 {
        LinearUnit::Metre
    } else {
        LinearUnit::Other {
            name: "user-defined unit",
            symbol: "units",
            metres,
        }
    }
}

/// The EPSG linear unit `code`, with the name and symbol EPSG gives it.
fn epsg_linear_unit(code: u16) -> Option<LinearUnit> {
    let (name, symbol, metres) = match code {
        9001 => return Some(LinearUnit::Metre),
        9002 => ("foot", "ft", 0.3048),
        9003 => ("US survey foot", "ftUS", 1200.0 / 3937.0),
        9005 => ("Clarke's foot", "ftCla", 0.304_797_265_4),
        9014 => ("fathom", "fathom", 1.8288),
        9030 => ("nautical mile", "NM", 1852.0),
        9036 => ("kilometre", "km", 1000.0),
        9093 => ("statute mile", "mi", 1609.344),
        9096 => ("yard", "yd", 0.9144),
        _ => return None,
    };
    Some(LinearUnit::Other {
        name,
        symbol,
        metres,
    })
}

/// An ellipsoid of revolution.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Ellipsoid {
    semi_major: f64,
    inverse_flattening: f64,
}

impl Ellipsoid {
    const WGS84: Ellipsoid = Ellipsoid {
        semi_major: 6_378_137.0,
        inverse_flattening: 298.257_223_563,
    };
    const GRS80: Ellipsoid = Ellipsoid {
        semi_major: 6_378_137.0,
        inverse_flattening: 298.257_222_101,
    };
    const CLARKE_1866: Ellipsoid = Ellipsoid {
        semi_major: 6_378_206.4,
        inverse_flattening: 294.978_698_214,
    };
    const INTERNATIONAL_1924: Ellipsoid = Ellipsoid {
        semi_major: 6_378_388.0,
        inverse_flattening: 297.0,
    };

    /// The ellipsoid declared by the keys, else the one of a known datum, else WGS 84. A
    /// declared semi-major axis must be finite and between 1 km and 100,000 km (planets
    /// included), an inverse flattening finite and at least 2; a sphere is assumed without one.
    fn of(keys: &[GeoKey]) -> Ellipsoid {
        let semi_major = double_key(keys, key::GEOG_SEMI_MAJOR_AXIS)
            .filter(|a| a.is_finite() && (1e3..=1e8).contains(a));
        if let Some(semi_major) = semi_major {
            let inverse_flattening = double_key(keys, key::GEOG_INV_FLATTENING)
                .filter(|f| f.is_finite() && *f >= 2.0)
                .or_else(|| {
                    double_key(keys, key::GEOG_SEMI_MINOR_AXIS)
                        .filter(|b| *b >= semi_major / 2.0 && *b < semi_major)
                        .map(|b| semi_major / (semi_major - b))
                })
                .unwrap_or(0.0);
            return Ellipsoid {
                semi_major,
                inverse_flattening,
            };
        }
        let code =
            short_key(keys, key::GEOG_ELLIPSOID).or_else(|| short_key(keys, key::GEOGRAPHIC_TYPE));
        match code {
            Some(7019 | 4269 | 4258 | 4674 | 4283) => Self::GRS80,
            Some(7008 | 4267) => Self::CLARKE_1866,
            Some(7022 | 4230) => Self::INTERNATIONAL_1924,
            _ => Self::WGS84,
        }
    }

    /// Area in m² between the equator and latitude `lat_deg` (clamped to ±90°), per radian of
    /// longitude.
    fn zone_area(self, lat_deg: f64) -> f64 {
        let a = self.semi_major;
        let sin = lat_deg.clamp(-90.0, 90.0).to_radians().sin();
        if self.inverse_flattening <= 0.0 || !self.inverse_flattening.is_finite() {
            return a * a * sin;
        }
        let f = 1.0 / self.inverse_flattening;
        let e2 = f * (2.0 - f);
        let e = e2.sqrt();
        let b2 = a * a * (1.0 - e2);
        let es = e * sin;
        b2 / 2.0 * (sin / (1.0 - es * es) + ((1.0 + es) / (1.0 - es)).ln() / (2.0 * e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A projected raster with 10-unit pixels whose ProjLinearUnitsGeoKey is `units`, and, for
    /// a user-defined unit, ProjLinearUnitSizeGeoKey `size`.
    fn projected(units: u16, size: Option<f64>) -> GeoReference {
        let mut dir = vec![1, 1, 0, 2];
        dir.extend([key::MODEL_TYPE, 0, 1, 1]);
        dir.extend([key::PROJ_LINEAR_UNITS, 0, 1, units]);
        if size.is_some() {
            dir[3] = 3;
            dir.extend([key::PROJ_LINEAR_UNIT_SIZE, tag::GEO_DOUBLE_PARAMS, 1, 0]);
        }
        let raw = RawGeoTags {
            model_pixel_scale: Some(vec![10.0, 10.0, 0.0]),
            model_tiepoint: Some(vec![0.0, 0.0, 0.0, 500.0, 900.0, 0.0]),
            geo_key_directory: dir,
            geo_double_params: size.map(|s| vec![s]),
            ..RawGeoTags::default()
        };
        GeoReference::from_raw(raw).expect("a transform")
    }

    #[test]
    fn epsg_units_keep_their_own_name_and_length() {
        for (code, name, symbol, metres) in [
            (9002, "foot", "ft", 0.3048),
            (9003, "US survey foot", "ftUS", 1200.0 / 3937.0),
            (9014, "fathom", "fathom", 1.8288),
            (9030, "nautical mile", "NM", 1852.0),
            (9036, "kilometre", "km", 1000.0),
            (9093, "statute mile", "mi", 1609.344),
            (9096, "yard", "yd", 0.9144),
        ] {
            let georef = projected(code, None);
            assert_eq!(
                georef.unit,
                LinearUnit::Other {
                    name,
                    symbol,
                    metres
                },
                "EPSG unit {code}"
            );
            let area = georef.pixel_area_m2(0.0).expect("a linear unit");
            assert!((area - 100.0 * metres * metres).abs() < 1e-9 * area);
        }
        assert_eq!(projected(9001, None).unit, LinearUnit::Metre);
        assert_eq!(projected(9999, None).unit, LinearUnit::Unknown);
    }

    #[test]
    fn user_defined_units_are_named_as_such() {
        assert_eq!(
            projected(USER_DEFINED, Some(0.5)).unit,
            LinearUnit::Other {
                name: "user-defined unit",
                symbol: "units",
                metres: 0.5
            }
        );
        assert_eq!(projected(USER_DEFINED, Some(1.0)).unit, LinearUnit::Metre);
        assert_eq!(
            projected(USER_DEFINED, Some(-1.0)).unit,
            LinearUnit::Unknown
        );
    }

    #[test]
    fn units_and_raster_types_display_for_people() {
        assert_eq!(LinearUnit::Metre.to_string(), "metre");
        assert_eq!(projected(9036, None).unit.to_string(), "kilometre (1000 m)");
        assert_eq!(LinearUnit::Degree.to_string(), "degree");
        assert_eq!(LinearUnit::Unknown.to_string(), "unknown unit");
        assert_eq!(RasterType::PixelIsPoint.to_string(), "PixelIsPoint");
    }
}
