//! The network's input: a raster's role bands, normalised once per scene from the stratified
//! sample (so every window uses the same scale: no seams), put in the canonical slots.

use std::io::{Read, Seek};

use std::ops::Range;

use burn::tensor::{Device, Tensor, TensorData};

use super::bands::{BandRoles, SLOTS};
use super::net::STRIDE;
use crate::features::FeatureSpec;
use crate::geotiff::GeoTiffReader;
use crate::kmeans::model::{KMeansParams, sampler};
use crate::normalise::Normalisation;
use crate::pipeline::SegmentError;
use crate::progress::Progress;
use crate::raster::Window;

/// How a raster becomes the network's input.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputSpec {
    pub roles: BandRoles,
    /// Every data band at resolution 1, with the scene's normaliser.
    pub pixels: FeatureSpec,
    /// For each canonical slot, the index into `pixels.bands` that fills it.
    pub slots: [Option<usize>; SLOTS],
}

/// A window of pixels that may reach past the raster (its origin may be negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub x: i64,
    pub y: i64,
    pub width: u32,
    pub height: u32,
}

impl Span {
    /// `window` grown by `margin` on each side and then outwards to multiples of the stem's
    /// stride, so that the patch grid stays in phase with the raster's.
    pub fn around(window: Window, margin: u32) -> Self {
        let s = i64::from(STRIDE);
        let x0 = (i64::from(window.x) - i64::from(margin)).div_euclid(s) * s;
        let y0 = (i64::from(window.y) - i64::from(margin)).div_euclid(s) * s;
        let x1 = i64::from(window.right()) + i64::from(margin);
        let y1 = i64::from(window.bottom()) + i64::from(margin);
        let x1 = x0 + (x1 - x0 + s - 1) / s * s;
        let y1 = y0 + (y1 - y0 + s - 1) / s * s;
        Self {
            x: x0,
            y: y0,
            width: (x1 - x0) as u32,
            height: (y1 - y0) as u32,
        }
    }

    /// The part of the span inside a `width` × `height` raster (empty when none is).
    pub fn clip(&self, width: u32, height: u32) -> Window {
        let x0 = self.x.clamp(0, i64::from(width));
        let y0 = self.y.clamp(0, i64::from(height));
        let x1 = (self.x + i64::from(self.width)).clamp(0, i64::from(width));
        let y1 = (self.y + i64::from(self.height)).clamp(0, i64::from(height));
        Window::new(x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32)
    }

    pub fn len(&self) -> usize {
        self.width as usize * self.height as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The input of one span: slot values (planar, `[slot][row][col]`, 0 where a slot is empty, a
/// pixel has no data or lies outside the raster), the normalised values of every data band
/// (planar, `[band][row][col]`) and each pixel's validity.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanInput {
    pub span: Span,
    pub values: Vec<f32>,
    pub spectra: Vec<f32>,
    pub bands: usize,
    pub valid: Vec<bool>,
    pub mask: [f32; SLOTS],
}

impl SpanInput {
    /// The input as tensors on `device`: `x` `[1, 6, height, width]` and `mask` `[1, 6]`.
    pub fn tensors(&self, device: &Device) -> (Tensor<4>, Tensor<2>) {
        self.tensors_rows(device, 0..self.span.height as usize)
    }

    /// Rows `rows` of the span as tensors on `device`: `x` `[1, 6, rows, width]` and `mask`
    /// `[1, 6]`.
    pub fn tensors_rows(&self, device: &Device, rows: Range<usize>) -> (Tensor<4>, Tensor<2>) {
        let (w, h) = (self.span.width as usize, self.span.height as usize);
        let x = if rows == (0..h) {
            self.values.clone()
        } else {
            let plane = w * h;
            let mut x = Vec::with_capacity(SLOTS * rows.len() * w);
            for slot in 0..SLOTS {
                let start = slot * plane;
                x.extend_from_slice(&self.values[start + rows.start * w..start + rows.end * w]);
            }
            x
        };
        let x = Tensor::from_data(TensorData::new(x, [1, SLOTS, rows.len(), w]), device);
        let mask = Tensor::from_data(TensorData::new(self.mask.to_vec(), [1, SLOTS]), device);
        (x, mask)
    }
}

/// Samples the normalisation fits on (at most), in pixels.
const NORMALISER_SAMPLE: usize = 50_000;

impl InputSpec {
    /// Fits the scene's normalisation of `bands` (file bands, 0-based) on a seeded stratified
    /// sample of `reader`'s raster; `roles` says which of them fill the network's slots.
    pub fn fit<R: Read + Seek>(
        reader: &mut GeoTiffReader<R>,
        bands: Vec<usize>,
        roles: BandRoles,
        normalisation: Normalisation,
        seed: u64,
        progress: &impl Progress,
    ) -> Result<Self, SegmentError> {
        let data_bands = bands;
        let file_bands = roles.file_bands();
        let sources = roles.slot_sources();
        let mut slots = [None; SLOTS];
        for (slot, source) in slots.iter_mut().zip(sources) {
            *slot = source.and_then(|i| {
                let band = file_bands[i];
                data_bands.iter().position(|&b| b == band)
            });
        }
        let params = KMeansParams {
            resolution: 1,
            bands: Some(data_bands),
            normalise: normalisation,
            sample_size: NORMALISER_SAMPLE,
            ..KMeansParams::default()
        };
        let sampler = sampler(reader, &params, seed, progress)?;
        Ok(Self {
            roles,
            pixels: sampler.spec().clone(),
            slots,
        })
    }

    /// Raster size in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.pixels.width, self.pixels.height)
    }

    /// Decodes the part of `span` inside the raster and builds its input.
    pub fn read<R: Read + Seek>(
        &self,
        reader: &mut GeoTiffReader<R>,
        span: Span,
    ) -> Result<SpanInput, SegmentError> {
        let (w, h) = self.size();
        let inside = span.clip(w, h);
        let n = span.len();
        let bands = self.pixels.dims();
        let mut values = vec![0f32; SLOTS * n];
        let mut spectra = vec![0f32; bands * n];
        let mut valid = vec![false; n];
        if !inside.is_empty() {
            let pixels = reader.read_window(inside)?;
            let (features, _) = self.pixels.features(&pixels, inside);
            let dims = features.dims;
            let sources = self.slots;
            let ox = (i64::from(inside.x) - span.x) as usize;
            let oy = (i64::from(inside.y) - span.y) as usize;
            let sw = span.width as usize;
            for row in 0..inside.height as usize {
                for col in 0..inside.width as usize {
                    let p = row * inside.width as usize + col;
                    if !features.valid[p] {
                        continue;
                    }
                    let q = (oy + row) * sw + ox + col;
                    valid[q] = true;
                    let v = &features.values[p * dims..(p + 1) * dims];
                    for (slot, source) in sources.iter().enumerate() {
                        if let Some(d) = *source {
                            values[slot * n + q] = v[d];
                        }
                    }
                    for (d, &x) in v.iter().enumerate() {
                        spectra[d * n + q] = x;
                    }
                }
            }
        }
        Ok(SpanInput {
            span,
            values,
            spectra,
            bands,
            valid,
            mask: self.roles.mask(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_keep_the_stride_phase() {
        let s = Span::around(Window::new(1024, 10, 100, 30), 32);
        assert_eq!(s.x.rem_euclid(4), 0);
        assert_eq!(s.y.rem_euclid(4), 0);
        assert_eq!(s.x, 992);
        assert_eq!(s.y, -24);
        assert!(s.x + i64::from(s.width) >= 1024 + 100 + 32);
        assert_eq!(s.width % 4, 0);
        assert_eq!(s.height % 4, 0);
        assert_eq!(s.width, 164);
        assert_eq!(s.clip(2000, 50), Window::new(992, 0, 164, 50));
        assert_eq!(s.clip(1100, 50), Window::new(992, 0, 108, 50));
    }
}
