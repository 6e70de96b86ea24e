//! The K-Means pipeline on real imagery: no seams between windows, reproducible for a seed,
//! nodata kept, georeferencing and legend carried into the output.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions fail loudly on purpose

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::PathBuf;

use engine::geotiff::GeoTiffReader;
use engine::kmeans::model::{self, Fitted, KMeansParams};
use engine::labels::NODATA;
use engine::manifest::InputIdentity;
use engine::pipeline::{self, MethodParams, PostProcess, Runtime, SegmentParams};
use pollster::block_on;

/// K-Means parameters, e.g. `kmeans!(k: 6, smooth: 3, seed: 9)`: fields of `KMeansParams`, of
/// `PostProcess` (`smooth`, `mmu`) and `seed`; the rest are defaults.
macro_rules! kmeans {
    (@set $m:ident $post:ident $seed:ident smooth $v:expr) => { $post.smooth = $v; };
    (@set $m:ident $post:ident $seed:ident mmu $v:expr) => { $post.mmu = $v; };
    (@set $m:ident $post:ident $seed:ident seed $v:expr) => { $seed = $v; };
    (@set $m:ident $post:ident $seed:ident $f:ident $v:expr) => { $m.$f = $v; };
    ($($field:ident : $value:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut m = KMeansParams::default();
        #[allow(unused_mut)]
        let mut post = PostProcess::default();
        #[allow(unused_mut, unused_assignments)]
        let mut seed = 0u64;
        $( kmeans!(@set m post seed $field $value); )*
        SegmentParams { method: MethodParams::Kmeans(m), post, seed }
    }};
}
use engine::progress::{NoProgress, Progress, Stage};
use engine::raster::{Samples, Window};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/real")
        .join(name)
}

fn reader(name: &str) -> GeoTiffReader<BufReader<File>> {
    let file = File::open(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    GeoTiffReader::open(BufReader::new(file)).unwrap()
}

/// The segmenter of `params` fitted on `r` (on the CPU).
fn segmenter_of<R: std::io::Read + std::io::Seek>(
    r: &mut GeoTiffReader<R>,
    params: &SegmentParams,
) -> pipeline::Segmenter {
    block_on(pipeline::segmenter(
        r,
        params,
        &Runtime::default(),
        &NoProgress,
    ))
    .unwrap()
}

/// The K-Means part of `params`.
fn km(params: &SegmentParams) -> &KMeansParams {
    match &params.method {
        MethodParams::Kmeans(p) => p,
        other => panic!("not K-Means: {other:?}"),
    }
}

/// The fitted K-Means model of `params` on `r`.
fn fit<R: std::io::Read + std::io::Seek>(
    r: &mut GeoTiffReader<R>,
    params: &SegmentParams,
) -> Fitted {
    model::fit(r, km(params), params.seed, &NoProgress).unwrap()
}

fn identity() -> InputIdentity {
    InputIdentity {
        name: "test.tif".into(),
        bytes: 0,
        blake3: String::new(),
    }
}

/// Runs the streamed pipeline and returns the labels read back from the written GeoTIFF.
fn streamed(
    name: &str,
    params: &SegmentParams,
) -> (Vec<u8>, pipeline::Segmentation<Cursor<Vec<u8>>>) {
    let mut r = reader(name);
    let out = block_on(pipeline::segment(
        &mut r,
        Cursor::new(Vec::new()),
        params,
        &Runtime::default(),
        identity(),
        &NoProgress,
    ))
    .unwrap();
    let mut back = GeoTiffReader::open(Cursor::new(out.sink.get_ref().clone())).unwrap();
    let (w, h) = (back.info().width, back.info().height);
    let block = back.read_window(Window::new(0, 0, w, h)).unwrap();
    let Samples::U8(labels) = block.samples else {
        panic!("labels must be u8")
    };
    (labels, out)
}

/// Labels of the whole raster computed in one window (no tiling at all).
fn whole(name: &str, params: &SegmentParams) -> Vec<u8> {
    let mut r = reader(name);
    let segmenter = segmenter_of(&mut r, params);
    let (w, h) = (r.info().width, r.info().height);
    block_on(segmenter.label(&mut r, Window::new(0, 0, w, h))).unwrap()
}

fn param_sets() -> Vec<SegmentParams> {
    vec![
        kmeans!(k: 6, resolution: 1, smooth: 3, mmu: 24),
        kmeans!(k: 5, resolution: 4, smooth: 5, mmu: 200, presmooth: true),
        kmeans!(k: 8, resolution: 2, smooth: 0, mmu: 0, seed: 9),
    ]
}

#[test]
fn tile_streamed_labels_equal_whole_image_labels() {
    for name in ["OSBS_029.tif", "sample_geotiff.tif", "L7_ETMs.tif"] {
        for params in param_sets() {
            let (labels, _) = streamed(name, &params);
            assert_eq!(labels, whole(name, &params), "{name} {params:?}");
        }
    }
}

#[test]
fn any_aligned_window_matches_the_whole_image() {
    let name = "sample_geotiff.tif";
    for params in param_sets() {
        let reference = whole(name, &params);
        let mut r = reader(name);
        let segmenter = segmenter_of(&mut r, &params);
        let width = r.info().width;
        let res = params.method.resolution();
        for (x, y, w, h) in [
            (0, 0, 37, 50),
            (res * 40, res * 13, 123, 77),
            (900 - res * 20, 900 - res * 30, res * 20, res * 30),
        ] {
            let core = Window::new(x, y, w, h);
            let got = block_on(segmenter.label(&mut r, core)).unwrap();
            for row in 0..h {
                let start = ((y + row) * width + x) as usize;
                assert_eq!(
                    &got[(row * w) as usize..((row + 1) * w) as usize],
                    &reference[start..start + w as usize],
                    "{core:?} row {row} {params:?}"
                );
            }
        }
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_centres() {
    let params = kmeans!(k: 6);
    let (a, out_a) = streamed("OSBS_029.tif", &params);
    let (b, out_b) = streamed("OSBS_029.tif", &params);
    assert_eq!(a, b);
    assert_eq!(
        out_a.sink.get_ref(),
        out_b.sink.get_ref(),
        "output bytes differ between identical runs"
    );
    let (c, _) = streamed(
        "OSBS_029.tif",
        &SegmentParams {
            seed: 1234,
            ..params.clone()
        },
    );
    assert!(c.iter().all(|&l| l < 6 || l == NODATA));
    // Another seed draws another sample, so the centres move (the labels may well not).
    let mut r = reader("OSBS_029.tif");
    let other = kmeans!(k: 6, seed: 1234);
    assert_ne!(
        fit(&mut r, &params).model.centres,
        fit(&mut r, &other).model.centres
    );
}

#[test]
fn nodata_pixels_stay_nodata_and_every_class_is_used() {
    // SpaceNet: u16 with nodata 0; every input nodata pixel must be nodata in the output.
    let params = kmeans!(k: 4, resolution: 1, smooth: 0, mmu: 0);
    let (labels, out) = streamed("sample_geotiff.tif", &params);
    let mut r = reader("sample_geotiff.tif");
    let info = r.info().clone();
    let px = r
        .read_window(Window::new(0, 0, info.width, info.height))
        .unwrap();
    let Samples::U16(values) = px.samples else {
        panic!("SpaceNet is u16")
    };
    let nodata = info.nodata.expect("SpaceNet declares nodata") as u16;
    for (v, l) in values.iter().zip(&labels) {
        assert_eq!(*v == nodata, *l == NODATA);
    }
    assert!(
        out.stats.counts.iter().all(|&c| c > 0),
        "{:?}",
        out.stats.counts
    );
    assert_eq!(
        out.stats.counts.iter().sum::<u64>() + out.stats.nodata_pixels,
        u64::from(info.width * info.height)
    );
}

#[test]
fn areas_follow_pixel_size() {
    // OSBS: 0.1 m pixels, so every pixel is 0.01 m².
    let (_, out) = streamed("OSBS_029.tif", &SegmentParams::default());
    let areas = out.stats.area_m2().expect("projected CRS in metres");
    // Areas are exact sums of a pixel area rounded to 2⁻²⁴ of itself.
    for (count, area) in out.stats.counts.iter().zip(areas) {
        let expected = *count as f64 * 0.01;
        assert!(
            (area - expected).abs() <= expected * 6e-8,
            "{count} px vs {area} m²"
        );
    }
}

#[test]
fn brighter_classes_get_higher_labels() {
    let mut r = reader("OSBS_029.tif");
    let fitted = fit(&mut r, &SegmentParams::default());
    let c = &fitted.model.centres;
    let sums: Vec<f32> = (0..c.k()).map(|i| c.centre(i).iter().sum()).collect();
    assert!(sums.windows(2).all(|w| w[0] <= w[1]), "{sums:?}");
}

#[test]
fn band_selection_uses_only_the_chosen_bands() {
    let params = kmeans!(k: 5, bands: Some(vec![3, 4, 5]));
    let mut r = reader("L7_ETMs.tif");
    let fitted = fit(&mut r, &params);
    assert_eq!(fitted.model.spec.bands, vec![3, 4, 5]);
    assert_eq!(fitted.model.centres.dims, 3);
    let all = fit(&mut r, &kmeans!(k: 5));
    assert_eq!(all.model.centres.dims, 6);
}

#[test]
fn bad_parameters_are_named() {
    let mut r = reader("OSBS_029.tif");
    let cases = [
        (kmeans!(k: 1), "k must be between 2 and 64"),
        (kmeans!(resolution: 3), "resolution must be one of"),
        (kmeans!(smooth: 4), "smoothing kernel"),
        (kmeans!(bands: Some(vec![7])), "band 8 does not exist"),
        (kmeans!(bands: Some(vec![0, 0])), "band 1 is selected twice"),
        (kmeans!(resolution: 1, mmu: 100_000), "minimum mapping unit"),
        (kmeans!(sample_size: 0), "sample size must be 1 to 5000000"),
        (
            kmeans!(fit: engine::kmeans::FitOptions { tolerance: f32::NAN, max_iterations: 10 }),
            "tolerance must be a finite number",
        ),
        (
            kmeans!(fit: engine::kmeans::FitOptions { tolerance: 0.0, max_iterations: 0 }),
            "iteration limit must be 1 to 10000",
        ),
    ];
    for (params, message) in cases {
        let err = block_on(pipeline::segmenter(
            &mut r,
            &params,
            &Runtime::default(),
            &NoProgress,
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains(message), "{err:?} should contain {message:?}");
    }
}

#[test]
fn in_memory_fit_equals_windowed_fit() {
    let params = kmeans!(k: 7, resolution: 1);
    let mut r = reader("OSBS_029.tif");
    let windowed = fit(&mut r, &params);
    let sampler = model::sampler(&mut r, km(&params), params.seed, &NoProgress).unwrap();
    let spec = sampler.spec().clone();
    let (gw, gh) = spec.grid_size();
    let px = r
        .read_window(spec.read_window(Window::new(0, 0, gw, gh)))
        .unwrap();
    let (features, _) = spec.features(&px, Window::new(0, 0, gw, gh));
    let windows: Vec<_> = (0..sampler.len())
        .map(|i| sampler.crop(&features, i).unwrap())
        .collect();
    let in_memory = sampler.fit(windows, &NoProgress).unwrap();
    assert_eq!(windowed.model.centres, in_memory.model.centres);
}

#[test]
fn k_curve_suggests_a_k_in_range() {
    let mut r = reader("L7_ETMs.tif");
    let fitted = fit(&mut r, &SegmentParams::default());
    let curve = model::k_curve(&fitted, &NoProgress).unwrap();
    assert_eq!(
        curve.iter().map(|c| c.k).collect::<Vec<_>>(),
        (2..=16).collect::<Vec<_>>()
    );
    assert!(curve.windows(2).all(|w| w[1].inertia < w[0].inertia * 1.02));
    let k = engine::kmeans::suggest_k(&curve).unwrap();
    assert!((3..=10).contains(&k), "suggested {k}");
}

/// Cancels once the given stage is reached.
struct CancelAt(Stage, std::cell::Cell<bool>);

impl Progress for CancelAt {
    fn report(&self, stage: Stage, _fraction: f32) {
        if stage == self.0 {
            self.1.set(true);
        }
    }
    fn is_cancelled(&self) -> bool {
        self.1.get()
    }
}

#[test]
fn cancellation_stops_every_stage() {
    for stage in [
        Stage::BandStatistics,
        Stage::Sampling,
        Stage::Fitting,
        Stage::Assigning,
    ] {
        let mut r = reader("OSBS_029.tif");
        let cancel = CancelAt(stage, std::cell::Cell::new(false));
        let err = block_on(pipeline::segment(
            &mut r,
            Cursor::new(Vec::new()),
            &SegmentParams::default(),
            &Runtime::default(),
            identity(),
            &cancel,
        ))
        .unwrap_err();
        assert!(err.is_cancelled(), "{stage:?}: {err}");
    }
}

#[test]
fn previews_decimate_full_resolution_or_use_an_overview() {
    use engine::preview::{LabelPreview, render_preview};
    let mut r = reader("OSBS_029.tif");
    let p = render_preview(&mut r, [0, 1, 2], 100).unwrap();
    assert_eq!(
        (p.image.width, p.image.height, p.scale),
        (100, 100, (4.0, 4.0))
    );
    // Preview pixel (10, 20) samples raster pixel (42, 82).
    let px = r.read_window(Window::new(42, 82, 1, 1)).unwrap();
    let at = ((20 * 100 + 10) * 4) as usize;
    for band in 0..3 {
        assert_eq!(f64::from(p.image.pixels[at + band]), px.get(0, 0, band));
    }
    // u16 data is stretched to the full 8-bit range; nodata (0) is transparent.
    let mut pan = reader("sample_geotiff.tif");
    let p = render_preview(&mut pan, [0, 0, 0], 300).unwrap();
    let grey: Vec<u8> = p
        .image
        .pixels
        .chunks_exact(4)
        .filter(|c| c[3] == 255)
        .map(|c| c[0])
        .collect();
    assert!(grey.contains(&0) && grey.contains(&255));
    // A file with a 34x23 overview: a preview of at most 40 px comes from it.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/gdal/rgb_mask_overviews_tiles.tif");
    let mut ov = GeoTiffReader::open(BufReader::new(File::open(path).unwrap())).unwrap();
    let p = render_preview(&mut ov, [0, 1, 2], 40).unwrap();
    assert_eq!((p.image.width, p.image.height), (34, 23));
    let label_preview = LabelPreview::new(400, 400, 100);
    assert_eq!(label_preview.finish().0, 100);
}

#[test]
fn k_curve_stops_where_the_data_runs_out() {
    // A 0/1 building mask has two distinct values: k = 2 fits, k = 3 cannot.
    let mut r = reader("buildings_mask.tif");
    let params = kmeans!(k: 2, resolution: 1, smooth: 0, mmu: 0);
    let fitted = fit(&mut r, &params);
    let curve = model::k_curve(&fitted, &NoProgress).unwrap();
    assert_eq!(curve.iter().map(|c| c.k).collect::<Vec<_>>(), vec![2]);
}

#[test]
fn the_largest_minimum_mapping_unit_named_in_the_error_is_accepted() {
    let r = reader("OSBS_029.tif");
    let ok = kmeans!(resolution: 1, smooth: 3, mmu: 1023);
    assert!(ok.validate(r.info()).is_ok());
    let too_large = SegmentParams {
        post: PostProcess {
            mmu: 1024,
            ..ok.post
        },
        ..ok
    };
    let err = too_large.validate(r.info()).unwrap_err().to_string();
    assert!(err.contains("at most 1023 px"), "{err}");
}

/// A raster wider and taller than one unit of work, mirrored from the NEON orthophoto, so that
/// units meet along both axes.
fn wide_raster() -> Vec<u8> {
    use engine::geotiff::{GeoTiffWriter, WriterOptions};
    let mut r = reader("OSBS_029.tif");
    let info = r.info().clone();
    let px = r.read_window(Window::new(0, 0, 400, 400)).unwrap();
    let Samples::U8(src) = px.samples else {
        panic!("OSBS is u8")
    };
    let (w, h) = (2300u32, 700u32);
    let mirror = |v: u32| {
        if (v / 400).is_multiple_of(2) {
            v % 400
        } else {
            399 - v % 400
        }
    };
    let mut options = WriterOptions::new(w, h, 3, engine::raster::SampleType::U8);
    options.georef = info.georef.clone();
    options.nodata = info.nodata;
    let mut writer = GeoTiffWriter::new(Cursor::new(Vec::new()), options).unwrap();
    for y0 in (0..h).step_by(256) {
        let rows = 256.min(h - y0);
        let mut strip = Vec::with_capacity((w * rows * 3) as usize);
        for y in y0..y0 + rows {
            for x in 0..w {
                let i = ((mirror(y) * 400 + mirror(x)) * 3) as usize;
                strip.extend_from_slice(&src[i..i + 3]);
            }
        }
        writer.write_strip(&Samples::U8(strip)).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn units_meet_without_seams_along_both_axes() {
    let bytes = wide_raster();
    for params in param_sets() {
        let mut r = GeoTiffReader::open(Cursor::new(bytes.clone())).unwrap();
        let out = block_on(pipeline::segment(
            &mut r,
            Cursor::new(Vec::new()),
            &params,
            &Runtime::default(),
            identity(),
            &NoProgress,
        ))
        .unwrap();
        let mut back = GeoTiffReader::open(Cursor::new(out.sink.into_inner())).unwrap();
        let Samples::U8(streamed) = back
            .read_window(Window::new(0, 0, 2300, 700))
            .unwrap()
            .samples
        else {
            panic!("labels must be u8")
        };
        let mut r = GeoTiffReader::open(Cursor::new(bytes.clone())).unwrap();
        let segmenter = block_on(pipeline::segmenter(
            &mut r,
            &params,
            &Runtime::default(),
            &NoProgress,
        ))
        .unwrap();
        assert!(
            segmenter.units().len() > 6,
            "the raster must span several units"
        );
        let whole = block_on(segmenter.label(&mut r, Window::new(0, 0, 2300, 700))).unwrap();
        assert_eq!(streamed, whole, "{params:?}");
    }
}

#[test]
fn units_of_several_tile_rows_make_the_tiles_of_single_rows() {
    use engine::pipeline::{EncodedTiles, UnitSink, label_encoder};
    let bytes = wide_raster();
    let params = &param_sets()[0];
    let mut r = GeoTiffReader::open(Cursor::new(bytes)).unwrap();
    let info = r.info().clone();
    let segmenter = segmenter_of(&mut r, params);
    let mut rows = EncodedTiles::new(label_encoder(&info));
    for unit in segmenter.units() {
        block_on(segmenter.label_into(&mut r, unit, &mut rows)).unwrap();
    }
    // The same raster in units two and three tile rows tall (the last one shorter).
    let mut tall = EncodedTiles::new(label_encoder(&info));
    for (y, height) in [(0, 512), (512, 188)] {
        for x in (0..info.width).step_by(1024) {
            let unit = Window::new(x, y, 1024.min(info.width - x), height);
            block_on(segmenter.label_into(&mut r, unit, &mut tall)).unwrap();
        }
    }
    let key = |t: &engine::geotiff::EncodedTile| (t.row, t.column);
    let mut a = rows.tiles.clone();
    let mut b = tall.tiles.clone();
    a.sort_by_key(key);
    b.sort_by_key(key);
    assert_eq!(a.len(), 27);
    assert!(a == b, "tall units made other tiles");
    // Too few labels for a unit is an error, not a short tile.
    let unit = Window::new(0, 0, 1024, 512);
    let err = tall.unit(unit, &vec![0; 1024 * 300]).unwrap_err();
    assert!(err.to_string().contains("strip"), "{err}");
}

/// Seed-pinned results: a change of numerics that relabels real scenes fails here, and the
/// snapshot shows which scenes and parameter sets moved.
#[test]
fn seeded_labels_are_pinned() {
    let sets = [
        ("defaults", SegmentParams::default()),
        (
            "k5-r1-presmooth-seed7",
            kmeans!(k: 5, resolution: 1, presmooth: true, smooth: 5, mmu: 40, seed: 7),
        ),
    ];
    let mut lines = String::new();
    for name in ["OSBS_029.tif", "sample_geotiff.tif", "L7_ETMs.tif"] {
        for (label, params) in &sets {
            let (labels, out) = streamed(name, params);
            lines += &format!(
                "{name} {label}: labels {} counts {:?}\n",
                blake3::hash(&labels).to_hex(),
                out.stats.counts
            );
        }
    }
    insta::assert_snapshot!(lines);
}

/// The model file of a fit, read back, labels exactly as the fit itself.
#[test]
fn a_model_file_reads_back_as_the_same_segmenter() {
    use engine::pipeline::{FittedInput, ModelFile};
    for params in param_sets() {
        let mut r = reader("OSBS_029.tif");
        let info = r.info().clone();
        let segmenter = block_on(pipeline::segmenter(
            &mut r,
            &params,
            &Runtime::default(),
            &NoProgress,
        ))
        .unwrap();
        let file = ModelFile::new(&segmenter, vec![FittedInput::new(identity(), &info)]);
        let back = ModelFile::from_json(file.to_json().as_bytes()).unwrap();
        assert_eq!(back, file);
        assert_eq!(
            back.segmenter(&info, &Runtime::default()).unwrap(),
            segmenter
        );
        assert!(back.fitted_input("test.tif", 0).is_some());
        assert!(back.fitted_input("test.tif", 1).is_none());
    }
}

/// A model file of another version, or a raster of other bands, is refused with a message
/// that names the difference.
#[test]
fn model_files_of_other_formats_or_bands_are_refused() {
    use engine::pipeline::{FittedInput, ModelFile};
    let err = ModelFile::from_json(br#"{"format": 99}"#).unwrap_err();
    assert!(err.to_string().contains("format 99"), "{err}");
    let err = ModelFile::from_json(b"[1, 2]").unwrap_err();
    assert!(
        err.to_string().starts_with("not a Mapseg model file"),
        "{err}"
    );

    let params = kmeans!(k: 4);
    let mut r = reader("OSBS_029.tif");
    let info = r.info().clone();
    let segmenter = block_on(pipeline::segmenter(
        &mut r,
        &params,
        &Runtime::default(),
        &NoProgress,
    ))
    .unwrap();
    let file = ModelFile::new(&segmenter, vec![FittedInput::new(identity(), &info)]);
    let other = reader("L7_ETMs.tif").info().clone();
    let err = file.segmenter(&other, &Runtime::default()).unwrap_err();
    assert!(
        err.to_string().contains(&format!(
            "the raster has {} {} band(s), but the model was fitted on rasters with {} {} band(s)",
            other.bands,
            other.sample_type.name(),
            info.bands,
            info.sample_type.name()
        )),
        "{err}"
    );
}

/// Parts labelled on their own, put back in order, are the whole raster's labels.
#[test]
fn parts_put_together_are_the_whole_labels() {
    use engine::pipeline::Part;
    let params = kmeans!(k: 6, resolution: 1, smooth: 5, mmu: 40);
    let expected = whole("OSBS_029.tif", &params);
    let mut r = reader("OSBS_029.tif");
    let segmenter = block_on(pipeline::segmenter(
        &mut r,
        &params,
        &Runtime::default(),
        &NoProgress,
    ))
    .unwrap();
    let (w, h) = (r.info().width, r.info().height);
    let units = segmenter.units();
    for count in 1..=pipeline::tile_rows(h).min(4) {
        let mut labels = vec![NODATA; expected.len()];
        for part in Part::all(w, h, count).unwrap() {
            for unit in part.units(&units) {
                let got = block_on(segmenter.label(&mut r, unit)).unwrap();
                let local = part.local(unit);
                assert_eq!(local.y + part.window.y, unit.y);
                for row in 0..unit.height as usize {
                    let at = (unit.y as usize + row) * w as usize + unit.x as usize;
                    labels[at..at + unit.width as usize].copy_from_slice(
                        &got[row * unit.width as usize..(row + 1) * unit.width as usize],
                    );
                }
            }
        }
        assert!(labels == expected, "{count} parts");
    }
}

/// A file in memory that records where each read starts and how many bytes it asks for.
struct RecordedReads {
    file: Cursor<Vec<u8>>,
    spans: std::rc::Rc<std::cell::RefCell<Vec<(u64, usize)>>>,
}

impl std::io::Read for RecordedReads {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let at = self.file.position();
        self.spans.borrow_mut().push((at, buf.len()));
        self.file.read(buf)
    }
}

impl std::io::Seek for RecordedReads {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.file.seek(pos)
    }
}

/// A reader of fixture `name` (an empty chunk cache) and the spans it reads from now on.
#[allow(clippy::type_complexity)]
fn recorded(
    name: &str,
) -> (
    GeoTiffReader<RecordedReads>,
    std::rc::Rc<std::cell::RefCell<Vec<(u64, usize)>>>,
) {
    let spans = std::rc::Rc::default();
    let file = RecordedReads {
        file: Cursor::new(std::fs::read(fixture(name)).unwrap()),
        spans: std::rc::Rc::clone(&spans),
    };
    let reader = GeoTiffReader::open(file).unwrap();
    spans.borrow_mut().clear();
    (reader, spans)
}

#[test]
fn units_and_sample_windows_read_exactly_the_ranges_announced() {
    // A browser fetches these ranges ahead of the reads; a read outside them costs a round trip.
    for name in ["sample_geotiff.tif", "OSBS_029.tif"] {
        for params in param_sets() {
            let mut r = reader(name);
            let segmenter = segmenter_of(&mut r, &params);
            for unit in segmenter.units() {
                let (mut fresh, spans) = recorded(name);
                let window = segmenter.input_window(unit).unwrap();
                let announced = fresh.ranges_to_read(0, window).unwrap();
                assert!(!announced.is_empty());
                block_on(segmenter.label(&mut fresh, unit)).unwrap();
                assert_eq!(*spans.borrow(), announced, "{name} unit {unit:?}");
            }
            let sampler = model::sampler(&mut r, km(&params), params.seed, &NoProgress).unwrap();
            for i in 0..sampler.len() {
                let (mut fresh, spans) = recorded(name);
                let announced = fresh
                    .ranges_to_read(0, sampler.pixel_window(i, false).unwrap())
                    .unwrap();
                sampler.read(&mut fresh, i).unwrap();
                assert_eq!(*spans.borrow(), announced, "{name} sample window {i}");
                let (mut fresh, spans) = recorded(name);
                let announced = fresh
                    .ranges_to_read(0, sampler.pixel_window(i, true).unwrap())
                    .unwrap();
                sampler.band_values(&mut fresh, i).unwrap();
                assert_eq!(*spans.borrow(), announced, "{name} band values {i}");
            }
        }
    }
}

#[test]
fn a_sample_window_decoded_once_gives_both_passes_the_same_answers() {
    // The browser's helpers keep a window's pixels from its band values for its features.
    for name in ["sample_geotiff.tif", "OSBS_029.tif"] {
        for params in param_sets() {
            let mut r = reader(name);
            let mut sampler = model::Sampler::new(r.info(), km(&params), params.seed).unwrap();
            let plan = sampler.clone();
            let pixels: Vec<_> = (0..sampler.len())
                .map(|i| sampler.decode(&mut r, i).unwrap())
                .collect();
            if sampler.needs_normaliser() {
                let mut values = Vec::new();
                for (i, p) in pixels.iter().enumerate() {
                    let once = sampler.band_values_of(p, i).unwrap();
                    assert_eq!(once, sampler.band_values(&mut r, i).unwrap(), "{name} {i}");
                    values.push(once);
                }
                sampler.set_normaliser(values).unwrap();
            }
            assert!(sampler.same_plan(&plan) && plan.same_plan(&sampler));
            for (i, p) in pixels.iter().enumerate() {
                assert_eq!(
                    sampler.features_of(p, i).unwrap(),
                    sampler.read(&mut r, i).unwrap(),
                    "{name} {i}"
                );
            }
            // Pixels of another window are refused, not misread.
            if sampler.len() > 1 && pixels[0].window != pixels[1].window {
                assert!(sampler.features_of(&pixels[0], 1).is_err());
            }
            let smaller = KMeansParams {
                sample_size: km(&params).sample_size / 4,
                ..km(&params).clone()
            };
            let other = model::Sampler::new(r.info(), &smaller, params.seed).unwrap();
            assert!(!other.same_plan(&plan));
        }
    }
}
