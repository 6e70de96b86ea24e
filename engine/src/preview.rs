//! Display images: which bands make a true-colour (or false-colour) picture, a small RGB(A)
//! preview of a raster (from an overview when the file has a large enough one, else a decimated
//! read that never holds more than a strip of chunks), a decimated copy of the labels on the
//! same grid, and labels coloured by a legend.

use std::io::{Read, Seek};

use crate::cnn::bands::{BandRole, BandRoles};
use crate::features::{Normaliser, Validity};
use crate::geotiff::{DecodeError, GeoTiffReader, RasterInfo};
use crate::labels::{LegendEntry, NODATA};
use crate::raster::{SampleType, Window};

/// Why a preview could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreviewError {
    #[error("display band {band} (0-based) does not exist: the raster has {bands} band(s)")]
    NoSuchBand { band: usize, bands: usize },
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// The bands (0-based) to show as red, green and blue for a true-colour picture.
///
/// Wherever the file says which band is which, the bands' spectral roles decide (the same
/// roles the CNN reads, see [`BandRoles::from_info`]): GDAL band descriptions ("B04", "Red"…),
/// the RGB colour interpretation, or the usual band orders of a band count (a 6-band Landsat
/// TM/ETM+ or a 7-band OLI file stores blue first, so it shows as bands 3, 2, 1, not 1, 2, 3).
/// A panchromatic band shows as grey. Without red, green and blue roles the first data bands
/// are shown ([`RasterInfo::display_bands`]).
pub fn true_colour(info: &RasterInfo) -> [usize; 3] {
    let Ok(roles) = BandRoles::from_info(info) else {
        return info.display_bands();
    };
    let band = |role| role_band(&roles, role);
    if let Some(pan) = band(BandRole::Pan) {
        return [pan; 3];
    }
    match (
        band(BandRole::Red),
        band(BandRole::Green),
        band(BandRole::Blue),
    ) {
        (Some(r), Some(g), Some(b)) => [r, g, b],
        _ => info.display_bands(),
    }
}

/// The bands of the usual false-colour picture (near infrared, red, green shown as red, green,
/// blue: vegetation bright red), where the file's band roles name those three bands.
pub fn false_colour(info: &RasterInfo) -> Option<[usize; 3]> {
    let roles = BandRoles::from_info(info).ok()?;
    let band = |role| role_band(&roles, role);
    Some([
        band(BandRole::Nir)?,
        band(BandRole::Red)?,
        band(BandRole::Green)?,
    ])
}

/// The file band that has `wanted` as its role.
fn role_band(roles: &BandRoles, wanted: BandRole) -> Option<usize> {
    roles
        .bands
        .iter()
        .find(|&&(_, role)| role == wanted)
        .map(|&(band, _)| band)
}

/// An 8-bit RGBA image, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// A preview image and how it maps onto the raster.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    pub image: Rgba,
    /// Full-resolution raster pixels per preview pixel, along x and y.
    pub scale: (f64, f64),
}

/// Nearest-neighbour decimation of a `width` × `height` grid to at most `max_side` on its longer
/// side: every `step`-th pixel, starting half a step in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimation {
    step: u32,
    width: u32,
    height: u32,
}

impl Decimation {
    fn new(width: u32, height: u32, max_side: u32) -> Self {
        let step = width.max(height).div_ceil(max_side.max(1)).max(1);
        Self {
            step,
            width: width.div_ceil(step),
            height: height.div_ceil(step),
        }
    }

    /// The source coordinate sampled for preview coordinate `i` along an axis of `len` pixels.
    fn source(&self, i: u32, len: u32) -> u32 {
        i.saturating_mul(self.step)
            .saturating_add(self.step / 2)
            .min(len.saturating_sub(1))
    }

    /// Number of preview pixels.
    fn len(&self) -> usize {
        self.width as usize * self.height as usize
    }
}

/// Reads a display image of at most `max_side` pixels on its longer side from `bands` (three
/// 0-based bands, repeated for grey). Uses the smallest overview at least as large as the
/// preview, else decimates full resolution row by row. 8-bit bands are shown as they are, other
/// types stretched per band between their 2nd and 98th percentile; nodata is transparent.
///
/// # Errors
///
/// [`PreviewError::NoSuchBand`] when a band is not one of the raster's, and
/// [`PreviewError::Decode`] when the pixels cannot be read.
pub fn render_preview<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    bands: [usize; 3],
    max_side: u32,
) -> Result<Preview, PreviewError> {
    let info = reader.info().clone();
    if let Some(&band) = bands.iter().find(|&&b| b >= info.bands) {
        return Err(PreviewError::NoSuchBand {
            band,
            bands: info.bands,
        });
    }
    let full = Decimation::new(info.width, info.height, max_side);
    let level = (1..info.levels())
        .filter_map(|l| info.level_size(l).map(|size| (l, size)))
        .filter(|(_, (w, h))| *w >= full.width && *h >= full.height)
        .min_by_key(|(_, (w, h))| u64::from(*w) * u64::from(*h))
        .map_or(0, |(l, _)| l);
    let (lw, lh) = info.level_size(level).unwrap_or((info.width, info.height));
    let grid = Decimation::new(lw, lh, max_side);
    let validity = Validity::of(&info);

    let mut values = vec![0f64; grid.len() * 3];
    let mut valid = vec![false; grid.len()];
    for j in 0..grid.height {
        let row = reader.read_window_at_level(level, Window::new(0, grid.source(j, lh), lw, 1))?;
        let row_valid = validity.mask(&row);
        for i in 0..grid.width {
            let x = grid.source(i, lw);
            let p = j as usize * grid.width as usize + i as usize;
            valid[p] = row_valid[x as usize];
            for (c, &b) in bands.iter().enumerate() {
                values[p * 3 + c] = row.get(x, 0, b);
            }
        }
    }
    let normaliser = if info.sample_type == SampleType::U8 {
        Normaliser::unit_u8(3)
    } else {
        let mut per_band: Vec<Vec<f64>> = (0..3)
            .map(|c| {
                values
                    .chunks_exact(3)
                    .zip(&valid)
                    .filter(|(_, ok)| **ok)
                    .map(|(v, _)| v[c])
                    .collect()
            })
            .collect();
        Normaliser::fit(crate::normalise::Normalisation::Stretch, &mut per_band)
    };
    let mut pixels = Vec::with_capacity(valid.len() * 4);
    for (v, &ok) in values.chunks_exact(3).zip(&valid) {
        for (c, &x) in v.iter().enumerate() {
            pixels.push((normaliser.apply(c, x).clamp(0.0, 1.0) * 255.0).round() as u8);
        }
        pixels.push(if ok { 255 } else { 0 });
    }
    let scale = (
        f64::from(info.width) / f64::from(grid.width),
        f64::from(info.height) / f64::from(grid.height),
    );
    Ok(Preview {
        image: Rgba {
            width: grid.width,
            height: grid.height,
            pixels,
        },
        scale,
    })
}

/// A decimated copy of a label raster, filled unit by unit as the labels are produced, on the
/// grid [`render_preview`] uses for full resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelPreview {
    raster: (u32, u32),
    grid: Decimation,
    labels: Vec<u8>,
}

impl LabelPreview {
    pub fn new(width: u32, height: u32, max_side: u32) -> Self {
        let grid = Decimation::new(width, height, max_side);
        Self {
            raster: (width, height),
            grid,
            labels: vec![NODATA; grid.len()],
        }
    }

    /// Takes the labels of `unit` (row-major, `unit.len()` of them).
    ///
    /// # Panics
    ///
    /// When `labels` holds fewer than `unit.len()` labels.
    pub fn add(&mut self, unit: Window, labels: &[u8]) {
        let (w, h) = self.raster;
        for j in 0..self.grid.height {
            let y = self.grid.source(j, h);
            if y < unit.y || y >= unit.bottom() {
                continue;
            }
            for i in 0..self.grid.width {
                let x = self.grid.source(i, w);
                if x >= unit.x && x < unit.right() {
                    let src = (y - unit.y) as usize * unit.width as usize + (x - unit.x) as usize;
                    let dst = j as usize * self.grid.width as usize + i as usize;
                    self.labels[dst] = labels[src];
                }
            }
        }
    }

    /// Width and height of the preview grid.
    pub fn size(&self) -> (u32, u32) {
        (self.grid.width, self.grid.height)
    }

    /// Width and height of the label raster the preview samples.
    pub fn raster_size(&self) -> (u32, u32) {
        self.raster
    }

    /// The preview's labels so far, row-major ([`NODATA`] where no unit has been added).
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The raster column that preview column `i` samples.
    pub fn source_x(&self, i: u32) -> u32 {
        self.grid.source(i, self.raster.0)
    }

    /// The raster row that preview row `j` samples.
    pub fn source_y(&self, j: u32) -> u32 {
        self.grid.source(j, self.raster.1)
    }

    /// Width, height and labels of the preview.
    pub fn finish(self) -> (u32, u32, Vec<u8>) {
        (self.grid.width, self.grid.height, self.labels)
    }
}

/// Colours `labels` with `legend` at opacity `alpha`; nodata and labels beyond the legend are
/// transparent.
pub fn colorize(width: u32, height: u32, labels: &[u8], legend: &[LegendEntry], alpha: u8) -> Rgba {
    let mut pixels = Vec::with_capacity(labels.len() * 4);
    for &l in labels {
        match legend.get(usize::from(l)).filter(|_| l != NODATA) {
            Some(e) => pixels.extend_from_slice(&[e.colour[0], e.colour[1], e.colour[2], alpha]),
            None => pixels.extend_from_slice(&[0, 0, 0, 0]),
        }
    }
    Rgba {
        width,
        height,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::default_legend;

    #[test]
    fn decimation_covers_the_raster() {
        let d = Decimation::new(1000, 300, 256);
        assert_eq!((d.step, d.width, d.height), (4, 250, 75));
        assert_eq!(d.source(249, 1000), 998);
        let small = Decimation::new(50, 40, 256);
        assert_eq!((small.step, small.width, small.height), (1, 50, 40));
    }

    #[test]
    fn label_preview_takes_units_in_any_order() {
        let (w, h) = (10u32, 6u32);
        let all: Vec<u8> = (0..w * h).map(|i| (i % 7) as u8).collect();
        let mut whole = LabelPreview::new(w, h, 4);
        whole.add(Window::new(0, 0, w, h), &all);
        let mut parts = LabelPreview::new(w, h, 4);
        for unit in [
            Window::new(5, 3, 5, 3),
            Window::new(0, 0, 5, 3),
            Window::new(5, 0, 5, 3),
            Window::new(0, 3, 5, 3),
        ] {
            let labels: Vec<u8> = (unit.y..unit.bottom())
                .flat_map(|y| (unit.x..unit.right()).map(move |x| (y, x)))
                .map(|(y, x)| all[(y * w + x) as usize])
                .collect();
            parts.add(unit, &labels);
        }
        assert_eq!(whole, parts);
        assert_eq!((whole.size(), whole.raster_size()), ((4, 2), (10, 6)));
        assert_eq!((whole.source_x(3), whole.source_y(1)), (9, 4));
        assert_eq!(whole.labels()[4 + 3], all[(4 * w + 9) as usize]);
        assert!(!whole.finish().2.contains(&NODATA));
    }

    #[test]
    fn a_band_outside_the_raster_is_an_error() {
        use std::io::Cursor;

        use crate::geotiff::{GeoTiffWriter, WriterOptions};
        use crate::raster::Samples;
        let options = WriterOptions::new(3, 2, 2, SampleType::U8);
        let mut writer = GeoTiffWriter::new(Cursor::new(Vec::new()), options).unwrap();
        writer.write_strip(&Samples::U8((0..12).collect())).unwrap();
        let file = writer.finish().unwrap().into_inner();
        let mut reader = GeoTiffReader::open(Cursor::new(file)).unwrap();
        for bands in [[0, 1, 2], [2, 0, 0], [0, 0, usize::MAX]] {
            let err = render_preview(&mut reader, bands, 16).unwrap_err();
            assert!(
                matches!(err, PreviewError::NoSuchBand { bands: 2, .. }),
                "{bands:?}: {err}"
            );
        }
        let ok = render_preview(&mut reader, [1, 0, 1], 16).unwrap();
        assert_eq!((ok.image.width, ok.image.height), (3, 2));
        // Pixel (1, 0) holds samples 2 and 3: shown as red 3, green 2, blue 3.
        assert_eq!(&ok.image.pixels[4..8], &[3, 2, 3, 255]);
    }

    #[test]
    fn colorize_makes_nodata_transparent() {
        let img = colorize(2, 1, &[1, NODATA], &default_legend(2), 200);
        assert_eq!(&img.pixels[..4], &[255, 127, 14, 200]);
        assert_eq!(&img.pixels[4..], &[0, 0, 0, 0]);
    }
}
