//! The label raster as polygons: one MultiPolygon per class, with its id, name, colour, pixel
//! count and area, simplified without gaps or overlaps between neighbours.
//!
//! The work goes in three steps, each its own module:
//!
//! 1. [`Tracer`] (`trace.rs`) takes the label rows top to bottom (whole rows, or the units of a
//!    run as a [`crate::pipeline::UnitSink`]) and keeps only two rows of pixels: it labels
//!    4-connected regions (union–find over provisional ids) and follows the pixel-edge
//!    boundaries between regions as fragments, joined at the end into *arcs*: chains of pixel
//!    corners between *nodes* (corners where three or four pixels of different regions meet,
//!    or two diagonal pairs), or closed rings without a node. Its memory grows with the
//!    boundaries, never with the raster's area; [`PolygonLimits::max_vertices`] bounds it.
//! 2. [`Topology`] (`topology.rs`) rebuilds every region's rings from the arcs: an exterior
//!    ring (counter-clockwise in pixel space) and holes. Where a region meets itself at a corner
//!    the ring turns so that no ring touches itself (OGC simple features), which leaves holes
//!    that touch their exterior ring at one point, as OGC allows.
//! 3. [`Topology::simplify`] (`simplify.rs`) simplifies each arc once (Douglas–Peucker with a
//!    tolerance in metres, nodes fixed), so neighbours keep sharing the very same vertices. A
//!    simplified segment is accepted only when it crosses no other segment, passes no other
//!    vertex closer than half a pixel and sweeps no other vertex (an island would jump); else
//!    the arc is simplified less there. Vertices stay pixel corners, so the checks are exact
//!    integer arithmetic.
//!
//! The writers put the result in the raster's CRS as FlatGeobuf (`fgb.rs`, what QGIS and
//! GDAL open with its CRS) or in WGS 84 as GeoJSON (`geojson.rs`, RFC 7946), reprojected with
//! `proj4rs` (`crs.rs`: EPSG codes, or a user-defined CRS from the GeoKeys).
//!
//! The writers and the reprojection are behind the engine's `vector` feature (the CLI and the
//! web app's worker take it; the page, which only names the formats, does not).
//!
//! Areas are those of the class statistics ([`crate::stats::ClassStats`], fed the same rows):
//! pixel counts times the pixel area, planar for projected CRS and ellipsoidal for geographic
//! ones, whatever the simplification.

#[cfg(feature = "vector")]
mod crs;
#[cfg(feature = "vector")]
mod features;
#[cfg(feature = "vector")]
mod fgb;
#[cfg(feature = "vector")]
mod geojson;
mod simplify;
mod tiles;
mod topology;
mod trace;

#[cfg(feature = "vector")]
pub use crs::{CrsError, SourceCrs};
#[cfg(feature = "vector")]
pub use fgb::write_flatgeobuf;
#[cfg(feature = "vector")]
pub use geojson::write_geojson;
pub use simplify::Polygons;
pub use tiles::trace_tiles;
pub use topology::Topology;
pub use trace::Tracer;

use crate::labels::{LegendEntry, default_colour};
use crate::progress::Cancelled;

/// A pixel corner: `[column, row]` of the lattice, `0..=width` × `0..=height`.
pub type Corner = [i32; 2];

/// Bounds on what polygonising may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolygonLimits {
    /// Pixel corners on class boundaries (before simplification). Memory is about 100 bytes
    /// per vertex at its peak (110 MB for the 1.1 million of a real 4096² label raster).
    pub max_vertices: u64,
}

impl PolygonLimits {
    /// 32 million boundary vertices: about 3 GB at the peak.
    pub const DEFAULT: PolygonLimits = PolygonLimits {
        max_vertices: 32_000_000,
    };
}

impl Default for PolygonLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The polygon output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolygonFormat {
    /// FlatGeobuf in the raster's CRS (`.fgb`).
    FlatGeobuf,
    /// GeoJSON in WGS 84 (`.geojson`, `.json`), RFC 7946.
    GeoJson,
}

impl PolygonFormat {
    /// The format a file name's extension asks for (case-insensitive), if any.
    pub fn from_extension(extension: &str) -> Option<PolygonFormat> {
        match extension.to_ascii_lowercase().as_str() {
            "fgb" => Some(PolygonFormat::FlatGeobuf),
            "geojson" | "json" => Some(PolygonFormat::GeoJson),
            _ => None,
        }
    }

    /// The usual extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            PolygonFormat::FlatGeobuf => "fgb",
            PolygonFormat::GeoJson => "geojson",
        }
    }
}

/// Why polygons could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum PolygonError {
    #[error(
        "the class boundaries have more than {limit} vertices, the limit for polygons: use a larger minimum mapping unit (--mmu), more smoothing (--smooth) or a coarser resolution, or polygonise a smaller area"
    )]
    TooManyVertices { limit: u64 },
    #[error(
        "label rows must come in order, whole rows at a time: expected row {expected}, got {got}"
    )]
    RowOrder { expected: u32, got: u32 },
    #[error("the label rows hold {got} pixels, not a multiple of the raster width {width}")]
    RowLength { got: usize, width: u32 },
    #[error("the label raster has {got} rows of {height}: it ended early")]
    Incomplete { got: u32, height: u32 },
    #[error(
        "the label raster is too large for polygons ({width}x{height} pixels; at most 2^31-1 per side)"
    )]
    TooLarge { width: u32, height: u32 },
    #[error("the simplification tolerance must be a finite number of metres ≥ 0 (got {0})")]
    BadTolerance(f64),
    #[error("the label raster has no georeferencing: polygons need the raster's CRS and transform")]
    NoGeoreference,
    #[error(
        "the raster's CRS unit is unknown, so a tolerance in metres cannot be turned into pixels"
    )]
    UnknownUnit,
    #[cfg(feature = "vector")]
    #[error(transparent)]
    Crs(#[from] CrsError),
    #[error("the label raster has {tiles} tiles where it should have {expected}, one of each")]
    MissingTile { tiles: usize, expected: u64 },
    #[error("a label tile does not decompress: {0}")]
    Tile(String),
    #[error("polygon topology is inconsistent: {0} (a bug; please report it)")]
    Topology(&'static str),
    #[error("could not write the polygons: {0}")]
    Write(#[from] std::io::Error),
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

/// What a class's feature says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassAttributes {
    pub class: u8,
    pub name: String,
    /// `#rrggbb`.
    pub colour: String,
    pub pixels: u64,
    /// `None` when the raster's unit is unknown.
    pub area_m2: Option<f64>,
}

impl ClassAttributes {
    /// The area in hectares.
    pub fn area_ha(&self) -> Option<f64> {
        self.area_m2.map(|a| a / 10_000.0)
    }
}

/// The attributes of every class that has polygons, named and coloured after `legend` (the
/// default legend beyond it).
pub fn class_attributes(polygons: &Polygons<'_>, legend: &[LegendEntry]) -> Vec<ClassAttributes> {
    let stats = polygons.topology().stats();
    let areas = stats.area_m2();
    polygons
        .classes()
        .into_iter()
        .map(|class| {
            let c = usize::from(class);
            let entry = legend.get(c);
            let [r, g, b] = entry.map_or_else(|| default_colour(c), |e| e.colour);
            ClassAttributes {
                class,
                name: entry.map_or_else(|| format!("class {}", c + 1), |e| e.name.clone()),
                colour: format!("#{r:02x}{g:02x}{b:02x}"),
                pixels: stats.counts.get(c).copied().unwrap_or(0),
                area_m2: areas.as_ref().and_then(|a| a.get(c).copied()),
            }
        })
        .collect()
}
