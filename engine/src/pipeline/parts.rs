//! A raster labelled in parts (`mapseg apply --parts N`): which rows each part owns, and how a
//! part's own GeoTIFF sits in the whole raster.
//!
//! Part `i` of `n` owns a band of whole tile rows (256 px) across the full width: the rows are
//! spread as evenly as whole tile rows allow. Every unit of work lies in exactly one part, and
//! a unit's labels do not depend on which part labels it (its halo is read from the whole
//! raster), so the parts, put back together, are the one-run labels byte for byte; their
//! statistics add up to the one-run statistics (areas are integer sums, see
//! [`crate::stats::ClassStats`]).

use crate::geotiff::{GeoReference, TILE_SIZE};
use crate::raster::Window;

/// One part of a raster labelled in parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Part {
    /// 0-based index, below `count`.
    pub index: u32,
    pub count: u32,
    /// The pixels the part owns, in the whole raster.
    pub window: Window,
}

/// Why a part cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PartError {
    #[error("the number of parts must be at least 1")]
    NoParts,
    #[error("part {index} does not exist: parts are numbered 0 to {last} for {count} parts", last = count - 1)]
    NoSuchPart { index: u32, count: u32 },
    #[error(
        "{count} parts is more than the raster's {rows} tile rows of {TILE_SIZE} px: use at most {rows} parts"
    )]
    TooManyParts { count: u32, rows: u32 },
}

/// Rows of whole output tiles in a raster `height` pixels tall (the last may be partial).
pub fn tile_rows(height: u32) -> u32 {
    height.div_ceil(TILE_SIZE)
}

impl Part {
    /// Part `index` of `count` of a `width` × `height` raster.
    pub fn plan(width: u32, height: u32, index: u32, count: u32) -> Result<Self, PartError> {
        if count == 0 {
            return Err(PartError::NoParts);
        }
        if index >= count {
            return Err(PartError::NoSuchPart { index, count });
        }
        let rows = tile_rows(height);
        if count > rows {
            return Err(PartError::TooManyParts { count, rows });
        }
        // Rows [index·rows/count, (index+1)·rows/count): sizes differ by at most one tile row.
        let first = |i: u32| (u64::from(i) * u64::from(rows) / u64::from(count)) as u32;
        let y0 = first(index) * TILE_SIZE;
        let y1 = (first(index + 1) * TILE_SIZE).min(height);
        Ok(Self {
            index,
            count,
            window: Window::new(0, y0, width, y1 - y0),
        })
    }

    /// Every part of a `width` × `height` raster labelled in `count` parts, in order.
    pub fn all(width: u32, height: u32, count: u32) -> Result<Vec<Self>, PartError> {
        (0..count)
            .map(|i| Self::plan(width, height, i, count))
            .collect()
    }

    /// The units of `units` (whole-raster units of work) that this part labels, in order.
    pub fn units(&self, units: &[Window]) -> Vec<Window> {
        units
            .iter()
            .copied()
            .filter(|u| u.y >= self.window.y && u.y < self.window.bottom())
            .collect()
    }

    /// `unit` (in the whole raster) in the part's own pixel coordinates.
    pub fn local(&self, unit: Window) -> Window {
        Window::new(
            unit.x - self.window.x,
            unit.y - self.window.y,
            unit.width,
            unit.height,
        )
    }

    /// The georeferencing of the part's own GeoTIFF (its origin at the part's first pixel).
    pub fn georef(&self, whole: &GeoReference) -> GeoReference {
        whole.for_window(self.window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_tile_the_raster_in_whole_tile_rows() {
        for (height, count) in [
            (1600, 1),
            (1600, 2),
            (1600, 3),
            (1600, 7),
            (300, 2),
            (257, 2),
        ] {
            let parts = Part::all(1000, height, count).unwrap();
            let mut next = 0;
            for p in &parts {
                assert_eq!(p.window.y, next, "{height} px in {count} parts: {parts:?}");
                assert!(p.window.height > 0);
                assert!(p.window.y.is_multiple_of(TILE_SIZE));
                assert_eq!((p.window.x, p.window.width), (0, 1000));
                next = p.window.bottom();
            }
            assert_eq!(next, height);
            let units = crate::pipeline::units(1000, height);
            let owned: usize = parts.iter().map(|p| p.units(&units).len()).sum();
            assert_eq!(owned, units.len());
        }
    }

    #[test]
    fn parts_differ_by_at_most_one_tile_row() {
        let parts = Part::all(512, 7 * 256, 3).unwrap();
        let rows: Vec<u32> = parts.iter().map(|p| p.window.height / 256).collect();
        assert_eq!(rows, vec![2, 2, 3]);
    }

    #[test]
    fn impossible_parts_are_refused_with_the_numbers() {
        assert_eq!(Part::plan(10, 10, 0, 0), Err(PartError::NoParts));
        let e = Part::plan(10, 600, 3, 3).unwrap_err();
        assert_eq!(
            e.to_string(),
            "part 3 does not exist: parts are numbered 0 to 2 for 3 parts"
        );
        let e = Part::plan(10, 600, 0, 4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "4 parts is more than the raster's 3 tile rows of 256 px: use at most 3 parts"
        );
    }
}
