//! Damaged files: every real fixture (and a few encodings the real ones lack) truncated at many
//! lengths and with bytes changed at seeded positions must open and decode to `Ok` or `Err`,
//! never panic, and stay within small decoding limits.

#![allow(clippy::unwrap_used)]

mod geotiff_support;

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use engine::geotiff::{GeoTiffReader, Limits};
use engine::raster::Window;
use geotiff_support::{REAL_FILES, XorShift, read_fixture};

const EXTRA_FILES: &[&str] = &[
    "gdal/rgb_jpeg_ycbcr_tiles.tif",
    "gdal/rgb_planar_lzw_tiles.tif",
    "gdal/rgb_bigtiff_deflate_tiles.tif",
    "gdal/rgb_mask_overviews_tiles.tif",
    "gdal/pan_f32_big_endian_deflate_pred3_strips.tif",
    "gdal/pan_i16_zstd_pred2_strips.tif",
    "gdal/rgb_packbits_tiles.tif",
];

fn fuzz_inputs() -> Vec<(String, Vec<u8>)> {
    let real = REAL_FILES.iter().map(|f| format!("real/{f}"));
    real.chain(EXTRA_FILES.iter().map(|f| f.to_string()))
        .map(|f| (f.clone(), read_fixture(&f)))
        .collect()
}

/// Small limits, so that a damaged size cannot make the decoder allocate much.
fn small_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_window_bytes = 8 << 20;
    limits.max_chunk_bytes = 4 << 20;
    limits.max_tag_bytes = 1 << 20;
    limits.max_ifds = 64;
    limits.chunk_cache_bytes = 1 << 20;
    limits
}

/// Opens `bytes` and decodes every level whole plus a corner window; returns whether all of it
/// succeeded.
fn decode_everything(bytes: Vec<u8>) -> bool {
    let Ok(mut reader) = GeoTiffReader::with_limits(Cursor::new(bytes), small_limits()) else {
        return false;
    };
    let mut all_ok = true;
    for level in 0..reader.info().levels() {
        let Some((width, height)) = reader.info().level_size(level) else {
            return false;
        };
        for window in [
            Window::new(0, 0, width, height),
            Window::new(width / 2, height / 2, width - width / 2, 1),
        ] {
            all_ok &= reader.read_window_at_level(level, window).is_ok();
        }
    }
    all_ok
}

fn assert_no_panic(name: &str, damage: &str, bytes: Vec<u8>) -> bool {
    catch_unwind(AssertUnwindSafe(|| decode_everything(bytes)))
        .unwrap_or_else(|_| panic!("{name} {damage}: the decoder panicked"))
}

#[test]
fn undamaged_inputs_decode() {
    for (name, bytes) in fuzz_inputs() {
        assert!(
            decode_everything(bytes),
            "{name} does not decode within the small limits"
        );
    }
}

#[test]
fn truncated_files_never_panic() {
    for (name, bytes) in fuzz_inputs() {
        let len = bytes.len();
        let lengths = (0..64)
            .chain((1..48).map(|i| len * i / 48))
            .chain([len - 1]);
        let mut failures = 0;
        for cut in lengths {
            failures += usize::from(!assert_no_panic(
                &name,
                &format!("cut at {cut}"),
                bytes[..cut].to_vec(),
            ));
        }
        assert!(failures > 0, "{name}: no truncation was noticed");
    }
}

#[test]
fn changed_bytes_never_panic() {
    let mut rng = XorShift(0x5eed_cafe_f00d_d00d);
    for (name, bytes) in fuzz_inputs() {
        let directory = first_directory(&bytes);
        for round in 0..500 {
            let mut damaged = bytes.clone();
            // Mostly the header and the first directory, where sizes and offsets live.
            for _ in 0..1 + rng.below(3) {
                let at = match round % 4 {
                    0 => rng.below(damaged.len()),
                    1 => rng.below(16.min(damaged.len())),
                    _ => directory.start + rng.below(directory.len()),
                };
                let last = damaged.len() - 1;
                damaged[at.min(last)] = rng.next_u64() as u8;
            }
            assert_no_panic(&name, &format!("round {round}"), damaged);
        }
    }
}

#[test]
fn extreme_tag_counts_and_values_never_panic() {
    const EXTREMES: [u64; 7] = [0, 1, 2, 255, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF];
    for (name, bytes) in fuzz_inputs() {
        if bytes.get(2..4) == Some(&[43, 0]) || bytes.get(2..4) == Some(&[0, 43]) {
            continue; // the classic layout is patched below
        }
        let big_endian = bytes.starts_with(b"MM");
        let directory = first_directory(&bytes);
        for entry in (directory.start + 2..directory.end.saturating_sub(12)).step_by(12) {
            for (field, width) in [(4, 4), (8, 4), (8, 2)] {
                for value in EXTREMES {
                    let mut damaged = bytes.clone();
                    put(
                        &mut damaged[entry + field..entry + field + width],
                        value,
                        big_endian,
                    );
                    assert_no_panic(
                        &name,
                        &format!("entry at {entry}, byte {field} = {value}"),
                        damaged,
                    );
                }
            }
        }
    }
}

/// Writes the low bytes of `value` into `bytes` in the given byte order.
fn put(bytes: &mut [u8], value: u64, big_endian: bool) {
    let n = bytes.len();
    for (i, b) in bytes.iter_mut().enumerate() {
        let shift = 8 * if big_endian { n - 1 - i } else { i };
        *b = (value >> shift) as u8;
    }
}

/// The byte range of the first directory's entries (classic or BigTIFF, either byte order).
fn first_directory(bytes: &[u8]) -> std::ops::Range<usize> {
    let big_endian = bytes.starts_with(b"MM");
    let read = |at: usize, n: usize| -> usize {
        let mut v = 0usize;
        for i in 0..n {
            let b = usize::from(bytes[at + if big_endian { i } else { n - 1 - i }]);
            v = (v << 8) | b;
        }
        v
    };
    let big_tiff = read(2, 2) == 43;
    let (offset, count, entry) = if big_tiff {
        let offset = read(8, 8);
        (offset, read(offset, 8), 20)
    } else {
        let offset = read(4, 4);
        (offset, read(offset, 2), 12)
    };
    offset..(offset + 8 + count * entry).min(bytes.len())
}
