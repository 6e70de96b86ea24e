//! Decoding one chunk (strip or tile) and placing its pixels into a window.
//!
//! The `tiff` crate does the decompression and un-prediction. It is handed a minimal
//! single-strip TIFF that holds just this chunk's bytes, so every interpretation of the
//! original file (layout, planes, photometric, extra samples) stays in this module.

use std::io::{Cursor, Read, Seek};

use tiff::TiffError;
use tiff::decoder::{Decoder, DecodingResult};

use super::error::{DecodeError, FormatError, LimitExceeded, Unsupported};
use super::ifd::{self, ByteOrder, Value, tag};
use super::info::{Compression, Photometric};
use super::level::{ChunkPlace, Level};
use super::limits::Limits;
use super::tags::TiffFile;
use crate::raster::{SampleType, Samples, Window};

/// Reads and decodes the chunk at `place`: `chunk width × stored rows × chunk samples`
/// samples, pixel-interleaved, YCbCr converted to RGB. A chunk that was never written (zero
/// bytes, as in GDAL's sparse files) reads as zeros.
pub(super) fn decode_chunk<R: Read + Seek>(
    file: &mut TiffFile<R>,
    level: &Level,
    place: &ChunkPlace,
    limits: &Limits,
) -> Result<Samples, DecodeError> {
    let len = chunk_len(level, place, limits)?;
    if is_direct(level) {
        return read_direct_chunk(file, level, place, len, limits);
    }
    let Some(tiff) = chunk_as_tiff(file, level, place, len, limits)? else {
        return Ok(Samples::zeroed(level.sample_type, len));
    };
    let decoded = Decoder::new(Cursor::new(tiff))
        .map(|decoder| decoder.with_limits(limits.to_tiff()))
        .and_then(|mut decoder| decoder.read_chunk(0))
        .map_err(|e| chunk_error(e, place.index))?;
    let mut samples = into_samples(decoded, level.sample_type)?;
    if samples.len() != len {
        return Err(FormatError::ChunkSize {
            chunk: place.index,
            expected: len,
            found: samples.len(),
        }
        .into());
    }
    if level.photometric == Photometric::YCbCr {
        ycbcr_to_rgb(&mut samples, usize::from(level.chunk_samples()));
    }
    Ok(samples)
}

/// How many times its decoded size a chunk may take in the file: LZW's worst case is 1.5, JPEG
/// of noise at the highest quality stays under 2.
const MAX_EXPANSION: u64 = 4;

/// Bytes a chunk may take beyond [`MAX_EXPANSION`] times its pixels: codec headers, JPEG tables
/// in the stream.
const CHUNK_HEADERS_BYTES: u64 = 4096;

/// Whether the level's chunks hold plain samples, stored as they are or Deflate-compressed, with
/// no predictor and no colour conversion: these are decoded here without building a TIFF for
/// the `tiff` crate, which would cost more than the data on files of millions of tiny chunks.
fn is_direct(level: &Level) -> bool {
    matches!(
        level.compression,
        Compression::None | Compression::Deflate | Compression::AdobeDeflate
    ) && level.predictor == 1
        && level.photometric != Photometric::YCbCr
}

/// Decodes the `len` samples of a chunk that [`is_direct`].
fn read_direct_chunk<R: Read + Seek>(
    file: &mut TiffFile<R>,
    level: &Level,
    place: &ChunkPlace,
    len: usize,
    limits: &Limits,
) -> Result<Samples, DecodeError> {
    let (offset, stored) = chunk_location(file, level, place, len, limits)?;
    if stored == 0 {
        return Ok(Samples::zeroed(level.sample_type, len));
    }
    let needed = len * level.sample_type.bytes();
    let ends_early = |found: u64| {
        FormatError::Codec(format!(
            "the data of chunk {} ends early: {found} of {needed} bytes",
            place.index
        ))
    };
    let bytes = if level.compression == Compression::None {
        if stored < needed as u64 {
            return Err(ends_early(stored).into());
        }
        let mut bytes = vec![0; needed];
        file.source.read_at(offset, &mut bytes)?;
        bytes
    } else {
        // `chunk_location` bounded `stored` by the chunk limit.
        let mut compressed = vec![0; stored as usize];
        file.source.read_at(offset, &mut compressed)?;
        let mut bytes = Vec::with_capacity(needed);
        let inflater = &mut file.inflater;
        inflater.reset(true);
        inflater
            .decompress_vec(&compressed, &mut bytes, flate2::FlushDecompress::Finish)
            .map_err(|e| FormatError::Codec(format!("chunk {}: {e}", place.index)))?;
        if bytes.len() < needed {
            return Err(ends_early(bytes.len() as u64).into());
        }
        bytes
    };
    Ok(samples_from_bytes(level.sample_type, &bytes, file.order))
}

/// Samples of `sample_type` stored in `bytes` in byte order `order`.
fn samples_from_bytes(sample_type: SampleType, bytes: &[u8], order: ByteOrder) -> Samples {
    macro_rules! convert {
        ($t:ty, $variant:ident) => {{
            const N: usize = std::mem::size_of::<$t>();
            Samples::$variant(
                bytes
                    .chunks_exact(N)
                    .map(|b| {
                        let mut raw = [0u8; N];
                        raw.copy_from_slice(b);
                        match order {
                            ByteOrder::Little => <$t>::from_le_bytes(raw),
                            ByteOrder::Big => <$t>::from_be_bytes(raw),
                        }
                    })
                    .collect(),
            )
        }};
    }
    match sample_type {
        SampleType::U8 => Samples::U8(bytes.to_vec()),
        SampleType::U16 => convert!(u16, U16),
        SampleType::I16 => convert!(i16, I16),
        SampleType::U32 => convert!(u32, U32),
        SampleType::F32 => convert!(f32, F32),
        SampleType::F64 => convert!(f64, F64),
    }
}

/// The file offset and stored length of the chunk at `place`, which decodes to `len` samples,
/// checked against the chunk limit and the file's length (a length of 0 is a chunk that was
/// never written).
fn chunk_location<R: Read + Seek>(
    file: &TiffFile<R>,
    level: &Level,
    place: &ChunkPlace,
    len: usize,
    limits: &Limits,
) -> Result<(u64, u64), DecodeError> {
    let index = place.index as usize;
    let (Some(&offset), Some(&stored)) = (level.offsets.get(index), level.byte_counts.get(index))
    else {
        return Err(FormatError::InvalidTag("TileOffsets").into());
    };
    if stored == 0 {
        return Ok((offset, 0));
    }
    check_bytes("compressed chunk", stored, limits.max_chunk_bytes)?;
    // No codec stores a chunk in much more than its decoded size; a larger count (many chunks
    // claiming the same long run of bytes) would read and copy that run once per chunk.
    let decoded = len as u64 * level.sample_type.bytes() as u64;
    let most = decoded
        .saturating_mul(MAX_EXPANSION)
        .saturating_add(CHUNK_HEADERS_BYTES);
    if stored > most {
        return Err(FormatError::Codec(format!(
            "chunk {} stores {stored} bytes, more than {most} for {decoded} bytes of pixels",
            place.index
        ))
        .into());
    }
    if offset.checked_add(stored).is_none_or(|end| end > file.len) {
        return Err(DecodeError::Truncated(format!(
            "chunk {} (bytes {offset}..+{stored}) lies past the end of the {}-byte file",
            place.index, file.len
        )));
    }
    Ok((offset, stored))
}

/// The stored bytes of the chunk at `place` (`len` samples decoded) behind a single-strip TIFF
/// header; `None` when the chunk has no bytes.
fn chunk_as_tiff<R: Read + Seek>(
    file: &mut TiffFile<R>,
    level: &Level,
    place: &ChunkPlace,
    len: usize,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, DecodeError> {
    let (offset, stored) = chunk_location(file, level, place, len, limits)?;
    if stored == 0 {
        return Ok(None);
    }
    let mut tiff = single_strip_tiff(
        level,
        file.order,
        level.chunk_size().0,
        place.stored_rows,
        stored,
    )?;
    let data_start = tiff.len();
    tiff.resize(data_start + stored as usize, 0);
    file.source.read_at(offset, &mut tiff[data_start..])?;
    if level.compression == Compression::Jpeg {
        check_jpeg_frame(&tiff[data_start..], limits)?;
    }
    Ok(Some(tiff))
}

/// Number of samples of the chunk at `place` once decoded, checked against the chunk limit.
fn chunk_len(level: &Level, place: &ChunkPlace, limits: &Limits) -> Result<usize, DecodeError> {
    let len = u64::from(level.chunk_size().0)
        * u64::from(place.stored_rows)
        * u64::from(level.chunk_samples());
    let bytes = len.saturating_mul(level.sample_type.bytes() as u64);
    check_bytes("decoded chunk", bytes, limits.max_chunk_bytes)?;
    usize::try_from(len).map_err(|_| {
        LimitExceeded::Bytes {
            what: "decoded chunk",
            bytes,
            limit: limits.max_chunk_bytes,
        }
        .into()
    })
}

pub(super) fn check_bytes(
    what: &'static str,
    bytes: u64,
    limit: usize,
) -> Result<(), LimitExceeded> {
    if bytes > limit as u64 {
        Err(LimitExceeded::Bytes { what, bytes, limit })
    } else {
        Ok(())
    }
}

/// Classifies an error of the `tiff` crate while decoding chunk `chunk`. It decodes from
/// memory, so its I/O errors come from the decompressors: the chunk's data is corrupt.
fn chunk_error(err: TiffError, chunk: u32) -> DecodeError {
    match err {
        TiffError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            FormatError::Codec(format!("the compressed data of chunk {chunk} ends early")).into()
        }
        TiffError::IoError(e) => FormatError::Codec(format!("chunk {chunk}: {e}")).into(),
        TiffError::LimitsExceeded => LimitExceeded::Decoder(format!("chunk {chunk}")).into(),
        TiffError::UnsupportedError(e) => Unsupported::Codec(format!("chunk {chunk}: {e}")).into(),
        other => FormatError::Codec(format!("chunk {chunk}: {other}")).into(),
    }
}

/// A TIFF holding one strip of `width × rows` pixels with the level's encoding, up to the
/// start of its `stored` bytes of data, which the caller appends.
fn single_strip_tiff(
    level: &Level,
    order: ByteOrder,
    width: u32,
    rows: u32,
    stored: u64,
) -> Result<Vec<u8>, DecodeError> {
    let too_large = || DecodeError::from(FormatError::InvalidTag("StripByteCounts"));
    let stored = u32::try_from(stored).map_err(|_| too_large())?;
    let mut entries = vec![
        (tag::IMAGE_WIDTH, Value::Long(vec![width])),
        (tag::IMAGE_LENGTH, Value::Long(vec![rows])),
        (
            tag::BITS_PER_SAMPLE,
            Value::Short(vec![sample_bits(level.sample_type)]),
        ),
        (
            tag::COMPRESSION,
            Value::Short(vec![level.compression.code()]),
        ),
        (
            tag::PHOTOMETRIC,
            Value::Short(vec![Photometric::MinIsBlack.code()]),
        ),
        (
            tag::SAMPLES_PER_PIXEL,
            Value::Short(vec![level.chunk_samples()]),
        ),
        (tag::ROWS_PER_STRIP, Value::Long(vec![rows])),
        (tag::STRIP_BYTE_COUNTS, Value::Long(vec![stored])),
        (tag::PREDICTOR, Value::Short(vec![level.predictor])),
        (
            tag::SAMPLE_FORMAT,
            Value::Short(vec![sample_format(level.sample_type)]),
        ),
        (tag::STRIP_OFFSETS, Value::Long(vec![0])),
    ];
    if let Some(tables) = &level.jpeg_tables {
        entries.push((tag::JPEG_TABLES, Value::Undefined(tables.clone())));
    }
    let ifd_at = ifd::header_len(false);
    // The data offset depends on the directory's length, which does not depend on the offset.
    let ifd_len = ifd::encode_ifd(&mut entries, ifd_at, order, false)
        .map_err(|_| too_large())?
        .len() as u64;
    let data_at = u32::try_from(ifd_at + ifd_len).map_err(|_| too_large())?;
    if let Some((_, offsets)) = entries.iter_mut().find(|(t, _)| *t == tag::STRIP_OFFSETS) {
        *offsets = Value::Long(vec![data_at]);
    }
    let mut tiff = ifd::encode_header(order, false, ifd_at).map_err(|_| too_large())?;
    tiff.extend(ifd::encode_ifd(&mut entries, ifd_at, order, false).map_err(|_| too_large())?);
    Ok(tiff)
}

/// BitsPerSample of a sample type.
pub(super) fn sample_bits(sample_type: SampleType) -> u16 {
    sample_type.bytes() as u16 * 8
}

/// SampleFormat of a sample type.
pub(super) fn sample_format(sample_type: SampleType) -> u16 {
    match sample_type {
        SampleType::U8 | SampleType::U16 | SampleType::U32 => 1,
        SampleType::I16 => 2,
        SampleType::F32 | SampleType::F64 => 3,
    }
}

fn into_samples(decoded: DecodingResult, expected: SampleType) -> Result<Samples, DecodeError> {
    let samples = match decoded {
        DecodingResult::U8(v) => Samples::U8(v),
        DecodingResult::U16(v) => Samples::U16(v),
        DecodingResult::I16(v) => Samples::I16(v),
        DecodingResult::U32(v) => Samples::U32(v),
        DecodingResult::F32(v) => Samples::F32(v),
        DecodingResult::F64(v) => Samples::F64(v),
        _ => {
            return Err(
                FormatError::Codec("a chunk decoded to an unexpected sample type".into()).into(),
            );
        }
    };
    if samples.sample_type() == expected {
        Ok(samples)
    } else {
        Err(FormatError::Codec(format!(
            "a chunk decoded to {} instead of {expected} samples",
            samples.sample_type()
        ))
        .into())
    }
}

/// Rejects JPEG frames whose decoded size would exceed the chunk limit, before decoding.
fn check_jpeg_frame(data: &[u8], limits: &Limits) -> Result<(), DecodeError> {
    let (width, height, components) = jpeg_frame(data)
        .ok_or_else(|| FormatError::Codec("a JPEG chunk has no frame header".into()))?;
    let bytes = u64::from(width) * u64::from(height) * u64::from(components);
    Ok(check_bytes("JPEG frame", bytes, limits.max_chunk_bytes)?)
}

/// Width, height and component count from the first frame header of a JPEG stream.
fn jpeg_frame(data: &[u8]) -> Option<(u16, u16, u8)> {
    let be16 = |at: usize| Some(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]));
    let mut at = 0;
    loop {
        if *data.get(at)? != 0xFF {
            return None;
        }
        let marker = *data.get(at + 1)?;
        match marker {
            0xFF => at += 1,
            0xD8 | 0x01 | 0xD0..=0xD7 => at += 2,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return Some((be16(at + 7)?, be16(at + 5)?, *data.get(at + 9)?));
            }
            0xD9 | 0xDA => return None,
            _ => at = at.checked_add(2 + usize::from(be16(at + 2)?))?,
        }
    }
}

/// Converts 8-bit YCbCr pixels (the first three of `samples_per_pixel`) to RGB in place.
fn ycbcr_to_rgb(samples: &mut Samples, samples_per_pixel: usize) {
    let Samples::U8(pixels) = samples else { return };
    if samples_per_pixel < 3 {
        return;
    }
    let to_u8 = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    for pixel in pixels.chunks_exact_mut(samples_per_pixel) {
        if let [y, cb, cr, ..] = pixel {
            let (luma, blue, red) = (
                f32::from(*y),
                f32::from(*cb) - 128.0,
                f32::from(*cr) - 128.0,
            );
            *y = to_u8(luma + 1.402 * red);
            *cb = to_u8(luma - 0.344_136 * blue - 0.714_136 * red);
            *cr = to_u8(luma + 1.772 * blue);
        }
    }
}

/// Where one decoded chunk's samples go in a window's samples.
#[derive(Debug, Clone, Copy)]
pub(super) struct Placement {
    /// Width of the decoded chunk, in pixels.
    pub chunk_width: u32,
    /// Samples per pixel in the chunk.
    pub chunk_samples: usize,
    /// Samples per pixel in the window.
    pub bands: usize,
}

impl Placement {
    /// Copies the part of `chunk` (at `place`) that overlaps `window` into `out`.
    pub fn copy(
        &self,
        chunk: &Samples,
        place: &ChunkPlace,
        window: Window,
        out: &mut Samples,
    ) -> Result<(), DecodeError> {
        let Some(overlap) = place.area.intersect(&window) else {
            return Ok(());
        };
        let rect = Rect {
            src_x: (overlap.x - place.area.x) as usize,
            src_y: (overlap.y - place.area.y) as usize,
            dst_x: (overlap.x - window.x) as usize,
            dst_y: (overlap.y - window.y) as usize,
            width: overlap.width as usize,
            height: overlap.height as usize,
            dst_width: window.width as usize,
            band: place.band,
        };
        let copied = crate::with_samples!(chunk, S(s) => match out {
            S(d) => self.copy_rect(s, d, &rect),
            _ => None,
        });
        copied.ok_or_else(|| {
            FormatError::Codec(format!("chunk {} does not fit its place", place.index)).into()
        })
    }

    fn copy_rect<T: Copy>(&self, src: &[T], dst: &mut [T], rect: &Rect) -> Option<()> {
        let (spp, bands) = (self.chunk_samples, self.bands);
        let src_row = self.chunk_width as usize * spp;
        let dst_row = rect.dst_width * bands;
        for row in 0..rect.height {
            let s = (rect.src_y + row) * src_row + rect.src_x * spp;
            let d = (rect.dst_y + row) * dst_row + rect.dst_x * bands;
            let src = src.get(s..s + rect.width * spp)?;
            let dst = dst.get_mut(d..d + rect.width * bands)?;
            if spp == bands {
                dst.copy_from_slice(src);
            } else {
                for (to, from) in dst.chunks_exact_mut(bands).zip(src.chunks_exact(spp)) {
                    to.get_mut(rect.band..rect.band + spp)?
                        .copy_from_slice(from);
                }
            }
        }
        Some(())
    }
}

/// The overlap of a chunk and a window, in chunk and in window coordinates.
#[derive(Debug)]
struct Rect {
    src_x: usize,
    src_y: usize,
    dst_x: usize,
    dst_y: usize,
    width: usize,
    height: usize,
    dst_width: usize,
    band: usize,
}
