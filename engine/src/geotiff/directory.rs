//! The tags of a written image directory: the full-resolution image, with its georeferencing and
//! GDAL metadata, or a reduced-resolution overview of it, with the same layout, colour table and
//! nodata.

use super::chunk::{sample_bits, sample_format};
use super::geokeys::RawGeoTags;
use super::ifd::{OffsetOverflow, Value, tag};
use super::info::{Compression, Photometric};
use super::write::{TILE_SIZE, WriterOptions};

/// NewSubfileType of a reduced-resolution version of another image in the file.
const REDUCED_RESOLUTION: u32 = 1;

/// One tiled image of a written file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Directory<'a> {
    pub options: &'a WriterOptions,
    pub width: u32,
    pub height: u32,
    /// Per tile, row-major: file offset and length of its compressed bytes.
    pub offsets: &'a [u64],
    pub byte_counts: &'a [u64],
    /// A reduced-resolution image (NewSubfileType 1), without georeferencing or metadata of
    /// its own: readers take those from the full-resolution image.
    pub overview: bool,
}

impl Directory<'_> {
    /// The directory's entries, with offsets as LONG (classic TIFF) or LONG8 (BigTIFF).
    pub fn entries(&self, big: bool) -> Result<Vec<(u16, Value)>, OffsetOverflow> {
        let o = self.options;
        let bands = o.bands as u16;
        let photometric = o.photometric();
        let per_sample = |value: u16| Value::Short(vec![value; o.bands]);
        let mut entries = vec![
            (tag::IMAGE_WIDTH, Value::Long(vec![self.width])),
            (tag::IMAGE_LENGTH, Value::Long(vec![self.height])),
            (tag::BITS_PER_SAMPLE, per_sample(sample_bits(o.sample_type))),
            (
                tag::COMPRESSION,
                Value::Short(vec![Compression::Deflate.code()]),
            ),
            (tag::PHOTOMETRIC, Value::Short(vec![photometric.code()])),
            (tag::SAMPLES_PER_PIXEL, Value::Short(vec![bands])),
            (tag::PLANAR_CONFIGURATION, Value::Short(vec![1])),
            (tag::TILE_WIDTH, Value::Long(vec![TILE_SIZE])),
            (tag::TILE_LENGTH, Value::Long(vec![TILE_SIZE])),
            (tag::TILE_OFFSETS, offsets_value(self.offsets, big)?),
            (tag::TILE_BYTE_COUNTS, offsets_value(self.byte_counts, big)?),
            (tag::SAMPLE_FORMAT, per_sample(sample_format(o.sample_type))),
        ];
        if self.overview {
            entries.push((tag::NEW_SUBFILE_TYPE, Value::Long(vec![REDUCED_RESOLUTION])));
        }
        let colour_samples = if photometric == Photometric::Rgb {
            3
        } else {
            1
        };
        if bands > colour_samples {
            entries.push((
                tag::EXTRA_SAMPLES,
                Value::Short(vec![0; usize::from(bands - colour_samples)]),
            ));
        }
        if let Some(palette) = &o.palette {
            entries.push((tag::COLOR_MAP, color_map(palette)));
        }
        if !self.overview {
            if let Some(georef) = &o.georef {
                entries.extend(geo_entries(&georef.raw));
            }
            if let Some(xml) = gdal_metadata(&o.metadata, &o.band_descriptions) {
                entries.push((tag::GDAL_METADATA, Value::Ascii(xml)));
            }
        }
        if let Some(nodata) = o.nodata {
            entries.push((tag::GDAL_NODATA, Value::Ascii(format_nodata(nodata))));
        }
        Ok(entries)
    }
}

/// Tile offsets or byte counts: LONG in classic TIFF, LONG8 in BigTIFF.
fn offsets_value(values: &[u64], big: bool) -> Result<Value, OffsetOverflow> {
    if big {
        return Ok(Value::Long8(values.to_vec()));
    }
    let longs = values
        .iter()
        .map(|&v| u32::try_from(v).map_err(|_| OffsetOverflow));
    Ok(Value::Long(longs.collect::<Result<_, _>>()?))
}

/// A TIFF ColorMap: 256 reds, then greens, then blues, scaled to 16 bits.
fn color_map(palette: &[[u8; 3]]) -> Value {
    let channel =
        |c: usize| (0..256).map(move |i| palette.get(i).map_or(0, |rgb| u16::from(rgb[c]) * 257));
    Value::Short(channel(0).chain(channel(1)).chain(channel(2)).collect())
}

fn geo_entries(raw: &RawGeoTags) -> Vec<(u16, Value)> {
    let doubles = [
        (tag::MODEL_PIXEL_SCALE, &raw.model_pixel_scale),
        (tag::MODEL_TIEPOINT, &raw.model_tiepoint),
        (tag::MODEL_TRANSFORMATION, &raw.model_transformation),
        (tag::GEO_DOUBLE_PARAMS, &raw.geo_double_params),
    ];
    let mut entries: Vec<_> = doubles
        .into_iter()
        .filter_map(|(t, v)| v.as_ref().map(|v| (t, Value::Double(v.clone()))))
        .collect();
    if !raw.geo_key_directory.is_empty() {
        entries.push((
            tag::GEO_KEY_DIRECTORY,
            Value::Short(raw.geo_key_directory.clone()),
        ));
    }
    if let Some(ascii) = &raw.geo_ascii_params {
        entries.push((tag::GEO_ASCII_PARAMS, Value::Ascii(ascii.clone())));
    }
    entries
}

/// The GDAL_METADATA XML for dataset items and band descriptions; `None` when both are empty.
fn gdal_metadata(items: &[(String, String)], descriptions: &[String]) -> Option<String> {
    if items.is_empty() && descriptions.is_empty() {
        return None;
    }
    let mut xml = String::from("<GDALMetadata>\n");
    for (name, value) in items {
        xml += &format!(
            "  <Item name=\"{}\">{}</Item>\n",
            escape_xml(name),
            item_text(value)
        );
    }
    for (band, description) in descriptions.iter().enumerate() {
        xml += &format!(
            "  <Item name=\"DESCRIPTION\" sample=\"{band}\" role=\"description\">{}</Item>\n",
            item_text(description)
        );
    }
    xml += "</GDALMetadata>";
    Some(xml)
}

/// Item text as GDAL writes it: escaped twice, since GDAL unescapes it once more after parsing
/// the XML.
fn item_text(value: &str) -> String {
    escape_xml(&escape_xml(value))
}

/// `text` with XML's special characters escaped.
pub(super) fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// GDAL_NODATA text: "nan" for NaN, else the shortest exact decimal.
fn format_nodata(value: f64) -> String {
    if value.is_nan() {
        "nan".to_owned()
    } else {
        value.to_string()
    }
}
