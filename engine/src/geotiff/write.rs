//! Tile-streamed GeoTIFF encoding: tiled, Deflate-compressed, pixel-interleaved.

use std::io::{Read, Seek, SeekFrom, Write};

use flate2::write::ZlibEncoder;

use super::directory::Directory;
pub use super::error::EncodeError;
use super::geokeys::GeoReference;
use super::ifd::{self, ByteOrder, OffsetOverflow, Value};
use super::info::Photometric;
use crate::raster::{SampleType, Samples, Window};

/// Width and height of the written tiles, and the number of rows of one strip.
pub const TILE_SIZE: u32 = 256;

/// Room reserved for the header, enough for a BigTIFF one.
const HEADER_ROOM: u64 = 16;

/// What to write.
#[derive(Debug, Clone, PartialEq)]
pub struct WriterOptions {
    pub width: u32,
    pub height: u32,
    pub bands: usize,
    pub sample_type: SampleType,
    /// Georeferencing; its raw tags are written verbatim.
    pub georef: Option<GeoReference>,
    /// Written as GDAL_NODATA.
    pub nodata: Option<f64>,
    /// A colour table for a 1-band u8 raster, up to 256 entries (the rest are black).
    pub palette: Option<Vec<[u8; 3]>>,
    /// Dataset-level GDAL metadata items (any text; escaped as GDAL expects).
    pub metadata: Vec<(String, String)>,
    /// Per-band descriptions, written as GDAL band DESCRIPTION items.
    pub band_descriptions: Vec<String>,
}

impl WriterOptions {
    /// Options for a plain raster: no georeferencing, nodata, palette or metadata.
    pub fn new(width: u32, height: u32, bands: usize, sample_type: SampleType) -> Self {
        Self {
            width,
            height,
            bands,
            sample_type,
            georef: None,
            nodata: None,
            palette: None,
            metadata: Vec::new(),
            band_descriptions: Vec::new(),
        }
    }

    pub(super) fn validate(&self) -> Result<(), EncodeError> {
        let invalid = |why: &str| Err(EncodeError::InvalidOptions(why.to_owned()));
        if self.width == 0 || self.height == 0 {
            return invalid("the raster is empty");
        }
        if self.bands == 0 || self.bands > usize::from(u16::MAX) {
            return invalid("the band count must be between 1 and 65535");
        }
        if let Some(palette) = &self.palette {
            if self.bands != 1 || self.sample_type != SampleType::U8 {
                return invalid("a palette needs a 1-band u8 raster");
            }
            if palette.len() > 256 {
                return invalid("a palette has at most 256 entries");
            }
        }
        if self.band_descriptions.len() > self.bands {
            return invalid("more band descriptions than bands");
        }
        Ok(())
    }

    pub(super) fn photometric(&self) -> Photometric {
        match (&self.palette, self.bands, self.sample_type) {
            (Some(_), ..) => Photometric::Palette,
            (None, 3 | 4, SampleType::U8) => Photometric::Rgb,
            _ => Photometric::MinIsBlack,
        }
    }

    fn tiles_across(&self) -> u32 {
        self.width.div_ceil(TILE_SIZE)
    }
}

/// Compresses tiles without touching the sink. It is cheap to clone and `Send`, so callers can
/// compress on several threads and hand the tiles to one [`GeoTiffWriter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileEncoder {
    width: u32,
    height: u32,
    bands: usize,
    sample_type: SampleType,
    level: flate2::Compression,
}

/// One compressed tile, placed by its tile column and row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedTile {
    pub column: u32,
    pub row: u32,
    pub bytes: Vec<u8>,
}

impl EncodedTile {
    /// The tile's samples as stored: [`TILE_SIZE`]² pixels, each of every band in turn,
    /// little-endian, zero past the raster's edges.
    pub fn decompress(&self) -> std::io::Result<Vec<u8>> {
        let mut samples = Vec::with_capacity((TILE_SIZE * TILE_SIZE) as usize);
        flate2::read::ZlibDecoder::new(self.bytes.as_slice()).read_to_end(&mut samples)?;
        Ok(samples)
    }
}

impl TileEncoder {
    /// An encoder for the tiles of a raster written with `options`.
    pub fn new(options: &WriterOptions) -> Self {
        Self::for_raster(
            options.width,
            options.height,
            options.bands,
            options.sample_type,
        )
    }

    /// An encoder for the tiles of a `width`×`height` raster of `bands` bands of
    /// `sample_type` (what [`Self::new`] takes from the writer's options).
    pub fn for_raster(width: u32, height: u32, bands: usize, sample_type: SampleType) -> Self {
        Self {
            width,
            height,
            bands,
            sample_type,
            level: DEFLATE_LEVEL,
        }
    }

    /// An encoder for the tiles of a `width`×`height` overview of a raster written with
    /// `options`.
    pub(super) fn for_overview(options: &WriterOptions, width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            level: OVERVIEW_DEFLATE_LEVEL,
            ..Self::new(options)
        }
    }

    /// Compresses every tile of `window`, whose samples (pixel-interleaved, full window width)
    /// are `samples`. The window must start on a tile corner, end on a tile edge or the raster's
    /// edge, and be one tile high (less only at the bottom of the raster).
    pub fn encode(
        &self,
        window: Window,
        samples: &Samples,
    ) -> Result<Vec<EncodedTile>, EncodeError> {
        let aligned = window.x.is_multiple_of(TILE_SIZE)
            && window.y.is_multiple_of(TILE_SIZE)
            && window.y < self.height
            && window.height == TILE_SIZE.min(self.height - window.y)
            && window.right() <= self.width
            && (window.right().is_multiple_of(TILE_SIZE) || window.right() == self.width)
            && window.width > 0;
        if !aligned {
            let Window {
                x,
                y,
                width,
                height,
            } = window;
            return Err(EncodeError::NotTileAligned {
                x,
                y,
                width,
                height,
            });
        }
        let expected = window.len() * self.bands;
        if samples.len() != expected || samples.sample_type() != self.sample_type {
            return Err(EncodeError::StripMismatch {
                strip: window.y / TILE_SIZE,
                expected,
                expected_type: self.sample_type,
                found: samples.len(),
                found_type: samples.sample_type(),
            });
        }
        let mut tile = Vec::new();
        (0..window.width.div_ceil(TILE_SIZE))
            .map(|i| {
                self.fill_tile(&mut tile, samples, window, i * TILE_SIZE);
                let mut encoder = ZlibEncoder::new(Vec::with_capacity(tile.len() / 4), self.level);
                encoder.write_all(&tile)?;
                Ok(EncodedTile {
                    column: (window.x + i * TILE_SIZE) / TILE_SIZE,
                    row: window.y / TILE_SIZE,
                    bytes: encoder.finish()?,
                })
            })
            .collect()
    }

    /// Compresses the next full-width strip: [`TILE_SIZE`] rows (fewer at the bottom) after the
    /// `rows_written` rows before it, which it counts. Both writers' `write_strip`.
    pub(super) fn encode_next_strip(
        &self,
        rows_written: &mut u32,
        samples: &Samples,
    ) -> Result<Vec<EncodedTile>, EncodeError> {
        if *rows_written >= self.height {
            return Err(EncodeError::TooManyStrips {
                height: self.height,
            });
        }
        let rows = TILE_SIZE.min(self.height - *rows_written);
        let tiles = self.encode(Window::new(0, *rows_written, self.width, rows), samples)?;
        *rows_written += rows;
        Ok(tiles)
    }

    /// Puts the tile starting at column `x0` of `window` into `tile`, zero-padded to 256×256.
    fn fill_tile(&self, tile: &mut Vec<u8>, samples: &Samples, window: Window, x0: u32) {
        let (width, bands) = (window.width as usize, self.bands);
        let x0 = x0 as usize;
        let cols = (TILE_SIZE as usize).min(width - x0);
        let tile_row_bytes = TILE_SIZE as usize * bands * self.sample_type.bytes();
        tile.clear();
        for row in 0..window.height as usize {
            let start = (row * width + x0) * bands;
            extend_le(tile, samples, start..start + cols * bands);
            tile.resize((row + 1) * tile_row_bytes, 0);
        }
        tile.resize(TILE_SIZE as usize * tile_row_bytes, 0);
    }
}

/// Deflate effort: labels and imagery compress well at the fastest level, and speed matters
/// more here than the last few percent of size.
const DEFLATE_LEVEL: flate2::Compression = flate2::Compression::new(1);

/// Deflate effort of overview tiles, which one thread compresses while the tiles stream in:
/// denser in class boundaries than full resolution, they come out about 1.6 times larger at
/// level 1 (static Huffman codes only), while higher levels than 2 save little more and cost
/// twice the time.
const OVERVIEW_DEFLATE_LEVEL: flate2::Compression = flate2::Compression::new(2);

/// Writes a GeoTIFF tile by tile. Tiles come either as full-width strips of [`TILE_SIZE`] rows
/// ([`Self::write_strip`]) or already compressed, in any order ([`Self::write_tiles`]); each is
/// written at once, so memory does not grow with the raster.
#[derive(Debug)]
pub struct GeoTiffWriter<W: Write + Seek> {
    sink: W,
    options: WriterOptions,
    encoder: TileEncoder,
    /// Sink position of the header; TIFF offsets count from here.
    start: u64,
    /// Bytes written since `start` (kept here: asking a buffered sink would flush it).
    written: u64,
    /// Rows handed over through `write_strip`.
    rows_written: u32,
    /// Per tile, row-major; `NOT_WRITTEN` until the tile is written.
    offsets: Vec<u64>,
    byte_counts: Vec<u64>,
    tiles_written: u64,
}

const NOT_WRITTEN: u64 = u64::MAX;

impl<W: Write + Seek> GeoTiffWriter<W> {
    /// Starts a file at the sink's current position.
    pub fn new(mut sink: W, options: WriterOptions) -> Result<Self, EncodeError> {
        options.validate()?;
        let start = sink.stream_position()?;
        sink.write_all(&[0; HEADER_ROOM as usize])?;
        let tiles = options.tiles_across() as usize * options.height.div_ceil(TILE_SIZE) as usize;
        let encoder = TileEncoder::new(&options);
        Ok(Self {
            sink,
            options,
            encoder,
            start,
            written: HEADER_ROOM,
            rows_written: 0,
            offsets: vec![NOT_WRITTEN; tiles],
            byte_counts: vec![0; tiles],
            tiles_written: 0,
        })
    }

    /// An encoder for this raster's tiles, to compress on other threads.
    pub fn tile_encoder(&self) -> TileEncoder {
        self.encoder.clone()
    }

    /// Writes the next [`TILE_SIZE`] rows (fewer for the last strip): full width,
    /// pixel-interleaved, of the options' sample type.
    pub fn write_strip(&mut self, samples: &Samples) -> Result<(), EncodeError> {
        let tiles = self
            .encoder
            .encode_next_strip(&mut self.rows_written, samples)?;
        self.write_tiles(&tiles)
    }

    /// Appends compressed tiles (from [`Self::tile_encoder`]) to the sink, in any order.
    pub fn write_tiles(&mut self, tiles: &[EncodedTile]) -> Result<(), EncodeError> {
        let across = self.options.tiles_across();
        for t in tiles {
            let index = (t.row as usize * across as usize) + t.column as usize;
            if t.column >= across || self.offsets.get(index) != Some(&NOT_WRITTEN) {
                return Err(EncodeError::TileMismatch {
                    column: t.column,
                    row: t.row,
                });
            }
            self.sink.write_all(&t.bytes)?;
            self.offsets[index] = self.written;
            self.byte_counts[index] = t.bytes.len() as u64;
            self.written += t.bytes.len() as u64;
            self.tiles_written += 1;
        }
        Ok(())
    }

    /// Writes the directory and the header; BigTIFF when classic offsets would overflow.
    pub fn finish(mut self) -> Result<W, EncodeError> {
        let (written, total) = (self.tiles_written, self.offsets.len() as u64);
        if written < total {
            return Err(EncodeError::Incomplete { written, total });
        }
        let mut end = self.written;
        if end % 2 == 1 {
            self.sink.write_all(&[0])?;
            end += 1;
        }
        let (directory, big) = match self.encode_directory(end, false) {
            Ok(directory) => (directory, false),
            Err(OffsetOverflow) => (
                self.encode_directory(end, true)
                    .map_err(|_| EncodeError::TooLarge)?,
                true,
            ),
        };
        self.sink.write_all(&directory)?;
        let header =
            ifd::encode_header(ByteOrder::Little, big, end).map_err(|_| EncodeError::TooLarge)?;
        self.sink.seek(SeekFrom::Start(self.start))?;
        self.sink.write_all(&header)?;
        self.sink.seek(SeekFrom::End(0))?;
        self.sink.flush()?;
        Ok(self.sink)
    }

    fn encode_directory(&self, at: u64, big: bool) -> Result<Vec<u8>, OffsetOverflow> {
        let mut entries = self.entries(big)?;
        ifd::encode_ifd(&mut entries, at, ByteOrder::Little, big)
    }

    fn entries(&self, big: bool) -> Result<Vec<(u16, Value)>, OffsetOverflow> {
        Directory {
            options: &self.options,
            width: self.options.width,
            height: self.options.height,
            offsets: &self.offsets,
            byte_counts: &self.byte_counts,
            overview: false,
        }
        .entries(big)
    }
}

/// Appends samples `range` as little-endian bytes.
fn extend_le(out: &mut Vec<u8>, samples: &Samples, range: std::ops::Range<usize>) {
    if let Samples::U8(v) = samples {
        out.extend_from_slice(&v[range]);
        return;
    }
    crate::with_samples!(samples, v => v[range]
        .iter()
        .for_each(|x| out.extend_from_slice(&x.to_le_bytes())))
}
