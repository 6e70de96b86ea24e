//! Overviews of a class raster (1 band, u8), built while its tiles stream in. Each level halves
//! the one below (sides rounded up, as GDAL's overviews), down to the first level that fits one
//! tile; each of its pixels is the mode of a 2×2 block of the level below, so every overview
//! pixel is a class value of the block it covers. Only the strips of each level that are still
//! being filled are held: with tiles arriving row by row, one strip per level.

use std::collections::BTreeMap;

use super::error::EncodeError;
use super::write::{EncodedTile, TILE_SIZE, TileEncoder, WriterOptions};
use crate::raster::{Samples, Window};

/// Sides of the overview levels of a `width`×`height` raster, largest first: halved (rounded
/// up) until both sides fit one tile; none when the raster fits one tile.
pub(super) fn overview_sizes(width: u32, height: u32) -> Vec<(u32, u32)> {
    let mut sizes = Vec::new();
    let (mut w, mut h) = (width, height);
    while w > TILE_SIZE || h > TILE_SIZE {
        (w, h) = (w.div_ceil(2), h.div_ceil(2));
        sizes.push((w, h));
    }
    sizes
}

/// The mode of `values` (1 to 4 of them), ignoring `nodata`: the most frequent class, the
/// smallest on a tie; `nodata` only when every value is nodata.
fn mode(values: &[u8], nodata: Option<u8>) -> u8 {
    let mut valid = [0u8; 4];
    let mut n = 0;
    for &v in values {
        if Some(v) != nodata {
            valid[n] = v;
            n += 1;
        }
    }
    let valid = &mut valid[..n];
    valid.sort_unstable();
    let (mut best, mut best_count) = (nodata.unwrap_or(0), 0);
    let mut i = 0;
    while i < valid.len() {
        let run = valid[i..].iter().take_while(|&&v| v == valid[i]).count();
        // Ascending order: a later value wins only with strictly more votes.
        if run > best_count {
            (best, best_count) = (valid[i], run);
        }
        i += run;
    }
    best
}

/// Writes the 2×2 modes of the `width`×`height` pixels of `src` (rows `src_stride` apart) into
/// `dst` (rows `dst_stride` apart) from index `dst_start`: ⌈width/2⌉ × ⌈height/2⌉ pixels. An
/// odd last row or column makes blocks of fewer pixels.
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd"),
    target_feature(enable = "simd128")
)]
fn reduce(
    src: &[u8],
    src_stride: usize,
    (width, height): (usize, usize),
    dst: &mut [u8],
    dst_stride: usize,
    dst_start: usize,
    nodata: Option<u8>,
) {
    // Most blocks lie inside one class: their mode is any of their pixels.
    let mode2 = |a: u8, b: u8| if a == b { a } else { mode(&[a, b], nodata) };
    let pairs = width / 2;
    for j in 0..height.div_ceil(2) {
        let top = &src[2 * j * src_stride..][..width];
        let out = &mut dst[dst_start + j * dst_stride..][..width.div_ceil(2)];
        let (whole, odd) = out.split_at_mut(pairs);
        if 2 * j + 1 < height {
            let bottom = &src[(2 * j + 1) * src_stride..][..width];
            let blocks = top.chunks_exact(2).zip(bottom.chunks_exact(2));
            for (o, (t, b)) in whole.iter_mut().zip(blocks) {
                *o = if t[0] == t[1] && t[0] == b[0] && t[0] == b[1] {
                    t[0]
                } else {
                    mode(&[t[0], t[1], b[0], b[1]], nodata)
                };
            }
            if let Some(o) = odd.first_mut() {
                *o = mode2(top[width - 1], bottom[width - 1]);
            }
        } else {
            for (o, t) in whole.iter_mut().zip(top.chunks_exact(2)) {
                *o = mode2(t[0], t[1]);
            }
            if let Some(o) = odd.first_mut() {
                *o = top[width - 1];
            }
        }
    }
}

/// One overview level.
#[derive(Debug)]
struct Level {
    width: u32,
    height: u32,
    encoder: TileEncoder,
    /// Strips (full width, one tile high) still being filled, by tile row.
    strips: BTreeMap<u32, Strip>,
}

/// The pixels of one strip of a level and how many contributions of the level below it still
/// waits for (full-resolution tiles for the first overview, strips for the others).
#[derive(Debug)]
struct Strip {
    pixels: Vec<u8>,
    missing: u32,
}

impl Level {
    fn strip_rows(&self, strip: u32) -> u32 {
        TILE_SIZE.min(self.height - strip * TILE_SIZE)
    }

    /// The strip `strip`, allocated on its first contribution; `per_row` is the number of
    /// contributions of each strip of the level below, which has `rows_below` strips.
    fn strip(&mut self, strip: u32, per_row: u32, rows_below: u32) -> &mut Strip {
        let rows = self.strip_rows(strip);
        let len = self.width as usize * rows as usize;
        self.strips.entry(strip).or_insert_with(|| Strip {
            pixels: vec![0; len],
            missing: per_row * (rows_below - 2 * strip).min(2),
        })
    }
}

/// The overview levels of a raster being written, fed its full-resolution tiles.
#[derive(Debug)]
pub(super) struct Pyramid {
    width: u32,
    height: u32,
    nodata: Option<u8>,
    levels: Vec<Level>,
}

impl Pyramid {
    /// The overviews of a 1-band u8 raster written with `options`; its nodata value, when it is
    /// a byte value, never outvotes a class.
    pub fn new(options: &WriterOptions) -> Self {
        let nodata = options
            .nodata
            .filter(|v| v.fract() == 0.0 && (0.0..=255.0).contains(v))
            .map(|v| v as u8);
        let levels = overview_sizes(options.width, options.height)
            .into_iter()
            .map(|(width, height)| Level {
                width,
                height,
                encoder: TileEncoder::for_overview(options, width, height),
                strips: BTreeMap::new(),
            })
            .collect();
        Self {
            width: options.width,
            height: options.height,
            nodata,
            levels,
        }
    }

    /// Sides of the overview levels, largest first.
    pub fn sizes(&self) -> Vec<(u32, u32)> {
        self.levels.iter().map(|l| (l.width, l.height)).collect()
    }

    /// Whether a strip of some level still waits for tiles.
    pub fn is_pending(&self) -> bool {
        self.levels.iter().any(|l| !l.strips.is_empty())
    }

    /// Takes the full-resolution tile at `column`, `row` (`pixels`: 256×256, padded) and hands
    /// every overview tile it completes to `emit`, with its level (1 the largest overview).
    pub fn add_tile(
        &mut self,
        column: u32,
        row: u32,
        pixels: &[u8],
        emit: &mut impl FnMut(usize, EncodedTile) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        let (across, rows) = (
            self.width.div_ceil(TILE_SIZE),
            self.height.div_ceil(TILE_SIZE),
        );
        let nodata = self.nodata;
        let Some(first) = self.levels.first_mut() else {
            return Ok(());
        };
        let size = (
            TILE_SIZE.min(self.width - column * TILE_SIZE) as usize,
            TILE_SIZE.min(self.height - row * TILE_SIZE) as usize,
        );
        let (width, half) = (first.width as usize, TILE_SIZE as usize / 2);
        let strip = first.strip(row / 2, across, rows);
        let start = (row as usize % 2) * half * width + column as usize * half;
        let px = TILE_SIZE as usize;
        reduce(pixels, px, size, &mut strip.pixels, width, start, nodata);
        strip.missing -= 1;
        if strip.missing == 0 {
            self.complete(0, row / 2, emit)?;
        }
        Ok(())
    }

    /// Encodes the complete strip `strip` of level index `level`, hands its tiles to `emit`,
    /// reduces it into the next level, and completes that level's strip when it is full.
    fn complete(
        &mut self,
        mut level: usize,
        mut strip: u32,
        emit: &mut impl FnMut(usize, EncodedTile) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        loop {
            let this = &mut self.levels[level];
            let Some(done) = this.strips.remove(&strip) else {
                return Ok(());
            };
            let (width, rows) = (this.width, this.strip_rows(strip));
            let window = Window::new(0, strip * TILE_SIZE, width, rows);
            let samples = Samples::U8(done.pixels);
            for tile in this.encoder.encode(window, &samples)? {
                emit(level + 1, tile)?;
            }
            let Samples::U8(pixels) = samples else {
                return Ok(());
            };
            let strips_here = this.height.div_ceil(TILE_SIZE);
            let Some(next) = self.levels.get_mut(level + 1) else {
                return Ok(());
            };
            let next_width = next.width as usize;
            let target = next.strip(strip / 2, 1, strips_here);
            let start = (strip as usize % 2) * (TILE_SIZE as usize / 2) * next_width;
            let size = (width as usize, rows as usize);
            let (src_stride, nodata) = (width as usize, self.nodata);
            reduce(
                &pixels,
                src_stride,
                size,
                &mut target.pixels,
                next_width,
                start,
                nodata,
            );
            target.missing -= 1;
            if target.missing > 0 {
                return Ok(());
            }
            (level, strip) = (level + 1, strip / 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_halve_until_one_tile() {
        assert_eq!(overview_sizes(256, 256), vec![]);
        assert_eq!(overview_sizes(257, 100), vec![(129, 50)]);
        assert_eq!(
            overview_sizes(2000, 1500),
            vec![(1000, 750), (500, 375), (250, 188)]
        );
    }

    #[test]
    fn mode_prefers_the_smallest_class_and_ignores_nodata() {
        let nd = Some(255);
        assert_eq!(mode(&[3, 1, 3, 1], nd), 1);
        assert_eq!(mode(&[4, 2, 4, 7], nd), 4);
        assert_eq!(mode(&[255, 255, 255, 6], nd), 6);
        assert_eq!(mode(&[255, 255, 9, 8], nd), 8);
        assert_eq!(mode(&[255; 4], nd), 255);
        assert_eq!(mode(&[255, 255, 1, 0], None), 255);
        assert_eq!(mode(&[5, 2], nd), 2);
    }

    #[test]
    fn odd_sides_make_smaller_blocks() {
        // 3×3 → 2×2: the last column and row have blocks of two pixels, the corner one.
        let src = [1, 1, 2, 1, 3, 4, 5, 6, 9];
        let mut dst = [0u8; 4];
        reduce(&src, 3, (3, 3), &mut dst, 2, 0, Some(255));
        assert_eq!(dst, [1, 2, 5, 9]);
    }
}
