//! Where the compressed label tiles of a run are kept: each labelled unit's tiles travel, and
//! are kept, one after the other in one byte string (a `Blob` in the browser), and the run's
//! tiles are put back in raster order from them.

use engine::geotiff::EncodedTile;
use serde::{Deserialize, Serialize};

/// Where a compressed tile goes and how many of its unit's bytes are its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TilePlace {
    pub column: u32,
    pub row: u32,
    pub len: usize,
}

/// The places of a labelled unit's `tiles`, whose bytes travel one after the other (in a
/// `Blob`) beside the message.
pub fn tile_places(tiles: &[EncodedTile]) -> Vec<TilePlace> {
    tiles
        .iter()
        .map(|t| TilePlace {
            column: t.column,
            row: t.row,
            len: t.bytes.len(),
        })
        .collect()
}

/// Where each kept tile's bytes are among the parts (one per labelled unit) that hold them one
/// after the other: the tiles of a run come back in raster order however the units arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TileIndex {
    /// `(place, part, offset in the part)` of every tile.
    tiles: Vec<(TilePlace, usize, usize)>,
    /// Each part's length in bytes.
    parts: Vec<usize>,
}

impl TileIndex {
    /// Adds the next part, `len` bytes holding the tiles of `places` one after the other;
    /// `None` (and nothing added) when their lengths do not add up to `len`.
    pub fn add_part(&mut self, places: &[TilePlace], len: usize) -> Option<()> {
        let total = places
            .iter()
            .try_fold(0usize, |sum, p| sum.checked_add(p.len))?;
        if total != len {
            return None;
        }
        let part = self.parts.len();
        let mut offset = 0;
        for place in places {
            self.tiles.push((*place, part, offset));
            offset += place.len;
        }
        self.parts.push(len);
        Some(())
    }

    /// Each part's length in bytes, in the order they were added.
    pub fn part_lens(&self) -> &[usize] {
        &self.parts
    }

    /// The tiles in raster order (row by row), their bytes from `fetch(offset, len)`: `len`
    /// bytes at `offset` of every part one after the other, in the order they were added.
    /// `None` when a fetch fails.
    pub fn tiles(
        &self,
        mut fetch: impl FnMut(usize, usize) -> Option<Vec<u8>>,
    ) -> Option<Vec<EncodedTile>> {
        let mut starts = Vec::with_capacity(self.parts.len());
        let mut start = 0;
        for len in &self.parts {
            starts.push(start);
            start += len;
        }
        let mut order: Vec<&(TilePlace, usize, usize)> = self.tiles.iter().collect();
        order.sort_by_key(|(p, _, _)| (p.row, p.column));
        order
            .into_iter()
            .map(|(place, part, offset)| {
                let bytes = fetch(starts.get(*part)? + offset, place.len)?;
                Some(EncodedTile {
                    column: place.column,
                    row: place.row,
                    bytes,
                })
            })
            .collect()
    }

    /// Bytes of all the parts together.
    pub fn byte_len(&self) -> usize {
        self.parts.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(column: u32, row: u32, bytes: &[u8]) -> EncodedTile {
        EncodedTile {
            column,
            row,
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn tiles_of_parts_come_back_in_raster_order() {
        // Two units, the lower one first, as a pool may answer them.
        let lower = vec![tile(0, 1, &[1, 2, 3]), tile(1, 1, &[])];
        let upper = vec![tile(0, 0, &[9; 5]), tile(1, 0, &[7])];
        let mut index = TileIndex::default();
        index.add_part(&tile_places(&lower), 3).unwrap();
        index.add_part(&tile_places(&upper), 6).unwrap();
        assert_eq!(index.part_lens(), [3, 6]);
        let bytes = [1, 2, 3, 9, 9, 9, 9, 9, 7];
        assert_eq!(index.byte_len(), bytes.len());
        let fetch = |bytes: &[u8]| {
            let bytes = bytes.to_vec();
            move |at: usize, len: usize| bytes.get(at..at + len).map(<[u8]>::to_vec)
        };
        let tiles = index.tiles(fetch(&bytes)).unwrap();
        let expected = [upper.clone(), lower.clone()].concat();
        assert_eq!(tiles, expected);
        // Bytes that end early, or a part whose places do not add up, are refused.
        assert!(index.tiles(fetch(&bytes[..8])).is_none());
        assert!(index.add_part(&tile_places(&upper), 5).is_none());
        let lying = [TilePlace {
            column: 0,
            row: 0,
            len: usize::MAX,
        }];
        assert!(index.add_part(&lying, 1).is_none());
        assert_eq!(index.part_lens(), [3, 6]);
    }
}
