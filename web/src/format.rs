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
        display_bands: info.display_bands(),
    })
}

/// "0.1 × 0.1 m" (or "°", "ftUS", "km", …; nothing for an unknown unit).
fn pixel_size(georef: &GeoReference) -> String {
    let (x, y) = georef.transform.pixel_size();
    format!("{} × {}{}", trim(x), trim(y), unit_suffix(georef.unit))
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

/// "x 399000 to 399040, y 3282000 to 3282040".
fn extent(georef: &GeoReference, width: u32, height: u32) -> String {
    let [x0, y0, x1, y1] = georef.extent(width, height);
    format!(
        "x {} to {}, y {} to {}",
        trim(x0),
        trim(x1),
        trim(y0),
        trim(y1)
    )
}

/// A coordinate without float noise: at most 9 significant decimals, trailing zeros removed.
fn trim(v: f64) -> String {
    let s = format!("{v:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
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
    fn trims_numbers() {
        assert_eq!(trim(0.1), "0.1");
        assert_eq!(trim(399000.0), "399000");
        assert_eq!(trim(-0.0), "0");
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
