//! One decodable image of a file (full resolution or an overview): its geometry, encoding and
//! chunk locations.

use std::io::{Read, Seek};

use super::error::{DecodeError, FormatError, Unsupported};
use super::ifd::tag;
use super::info::{Compression, Layout, Photometric};
use super::tags::Tags;
use crate::raster::{SampleType, Window};

/// The largest JPEGTables value accepted, in bytes.
const MAX_JPEG_TABLES_BYTES: usize = 64 * 1024;

/// Everything needed to find and decode the chunks of one image.
#[derive(Debug, Clone)]
pub(super) struct Level {
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    /// Samples per pixel.
    pub samples: u16,
    pub sample_type: SampleType,
    pub compression: Compression,
    pub predictor: u16,
    pub photometric: Photometric,
    pub planar: bool,
    pub jpeg_tables: Option<Vec<u8>>,
    pub offsets: Vec<u64>,
    pub byte_counts: Vec<u64>,
}

/// Where one chunk lies and what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ChunkPlace {
    pub index: u32,
    /// The part of the image the chunk covers, in image pixels.
    pub area: Window,
    /// Rows actually stored: the full chunk height except for the last strip.
    pub stored_rows: u32,
    /// The first band it holds.
    pub band: usize,
}

impl Level {
    /// Reads and checks the tags of one image file directory.
    pub fn parse<R: Read + Seek>(tags: &mut Tags<'_, R>) -> Result<Level, DecodeError> {
        let width = positive_u32(
            tags.required_uint(tag::IMAGE_WIDTH, "ImageWidth")?,
            "ImageWidth",
        )?;
        let height = positive_u32(
            tags.required_uint(tag::IMAGE_LENGTH, "ImageLength")?,
            "ImageLength",
        )?;
        let samples = tags
            .uint(tag::SAMPLES_PER_PIXEL, "SamplesPerPixel")?
            .unwrap_or(1);
        let samples = u16::try_from(samples)
            .ok()
            .filter(|&s| s > 0)
            .ok_or(FormatError::InvalidTag("SamplesPerPixel"))?;
        let sample_type = sample_type(tags, samples)?;
        let compression = Compression::from_code(short(
            tags.uint(tag::COMPRESSION, "Compression")?.unwrap_or(1),
            "Compression",
        )?);
        if !compression.is_supported() {
            return Err(Unsupported::Compression(compression).into());
        }
        let predictor = short(
            tags.uint(tag::PREDICTOR, "Predictor")?.unwrap_or(1),
            "Predictor",
        )?;
        check_predictor(predictor, sample_type)?;
        let photometric = match tags.uint(tag::PHOTOMETRIC, "PhotometricInterpretation")? {
            Some(code) => Photometric::from_code(short(code, "PhotometricInterpretation")?),
            None => Photometric::MinIsBlack,
        };
        if photometric == Photometric::YCbCr && compression != Compression::Jpeg {
            return Err(Unsupported::YCbCrWithoutJpeg.into());
        }
        let planar = match tags.uint(tag::PLANAR_CONFIGURATION, "PlanarConfiguration")? {
            None | Some(1) => false,
            Some(2) => true,
            Some(_) => return Err(FormatError::InvalidTag("PlanarConfiguration").into()),
        };
        let jpeg_tables = match compression {
            Compression::Jpeg => tags.bytes(tag::JPEG_TABLES, "JPEGTables")?,
            _ => None,
        };
        // Real tables (quantisation and Huffman) take a few hundred bytes; they are copied into
        // every chunk's decoder, so a large value would cost its size once per chunk.
        if jpeg_tables
            .as_ref()
            .is_some_and(|t| t.len() > MAX_JPEG_TABLES_BYTES)
        {
            return Err(FormatError::InvalidTag("JPEGTables").into());
        }
        let (layout, offsets, byte_counts) = chunk_locations(tags, height)?;
        let level = Level {
            width,
            height,
            layout,
            samples,
            sample_type,
            compression,
            predictor,
            photometric,
            planar,
            jpeg_tables,
            offsets,
            byte_counts,
        };
        level.check_chunk_count()?;
        Ok(level)
    }

    /// Width and height of a (full) chunk.
    pub fn chunk_size(&self) -> (u32, u32) {
        self.layout.chunk_size(self.width)
    }

    pub fn chunks_across(&self) -> u32 {
        self.width.div_ceil(self.chunk_size().0)
    }

    pub fn chunks_down(&self) -> u32 {
        self.height.div_ceil(self.chunk_size().1)
    }

    /// Number of chunk planes: the band count when planar, else 1.
    pub fn planes(&self) -> u16 {
        if self.planar { self.samples } else { 1 }
    }

    /// Samples per pixel inside one chunk.
    pub fn chunk_samples(&self) -> u16 {
        if self.planar { 1 } else { self.samples }
    }

    fn check_chunk_count(&self) -> Result<(), FormatError> {
        let expected = u64::from(self.chunks_across())
            * u64::from(self.chunks_down())
            * u64::from(self.planes());
        if expected > u64::from(u32::MAX) {
            return Err(FormatError::InvalidTag("ImageWidth"));
        }
        let (offsets, counts) = match self.layout {
            Layout::Strips { .. } => ("StripOffsets", "StripByteCounts"),
            Layout::Tiles { .. } => ("TileOffsets", "TileByteCounts"),
        };
        for (tag, found) in [
            (offsets, self.offsets.len()),
            (counts, self.byte_counts.len()),
        ] {
            let found = found as u64;
            if found != expected {
                return Err(FormatError::ChunkCount {
                    tag,
                    expected,
                    found,
                });
            }
        }
        Ok(())
    }

    /// The file range `(start, end)` of chunk `index`, if it is plausible in a file of
    /// `file_len` bytes: known, not empty and inside the file. A chunk that is not has its
    /// read report it.
    pub fn location(&self, index: u32, file_len: u64) -> Option<(u64, u64)> {
        let i = index as usize;
        let (offset, stored) = (*self.offsets.get(i)?, *self.byte_counts.get(i)?);
        let end = offset.checked_add(stored)?;
        (stored > 0 && end <= file_len).then_some((offset, end))
    }

    /// Whether `window` is not empty and lies inside the level.
    pub fn contains(&self, window: Window) -> bool {
        let fits =
            |start: u32, len: u32, size: u32| start.checked_add(len).is_some_and(|e| e <= size);
        !window.is_empty()
            && fits(window.x, window.width, self.width)
            && fits(window.y, window.height, self.height)
    }

    /// Every chunk that `window` touches, in storage order within each plane.
    pub fn chunks_in(&self, window: Window) -> impl Iterator<Item = ChunkPlace> + '_ {
        let (cw, ch) = self.chunk_size();
        let cols = window.x / cw..=(window.x + window.width - 1) / cw;
        let rows = window.y / ch..=(window.y + window.height - 1) / ch;
        let per_plane = self.chunks_across() * self.chunks_down();
        (0..self.planes()).flat_map(move |plane| {
            let cols = cols.clone();
            rows.clone().flat_map(move |row| {
                cols.clone().map(move |col| {
                    let (x, y) = (col * cw, row * ch);
                    let area = Window::new(x, y, cw.min(self.width - x), ch.min(self.height - y));
                    ChunkPlace {
                        index: u32::from(plane) * per_plane + row * self.chunks_across() + col,
                        area,
                        stored_rows: match self.layout {
                            Layout::Strips { .. } => area.height,
                            Layout::Tiles { .. } => ch,
                        },
                        band: usize::from(plane),
                    }
                })
            })
        })
    }
}

fn positive_u32(value: u64, name: &'static str) -> Result<u32, FormatError> {
    u32::try_from(value)
        .ok()
        .filter(|&v| v > 0)
        .ok_or(FormatError::InvalidTag(name))
}

fn short(value: u64, name: &'static str) -> Result<u16, FormatError> {
    u16::try_from(value).map_err(|_| FormatError::InvalidTag(name))
}

/// The one sample type shared by every band.
fn sample_type<R: Read + Seek>(
    tags: &mut Tags<'_, R>,
    samples: u16,
) -> Result<SampleType, DecodeError> {
    let bits = tags
        .shorts(tag::BITS_PER_SAMPLE, "BitsPerSample")?
        .unwrap_or_else(|| vec![1]);
    let formats = tags
        .shorts(tag::SAMPLE_FORMAT, "SampleFormat")?
        .unwrap_or_else(|| vec![1]);
    let bits = uniform(&bits, samples, "BitsPerSample")?;
    let format = uniform(&formats, samples, "SampleFormat")?;
    Ok(match (format, bits) {
        (1 | 4, 8) => SampleType::U8,
        (1 | 4, 16) => SampleType::U16,
        (2, 16) => SampleType::I16,
        (1 | 4, 32) => SampleType::U32,
        (3, 32) => SampleType::F32,
        (3, 64) => SampleType::F64,
        (format, bits) => return Err(Unsupported::SampleFormat { format, bits }.into()),
    })
}

/// The single value of a per-sample tag (one entry, or one per sample, all equal).
fn uniform(values: &[u16], samples: u16, name: &'static str) -> Result<u16, DecodeError> {
    let [first, rest @ ..] = values else {
        return Err(FormatError::InvalidTag(name).into());
    };
    if !rest.is_empty() && values.len() != usize::from(samples) {
        return Err(FormatError::InvalidTag(name).into());
    }
    if rest.iter().any(|v| v != first) {
        return Err(Unsupported::MixedSamples.into());
    }
    Ok(*first)
}

fn check_predictor(predictor: u16, sample_type: SampleType) -> Result<(), Unsupported> {
    let float = matches!(sample_type, SampleType::F32 | SampleType::F64);
    match predictor {
        1 | 2 => Ok(()),
        3 if float => Ok(()),
        _ => Err(Unsupported::Predictor {
            predictor,
            sample_type,
        }),
    }
}

type ChunkLocations = (Layout, Vec<u64>, Vec<u64>);

/// The layout and the offsets and byte counts of every chunk.
fn chunk_locations<R: Read + Seek>(
    tags: &mut Tags<'_, R>,
    height: u32,
) -> Result<ChunkLocations, DecodeError> {
    let tile_width = tags.uint(tag::TILE_WIDTH, "TileWidth")?;
    let layout = match tile_width {
        Some(width) => Layout::Tiles {
            width: positive_u32(width, "TileWidth")?,
            height: positive_u32(
                tags.required_uint(tag::TILE_LENGTH, "TileLength")?,
                "TileLength",
            )?,
        },
        None => {
            let rows = tags
                .uint(tag::ROWS_PER_STRIP, "RowsPerStrip")?
                .unwrap_or(u64::from(height));
            let rows = u32::try_from(rows.min(u64::from(height)))
                .map_err(|_| FormatError::InvalidTag("RowsPerStrip"))?;
            Layout::Strips {
                rows_per_strip: positive_u32(u64::from(rows), "RowsPerStrip")?,
            }
        }
    };
    let ((offsets_tag, offsets_name), (counts_tag, counts_name)) = match layout {
        Layout::Strips { .. } => (
            (tag::STRIP_OFFSETS, "StripOffsets"),
            (tag::STRIP_BYTE_COUNTS, "StripByteCounts"),
        ),
        Layout::Tiles { .. } => (
            (tag::TILE_OFFSETS, "TileOffsets"),
            (tag::TILE_BYTE_COUNTS, "TileByteCounts"),
        ),
    };
    let offsets = tags
        .uints(offsets_tag, offsets_name)?
        .ok_or(FormatError::MissingTag(offsets_name))?;
    let counts = tags
        .uints(counts_tag, counts_name)?
        .ok_or(FormatError::MissingTag(counts_name))?;
    Ok((layout, offsets, counts))
}
