//! Raw georeferencing tags as fuzz input, in a small byte format that real files' tags can be
//! written in (for the seed corpus).
//!
//! Layout: a flags byte (which optional tags are present: bit 0 ModelPixelScale, 1
//! ModelTiepoint, 2 ModelTransformation, 3 GeoDoubleParams, 4 GeoAsciiParams); for each present
//! double array in that order a little-endian `u16` count and that many little-endian `f64`s; a
//! `u16` count and that many `u16` GeoKeyDirectory shorts, then a `u16` number of extra copies of
//! the directory's last four shorts (one key entry), so that directories of thousands of keys are
//! a few bytes away; the rest is the ASCII parameters (lossy UTF-8). Missing bytes read as zero.

use engine::geotiff::RawGeoTags;

const PIXEL_SCALE: u8 = 1;
const TIEPOINT: u8 = 2;
const TRANSFORMATION: u8 = 4;
const DOUBLE_PARAMS: u8 = 8;
const ASCII_PARAMS: u8 = 16;

/// Reads input bytes front to back; past the end everything is zero.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    fn u16(&mut self) -> u16 {
        let mut b = [0; 2];
        let head = self.take(2);
        b[..head.len()].copy_from_slice(head);
        u16::from_le_bytes(b)
    }

    fn f64(&mut self) -> f64 {
        let mut b = [0; 8];
        let head = self.take(8);
        b[..head.len()].copy_from_slice(head);
        f64::from_le_bytes(b)
    }

    fn doubles(&mut self) -> Vec<f64> {
        let n = self.u16();
        (0..n).map(|_| self.f64()).collect()
    }
}

/// The tags that `bytes` describe.
pub fn parse(bytes: &[u8]) -> RawGeoTags {
    let mut c = Cursor(bytes);
    let flags = c.u8();
    let mut doubles = |bit: u8| (flags & bit != 0).then(|| c.doubles());
    let model_pixel_scale = doubles(PIXEL_SCALE);
    let model_tiepoint = doubles(TIEPOINT);
    let model_transformation = doubles(TRANSFORMATION);
    let geo_double_params = doubles(DOUBLE_PARAMS);
    let keys = c.u16();
    let mut geo_key_directory: Vec<u16> = (0..keys).map(|_| c.u16()).collect();
    let copies = usize::from(c.u16());
    if let Some(last) = geo_key_directory.len().checked_sub(4) {
        let entry = geo_key_directory[last..].to_vec();
        for _ in 0..copies {
            geo_key_directory.extend_from_slice(&entry);
        }
    }
    let geo_ascii_params =
        (flags & ASCII_PARAMS != 0).then(|| String::from_utf8_lossy(c.0).into_owned());
    RawGeoTags {
        model_pixel_scale,
        model_tiepoint,
        model_transformation,
        geo_key_directory,
        geo_double_params,
        geo_ascii_params,
    }
}

/// The bytes that [`parse`] reads back as `raw` (arrays beyond 65,535 values are cut).
pub fn to_bytes(raw: &RawGeoTags) -> Vec<u8> {
    let mut flags = 0;
    let mut out = vec![0];
    let arrays = [
        (PIXEL_SCALE, &raw.model_pixel_scale),
        (TIEPOINT, &raw.model_tiepoint),
        (TRANSFORMATION, &raw.model_transformation),
        (DOUBLE_PARAMS, &raw.geo_double_params),
    ];
    for (bit, values) in arrays {
        if let Some(values) = values {
            flags |= bit;
            let values = &values[..values.len().min(65535)];
            out.extend_from_slice(&(values.len() as u16).to_le_bytes());
            for v in values {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    let keys = &raw.geo_key_directory[..raw.geo_key_directory.len().min(65535)];
    out.extend_from_slice(&(keys.len() as u16).to_le_bytes());
    for k in keys {
        out.extend_from_slice(&k.to_le_bytes());
    }
    out.extend_from_slice(&0u16.to_le_bytes());
    if let Some(ascii) = &raw.geo_ascii_params {
        flags |= ASCII_PARAMS;
        out.extend_from_slice(ascii.as_bytes());
    }
    out[0] = flags;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        let raw = RawGeoTags {
            model_pixel_scale: Some(vec![30.0, 30.0, 0.0]),
            model_tiepoint: Some(vec![0.0, 0.0, 0.0, 500_000.0, 4_000_000.0, 0.0]),
            model_transformation: None,
            geo_key_directory: vec![1, 1, 0, 1, 3072, 0, 1, 32618],
            geo_double_params: Some(vec![6_378_137.0]),
            geo_ascii_params: Some("WGS 84 / UTM zone 18N|".to_owned()),
        };
        assert_eq!(parse(&to_bytes(&raw)), raw);
        assert_eq!(parse(&[]), RawGeoTags::default());
    }
}
