//! GeoJSON (RFC 7946): a FeatureCollection in WGS 84 longitude/latitude, one MultiPolygon
//! feature per class, exterior rings counter-clockwise. Coordinates have 8 decimals (about
//! 1 mm), below the half-pixel clearance the simplification keeps.

use std::io::Write;

use serde::Serialize;

use super::crs::SourceCrs;
use super::features::Features;
use super::{ClassAttributes, PolygonError, Polygons};
use crate::labels::LegendEntry;
use crate::progress::Progress;

/// Decimal places of the written degrees.
const DECIMALS: i32 = 8;

#[derive(Serialize)]
struct Properties<'a> {
    class: u8,
    name: &'a str,
    colour: &'a str,
    pixels: u64,
    area_m2: Option<f64>,
    area_ha: Option<f64>,
}

impl<'a> From<&'a ClassAttributes> for Properties<'a> {
    fn from(c: &'a ClassAttributes) -> Self {
        Properties {
            class: c.class,
            name: &c.name,
            colour: &c.colour,
            pixels: c.pixels,
            area_m2: c.area_m2,
            area_ha: c.area_ha(),
        }
    }
}

/// Writes `polygons` to `out` as GeoJSON in WGS 84, named and coloured after `legend`, and
/// returns `out`. The raster needs georeferencing with a CRS that can be reprojected.
pub fn write_geojson<W: Write>(
    polygons: &Polygons<'_>,
    legend: &[LegendEntry],
    mut out: W,
    progress: &impl Progress,
) -> Result<W, PolygonError> {
    let features = Features::new(polygons, legend)?;
    let crs = SourceCrs::of(features.georef)?;
    let scale = 10f64.powi(DECIMALS);
    out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[")?;
    features.write_each(progress, |i, attributes, mut coordinates| {
        for ring in coordinates.iter_mut().flatten() {
            for point in ring.iter_mut() {
                let (lon, lat) = crs.to_wgs84(point[0], point[1])?;
                *point = [(lon * scale).round() / scale, (lat * scale).round() / scale];
            }
        }
        if i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(b"\n{\"type\":\"Feature\",\"properties\":")?;
        serde_json::to_writer(&mut out, &Properties::from(attributes)).map_err(json_error)?;
        out.write_all(b",\"geometry\":{\"type\":\"MultiPolygon\",\"coordinates\":")?;
        serde_json::to_writer(&mut out, &coordinates).map_err(json_error)?;
        out.write_all(b"}}")?;
        Ok(())
    })?;
    out.write_all(b"\n]}\n")?;
    Ok(out)
}

fn json_error(e: serde_json::Error) -> PolygonError {
    PolygonError::Write(e.into())
}
