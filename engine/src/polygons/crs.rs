//! The raster's CRS for reprojection (`proj4rs`) and for the FlatGeobuf header.
//!
//! An EPSG code (ProjectedCSTypeGeoKey or GeographicTypeGeoKey) takes its PROJ string from
//! `crs-definitions`' table (through `proj4rs`). A user-defined CRS is rebuilt from the GeoKeys
//! when it is one of the common ones: geographic, UTM (ProjectionGeoKey 16001–16060,
//! 16101–16160) or transverse Mercator (ProjCoordTransGeoKey 1), on a datum given by an EPSG
//! code or on an ellipsoid; the FlatGeobuf header then carries an equivalent WKT. Anything
//! else is refused with a message that says so.

use proj4rs::Proj;
use proj4rs::transform::transform;

use crate::geotiff::{GeoKeyValue, GeoReference, LinearUnit};

/// GeoKey ids read here.
mod key {
    pub const CITATION: u16 = 1026;
    pub const GEOGRAPHIC_TYPE: u16 = 2048;
    pub const PROJECTED_TYPE: u16 = 3072;
    pub const PCS_CITATION: u16 = 3073;
    pub const GEOG_GEODETIC_DATUM: u16 = 2050;
    pub const GEOG_ELLIPSOID: u16 = 2056;
    pub const GEOG_SEMI_MAJOR_AXIS: u16 = 2057;
    pub const GEOG_SEMI_MINOR_AXIS: u16 = 2058;
    pub const GEOG_INV_FLATTENING: u16 = 2059;
    pub const PROJECTION: u16 = 3074;
    pub const PROJ_COORD_TRANS: u16 = 3075;
    pub const PROJ_NAT_ORIGIN_LONG: u16 = 3080;
    pub const PROJ_NAT_ORIGIN_LAT: u16 = 3081;
    pub const PROJ_FALSE_EASTING: u16 = 3082;
    pub const PROJ_FALSE_NORTHING: u16 = 3083;
    pub const PROJ_CENTER_LONG: u16 = 3088;
    pub const PROJ_SCALE_AT_NAT_ORIGIN: u16 = 3092;
}

/// Why the raster's CRS cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CrsError {
    #[error("EPSG:{0} is not in the projection table, so the polygons cannot be put in WGS 84")]
    UnknownEpsg(u32),
    #[error(
        "the raster's user-defined CRS cannot be reprojected ({0}); supported are EPSG codes and user-defined geographic, UTM and transverse Mercator systems"
    )]
    Unsupported(String),
    #[error("reprojection to WGS 84 failed: {0}")]
    Proj(String),
}

/// The raster's CRS: how to reproject from it, and how to name it in a file.
#[derive(Debug)]
pub struct SourceCrs {
    proj: Proj,
    /// The EPSG code, when the GeoKeys give one.
    pub epsg: Option<u32>,
    /// WKT (version 1) of a user-defined CRS, for readers that need more than a code.
    pub wkt: Option<String>,
    /// A name for people.
    pub name: Option<String>,
    geographic: bool,
}

impl SourceCrs {
    /// The CRS of `georef`.
    pub fn of(georef: &GeoReference) -> Result<SourceCrs, CrsError> {
        let name = georef.crs_name.clone();
        // A user-defined projected CRS on an EPSG datum has the datum's code in
        // `georef.epsg`: only a projected code (or a geographic one for a geographic CRS)
        // names the whole system.
        let projected = short(georef, key::PROJECTED_TYPE).filter(|&c| c != 0 && c != 32767);
        let code = if georef.geographic {
            georef.epsg
        } else {
            projected.map(u32::from)
        };
        if let Some(code) = code {
            let definition = epsg_proj4(code).ok_or(CrsError::UnknownEpsg(code))?;
            return Ok(SourceCrs {
                proj: parse(definition)?,
                epsg: Some(code),
                wkt: None,
                name,
                geographic: georef.geographic,
            });
        }
        let datum = datum(georef)?;
        let (definition, projection) = if georef.geographic {
            (format!("+proj=longlat {datum}"), None)
        } else {
            let (definition, wkt) = user_projection(georef)?;
            let unit = match georef.unit {
                LinearUnit::Metre => "+units=m".to_owned(),
                LinearUnit::Other { metres, .. } => format!("+to_meter={metres}"),
                _ => return Err(CrsError::Unsupported("its linear unit is unknown".into())),
            };
            (format!("{definition} {datum} {unit}"), Some(wkt))
        };
        let proj = parse(&definition)?;
        // `crs_name` may be the datum's (from its EPSG code): a projected system is named by
        // its own citation.
        let name = if georef.geographic {
            name
        } else {
            [key::PCS_CITATION, key::CITATION]
                .into_iter()
                .find_map(|id| match georef.key(id) {
                    Some(GeoKeyValue::Ascii(s)) if !s.trim().is_empty() => Some(s.clone()),
                    _ => None,
                })
        };
        let wkt = wkt(
            &proj,
            georef,
            name.as_deref().unwrap_or("unnamed"),
            projection.as_deref(),
        );
        Ok(SourceCrs {
            proj,
            epsg: None,
            wkt: Some(wkt),
            name,
            geographic: georef.geographic,
        })
    }

    /// Longitude and latitude in WGS 84 degrees of the point (`x`, `y`) of this CRS.
    pub fn to_wgs84(&self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        let mut point = if self.geographic {
            (x.to_radians(), y.to_radians(), 0.0)
        } else {
            (x, y, 0.0)
        };
        transform(&self.proj, wgs84(), &mut point).map_err(|e| CrsError::Proj(e.to_string()))?;
        let (lon, lat) = (point.0.to_degrees(), point.1.to_degrees());
        if lon.is_finite() && lat.is_finite() {
            Ok((lon, lat))
        } else {
            Err(CrsError::Proj(format!("({x}, {y}) has no WGS 84 position")))
        }
    }
}

fn wgs84() -> &'static Proj {
    static WGS84: std::sync::OnceLock<Proj> = std::sync::OnceLock::new();
    WGS84.get_or_init(|| {
        // A literal that proj4rs parses: a failure would be a bug in this line.
        #[allow(clippy::expect_used)]
        Proj::from_proj_string("+proj=longlat +datum=WGS84 +no_defs").expect("WGS 84 parses")
    })
}

fn parse(definition: &str) -> Result<Proj, CrsError> {
    Proj::from_proj_string(definition)
        .map_err(|e| CrsError::Proj(format!("{e} (in \"{definition}\")")))
}

fn epsg_proj4(code: u32) -> Option<&'static str> {
    u16::try_from(code)
        .ok()
        .and_then(crs_definitions::from_code)
        .map(|d| d.proj4)
}

fn short(georef: &GeoReference, id: u16) -> Option<u16> {
    match georef.key(id)? {
        GeoKeyValue::Short(v) => Some(*v),
        _ => None,
    }
}

fn double(georef: &GeoReference, id: u16) -> Option<f64> {
    match georef.key(id)? {
        GeoKeyValue::Doubles(v) => v.first().copied().filter(|v| v.is_finite()),
        _ => None,
    }
}

/// The datum or ellipsoid part of a PROJ string, from the geographic GeoKeys.
fn datum(georef: &GeoReference) -> Result<String, CrsError> {
    let code = short(georef, key::GEOGRAPHIC_TYPE).filter(|&c| c != 0 && c != 32767);
    if let Some(definition) = code.and_then(|c| epsg_proj4(u32::from(c))) {
        let parts: Vec<&str> = definition
            .split_whitespace()
            .filter(|p| !p.starts_with("+proj=") && *p != "+no_defs")
            .collect();
        return Ok(parts.join(" "));
    }
    let by_datum = match short(georef, key::GEOG_GEODETIC_DATUM) {
        Some(6326) => Some("+datum=WGS84"),
        Some(6269) => Some("+datum=NAD83"),
        Some(6258 | 6674) => Some("+ellps=GRS80 +towgs84=0,0,0"),
        _ => None,
    };
    let by_ellipsoid = || match short(georef, key::GEOG_ELLIPSOID) {
        Some(7030) => Some("+ellps=WGS84"),
        Some(7019) => Some("+ellps=GRS80"),
        Some(7008) => Some("+ellps=clrk66"),
        Some(7022) => Some("+ellps=intl"),
        _ => None,
    };
    if let Some(d) = by_datum.or_else(by_ellipsoid) {
        return Ok(d.to_owned());
    }
    let a = double(georef, key::GEOG_SEMI_MAJOR_AXIS).filter(|a| *a > 0.0);
    match (
        a,
        double(georef, key::GEOG_INV_FLATTENING).filter(|f| *f > 0.0),
        double(georef, key::GEOG_SEMI_MINOR_AXIS).filter(|b| *b > 0.0),
    ) {
        (Some(a), Some(rf), _) => Ok(format!("+a={a} +rf={rf}")),
        (Some(a), None, Some(b)) => Ok(format!("+a={a} +b={b}")),
        (Some(a), None, None) => Ok(format!("+a={a} +b={a}")),
        _ => Err(CrsError::Unsupported(
            "its GeoKeys name no datum or ellipsoid".into(),
        )),
    }
}

/// The projection part of a user-defined projected CRS: the PROJ string and the WKT
/// `PROJECTION[…],PARAMETER[…]…` that goes with it.
fn user_projection(georef: &GeoReference) -> Result<(String, String), CrsError> {
    let (lat0, lon0, k0, x0, y0) = match short(georef, key::PROJECTION) {
        Some(code @ (16001..=16060 | 16101..=16160)) => {
            let (zone, south) = if code > 16100 {
                (code - 16100, true)
            } else {
                (code - 16000, false)
            };
            let lon0 = f64::from(zone) * 6.0 - 183.0;
            let y0 = if south { 10_000_000.0 } else { 0.0 };
            (0.0, lon0, 0.9996, 500_000.0, y0)
        }
        _ => match short(georef, key::PROJ_COORD_TRANS) {
            Some(1) => {
                let lon0 = double(georef, key::PROJ_NAT_ORIGIN_LONG)
                    .or_else(|| double(georef, key::PROJ_CENTER_LONG))
                    .unwrap_or(0.0);
                (
                    double(georef, key::PROJ_NAT_ORIGIN_LAT).unwrap_or(0.0),
                    lon0,
                    double(georef, key::PROJ_SCALE_AT_NAT_ORIGIN).unwrap_or(1.0),
                    double(georef, key::PROJ_FALSE_EASTING).unwrap_or(0.0),
                    double(georef, key::PROJ_FALSE_NORTHING).unwrap_or(0.0),
                )
            }
            Some(other) => {
                return Err(CrsError::Unsupported(format!(
                    "coordinate transformation {other} (ProjCoordTransGeoKey)"
                )));
            }
            None => {
                return Err(CrsError::Unsupported(
                    "its GeoKeys name no projection".into(),
                ));
            }
        },
    };
    // The unit of the false easting and northing is the CRS's linear unit.
    let metres = georef.unit.metres().unwrap_or(1.0);
    let definition = format!(
        "+proj=tmerc +lat_0={lat0} +lon_0={lon0} +k_0={k0} +x_0={} +y_0={}",
        x0 * metres,
        y0 * metres
    );
    let wkt = format!(
        "PROJECTION[\"Transverse_Mercator\"],PARAMETER[\"latitude_of_origin\",{lat0}],PARAMETER[\"central_meridian\",{lon0}],PARAMETER[\"scale_factor\",{k0}],PARAMETER[\"false_easting\",{x0}],PARAMETER[\"false_northing\",{y0}]"
    );
    Ok((definition, wkt))
}

/// WKT 1 of a user-defined CRS: its geographic system from the parsed ellipsoid (the datum by
/// name where the keys give a well-known one), and the projection, if any.
fn wkt(proj: &Proj, georef: &GeoReference, name: &str, projection: Option<&str>) -> String {
    let (a, b) = proj.ellipse_parameters();
    let rf = if (a - b).abs() > 1e-9 {
        a / (a - b)
    } else {
        0.0
    };
    let geographic = short(georef, key::GEOGRAPHIC_TYPE);
    let datum = match (geographic, short(georef, key::GEOG_GEODETIC_DATUM)) {
        (Some(4326), _) | (_, Some(6326)) => "WGS_1984",
        (Some(4269), _) | (_, Some(6269)) => "North_American_Datum_1983",
        (Some(4258), _) | (_, Some(6258)) => "European_Terrestrial_Reference_System_1989",
        _ => "unknown",
    };
    let name = name.replace('"', "'");
    let geogcs = format!(
        "GEOGCS[\"{}\",DATUM[\"{datum}\",SPHEROID[\"unnamed\",{a},{rf}]],PRIMEM[\"Greenwich\",0],UNIT[\"degree\",0.0174532925199433]]",
        if projection.is_some() {
            "unnamed"
        } else {
            &name
        }
    );
    match projection {
        None => geogcs,
        Some(projection) => {
            let (unit, metres) = match georef.unit {
                LinearUnit::Other { name, metres, .. } => (name, metres),
                _ => ("metre", 1.0),
            };
            format!("PROJCS[\"{name}\",{geogcs},{projection},UNIT[\"{unit}\",{metres}]]")
        }
    }
}
