//! Encoding of TIFF headers and image file directories, in either byte order, classic or
//! BigTIFF.

/// Byte order of a TIFF file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ByteOrder {
    Little,
    Big,
}

/// TIFF and GeoTIFF tag numbers, for reading and for writing.
pub(super) mod tag {
    pub const NEW_SUBFILE_TYPE: u16 = 254;
    pub const IMAGE_WIDTH: u16 = 256;
    pub const IMAGE_LENGTH: u16 = 257;
    pub const BITS_PER_SAMPLE: u16 = 258;
    pub const COMPRESSION: u16 = 259;
    pub const PHOTOMETRIC: u16 = 262;
    pub const STRIP_OFFSETS: u16 = 273;
    pub const SAMPLES_PER_PIXEL: u16 = 277;
    pub const ROWS_PER_STRIP: u16 = 278;
    pub const STRIP_BYTE_COUNTS: u16 = 279;
    pub const PLANAR_CONFIGURATION: u16 = 284;
    pub const PREDICTOR: u16 = 317;
    pub const COLOR_MAP: u16 = 320;
    pub const TILE_WIDTH: u16 = 322;
    pub const TILE_LENGTH: u16 = 323;
    pub const TILE_OFFSETS: u16 = 324;
    pub const TILE_BYTE_COUNTS: u16 = 325;
    pub const EXTRA_SAMPLES: u16 = 338;
    pub const SAMPLE_FORMAT: u16 = 339;
    pub const JPEG_TABLES: u16 = 347;
    pub const MODEL_PIXEL_SCALE: u16 = 33550;
    pub const MODEL_TIEPOINT: u16 = 33922;
    pub const MODEL_TRANSFORMATION: u16 = 34264;
    pub const GEO_KEY_DIRECTORY: u16 = 34735;
    pub const GEO_DOUBLE_PARAMS: u16 = 34736;
    pub const GEO_ASCII_PARAMS: u16 = 34737;
    pub const GDAL_METADATA: u16 = 42112;
    pub const GDAL_NODATA: u16 = 42113;
}

/// The value of one directory entry.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Short(Vec<u16>),
    Long(Vec<u32>),
    Long8(Vec<u64>),
    Double(Vec<f64>),
    Ascii(String),
    Undefined(Vec<u8>),
}

impl Value {
    fn type_code(&self) -> u16 {
        match self {
            Value::Ascii(_) => 2,
            Value::Short(_) => 3,
            Value::Long(_) => 4,
            Value::Undefined(_) => 7,
            Value::Double(_) => 12,
            Value::Long8(_) => 16,
        }
    }

    fn count(&self) -> usize {
        match self {
            Value::Short(v) => v.len(),
            Value::Long(v) => v.len(),
            Value::Long8(v) => v.len(),
            Value::Double(v) => v.len(),
            Value::Ascii(s) => s.len() + 1,
            Value::Undefined(v) => v.len(),
        }
    }

    fn encode(&self, order: ByteOrder) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Value::Short(v) => v.iter().for_each(|x| put(&mut out, order, x.to_le_bytes())),
            Value::Long(v) => v.iter().for_each(|x| put(&mut out, order, x.to_le_bytes())),
            Value::Long8(v) => v.iter().for_each(|x| put(&mut out, order, x.to_le_bytes())),
            Value::Double(v) => v.iter().for_each(|x| put(&mut out, order, x.to_le_bytes())),
            Value::Ascii(s) => {
                out.extend_from_slice(s.as_bytes());
                out.push(0);
            }
            Value::Undefined(v) => out.extend_from_slice(v),
        }
        out
    }
}

/// An offset or count does not fit the chosen TIFF flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OffsetOverflow;

/// Appends the little-endian `bytes` of a number in `order`.
fn put<const N: usize>(out: &mut Vec<u8>, order: ByteOrder, mut bytes: [u8; N]) {
    if order == ByteOrder::Big {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

/// Appends an offset or count: 4 bytes in classic TIFF, 8 in BigTIFF.
fn put_word(
    out: &mut Vec<u8>,
    order: ByteOrder,
    big: bool,
    value: u64,
) -> Result<(), OffsetOverflow> {
    if big {
        put(out, order, value.to_le_bytes());
    } else {
        put(
            out,
            order,
            u32::try_from(value)
                .map_err(|_| OffsetOverflow)?
                .to_le_bytes(),
        );
    }
    Ok(())
}

/// Length of the file header: 8 bytes classic, 16 BigTIFF.
pub(super) fn header_len(big: bool) -> u64 {
    if big { 16 } else { 8 }
}

/// The file header pointing at the first directory.
pub(super) fn encode_header(
    order: ByteOrder,
    big: bool,
    first_ifd: u64,
) -> Result<Vec<u8>, OffsetOverflow> {
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(match order {
        ByteOrder::Little => b"II",
        ByteOrder::Big => b"MM",
    });
    if big {
        put(&mut out, order, 43u16.to_le_bytes());
        put(&mut out, order, 8u16.to_le_bytes());
        put(&mut out, order, 0u16.to_le_bytes());
    } else {
        put(&mut out, order, 42u16.to_le_bytes());
    }
    put_word(&mut out, order, big, first_ifd)?;
    Ok(out)
}

/// Encodes one directory to be stored at file offset `at` (even), with its out-of-line values
/// right after it and no next directory. `entries` are sorted by tag here.
pub(super) fn encode_ifd(
    entries: &mut [(u16, Value)],
    at: u64,
    order: ByteOrder,
    big: bool,
) -> Result<Vec<u8>, OffsetOverflow> {
    encode_linked_ifd(entries, at, 0, order, big)
}

/// [`encode_ifd`] with the next directory at file offset `next` (0: none). The length of the
/// result depends only on the entries' types and counts, not on `at`, `next` or the values.
pub(super) fn encode_linked_ifd(
    entries: &mut [(u16, Value)],
    at: u64,
    next: u64,
    order: ByteOrder,
    big: bool,
) -> Result<Vec<u8>, OffsetOverflow> {
    entries.sort_by_key(|(tag, _)| *tag);
    let (count_len, entry_len, word) = if big { (8u64, 20u64, 8u64) } else { (2, 12, 4) };
    let count = u64::try_from(entries.len()).map_err(|_| OffsetOverflow)?;
    let table_len = count_len + count * entry_len + word;
    let mut table = Vec::new();
    let mut values = Vec::new();
    if big {
        put(&mut table, order, count.to_le_bytes());
    } else {
        put(
            &mut table,
            order,
            u16::try_from(count)
                .map_err(|_| OffsetOverflow)?
                .to_le_bytes(),
        );
    }
    for (tag, value) in entries.iter() {
        let mut bytes = value.encode(order);
        put(&mut table, order, tag.to_le_bytes());
        put(&mut table, order, value.type_code().to_le_bytes());
        put_word(&mut table, order, big, value.count() as u64)?;
        if bytes.len() as u64 <= word {
            bytes.resize(word as usize, 0);
            table.extend_from_slice(&bytes);
        } else {
            let offset = at + table_len + values.len() as u64;
            put_word(&mut table, order, big, offset)?;
            values.extend_from_slice(&bytes);
            if values.len() % 2 == 1 {
                values.push(0);
            }
        }
    }
    put_word(&mut table, order, big, next)?;
    put_word(
        &mut Vec::new(),
        order,
        big,
        at + table_len + values.len() as u64,
    )?;
    table.extend_from_slice(&values);
    Ok(table)
}
