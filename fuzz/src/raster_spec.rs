//! Small rasters with fuzzed pixels, written by the engine's own [`GeoTiffWriter`], for the
//! pipeline target: well-formed files whose values are degenerate (constant, NaN, ±infinity,
//! the type's extremes, all nodata).

use std::io::Cursor;

use arbitrary::{Arbitrary, Unstructured};
use engine::geotiff::{GeoReference, GeoTiffWriter, WriterOptions};
use engine::raster::{SampleType, Samples};

use crate::{geo_input, is_raw_tiff, tiff_spec::TiffSpec};

/// The TIFF of the pipeline target's input after the parameters: a TIFF as it is when it starts
/// like one; else the first byte chooses a [`RasterSpec`] (even) or a [`TiffSpec`] (odd) for the
/// rest.
pub fn pipeline_tiff(data: &[u8]) -> Option<Vec<u8>> {
    if is_raw_tiff(data) {
        return Some(data.to_vec());
    }
    let (&selector, rest) = data.split_first()?;
    let u = Unstructured::new(rest);
    if selector % 2 == 0 {
        RasterSpec::arbitrary_take_rest(u).ok()?.encode()
    } else {
        Some(TiffSpec::arbitrary_take_rest(u).ok()?.encode())
    }
}

/// A raster drawn from a palette of values.
#[derive(Debug, Clone, PartialEq, Arbitrary)]
pub struct RasterSpec {
    /// Up to 1100 × 600 pixels (several units and tiles) when set, else up to 48 × 48.
    pub large: bool,
    pub width: u16,
    pub height: u16,
    /// 1 to 6.
    pub bands: u8,
    pub sample_type: Kind,
    /// The values pixels take (at most 8 are used).
    pub palette: Vec<Value>,
    /// Palette indices, cycled over every sample of the raster.
    pub pattern: Vec<u8>,
    /// Added to every value: `x * gx + y * gy`.
    pub gradient: (i8, i8),
    pub nodata: Option<Value>,
    /// Georeferencing tags in [`geo_input`]'s format.
    pub georef: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum Kind {
    U8,
    U16,
    I16,
    U32,
    F32,
    F64,
}

/// A pixel value, often a troublesome one.
#[derive(Debug, Clone, Copy, PartialEq, Arbitrary)]
pub enum Value {
    Small(u8),
    Zero,
    Nan,
    Infinity,
    NegInfinity,
    Max,
    Min,
    Any(f64),
}

impl Value {
    fn get(self, kind: Kind) -> f64 {
        let (min, max) = match kind {
            Kind::U8 => (0.0, 255.0),
            Kind::U16 => (0.0, 65535.0),
            Kind::I16 => (-32768.0, 32767.0),
            Kind::U32 => (0.0, f64::from(u32::MAX)),
            Kind::F32 => (f64::from(f32::MIN), f64::from(f32::MAX)),
            Kind::F64 => (f64::MIN, f64::MAX),
        };
        match self {
            Value::Small(v) => f64::from(v),
            Value::Zero => 0.0,
            Value::Nan => f64::NAN,
            Value::Infinity => f64::INFINITY,
            Value::NegInfinity => f64::NEG_INFINITY,
            Value::Max => max,
            Value::Min => min,
            Value::Any(v) => v,
        }
    }
}

impl RasterSpec {
    fn size(&self) -> (u32, u32) {
        let (w, h) = (u32::from(self.width), u32::from(self.height));
        if self.large {
            (1 + w % 1100, 1 + h % 600)
        } else {
            (1 + w % 48, 1 + h % 48)
        }
    }

    /// The raster as a tiled Deflate GeoTIFF; `None` when the writer refuses it.
    pub fn encode(&self) -> Option<Vec<u8>> {
        let (width, height) = self.size();
        let bands = 1 + usize::from(self.bands % 6);
        let kind = self.sample_type;
        let sample_type = match kind {
            Kind::U8 => SampleType::U8,
            Kind::U16 => SampleType::U16,
            Kind::I16 => SampleType::I16,
            Kind::U32 => SampleType::U32,
            Kind::F32 => SampleType::F32,
            Kind::F64 => SampleType::F64,
        };
        let mut options = WriterOptions::new(width, height, bands, sample_type);
        options.nodata = self.nodata.map(|v| v.get(kind));
        options.georef = self
            .georef
            .as_deref()
            .and_then(|bytes| GeoReference::from_raw(geo_input::parse(bytes)));
        let mut writer = GeoTiffWriter::new(Cursor::new(Vec::new()), options).ok()?;
        let palette: Vec<f64> = self.palette.iter().take(8).map(|v| v.get(kind)).collect();
        let (gx, gy) = (f64::from(self.gradient.0), f64::from(self.gradient.1));
        let value = |x: u32, y: u32, band: usize| -> f64 {
            let i = (y as usize * width as usize + x as usize) * bands + band;
            let base = match (palette.len(), self.pattern.len()) {
                (0, _) => 0.0,
                (n, 0) => palette[i % n],
                (n, m) => palette[usize::from(self.pattern[i % m]) % n],
            };
            base + f64::from(x) * gx + f64::from(y) * gy
        };
        for y0 in (0..height).step_by(engine::geotiff::TILE_SIZE as usize) {
            let rows = engine::geotiff::TILE_SIZE.min(height - y0);
            let values = (y0..y0 + rows)
                .flat_map(|y| (0..width).flat_map(move |x| (0..bands).map(move |b| (x, y, b))));
            let values = values.map(|(x, y, b)| value(x, y, b));
            let samples = match kind {
                Kind::U8 => Samples::U8(values.map(|v| v as u8).collect()),
                Kind::U16 => Samples::U16(values.map(|v| v as u16).collect()),
                Kind::I16 => Samples::I16(values.map(|v| v as i16).collect()),
                Kind::U32 => Samples::U32(values.map(|v| v as u32).collect()),
                Kind::F32 => Samples::F32(values.map(|v| v as f32).collect()),
                Kind::F64 => Samples::F64(values.collect()),
            };
            writer.write_strip(&samples).ok()?;
        }
        Some(writer.finish().ok()?.into_inner())
    }
}
