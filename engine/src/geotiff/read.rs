//! Windowed decoding of GeoTIFF and BigTIFF files.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Seek};
use std::sync::Arc;

use super::chunk::{Placement, check_bytes, decode_chunk};
pub use super::error::DecodeError;
use super::error::{FormatError, LimitExceeded};
use super::geokeys::{GeoReference, RawGeoTags};
use super::ifd::{ByteOrder, tag};
use super::info::RasterInfo;
use super::level::{ChunkPlace, Level};
use super::limits::{DENSITY_FREE_PIXELS, Limits};
use super::tags::{Directory, Tags, TiffFile};
use crate::raster::{PixelBlock, Samples, Window};

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
    /// The parsed images, shared by every reader of the same file ([`GeoTiffReader::reopen`]).
    levels: Arc<[Level]>,
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
        let (mut file, first) = TiffFile::open(source, &limits)?;
        let directories = read_directories(&mut file, first, &limits)?;
        let (first, rest) = directories
            .split_first()
            .ok_or(FormatError::MissingTag("ImageWidth"))?;
        let mut tags = Tags {
            file: &mut file,
            dir: first,
        };
        let full = Level::parse(&mut tags)?;
        check_dimensions(&full, &limits, tags.file.len)?;
        let mut info = describe(&mut tags, &full)?;
        let mut levels = vec![full];
        for dir in rest {
            let mut tags = Tags {
                file: &mut file,
                dir,
            };
            if let Some(overview) = overview(&mut tags, &levels[0])? {
                info.overviews.push((overview.width, overview.height));
                levels.push(overview);
            }
        }
        Ok(Self {
            file,
            info,
            levels: levels.into(),
            cache: ChunkCache::new(limits.chunk_cache_bytes),
            limits,
        })
    }

    /// A second reader of the same file through `source` (another handle on it, for another
    /// thread), sharing this one's parsed structure instead of parsing and holding it again.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] when `source` does not have the file's length.
    pub fn reopen<S: Read + Seek>(&self, source: S) -> Result<GeoTiffReader<S>, DecodeError> {
        Ok(GeoTiffReader {
            file: self.file.with_source(source)?,
            info: self.info.clone(),
            levels: Arc::clone(&self.levels),
            cache: ChunkCache::new(self.limits.chunk_cache_bytes),
            limits: self.limits.clone(),
        })
    }

    /// What the file holds.
    pub fn info(&self) -> &RasterInfo {
        &self.info
    }

    /// Width and height of the chunks of level `level` (0 full resolution, 1.. overviews):
    /// its tiles, or its strips (as wide as the level); `None` past the last level.
    pub fn chunk_size(&self, level: usize) -> Option<(u32, u32)> {
        self.levels.get(level).map(Level::chunk_size)
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
            // The chunks held first (decoding the others may push them out).
            for place in image.chunks_in(window) {
                if let Some(chunk) = self.cache.get(&(level, place.index)) {
                    placement.copy(&chunk, &place, window, &mut samples)?;
                }
            }
            // Then the others, run by run: neighbours in the file are read at once.
            let mut runs = ChunkRuns::new(image.chunks_in(window), self.file.len);
            while let Some(range) = runs.next_run(image, |p| self.cache.holds(&(level, p.index))) {
                if let Some((offset, len)) = range {
                    self.file.source.prefetch(offset, len)?;
                }
                for place in &runs.run {
                    let chunk = self.cache.get_or_insert_with((level, place.index), || {
                        decode_chunk(&mut self.file, image, place, &self.limits)
                    })?;
                    placement.copy(&chunk, place, window, &mut samples)?;
                }
            }
        }
        Ok(PixelBlock {
            window,
            bands,
            samples,
        })
    }

    /// Reads the file span holding the chunks of `windows` (of `level`) that the chunk cache
    /// does not hold, in one read, when the span is at most `max_span` bytes and at least half
    /// of it is their bytes: a caller about to read windows whose chunks lie near each other
    /// in the file but not side by side (one row of a preview's strided chunks) then pays for
    /// one read instead of one per chunk, which matters where a read costs far more than its
    /// bytes (a browser's `FileReaderSync`). Otherwise, and for windows outside the level or
    /// chunks whose location is not plausible, it reads nothing: the reads do as usual.
    pub fn prefetch_windows(
        &mut self,
        level: usize,
        windows: &[Window],
        max_span: usize,
    ) -> Result<(), DecodeError> {
        if let Some((start, len)) = self.prefetch_span(level, windows, max_span) {
            self.file.source.prefetch(start, len)?;
        }
        Ok(())
    }

    /// The file span `(offset, length)` that [`Self::prefetch_windows`] reads now for the same
    /// arguments, if it reads one.
    pub fn prefetch_span(
        &self,
        level: usize,
        windows: &[Window],
        max_span: usize,
    ) -> Option<(u64, usize)> {
        let image = self.levels.get(level)?;
        let (mut start, mut end, mut bytes) = (u64::MAX, 0u64, 0u64);
        for &window in windows {
            if !image.contains(window) {
                continue;
            }
            for place in image.chunks_in(window) {
                if self.cache.holds(&(level, place.index)) {
                    continue;
                }
                if let Some((offset, e)) = image.location(place.index, self.file.len) {
                    start = start.min(offset);
                    end = end.max(e);
                    bytes += e - offset;
                }
            }
        }
        let span = end.saturating_sub(start);
        (bytes > 0 && span <= max_span as u64 && span <= 2 * bytes)
            .then(|| self.file.source.span_prefetch(start, span as usize))?
    }

    /// The file ranges, as `(offset, length)` in file order of the window's chunks, that
    /// [`Self::read_window_at_level`] would read for `window` of `level` now: one per run of
    /// neighbouring chunks not held in the chunk cache (a chunk alone is a run of its own).
    /// A source whose reads are slow or asynchronous can fetch them ahead; the read then asks
    /// for exactly these ranges. Chunks whose location is not plausible are left out (their
    /// read reports them); an empty list means nothing is read.
    pub fn ranges_to_read(
        &self,
        level: usize,
        window: Window,
    ) -> Result<Vec<(u64, usize)>, DecodeError> {
        let source = &self.file.source;
        self.runs_of(
            level,
            window,
            |p| self.cache.holds(&(level, p.index)),
            |offset, len| source.span_prefetch(offset, len),
            |offset, len| source.span_read_at(offset, len),
        )
    }

    /// The file ranges that a reader of this file, its chunk cache holding only the chunks
    /// of `held` (a window of `level`, when given) and its buffer nothing, reads for `window`
    /// of `level`: what another thread's reader asks for as it moves from window to window
    /// (the next unit of a run), so that this one can fetch them for it. Empty when `window`
    /// does not lie inside the level.
    pub fn ranges_after(
        &self,
        level: usize,
        window: Window,
        held: Option<Window>,
    ) -> Result<Vec<(u64, usize)>, DecodeError> {
        let source = &self.file.source;
        let file_len = self.file.len;
        self.runs_of(
            level,
            window,
            |p| held.is_some_and(|h| h.intersect(&p.area).is_some()),
            |offset, len| {
                offset
                    .checked_add(len as u64)
                    .is_some_and(|e| e <= file_len)
                    .then_some((offset, len))
            },
            |offset, len| Some(source.span_unbuffered(offset, len)),
        )
    }

    /// The ranges of the runs of the chunks of `window` (of `level`) not `held`: a run of
    /// several chunks as `prefetch` reads it, a chunk alone as `read_at` reads it (`None`:
    /// nothing is read). Empty when `window` does not lie inside the level.
    fn runs_of(
        &self,
        level: usize,
        window: Window,
        held: impl Fn(&ChunkPlace) -> bool,
        prefetch: impl Fn(u64, usize) -> Option<(u64, usize)>,
        read_at: impl Fn(u64, usize) -> Option<(u64, usize)>,
    ) -> Result<Vec<(u64, usize)>, DecodeError> {
        let levels = self.levels.len();
        let image = self
            .levels
            .get(level)
            .ok_or(DecodeError::NoSuchLevel { level, levels })?;
        let mut ranges = Vec::new();
        if !image.contains(window) {
            return Ok(ranges);
        }
        let mut runs = ChunkRuns::new(image.chunks_in(window), self.file.len);
        while let Some(range) = runs.next_run(image, &held) {
            let range = match range {
                Some((offset, len)) => prefetch(offset, len),
                None => runs.run.first().and_then(|p| {
                    let (offset, end) = image.location(p.index, self.file.len)?;
                    read_at(offset, usize::try_from(end - offset).ok()?)
                }),
            };
            ranges.extend(range);
        }
        Ok(ranges)
    }
}

/// Largest run of chunk bytes read at once.
const MAX_RUN_BYTES: u64 = 4 << 20;

/// Largest gap of unused bytes between two chunks of one run.
const MAX_RUN_GAP: u64 = 64 << 10;

/// Most chunks in one run.
const MAX_RUN_CHUNKS: usize = 256;

/// The chunks of a window not yet decoded, cut into runs of neighbours in the file: each
/// follows the one before within [`MAX_RUN_GAP`] bytes, up to [`MAX_RUN_BYTES`] and
/// [`MAX_RUN_CHUNKS`]. Chunks come in the order [`Level::chunks_in`] gives, which is file order
/// for files written row by row. A chunk whose location is not plausible is a run of its own,
/// left to the decoder, which reports it.
struct ChunkRuns<I> {
    chunks: I,
    file_len: u64,
    /// The chunk that ended the last run, the first of the next.
    carried: Option<ChunkPlace>,
    /// The current run.
    run: Vec<ChunkPlace>,
}

impl<I: Iterator<Item = ChunkPlace>> ChunkRuns<I> {
    fn new(chunks: I, file_len: u64) -> Self {
        Self {
            chunks,
            file_len,
            carried: None,
            run: Vec::new(),
        }
    }

    /// Gathers the next run of chunks that are not `held` into [`Self::run`]; returns its file
    /// range (offset, length) when it has two chunks or more (one chunk is read alone, as it
    /// would be anyway), `None` when no chunk is left.
    fn next_run(
        &mut self,
        level: &Level,
        held: impl Fn(&ChunkPlace) -> bool,
    ) -> Option<Option<(u64, usize)>> {
        self.run.clear();
        let first = self
            .carried
            .take()
            .or_else(|| self.chunks.by_ref().find(|p| !held(p)))?;
        self.run.push(first);
        let file_len = self.file_len;
        let location = |p: &ChunkPlace| level.location(p.index, file_len);
        let Some((start, mut end)) = location(&first) else {
            return Some(None);
        };
        while self.run.len() < MAX_RUN_CHUNKS {
            let Some(next) = self.chunks.by_ref().find(|p| !held(p)) else {
                break;
            };
            match location(&next) {
                Some((o, e))
                    if o >= end && o - end <= MAX_RUN_GAP && e - start <= MAX_RUN_BYTES =>
                {
                    end = e;
                    self.run.push(next);
                }
                _ => {
                    self.carried = Some(next);
                    break;
                }
            }
        }
        Some((self.run.len() > 1).then(|| (start, (end - start) as usize)))
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

/// Refuses images whose sides or pixel count exceed the limits, or that claim far more pixels
/// than a file of `file_len` bytes can hold, before anything sized by them is planned or
/// allocated.
fn check_dimensions(level: &Level, limits: &Limits, file_len: u64) -> Result<(), LimitExceeded> {
    let (width, height) = (level.width, level.height);
    if width > limits.max_side || height > limits.max_side {
        return Err(LimitExceeded::Side {
            width,
            height,
            max_side: limits.max_side,
        });
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(LimitExceeded::Pixels {
            width,
            height,
            pixels,
            limit: limits.max_pixels,
        });
    }
    let density_limit = file_len.saturating_mul(limits.max_pixels_per_byte);
    if pixels > DENSITY_FREE_PIXELS && pixels > density_limit {
        return Err(LimitExceeded::Sparse {
            width,
            height,
            file_len,
            limit: limits.max_pixels_per_byte,
        });
    }
    Ok(())
}

/// The reduced-resolution image of a directory, if it is one that can be decoded, has the bands
/// and sample type of the full-resolution image `full` and is no larger than it (GDAL ignores
/// other directories too). A directory that would break the structure budget is an error, not
/// a skipped overview: the budget bounds the whole file.
fn overview<R: Read + Seek>(
    tags: &mut Tags<'_, R>,
    full: &Level,
) -> Result<Option<Level>, DecodeError> {
    let Ok(Some(kind)) = tags.uint(tag::NEW_SUBFILE_TYPE, "NewSubfileType") else {
        return Ok(None);
    };
    let is_overview = kind & REDUCED_RESOLUTION != 0 && kind & TRANSPARENCY_MASK == 0;
    if !is_overview {
        return Ok(None);
    }
    match Level::parse(tags) {
        Ok(level) => Ok(Some(level).filter(|level| {
            level.samples == full.samples
                && level.sample_type == full.sample_type
                && level.width <= full.width
                && level.height <= full.height
        })),
        Err(DecodeError::LimitsExceeded(e @ LimitExceeded::Structure { .. })) => Err(e.into()),
        Err(_) => Ok(None),
    }
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
    // ExtraSamples describes the last bands. One that lists more entries than the file has
    // bands is malformed and ignored, as libtiff does, so no band index is ever taken from it
    // past the last band.
    let alpha_band = match extra.len() {
        n if n > bands => None,
        n => extra
            .iter()
            .position(|&e| e == 1 || e == 2)
            .map(|i| bands - n + i),
    };
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
        palette: tags
            .shorts(tag::COLOR_MAP, "ColorMap")?
            .and_then(|map| palette(&map)),
    })
}

/// A ColorMap (all reds, then all greens, then all blues, 16 bits each) as 8-bit colours;
/// `None` when its length is not three equal parts.
fn palette(map: &[u16]) -> Option<Vec<[u8; 3]>> {
    let n = map.len() / 3;
    if n == 0 || map.len() != 3 * n {
        return None;
    }
    let eight = |v: u16| (v / 257) as u8;
    Some(
        (0..n)
            .map(|i| [eight(map[i]), eight(map[n + i]), eight(map[2 * n + i])])
            .collect(),
    )
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

/// What keeping one chunk costs beyond its samples (hash slot, order entry, allocations), so
/// that millions of tiny chunks fill the budget as they fill memory.
const CHUNK_OVERHEAD_BYTES: usize = 128;

/// The most recently used decoded chunks, bounded in bytes: the newest is always kept, the
/// older ones (least recently used first) only while they fit. Lookups are hashed, so a
/// window over millions of tiny chunks costs time in proportion to its chunks.
#[derive(Debug)]
struct ChunkCache {
    chunks: HashMap<ChunkKey, (u64, Arc<Samples>)>,
    /// Keys by the time of their last use, oldest first.
    by_use: BTreeMap<u64, ChunkKey>,
    clock: u64,
    /// Bytes held by `chunks`, overhead included.
    bytes: usize,
    capacity: usize,
}

impl ChunkCache {
    fn new(capacity: usize) -> Self {
        Self {
            chunks: HashMap::new(),
            by_use: BTreeMap::new(),
            clock: 0,
            bytes: 0,
            capacity,
        }
    }

    /// Whether chunk `key` is held (without counting as a use).
    fn holds(&self, key: &ChunkKey) -> bool {
        self.chunks.contains_key(key)
    }

    /// The chunk `key` if it is held; it becomes the newest.
    fn get(&mut self, key: &ChunkKey) -> Option<Arc<Samples>> {
        self.clock += 1;
        let now = self.clock;
        let (used, samples) = self.chunks.get_mut(key)?;
        self.by_use.remove(used);
        *used = now;
        self.by_use.insert(now, *key);
        Some(Arc::clone(samples))
    }

    /// The chunk `key`, decoded by `decode` unless it is cached; it becomes the newest.
    fn get_or_insert_with(
        &mut self,
        key: ChunkKey,
        decode: impl FnOnce() -> Result<Samples, DecodeError>,
    ) -> Result<Arc<Samples>, DecodeError> {
        if let Some(samples) = self.get(&key) {
            return Ok(samples);
        }
        let now = self.clock;
        let samples = Arc::new(decode()?);
        let cost = chunk_cost(&samples);
        while self.bytes + cost > self.capacity {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            if let Some((_, evicted)) = self.chunks.remove(&oldest) {
                self.bytes -= chunk_cost(&evicted);
            }
        }
        self.bytes += cost;
        self.chunks.insert(key, (now, Arc::clone(&samples)));
        self.by_use.insert(now, key);
        Ok(samples)
    }
}

fn chunk_cost(samples: &Samples) -> usize {
    samples.len() * samples.sample_type().bytes() + CHUNK_OVERHEAD_BYTES
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::geotiff::ifd::{self, Value};

    /// A little-endian TIFF holding a 4×4 image of `bands` 8-bit bands, then a 2×2
    /// reduced-resolution image of `overview_bands` bands.
    fn with_overview(bands: u16, overview_bands: u16) -> Vec<u8> {
        let order = ByteOrder::Little;
        let directory = |size: u32, samples: u16, kind: u32, data_at: u64, ifd_at: u64| {
            let data_len = size * size * u32::from(samples);
            let data_at = u32::try_from(data_at).expect("a small file");
            let mut entries = vec![
                (tag::NEW_SUBFILE_TYPE, Value::Long(vec![kind])),
                (tag::IMAGE_WIDTH, Value::Long(vec![size])),
                (tag::IMAGE_LENGTH, Value::Long(vec![size])),
                (tag::BITS_PER_SAMPLE, Value::Short(vec![8])),
                (tag::COMPRESSION, Value::Short(vec![1])),
                (tag::PHOTOMETRIC, Value::Short(vec![1])),
                (tag::SAMPLES_PER_PIXEL, Value::Short(vec![samples])),
                (tag::ROWS_PER_STRIP, Value::Long(vec![size])),
                (tag::STRIP_OFFSETS, Value::Long(vec![data_at])),
                (tag::STRIP_BYTE_COUNTS, Value::Long(vec![data_len])),
            ];
            let bytes = ifd::encode_ifd(&mut entries, ifd_at, order, false).expect("encodes");
            (bytes, entries.len())
        };
        let first_at = ifd::header_len(false);
        let (first_len, _) = directory(4, bands, 0, 0, first_at);
        let second_at = first_at + first_len.len() as u64;
        let (second_len, _) = directory(2, overview_bands, 1, 0, second_at);
        let data_at = second_at + second_len.len() as u64;
        let full_len = 16 * u64::from(bands);
        let (mut first, entries) = directory(4, bands, 0, data_at, first_at);
        let (second, _) = directory(2, overview_bands, 1, data_at + full_len, second_at);
        // Chain the first directory to the second.
        let next = 2 + 12 * entries;
        let second_at = u32::try_from(second_at).expect("a small file");
        first[next..next + 4].copy_from_slice(&second_at.to_le_bytes());
        let mut tiff = ifd::encode_header(order, false, first_at).expect("encodes");
        tiff.extend(first);
        tiff.extend(second);
        tiff.extend((0..full_len + 4 * u64::from(overview_bands)).map(|i| i as u8));
        tiff
    }

    /// A little-endian TIFF of a `size` × `size` 8-bit image in `tile` × `tile` tiles that were
    /// never written (every byte count 0).
    fn sparse(size: u32, tile: u32) -> Vec<u8> {
        let chunks = (size.div_ceil(tile) * size.div_ceil(tile)) as usize;
        let mut entries = vec![
            (tag::IMAGE_WIDTH, Value::Long(vec![size])),
            (tag::IMAGE_LENGTH, Value::Long(vec![size])),
            (tag::BITS_PER_SAMPLE, Value::Short(vec![8])),
            (tag::TILE_WIDTH, Value::Long(vec![tile])),
            (tag::TILE_LENGTH, Value::Long(vec![tile])),
            (tag::TILE_OFFSETS, Value::Long(vec![0; chunks])),
            (tag::TILE_BYTE_COUNTS, Value::Long(vec![0; chunks])),
        ];
        let at = ifd::header_len(false);
        let mut tiff = ifd::encode_header(ByteOrder::Little, false, at).expect("encodes");
        tiff.extend(ifd::encode_ifd(&mut entries, at, ByteOrder::Little, false).expect("encodes"));
        tiff
    }

    /// A little-endian TIFF of a 1536 × 256 RGB 8-bit image, uncompressed, in six 256 × 256
    /// tiles one after the other (192 KiB each, byte `i` of tile `t` holding `i * 7 + t`).
    fn six_tiles() -> Vec<u8> {
        let tile_len = 256 * 256 * 3u32;
        let mut entries = vec![
            (tag::IMAGE_WIDTH, Value::Long(vec![1536])),
            (tag::IMAGE_LENGTH, Value::Long(vec![256])),
            (tag::BITS_PER_SAMPLE, Value::Short(vec![8, 8, 8])),
            (tag::COMPRESSION, Value::Short(vec![1])),
            (tag::PHOTOMETRIC, Value::Short(vec![2])),
            (tag::SAMPLES_PER_PIXEL, Value::Short(vec![3])),
            (tag::TILE_WIDTH, Value::Long(vec![256])),
            (tag::TILE_LENGTH, Value::Long(vec![256])),
            (tag::TILE_OFFSETS, Value::Long(vec![0; 6])),
            (tag::TILE_BYTE_COUNTS, Value::Long(vec![tile_len; 6])),
        ];
        let at = ifd::header_len(false);
        let len = ifd::encode_ifd(&mut entries.clone(), at, ByteOrder::Little, false)
            .expect("encodes")
            .len() as u32;
        let data_at = at as u32 + len;
        entries[8].1 = Value::Long((0..6).map(|t| data_at + t * tile_len).collect());
        let mut tiff = ifd::encode_header(ByteOrder::Little, false, at).expect("encodes");
        tiff.extend(ifd::encode_ifd(&mut entries, at, ByteOrder::Little, false).expect("encodes"));
        for t in 0..6u32 {
            tiff.extend((0..tile_len).map(|i| (i.wrapping_mul(7) + t) as u8));
        }
        tiff
    }

    #[test]
    fn windows_near_each_other_in_the_file_are_prefetched_in_one_read() {
        let tile = |t: u32| Window::new(t * 256, 0, 256, 256);
        let expected: Vec<_> = {
            let mut plain = GeoTiffReader::open(Cursor::new(six_tiles())).unwrap();
            [0, 2, 3]
                .map(|t| plain.read_window(tile(t)).unwrap())
                .into()
        };
        let reads = std::rc::Rc::new(std::cell::Cell::new(0));
        let counted = || CountingReads {
            file: Cursor::new(six_tiles()),
            reads: std::rc::Rc::clone(&reads),
            spans: std::rc::Rc::default(),
        };
        // Tiles 0, 2 and 3 (three quarters of the span): one read, then none.
        let mut reader = GeoTiffReader::open(counted()).unwrap();
        reads.set(0);
        reader
            .prefetch_windows(0, &[tile(0), tile(2), tile(3)], 1 << 20)
            .unwrap();
        assert_eq!(reads.get(), 1);
        for (t, want) in [0, 2, 3].into_iter().zip(&expected) {
            assert_eq!(reader.read_window(tile(t)).unwrap(), *want);
        }
        assert_eq!(reads.get(), 1);
        // A span over the limit, or mostly bytes nobody asked for, is left to the reads.
        for (windows, max_span) in [
            (vec![tile(0), tile(3)], 1 << 19),
            (vec![tile(0), tile(5)], 1 << 21),
        ] {
            let mut reader = GeoTiffReader::open(counted()).unwrap();
            reads.set(0);
            reader.prefetch_windows(0, &windows, max_span).unwrap();
            assert_eq!(reads.get(), 0, "{windows:?} within {max_span}");
        }
        // Windows outside the image are no reason to read.
        let mut reader = GeoTiffReader::open(counted()).unwrap();
        reads.set(0);
        reader
            .prefetch_windows(0, &[Window::new(1400, 0, 256, 256)], 1 << 20)
            .unwrap();
        reader.prefetch_windows(3, &[tile(0)], 1 << 20).unwrap();
        assert_eq!(reads.get(), 0);
    }

    #[test]
    fn images_claiming_far_more_pixels_than_their_bytes_are_refused() {
        // 4.3 billion pixels in a file of about 2 kB.
        let tiny = sparse(65536, 4096);
        let len = tiny.len() as u64;
        let err = GeoTiffReader::open(Cursor::new(tiny)).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::LimitsExceeded(LimitExceeded::Sparse { width: 65536, file_len, .. })
                    if file_len == len
            ),
            "{err}"
        );
        // Under 2^26 pixels, any file may be sparse; past it, enough bytes make it acceptable.
        assert!(GeoTiffReader::open(Cursor::new(sparse(8192, 256))).is_ok());
        assert!(GeoTiffReader::open(Cursor::new(sparse(16384, 256))).is_ok());
        let lifted = Limits {
            max_pixels_per_byte: u64::MAX,
            ..Limits::default()
        };
        assert!(GeoTiffReader::with_limits(Cursor::new(sparse(65536, 4096)), lifted).is_ok());
    }

    #[test]
    fn overviews_with_other_bands_than_the_image_are_ignored() {
        let reader = GeoTiffReader::open(Cursor::new(with_overview(3, 3))).unwrap();
        assert_eq!(reader.info().overviews, vec![(2, 2)]);
        let mut reader = GeoTiffReader::open(Cursor::new(with_overview(3, 1))).unwrap();
        assert_eq!(reader.info().overviews, Vec::<(u32, u32)>::new());
        let full = reader.read_window(Window::new(0, 0, 4, 4)).unwrap();
        assert_eq!(full.samples, Samples::U8((0..48).collect()));
    }

    #[test]
    fn the_chunk_cache_keeps_the_newest_chunk_and_the_most_recently_used() {
        let chunk = |v: u8| move || Ok(Samples::U8(vec![v; 4]));
        let cached = || -> Result<Samples, DecodeError> { panic!("a cached chunk was decoded") };
        let one = 4 + CHUNK_OVERHEAD_BYTES;
        let mut cache = ChunkCache::new(2 * one);
        cache.get_or_insert_with((0, 0), chunk(0)).unwrap();
        cache.get_or_insert_with((0, 1), chunk(1)).unwrap();
        assert_eq!(
            *cache.get_or_insert_with((0, 0), cached).unwrap(),
            Samples::U8(vec![0; 4])
        );
        // A third chunk evicts the least recently used one, (0, 1).
        cache.get_or_insert_with((0, 2), chunk(2)).unwrap();
        assert_eq!(cache.bytes, 2 * one);
        cache.get_or_insert_with((0, 0), cached).unwrap();
        let mut decoded = false;
        cache
            .get_or_insert_with((0, 1), || {
                decoded = true;
                chunk(1)()
            })
            .unwrap();
        assert!(decoded);
        // A failed decode keeps what is cached.
        let failed = cache.get_or_insert_with((1, 0), || Err(FormatError::IfdLoop.into()));
        assert!(failed.is_err());
        cache.get_or_insert_with((0, 1), cached).unwrap();
        cache.get_or_insert_with((0, 0), cached).unwrap();
        // A chunk larger than the whole budget is still kept while it is the newest.
        let mut small = ChunkCache::new(2);
        small.get_or_insert_with((0, 0), chunk(7)).unwrap();
        assert_eq!(
            *small.get_or_insert_with((0, 0), cached).unwrap(),
            Samples::U8(vec![7; 4])
        );
        small.get_or_insert_with((0, 1), chunk(8)).unwrap();
        assert_eq!(small.bytes, one);
    }

    /// A `Read + Seek` over bytes in memory that counts its reads.
    struct CountingReads {
        file: Cursor<Vec<u8>>,
        reads: std::rc::Rc<std::cell::Cell<usize>>,
        /// Where each read started and how many bytes it asked for.
        spans: std::rc::Rc<std::cell::RefCell<Vec<(u64, usize)>>>,
    }

    impl Read for CountingReads {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.reads.set(self.reads.get() + 1);
            let at = self.file.position();
            self.spans.borrow_mut().push((at, buf.len()));
            self.file.read(buf)
        }
    }

    impl Seek for CountingReads {
        fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
            self.file.seek(pos)
        }
    }

    #[test]
    fn neighbouring_chunks_of_a_window_come_in_one_read_per_run() {
        use crate::geotiff::{GeoTiffWriter, TILE_SIZE, WriterOptions};
        use crate::raster::{SampleType, Samples};
        // 5 × 3 tiles of noise (so each tile's Deflate stream is long), written row by row.
        let (w, h) = (5 * TILE_SIZE, 3 * TILE_SIZE);
        let mut state = 0x2545_f491_u32;
        let pixels: Vec<u8> = (0..w * h)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 24) as u8
            })
            .collect();
        let options = WriterOptions::new(w, h, 1, SampleType::U8);
        let mut writer = GeoTiffWriter::new(Cursor::new(Vec::new()), options).unwrap();
        for strip in pixels.chunks((w * TILE_SIZE) as usize) {
            writer.write_strip(&Samples::U8(strip.to_vec())).unwrap();
        }
        let file = writer.finish().unwrap().into_inner();
        let copy = file.clone();
        let reads = std::rc::Rc::new(std::cell::Cell::new(0));
        let spans = std::rc::Rc::default();
        let source = CountingReads {
            file: Cursor::new(file),
            reads: std::rc::Rc::clone(&reads),
            spans: std::rc::Rc::clone(&spans),
        };
        let mut reader = GeoTiffReader::open(source).unwrap();
        // Tiles 1..=3 of rows 0 and 1: two runs of three neighbours.
        let window = Window::new(TILE_SIZE + 7, 9, 2 * TILE_SIZE + 20, TILE_SIZE + 3);
        let announced = reader.ranges_to_read(0, window).unwrap();
        reads.set(0);
        spans.borrow_mut().clear();
        let block = reader.read_window(window).unwrap();
        assert_eq!(reads.get(), 2, "one read per run of neighbouring tiles");
        assert_eq!(
            *spans.borrow(),
            announced,
            "the ranges announced are the ones read"
        );
        let expected: Vec<u8> = (window.y..window.bottom())
            .flat_map(|y| {
                let row = (y * w) as usize;
                pixels[row + window.x as usize..row + window.right() as usize].to_vec()
            })
            .collect();
        assert_eq!(block.samples, Samples::U8(expected));
        // The same window again comes from the chunk cache: no read at all.
        assert_eq!(reader.ranges_to_read(0, window).unwrap(), []);
        reads.set(0);
        reader.read_window(window).unwrap();
        assert_eq!(reads.get(), 0);
        // One more tile to the right (tile 4 of rows 0 and 1): one read each, alone.
        let wider = Window::new(window.x, window.y, window.width + TILE_SIZE, window.height);
        let announced = reader.ranges_to_read(0, wider).unwrap();
        reads.set(0);
        spans.borrow_mut().clear();
        reader.read_window(wider).unwrap();
        assert_eq!(reads.get(), 2);
        assert_eq!(*spans.borrow(), announced);
        // A window outside the raster reads nothing (its read reports it).
        assert_eq!(
            reader
                .ranges_to_read(0, Window::new(w - 1, 0, 2, 1))
                .unwrap(),
            []
        );
        assert!(reader.ranges_to_read(1, window).is_err());

        // Another reader, which has read nothing yet, then `window`, asks for the ranges this
        // one (whose cache holds every tile by now) announces for it.
        let (other_reads, other_spans) = (std::rc::Rc::default(), std::rc::Rc::default());
        let mut other = GeoTiffReader::open(CountingReads {
            file: Cursor::new(copy),
            reads: std::rc::Rc::clone(&other_reads),
            spans: std::rc::Rc::clone(&other_spans),
        })
        .unwrap();
        other_spans.borrow_mut().clear();
        other.read_window(window).unwrap();
        assert_eq!(
            *other_spans.borrow(),
            reader.ranges_after(0, window, None).unwrap()
        );
        other_spans.borrow_mut().clear();
        other.read_window(wider).unwrap();
        let after = reader.ranges_after(0, wider, Some(window)).unwrap();
        assert_eq!(after.len(), 2, "only the new column of tiles");
        assert_eq!(*other_spans.borrow(), after);
        assert_eq!(
            reader
                .ranges_after(0, Window::new(w - 1, 0, 2, 1), None)
                .unwrap(),
            []
        );
        assert!(reader.ranges_after(1, window, None).is_err());
    }

    #[test]
    fn many_tiny_chunks_are_looked_up_in_constant_time() {
        // 2^20 one-sample chunks, each looked up twice; a linear scan would take minutes.
        let mut cache = ChunkCache::new(1 << 30);
        for round in 0..2 {
            for i in 0..1u32 << 20 {
                let chunk = cache
                    .get_or_insert_with((0, i), || {
                        assert_eq!(round, 0, "chunk {i} was evicted");
                        Ok(Samples::U8(vec![i as u8]))
                    })
                    .unwrap();
                assert_eq!(*chunk, Samples::U8(vec![i as u8]));
            }
        }
        assert_eq!(cache.bytes, (1 << 20) * (1 + CHUNK_OVERHEAD_BYTES));
    }
}
