//! Polygons from the compressed label tiles a run keeps (the web app's worker keeps them to
//! write the GeoTIFF again): the tiles are decompressed one row of tiles at a time, relabelled
//! by a [`ClassMap`] (class merges) and fed to a [`Tracer`] as whole rows.

use super::{PolygonError, PolygonLimits, Topology, Tracer};
use crate::geotiff::{EncodedTile, GeoReference, TILE_SIZE};
use crate::progress::{self, Progress, Stage};
use crate::relabel::ClassMap;

/// The [`Topology`] of the `width` × `height` label raster whose tiles (one u8 band, as
/// [`crate::geotiff::TileEncoder`] compresses them, in any order) are `tiles`, with `map`
/// applied to every label. Memory beyond the tracer's: one row of tiles.
///
/// # Errors
///
/// [`PolygonError::MissingTile`] when a tile of the raster is not there (or one is there
/// twice), [`PolygonError::Tile`] when one does not decompress to a full tile, the tracer's
/// errors, and [`PolygonError::Cancelled`].
pub fn trace_tiles(
    tiles: &[EncodedTile],
    width: u32,
    height: u32,
    georef: Option<&GeoReference>,
    map: &ClassMap,
    limits: PolygonLimits,
    progress: &impl Progress,
) -> Result<Topology, PolygonError> {
    let columns = width.div_ceil(TILE_SIZE);
    let rows = height.div_ceil(TILE_SIZE);
    let mut order: Vec<&EncodedTile> = tiles.iter().collect();
    order.sort_by_key(|t| (t.row, t.column));
    let expected = (0..rows).flat_map(|r| (0..columns).map(move |c| (r, c)));
    if order.len() != (columns * rows) as usize
        || !order.iter().map(|t| (t.row, t.column)).eq(expected)
    {
        return Err(PolygonError::MissingTile {
            tiles: order.len(),
            expected: u64::from(columns) * u64::from(rows),
        });
    }

    let mut tracer = Tracer::new(width, height, georef, limits)?;
    let (w, side) = (width as usize, TILE_SIZE as usize);
    let mut strip = Vec::new();
    for (r, row_tiles) in order.chunks(columns as usize).enumerate() {
        progress::check(progress)?;
        progress.report(Stage::Polygons, r as f32 / rows as f32);
        let y0 = r as u32 * TILE_SIZE;
        let strip_height = TILE_SIZE.min(height - y0) as usize;
        strip.clear();
        strip.resize(w * strip_height, 0);
        for tile in row_tiles {
            let pixels = tile
                .decompress()
                .map_err(|e| PolygonError::Tile(e.to_string()))?;
            if pixels.len() != side * side {
                return Err(PolygonError::Tile(format!(
                    "tile ({}, {}) holds {} bytes, not {}",
                    tile.column,
                    tile.row,
                    pixels.len(),
                    side * side
                )));
            }
            let x0 = tile.column as usize * side;
            let cols = side.min(w - x0);
            for (y, line) in pixels.chunks_exact(side).take(strip_height).enumerate() {
                strip[y * w + x0..y * w + x0 + cols].copy_from_slice(&line[..cols]);
            }
        }
        map.apply(&mut strip);
        tracer.add_rows(y0, &strip)?;
    }
    tracer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geotiff::{TileEncoder, WriterOptions};
    use crate::progress::NoProgress;
    use crate::raster::{SampleType, Samples, Window};

    /// The tiles of a `width` × `height` raster whose label at (x, y) is `label(x, y)`, with
    /// the rows of tiles reversed (a run's units need not come in tile order).
    fn tiles(width: u32, height: u32, label: impl Fn(u32, u32) -> u8) -> Vec<EncodedTile> {
        let encoder = TileEncoder::new(&WriterOptions::new(width, height, 1, SampleType::U8));
        let mut all = Vec::new();
        for y0 in (0..height).step_by(TILE_SIZE as usize) {
            let window = Window::new(0, y0, width, TILE_SIZE.min(height - y0));
            let labels = (window.y..window.bottom())
                .flat_map(|y| (0..width).map(move |x| (x, y)))
                .map(|(x, y)| label(x, y))
                .collect();
            all.push(
                encoder
                    .encode(window, &Samples::U8(labels))
                    .expect("encode"),
            );
        }
        all.into_iter().rev().flatten().collect()
    }

    fn rows_of(width: u32, height: u32, label: impl Fn(u32, u32) -> u8) -> Vec<u8> {
        (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .map(|(x, y)| label(x, y))
            .collect()
    }

    #[test]
    fn tiles_give_the_topology_of_their_rows() {
        let (width, height) = (300, 520);
        let label = |x: u32, y: u32| ((x / 70 + y / 90) % 3) as u8;
        let from_tiles = trace_tiles(
            &tiles(width, height, label),
            width,
            height,
            None,
            &ClassMap::identity(3),
            PolygonLimits::DEFAULT,
            &NoProgress,
        )
        .expect("tiles");
        let mut tracer = Tracer::new(width, height, None, PolygonLimits::DEFAULT).expect("tracer");
        tracer
            .add_rows(0, &rows_of(width, height, label))
            .expect("rows");
        let from_rows = tracer.finish().expect("rows");
        assert_eq!(from_tiles.regions(), from_rows.regions());
        assert_eq!(from_tiles.vertices(), from_rows.vertices());
        assert_eq!(from_tiles.stats().counts, from_rows.stats().counts);
    }

    #[test]
    fn merged_classes_become_one_region() {
        let (width, height) = (260, 40);
        // Three vertical bands: 0 | 1 | 2; merging 1 and 2 leaves two regions.
        let label = |x: u32, _| (x / 100) as u8;
        let map = ClassMap::merge(3, &[1, 2]).expect("merge");
        let topology = trace_tiles(
            &tiles(width, height, label),
            width,
            height,
            None,
            &map,
            PolygonLimits::DEFAULT,
            &NoProgress,
        )
        .expect("tiles");
        assert_eq!(topology.regions(), 2);
        assert_eq!(topology.stats().counts[..2], [100 * 40, 160 * 40]);
    }

    #[test]
    fn a_missing_tile_is_named() {
        let (width, height) = (600, 300);
        let mut all = tiles(width, height, |_, _| 0);
        all.remove(2);
        let err = trace_tiles(
            &all,
            width,
            height,
            None,
            &ClassMap::identity(1),
            PolygonLimits::DEFAULT,
            &NoProgress,
        )
        .expect_err("missing tile");
        assert!(
            matches!(
                err,
                PolygonError::MissingTile {
                    tiles: 5,
                    expected: 6
                }
            ),
            "{err}"
        );
    }
}
