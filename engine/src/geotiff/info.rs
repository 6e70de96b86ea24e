//! What a GeoTIFF holds, as read from its first image file directory.

use std::fmt;

use super::geokeys::GeoReference;
use crate::raster::SampleType;

/// A description of a raster: size, sample layout, encoding, nodata and georeferencing.
#[derive(Debug, Clone, PartialEq)]
pub struct RasterInfo {
    pub width: u32,
    pub height: u32,
    /// Samples per pixel, alpha included.
    pub bands: usize,
    pub sample_type: SampleType,
    pub compression: Compression,
    /// 1 none, 2 horizontal differencing, 3 floating point.
    pub predictor: u16,
    pub layout: Layout,
    /// Each band stored in its own chunks (PlanarConfiguration = 2).
    pub planar: bool,
    pub photometric: Photometric,
    /// 0-based index of the band flagged as alpha by ExtraSamples (1 or 2).
    pub alpha_band: Option<usize>,
    /// The GDAL_NODATA value.
    pub nodata: Option<f64>,
    pub georef: Option<GeoReference>,
    /// Sizes of the reduced-resolution images (overview levels 1..), in file order.
    pub overviews: Vec<(u32, u32)>,
    pub big_tiff: bool,
    pub little_endian: bool,
    /// The raw GDAL_METADATA XML.
    pub gdal_metadata: Option<String>,
}

impl RasterInfo {
    /// Size of a level: 0 is full resolution, 1.. the overviews; `None` past the last one.
    pub fn level_size(&self, level: usize) -> Option<(u32, u32)> {
        match level.checked_sub(1) {
            None => Some((self.width, self.height)),
            Some(overview) => self.overviews.get(overview).copied(),
        }
    }

    /// Number of levels, full resolution included.
    pub fn levels(&self) -> usize {
        self.overviews.len() + 1
    }

    /// Every band except the alpha band.
    pub fn data_bands(&self) -> Vec<usize> {
        (0..self.bands)
            .filter(|&b| Some(b) != self.alpha_band)
            .collect()
    }

    /// The bands to show as red, green and blue.
    ///
    /// RGB and YCbCr images map to their first three bands; otherwise the first three data bands
    /// are used, a single data band is shown as grey, and two data bands as `[0, 1, 1]`.
    pub fn display_bands(&self) -> [usize; 3] {
        if matches!(self.photometric, Photometric::Rgb | Photometric::YCbCr) && self.bands >= 3 {
            return [0, 1, 2];
        }
        match self.data_bands().as_slice() {
            [] => [0, 0, 0],
            &[b] => [b, b, b],
            &[a, b] => [a, b, b],
            &[a, b, c, ..] => [a, b, c],
        }
    }
}

/// How the pixels are cut into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Full-width strips of `rows_per_strip` rows.
    Strips { rows_per_strip: u32 },
    /// Tiles of `width` × `height` pixels.
    Tiles { width: u32, height: u32 },
}

/// "256x256 tiles", "strips of 8 rows".
impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layout::Strips { rows_per_strip: 1 } => f.write_str("strips of 1 row"),
            Layout::Strips { rows_per_strip } => write!(f, "strips of {rows_per_strip} rows"),
            Layout::Tiles { width, height } => write!(f, "{width}x{height} tiles"),
        }
    }
}

impl Layout {
    /// Chunk width and height for an image `image_width` pixels wide.
    pub(super) fn chunk_size(self, image_width: u32) -> (u32, u32) {
        match self {
            Layout::Strips { rows_per_strip } => (image_width, rows_per_strip),
            Layout::Tiles { width, height } => (width, height),
        }
    }
}

/// The TIFF Compression tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Ccitt(u16),
    Lzw,
    /// Old-style JPEG (6).
    OldJpeg,
    Jpeg,
    /// Deflate (8).
    Deflate,
    /// Deflate under Adobe's old code (32946).
    AdobeDeflate,
    PackBits,
    Lzma,
    Zstd,
    Webp,
    Lerc,
    JpegXl,
    Other(u16),
}

impl Compression {
    /// The variant for a Compression tag value.
    pub fn from_code(code: u16) -> Self {
        match code {
            1 => Compression::None,
            2..=4 => Compression::Ccitt(code),
            5 => Compression::Lzw,
            6 => Compression::OldJpeg,
            7 => Compression::Jpeg,
            8 => Compression::Deflate,
            32946 => Compression::AdobeDeflate,
            32773 => Compression::PackBits,
            34887 => Compression::Lerc,
            34925 => Compression::Lzma,
            50000 => Compression::Zstd,
            50001 => Compression::Webp,
            50002 | 52546 => Compression::JpegXl,
            other => Compression::Other(other),
        }
    }

    /// The Compression tag value.
    pub fn code(self) -> u16 {
        match self {
            Compression::None => 1,
            Compression::Ccitt(code) | Compression::Other(code) => code,
            Compression::Lzw => 5,
            Compression::OldJpeg => 6,
            Compression::Jpeg => 7,
            Compression::Deflate => 8,
            Compression::AdobeDeflate => 32946,
            Compression::PackBits => 32773,
            Compression::Lerc => 34887,
            Compression::Lzma => 34925,
            Compression::Zstd => 50000,
            Compression::Webp => 50001,
            Compression::JpegXl => 50002,
        }
    }

    /// Whether chunks in this compression can be decoded.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Compression::None
                | Compression::Lzw
                | Compression::Jpeg
                | Compression::Deflate
                | Compression::AdobeDeflate
                | Compression::PackBits
                | Compression::Zstd
        )
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Compression::None => "none",
            Compression::Ccitt(_) => "CCITT",
            Compression::Lzw => "LZW",
            Compression::OldJpeg => "JPEG-in-old-JPEG",
            Compression::Jpeg => "JPEG",
            Compression::Deflate | Compression::AdobeDeflate => "Deflate",
            Compression::PackBits => "PackBits",
            Compression::Lzma => "LZMA",
            Compression::Zstd => "ZSTD",
            Compression::Webp => "WebP",
            Compression::Lerc => "LERC",
            Compression::JpegXl => "JPEG XL",
            Compression::Other(code) => return write!(f, "unknown ({code})"),
        };
        f.write_str(name)
    }
}

/// The TIFF PhotometricInterpretation tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Photometric {
    MinIsWhite,
    MinIsBlack,
    Rgb,
    Palette,
    Mask,
    Cmyk,
    YCbCr,
    CieLab,
    Other(u16),
}

impl Photometric {
    /// The variant for a PhotometricInterpretation tag value.
    pub fn from_code(code: u16) -> Self {
        match code {
            0 => Photometric::MinIsWhite,
            1 => Photometric::MinIsBlack,
            2 => Photometric::Rgb,
            3 => Photometric::Palette,
            4 => Photometric::Mask,
            5 => Photometric::Cmyk,
            6 => Photometric::YCbCr,
            8 => Photometric::CieLab,
            other => Photometric::Other(other),
        }
    }

    /// The PhotometricInterpretation tag value.
    pub fn code(self) -> u16 {
        match self {
            Photometric::MinIsWhite => 0,
            Photometric::MinIsBlack => 1,
            Photometric::Rgb => 2,
            Photometric::Palette => 3,
            Photometric::Mask => 4,
            Photometric::Cmyk => 5,
            Photometric::YCbCr => 6,
            Photometric::CieLab => 8,
            Photometric::Other(code) => code,
        }
    }
}

impl fmt::Display for Photometric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Photometric::MinIsWhite => "MinIsWhite",
            Photometric::MinIsBlack => "MinIsBlack",
            Photometric::Rgb => "RGB",
            Photometric::Palette => "Palette",
            Photometric::Mask => "Mask",
            Photometric::Cmyk => "CMYK",
            Photometric::YCbCr => "YCbCr",
            Photometric::CieLab => "CIELab",
            Photometric::Other(code) => return write!(f, "photometric interpretation {code}"),
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_display_for_people() {
        let tiles = Layout::Tiles {
            width: 256,
            height: 128,
        };
        assert_eq!(tiles.to_string(), "256x128 tiles");
        assert_eq!(
            Layout::Strips { rows_per_strip: 8 }.to_string(),
            "strips of 8 rows"
        );
        assert_eq!(
            Layout::Strips { rows_per_strip: 1 }.to_string(),
            "strips of 1 row"
        );
    }
}
