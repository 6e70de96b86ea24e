//! Errors of decoding and encoding GeoTIFFs.

use super::info::Compression;
use crate::raster::{SampleType, Window};

/// Why a GeoTIFF could not be opened or a window not decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("not a TIFF file (bad magic bytes)")]
    NotTiff,
    #[error("file is truncated: {0}")]
    Truncated(String),
    #[error("malformed TIFF: {0}")]
    Format(#[from] FormatError),
    #[error("{0}")]
    Unsupported(#[from] Unsupported),
    #[error("{0}")]
    LimitsExceeded(#[from] LimitExceeded),
    #[error(
        "window {},{} {}x{} lies outside the {width}x{height} raster",
        window.x, window.y, window.width, window.height
    )]
    WindowOutside {
        window: Window,
        width: u32,
        height: u32,
    },
    #[error("level {level} does not exist: the raster has {levels} levels")]
    NoSuchLevel { level: usize, levels: usize },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// The file breaks the TIFF or GeoTIFF rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    #[error("the required tag {0} is missing")]
    MissingTag(&'static str),
    #[error("the tag {0} has an invalid value")]
    InvalidTag(&'static str),
    #[error("{tag} lists {found} chunks where the image has {expected}")]
    ChunkCount {
        tag: &'static str,
        expected: u64,
        found: u64,
    },
    #[error("the image file directories form a loop")]
    IfdLoop,
    #[error("chunk {chunk} decoded to {found} samples instead of {expected}")]
    ChunkSize {
        chunk: u32,
        expected: usize,
        found: usize,
    },
    #[error("{0}")]
    Codec(String),
}

/// The file is valid but uses something this decoder does not implement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    #[error("{0} compression ({code}) is not supported", code = .0.code())]
    Compression(Compression),
    #[error("{bits}-bit {} samples are not supported", sample_format_name(*.format))]
    SampleFormat { format: u16, bits: u16 },
    #[error("bands with different bit depths or sample formats are not supported")]
    MixedSamples,
    #[error("predictor {predictor} with {sample_type} samples is not supported")]
    Predictor {
        predictor: u16,
        sample_type: SampleType,
    },
    #[error("YCbCr images without JPEG compression are not supported")]
    YCbCrWithoutJpeg,
    #[error("{0} is not supported")]
    Codec(String),
}

fn sample_format_name(format: u16) -> &'static str {
    match format {
        1 => "unsigned integer",
        2 => "signed integer",
        3 => "floating-point",
        4 => "untyped",
        5 => "complex integer",
        6 => "complex floating-point",
        _ => "unknown-format",
    }
}

/// A resource bound of [`super::Limits`] would be exceeded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitExceeded {
    #[error("the {what} needs {bytes} bytes, more than the limit of {limit} bytes")]
    Bytes {
        what: &'static str,
        bytes: u64,
        limit: usize,
    },
    #[error("the file has more than {limit} image file directories")]
    Ifds { limit: usize },
    #[error("the image is {width} x {height} pixels: each side may be at most {max_side} pixels")]
    Side {
        width: u32,
        height: u32,
        max_side: u32,
    },
    #[error(
        "the image is {width} x {height} = {pixels} pixels, more than the limit of {limit} pixels"
    )]
    Pixels {
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },
    #[error(
        "the image claims {width} x {height} pixels but the file has only {file_len} bytes, more than {limit} pixels per byte: nearly all of its chunks are missing"
    )]
    Sparse {
        width: u32,
        height: u32,
        file_len: u64,
        limit: u64,
    },
    #[error(
        "the file's structure (directories, tag values and chunk tables of all its images) claims more than {budget} bytes of memory, the limit for a {file_len}-byte file"
    )]
    Structure { budget: u64, file_len: u64 },
    #[error("decoding {0} exceeds the decoder limits")]
    Decoder(String),
}

/// Why a GeoTIFF could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    #[error("invalid writer options: {0}")]
    InvalidOptions(String),
    #[error("strip {strip} has {found} {found_type} samples, expected {expected} {expected_type}")]
    StripMismatch {
        strip: u32,
        expected: usize,
        expected_type: SampleType,
        found: usize,
        found_type: SampleType,
    },
    #[error("all {height} rows were already written")]
    TooManyStrips { height: u32 },
    #[error("only {written} of {total} tiles were written")]
    Incomplete { written: u64, total: u64 },
    #[error("window {x},{y} {width}x{height} is not a run of whole 256x256 tiles of the raster")]
    NotTileAligned {
        x: u32,
        y: u32,
        width: u32,
        height: u32,
    },
    #[error("tile (column {column}, row {row}) is outside the raster or was already written")]
    TileMismatch { column: u32, row: u32 },
    #[error("tile (column {column}, row {row}) does not decompress to a 256x256 tile")]
    CorruptTile { column: u32, row: u32 },
    #[error("the file is too large for TIFF offsets")]
    TooLarge,
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

const _: () = assert!(std::mem::size_of::<DecodeError>() <= 64);
const _: () = assert!(std::mem::size_of::<EncodeError>() <= 64);
