//! Plain raster values shared by every stage: windows, sample types and decoded pixel blocks.

/// A rectangle of pixels, in pixel coordinates of one image level (x to the right, y down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Window {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Window {
    pub const fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        Self {
            x,
            y,
            width,
            height,
        }
    }

    /// Number of pixels in the window.
    pub fn len(&self) -> usize {
        self.width as usize * self.height as usize
    }

    pub fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// One past the last column.
    pub fn right(&self) -> u32 {
        self.x + self.width
    }

    /// One past the last row.
    pub fn bottom(&self) -> u32 {
        self.y + self.height
    }

    /// The part of `self` that lies inside `other`, or `None` when they do not overlap.
    pub fn intersect(&self, other: &Window) -> Option<Window> {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = self.right().min(other.right());
        let y1 = self.bottom().min(other.bottom());
        (x1 > x0 && y1 > y0).then(|| Window::new(x0, y0, x1 - x0, y1 - y0))
    }

    /// `self` grown by `margin` pixels on every side, clipped to `width` × `height`.
    pub fn grow_clipped(&self, margin: u32, width: u32, height: u32) -> Window {
        let x0 = self.x.saturating_sub(margin);
        let y0 = self.y.saturating_sub(margin);
        let x1 = self.right().saturating_add(margin).min(width);
        let y1 = self.bottom().saturating_add(margin).min(height);
        Window::new(x0, y0, x1.saturating_sub(x0), y1.saturating_sub(y0))
    }
}

/// The numeric type of one sample, as stored in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleType {
    U8,
    U16,
    I16,
    U32,
    F32,
    F64,
}

impl SampleType {
    pub fn name(self) -> &'static str {
        match self {
            SampleType::U8 => "u8",
            SampleType::U16 => "u16",
            SampleType::I16 => "i16",
            SampleType::U32 => "u32",
            SampleType::F32 => "f32",
            SampleType::F64 => "f64",
        }
    }

    pub fn bytes(self) -> usize {
        match self {
            SampleType::U8 => 1,
            SampleType::U16 | SampleType::I16 => 2,
            SampleType::U32 | SampleType::F32 => 4,
            SampleType::F64 => 8,
        }
    }
}

impl std::fmt::Display for SampleType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Decoded samples of a window, pixel-interleaved: index `(row * width + col) * bands + band`.
///
/// [`with_samples!`](crate::with_samples) runs one piece of code on whichever vector it holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    U8(Vec<u8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Evaluates an expression on the vector inside a [`Samples`], whatever its type: one generic
/// body instead of a six-arm `match`.
///
/// `with_samples!(samples, v => body)` binds `v` to the vector (by reference when `samples` is
/// a reference). `with_samples!(samples, S(v) => body)` also names the variant `S`, so that
/// the body can build a [`Samples`] of the same type or match another one against it.
///
/// ```
/// use engine::raster::Samples;
/// use engine::with_samples;
///
/// let samples = Samples::U16(vec![1, 2, 3]);
/// assert_eq!(with_samples!(&samples, v => v.len()), 3);
/// let head = with_samples!(&samples, S(v) => S(v[..2].to_vec()));
/// assert_eq!(head, Samples::U16(vec![1, 2]));
/// ```
#[macro_export]
macro_rules! with_samples {
    (@named $samples:expr, $variant:ident, $v:pat, $body:expr, $($each:ident)*) => {
        match $samples {
            $(
                $crate::raster::Samples::$each($v) => {
                    #[allow(unused_imports)]
                    use $crate::raster::Samples::$each as $variant;
                    $body
                }
            )*
        }
    };
    (@plain $samples:expr, $v:pat, $body:expr, $($each:ident)*) => {
        match $samples {
            $($crate::raster::Samples::$each($v) => $body,)*
        }
    };
    ($samples:expr, $variant:ident($v:pat) => $body:expr) => {
        $crate::with_samples!(@named $samples, $variant, $v, $body, U8 U16 I16 U32 F32 F64)
    };
    ($samples:expr, $v:pat => $body:expr) => {
        $crate::with_samples!(@plain $samples, $v, $body, U8 U16 I16 U32 F32 F64)
    };
}

impl Samples {
    /// `len` zero samples of `sample_type`.
    pub fn zeroed(sample_type: SampleType, len: usize) -> Samples {
        match sample_type {
            SampleType::U8 => Samples::U8(vec![0; len]),
            SampleType::U16 => Samples::U16(vec![0; len]),
            SampleType::I16 => Samples::I16(vec![0; len]),
            SampleType::U32 => Samples::U32(vec![0; len]),
            SampleType::F32 => Samples::F32(vec![0.0; len]),
            SampleType::F64 => Samples::F64(vec![0.0; len]),
        }
    }

    pub fn sample_type(&self) -> SampleType {
        match self {
            Samples::U8(_) => SampleType::U8,
            Samples::U16(_) => SampleType::U16,
            Samples::I16(_) => SampleType::I16,
            Samples::U32(_) => SampleType::U32,
            Samples::F32(_) => SampleType::F32,
            Samples::F64(_) => SampleType::F64,
        }
    }

    pub fn len(&self) -> usize {
        crate::with_samples!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements `range` of the samples, as a new buffer of the same type.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Samples {
        crate::with_samples!(self, S(v) => S(v[range].to_vec()))
    }

    /// Sample `i` widened to `f64` (exact for every supported type).
    #[inline]
    #[allow(clippy::useless_conversion)] // `f64::from` is the identity for `Samples::F64`
    pub fn get_f64(&self, i: usize) -> f64 {
        crate::with_samples!(self, v => f64::from(v[i]))
    }
}

/// The decoded pixels of one window: every band of the file, pixel-interleaved.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelBlock {
    pub window: Window,
    pub bands: usize,
    pub samples: Samples,
}

impl PixelBlock {
    /// Sample of `band` at (`col`, `row`) relative to the window, widened to `f64`.
    #[inline]
    pub fn get(&self, col: u32, row: u32, band: usize) -> f64 {
        let i = (row as usize * self.window.width as usize + col as usize) * self.bands + band;
        self.samples.get_f64(i)
    }

    /// The pixels of `window` (in raster coordinates), which must lie within this block's;
    /// `None` when it does not.
    pub fn crop(&self, window: Window) -> Option<PixelBlock> {
        if window == self.window {
            return Some(self.clone());
        }
        if self.window.intersect(&window) != Some(window) {
            return None;
        }
        let row_len = self.window.width as usize * self.bands;
        let x0 = (window.x - self.window.x) as usize * self.bands;
        let width = window.width as usize * self.bands;
        let rows = (window.y - self.window.y) as usize..(window.bottom() - self.window.y) as usize;
        let samples = crate::with_samples!(&self.samples, S(v) => S(rows
            .flat_map(|r| v[r * row_len + x0..r * row_len + x0 + width].iter().copied())
            .collect()));
        Some(PixelBlock {
            window,
            bands: self.bands,
            samples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_takes_the_pixels_of_a_window_inside_the_block() {
        // 4 × 3 pixels of 2 bands at (10, 20): sample = 100 × row + 10 × col + band.
        let window = Window::new(10, 20, 4, 3);
        let samples = (0..3u16)
            .flat_map(|r| (0..4u16).flat_map(move |c| (0..2u16).map(move |b| 100 * r + 10 * c + b)))
            .collect();
        let block = PixelBlock {
            window,
            bands: 2,
            samples: Samples::U16(samples),
        };
        let inner = block.crop(Window::new(11, 21, 2, 2)).unwrap();
        assert_eq!(inner.window, Window::new(11, 21, 2, 2));
        assert_eq!(
            inner.samples,
            Samples::U16(vec![110, 111, 120, 121, 210, 211, 220, 221])
        );
        assert_eq!(block.crop(window), Some(block.clone()));
        assert_eq!(block.crop(Window::new(12, 20, 4, 1)), None);
        assert_eq!(block.crop(Window::new(0, 0, 2, 2)), None);
    }
}
