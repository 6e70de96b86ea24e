//! The fuzz targets' bodies, input formats and the structure-aware TIFF generator.
//!
//! - [`check_reader`]: open a GeoTIFF, describe it, render the web app's preview and decode
//!   windows of every level.
//! - [`check_pipeline`]: fit and label a small raster with fuzzed [`SegmentParams`] through the
//!   engine's unit driver, as the web worker and the CLI do.
//! - [`check_georef`]: interpret arbitrary georeferencing tags and call every accessor.
//!
//! A panic anywhere is a finding; so is running past libFuzzer's `-timeout` or `-rss_limit_mb`.
//! Errors are fine: hostile input must fail with a typed error.

pub mod geo_input;
pub mod params;
pub mod raster_spec;
pub mod tiff_spec;

use std::io::Cursor;

use arbitrary::{Arbitrary, Unstructured};
use engine::geotiff::{GeoReference, GeoTiffReader, Limits, RasterInfo};
use engine::kmeans::model::{self, KMeansModel};
use engine::kmeans::suggest_k;
use engine::manifest::{InputIdentity, MethodManifest};
use engine::pipeline::{
    self, EncodedTiles, MethodModel, MethodParams, Runtime, SegmentError, SegmentParams, Segmenter,
    UnitSink, write_geotiff, writer_options,
};
use engine::preview::{LabelPreview, render_preview};
use engine::progress::NoProgress;
use engine::raster::Window;
use engine::stats::ClassStats;

pub use params::PARAMS_LEN;

/// The web app's preview size (`web/src/protocol.rs`, `PREVIEW_MAX_SIDE`).
pub const PREVIEW_MAX_SIDE: u32 = 1024;

/// Decoding limits of the reader target: the defaults for everything the file's structure
/// claims (directories, tag values), a few MiB for windows, chunks and the chunk cache.
pub fn reader_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_window_bytes = 8 << 20;
    limits.max_chunk_bytes = 4 << 20;
    limits.chunk_cache_bytes = 4 << 20;
    limits
}

/// Whether `data` is a TIFF as it is (a fixture, or a mutation of one) rather than a
/// [`tiff_spec::TiffSpec`] to encode.
fn is_raw_tiff(data: &[u8]) -> bool {
    data.starts_with(b"II") || data.starts_with(b"MM")
}

/// The TIFF that fuzz input `data` stands for: itself when it starts like a TIFF, else the
/// encoding of the [`tiff_spec::TiffSpec`] it describes.
pub fn tiff_bytes(data: &[u8]) -> Option<Vec<u8>> {
    if is_raw_tiff(data) {
        return Some(data.to_vec());
    }
    tiff_spec::TiffSpec::arbitrary_take_rest(Unstructured::new(data))
        .ok()
        .map(|spec| spec.encode())
}

/// The reader target: open, describe, preview, decode windows of every level.
pub fn check_reader(data: &[u8]) {
    let Some(bytes) = tiff_bytes(data) else {
        return;
    };
    let Ok(mut reader) = GeoTiffReader::with_limits(Cursor::new(&bytes[..]), reader_limits())
    else {
        return;
    };
    let info = reader.info().clone();
    check_info(&info);

    // The preview the web worker renders when a file is opened.
    let bands = info.display_bands();
    if let Ok(preview) = render_preview(&mut reader, bands, PREVIEW_MAX_SIDE) {
        let image = preview.image;
        assert!(image.width <= PREVIEW_MAX_SIDE && image.height <= PREVIEW_MAX_SIDE);
        assert_eq!(
            image.pixels.len(),
            image.width as usize * image.height as usize * 4
        );
    }

    // Windows of every level, up to a budget of decoded pixels.
    let mut budget: u64 = 16 << 20;
    for level in 0..info.levels() {
        let Some((width, height)) = info.level_size(level) else {
            panic!("level {level} of {} has no size", info.levels());
        };
        for window in level_windows(&info, width, height) {
            let result = reader.read_window_at_level(level, window);
            let inside = window
                .x
                .checked_add(window.width)
                .is_some_and(|r| r <= width)
                && window
                    .y
                    .checked_add(window.height)
                    .is_some_and(|b| b <= height);
            match result {
                Ok(block) => {
                    assert!(inside, "window {window:?} outside {width}x{height} decoded");
                    assert_eq!(block.window, window);
                    assert_eq!(block.samples.len(), window.len() * block.bands);
                    budget = budget.saturating_sub(window.len() as u64);
                }
                Err(_) => {}
            }
            if budget == 0 {
                return;
            }
        }
    }
    let levels = info.levels();
    assert!(
        reader
            .read_window_at_level(levels, Window::new(0, 0, 1, 1))
            .is_err()
    );
}

/// What to decode of a `width` × `height` level: all of it when small, else its corners, a
/// middle row and a middle column; and windows crossing its edges (which must fail).
fn level_windows(info: &RasterInfo, width: u32, height: u32) -> Vec<Window> {
    let pixel_bytes = (info.bands as u64).max(1) * info.sample_type.bytes() as u64;
    let mut windows = Vec::new();
    if u64::from(width) * u64::from(height) * pixel_bytes <= 1 << 20 {
        windows.push(Window::new(0, 0, width, height));
    } else {
        let (w, h) = (width.min(64), height.min(64));
        windows.extend([
            Window::new(0, 0, w, h),
            Window::new(width - w, 0, w, h),
            Window::new(0, height - h, w, h),
            Window::new(width - w, height - h, w, h),
            Window::new(0, height / 2, width, 1),
            Window::new(width / 2, 0, 1, height),
        ]);
    }
    windows.extend([
        Window::new(width.saturating_sub(1), height.saturating_sub(1), 2, 2),
        Window::new(u32::MAX, 0, 1, 1),
        Window::new(0, 0, 0, 0),
    ]);
    windows
}

/// Every accessor of a file's description, and what must hold of it.
pub fn check_info(info: &RasterInfo) {
    let _ = format!(
        "{} {} {} {:?}",
        info.layout, info.compression, info.photometric, info
    );
    let _ = (info.compression.is_supported(), info.photometric.code());
    assert!(info.bands >= 1, "a raster without bands opened");
    if let Some(alpha) = info.alpha_band {
        assert!(
            alpha < info.bands,
            "alpha band {alpha} of a {}-band raster",
            info.bands
        );
    }
    let data = info.data_bands();
    assert!(data.iter().all(|&b| b < info.bands));
    let display = info.display_bands();
    assert!(
        display.iter().all(|&b| b < info.bands),
        "display bands {display:?} of a {}-band raster",
        info.bands
    );
    assert_eq!(info.levels(), info.overviews.len() + 1);
    for level in 0..info.levels() {
        assert!(info.level_size(level).is_some());
    }
    assert!(info.level_size(info.levels()).is_none());
    if let Some(georef) = &info.georef {
        check_georef_value(georef, info.width, info.height);
    }
}

/// The georef target: interpret fuzzed tags and check every accessor.
pub fn check_georef(data: &[u8]) {
    let raw = geo_input::parse(data);
    let Some(georef) = GeoReference::from_raw(raw.clone()) else {
        return;
    };
    // Compared as text: NaN equals nothing, not even itself.
    assert_eq!(
        format!("{:?}", georef.raw),
        format!("{raw:?}"),
        "the raw tags are not kept verbatim"
    );
    assert!(georef.transform.0.iter().all(|v| v.is_finite()));
    // A raster size from the input's last bytes, so that it varies with it.
    let mut tail = [0u8; 8];
    let n = data.len().min(8);
    tail[8 - n..].copy_from_slice(&data[data.len() - n..]);
    let [w0, w1, w2, w3, h0, h1, h2, h3] = tail;
    let (width, height) = (
        u32::from_le_bytes([w0, w1, w2, w3]),
        u32::from_le_bytes([h0, h1, h2, h3]),
    );
    check_georef_value(&georef, width, height);
    check_georef_value(&georef, 1, 1);
}

/// Every accessor of a georeferencing, for a `width` × `height` raster.
pub fn check_georef_value(georef: &GeoReference, width: u32, height: u32) {
    let _ = format!(
        "{:?} {} {} {:?} {:?}",
        georef, georef.unit, georef.raster_type, georef.crs_name, georef.epsg
    );
    let _ = georef.unit.metres();
    for key in georef.keys.iter().take(64) {
        assert!(georef.key(key.id).is_some());
    }
    let t = georef.transform;
    let _ = (t.pixel_size(), t.pixel_area(), t.apply(1.0, 1.0));
    let extent = georef.extent(width, height);
    if extent.iter().all(|v| v.is_finite()) {
        assert!(
            extent[0] <= extent[2] && extent[1] <= extent[3],
            "{extent:?}"
        );
    }
    for row in [0.0, 0.5, f64::from(height) / 2.0, f64::from(height)] {
        let _ = georef.pixel_area_m2(row);
    }
    // Class areas, as the statistics of a run compute them.
    let mut stats = ClassStats::new(2, Some(georef));
    let rows = height.min(4);
    stats.add_rows(0, 2, &vec![0; 2 * rows as usize]);
    stats.add_rows(height.saturating_sub(1), 1, &[1]);
    let _ = stats.rows(&engine::labels::default_legend(2));

    // A window's georeferencing: its raw tags must describe its transform.
    for window in [
        Window::new(0, 0, width, height),
        Window::new(width / 2, height / 2, 1, 1),
        Window::new(width, height, 0, 0),
    ] {
        let moved = georef.for_window(window);
        if window.x == 0 && window.y == 0 {
            assert_eq!(moved.transform, georef.transform);
        }
        if let Some(back) = GeoReference::from_raw(moved.raw.clone()) {
            let (col, row) = (f64::from(window.x), f64::from(window.y));
            let scale = t.0.iter().fold(1.0f64, |m, v| m.max(v.abs())) * (1.0 + col + row);
            for (a, b) in back.transform.0.iter().zip(&moved.transform.0) {
                if a.is_finite() && b.is_finite() && scale.is_finite() {
                    assert!(
                        (a - b).abs() <= 1e-9 * scale,
                        "window {window:?}: raw tags give {:?}, the transform is {:?}",
                        back.transform,
                        moved.transform
                    );
                }
            }
        }
    }
}

/// Labels a run hands to its sinks: each below k or nodata, covering the raster once.
#[derive(Debug)]
struct CheckedLabels {
    k: usize,
    pixels: u64,
}

impl UnitSink for CheckedLabels {
    fn unit(&mut self, unit: Window, labels: &[u8]) -> Result<(), SegmentError> {
        assert_eq!(labels.len(), unit.len(), "unit {unit:?}");
        assert!(
            labels
                .iter()
                .all(|&l| usize::from(l) < self.k || l == engine::labels::NODATA),
            "a label of unit {unit:?} is not below k = {}",
            self.k
        );
        self.pixels += labels.len() as u64;
        Ok(())
    }
}

/// Rasters with more pixels than this are fitted but not labelled (labelling is linear in
/// the pixels; the fit reads a bounded sample).
const MAX_LABELLED_PIXELS: u64 = 4 << 20;

/// The pipeline target: fuzzed parameters, then fit and label as the web worker or the CLI.
pub fn check_pipeline(data: &[u8]) {
    let (head, rest) = data.split_at(data.len().min(PARAMS_LEN));
    let (params, cli) = params::decode(head);
    let Some(tiff) = raster_spec::pipeline_tiff(rest) else {
        return;
    };
    // Both front ends open files with the default limits.
    let Ok(mut reader) = GeoTiffReader::open(Cursor::new(&tiff[..])) else {
        return;
    };
    let info = reader.info().clone();
    check_info(&info);
    if params.validate(&info).is_err() {
        return;
    }
    let labelled = u64::from(info.width) * u64::from(info.height) <= MAX_LABELLED_PIXELS;
    if cli {
        run_like_cli(&mut reader, &params, &info, labelled);
    } else {
        run_like_web(&mut reader, &params, &info, labelled);
    }
}

fn identity(bytes: u64) -> InputIdentity {
    InputIdentity {
        name: "fuzz.tif".to_owned(),
        bytes,
        blake3: String::new(),
    }
}

fn check_centres(model: &KMeansModel) {
    let centres = &model.centres;
    assert!(
        centres.values.iter().all(|v| v.is_finite()),
        "non-finite centres {:?}",
        centres.values
    );
}

/// The web worker's run: fit, the k curve, then the unit driver into statistics, the label
/// preview and compressed tiles, written as a GeoTIFF and read back.
fn run_like_web(
    reader: &mut GeoTiffReader<Cursor<&[u8]>>,
    params: &SegmentParams,
    info: &RasterInfo,
    labelled: bool,
) {
    let MethodParams::Kmeans(kmeans) = &params.method else {
        return;
    };
    let Ok(fitted) = model::fit(reader, kmeans, params.seed, &NoProgress) else {
        return;
    };
    check_centres(&fitted.model);
    // The k curve (silhouettes, quadratic in the sample) only on small samples, for speed: the
    // code is the same whatever the sample's size.
    if fitted.model.fitted_blocks <= 1000 {
        if let Ok(curve) = model::k_curve(&fitted, &NoProgress) {
            let _ = suggest_k(&curve);
        }
    }
    let segmenter = Segmenter::kmeans(fitted.model, params.post);
    if !labelled {
        return;
    }
    let manifest = segmenter.manifest(identity(0), pipeline::CPU_BACKEND);
    let _ = manifest.to_json();
    let legend = segmenter.legend();
    let options = writer_options(info, &legend, &manifest);
    let mut sinks = (
        (
            CheckedLabels {
                k: segmenter.classes(),
                pixels: 0,
            },
            ClassStats::new(segmenter.classes(), info.georef.as_ref()),
        ),
        LabelPreview::new(info.width, info.height, PREVIEW_MAX_SIDE),
        EncodedTiles::new(engine::geotiff::TileEncoder::new(&options)),
    );
    if pollster::block_on(segmenter.run(reader, &mut sinks, &NoProgress)).is_err() {
        return;
    }
    let ((checked, stats), preview, tiles) = sinks;
    let pixels = u64::from(info.width) * u64::from(info.height);
    assert_eq!(
        checked.pixels, pixels,
        "the units do not cover the raster once"
    );
    assert_eq!(
        stats.counts.iter().sum::<u64>() + stats.nodata_pixels,
        pixels
    );
    let _ = stats.rows(&legend);
    let (w, h, labels) = preview.finish();
    assert_eq!(labels.len(), w as usize * h as usize);
    let output = write_geotiff(options, &tiles.tiles).expect("the label raster is written");
    check_output(&output, info);
}

/// The CLI's run: `pipeline::segment` into a label GeoTIFF, read back.
fn run_like_cli(
    reader: &mut GeoTiffReader<Cursor<&[u8]>>,
    params: &SegmentParams,
    info: &RasterInfo,
    labelled: bool,
) {
    if !labelled {
        if let Ok(segmenter) = pollster::block_on(pipeline::segmenter(
            reader,
            params,
            &Runtime::default(),
            &NoProgress,
        )) {
            let MethodModel::Kmeans(model) = &segmenter.model else {
                return;
            };
            check_centres(model);
        }
        return;
    }
    let sink = Cursor::new(Vec::new());
    let runtime = Runtime::default();
    let run = pipeline::segment(reader, sink, params, &runtime, identity(0), &NoProgress);
    let Ok(segmentation) = pollster::block_on(run) else {
        return;
    };
    let MethodManifest::Kmeans(manifest) = &segmentation.manifest.method else {
        return;
    };
    assert!(
        manifest.centres.iter().flatten().all(|v| v.is_finite()),
        "non-finite centres {:?}",
        manifest.centres
    );
    let pixels = u64::from(info.width) * u64::from(info.height);
    let stats = &segmentation.stats;
    assert_eq!(
        stats.counts.iter().sum::<u64>() + stats.nodata_pixels,
        pixels
    );
    check_output(&segmentation.sink.into_inner(), info);
}

/// A label raster reads back with the input's size and georeferencing.
fn check_output(output: &[u8], input: &RasterInfo) {
    let reader = GeoTiffReader::open(Cursor::new(output)).expect("the label raster opens");
    let out = reader.info();
    assert_eq!(
        (out.width, out.height, out.bands),
        (input.width, input.height, 1)
    );
    assert_eq!(
        out.georef.as_ref().map(|g| g.transform),
        input.georef.as_ref().map(|g| g.transform),
        "the label raster's georeferencing differs from the input's"
    );
}
