//! The TIFF container: header, image file directories and typed tag values, every size and
//! offset checked against the file length and the limits before it is used.

use std::io::{Read, Seek};

use super::chunk::check_bytes;
use super::error::{DecodeError, FormatError, LimitExceeded};
use super::ifd::ByteOrder;
use super::limits::Limits;
use super::source::Source;

/// A TIFF or BigTIFF file being read.
#[derive(Debug)]
pub(super) struct TiffFile<R> {
    pub source: Source<R>,
    pub order: ByteOrder,
    pub big_tiff: bool,
    pub len: u64,
    max_tag_bytes: usize,
    /// Inflates Deflate chunks, reset for each one.
    pub inflater: flate2::Decompress,
    /// What the structure read so far claims, in bytes (see [`Limits::max_structure_bytes`]).
    claimed: u64,
    budget: u64,
}

/// One directory entry: its tag, type, count and where its value lies.
#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u16,
    field_type: u16,
    count: u64,
    /// The value itself when it fits the entry, else the offset of the value.
    value: [u8; 8],
}

/// The entries of one image file directory and the offset of the next one (0 for none).
#[derive(Debug, Clone)]
pub(super) struct Directory {
    entries: Vec<Entry>,
    pub next: u64,
}

impl<R: Read + Seek> TiffFile<R> {
    /// Reads the header; returns the file and the offset of its first directory.
    pub fn open(reader: R, limits: &Limits) -> Result<(Self, u64), DecodeError> {
        let mut source = Source::new(reader)?;
        let len = source.len();
        let mut magic = vec![0; len.min(4) as usize];
        source.read_at(0, &mut magic)?;
        let (order, big_tiff) = parse_magic(&magic)?;
        let mut file = Self {
            source,
            order,
            big_tiff,
            len,
            max_tag_bytes: limits.max_tag_bytes,
            inflater: flate2::Decompress::new(true),
            claimed: 0,
            budget: limits.structure_budget(len),
        };
        let first = if big_tiff {
            let [size, zero] = [
                file.read_uint(4, 2, "the header")?,
                file.read_uint(6, 2, "the header")?,
            ];
            if size != 8 || zero != 0 {
                return Err(FormatError::InvalidTag("BigTIFF header").into());
            }
            file.read_uint(8, 8, "the header")?
        } else {
            file.read_uint(4, 4, "the header")?
        };
        Ok((file, first))
    }

    /// The same file read through another source of it, which must have the same length.
    pub fn with_source<S: Read + Seek>(&self, source: S) -> Result<TiffFile<S>, DecodeError> {
        let source = Source::new(source)?;
        if source.len() != self.len {
            return Err(DecodeError::Truncated(format!(
                "the file now has {} bytes instead of {}: it changed while it was read",
                source.len(),
                self.len
            )));
        }
        Ok(TiffFile {
            source,
            order: self.order,
            big_tiff: self.big_tiff,
            len: self.len,
            max_tag_bytes: self.max_tag_bytes,
            inflater: flate2::Decompress::new(true),
            claimed: self.claimed,
            budget: self.budget,
        })
    }

    /// Reads the directory at `offset`.
    pub fn read_directory(&mut self, offset: u64) -> Result<Directory, DecodeError> {
        let (count_len, entry_len) = if self.big_tiff { (8, 20) } else { (2, 12) };
        let context = "an image file directory";
        let count = self.read_uint(offset, count_len, context)?;
        let table_len = count
            .saturating_mul(entry_len as u64)
            .saturating_add(self.word() as u64);
        check_bytes("image file directory", table_len, self.max_tag_bytes)?;
        // The raw table and its parsed entries are both held while the directory is parsed.
        let parsed = count.saturating_mul(std::mem::size_of::<Entry>() as u64);
        self.claim(table_len.saturating_add(parsed))?;
        let table = self.read_bytes(offset.saturating_add(count_len as u64), table_len, context)?;
        let (entries, next) = table.split_at(table.len() - self.word());
        Ok(Directory {
            entries: entries
                .chunks_exact(entry_len)
                .map(|raw| self.parse_entry(raw))
                .collect(),
            next: self.number(next),
        })
    }

    fn parse_entry(&self, raw: &[u8]) -> Entry {
        let (head, rest) = raw.split_at(4);
        let (count, value) = rest.split_at(self.word());
        let mut inline = [0; 8];
        inline[..value.len()].copy_from_slice(value);
        Entry {
            tag: self.number(&head[..2]) as u16,
            field_type: self.number(&head[2..]) as u16,
            count: self.number(count),
            value: inline,
        }
    }

    /// Charges `bytes` of memory to the structure budget, failing once the file's structure as a
    /// whole claims more than it: overlapping directories or arrays shared by many levels are
    /// parsed many times, so the budget counts every parse.
    fn claim(&mut self, bytes: u64) -> Result<(), LimitExceeded> {
        self.claimed = self.claimed.saturating_add(bytes);
        if self.claimed > self.budget {
            return Err(LimitExceeded::Structure {
                budget: self.budget,
                file_len: self.len,
            });
        }
        Ok(())
    }

    /// Size of offsets and counts: 4 bytes classic, 8 BigTIFF.
    fn word(&self) -> usize {
        if self.big_tiff { 8 } else { 4 }
    }

    /// An unsigned number of 1 to 8 bytes in the file's byte order.
    fn number(&self, bytes: &[u8]) -> u64 {
        let fold = |v: u64, b: &u8| (v << 8) | u64::from(*b);
        match self.order {
            ByteOrder::Big => bytes.iter().fold(0, fold),
            ByteOrder::Little => bytes.iter().rev().fold(0, fold),
        }
    }

    fn read_uint(&mut self, offset: u64, len: usize, context: &str) -> Result<u64, DecodeError> {
        let bytes = self.read_bytes(offset, len as u64, context)?;
        Ok(self.number(&bytes))
    }

    /// `len` bytes at `offset`, which must lie inside the file.
    fn read_bytes(&mut self, offset: u64, len: u64, context: &str) -> Result<Vec<u8>, DecodeError> {
        if offset.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(DecodeError::Truncated(format!(
                "{context} (bytes {offset}..+{len}) lies past the end of the {}-byte file",
                self.len
            )));
        }
        let mut bytes =
            vec![0; usize::try_from(len).map_err(|_| FormatError::InvalidTag("entry count"))?];
        self.source.read_at(offset, &mut bytes)?;
        Ok(bytes)
    }

    /// The raw bytes of an entry's value and the size of one element. The caller holds each
    /// element in `held` bytes (8 for a number widened to u64 or f64, 1 for text): the raw
    /// bytes and the widened values are charged to the structure budget.
    fn value(
        &mut self,
        entry: &Entry,
        name: &'static str,
        held: usize,
    ) -> Result<(Vec<u8>, usize), DecodeError> {
        let size = element_size(entry.field_type).ok_or(FormatError::InvalidTag(name))?;
        let len = entry.count.saturating_mul(size as u64);
        check_bytes("tag value", len, self.max_tag_bytes)?;
        self.claim(len.saturating_add(entry.count.saturating_mul(held as u64)))?;
        let bytes = if len <= self.word() as u64 {
            entry.value[..len as usize].to_vec()
        } else {
            let offset = self.number(&entry.value[..self.word()]);
            self.read_bytes(offset, len, &format!("the value of {name}"))?
        };
        Ok((bytes, size))
    }
}

fn parse_magic(magic: &[u8]) -> Result<(ByteOrder, bool), DecodeError> {
    const MAGICS: [(&[u8; 4], ByteOrder, bool); 4] = [
        (b"II*\0", ByteOrder::Little, false),
        (b"II+\0", ByteOrder::Little, true),
        (b"MM\0*", ByteOrder::Big, false),
        (b"MM\0+", ByteOrder::Big, true),
    ];
    if let Some((_, order, big)) = MAGICS.iter().find(|(m, ..)| m.as_slice() == magic) {
        return Ok((*order, *big));
    }
    if MAGICS.iter().any(|(m, ..)| m.starts_with(magic)) {
        return Err(DecodeError::Truncated(format!(
            "the header has only {} bytes",
            magic.len()
        )));
    }
    Err(DecodeError::NotTiff)
}

/// Bytes per element of a TIFF field type; `None` for unknown types.
fn element_size(field_type: u16) -> Option<usize> {
    match field_type {
        1 | 2 | 6 | 7 => Some(1),
        3 | 8 => Some(2),
        4 | 9 | 11 | 13 => Some(4),
        5 | 10 | 12 | 16 | 17 | 18 => Some(8),
        _ => None,
    }
}

/// Reads typed tag values of one directory.
pub(super) struct Tags<'a, R> {
    pub file: &'a mut TiffFile<R>,
    pub dir: &'a Directory,
}

impl<R: Read + Seek> Tags<'_, R> {
    fn entry(&self, code: u16) -> Option<Entry> {
        self.dir.entries.iter().find(|e| e.tag == code).copied()
    }

    /// Unsigned integers of any unsigned integer type.
    pub fn uints(
        &mut self,
        code: u16,
        name: &'static str,
    ) -> Result<Option<Vec<u64>>, DecodeError> {
        let Some(entry) = self.entry(code) else {
            return Ok(None);
        };
        if !matches!(entry.field_type, 1 | 3 | 4 | 13 | 16 | 18) {
            return Err(FormatError::InvalidTag(name).into());
        }
        let (bytes, size) = self.file.value(&entry, name, 8)?;
        Ok(Some(
            bytes
                .chunks_exact(size)
                .map(|b| self.file.number(b))
                .collect(),
        ))
    }

    /// A single unsigned integer.
    pub fn uint(&mut self, code: u16, name: &'static str) -> Result<Option<u64>, DecodeError> {
        match self.uints(code, name)?.as_deref() {
            None => Ok(None),
            Some(&[value]) => Ok(Some(value)),
            Some(_) => Err(FormatError::InvalidTag(name).into()),
        }
    }

    /// A single unsigned integer, required.
    pub fn required_uint(&mut self, code: u16, name: &'static str) -> Result<u64, DecodeError> {
        self.uint(code, name)?
            .ok_or(FormatError::MissingTag(name).into())
    }

    /// Unsigned integers that fit 16 bits.
    pub fn shorts(
        &mut self,
        code: u16,
        name: &'static str,
    ) -> Result<Option<Vec<u16>>, DecodeError> {
        let Some(values) = self.uints(code, name)? else {
            return Ok(None);
        };
        let shorts = values
            .into_iter()
            .map(u16::try_from)
            .collect::<Result<_, _>>();
        shorts
            .map(Some)
            .map_err(|_| FormatError::InvalidTag(name).into())
    }

    /// Numbers of a floating-point, rational or unsigned integer type, as doubles.
    pub fn doubles(
        &mut self,
        code: u16,
        name: &'static str,
    ) -> Result<Option<Vec<f64>>, DecodeError> {
        let Some(entry) = self.entry(code) else {
            return Ok(None);
        };
        let (bytes, size) = self.file.value(&entry, name, 8)?;
        let number = |b: &[u8]| self.file.number(b);
        let values = match entry.field_type {
            12 => bytes
                .chunks_exact(size)
                .map(|b| f64::from_bits(number(b)))
                .collect(),
            11 => bytes
                .chunks_exact(size)
                .map(|b| f64::from(f32::from_bits(number(b) as u32)))
                .collect(),
            5 => bytes
                .chunks_exact(size)
                .map(|b| number(&b[..4]) as f64 / number(&b[4..]) as f64)
                .collect(),
            1 | 3 | 4 | 16 => bytes.chunks_exact(size).map(|b| number(b) as f64).collect(),
            _ => return Err(FormatError::InvalidTag(name).into()),
        };
        Ok(Some(values))
    }

    /// Raw bytes of a BYTE, UNDEFINED or ASCII tag.
    pub fn bytes(&mut self, code: u16, name: &'static str) -> Result<Option<Vec<u8>>, DecodeError> {
        let Some(entry) = self.entry(code) else {
            return Ok(None);
        };
        if !matches!(entry.field_type, 1 | 2 | 7) {
            return Err(FormatError::InvalidTag(name).into());
        }
        Ok(Some(self.file.value(&entry, name, 0)?.0))
    }

    /// Text of an ASCII tag, up to its first NUL.
    pub fn ascii(&mut self, code: u16, name: &'static str) -> Result<Option<String>, DecodeError> {
        let Some(bytes) = self.bytes(code, name)? else {
            return Ok(None);
        };
        let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
        Ok(Some(String::from_utf8_lossy(text).into_owned()))
    }
}
