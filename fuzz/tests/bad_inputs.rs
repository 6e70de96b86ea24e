//! The structure-aware generator can express every hostile fixture of
//! `tests/fixtures/bad-inputs/` with a few of its own primitives: each fixture is written here as
//! a [`TiffSpec`], encoded, and compared with the fixture's structure (header, the directory
//! chain with how far each directory lies from the next, every entry's tag, type, count and
//! value bytes, and which values share their bytes), offsets aside.

use std::collections::HashMap;
use std::io::Read;

use mapseg_fuzz::tiff_spec::{
    Addr, Blob, Content, DirSpec, EntrySpec, FieldType, Num, Tag, TiffSpec, ValueSpec,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../tests/fixtures/bad-inputs/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    if name.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        out
    } else {
        bytes
    }
}

/// A file's structure, offsets replaced by the order in which they are first met.
#[derive(Debug, PartialEq)]
struct Structure {
    little_endian: bool,
    big_tiff: bool,
    directories: Vec<Directory>,
}

#[derive(Debug, PartialEq)]
struct Directory {
    claimed: u64,
    /// Distance to the next directory (`None` for none or one past the end of the file).
    next: Option<i64>,
    entries: Vec<Entry>,
}

#[derive(Debug, PartialEq)]
struct Entry {
    tag: u16,
    field_type: u16,
    count: u64,
    value: Value,
}

#[derive(Debug, PartialEq)]
enum Value {
    Inline([u8; 8]),
    /// Out of line: which of the distinct offsets met so far, and the bytes there (as many as
    /// lie in the file).
    At {
        place: usize,
        bytes: Vec<u8>,
    },
    /// Out of line on the header or a directory: which place, and how many bytes lie in the file.
    OnStructure {
        place: usize,
        len: usize,
    },
}

/// Reads the structure of `bytes`: at most `max_dirs` directories of the chain and `max_entries`
/// entries of each.
fn structure(bytes: &[u8], max_dirs: usize, max_entries: usize) -> Structure {
    let little = bytes.starts_with(b"II");
    let uint = |at: u64, n: usize| -> Option<u64> {
        let at = usize::try_from(at).ok()?;
        let b = bytes.get(at..at.checked_add(n)?)?;
        Some(if little {
            b.iter().rev().fold(0, |v, &x| (v << 8) | u64::from(x))
        } else {
            b.iter().fold(0, |v, &x| (v << 8) | u64::from(x))
        })
    };
    let big = uint(2, 2) == Some(43);
    let (word, count_len, entry_len) = if big { (8, 8, 20) } else { (4, 2, 12) };

    // The chain: (offset, claimed count, next).
    let mut chain = Vec::new();
    let mut offset = uint(if big { 8 } else { 4 }, word).unwrap_or(0);
    while offset != 0 && chain.len() < max_dirs {
        let Some(claimed) = uint(offset, count_len) else {
            break;
        };
        let next_at = offset + count_len as u64 + claimed.saturating_mul(entry_len);
        let next = uint(next_at, word).filter(|&n| n != 0);
        chain.push((offset, claimed, next));
        offset = next.unwrap_or(0);
    }
    // Bytes that belong to the header or a directory.
    let mut structural = vec![(0, if big { 16 } else { 8 })];
    structural.extend(chain.iter().map(|&(offset, claimed, _)| {
        let len = claimed.saturating_mul(entry_len) + count_len as u64 + word as u64;
        (offset, offset.saturating_add(len))
    }));

    let mut places: HashMap<u64, usize> = HashMap::new();
    let mut directories = Vec::new();
    for &(offset, claimed, next) in &chain {
        let mut entries = Vec::new();
        for i in 0..claimed.min(max_entries as u64) {
            let at = offset + count_len as u64 + i * entry_len;
            let (Some(tag), Some(field_type), Some(count)) =
                (uint(at, 2), uint(at + 2, 2), uint(at + 4, word))
            else {
                break;
            };
            let size: u64 = match field_type {
                1 | 2 | 6 | 7 => 1,
                3 | 8 => 2,
                4 | 9 | 11 | 13 => 4,
                5 | 10 | 12 | 16 | 17 | 18 => 8,
                _ => 0,
            };
            let field = at + 4 + word as u64;
            let len = count.saturating_mul(size);
            let value = if size == 0 || len <= word as u64 {
                let mut inline = [0; 8];
                let start = field as usize;
                inline[..word].copy_from_slice(&bytes[start..start + word]);
                Value::Inline(inline)
            } else {
                let target = uint(field, word).unwrap_or(0);
                let n = places.len();
                let place = *places.entry(target).or_insert(n);
                let start = (target as usize).min(bytes.len());
                let end = (start as u64).saturating_add(len).min(bytes.len() as u64) as usize;
                let end_u64 = end as u64;
                if structural
                    .iter()
                    .any(|&(a, b)| (start as u64) < b && a < end_u64)
                {
                    // Its bytes are the file's structure, with offsets of their own.
                    Value::OnStructure {
                        place,
                        len: end - start,
                    }
                } else {
                    Value::At {
                        place,
                        bytes: bytes[start..end].to_vec(),
                    }
                }
            };
            entries.push(Entry {
                tag: tag as u16,
                field_type: field_type as u16,
                count,
                value,
            });
        }
        directories.push(Directory {
            claimed,
            next: next.map(|n| n as i64 - offset as i64),
            entries,
        });
    }
    Structure {
        little_endian: little,
        big_tiff: big,
        directories,
    }
}

/// Asserts that `spec` encodes to a file of the fixture's structure (and to its very bytes when
/// `exact`).
fn assert_expresses(name: &str, spec: &TiffSpec, max_dirs: usize, max_entries: usize, exact: bool) {
    let expected = structure(&fixture(name), max_dirs, max_entries);
    let encoded = spec.encode();
    let got = structure(&encoded, max_dirs, max_entries);
    assert!(
        !expected.directories.is_empty(),
        "{name}: no directory read"
    );
    for (i, (a, b)) in got
        .directories
        .iter()
        .zip(&expected.directories)
        .enumerate()
    {
        assert_eq!(a, b, "{name}: directory {i}");
    }
    assert_eq!(got, expected, "{name}");
    if exact {
        assert!(encoded == fixture(name), "{name}: the bytes differ");
    }
}

fn short(tag: Tag, v: u64) -> EntrySpec {
    EntrySpec::shorts(tag, &[v])
}

fn long(tag: Tag, v: u64) -> EntrySpec {
    EntrySpec::longs(tag, &[v])
}

/// An entry written as it is: any tag, type, count and value field.
fn raw(tag: u16, field_type: u16, count: u64, field: u64) -> EntrySpec {
    EntrySpec {
        tag: Tag::Other(tag),
        field_type: FieldType::Other(field_type),
        count: Some(Num(count)),
        value: ValueSpec::At(Addr::Absolute(Num(field))),
    }
}

#[test]
fn alpha_band_out_of_range() {
    let mut predictor = short(Tag::Predictor, 0);
    predictor.value = ValueSpec::At(Addr::Absolute(Num(0x9f7f_0001)));
    let spec = TiffSpec::new(
        true,
        false,
        vec![DirSpec::new(vec![
            short(Tag::ImageWidth, 317),
            short(Tag::ImageLength, 53),
            short(Tag::BitsPerSample, 16),
            short(Tag::Compression, 8),
            short(Tag::Photometric, 1),
            EntrySpec::longs(
                Tag::StripOffsets,
                &[
                    748_497_711,
                    1_119_439_821,
                    1_821_151_586,
                    134_097_571,
                    218_963_061,
                ],
            ),
            short(Tag::SamplesPerPixel, 1),
            short(Tag::RowsPerStrip, 11),
            EntrySpec::shorts(Tag::StripByteCounts, &[0, 10752, 29148, 30451, 11749]),
            // Two extra samples on a one-band raster, the second unassociated alpha.
            EntrySpec::shorts(Tag::ExtraSamples, &[5, 2]),
            predictor,
            raw(47279, 58246, 695_852_476, 0x71dc_c72a),
            raw(30451, 11749, 748_497_711, 0x42b9_4bcd),
            raw(56418, 62321, 791_537_014, 0xcd2c_9d2b),
            raw(47435, 25154, 2_741_800_081, 0x7507_fe2a),
            EntrySpec {
                count: Some(Num(33_554_432)),
                ..EntrySpec::new(Tag::Other(3356), FieldType::Ifd, ValueSpec::At(Addr::Null))
            },
            raw(0, 0, 0, 0),
        ])],
    );
    // The same structure; the fixture's writer put the values in another order.
    assert_expresses("01_alpha_band_out_of_range.tif", &spec, 4, 64, false);
}

/// A sparse 4×4 image (offset and byte count 0) with `bands` bands.
fn sparse_4x4(bands: u64, overview: bool) -> DirSpec {
    let mut entries = Vec::new();
    if overview {
        entries.push(long(Tag::NewSubfileType, 1));
    }
    entries.extend([
        short(Tag::ImageWidth, 4),
        short(Tag::ImageLength, 4),
        short(Tag::BitsPerSample, 8),
        short(Tag::Compression, 1),
        short(Tag::Photometric, if bands == 3 { 2 } else { 1 }),
        long(Tag::StripOffsets, 0),
        short(Tag::SamplesPerPixel, bands),
        short(Tag::RowsPerStrip, 4),
        long(Tag::StripByteCounts, 0),
    ]);
    DirSpec::new(entries)
}

#[test]
fn overview_with_fewer_bands() {
    let spec = TiffSpec::new(true, false, vec![sparse_4x4(3, false), sparse_4x4(1, true)]);
    assert_expresses("02_overview_fewer_bands.tif", &spec, 4, 64, true);
}

#[test]
fn huge_width() {
    let offsets = EntrySpec::longs(
        Tag::TileOffsets,
        &[
            0, 8, 8, 8, 8, 524_288, 524_288, 524_288, 524_288, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    );
    // 17 byte counts read from the header and the directory (at offset 0).
    let counts = EntrySpec::new(
        Tag::TileByteCounts,
        FieldType::Long,
        ValueSpec::At(Addr::Null),
    )
    .claiming(17);
    let spec = TiffSpec::new(
        true,
        false,
        vec![DirSpec::new(vec![
            long(Tag::ImageWidth, 1_100_000_000),
            long(Tag::ImageLength, 1),
            short(Tag::BitsPerSample, 8),
            short(Tag::Compression, 1),
            short(Tag::Photometric, 1),
            short(Tag::SamplesPerPixel, 1),
            long(Tag::TileWidth, 1 << 26),
            long(Tag::TileLength, 1),
            offsets,
            counts,
        ])],
    );
    assert_expresses("03_huge_width_sample_plan_overflow.tif", &spec, 4, 64, true);
}

#[test]
fn huge_height() {
    let sequence = |start: u64| ValueSpec::Sequence {
        start: Addr::Absolute(Num(start)),
        step: 0,
        len: Num(17),
    };
    let spec = TiffSpec::new(
        true,
        false,
        vec![DirSpec::new(vec![
            long(Tag::ImageWidth, 1),
            long(Tag::ImageLength, 1_100_000_000),
            short(Tag::BitsPerSample, 8),
            short(Tag::Compression, 1),
            short(Tag::Photometric, 1),
            EntrySpec::new(Tag::StripOffsets, FieldType::Long, sequence(8)),
            short(Tag::SamplesPerPixel, 1),
            long(Tag::RowsPerStrip, 1 << 26),
            EntrySpec::new(Tag::StripByteCounts, FieldType::Long, sequence(0)),
        ])],
    );
    assert_expresses(
        "03b_huge_height_sample_plan_overflow.tif",
        &spec,
        4,
        64,
        true,
    );
}

#[test]
fn overlapping_directories() {
    // A 1×1 image's entries, claimed by none (count 0) and outside the chain, where every third
    // of the directories below reads them.
    let image = DirSpec {
        claimed: Some(Num(0)),
        placement: Addr::Absolute(Num(4124)),
        next: Addr::Null,
        ..DirSpec::new(vec![
            short(Tag::ImageWidth, 1),
            short(Tag::ImageLength, 1),
            short(Tag::BitsPerSample, 8),
            short(Tag::Compression, 1),
            short(Tag::Photometric, 1),
            short(Tag::SamplesPerPixel, 1),
            long(Tag::StripOffsets, 0),
            short(Tag::RowsPerStrip, 1),
            long(Tag::StripByteCounts, 0),
        ])
    };
    // 1024 copies of an empty directory claiming 65,535 entries, 4 bytes apart.
    let overlapping = DirSpec {
        claimed: Some(Num(65_535)),
        stride: 4,
        repeat: Some(Num(1023)),
        ..DirSpec::new(Vec::new())
    };
    let mut spec = TiffSpec::new(true, false, vec![image, overlapping]);
    spec.first = Addr::Dir(1);
    assert_expresses("04_overlapping_ifds_classic.tif.gz", &spec, 1100, 16, true);
    assert_eq!(
        structure(&spec.encode(), 2000, 0).directories.len(),
        1024,
        "the chain has 1024 directories"
    );
}

/// A 1024×1024 u8 level of 1×1 tiles whose BYTE offset and count arrays are the same 1 MiB.
fn shared_arrays_level(subfile: u64) -> DirSpec {
    let shared = || {
        EntrySpec::new(
            Tag::TileOffsets,
            FieldType::Byte,
            ValueSpec::At(Addr::Blob { blob: 0, offset: 0 }),
        )
        .claiming(1 << 20)
    };
    DirSpec::new(vec![
        long(Tag::NewSubfileType, subfile),
        short(Tag::ImageWidth, 1024),
        long(Tag::ImageLength, 1024),
        short(Tag::BitsPerSample, 8),
        short(Tag::Compression, 1),
        short(Tag::Photometric, 1),
        short(Tag::SamplesPerPixel, 1),
        short(Tag::TileWidth, 1),
        short(Tag::TileLength, 1),
        shared(),
        EntrySpec {
            tag: Tag::TileByteCounts,
            ..shared()
        },
    ])
}

#[test]
fn shared_offset_arrays_on_1024_levels() {
    let mut spec = TiffSpec::new(
        true,
        false,
        vec![
            shared_arrays_level(0),
            DirSpec {
                repeat: Some(Num(1022)),
                ..shared_arrays_level(1)
            },
        ],
    );
    spec.blobs = vec![Blob::raw(Content::Fill {
        byte: 0,
        len: Num(1 << 20),
    })];
    assert_expresses(
        "05_shared_offset_arrays_1024_levels.tif.gz",
        &spec,
        1100,
        16,
        true,
    );
}

#[test]
fn tiny_tiles() {
    let shared = |tag, blob| {
        EntrySpec::new(
            tag,
            FieldType::Byte,
            ValueSpec::At(Addr::Blob { blob, offset: 0 }),
        )
        .claiming(65_536)
    };
    let mut spec = TiffSpec::new(
        true,
        false,
        vec![DirSpec::new(vec![
            long(Tag::ImageWidth, 256),
            long(Tag::ImageLength, 256),
            short(Tag::BitsPerSample, 8),
            short(Tag::Compression, 1),
            short(Tag::Photometric, 1),
            short(Tag::SamplesPerPixel, 1),
            short(Tag::TileWidth, 1),
            short(Tag::TileLength, 1),
            shared(Tag::TileOffsets, 0),
            shared(Tag::TileByteCounts, 1),
        ])],
    );
    // 65,536 BYTE offsets 0, 7, 14, … (mod 256), then 65,536 byte counts of 1.
    spec.blobs = vec![
        Blob::raw(Content::Pattern {
            unit: (0..=255u8).map(|i| i.wrapping_mul(7)).collect(),
            len: Num(65_536),
        }),
        Blob::raw(Content::Fill {
            byte: 1,
            len: Num(65_536),
        }),
    ];
    assert_expresses("06_tiny_tiles_65k.tif.gz", &spec, 4, 64, true);

    // The same offsets as a sequence after the directory.
    spec.blobs.remove(0);
    spec.directories[0].entries[8] = EntrySpec::new(
        Tag::TileOffsets,
        FieldType::Byte,
        ValueSpec::Sequence {
            start: Addr::Null,
            step: 7,
            len: Num(65_536),
        },
    );
    spec.directories[0].entries[9] = shared(Tag::TileByteCounts, 0);
    assert_expresses("06_tiny_tiles_65k.tif.gz", &spec, 4, 64, false);
}

#[test]
fn all_infinite() {
    let mut dir = DirSpec::new(vec![
        short(Tag::ImageWidth, 8),
        short(Tag::ImageLength, 8),
        short(Tag::BitsPerSample, 32),
        short(Tag::Compression, 1),
        short(Tag::Photometric, 1),
        EntrySpec::new(
            Tag::StripOffsets,
            FieldType::Long,
            ValueSpec::Addrs(vec![Addr::Blob { blob: 1, offset: 0 }]),
        ),
        short(Tag::SamplesPerPixel, 1),
        short(Tag::RowsPerStrip, 8),
        EntrySpec::new(
            Tag::StripByteCounts,
            FieldType::Long,
            ValueSpec::BlobLens(vec![1]),
        ),
        short(Tag::SampleFormat, 3),
    ]);
    // The directory sits on a blob of its own size, the pixels follow it.
    dir.placement = Addr::Blob { blob: 0, offset: 0 };
    let mut spec = TiffSpec::new(true, false, vec![dir]);
    spec.blobs = vec![
        Blob::raw(Content::Fill {
            byte: 0,
            len: Num(2 + 10 * 12 + 4),
        }),
        // 64 f32 +infinity samples.
        Blob::raw(Content::Pattern {
            unit: f32::INFINITY.to_le_bytes().to_vec(),
            len: Num(256),
        }),
    ];
    assert_expresses("07_f32_all_infinite.tif", &spec, 4, 64, true);
}
