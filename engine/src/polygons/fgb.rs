//! FlatGeobuf in the raster's CRS: one MultiPolygon feature per class.
//!
//! The file is written straight from FlatGeobuf's schema types (the `flatgeobuf` crate's
//! generated flatbuffers tables): magic bytes, the header (columns, CRS as EPSG code or WKT,
//! extent, feature count) and the features, each as soon as it is built. Its own `FgbWriter`
//! sorts features through a temporary file, which the engine may not create; with one feature
//! per class there is nothing to sort or index, so the file has no spatial index.

use std::io::Write;

use flatbuffers::FlatBufferBuilder;
use flatgeobuf::{
    Column, ColumnArgs, ColumnType, Crs, CrsArgs, Feature, FeatureArgs, Geometry, GeometryArgs,
    GeometryType, Header, HeaderArgs,
};

use super::crs::SourceCrs;
use super::features::Features;
use super::{ClassAttributes, PolygonError, Polygons};
use crate::labels::LegendEntry;
use crate::progress::Progress;

/// FlatGeobuf's magic bytes, with the format version the schema types are for.
const MAGIC: [u8; 8] = [b'f', b'g', b'b', flatgeobuf::VERSION, b'f', b'g', b'b', 0];

/// The attribute columns, in property order.
const COLUMNS: [(&str, ColumnType, bool); 6] = [
    ("class", ColumnType::Int, false),
    ("name", ColumnType::String, false),
    ("colour", ColumnType::String, false),
    ("pixels", ColumnType::ULong, false),
    ("area_m2", ColumnType::Double, true),
    ("area_ha", ColumnType::Double, true),
];

/// Writes `polygons` to `out` as FlatGeobuf in the raster's CRS, named and coloured after
/// `legend`, and returns `out`. The raster needs georeferencing; the CRS is written as its
/// EPSG code, or as WKT for the user-defined systems [`SourceCrs`] understands (else without
/// a CRS).
pub fn write_flatgeobuf<W: Write>(
    polygons: &Polygons<'_>,
    legend: &[LegendEntry],
    mut out: W,
    progress: &impl Progress,
) -> Result<W, PolygonError> {
    let features = Features::new(polygons, legend)?;
    let georef = features.georef;
    let crs = SourceCrs::of(georef).ok();

    let mut fbb = FlatBufferBuilder::new();
    let columns: Vec<_> = COLUMNS
        .iter()
        .map(|&(name, type_, nullable)| {
            let name = fbb.create_string(name);
            Column::create(
                &mut fbb,
                &ColumnArgs {
                    name: Some(name),
                    type_,
                    nullable,
                    ..ColumnArgs::default()
                },
            )
        })
        .collect();
    let columns = fbb.create_vector(&columns);
    let crs = crs.map(|crs| {
        let args = CrsArgs {
            org: crs.epsg.map(|_| fbb.create_string("EPSG")),
            code: crs.epsg.and_then(|c| i32::try_from(c).ok()).unwrap_or(0),
            name: crs.name.as_deref().map(|n| fbb.create_string(n)),
            wkt: crs.wkt.as_deref().map(|w| fbb.create_string(w)),
            ..CrsArgs::default()
        };
        Crs::create(&mut fbb, &args)
    });
    let name = fbb.create_string("classes");
    let extent = extent(polygons, georef);
    let envelope = extent.map(|e| fbb.create_vector(&e));
    let header = Header::create(
        &mut fbb,
        &HeaderArgs {
            name: Some(name),
            envelope,
            geometry_type: GeometryType::MultiPolygon,
            columns: Some(columns),
            features_count: features.classes.len() as u64,
            index_node_size: 0,
            crs,
            ..HeaderArgs::default()
        },
    );
    fbb.finish_size_prefixed(header, None);
    out.write_all(&MAGIC)?;
    out.write_all(fbb.finished_data())?;

    features.write_each(progress, |_, attributes, rings| {
        Ok(out.write_all(&feature(&rings, attributes))?)
    })?;
    Ok(out)
}

/// `[min_x, min_y, max_x, max_y]` of every vertex in the CRS.
fn extent(polygons: &Polygons<'_>, georef: &crate::geotiff::GeoReference) -> Option<[f64; 4]> {
    let mut e = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for arc in &polygons.arcs {
        for &[col, row] in arc {
            let (x, y) = georef.transform.apply(f64::from(col), f64::from(row));
            e = [e[0].min(x), e[1].min(y), e[2].max(x), e[3].max(y)];
        }
    }
    e[0].is_finite().then_some(e)
}

/// One size-prefixed feature: the class's MultiPolygon and its properties.
fn feature(polygons: &[Vec<Vec<[f64; 2]>>], attributes: &ClassAttributes) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let parts: Vec<_> = polygons
        .iter()
        .map(|rings| {
            let mut xy: Vec<f64> = Vec::new();
            let mut ends: Vec<u32> = Vec::new();
            for ring in rings {
                xy.extend(ring.iter().flatten());
                ends.push((xy.len() / 2) as u32);
            }
            let xy = fbb.create_vector(&xy);
            let ends = (ends.len() > 1).then(|| fbb.create_vector(&ends));
            Geometry::create(
                &mut fbb,
                &GeometryArgs {
                    xy: Some(xy),
                    ends,
                    ..GeometryArgs::default()
                },
            )
        })
        .collect();
    let parts = fbb.create_vector(&parts);
    let geometry = Geometry::create(
        &mut fbb,
        &GeometryArgs {
            parts: Some(parts),
            ..GeometryArgs::default()
        },
    );
    let properties = fbb.create_vector(&properties(attributes));
    let feature = Feature::create(
        &mut fbb,
        &FeatureArgs {
            geometry: Some(geometry),
            properties: Some(properties),
            ..FeatureArgs::default()
        },
    );
    fbb.finish_size_prefixed(feature, None);
    fbb.finished_data().to_vec()
}

/// FlatGeobuf's property encoding: per present value, its column index (u16) then the value,
/// little-endian (strings as a u32 byte length and UTF-8); absent values are null.
fn properties(c: &ClassAttributes) -> Vec<u8> {
    let mut p = Vec::new();
    let string = |p: &mut Vec<u8>, s: &str| {
        p.extend_from_slice(&(s.len() as u32).to_le_bytes());
        p.extend_from_slice(s.as_bytes());
    };
    p.extend_from_slice(&0u16.to_le_bytes());
    p.extend_from_slice(&i32::from(c.class).to_le_bytes());
    p.extend_from_slice(&1u16.to_le_bytes());
    string(&mut p, &c.name);
    p.extend_from_slice(&2u16.to_le_bytes());
    string(&mut p, &c.colour);
    p.extend_from_slice(&3u16.to_le_bytes());
    p.extend_from_slice(&c.pixels.to_le_bytes());
    if let (Some(m2), Some(ha)) = (c.area_m2, c.area_ha()) {
        p.extend_from_slice(&4u16.to_le_bytes());
        p.extend_from_slice(&m2.to_le_bytes());
        p.extend_from_slice(&5u16.to_le_bytes());
        p.extend_from_slice(&ha.to_le_bytes());
    }
    p
}
