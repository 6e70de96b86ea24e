//! The hostile files of `tests/fixtures/bad-inputs/` (its README says what each crafts): every
//! one opens and segments, or fails with a typed error that names the problem; none panics,
//! none makes the decoder claim more than its limits, none yields NaN centres.

#![allow(clippy::unwrap_used)]

use std::io::{Cursor, Read};
use std::path::PathBuf;

use engine::geotiff::{DecodeError, GeoTiffReader, LimitExceeded};
use engine::manifest::{InputIdentity, MethodManifest};
use engine::pipeline::{self, Runtime, SegmentError, SegmentParams};
use engine::preview::render_preview;
use engine::progress::NoProgress;
use engine::raster::Window;
use pollster::block_on;

/// The bytes of `bad-inputs/<name>`, decompressed when it is a `.gz`.
fn bad_input(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/bad-inputs")
        .join(name);
    let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if !name.ends_with(".gz") {
        return stored;
    }
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(stored.as_slice())
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

const ALL: &[&str] = &[
    "01_alpha_band_out_of_range.tif",
    "02_overview_fewer_bands.tif",
    "03_huge_width_sample_plan_overflow.tif",
    "03b_huge_height_sample_plan_overflow.tif",
    "04_overlapping_ifds_classic.tif.gz",
    "05_shared_offset_arrays_1024_levels.tif.gz",
    "06_tiny_tiles_65k.tif.gz",
    "07_f32_all_infinite.tif",
];

fn identity() -> InputIdentity {
    InputIdentity {
        name: "bad.tif".into(),
        bytes: 0,
        blake3: String::new(),
    }
}

/// Everything a front end does with a file: open it, render the preview the web app shows,
/// read a window of every level, segment it at the defaults. Returns the first error.
fn use_like_a_front_end(
    bytes: Vec<u8>,
) -> Result<pipeline::Segmentation<Cursor<Vec<u8>>>, SegmentError> {
    let mut reader = GeoTiffReader::open(Cursor::new(bytes))?;
    let info = reader.info().clone();
    let grey = [0; 3];
    let rgb = if info.bands >= 3 { [0, 1, 2] } else { grey };
    // The preview may fail (a chunk past the end of the file), but must not panic.
    let _ = render_preview(&mut reader, rgb, 512);
    for level in 0..info.levels() {
        let (w, h) = info.level_size(level).unwrap();
        let _ = reader.read_window_at_level(level, Window::new(0, 0, w.min(64), h.min(64)));
    }
    block_on(pipeline::segment(
        &mut reader,
        Cursor::new(Vec::new()),
        &SegmentParams::default(),
        &Runtime::default(),
        identity(),
        &NoProgress,
    ))
}

#[test]
fn every_hostile_file_segments_or_fails_with_a_named_error() {
    for name in ALL {
        match std::panic::catch_unwind(|| use_like_a_front_end(bad_input(name))) {
            Err(_) => panic!("{name} panicked"),
            Ok(Err(e)) => {
                let message = e.to_string();
                assert!(!message.is_empty(), "{name}: empty error");
                println!("{name}: {message}");
            }
            Ok(Ok(run)) => {
                let MethodManifest::Kmeans(k) = &run.manifest.method else {
                    panic!("{name}: not a K-Means run");
                };
                assert!(k.inertia.is_finite(), "{name}: inertia {}", k.inertia);
                assert!(
                    k.centres.iter().flatten().all(|c| c.is_finite()),
                    "{name}: centres {:?}",
                    k.centres
                );
                println!("{name}: segmented into {} classes", k.centres.len());
            }
        }
    }
}

#[test]
fn an_alpha_past_the_last_band_is_not_trusted() {
    let reader = GeoTiffReader::open(Cursor::new(bad_input(ALL[0]))).unwrap();
    assert_eq!(reader.info().bands, 1);
    assert_eq!(reader.info().alpha_band, None);
}

#[test]
fn an_overview_with_other_bands_than_the_image_is_skipped() {
    let reader = GeoTiffReader::open(Cursor::new(bad_input(ALL[1]))).unwrap();
    assert_eq!(reader.info().bands, 3);
    assert_eq!(reader.info().levels(), 1);
}

#[test]
fn huge_sides_are_refused_naming_the_numbers() {
    for (name, (w, h)) in [(ALL[2], (1_100_000_000, 1)), (ALL[3], (1, 1_100_000_000))] {
        let err = GeoTiffReader::open(Cursor::new(bad_input(name))).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::LimitsExceeded(LimitExceeded::Side { width, height, max_side })
                    if (width, height) == (w, h) && max_side == 1 << 22
            ),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(&w.max(h).to_string()), "{err}");
    }
}

#[test]
fn structures_claiming_more_than_the_budget_are_refused() {
    for name in [ALL[4], ALL[5]] {
        let bytes = bad_input(name);
        let len = bytes.len() as u64;
        let err = GeoTiffReader::open(Cursor::new(bytes)).unwrap_err();
        let DecodeError::LimitsExceeded(LimitExceeded::Structure { budget, file_len }) = err else {
            panic!("{name}: {err}");
        };
        assert_eq!(file_len, len);
        assert!(budget <= 16 * len + (1 << 20), "{name}: budget {budget}");
    }
}

#[test]
fn millions_of_tiny_chunks_decode_to_their_pixels() {
    let mut reader = GeoTiffReader::open(Cursor::new(bad_input(ALL[6]))).unwrap();
    let (w, h) = (reader.info().width, reader.info().height);
    assert_eq!((w, h), (256, 256));
    let whole = reader.read_window(Window::new(0, 0, w, h)).unwrap();
    // Every window agrees with the whole image, in any order (the chunk cache keeps them apart).
    for (x, y) in [(255, 255), (0, 0), (17, 200), (128, 3)] {
        let one = reader.read_window(Window::new(x, y, 1, 1)).unwrap();
        assert_eq!(one.get(0, 0, 0), whole.get(x, y, 0), "pixel {x},{y}");
    }
}

#[test]
fn an_all_infinite_raster_has_no_valid_pixels() {
    let err = use_like_a_front_end(bad_input(ALL[7])).err().unwrap();
    assert!(matches!(err, SegmentError::NoValidData), "{err}");
}
