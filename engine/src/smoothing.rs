//! Label clean-up: a majority (mode) filter and a minimum mapping unit (sieve).
//!
//! Both work on a rectangular label grid and treat its border as the edge of the data. Callers
//! that process a raster tile by tile give each tile a halo of [`majority_halo`] +
//! [`sieve_halo`] cells; the results inside the halo then equal the whole-raster results
//! exactly, because every output cell depends only on cells within that distance.
//!
//! The sieve is defined locally so that it has this property: a 4-connected region smaller than
//! the threshold takes the class that most of its outside neighbours (counted per shared edge)
//! have, ties going to the lower class. Decisions are made on the input labels, in one pass.

use crate::labels::NODATA;

/// Cells a majority filter of `size` needs around a tile.
pub fn majority_halo(size: usize) -> usize {
    size / 2
}

/// Cells a sieve with threshold `min_cells` needs around a tile: a region smaller than the
/// threshold reaches at most `min_cells - 1` cells away, and its ring one more.
pub fn sieve_halo(min_cells: usize) -> usize {
    min_cells
}

/// Replaces each valid cell by the most frequent valid label in the `size`×`size` window around
/// it (clipped to the grid). Ties keep the cell's own label when it is among the most frequent,
/// else the lowest one. Nodata cells stay nodata. `size` < 2 returns the input unchanged.
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd"),
    target_feature(enable = "simd128")
)]
pub fn majority_filter(labels: &[u8], width: usize, height: usize, size: usize) -> Vec<u8> {
    let radius = majority_halo(size);
    if radius == 0 {
        return labels.to_vec();
    }
    let mut out = labels.to_vec();
    let mut counts = [0u16; 256];
    let mut seen: Vec<u8> = Vec::with_capacity(size * size);
    for y in 0..height {
        let (y0, y1) = (y.saturating_sub(radius), (y + radius + 1).min(height));
        for x in 0..width {
            let own = labels[y * width + x];
            if own == NODATA {
                continue;
            }
            let (x0, x1) = (x.saturating_sub(radius), (x + radius + 1).min(width));
            seen.clear();
            for row in labels[y0 * width..y1 * width].chunks_exact(width) {
                for &l in &row[x0..x1] {
                    if l != NODATA {
                        if counts[usize::from(l)] == 0 {
                            seen.push(l);
                        }
                        counts[usize::from(l)] += 1;
                    }
                }
            }
            let mut best = (counts[usize::from(own)], own);
            for &l in &seen {
                let c = counts[usize::from(l)];
                if c > best.0 || (c == best.0 && l < best.1 && best.1 != own) {
                    best = (c, l);
                }
                counts[usize::from(l)] = 0;
            }
            out[y * width + x] = best.1;
        }
    }
    out
}

/// Merges every 4-connected region of fewer than `min_cells` cells into the class most of its
/// outside neighbours have. Regions that touch the grid border are left alone (they may continue
/// beyond it); callers give tiles a [`sieve_halo`] so that this never matters inside the tile.
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd"),
    target_feature(enable = "simd128")
)]
pub fn sieve(labels: &[u8], width: usize, height: usize, min_cells: usize) -> Vec<u8> {
    let mut out = labels.to_vec();
    if min_cells < 2 {
        return out;
    }
    let mut visited = vec![false; labels.len()];
    let mut region: Vec<usize> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    let mut counts = [0u32; 256];
    for start in 0..labels.len() {
        let class = labels[start];
        if visited[start] || class == NODATA {
            continue;
        }
        region.clear();
        stack.push(start);
        visited[start] = true;
        let mut touches_border = false;
        while let Some(i) = stack.pop() {
            region.push(i);
            let (x, y) = (i % width, i / width);
            touches_border |= x == 0 || y == 0 || x + 1 == width || y + 1 == height;
            for n in neighbours(x, y, width, height) {
                if !visited[n] && labels[n] == class {
                    visited[n] = true;
                    stack.push(n);
                }
            }
        }
        if touches_border || region.len() >= min_cells {
            continue;
        }
        let mut seen: Vec<u8> = Vec::new();
        for &i in &region {
            for n in neighbours(i % width, i / width, width, height) {
                let l = labels[n];
                if l != class && l != NODATA {
                    if counts[usize::from(l)] == 0 {
                        seen.push(l);
                    }
                    counts[usize::from(l)] += 1;
                }
            }
        }
        let winner = seen
            .iter()
            .map(|&l| (counts[usize::from(l)], std::cmp::Reverse(l)))
            .max();
        for &l in &seen {
            counts[usize::from(l)] = 0;
        }
        if let Some((_, std::cmp::Reverse(to))) = winner {
            for &i in &region {
                out[i] = to;
            }
        }
    }
    out
}

fn neighbours(x: usize, y: usize, width: usize, height: usize) -> impl Iterator<Item = usize> {
    let i = y * width + x;
    [
        (x > 0).then(|| i - 1),
        (x + 1 < width).then(|| i + 1),
        (y > 0).then(|| i - width),
        (y + 1 < height).then(|| i + width),
    ]
    .into_iter()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_removes_an_isolated_cell_and_keeps_nodata() {
        #[rustfmt::skip]
        let grid = [
            1, 1, 1, 1,
            1, 2, 1, 1,
            1, 1, NODATA, 1,
            1, 1, 1, 1,
        ];
        let out = majority_filter(&grid, 4, 4, 3);
        assert_eq!(out[5], 1);
        assert_eq!(out[10], NODATA);
        assert!(out.iter().enumerate().all(|(i, &l)| i == 10 || l == 1));
    }

    #[test]
    fn majority_tie_keeps_own_label() {
        // Window of the top-left cell (clipped): [2, 1, 1, 2] -> tie between 1 and 2, own is 2.
        let grid = [2, 1, 1, 2];
        assert_eq!(majority_filter(&grid, 2, 2, 3), vec![2, 1, 1, 2]);
    }

    /// The filter as its documentation states it: every class of the window counted.
    fn majority_by_counting(labels: &[u8], width: usize, height: usize, size: usize) -> Vec<u8> {
        let radius = majority_halo(size);
        let mut out = labels.to_vec();
        for y in 0..height {
            for x in 0..width {
                let own = labels[y * width + x];
                if own == NODATA || radius == 0 {
                    continue;
                }
                let mut counts = [0usize; 256];
                for wy in y.saturating_sub(radius)..(y + radius + 1).min(height) {
                    for wx in x.saturating_sub(radius)..(x + radius + 1).min(width) {
                        let l = labels[wy * width + wx];
                        if l != NODATA {
                            counts[usize::from(l)] += 1;
                        }
                    }
                }
                let most = counts.iter().copied().max().unwrap_or(0);
                out[y * width + x] = if counts[usize::from(own)] == most {
                    own
                } else {
                    (0..=255u8)
                        .find(|&l| counts[usize::from(l)] == most)
                        .unwrap()
                };
            }
        }
        out
    }

    #[test]
    fn majority_equals_counting_every_class() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..60 {
            let (width, height) = (rng.random_range(1..40), rng.random_range(1..40));
            let classes = rng.random_range(1..6u8);
            // Patches of one class with scattered other classes and nodata, as block labels
            // look before smoothing.
            let patch = rng.random_range(1..8);
            let base: Vec<u8> = (0..(width / patch + 1) * (height / patch + 1))
                .map(|_| rng.random_range(0..classes))
                .collect();
            let grid: Vec<u8> = (0..width * height)
                .map(|i| {
                    let (x, y) = (i % width, i / width);
                    match rng.random_range(0..10) {
                        0 => NODATA,
                        1 | 2 => rng.random_range(0..classes),
                        _ => base[(y / patch) * (width / patch + 1) + x / patch],
                    }
                })
                .collect();
            for size in [3, 5, 7, 15] {
                assert_eq!(
                    majority_filter(&grid, width, height, size),
                    majority_by_counting(&grid, width, height, size),
                    "case {case}: {width} x {height}, kernel {size}"
                );
            }
        }
    }

    #[test]
    fn sieve_merges_small_interior_regions_only() {
        #[rustfmt::skip]
        let grid = [
            0, 0, 0, 0, 0, 3,
            0, 1, 1, 0, 0, 3,
            0, 1, 0, 0, 2, 0,
            0, 0, 0, 2, 2, 0,
            0, 0, 0, 0, 0, 0,
        ];
        let out = sieve(&grid, 6, 5, 4);
        // The 3-cell region of 1s merges into 0; the 3-cell region of 2s merges too.
        assert_eq!(out.iter().filter(|&&l| l == 1 || l == 2).count(), 0);
        // The region of 3s touches the border: it may continue beyond, so it stays.
        assert_eq!(out[5], 3);
        assert_eq!(out[11], 3);
    }

    #[test]
    fn sieve_picks_the_neighbour_with_most_shared_edges() {
        #[rustfmt::skip]
        let grid = [
            0, 0, 0, 0,
            0, 5, 4, 4,
            4, 4, 4, 4,
            4, 4, 4, 4,
        ];
        // The single 5 has edges to 0 (up, left) and 4 (right, down): tie -> lower class 0.
        let out = sieve(&grid, 4, 4, 2);
        assert_eq!(out[5], 0);
    }
}
