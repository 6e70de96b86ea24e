//! The label raster's writer options: georeferencing carried over, the legend as colour table
//! and class names, the manifest in the metadata. The same for every method.

use std::io::Cursor;

use super::SegmentError;
use crate::geotiff::{CogWriter, EncodedTile, RasterInfo, TileEncoder, WriterOptions};
use crate::labels::{LegendEntry, NODATA};
use crate::manifest::RunManifest;
use crate::raster::SampleType;

/// Backend name of the engine's own CPU kernels on a native target.
pub const CPU_BACKEND: &str = "cpu";

/// Writer options for the label raster of a run over the raster `info` describes.
pub fn writer_options(
    info: &RasterInfo,
    legend: &[LegendEntry],
    manifest: &RunManifest,
) -> WriterOptions {
    let mut metadata: Vec<(String, String)> = legend
        .iter()
        .enumerate()
        .map(|(i, e)| (format!("CLASS_{i}_NAME"), e.name.clone()))
        .collect();
    metadata.push(("MAPSEG_MANIFEST".into(), manifest.to_json()));
    WriterOptions {
        width: info.width,
        height: info.height,
        bands: 1,
        sample_type: SampleType::U8,
        georef: info.georef.clone(),
        nodata: Some(f64::from(NODATA)),
        palette: Some(legend.iter().map(|e| e.colour).collect()),
        metadata,
        band_descriptions: vec!["class".into()],
    }
}

/// Writer options for the label GeoTIFF of `part` of a run over the raster `info` describes:
/// the part's size, its origin at the part's first pixel.
pub fn part_writer_options(
    info: &RasterInfo,
    part: &super::Part,
    legend: &[LegendEntry],
    manifest: &RunManifest,
) -> WriterOptions {
    WriterOptions {
        width: part.window.width,
        height: part.window.height,
        georef: info.georef.as_ref().map(|g| part.georef(g)),
        ..writer_options(info, legend, manifest)
    }
}

/// The encoder of the label raster's tiles (what [`writer_options`] describe: one u8 band of
/// the raster's size), for front ends that compress tiles away from the writer.
pub fn label_encoder(info: &RasterInfo) -> TileEncoder {
    TileEncoder::for_raster(info.width, info.height, 1, SampleType::U8)
}

/// Writes `tiles` (all tiles of a run, compressed with `options`) as a cloud-optimised label
/// GeoTIFF in memory, with its mode overviews.
pub fn write_geotiff(
    options: WriterOptions,
    tiles: &[EncodedTile],
) -> Result<Vec<u8>, SegmentError> {
    let size: usize = tiles.iter().map(|t| t.bytes.len()).sum();
    let mut writer = CogWriter::new(
        Vec::with_capacity(size + size / 2),
        Cursor::new(Vec::with_capacity(size + size / 2)),
        options,
    )?;
    writer.write_tiles(tiles)?;
    Ok(writer.finish()?)
}
