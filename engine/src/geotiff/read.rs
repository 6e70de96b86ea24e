//! Windowed decoding of GeoTIFF and BigTIFF files.

use std::collections::{HashSet, VecDeque};
use std::io::{Read, Seek};

use super::chunk::{Placement, check_bytes, decode_chunk};
pub use super::error::DecodeError;
use super::error::{FormatError, LimitExceeded};
use super::geokeys::{GeoReference, RawGeoTags};
use super::ifd::{ByteOrder, tag};
use super::info::RasterInfo;
use super::level::Level;
use super::limits::Limits;
use super::tags::{Directory, Tags, TiffFile};
use crate::raster::{PixelBlock, Samples, Window};

const NEW_SUBFILE_TYPE: u16 = 254;
const REDUCED_RESOLUTION: u64 = 1;
const TRANSPARENCY_MASK: u64 = 4;

/// Decodes windows of any level of a GeoTIFF from a `Read + Seek` source.
///
/// Only the chunks a window touches are read and decoded; the most recently decoded chunks are
/// kept (up to [`Limits::chunk_cache_bytes`]) for neighbouring windows.
#[derive(Debug)]
pub struct GeoTiffReader<R: Read + Seek> {
    file: TiffFile<R>,
    info: RasterInfo,
    levels: Vec<Level>,
    limits: Limits,
    cache: ChunkCache,
}

impl<R: Read + Seek> GeoTiffReader<R> {
    /// Opens a file with the default [`Limits`].
    pub fn open(source: R) -> Result<Self, DecodeError> {
        Self::with_limits(source, Limits::default())
    }

    /// Opens a file: reads its header and directories, but no pixels.
    pub fn with_limits(source: R, limits: Limits) -> Result<Self, DecodeError> {
        let (mut file, first) = TiffFile::open(source, limits.max_tag_bytes)?;
        let directories = read_directories(&mut file, first, &limits)?;
        let (first, rest) = directories
            .split_first()
            .ok_or(FormatError::MissingTag("ImageWidth"))?;
        let mut tags = Tags {
            file: &mut file,
            dir: first,
        };
        let full = Level::parse(&mut tags)?;
        let mut info = describe(&mut tags, &full)?;
        let mut levels = vec![full];
        for dir in rest {
            if let Some(overview) = overview(&mut Tags {
                file: &mut file,
                dir,
            }) {
                info.overviews.push((overview.width, overview.height));
                levels.push(overview);
            }
        }
        Ok(Self {
            file,
            info,
            levels,
            cache: ChunkCache::new(limits.chunk_cache_bytes),
            limits,
        })
    }

    /// What the file holds.
    pub fn info(&self) -> &RasterInfo {
        &self.info
    }

    /// Decodes a window of the full-resolution image.
    pub fn read_window(&mut self, window: Window) -> Result<PixelBlock, DecodeError> {
        self.read_window_at_level(0, window)
    }

    /// Decodes a window of level `level` (0 full resolution, 1.. overviews), every band,
    /// pixel-interleaved. YCbCr JPEG images are returned as RGB.
    pub fn read_window_at_level(
        &mut self,
        level: usize,
        window: Window,
    ) -> Result<PixelBlock, DecodeError> {
        let levels = self.levels.len();
        let image = self
            .levels
            .get(level)
            .ok_or(DecodeError::NoSuchLevel { level, levels })?;
        let inside = |end: Option<u32>, size: u32| end.is_some_and(|end| end <= size);
        if !inside(window.x.checked_add(window.width), image.width)
            || !inside(window.y.checked_add(window.height), image.height)
        {
            return Err(DecodeError::WindowOutside {
                window,
                width: image.width,
                height: image.height,
            });
        }
        let bands = usize::from(image.samples);
        let len = u64::from(window.width) * u64::from(window.height) * bands as u64;
        let bytes = len.saturating_mul(image.sample_type.bytes() as u64);
        check_bytes("window", bytes, self.limits.max_window_bytes)?;
        let len = usize::try_from(len).map_err(|_| LimitExceeded::Bytes {
            what: "window",
            bytes,
            limit: self.limits.max_window_bytes,
        })?;
        let mut samples = Samples::zeroed(image.sample_type, len);
        if !window.is_empty() {
            let placement = Placement {
                chunk_width: image.chunk_size().0,
                chunk_samples: usize::from(image.chunk_samples()),
                bands,
            };
            for place in image.chunks_in(window) {
                let chunk = self.cache.get_or_insert_with((level, place.index), || {
                    decode_chunk(&mut self.file, image, &place, &self.limits)
                })?;
                placement.copy(chunk, &place, window, &mut samples)?;
            }
        }
        Ok(PixelBlock {
            window,
            bands,
            samples,
        })
    }
}

/// Every directory of the main chain, in file order, starting at offset `first`.
fn read_directories<R: Read + Seek>(
    file: &mut TiffFile<R>,
    first: u64,
    limits: &Limits,
) -> Result<Vec<Directory>, DecodeError> {
    let mut next = first;
    let mut seen = HashSet::new();
    let mut directories = Vec::new();
    while next != 0 {
        if !seen.insert(next) {
            return Err(FormatError::IfdLoop.into());
        }
        if directories.len() >= limits.max_ifds {
            return Err(LimitExceeded::Ifds {
                limit: limits.max_ifds,
            }
            .into());
        }
        let directory = file.read_directory(next)?;
        next = directory.next;
        directories.push(directory);
    }
    Ok(directories)
}

/// The reduced-resolution image of a directory, if it is one that can be decoded.
fn overview<R: Read + Seek>(tags: &mut Tags<'_, R>) -> Option<Level> {
    let kind = tags.uint(NEW_SUBFILE_TYPE, "NewSubfileType").ok()??;
    let is_overview = kind & REDUCED_RESOLUTION != 0 && kind & TRANSPARENCY_MASK == 0;
    is_overview.then(|| Level::parse(tags).ok()).flatten()
}

/// The description of a file from its first directory.
fn describe<R: Read + Seek>(
    tags: &mut Tags<'_, R>,
    full: &Level,
) -> Result<RasterInfo, DecodeError> {
    let bands = usize::from(full.samples);
    let extra = tags
        .shorts(tag::EXTRA_SAMPLES, "ExtraSamples")?
        .unwrap_or_default();
    let first_extra = bands.saturating_sub(extra.len());
    let alpha_band = extra
        .iter()
        .position(|&e| e == 1 || e == 2)
        .map(|i| first_extra + i);
    let nodata = tags
        .ascii(tag::GDAL_NODATA, "GDAL_NODATA")?
        .and_then(|s| parse_nodata(&s));
    Ok(RasterInfo {
        width: full.width,
        height: full.height,
        bands,
        sample_type: full.sample_type,
        compression: full.compression,
        predictor: full.predictor,
        layout: full.layout,
        planar: full.planar,
        photometric: full.photometric,
        alpha_band,
        nodata,
        georef: GeoReference::from_raw(raw_geo_tags(tags)?),
        overviews: Vec::new(),
        big_tiff: tags.file.big_tiff,
        little_endian: tags.file.order == ByteOrder::Little,
        gdal_metadata: tags.ascii(tag::GDAL_METADATA, "GDAL_METADATA")?,
    })
}

fn raw_geo_tags<R: Read + Seek>(tags: &mut Tags<'_, R>) -> Result<RawGeoTags, DecodeError> {
    Ok(RawGeoTags {
        model_pixel_scale: tags.doubles(tag::MODEL_PIXEL_SCALE, "ModelPixelScale")?,
        model_tiepoint: tags.doubles(tag::MODEL_TIEPOINT, "ModelTiepoint")?,
        model_transformation: tags.doubles(tag::MODEL_TRANSFORMATION, "ModelTransformation")?,
        geo_key_directory: tags
            .shorts(tag::GEO_KEY_DIRECTORY, "GeoKeyDirectory")?
            .unwrap_or_default(),
        geo_double_params: tags.doubles(tag::GEO_DOUBLE_PARAMS, "GeoDoubleParams")?,
        geo_ascii_params: tags.ascii(tag::GEO_ASCII_PARAMS, "GeoAsciiParams")?,
    })
}

/// Parses a GDAL_NODATA value; "nan" in any case and sign is NaN.
fn parse_nodata(text: &str) -> Option<f64> {
    let text = text
        .trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .to_ascii_lowercase();
    match text.trim_start_matches(['-', '+']) {
        "nan" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

/// Identifies a decoded chunk: level and chunk index.
type ChunkKey = (usize, u32);

/// The most recently used decoded chunks, bounded in bytes (the newest is always kept).
#[derive(Debug)]
struct ChunkCache {
    entries: VecDeque<(ChunkKey, Samples)>,
    bytes: usize,
    capacity: usize,
}

impl ChunkCache {
    fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            bytes: 0,
            capacity,
        }
    }

    fn get_or_insert_with(
        &mut self,
        key: ChunkKey,
        decode: impl FnOnce() -> Result<Samples, DecodeError>,
    ) -> Result<&Samples, DecodeError> {
        let entry = match self.entries.iter().position(|(k, _)| *k == key) {
            Some(pos) => self.entries.remove(pos),
            None => None,
        };
        let entry = match entry {
            Some(entry) => entry,
            None => {
                let samples = decode()?;
                self.bytes += byte_len(&samples);
                (key, samples)
            }
        };
        self.entries.push_back(entry);
        while self.bytes > self.capacity && self.entries.len() > 1 {
            if let Some((_, evicted)) = self.entries.pop_front() {
                self.bytes -= byte_len(&evicted);
            }
        }
        self.entries
            .back()
            .map(|(_, samples)| samples)
            .ok_or_else(|| FormatError::Codec("the chunk cache lost a chunk".into()).into())
    }
}

fn byte_len(samples: &Samples) -> usize {
    samples.len() * samples.sample_type().bytes()
}
