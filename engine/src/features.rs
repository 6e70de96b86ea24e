//! From decoded pixels to feature vectors: band selection, per-band normalisation (see
//! [`crate::normalise`]), the optional 3×3 pre-smoothing, and exact r×r block means.
//!
//! Features live on a *block grid*: block `(bx, by)` covers pixels `bx*r .. min((bx+1)*r, width)`
//! and likewise for rows, so edge blocks are smaller and averaged over the pixels they really
//! have. A block is valid when at least one of its pixels is valid.

pub use crate::normalise::Normaliser;
use crate::raster::{PixelBlock, SampleType, Samples, Window};

/// Valid block resolutions (block edge in pixels).
pub const RESOLUTIONS: [u32; 5] = [1, 2, 4, 8, 16];

/// Which pixels carry data.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Validity {
    /// Bands that carry data (alpha excluded); a pixel is nodata when all of them equal `nodata`.
    pub data_bands: Vec<usize>,
    pub nodata: Option<f64>,
    /// A pixel whose alpha is 0 is nodata.
    pub alpha_band: Option<usize>,
}

impl Validity {
    /// The validity rule of the raster `info` describes: its data bands, nodata and alpha.
    pub fn of(info: &crate::geotiff::RasterInfo) -> Self {
        Self {
            data_bands: info.data_bands(),
            nodata: info.nodata,
            alpha_band: info.alpha_band,
        }
    }

    /// Whether pixel `p` (index into the block's pixels) carries data; NaN, ±infinity or a
    /// magnitude beyond the f32 range (features are f32) in any data band makes it nodata too.
    #[inline]
    fn is_valid(&self, block: &PixelBlock, p: usize) -> bool {
        let base = p * block.bands;
        if let Some(a) = self.alpha_band
            && block.samples.get_f64(base + a) == 0.0
        {
            return false;
        }
        let mut all_nodata = self.nodata.is_some();
        for &b in &self.data_bands {
            let v = block.samples.get_f64(base + b);
            if v.is_nan() || v.abs() > F32_MAX {
                return false;
            }
            all_nodata &= Some(v) == self.nodata;
        }
        !all_nodata
    }

    /// The validity of every pixel of `block`.
    pub fn mask(&self, block: &PixelBlock) -> Vec<bool> {
        let fast = self.alpha_band.is_none()
            && self.nodata.is_none()
            && !is_float(block.samples.sample_type());
        if fast {
            return vec![true; block.window.len()];
        }
        (0..block.window.len())
            .map(|p| self.is_valid(block, p))
            .collect()
    }
}

/// The largest magnitude a data sample may have: features are computed in f32.
const F32_MAX: f64 = f32::MAX as f64;

fn is_float(t: SampleType) -> bool {
    matches!(t, SampleType::F32 | SampleType::F64)
}

/// Everything that turns pixels into features, fixed once per run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureSpec {
    /// Raster size in pixels.
    pub width: u32,
    pub height: u32,
    /// File bands (0-based) that become feature dimensions, in order.
    pub bands: Vec<usize>,
    pub resolution: u32,
    pub presmooth: bool,
    pub normaliser: Normaliser,
    pub validity: Validity,
}

/// Feature vectors of a rectangle of blocks.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Features {
    /// The blocks covered, in block coordinates.
    pub blocks: Window,
    pub dims: usize,
    /// `blocks.len() * dims` values, block after block, row-major.
    pub values: Vec<f32>,
    pub valid: Vec<bool>,
}

impl Features {
    /// The features of the blocks of `blocks` (in block coordinates) that lie inside `self`.
    pub fn crop(&self, blocks: Window) -> Option<Features> {
        let part = blocks.intersect(&self.blocks)?;
        let (w, d) = (self.blocks.width as usize, self.dims);
        let mut values = Vec::with_capacity(part.len() * d);
        let mut valid = Vec::with_capacity(part.len());
        for y in part.y..part.bottom() {
            let start = (y - self.blocks.y) as usize * w + (part.x - self.blocks.x) as usize;
            let end = start + part.width as usize;
            values.extend_from_slice(&self.values[start * d..end * d]);
            valid.extend_from_slice(&self.valid[start..end]);
        }
        Some(Features {
            blocks: part,
            dims: d,
            values,
            valid,
        })
    }
}

impl FeatureSpec {
    /// The same spec for another raster of the same bands described by `info`: its size and
    /// its own nodata.
    pub fn for_raster(&self, info: &crate::geotiff::RasterInfo) -> Self {
        Self {
            width: info.width,
            height: info.height,
            validity: Validity::of(info),
            ..self.clone()
        }
    }

    pub fn dims(&self) -> usize {
        self.bands.len()
    }

    /// Size of the block grid.
    pub fn grid_size(&self) -> (u32, u32) {
        (
            self.width.div_ceil(self.resolution),
            self.height.div_ceil(self.resolution),
        )
    }

    /// Pixels covered by a window of blocks, clipped to the raster.
    pub fn block_pixels(&self, blocks: Window) -> Window {
        let r = self.resolution;
        let x0 = blocks.x * r;
        let y0 = blocks.y * r;
        let x1 = (blocks.right() * r).min(self.width);
        let y1 = (blocks.bottom() * r).min(self.height);
        Window::new(x0, y0, x1.saturating_sub(x0), y1.saturating_sub(y0))
    }

    /// Pixels to decode for the features of `blocks`: their pixels plus the pre-smoothing halo.
    pub fn read_window(&self, blocks: Window) -> Window {
        let px = self.block_pixels(blocks);
        px.grow_clipped(u32::from(self.presmooth), self.width, self.height)
    }

    /// Computes the features of `blocks` from `pixels`, which must cover [`Self::read_window`],
    /// and returns them with the validity of every pixel of `pixels`.
    pub fn features(&self, pixels: &PixelBlock, blocks: Window) -> (Features, Vec<bool>) {
        let dims = self.dims();
        let valid_px = self.validity.mask(pixels);
        let mut norm = self.normalised(pixels, &valid_px);
        if self.presmooth {
            norm = box3(
                &norm,
                &valid_px,
                pixels.window.width as usize,
                pixels.window.height as usize,
                dims,
            );
        }
        let target = self.block_pixels(blocks);
        if self.resolution == 1 && target == pixels.window {
            // Blocks are the decoded pixels themselves: nothing to average or copy.
            let valid = valid_px.clone();
            return (
                Features {
                    blocks,
                    dims,
                    values: norm,
                    valid,
                },
                valid_px,
            );
        }
        let features = block_means(
            &norm,
            &valid_px,
            pixels.window,
            target,
            self.resolution,
            blocks,
            dims,
        );
        (features, valid_px)
    }

    /// Normalised values of the selected bands for every pixel (0 for nodata pixels).
    #[cfg_attr(
        all(target_arch = "wasm32", feature = "simd"),
        target_feature(enable = "simd128")
    )]
    fn normalised(&self, pixels: &PixelBlock, valid: &[bool]) -> Vec<f32> {
        let dims = self.dims();
        let n = pixels.window.len();
        let mut out = vec![0f32; n * dims];
        let bands = pixels.bands;
        match &pixels.samples {
            Samples::U8(v) => {
                // The hot path for 8-bit imagery: one lookup per sample, equal to `apply`.
                let luts: Vec<[f32; 256]> = (0..dims)
                    .map(|d| std::array::from_fn(|i| self.normaliser.apply(d, i as f64)))
                    .collect();
                for (p, o) in out.chunks_exact_mut(dims).enumerate() {
                    if valid[p] {
                        for (d, &b) in self.bands.iter().enumerate() {
                            o[d] = luts[d][usize::from(v[p * bands + b])];
                        }
                    }
                }
            }
            samples => {
                for (p, o) in out.chunks_exact_mut(dims).enumerate() {
                    if valid[p] {
                        for (d, &b) in self.bands.iter().enumerate() {
                            o[d] = self.normaliser.apply(d, samples.get_f64(p * bands + b));
                        }
                    }
                }
            }
        }
        out
    }
}

/// 3×3 mean over the valid neighbours of each valid pixel, clipped to the buffer.
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd"),
    target_feature(enable = "simd128")
)]
fn box3(values: &[f32], valid: &[bool], width: usize, height: usize, dims: usize) -> Vec<f32> {
    let mut out = vec![0f32; values.len()];
    let mut acc = vec![0f32; dims];
    for y in 0..height {
        for x in 0..width {
            let p = y * width + x;
            if !valid[p] {
                continue;
            }
            acc.iter_mut().for_each(|a| *a = 0.0);
            let mut n = 0u32;
            for ny in y.saturating_sub(1)..(y + 2).min(height) {
                for nx in x.saturating_sub(1)..(x + 2).min(width) {
                    let q = ny * width + nx;
                    if valid[q] {
                        n += 1;
                        for (a, &v) in acc.iter_mut().zip(&values[q * dims..(q + 1) * dims]) {
                            *a += v;
                        }
                    }
                }
            }
            let inv = 1.0 / n as f32;
            for (o, a) in out[p * dims..(p + 1) * dims].iter_mut().zip(&acc) {
                *o = a * inv;
            }
        }
    }
    out
}

/// Means of the valid pixels of each block. `source` is the decoded window, `target` the
/// pixels of `blocks` (inside `source`).
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd"),
    target_feature(enable = "simd128")
)]
fn block_means(
    values: &[f32],
    valid: &[bool],
    source: Window,
    target: Window,
    r: u32,
    blocks: Window,
    dims: usize,
) -> Features {
    let sw = source.width as usize;
    let (ox, oy) = (
        (target.x - source.x) as usize,
        (target.y - source.y) as usize,
    );
    let nblocks = blocks.len();
    let mut out = vec![0f32; nblocks * dims];
    let mut ok = vec![false; nblocks];
    if r == 1 {
        for by in 0..blocks.height as usize {
            for bx in 0..blocks.width as usize {
                let p = (oy + by) * sw + ox + bx;
                let b = by * blocks.width as usize + bx;
                if valid[p] {
                    ok[b] = true;
                    out[b * dims..(b + 1) * dims]
                        .copy_from_slice(&values[p * dims..(p + 1) * dims]);
                }
            }
        }
        return Features {
            blocks,
            dims,
            values: out,
            valid: ok,
        };
    }
    let r = r as usize;
    let mut acc = vec![0f32; dims];
    for by in 0..blocks.height as usize {
        let y0 = by * r;
        let y1 = ((by + 1) * r).min(target.height as usize);
        for bx in 0..blocks.width as usize {
            let x0 = bx * r;
            let x1 = ((bx + 1) * r).min(target.width as usize);
            acc.iter_mut().for_each(|a| *a = 0.0);
            let mut n = 0u32;
            for y in y0..y1 {
                for x in x0..x1 {
                    let p = (oy + y) * sw + ox + x;
                    if valid[p] {
                        n += 1;
                        for (a, &v) in acc.iter_mut().zip(&values[p * dims..(p + 1) * dims]) {
                            *a += v;
                        }
                    }
                }
            }
            let b = by * blocks.width as usize + bx;
            if n > 0 {
                ok[b] = true;
                let inv = 1.0 / n as f32;
                for (o, a) in out[b * dims..(b + 1) * dims].iter_mut().zip(&acc) {
                    *o = a * inv;
                }
            }
        }
    }
    Features {
        blocks,
        dims,
        values: out,
        valid: ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(width: u32, height: u32, r: u32, presmooth: bool) -> FeatureSpec {
        FeatureSpec {
            width,
            height,
            bands: vec![0],
            resolution: r,
            presmooth,
            normaliser: Normaliser::unit_u8(1),
            validity: Validity {
                data_bands: vec![0],
                nodata: Some(0.0),
                alpha_band: None,
            },
        }
    }

    fn block(window: Window, values: Vec<u8>) -> PixelBlock {
        PixelBlock {
            window,
            bands: 1,
            samples: Samples::U8(values),
        }
    }

    #[test]
    fn edge_blocks_average_only_their_own_pixels() {
        // 5×1 raster, r = 2: blocks [a b] [c d] [e] — the last block has one pixel.
        let s = spec(5, 1, 2, false);
        let px = block(Window::new(0, 0, 5, 1), vec![255, 255, 51, 153, 102]);
        let (f, _) = s.features(&px, Window::new(0, 0, 3, 1));
        let expect = [1.0, 0.4, 0.4];
        assert_eq!(f.values.len(), expect.len(), "{:?}", f.values);
        for (v, e) in f.values.iter().zip(expect) {
            assert!((v - e).abs() < 1e-6, "{:?}", f.values);
        }
    }

    #[test]
    fn infinite_samples_are_nodata() {
        let validity = Validity {
            data_bands: vec![0],
            nodata: None,
            alpha_band: None,
        };
        let px = PixelBlock {
            window: Window::new(0, 0, 4, 1),
            bands: 1,
            samples: Samples::F32(vec![1.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN]),
        };
        assert_eq!(validity.mask(&px), vec![true, false, false, false]);
        let beyond_f32 = PixelBlock {
            window: Window::new(0, 0, 3, 1),
            bands: 1,
            samples: Samples::F64(vec![3e38, 1e39, -1e300]),
        };
        assert_eq!(validity.mask(&beyond_f32), vec![true, false, false]);
    }

    #[test]
    fn nodata_pixels_are_left_out_of_means_and_blocks() {
        let s = spec(4, 1, 2, false);
        let px = block(Window::new(0, 0, 4, 1), vec![0, 255, 0, 0]);
        let (f, _) = s.features(&px, Window::new(0, 0, 2, 1));
        assert_eq!(f.valid, vec![true, false]);
        assert!((f.values[0] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn presmoothing_in_a_window_equals_presmoothing_the_whole_raster() {
        let (w, h) = (9u32, 7u32);
        let data: Vec<u8> = (0..w * h).map(|i| ((i * 37) % 251) as u8 + 1).collect();
        let s = spec(w, h, 2, true);
        let (whole, _) = s.features(
            &block(Window::new(0, 0, w, h), data.clone()),
            Window::new(0, 0, 5, 4),
        );
        let blocks = Window::new(1, 1, 3, 2);
        let rw = s.read_window(blocks);
        let mut part = Vec::new();
        for y in rw.y..rw.bottom() {
            for x in rw.x..rw.right() {
                part.push(data[(y * w + x) as usize]);
            }
        }
        let (f, _) = s.features(&block(rw, part), blocks);
        for by in 0..2 {
            for bx in 0..3 {
                let a = f.values[by * 3 + bx];
                let b = whole.values[(by + 1) * 5 + bx + 1];
                assert_eq!(a, b);
            }
        }
    }
}
