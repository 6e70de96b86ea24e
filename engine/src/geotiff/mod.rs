//! GeoTIFF and BigTIFF: windowed decoding of any supported raster, georeferencing, and
//! tile-streamed encoding.
//!
//! - [`GeoTiffReader`] opens any `Read + Seek` source, describes it ([`RasterInfo`]) and decodes
//!   any pixel window of any level (full resolution or an overview) without decoding the rest.
//! - [`GeoReference`] holds the affine transform, the parsed GeoKeys and the raw georeferencing
//!   tags, which writers carry over verbatim.
//! - [`GeoTiffWriter`] writes a tiled, Deflate-compressed GeoTIFF row-strip by row-strip, so its
//!   memory does not depend on the raster's size.
//! - [`CogWriter`] writes a class raster as a cloud-optimised GeoTIFF with mode overviews, its
//!   tiles waiting in a scratch store until the end.
//! - [`vrt::Mosaic`] writes a GDAL VRT of label GeoTIFFs at whole-pixel offsets.

mod chunk;
mod cog;
mod directory;
mod error;
mod geokeys;
mod ifd;
mod info;
mod level;
mod limits;
mod pyramid;
mod read;
mod source;
mod tags;
pub mod vrt;
mod write;

pub use cog::CogWriter;
pub use error::{FormatError, LimitExceeded, Unsupported};
pub use geokeys::{
    GeoKey, GeoKeyValue, GeoReference, GeoTransform, LinearUnit, PixelArea, RasterType, RawGeoTags,
};
pub use info::{Compression, Layout, Photometric, RasterInfo};
pub use limits::Limits;
pub use read::{DecodeError, GeoTiffReader};
pub use write::{EncodeError, EncodedTile, GeoTiffWriter, TILE_SIZE, TileEncoder, WriterOptions};
