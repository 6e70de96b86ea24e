//! Units of work, halos and the block grid ↔ pixel mapping, the same for every method.
//!
//! A unit is a run of whole output tiles. It is labelled from a window of blocks grown by a halo
//! that covers everything the unit's labels depend on (the method's own context plus the
//! majority filter and the sieve), so any tiling gives the whole-raster result bit for bit.

use crate::geotiff::TILE_SIZE;
use crate::labels::NODATA;
use crate::pipeline::PostProcess;
use crate::raster::Window;
use crate::smoothing::{majority_filter, majority_halo, sieve, sieve_halo};

/// Width of one unit of labelling work, in pixels (a multiple of the tile size and of every
/// resolution, so a unit is a run of whole output tiles).
pub const UNIT_WIDTH: u32 = 4 * TILE_SIZE;

/// The largest halo, in pixels, that smoothing may ask for; it bounds the memory of a unit.
pub const MAX_HALO_PX: u32 = 1024;

/// Largest majority-filter kernel.
pub const MAX_SMOOTH: usize = 15;

/// The units of labelling work of a `width` × `height` raster, tile row after tile row, left to
/// right.
pub fn units(width: u32, height: u32) -> Vec<Window> {
    let mut units = Vec::new();
    for y in (0..height).step_by(TILE_SIZE as usize) {
        for x in (0..width).step_by(UNIT_WIDTH as usize) {
            units.push(Window::new(
                x,
                y,
                UNIT_WIDTH.min(width - x),
                TILE_SIZE.min(height - y),
            ));
        }
    }
    units
}

/// Cells of the block grid (at resolution `r`) below which the sieve merges a region.
fn sieve_cells(post: PostProcess, r: u32) -> usize {
    post.mmu.div_ceil(r * r) as usize
}

/// Halo of the post-processing around a unit, in blocks.
pub(crate) fn halo_blocks(post: PostProcess, r: u32) -> u32 {
    let sieve = if post.mmu > 0 {
        sieve_halo(sieve_cells(post, r))
    } else {
        0
    };
    (majority_halo(post.smooth) + sieve) as u32
}

/// The blocks of `core` (pixels, starting on a multiple of `r`) on a grid of `grid` blocks.
pub(crate) fn core_blocks(core: Window, r: u32) -> Window {
    Window::new(
        core.x / r,
        core.y / r,
        core.right().div_ceil(r) - core.x / r,
        core.bottom().div_ceil(r) - core.y / r,
    )
}

/// Majority filter, then sieve, on a grid of block labels `blocks` wide and high.
pub(crate) fn smooth(labels: Vec<u8>, blocks: Window, post: PostProcess, r: u32) -> Vec<u8> {
    let (w, h) = (blocks.width as usize, blocks.height as usize);
    let filtered = if post.smooth > 1 {
        majority_filter(&labels, w, h, post.smooth)
    } else {
        labels
    };
    if post.mmu > 0 {
        sieve(&filtered, w, h, sieve_cells(post, r))
    } else {
        filtered
    }
}

/// Where a unit's block labels lie and which of its pixels carry data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PixelMap {
    /// The unit, in pixels.
    pub core: Window,
    /// The labelled blocks (the unit's blocks and the halo), in block coordinates.
    pub blocks: Window,
    /// Block edge in pixels.
    pub r: u32,
    /// The decoded pixels and their validity (row-major over `decoded`).
    pub decoded: Window,
    pub valid_px: Vec<bool>,
}

impl PixelMap {
    /// The labels of `grid` (over `blocks`) spread over the pixels of `core`, [`NODATA`] where a
    /// pixel has no data.
    #[cfg_attr(
        all(target_arch = "wasm32", feature = "simd"),
        target_feature(enable = "simd128")
    )]
    pub fn expand(&self, grid: &[u8]) -> Vec<u8> {
        let PixelMap {
            core,
            blocks,
            r,
            decoded,
            ref valid_px,
        } = *self;
        let mut out = Vec::with_capacity(core.len());
        if r == 1 {
            // One block per pixel: invalid pixels are invalid blocks, already nodata in the grid.
            for y in core.y..core.bottom() {
                let start = ((y - blocks.y) * blocks.width + (core.x - blocks.x)) as usize;
                out.extend_from_slice(&grid[start..start + core.width as usize]);
            }
            return out;
        }
        for y in core.y..core.bottom() {
            let grid_row = ((y / r - blocks.y) * blocks.width) as usize;
            let px_row = ((y - decoded.y) * decoded.width) as usize;
            for x in core.x..core.right() {
                let valid = valid_px[px_row + (x - decoded.x) as usize];
                out.push(if valid {
                    grid[grid_row + (x / r - blocks.x) as usize]
                } else {
                    NODATA
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_cover_the_raster_once() {
        let (w, h) = (2300, 700);
        let us = units(w, h);
        let mut hit = vec![0u8; (w * h) as usize];
        for u in &us {
            assert!(u.x.is_multiple_of(UNIT_WIDTH) && u.y.is_multiple_of(TILE_SIZE));
            for y in u.y..u.bottom() {
                for x in u.x..u.right() {
                    hit[(y * w + x) as usize] += 1;
                }
            }
        }
        assert!(hit.iter().all(|&n| n == 1));
        assert_eq!(us.len(), 3 * 3);
    }

    #[test]
    fn halo_grows_with_smoothing_and_mmu() {
        let none = PostProcess { smooth: 0, mmu: 0 };
        assert_eq!(halo_blocks(none, 2), 0);
        let filter = PostProcess { smooth: 5, mmu: 0 };
        assert_eq!(halo_blocks(filter, 2), 2);
        let both = PostProcess { smooth: 3, mmu: 16 };
        assert!(halo_blocks(both, 2) > halo_blocks(both, 4));
    }
}
