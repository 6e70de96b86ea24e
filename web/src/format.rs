//! The file panel's text: a [`RasterInfo`] described for people.

use engine::geotiff::{GeoReference, LinearUnit, RasterInfo};

use crate::protocol::FileInfo;

/// Why a raster is refused before anything else happens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(
        "{0} has no georeferencing (no ModelTiepoint/ModelPixelScale or ModelTransformation \
         tags): Mapseg needs a georeferenced GeoTIFF so that its outputs line up with the input"
    )]
    NoGeoreferencing(String),
}

/// Describes `info` for the file panel; refuses a raster without georeferencing.
pub fn file_info(name: &str, size: u64, info: &RasterInfo) -> Result<FileInfo, Refused> {
    let georef = info
        .georef
        .as_ref()
        .ok_or_else(|| Refused::NoGeoreferencing(name.to_owned()))?;
    Ok(FileInfo {
        name: name.to_owned(),
        size,
        width: info.width,
        height: info.height,
        bands: info.bands,
        data_bands: info.data_bands(),
        alpha_band: info.alpha_band,
        sample_type: info.sample_type.to_string(),
        compression: info.compression.to_string(),
        crs_name: georef
            .crs_name
            .clone()
            .unwrap_or_else(|| "user-defined".to_owned()),
        epsg: georef
            .epsg
            .map_or_else(|| "—".to_owned(), |c| format!("EPSG:{c}")),
        pixel_size: pixel_size(georef),
        extent: extent(georef, info.width, info.height),
        nodata: info.nodata.map_or_else(
            || match info.alpha_band {
                Some(a) => format!("alpha (band {})", a + 1),
                None => "none".to_owned(),
            },
            |v| v.to_string(),
        ),
        display_bands: engine::preview::true_colour(info),
        false_colour: engine::preview::false_colour(info),
    })
}

/// "28.5 × 28.5 m" (or "°", "ftUS", "km", …; nothing for an unknown unit).
fn pixel_size(georef: &GeoReference) -> String {
    let (x, y) = georef.transform.pixel_size();
    format!(
        "{} × {}{}",
        significant(x),
        significant(y),
        unit_suffix(georef.unit)
    )
}

/// Significant digits a pixel size is shown with: a 28.5 m pixel stored as 28.499999999 shows
/// as 28.5, a 0.000269494585 ° one as 0.000269495.
const PIXEL_DIGITS: i32 = 6;

/// `v` with [`PIXEL_DIGITS`] significant digits, trailing zeros removed.
fn significant(v: f64) -> String {
    trim_zeros(&format!("{v:.*}", decimals_for(v)))
}

/// Decimals that show `v` with [`PIXEL_DIGITS`] significant digits (0 for large values).
fn decimals_for(v: f64) -> usize {
    if v == 0.0 || !v.is_finite() {
        return 0;
    }
    let magnitude = v.abs().log10().floor() as i32;
    usize::try_from(PIXEL_DIGITS - 1 - magnitude).unwrap_or(0)
}

/// Decimals that place a coordinate to a thousandth of a `pixel` (trailing zeros are trimmed
/// afterwards): 2 for 28.5 m pixels, 4 for 0.1 m, 7 for 0.00027°.
fn coordinate_decimals(pixel: f64) -> usize {
    let step = pixel.abs() / 1000.0;
    if step == 0.0 || !step.is_finite() {
        return 9;
    }
    usize::try_from((-step.log10()).ceil() as i64)
        .unwrap_or(0)
        .min(12)
}

/// What follows a length in `unit`: " m", "°", " ftUS", ….
fn unit_suffix(unit: LinearUnit) -> String {
    match unit {
        LinearUnit::Metre => " m".to_owned(),
        LinearUnit::Other { symbol, .. } => format!(" {symbol}"),
        LinearUnit::Degree => "°".to_owned(),
        LinearUnit::Unknown => String::new(),
    }
}

/// "x 288776.25 to 298722.75, y 9110728.75 to 9120760.75": corners to a thousandth of a pixel,
/// without float noise.
fn extent(georef: &GeoReference, width: u32, height: u32) -> String {
    let [x0, y0, x1, y1] = georef.extent(width, height);
    let (px, py) = georef.transform.pixel_size();
    let (dx, dy) = (coordinate_decimals(px), coordinate_decimals(py));
    let at = |v: f64, decimals: usize| trim_zeros(&format!("{v:.decimals$}"));
    format!(
        "x {} to {}, y {} to {}",
        at(x0, dx),
        at(x1, dx),
        at(y0, dy),
        at(y1, dy)
    )
}

/// An area in hectares for the legend: three significant digits below 100 ha ("0.0191",
/// "2.35", "47.1"), whole hectares with thousands separators above ("1 234").
pub fn hectares(ha: f64) -> String {
    if !ha.is_finite() {
        return "—".to_owned();
    }
    if ha.abs() >= 100.0 {
        return thousands(ha.round() as i64);
    }
    if ha == 0.0 {
        return "0".to_owned();
    }
    let magnitude = ha.abs().log10().floor() as i32;
    let decimals = usize::try_from(2 - magnitude).unwrap_or(0);
    trim_zeros(&format!("{ha:.decimals$}"))
}

/// "1 234 567" (thin spaces would not copy well; a plain space does).
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A formatted number without trailing zeros (or point); "-0" becomes "0".
fn trim_zeros(s: &str) -> String {
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    };
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// A byte count for people: "1.4 MB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The stem of a file name, for output names: "scene.tif" → "scene".
pub fn stem(name: &str) -> &str {
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_sizes_show_without_float_noise() {
        assert_eq!(significant(28.499999999), "28.5");
        assert_eq!(significant(0.1), "0.1");
        assert_eq!(significant(30.0), "30");
        assert_eq!(significant(0.000269494585236), "0.000269495");
        assert_eq!(significant(-0.0), "0");
        assert_eq!(coordinate_decimals(28.499999999), 2);
        assert_eq!(coordinate_decimals(0.1), 4);
        assert_eq!(coordinate_decimals(0.000269494585236), 7);
        let at = |v: f64, d: usize| trim_zeros(&format!("{v:.d$}"));
        assert_eq!(at(288776.250000803, 2), "288776.25");
        assert_eq!(at(9120760.750028737, 2), "9120760.75");
    }

    #[test]
    fn areas_in_hectares() {
        assert_eq!(hectares(0.019066), "0.0191");
        assert_eq!(hectares(2.3456), "2.35");
        assert_eq!(hectares(47.06), "47.1");
        assert_eq!(hectares(1234.4), "1 234");
        assert_eq!(hectares(1_234_567.0), "1 234 567");
        assert_eq!(hectares(0.0), "0");
    }

    #[test]
    fn units_are_named_by_their_own_symbol() {
        assert_eq!(unit_suffix(LinearUnit::Metre), " m");
        assert_eq!(unit_suffix(LinearUnit::Degree), "°");
        assert_eq!(unit_suffix(LinearUnit::Unknown), "");
        let km = LinearUnit::Other {
            name: "kilometre",
            symbol: "km",
            metres: 1000.0,
        };
        assert_eq!(unit_suffix(km), " km");
    }

    #[test]
    fn sizes_and_stems() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1_400_000), "1.4 MB");
        assert_eq!(stem("OSBS_029.tif"), "OSBS_029");
        assert_eq!(stem("a.b.tiff"), "a.b");
        assert_eq!(stem(".hidden"), ".hidden");
    }
}
