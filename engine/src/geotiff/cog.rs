//! Cloud-optimised GeoTIFF writing for class rasters (1 band, u8): the full-resolution tiles and
//! mode overviews ([`super::pyramid`]), laid out as GDAL's COG driver does.
//!
//! The file is, in order: the header; GDAL's structural metadata (the "ghost area", which tells
//! GDAL the layout below so it can read the file with few requests); the directories of the
//! full-resolution image and of each overview, largest first; then the tile data, smallest
//! overview first and full resolution last, each level's tiles in row-major order, each tile
//! between a 4-byte leader (its length) and a 4-byte trailer (its last 4 bytes again).
//!
//! Since the directories come first and the full-resolution data last, nothing can be written
//! before every tile is known: the tiles (and the overview tiles, built as the tiles stream in)
//! go to a scratch store the front end lends (a temporary file, or memory), and [`CogWriter::finish`]
//! writes the file in one sequential pass. Memory holds only tile offsets and the overview strips
//! being filled.

use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

use flate2::read::ZlibDecoder;

use super::directory::Directory;
use super::error::EncodeError;
use super::ifd::{self, ByteOrder, OffsetOverflow};
use super::pyramid::Pyramid;
use super::write::{EncodedTile, TILE_SIZE, TileEncoder, WriterOptions};
use crate::raster::{SampleType, Samples};

/// GDAL's structural metadata, as its COG driver writes it (the trailing space pads the block
/// so that the first directory starts on a word boundary).
const STRUCTURAL_METADATA: &str = "LAYOUT=IFDS_BEFORE_DATA\n\
    BLOCK_ORDER=ROW_MAJOR\n\
    BLOCK_LEADER=SIZE_AS_UINT4\n\
    BLOCK_TRAILER=LAST_4_BYTES_REPEATED\n\
    KNOWN_INCOMPATIBLE_EDITION=NO\n ";

/// Bytes of a tile's leader and of its trailer.
const LEADER: u64 = 4;
const TRAILER: u64 = 4;

/// Bytes of a decoded tile (256×256 u8).
const TILE_BYTES: usize = (TILE_SIZE * TILE_SIZE) as usize;

/// The tiles of one level in the scratch store, row-major.
#[derive(Debug)]
struct Level {
    width: u32,
    height: u32,
    /// Scratch offset of each tile; [`NOT_WRITTEN`] until it arrives.
    offsets: Vec<u64>,
    byte_counts: Vec<u64>,
}

const NOT_WRITTEN: u64 = u64::MAX;

impl Level {
    fn new(width: u32, height: u32) -> Self {
        let tiles = width.div_ceil(TILE_SIZE) as usize * height.div_ceil(TILE_SIZE) as usize;
        Self {
            width,
            height,
            offsets: vec![NOT_WRITTEN; tiles],
            byte_counts: vec![0; tiles],
        }
    }

    fn index(&self, tile: &EncodedTile) -> Option<usize> {
        let across = self.width.div_ceil(TILE_SIZE);
        let index = tile.row as usize * across as usize + tile.column as usize;
        (tile.column < across && self.offsets.get(index) == Some(&NOT_WRITTEN)).then_some(index)
    }
}

/// The scratch store and where each tile lies in it.
#[derive(Debug)]
struct Spill<S: Write> {
    scratch: BufWriter<S>,
    /// Scratch position where the writer started.
    start: u64,
    /// Bytes appended since `start`.
    len: u64,
    /// Level 0 is the full-resolution image, then the overviews, largest first.
    levels: Vec<Level>,
}

impl<S: Write> Spill<S> {
    /// Appends `tile` of `level`.
    fn put(&mut self, level: usize, tile: &EncodedTile) -> Result<(), EncodeError> {
        let Some(index) = self.levels[level].index(tile) else {
            let EncodedTile { column, row, .. } = *tile;
            return Err(EncodeError::TileMismatch { column, row });
        };
        self.scratch.write_all(&tile.bytes)?;
        let level = &mut self.levels[level];
        level.offsets[index] = self.start + self.len;
        level.byte_counts[index] = tile.bytes.len() as u64;
        self.len += tile.bytes.len() as u64;
        Ok(())
    }
}

/// Writes a cloud-optimised GeoTIFF of a class raster: 1 band of u8, tiled, Deflate, with mode
/// overviews that keep class values (the nodata value counts only where a whole block is
/// nodata). Tiles come as full-width strips ([`Self::write_strip`]) or already compressed, in
/// any order ([`Self::write_tiles`]; in row order, memory holds one strip per overview level).
/// The same tiles give the same file, whatever their order.
#[derive(Debug)]
pub struct CogWriter<W: Write, S: Read + Write + Seek> {
    sink: W,
    spill: Spill<S>,
    options: WriterOptions,
    encoder: TileEncoder,
    pyramid: Pyramid,
    /// Rows handed over through `write_strip`.
    rows_written: u32,
    tiles_written: u64,
    /// A decoded full-resolution tile, reused.
    tile: Vec<u8>,
}

impl<W: Write, S: Read + Write + Seek> CogWriter<W, S> {
    /// A writer of the file into `sink`, which is written only by [`Self::finish`]. The tiles
    /// wait in `scratch` (from its current position) until then: a temporary file, or a
    /// `Cursor<Vec<u8>>` when they may stay in memory.
    pub fn new(sink: W, mut scratch: S, options: WriterOptions) -> Result<Self, EncodeError> {
        options.validate()?;
        if options.bands != 1 || options.sample_type != SampleType::U8 {
            return Err(EncodeError::InvalidOptions(
                "a cloud-optimised class raster has 1 band of u8".into(),
            ));
        }
        let start = scratch.stream_position()?;
        let pyramid = Pyramid::new(&options);
        let levels = std::iter::once((options.width, options.height))
            .chain(pyramid.sizes())
            .map(|(w, h)| Level::new(w, h))
            .collect();
        Ok(Self {
            sink,
            spill: Spill {
                scratch: BufWriter::with_capacity(1 << 20, scratch),
                start,
                len: 0,
                levels,
            },
            encoder: TileEncoder::new(&options),
            options,
            pyramid,
            rows_written: 0,
            tiles_written: 0,
            tile: Vec::with_capacity(TILE_BYTES + 1),
        })
    }

    /// An encoder for this raster's tiles, to compress on other threads.
    pub fn tile_encoder(&self) -> TileEncoder {
        self.encoder.clone()
    }

    /// Sides of the overviews the file will have, largest first.
    pub fn overview_sizes(&self) -> Vec<(u32, u32)> {
        self.pyramid.sizes()
    }

    /// Takes the next [`TILE_SIZE`] rows (fewer for the last strip), full width.
    pub fn write_strip(&mut self, samples: &Samples) -> Result<(), EncodeError> {
        let tiles = self
            .encoder
            .encode_next_strip(&mut self.rows_written, samples)?;
        self.write_tiles(&tiles)
    }

    /// Takes compressed tiles (from [`Self::tile_encoder`]), in any order.
    pub fn write_tiles(&mut self, tiles: &[EncodedTile]) -> Result<(), EncodeError> {
        for t in tiles {
            decode_tile(&t.bytes, &mut self.tile).map_err(|_| EncodeError::CorruptTile {
                column: t.column,
                row: t.row,
            })?;
            self.spill.put(0, t)?;
            self.tiles_written += 1;
            let spill = &mut self.spill;
            self.pyramid
                .add_tile(t.column, t.row, &self.tile, &mut |level, tile| {
                    spill.put(level, &tile)
                })?;
        }
        Ok(())
    }

    /// Replaces what the file will say about its pixels (colour table, class names, metadata,
    /// georeferencing) with what `options` say: the header is written last, by
    /// [`Self::finish`], so what is known only once the labels are (suggested class names)
    /// still reaches it. The pixels' layout (size, bands, sample type) and nodata (which the
    /// overviews already use) must stay as they are.
    pub fn describe(&mut self, options: WriterOptions) -> Result<(), EncodeError> {
        options.validate()?;
        let pixels = |o: &WriterOptions| {
            let nodata = o.nodata.map(f64::to_bits);
            (o.width, o.height, o.bands, o.sample_type, nodata)
        };
        if pixels(&options) != pixels(&self.options) {
            return Err(EncodeError::InvalidOptions(
                "the size, bands, sample type and nodata of a raster being written cannot change"
                    .into(),
            ));
        }
        self.options = options;
        Ok(())
    }

    /// Writes the whole file to the sink and returns it (flushed); the scratch store is dropped.
    /// A BigTIFF when classic TIFF offsets would overflow.
    pub fn finish(self) -> Result<W, EncodeError> {
        self.finish_as(false)
    }

    /// [`Self::finish`], a BigTIFF whatever its size when `big`.
    fn finish_as(self, big: bool) -> Result<W, EncodeError> {
        let total = self.spill.levels[0].offsets.len() as u64;
        if self.tiles_written < total || self.pyramid.is_pending() {
            return Err(EncodeError::Incomplete {
                written: self.tiles_written,
                total,
            });
        }
        let Self {
            mut sink,
            spill,
            options,
            ..
        } = self;
        let scratch = spill.scratch.into_inner().map_err(|e| e.into_error())?;
        let levels = spill.levels;
        let layout = match Layout::new(&options, &levels, big) {
            Ok(layout) => layout,
            Err(OffsetOverflow) if !big => {
                Layout::new(&options, &levels, true).map_err(|_| EncodeError::TooLarge)?
            }
            Err(OffsetOverflow) => return Err(EncodeError::TooLarge),
        };
        sink.write_all(&layout.head)?;
        copy_tiles(
            &levels,
            BufReader::with_capacity(1 << 20, scratch),
            &mut sink,
        )?;
        sink.flush()?;
        Ok(sink)
    }
}

/// Decompresses a full-resolution tile into `out`, which must come to exactly 256×256 bytes.
fn decode_tile(bytes: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    out.clear();
    ZlibDecoder::new(bytes)
        .take(TILE_BYTES as u64 + 1)
        .read_to_end(out)?;
    if out.len() == TILE_BYTES {
        Ok(())
    } else {
        Err(io::ErrorKind::InvalidData.into())
    }
}

/// Everything before the tile data: header, structural metadata and directories.
#[derive(Debug)]
struct Layout {
    head: Vec<u8>,
}

impl Layout {
    /// The head of a classic TIFF, or a BigTIFF when `big`; `OffsetOverflow` when the file does
    /// not fit the classic flavour.
    fn new(options: &WriterOptions, levels: &[Level], big: bool) -> Result<Self, OffsetOverflow> {
        let metadata = format!(
            "GDAL_STRUCTURAL_METADATA_SIZE={:06} bytes\n{STRUCTURAL_METADATA}",
            STRUCTURAL_METADATA.len()
        );
        let mut head_len = ifd::header_len(big) + metadata.len() as u64;
        head_len += head_len % 2;
        // A directory's length does not depend on the offsets it holds.
        let mut directory_at = Vec::with_capacity(levels.len());
        for (i, level) in levels.iter().enumerate() {
            directory_at.push(head_len);
            let mut entries = directory(options, level, i, &level.byte_counts).entries(big)?;
            head_len += ifd::encode_ifd(&mut entries, 0, ByteOrder::Little, big)?.len() as u64;
        }
        let mut at = head_len;
        let mut file_offsets = vec![Vec::new(); levels.len()];
        for (i, level) in levels.iter().enumerate().rev() {
            file_offsets[i] = level
                .byte_counts
                .iter()
                .map(|&n| {
                    let offset = at + LEADER;
                    at = offset + n + TRAILER;
                    offset
                })
                .collect();
        }
        if !big && at > u64::from(u32::MAX) {
            return Err(OffsetOverflow);
        }
        let mut head = ifd::encode_header(ByteOrder::Little, big, directory_at[0])?;
        head.extend_from_slice(metadata.as_bytes());
        head.resize(directory_at[0] as usize, 0);
        for (i, level) in levels.iter().enumerate() {
            let mut entries = directory(options, level, i, &file_offsets[i]).entries(big)?;
            let next = directory_at.get(i + 1).copied().unwrap_or(0);
            let bytes = ifd::encode_linked_ifd(
                &mut entries,
                directory_at[i],
                next,
                ByteOrder::Little,
                big,
            )?;
            head.extend_from_slice(&bytes);
        }
        Ok(Self { head })
    }
}

/// The directory of `level` (index `index`: 0 is the full-resolution image) with its tiles at
/// `offsets`.
fn directory<'a>(
    options: &'a WriterOptions,
    level: &'a Level,
    index: usize,
    offsets: &'a [u64],
) -> Directory<'a> {
    Directory {
        options,
        width: level.width,
        height: level.height,
        offsets,
        byte_counts: &level.byte_counts,
        overview: index > 0,
    }
}

/// Copies every tile from `scratch` to `sink`, smallest overview first, each level row-major,
/// each tile between its leader and trailer (the order [`Layout::new`] gave them offsets in).
fn copy_tiles<S: Read + Seek>(
    levels: &[Level],
    mut scratch: BufReader<S>,
    sink: &mut impl Write,
) -> Result<(), EncodeError> {
    let mut position = scratch.stream_position()?;
    let mut bytes = Vec::new();
    for level in levels.iter().rev() {
        for (&offset, &len) in level.offsets.iter().zip(&level.byte_counts) {
            if offset != position {
                // Within the buffer when the tile is near: no new read.
                let delta = i64::try_from(i128::from(offset) - i128::from(position))
                    .map_err(|_| EncodeError::TooLarge)?;
                scratch.seek_relative(delta)?;
            }
            bytes.resize(len as usize, 0);
            scratch.read_exact(&mut bytes)?;
            position = offset + len;
            let leader = u32::try_from(len).map_err(|_| EncodeError::TooLarge)?;
            let mut trailer = [0u8; TRAILER as usize];
            let tail = &bytes[bytes.len().saturating_sub(trailer.len())..];
            trailer[TRAILER as usize - tail.len()..].copy_from_slice(tail);
            sink.write_all(&leader.to_le_bytes())?;
            sink.write_all(&bytes)?;
            sink.write_all(&trailer)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::geotiff::GeoTiffReader;
    use crate::raster::Window;

    /// Every level of `file` as our reader decodes it.
    fn levels(file: Vec<u8>) -> (bool, Vec<Samples>) {
        let mut reader = GeoTiffReader::open(Cursor::new(file)).unwrap();
        let info = reader.info().clone();
        let sizes = std::iter::once((info.width, info.height)).chain(info.overviews);
        let pixels = sizes
            .enumerate()
            .map(|(level, (w, h))| {
                let window = Window::new(0, 0, w, h);
                reader.read_window_at_level(level, window).unwrap().samples
            })
            .collect();
        (info.big_tiff, pixels)
    }

    #[test]
    fn a_bigtiff_has_the_same_levels() {
        let mut options = WriterOptions::new(700, 300, 1, SampleType::U8);
        options.nodata = Some(255.0);
        let labels: Vec<u8> = (0..700 * 300).map(|i| [0, 1, 2, 255][i % 11 % 4]).collect();
        let write = |big: bool| {
            let mut writer =
                CogWriter::new(Vec::new(), Cursor::new(Vec::new()), options.clone()).unwrap();
            for strip in labels.chunks(700 * 256) {
                writer.write_strip(&Samples::U8(strip.to_vec())).unwrap();
            }
            writer.finish_as(big).unwrap()
        };
        let (classic, big) = (levels(write(false)), levels(write(true)));
        assert_eq!((classic.0, big.0), (false, true));
        assert_eq!(classic.1.len(), 3);
        assert_eq!(classic.1[0], Samples::U8(labels));
        assert_eq!(classic.1, big.1);
    }

    #[test]
    fn a_description_given_before_finish_is_the_files() {
        let mut options = WriterOptions::new(300, 260, 1, SampleType::U8);
        options.nodata = Some(255.0);
        let labels = Samples::U8((0..300 * 260).map(|i| (i % 3) as u8).collect());
        let write = |options: &WriterOptions, later: Option<&WriterOptions>| {
            let mut writer =
                CogWriter::new(Vec::new(), Cursor::new(Vec::new()), options.clone()).unwrap();
            writer.write_strip(&labels.slice(0..300 * 256)).unwrap();
            if let Some(later) = later {
                writer.describe(later.clone()).unwrap();
            }
            writer
                .write_strip(&labels.slice(300 * 256..300 * 260))
                .unwrap();
            writer.finish().unwrap()
        };
        let mut named = options.clone();
        named.palette = Some(vec![[1, 2, 3], [4, 5, 6], [7, 8, 9]]);
        named.metadata = vec![("CLASS_0_NAME".into(), "water".into())];
        assert_eq!(write(&options, Some(&named)), write(&named, None));

        let mut writer = CogWriter::new(Vec::new(), Cursor::new(Vec::new()), options).unwrap();
        named.nodata = Some(0.0);
        assert!(matches!(
            writer.describe(named.clone()),
            Err(EncodeError::InvalidOptions(_))
        ));
        named.nodata = Some(255.0);
        named.width = 301;
        assert!(writer.describe(named).is_err());
    }

    #[test]
    fn the_scratch_store_may_start_anywhere() {
        let options = WriterOptions::new(300, 260, 1, SampleType::U8);
        let labels = Samples::U8((0..300 * 260).map(|i| (i % 5) as u8).collect());
        let mut scratch = Cursor::new(vec![9; 1000]);
        scratch.set_position(1000);
        let mut writer = CogWriter::new(Vec::new(), scratch, options).unwrap();
        writer.write_strip(&labels.slice(0..300 * 256)).unwrap();
        writer
            .write_strip(&labels.slice(300 * 256..300 * 260))
            .unwrap();
        assert_eq!(levels(writer.finish().unwrap()).1[0], labels);
    }
}
