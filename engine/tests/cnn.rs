//! The CNN method on real imagery: shipped models decode, any tiling gives the whole image's
//! labels, runs are reproducible, band roles are named, and the manifest says which model ran.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions fail loudly on purpose

use std::fs::File;
use std::io::{BufReader, Cursor};
use std::path::PathBuf;

use engine::cnn::{Artifact, CnnParams};
use engine::geotiff::GeoTiffReader;
use engine::labels::NODATA;
use engine::manifest::{InputIdentity, MethodManifest};
use engine::pipeline::{self, MethodParams, PostProcess, Runtime, SegmentError, SegmentParams};
use engine::progress::NoProgress;
use engine::raster::Window;
use pollster::block_on;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/real")
        .join(name)
}

fn reader(name: &str) -> GeoTiffReader<BufReader<File>> {
    let file = File::open(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    GeoTiffReader::open(BufReader::new(file)).unwrap()
}

fn cnn(k: usize, resolution: u32, smooth: usize, mmu: u32, seed: u64) -> SegmentParams {
    SegmentParams {
        method: MethodParams::Cnn(CnnParams {
            k,
            resolution,
            ..CnnParams::default()
        }),
        post: PostProcess { smooth, mmu },
        seed,
    }
}

fn identity() -> InputIdentity {
    InputIdentity {
        name: "test.tif".into(),
        bytes: 0,
        blake3: String::new(),
    }
}

/// The labels of the whole raster in one window.
fn whole(name: &str, params: &SegmentParams) -> Vec<u8> {
    let mut r = reader(name);
    let s = block_on(pipeline::segmenter(
        &mut r,
        params,
        &Runtime::default(),
        &NoProgress,
    ))
    .unwrap();
    let (w, h) = (r.info().width, r.info().height);
    block_on(s.label(&mut r, Window::new(0, 0, w, h))).unwrap()
}

/// The labels read back from the streamed, tiled GeoTIFF.
fn streamed(name: &str, params: &SegmentParams) -> (Vec<u8>, engine::manifest::RunManifest) {
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
    let bytes = out.sink.into_inner();
    let mut back = GeoTiffReader::open(Cursor::new(bytes)).unwrap();
    let (w, h) = (back.info().width, back.info().height);
    let labels = back.read_window(Window::new(0, 0, w, h)).unwrap();
    let engine::raster::Samples::U8(v) = labels.samples else {
        panic!("labels are u8")
    };
    (v, out.manifest)
}

#[test]
fn every_shipped_model_decodes_into_the_current_network() {
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
    let mut seen = 0;
    for entry in std::fs::read_dir(&models).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let meta = std::fs::read(dir.join("meta.json")).unwrap();
        let weights = std::fs::read(dir.join("weights.bpk")).unwrap();
        let artifact = Artifact::from_bytes(&meta, &weights)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert_eq!(
            dir.file_name().unwrap().to_string_lossy(),
            artifact.meta.id,
            "a model's folder is named after its id"
        );
        assert!(
            dir.join("metrics.json").is_file(),
            "{}: no metrics.json",
            dir.display()
        );
        seen += 1;
    }
    assert!(seen >= 1, "no model in {}", models.display());
    let builtin = Artifact::builtin().unwrap();
    assert_eq!(builtin.meta.id, engine::cnn::BUILTIN_MODEL);
}

#[test]
fn corrupt_weights_are_refused_with_a_named_error() {
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models");
    let dir = models.join(engine::cnn::BUILTIN_MODEL);
    let meta = std::fs::read(dir.join("meta.json")).unwrap();
    let weights = std::fs::read(dir.join("weights.bpk")).unwrap();
    let err = Artifact::from_bytes(&meta, &weights[..weights.len() / 2]).unwrap_err();
    assert!(err.to_string().contains("weights"), "{err}");
    let err = Artifact::from_bytes(b"{", &weights).unwrap_err();
    assert!(err.to_string().contains("meta.json"), "{err}");
    // A network of another width cannot take these weights.
    let mut other: serde_json::Value = serde_json::from_slice(&meta).unwrap();
    other["architecture"]["width"] = 8.into();
    let err = Artifact::from_bytes(&serde_json::to_vec(&other).unwrap(), &weights).unwrap_err();
    assert!(err.to_string().contains("weights"), "{err}");
}

fn param_sets() -> Vec<SegmentParams> {
    vec![
        cnn(6, 1, 3, 24, 0),
        cnn(5, 4, 5, 200, 3),
        cnn(8, 2, 0, 0, 9),
    ]
}

#[test]
fn tile_streamed_labels_equal_whole_image_labels() {
    for name in ["L7_ETMs.tif", "OSBS_029.tif"] {
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
        let s = block_on(pipeline::segmenter(
            &mut r,
            &params,
            &Runtime::default(),
            &NoProgress,
        ))
        .unwrap();
        let width = r.info().width;
        let res = params.method.resolution();
        for (x, y, w, h) in [
            (0, 0, 37, 50),
            (res * 40, res * 13, 123, 77),
            (900 - res * 20, 900 - res * 30, res * 20, res * 30),
        ] {
            let core = Window::new(x, y, w, h);
            let got = block_on(s.label(&mut r, core)).unwrap();
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
fn same_seed_same_labels_and_the_manifest_names_the_model() {
    let params = cnn(6, 2, 3, 16, 4);
    let (a, manifest) = streamed("L7_ETMs.tif", &params);
    let (b, _) = streamed("L7_ETMs.tif", &params);
    assert_eq!(a, b);
    let MethodManifest::Cnn(m) = &manifest.method else {
        panic!("not a CNN manifest: {manifest:?}");
    };
    assert_eq!(m.model, engine::cnn::BUILTIN_MODEL);
    assert_eq!(m.weights_blake3.len(), 64);
    assert_eq!(m.centres.len(), 6);
    assert_eq!(m.band_roles.file_bands(), vec![0, 1, 2, 3, 4, 5]);
    let used: std::collections::BTreeSet<u8> = a.iter().copied().filter(|&l| l != NODATA).collect();
    assert_eq!(used.len(), 6, "every class is used: {used:?}");
}

#[test]
fn unknown_band_roles_are_named() {
    // A two-band raster has no default roles.
    let mut params = cnn(4, 2, 3, 16, 0);
    let MethodParams::Cnn(p) = &mut params.method else {
        unreachable!()
    };
    p.band_roles = Some("red,green,blue,nir,swir1,bogus".into());
    let mut r = reader("L7_ETMs.tif");
    let err = block_on(pipeline::segmenter(
        &mut r,
        &params,
        &Runtime::default(),
        &NoProgress,
    ))
    .unwrap_err();
    assert!(matches!(err, SegmentError::BandRoles(_)), "{err}");
    assert!(err.to_string().contains("bogus"), "{err}");
}

#[test]
fn user_roles_pick_the_bands() {
    // Olinda's bands 3, 2, 1 as red, green, blue only.
    let mut params = cnn(5, 2, 3, 16, 0);
    let MethodParams::Cnn(p) = &mut params.method else {
        unreachable!()
    };
    p.band_roles = Some("3=red,2=green,1=blue".into());
    let (_, manifest) = streamed("L7_ETMs.tif", &params);
    let MethodManifest::Cnn(m) = &manifest.method else {
        panic!("not a CNN manifest")
    };
    let mut bands = m.band_roles.file_bands();
    bands.sort_unstable();
    assert_eq!(bands, vec![0, 1, 2]);
}
