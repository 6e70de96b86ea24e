//! The stratified sample the centres are fitted on: the block grid is cut into a grid of strata
//! and a seeded random window inside each stratum contributes a seeded random subset of its valid
//! blocks, so the sample spans the whole raster while decoding only a fraction of it.

use rand::seq::index::sample as choose_indices;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::raster::Window;

/// Strata per side (at most; fewer on small rasters).
const STRATA_PER_SIDE: u32 = 8;

/// One window of the sample: the blocks to decode and how many valid ones to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SampleWindow {
    pub blocks: Window,
    pub quota: usize,
}

/// Plans about `budget` sample blocks over a `grid_w` × `grid_h` block grid.
pub fn plan(grid_w: u32, grid_h: u32, budget: usize, seed: u64) -> Vec<SampleWindow> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sx = STRATA_PER_SIDE.min(grid_w).max(1);
    let sy = STRATA_PER_SIDE.min(grid_h).max(1);
    let strata = (sx * sy) as usize;
    let quota = budget.div_ceil(strata).max(1);
    // A square window holding about twice the quota, so the kept blocks are a random subset.
    let side = ((2 * quota) as f64).sqrt().ceil() as u32;
    let mut windows = Vec::with_capacity(strata);
    // Stratum bounds in u64: `grid * (i + 1)` overflows u32 on rasters over 536 M px wide.
    let bound = |grid: u32, i: u32, n: u32| (u64::from(grid) * u64::from(i) / u64::from(n)) as u32;
    for j in 0..sy {
        let (y0, y1) = (bound(grid_h, j, sy), bound(grid_h, j + 1, sy));
        for i in 0..sx {
            let (x0, x1) = (bound(grid_w, i, sx), bound(grid_w, i + 1, sx));
            let w = side.clamp(1, x1 - x0);
            let h = side.clamp(1, y1 - y0);
            let x = rng.random_range(x0..=x1 - w);
            let y = rng.random_range(y0..=y1 - h);
            windows.push(SampleWindow {
                blocks: Window::new(x, y, w, h),
                quota,
            });
        }
    }
    windows
}

/// Picks up to `quota` of the `valid` positions at random (all of them when there are fewer).
pub fn pick(valid: &[bool], quota: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let candidates: Vec<usize> = valid
        .iter()
        .enumerate()
        .filter_map(|(i, &v)| v.then_some(i))
        .collect();
    if candidates.len() <= quota {
        return candidates;
    }
    let mut picked: Vec<usize> = choose_indices(rng, candidates.len(), quota)
        .into_iter()
        .map(|i| candidates[i])
        .collect();
    picked.sort_unstable();
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strata_of_very_wide_and_tall_grids_stay_inside_the_grid() {
        for (w, h) in [(1_100_000_000, 1), (1, 1_100_000_000), (u32::MAX, u32::MAX)] {
            for win in plan(w, h, 50_000, 0) {
                let b = win.blocks;
                assert!(u64::from(b.x) + u64::from(b.width) <= u64::from(w), "{b:?}");
                assert!(
                    u64::from(b.y) + u64::from(b.height) <= u64::from(h),
                    "{b:?}"
                );
            }
        }
    }

    #[test]
    fn windows_cover_every_stratum_inside_the_grid() {
        let windows = plan(1000, 700, 50_000, 1);
        assert_eq!(windows.len(), 64);
        for w in &windows {
            assert!(w.blocks.right() <= 1000 && w.blocks.bottom() <= 700);
            assert!(w.blocks.len() >= w.quota.min(w.blocks.len()));
        }
        assert_eq!(plan(1000, 700, 50_000, 1), windows);
        assert_ne!(plan(1000, 700, 50_000, 2), windows);
    }

    #[test]
    fn tiny_grids_get_one_window_per_block_row_and_column() {
        let windows = plan(3, 2, 100, 0);
        assert_eq!(windows.len(), 6);
        assert!(windows.iter().all(|w| w.blocks.len() == 1));
    }
}
