//! A structure-aware description of a TIFF file, drawn by `arbitrary` and encoded to bytes.
//!
//! A [`TiffSpec`] is a header, data blobs and a list of directories. Every directory is a list
//! of entries (tag, field type, count, value) whose tags come mostly from those the decoder reads.
//! What makes hostile files reachable from a few bytes of fuzz input:
//!
//! - **Addresses instead of offsets** ([`Addr`]): a value, a next-directory pointer or the
//!   header's first-directory pointer can name a directory, a byte inside a directory, a byte of
//!   a blob, or any absolute number. So offset arrays of many directories can share the same
//!   bytes, directories can overlap, and next pointers can loop or point into other directories.
//! - **Claimed counts**: an entry's count and a directory's entry count can be anything, whatever
//!   the value or the entries really hold (a directory's next pointer is written where its
//!   claimed count puts it, as a reader looks for it).
//! - **Repetition**: a directory can be emitted up to 2048 times, appended or at a fixed stride
//!   from an address, sharing its out-of-line values (1000 overviews with the same offset
//!   arrays, 1000 directories 4 bytes apart).
//! - **Sequences**: arithmetic sequences of up to 1 Mi values (65,536 tile offsets).
//! - **Interesting numbers** ([`Num`]): sizes such as 1,100,000,000 or 65,535 are one byte away.
//! - **Blobs**: raw bytes, a fill or a repeated pattern of any length (up to the file budget),
//!   optionally zlib-compressed, for pixels and shared arrays.
//!
//! The encoded file never exceeds [`MAX_FILE`]; writes past it are dropped.

use arbitrary::{Arbitrary, Unstructured};

/// The largest file [`TiffSpec::encode`] produces.
pub const MAX_FILE: usize = 2 << 20;
/// The most directories a spec expands to.
pub const MAX_DIRECTORIES: usize = 4096;
/// The most copies of one directory.
pub const MAX_COPIES: u64 = 2048;
/// The most elements of one sequence.
pub const MAX_SEQUENCE: u64 = 1 << 20;

/// A TIFF file: header, data blobs and directories.
#[derive(Debug, Clone, PartialEq, Arbitrary)]
pub struct TiffSpec {
    pub little_endian: bool,
    pub big_tiff: bool,
    /// Changes to a well-formed header.
    pub header: HeaderTweak,
    /// Where the header points; [`Addr::Following`] is the first directory.
    pub first: Addr,
    pub blobs: Vec<Blob>,
    pub directories: Vec<DirSpec>,
    /// Cut or pad the file to this length (at most [`MAX_FILE`]).
    pub length: Option<Num>,
}

/// Changes to a well-formed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum HeaderTweak {
    None,
    /// Another version number than 42 (classic) or 43 (BigTIFF).
    Version(u16),
    /// BigTIFF: another offset size than 8.
    OffsetSize(u16),
    /// BigTIFF: a non-zero reserved field.
    Reserved(u16),
}

/// A position in the file, resolved once everything is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum Addr {
    /// 0: no directory, or the header.
    Null,
    /// The next directory in the list (0 after the last); for the header, the first directory;
    /// as a placement, appended at the end.
    Following,
    /// The start of directory `n` (modulo the number of directories).
    Dir(u16),
    /// `delta` bytes from the start of directory `dir`.
    IntoDir { dir: u16, delta: i16 },
    /// Byte `offset` (modulo its length + 1) of blob `blob` (modulo the number of blobs).
    Blob { blob: u8, offset: u32 },
    /// Any number.
    Absolute(Num),
}

/// A number, often an interesting one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Num(pub u64);

/// Sizes, counts and values that make decoders misbehave.
pub const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    16,
    17,
    32,
    64,
    255,
    256,
    257,
    1023,
    1024,
    4096,
    32767,
    32768,
    65535,
    65536,
    1 << 20,
    16_777_216,
    1_100_000_000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFE,
    0xFFFF_FFFF,
    1 << 32,
    1 << 40,
    i64::MAX as u64,
    u64::MAX,
];

impl<'a> Arbitrary<'a> for Num {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Num(match u.int_in_range(0u8..=3)? {
            0 | 1 => u64::from(u.arbitrary::<u8>()?),
            2 => *u.choose(INTERESTING)?,
            _ => u.arbitrary()?,
        }))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, Some(9))
    }
}

/// Bytes placed in the file before the directories.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub struct Blob {
    pub content: Content,
    /// zlib-compressed (TIFF Compression 8).
    pub deflate: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub enum Content {
    Bytes(Vec<u8>),
    Fill { byte: u8, len: Num },
    Pattern { unit: Vec<u8>, len: Num },
}

/// One directory, emitted `1 + repeat` times.
#[derive(Debug, Clone, PartialEq, Arbitrary)]
pub struct DirSpec {
    pub entries: Vec<EntrySpec>,
    /// The entry count written, whatever `entries` holds.
    pub claimed: Option<Num>,
    /// [`Addr::Following`] appends the directory; any other address places it there (on top of
    /// whatever lies there).
    pub placement: Addr,
    /// Copy `i` sits `i * stride` bytes after the placement (appended when the stride is 0 and
    /// the directory is appended).
    pub stride: i16,
    pub repeat: Option<Num>,
    pub next: Addr,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Arbitrary)]
pub struct EntrySpec {
    pub tag: Tag,
    pub field_type: FieldType,
    /// The count written, whatever the value holds.
    pub count: Option<Num>,
    pub value: ValueSpec,
}

/// The value of an entry.
#[derive(Debug, Clone, PartialEq, Arbitrary)]
pub enum ValueSpec {
    Numbers(Vec<Num>),
    Floats(Vec<f64>),
    Text(String),
    Bytes(Vec<u8>),
    /// Numbers that are file positions.
    Addrs(Vec<Addr>),
    /// `start`, `start + step`, … (`len` values, at most [`MAX_SEQUENCE`]).
    Sequence {
        start: Addr,
        step: i32,
        len: Num,
    },
    /// The lengths of these blobs (byte counts for offsets into them).
    BlobLens(Vec<u8>),
    /// No value of its own: the entry's value field holds this address, whatever the count.
    At(Addr),
}

macro_rules! tags {
    ($($name:ident = $code:expr,)*) => {
        /// Tag numbers, mostly those the decoder reads.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
        pub enum Tag {
            $($name,)*
            Other(u16),
        }

        impl Tag {
            pub fn code(self) -> u16 {
                match self {
                    $(Tag::$name => $code,)*
                    Tag::Other(code) => code,
                }
            }
        }
    };
}

tags! {
    NewSubfileType = 254,
    ImageWidth = 256,
    ImageLength = 257,
    BitsPerSample = 258,
    Compression = 259,
    Photometric = 262,
    StripOffsets = 273,
    SamplesPerPixel = 277,
    RowsPerStrip = 278,
    StripByteCounts = 279,
    PlanarConfiguration = 284,
    Predictor = 317,
    ColorMap = 320,
    TileWidth = 322,
    TileLength = 323,
    TileOffsets = 324,
    TileByteCounts = 325,
    ExtraSamples = 338,
    SampleFormat = 339,
    JpegTables = 347,
    ModelPixelScale = 33550,
    ModelTiepoint = 33922,
    ModelTransformation = 34264,
    GeoKeyDirectory = 34735,
    GeoDoubleParams = 34736,
    GeoAsciiParams = 34737,
    GdalMetadata = 42112,
    GdalNodata = 42113,
}

/// TIFF field types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
pub enum FieldType {
    Byte,
    Ascii,
    Short,
    Long,
    Rational,
    SByte,
    Undefined,
    SShort,
    SLong,
    SRational,
    Float,
    Double,
    Ifd,
    Long8,
    SLong8,
    Ifd8,
    Other(u16),
}

impl FieldType {
    pub fn code(self) -> u16 {
        match self {
            FieldType::Byte => 1,
            FieldType::Ascii => 2,
            FieldType::Short => 3,
            FieldType::Long => 4,
            FieldType::Rational => 5,
            FieldType::SByte => 6,
            FieldType::Undefined => 7,
            FieldType::SShort => 8,
            FieldType::SLong => 9,
            FieldType::SRational => 10,
            FieldType::Float => 11,
            FieldType::Double => 12,
            FieldType::Ifd => 13,
            FieldType::Long8 => 16,
            FieldType::SLong8 => 17,
            FieldType::Ifd8 => 18,
            FieldType::Other(code) => code,
        }
    }

    /// Bytes per element (4 for unknown types).
    pub fn size(self) -> usize {
        match self.code() {
            1 | 2 | 6 | 7 => 1,
            3 | 8 => 2,
            5 | 10 | 12 | 16 | 17 | 18 => 8,
            _ => 4,
        }
    }

    /// Encodes an integer as one element, in the file's byte order.
    fn put_int(self, out: &mut Vec<u8>, v: u64, little: bool) {
        match self.code() {
            11 => put(out, &(v as f32).to_bits().to_le_bytes(), little),
            12 => put(out, &(v as f64).to_bits().to_le_bytes(), little),
            5 | 10 => {
                put(out, &(v as u32).to_le_bytes(), little);
                put(out, &1u32.to_le_bytes(), little);
            }
            _ => put(out, &v.to_le_bytes()[..self.size()], little),
        }
    }

    /// Encodes a float as one element, in the file's byte order.
    fn put_float(self, out: &mut Vec<u8>, v: f64, little: bool) {
        match self.code() {
            11 => put(out, &(v as f32).to_bits().to_le_bytes(), little),
            12 => put(out, &v.to_bits().to_le_bytes(), little),
            5 | 10 => {
                // Three decimals, or the integer part when that does not fit.
                let scaled = v * 1000.0;
                let (num, den) = if scaled.abs() < f64::from(u32::MAX) {
                    (scaled as i64 as u32, 1000u32)
                } else {
                    (v as i64 as u32, 1)
                };
                put(out, &num.to_le_bytes(), little);
                put(out, &den.to_le_bytes(), little);
            }
            _ => self.put_int(out, v as i64 as u64, little),
        }
    }
}

/// Appends little-endian `bytes` in the file's byte order.
fn put(out: &mut Vec<u8>, bytes: &[u8], little: bool) {
    if little {
        out.extend_from_slice(bytes);
    } else {
        out.extend(bytes.iter().rev());
    }
}

/// The file being written: writes past [`MAX_FILE`] are dropped.
struct Out {
    bytes: Vec<u8>,
}

impl Out {
    /// Reserves `len` bytes at the end (2-aligned) and returns their position.
    fn alloc(&mut self, len: u64) -> u64 {
        let at = (self.bytes.len() as u64).next_multiple_of(2);
        let end = at.saturating_add(len).min(MAX_FILE as u64);
        if end > self.bytes.len() as u64 {
            self.bytes.resize(end as usize, 0);
        }
        at
    }

    fn remaining(&self) -> u64 {
        (MAX_FILE - self.bytes.len()) as u64
    }

    fn write(&mut self, at: u64, data: &[u8]) {
        let Ok(start) = usize::try_from(at) else {
            return;
        };
        if start >= MAX_FILE {
            return;
        }
        let data = &data[..data.len().min(MAX_FILE - start)];
        let end = start + data.len();
        if end > self.bytes.len() {
            self.bytes.resize(end, 0);
        }
        self.bytes[start..end].copy_from_slice(data);
    }
}

/// An entry's count and what its value field holds.
struct Rendered {
    count: u64,
    field: Field,
}

enum Field {
    Inline(Vec<u8>),
    Offset(u64),
    /// The address of a [`ValueSpec::At`], resolved per directory copy.
    At,
}

/// Positions of everything placed, to resolve [`Addr`]s.
struct Layout {
    blobs: Vec<(u64, u64)>,
    dirs: Vec<u64>,
}

impl Layout {
    /// The position `addr` names, seen from directory `current` (for [`Addr::Following`]).
    fn resolve(&self, addr: Addr, current: Option<usize>) -> u64 {
        let dir = |n: u16| -> Option<u64> {
            (!self.dirs.is_empty()).then(|| self.dirs[usize::from(n) % self.dirs.len()])
        };
        match addr {
            Addr::Null => 0,
            Addr::Following => match current {
                None => self.dirs.first().copied().unwrap_or(0),
                Some(i) => self.dirs.get(i + 1).copied().unwrap_or(0),
            },
            Addr::Dir(n) => dir(n).unwrap_or(0),
            Addr::IntoDir { dir: n, delta } => {
                dir(n).map_or(0, |d| d.saturating_add_signed(i64::from(delta)))
            }
            Addr::Blob { blob, offset } => {
                if self.blobs.is_empty() {
                    return u64::from(offset);
                }
                let (start, len) = self.blobs[usize::from(blob) % self.blobs.len()];
                start + u64::from(offset) % (len + 1)
            }
            Addr::Absolute(Num(n)) => n,
        }
    }
}

impl Content {
    fn render(&self, budget: u64) -> Vec<u8> {
        let cap = |len: Num| usize::try_from(len.0.min(budget)).unwrap_or(0);
        match self {
            Content::Bytes(bytes) => bytes.clone(),
            Content::Fill { byte, len } => vec![*byte; cap(*len)],
            Content::Pattern { unit, len } if !unit.is_empty() => {
                unit.iter().copied().cycle().take(cap(*len)).collect()
            }
            Content::Pattern { .. } => Vec::new(),
        }
    }
}

impl Blob {
    /// A raw blob, not compressed.
    pub fn raw(content: Content) -> Self {
        Self {
            content,
            deflate: false,
        }
    }

    fn render(&self, budget: u64) -> Vec<u8> {
        use std::io::Write as _;
        let raw = self.content.render(budget);
        if !self.deflate {
            return raw;
        }
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        match encoder.write_all(&raw).and_then(|()| encoder.finish()) {
            Ok(compressed) => compressed,
            Err(_) => raw,
        }
    }
}

impl DirSpec {
    /// A directory with these entries, appended, followed by the next one.
    pub fn new(entries: Vec<EntrySpec>) -> Self {
        Self {
            entries,
            claimed: None,
            placement: Addr::Following,
            stride: 0,
            repeat: None,
            next: Addr::Following,
        }
    }

    fn copies(&self) -> usize {
        1 + self.repeat.map_or(0, |Num(n)| n.min(MAX_COPIES - 1)) as usize
    }

    fn claimed(&self) -> u64 {
        self.claimed.map_or(self.entries.len() as u64, |Num(n)| n)
    }
}

impl EntrySpec {
    /// An entry whose count is the number of values.
    pub fn new(tag: Tag, field_type: FieldType, value: ValueSpec) -> Self {
        Self {
            tag,
            field_type,
            count: None,
            value,
        }
    }

    /// A SHORT entry of these numbers.
    pub fn shorts(tag: Tag, values: &[u64]) -> Self {
        Self::new(tag, FieldType::Short, numbers(values))
    }

    /// A LONG entry of these numbers.
    pub fn longs(tag: Tag, values: &[u64]) -> Self {
        Self::new(tag, FieldType::Long, numbers(values))
    }

    /// The same entry with this count written.
    pub fn claiming(mut self, count: u64) -> Self {
        self.count = Some(Num(count));
        self
    }
}

/// A [`ValueSpec::Numbers`] of these values.
pub fn numbers(values: &[u64]) -> ValueSpec {
    ValueSpec::Numbers(values.iter().map(|&v| Num(v)).collect())
}

impl ValueSpec {
    /// The value's elements encoded as `field_type` in the file's byte order, and how many
    /// elements that is; `None` for [`ValueSpec::At`].
    fn render(
        &self,
        field_type: FieldType,
        little: bool,
        layout: &Layout,
        budget: u64,
    ) -> Option<(Vec<u8>, u64)> {
        let size = field_type.size();
        let mut out = Vec::new();
        let ints = |out: &mut Vec<u8>, values: &mut dyn Iterator<Item = u64>| {
            let mut n = 0;
            for v in values {
                if (out.len() + size) as u64 > budget {
                    break;
                }
                field_type.put_int(out, v, little);
                n += 1;
            }
            n
        };
        let count = match self {
            ValueSpec::Numbers(values) => ints(&mut out, &mut values.iter().map(|n| n.0)),
            ValueSpec::Floats(values) => {
                for &v in values {
                    field_type.put_float(&mut out, v, little);
                }
                values.len() as u64
            }
            ValueSpec::Text(text) => {
                out.extend_from_slice(text.as_bytes());
                out.push(0);
                (out.len() as u64).div_ceil(size as u64)
            }
            ValueSpec::Bytes(bytes) => {
                out.extend_from_slice(bytes);
                (out.len() as u64).div_ceil(size as u64)
            }
            ValueSpec::Addrs(addrs) => ints(
                &mut out,
                &mut addrs.iter().map(|&a| layout.resolve(a, None)),
            ),
            ValueSpec::Sequence { start, step, len } => {
                let start = layout.resolve(*start, None);
                let step = i64::from(*step);
                ints(
                    &mut out,
                    &mut (0..len.0.min(MAX_SEQUENCE))
                        .map(|i| start.wrapping_add_signed(step.wrapping_mul(i as i64))),
                )
            }
            ValueSpec::BlobLens(blobs) => ints(
                &mut out,
                &mut blobs.iter().map(|&b| {
                    if layout.blobs.is_empty() {
                        0
                    } else {
                        layout.blobs[usize::from(b) % layout.blobs.len()].1
                    }
                }),
            ),
            ValueSpec::At(_) => return None,
        };
        Some((out, count))
    }
}

impl TiffSpec {
    /// A well-formed header in this byte order pointing at the first of `directories`.
    pub fn new(little_endian: bool, big_tiff: bool, directories: Vec<DirSpec>) -> Self {
        Self {
            little_endian,
            big_tiff,
            header: HeaderTweak::None,
            first: Addr::Following,
            blobs: Vec::new(),
            directories,
            length: None,
        }
    }

    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let little = self.little_endian;
        let big = self.big_tiff;
        let word: u64 = if big { 8 } else { 4 };
        let count_len: u64 = if big { 8 } else { 2 };
        let entry_len: u64 = if big { 20 } else { 12 };
        let mut out = Out {
            bytes: vec![0; if big { 16 } else { 8 }],
        };

        // Blobs, in order, after the header.
        let mut layout = Layout {
            blobs: Vec::new(),
            dirs: Vec::new(),
        };
        for blob in &self.blobs {
            let bytes = blob.render(out.remaining());
            let at = out.alloc(bytes.len() as u64);
            out.write(at, &bytes);
            layout.blobs.push((at, bytes.len() as u64));
        }

        // Directories: every copy placed, in order, as (spec, copy).
        let mut copies: Vec<(usize, usize)> = Vec::new();
        for (spec, dir) in self.directories.iter().enumerate() {
            let room = MAX_DIRECTORIES - copies.len();
            copies.extend((0..dir.copies().min(room)).map(|copy| (spec, copy)));
        }
        for &(spec, copy) in &copies {
            let dir = &self.directories[spec];
            let written = count_len + dir.entries.len() as u64 * entry_len + word;
            let claimed = dir
                .claimed()
                .saturating_mul(entry_len)
                .saturating_add(count_len + word);
            let shift = i64::from(dir.stride).saturating_mul(copy as i64);
            let at = match dir.placement {
                Addr::Following if dir.stride == 0 || copy == 0 => {
                    out.alloc(if claimed <= out.remaining() {
                        claimed
                    } else {
                        written
                    })
                }
                Addr::Following => layout.dirs[layout.dirs.len() - copy].wrapping_add_signed(shift),
                placement => layout.resolve(placement, None).wrapping_add_signed(shift),
            };
            layout.dirs.push(at);
        }

        // Values: rendered once per entry of a spec, out of line at one place shared by its
        // copies.
        let mut values: Vec<Vec<Rendered>> = Vec::new();
        for dir in &self.directories {
            let mut entries = Vec::new();
            for entry in &dir.entries {
                let rendered =
                    entry
                        .value
                        .render(entry.field_type, little, &layout, out.remaining());
                let natural = rendered.as_ref().map_or(1, |(_, n)| *n);
                let count = entry.count.map_or(natural, |Num(n)| n);
                let claimed = count.saturating_mul(entry.field_type.size() as u64);
                let field = match rendered {
                    None => Field::At,
                    Some((bytes, _)) if claimed <= word => Field::Inline(bytes),
                    Some((bytes, _)) => {
                        let at = out.alloc(bytes.len() as u64);
                        out.write(at, &bytes);
                        Field::Offset(at)
                    }
                };
                entries.push(Rendered { count, field });
            }
            values.push(entries);
        }

        // The directories themselves, in order: later ones overwrite earlier ones.
        for (i, &(spec, _)) in copies.iter().enumerate() {
            let dir = &self.directories[spec];
            // The count, the next pointer where the count puts it, then the entries (which win
            // where a small claimed count puts the pointer among them).
            let at = layout.dirs[i];
            let mut count = Vec::new();
            put(
                &mut count,
                &dir.claimed().to_le_bytes()[..count_len as usize],
                little,
            );
            out.write(at, &count);
            let next_at = dir
                .claimed()
                .saturating_mul(entry_len)
                .saturating_add(count_len)
                .saturating_add(at);
            let next = layout.resolve(dir.next, Some(i));
            let mut next_bytes = Vec::new();
            put(
                &mut next_bytes,
                &next.to_le_bytes()[..word as usize],
                little,
            );
            out.write(next_at, &next_bytes);
            let mut entries = Vec::new();
            for (entry, rendered) in dir.entries.iter().zip(&values[spec]) {
                self.put_entry(&mut entries, entry, rendered, &layout, i);
            }
            out.write(at.saturating_add(count_len), &entries);
        }

        // The header, last.
        let mut header = Vec::new();
        header.extend_from_slice(if little { b"II" } else { b"MM" });
        let version = match self.header {
            HeaderTweak::Version(v) => v,
            _ if big => 43,
            _ => 42,
        };
        put(&mut header, &version.to_le_bytes(), little);
        if big {
            let size = match self.header {
                HeaderTweak::OffsetSize(s) => s,
                _ => 8,
            };
            let reserved = match self.header {
                HeaderTweak::Reserved(r) => r,
                _ => 0,
            };
            put(&mut header, &size.to_le_bytes(), little);
            put(&mut header, &reserved.to_le_bytes(), little);
        }
        let first = layout.resolve(self.first, None);
        put(&mut header, &first.to_le_bytes()[..word as usize], little);
        out.write(0, &header);

        let mut bytes = out.bytes;
        if let Some(Num(len)) = self.length {
            bytes.resize(len.min(MAX_FILE as u64) as usize, 0);
        }
        bytes
    }

    /// Appends one directory entry (of directory copy `dir`).
    fn put_entry(
        &self,
        bytes: &mut Vec<u8>,
        entry: &EntrySpec,
        rendered: &Rendered,
        layout: &Layout,
        dir: usize,
    ) {
        let little = self.little_endian;
        let word = if self.big_tiff { 8 } else { 4 };
        put(bytes, &entry.tag.code().to_le_bytes(), little);
        put(bytes, &entry.field_type.code().to_le_bytes(), little);
        put(bytes, &rendered.count.to_le_bytes()[..word], little);
        let mut field = Vec::with_capacity(8);
        match (&rendered.field, &entry.value) {
            (Field::Inline(inline), _) => {
                field.extend_from_slice(&inline[..inline.len().min(word)])
            }
            (Field::Offset(at), _) => put(&mut field, &at.to_le_bytes()[..word], little),
            (Field::At, ValueSpec::At(addr)) => {
                let at = layout.resolve(*addr, Some(dir));
                put(&mut field, &at.to_le_bytes()[..word], little);
            }
            (Field::At, _) => {}
        }
        field.resize(word, 0);
        bytes.extend(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arbitrary_specs_encode_within_the_budget() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..1000 {
            let len = 1 + (next() % 600) as usize;
            let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Ok(spec) = TiffSpec::arbitrary_take_rest(Unstructured::new(&data)) {
                let bytes = spec.encode();
                assert!(
                    bytes.len() <= MAX_FILE,
                    "round {round}: {} bytes",
                    bytes.len()
                );
                assert!(spec.length.is_some() || bytes.len() >= 8, "round {round}");
            }
        }
    }

    #[test]
    fn a_plain_file_reads_back() {
        let entries = vec![
            EntrySpec::longs(Tag::ImageWidth, &[3]),
            EntrySpec::longs(Tag::ImageLength, &[2]),
            EntrySpec::shorts(Tag::BitsPerSample, &[8]),
            EntrySpec::new(
                Tag::StripOffsets,
                FieldType::Long,
                ValueSpec::Addrs(vec![Addr::Blob { blob: 0, offset: 0 }]),
            ),
            EntrySpec::new(
                Tag::StripByteCounts,
                FieldType::Long,
                ValueSpec::BlobLens(vec![0]),
            ),
        ];
        for (little, big) in [(true, false), (false, false), (true, true), (false, true)] {
            let mut spec = TiffSpec::new(little, big, vec![DirSpec::new(entries.clone())]);
            spec.blobs = vec![Blob::raw(Content::Bytes(vec![1, 2, 3, 4, 5, 6]))];
            let bytes = spec.encode();
            let mut reader =
                engine::geotiff::GeoTiffReader::open(std::io::Cursor::new(bytes)).unwrap();
            assert_eq!((reader.info().width, reader.info().height), (3, 2));
            let block = reader
                .read_window(engine::raster::Window::new(0, 0, 3, 2))
                .unwrap();
            assert_eq!(
                block.samples,
                engine::raster::Samples::U8(vec![1, 2, 3, 4, 5, 6])
            );
        }
    }
}
