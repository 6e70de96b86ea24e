//! Building shard trees from the real SpaceNet Atlanta pair: split counts, layout,
//! georeferencing, resumption, refusal to touch foreign files, bad inputs, validation.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::BufReader;
use std::path::Path;

use common::{outcome, real, run, spacenet_copy, spacenet_header, tree_digest};
use engine::geotiff::GeoTiffReader;
use engine::raster::Window;
use shard_tools::build::{BuildOptions, NoProgress, build};
use shard_tools::header;
use shard_tools::index::{IndexEntry, Summary};
use shard_tools::plan::plan;
use shard_tools::split::Split;

const DATASET: &str = "spacenet-atlanta-buildings";

fn build_lib(header_path: &Path, out: &Path) -> Summary {
    let p = plan(header::load(header_path).unwrap()).unwrap();
    let outcome = build(&p, out, &BuildOptions::default(), &NoProgress).unwrap();
    outcome.summary.unwrap()
}

fn entries(out: &Path, split: Split, shard: usize) -> Vec<IndexEntry> {
    let path = out
        .join(split.name())
        .join(DATASET)
        .join(format!("shard-{shard:05}"))
        .join("index.jsonl");
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn all_entries(out: &Path, summary: &Summary) -> Vec<IndexEntry> {
    let mut all = Vec::new();
    for (split, counts) in &summary.splits {
        for shard in 0..counts.shards {
            all.extend(entries(out, *split, shard));
        }
    }
    all
}

#[test]
fn spacenet_build_has_the_exact_split_counts_for_seed_7() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("shards");
    let summary = build_lib(&spacenet_header(), &out);

    // 900x900 with 256 px windows, stride 256, edge windows shifted: 4 x 4 = 16 windows.
    // Holdout: round(0.125 x 16) = 2; the other 14 split 0.7/0.2/0.1 -> 10/3/1.
    let windows: Vec<(Split, usize, usize)> = summary
        .splits
        .iter()
        .map(|(s, c)| (*s, c.windows, c.shards))
        .collect();
    assert_eq!(
        windows,
        vec![
            (Split::Train, 10, 3),
            (Split::Val, 3, 1),
            (Split::Test, 1, 1),
            (Split::Metrics, 2, 1)
        ]
    );
    assert_eq!(summary.items, 1);
    assert!(!summary.dropped_data());

    let metrics: BTreeSet<String> = entries(&out, Split::Metrics, 0)
        .into_iter()
        .map(|e| e.id)
        .collect();
    let expected: BTreeSet<String> = ["atlanta_x0_y0", "atlanta_x256_y512"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(metrics, expected);

    // Class histograms per split (building pixels = label 1).
    let hist = |s: Split| {
        let h = &summary.splits[&s].class_histogram;
        (h[&0], h[&1])
    };
    assert_eq!(hist(Split::Train), (633_600, 21_760));
    assert_eq!(hist(Split::Val), (189_601, 7_007));
    assert_eq!(hist(Split::Test), (63_793, 1_743));
    assert_eq!(hist(Split::Metrics), (126_375, 4_697));

    // Every window once, no duplicates.
    let all = all_entries(&out, &summary);
    let ids: BTreeSet<&str> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(all.len(), 16);
    assert_eq!(ids.len(), 16);
}

#[test]
fn windows_keep_pixels_and_georeferencing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("shards");
    let summary = build_lib(&spacenet_header(), &out);
    let mut source = GeoTiffReader::open(BufReader::new(
        fs::File::open(real("sample_geotiff.tif")).unwrap(),
    ))
    .unwrap();
    let mut mask = GeoTiffReader::open(BufReader::new(
        fs::File::open(real("buildings_mask.tif")).unwrap(),
    ))
    .unwrap();
    for split in [Split::Val, Split::Metrics] {
        let shard_dir = out.join(split.name()).join(DATASET).join("shard-00000");
        for e in entries(&out, split, 0) {
            let w = e.window;
            let expected = [
                733_601.0 + 0.5 * f64::from(w.x),
                0.5,
                0.0,
                3_725_139.0 - 0.5 * f64::from(w.y),
                0.0,
                -0.5,
            ];
            assert_eq!(e.geo_transform, Some(expected), "{}", e.id);
            assert_eq!(e.epsg, Some(32616));
            assert_eq!(e.source.input, "../../real/sample_geotiff.tif");

            let mut written = GeoTiffReader::open(BufReader::new(
                fs::File::open(shard_dir.join(&e.input)).unwrap(),
            ))
            .unwrap();
            let info = written.info().clone();
            assert_eq!((info.width, info.height, info.bands), (256, 256, 1));
            assert_eq!(info.nodata, Some(0.0));
            let g = info.georef.clone().unwrap();
            assert_eq!(g.transform.0, expected);
            assert_eq!(g.epsg, Some(32616));
            let full = Window::new(0, 0, 256, 256);
            assert_eq!(
                written.read_window(full).unwrap().samples,
                source.read_window(w).unwrap().samples
            );

            let target_rel = e.target.clone().unwrap();
            let mut t = GeoTiffReader::open(BufReader::new(
                fs::File::open(shard_dir.join(target_rel)).unwrap(),
            ))
            .unwrap();
            assert_eq!(t.info().georef.as_ref().unwrap().transform.0, expected);
            assert_eq!(
                t.read_window(full).unwrap().samples,
                mask.read_window(w).unwrap().samples
            );
        }
    }
    assert_eq!(summary.splits[&Split::Val].windows, 3);
}

#[test]
fn holdout_stays_put_when_the_split_seed_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let metrics_and_train = |seed: u64, ratios: &str| {
        let dir = tmp.path().join(format!("h{seed}-{}", ratios.len()));
        fs::create_dir_all(&dir).unwrap();
        let h = spacenet_copy(&dir, |t| {
            t.replace("seed: 7", &format!("seed: {seed}"))
                .replace("{ train: 0.7, val: 0.2, test: 0.1 }", ratios)
        });
        let p = plan(header::load(&h).unwrap()).unwrap();
        let pick = |s: Split| -> BTreeSet<String> {
            p.shards
                .iter()
                .filter(|sh| sh.split == s)
                .flat_map(|sh| sh.windows.iter().map(|w| w.id.clone()))
                .collect()
        };
        (
            pick(Split::Metrics),
            pick(Split::Train),
            p.windows_per_split.clone(),
        )
    };
    let (m7, t7, c7) = metrics_and_train(7, "{ train: 0.7, val: 0.2, test: 0.1 }");
    let (m8, t8, c8) = metrics_and_train(8, "{ train: 0.7, val: 0.2, test: 0.1 }");
    let (m9, t9, _) = metrics_and_train(9, "{ train: 1.0 }");
    assert_eq!(m7, m8);
    assert_eq!(m7, m9);
    assert_eq!(c7, c8);
    assert_ne!(t7, t8);
    assert_eq!(t9.len(), 14);
    assert!(m9.is_disjoint(&t9));
}

#[test]
fn interrupted_build_resumes_to_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let header = spacenet_header();
    let h = header.to_str().unwrap();

    let reference = tmp.path().join("reference");
    let (code, _, err) = outcome(&run(&["build", h, "--out", reference.to_str().unwrap()]));
    assert_eq!(code, 0, "{err}");
    let expected = tree_digest(&reference);
    assert!(expected.contains_key("metadata/spacenet-atlanta-buildings.summary.json"));

    // Stop after two shards, then resume.
    let resumed = tmp.path().join("resumed");
    let r = resumed.to_str().unwrap();
    let (code, stdout, _) = outcome(&run(&["build", h, "--out", r, "--stop-after", "2"]));
    assert_eq!(code, 3);
    assert!(stdout.contains("rerun to continue"), "{stdout}");
    assert!(
        !resumed
            .join("metadata/spacenet-atlanta-buildings.summary.json")
            .exists()
    );
    // A crash in the middle of a shard leaves a partial folder behind.
    let partial = resumed.join(".partial/train/spacenet-atlanta-buildings/shard-00002/inputs");
    fs::create_dir_all(&partial).unwrap();
    fs::write(partial.join("atlanta_x0_y0.tif"), b"half a file").unwrap();
    let (code, stdout, err) = outcome(&run(&["build", h, "--out", r]));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("(4 written, 2 kept)"), "{stdout}");
    assert_eq!(tree_digest(&resumed), expected);

    // A shard whose completion record is gone is rewritten.
    let last = resumed.join("metrics/spacenet-atlanta-buildings/shard-00000");
    fs::remove_file(last.join("shard.json")).unwrap();
    fs::remove_file(last.join("targets/atlanta_x0_y0.tif")).unwrap();
    let (code, stdout, _) = outcome(&run(&["build", h, "--out", r]));
    assert_eq!(code, 0);
    assert!(stdout.contains("(1 written, 5 kept)"), "{stdout}");
    assert_eq!(tree_digest(&resumed), expected);

    // A rerun of a complete build writes nothing and changes nothing.
    let (code, stdout, _) = outcome(&run(&["build", h, "--out", r]));
    assert_eq!(code, 0);
    assert!(stdout.contains("(0 written, 6 kept)"), "{stdout}");
    assert_eq!(tree_digest(&resumed), expected);
}

#[test]
fn refuses_a_foreign_non_empty_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("mine");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("thesis.docx"), b"precious").unwrap();
    let h = spacenet_header();
    let (code, _, err) = outcome(&run(&[
        "build",
        h.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 1);
    assert!(
        err.contains("refusing to write into a non-empty folder"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(fs::read(out.join("thesis.docx")).unwrap(), b"precious");
    assert_eq!(fs::read_dir(&out).unwrap().count(), 1);
}

#[test]
fn a_changed_header_needs_rebuild_which_deletes_only_our_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("shards");
    let o = out.to_str().unwrap();
    let h1 = spacenet_copy(&tmp.path().join("a").tap_mkdir(), |t| t);
    let h2 = spacenet_copy(&tmp.path().join("b").tap_mkdir(), |t| {
        t.replace("shard_size: 4", "shard_size: 8")
    });
    assert_eq!(
        outcome(&run(&["build", h1.to_str().unwrap(), "--out", o])).0,
        0
    );
    fs::write(out.join("notes.txt"), b"mine").unwrap();

    let (code, _, err) = outcome(&run(&["build", h2.to_str().unwrap(), "--out", o]));
    assert_eq!(code, 1);
    assert!(err.contains("--rebuild"), "{err}");

    // A user file inside a shard folder blocks the rebuild instead of being deleted.
    let stray = out.join("train/spacenet-atlanta-buildings/shard-00002/inputs/keep.txt");
    fs::write(&stray, b"mine too").unwrap();
    let (code, _, err) = outcome(&run(&[
        "build",
        h2.to_str().unwrap(),
        "--out",
        o,
        "--rebuild",
    ]));
    assert_eq!(code, 1);
    assert!(err.contains("did not write"), "{err}");
    assert!(stray.exists());
    fs::remove_file(&stray).unwrap();

    let (code, _, err) = outcome(&run(&[
        "build",
        h2.to_str().unwrap(),
        "--out",
        o,
        "--rebuild",
    ]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(fs::read(out.join("notes.txt")).unwrap(), b"mine");
    // shard_size 8: train 10 -> 2 shards; the old shard-00002 is gone.
    assert!(
        out.join("train/spacenet-atlanta-buildings/shard-00001")
            .exists()
    );
    assert!(
        !out.join("train/spacenet-atlanta-buildings/shard-00002")
            .exists()
    );
    let (code, stdout, _) = outcome(&run(&["validate", o]));
    assert_eq!(code, 0, "{stdout}");
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        fs::create_dir_all(&self).unwrap();
        self
    }
}

#[test]
fn bad_files_are_skipped_counted_and_reported_by_the_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let images = data.join("images").tap_mkdir();
    let masks = data.join("masks").tap_mkdir();
    fs::copy(real("sample_geotiff.tif"), images.join("good.tif")).unwrap();
    fs::copy(real("buildings_mask.tif"), masks.join("good.tif")).unwrap();
    // Not a TIFF at all.
    fs::write(images.join("garbage.tif"), b"this is not a tiff file").unwrap();
    fs::copy(real("buildings_mask.tif"), masks.join("garbage.tif")).unwrap();
    // A real TIFF cut short: its directory or its pixel data is missing.
    let bytes = fs::read(real("sample_geotiff.tif")).unwrap();
    fs::write(images.join("truncated.tif"), &bytes[..bytes.len() / 3]).unwrap();
    fs::copy(real("buildings_mask.tif"), masks.join("truncated.tif")).unwrap();
    // A target of the wrong size.
    fs::copy(real("sample_geotiff.tif"), images.join("mismatch.tif")).unwrap();
    fs::copy(real("OSBS_029.tif"), masks.join("mismatch.tif")).unwrap();
    let header = data.join("header.yaml");
    fs::write(
        &header,
        "dataset: mixed\n\
         modalities:\n  input: { dir: images }\n  target: { dir: masks }\n\
         splits: { seed: 1, ratios: { train: 1.0 } }\n\
         sharding: { window: 512, stride: 512, shard_size: 2, edge: drop }\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let (code, _, err) = outcome(&run(&[
        "build",
        header.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("images/garbage.tif"), "{err}");
    assert!(err.contains("masks/mismatch.tif"), "{err}");
    assert!(err.contains("data dropped"), "{err}");

    let summary: Summary =
        serde_json::from_str(&fs::read_to_string(out.join("metadata/mixed.summary.json")).unwrap())
            .unwrap();
    assert!(summary.dropped_data());
    let dropped: Vec<&str> = summary
        .dropped_items
        .iter()
        .map(|d| d.item.as_str())
        .collect();
    assert!(dropped.contains(&"garbage"));
    assert!(dropped.contains(&"mismatch"));
    // The truncated file is dropped whole or window by window, but never silently.
    let truncated_lost = dropped.contains(&"truncated")
        || summary
            .failed_windows
            .iter()
            .any(|w| w.id.starts_with("truncated_"));
    assert!(truncated_lost, "{summary:?}");
    // The good item is complete: 900 px with 512 px windows, edge dropped -> 1 window.
    let good: usize = summary.splits[&Split::Train].windows;
    assert!(good >= 1);
    let (code, stdout, _) = outcome(&run(&["validate", out.to_str().unwrap()]));
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn validate_finds_missing_extra_and_mismatched_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("shards");
    build_lib(&spacenet_header(), &out);
    let o = out.to_str().unwrap();
    let (code, stdout, _) = outcome(&run(&["validate", o]));
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("ok: 1 datasets, 6 shards, 16 windows"),
        "{stdout}"
    );

    let shard = out.join("train/spacenet-atlanta-buildings/shard-00000");
    fs::remove_file(shard.join("targets/atlanta_x256_y0.tif")).unwrap();
    // A window of another place: same shape, different georeference.
    fs::copy(
        shard.join("inputs/atlanta_x0_y256.tif"),
        shard.join("inputs/atlanta_x256_y256.tif"),
    )
    .unwrap();
    fs::write(shard.join("inputs/stray.tif"), b"x").unwrap();
    let (code, stdout, _) = outcome(&run(&["validate", o]));
    assert_eq!(code, 1);
    assert!(
        stdout.contains("targets/atlanta_x256_y0.tif: unreadable"),
        "{stdout}"
    );
    assert!(
        stdout.contains("inputs/atlanta_x256_y256.tif: georeference differs from the index"),
        "{stdout}"
    );
    assert!(
        stdout.contains("inputs/stray.tif: not listed in index.jsonl"),
        "{stdout}"
    );
}
