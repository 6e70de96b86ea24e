//! The metric against hand-computed confusion matrices, and end to end on the real building mask.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

use common::{outcome, real, run};
use engine::geotiff::{GeoTiffReader, GeoTiffWriter, TILE_SIZE, WriterOptions};
use engine::raster::{SampleType, Samples};
use shard_tools::eval::raster::evaluate_files;
use shard_tools::eval::{Accumulator, EvalOptions, EvalReport, Matching, MatchingMode, evaluate};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

fn ious(r: &EvalReport) -> Vec<f64> {
    r.per_class.iter().map(|c| c.iou).collect()
}

#[test]
fn hungarian_matches_one_to_one() {
    // classes 0,1,2; clusters 5,7,9 (arbitrary ids)
    let target: [u8; 9] = [0, 0, 0, 1, 1, 2, 2, 2, 2];
    let pred: [u8; 9] = [5, 5, 7, 7, 7, 9, 9, 9, 5];
    let r = evaluate(&pred, &target, &EvalOptions::default()).unwrap();
    // Rows: classes 0, 1, 2; columns: clusters 5, 7, 9.
    assert_eq!(
        r.confusion,
        vec![vec![2, 1, 0], vec![0, 2, 0], vec![1, 0, 3]]
    );
    assert_eq!(r.matching, Matching::Hungarian);
    assert!(r.one_to_one);
    let mapping: Vec<(i64, Option<i64>)> = r.mapping.iter().map(|m| (m.cluster, m.class)).collect();
    assert_eq!(mapping, vec![(5, Some(0)), (7, Some(1)), (9, Some(2))]);
    // class 0: TP 2, FP 1 (cluster 5 on class 2), FN 1 -> 2/4
    // class 1: TP 2, FP 1 (cluster 7 on class 0), FN 0 -> 2/3
    // class 2: TP 3, FP 0, FN 1 -> 3/4
    let expected = [0.5, 2.0 / 3.0, 0.75];
    assert!(
        ious(&r).iter().zip(expected).all(|(a, b)| close(*a, b)),
        "{r:?}"
    );
    assert!(close(r.mean_iou.unwrap(), (0.5 + 2.0 / 3.0 + 0.75) / 3.0));
    assert!(close(r.pixel_accuracy.unwrap(), 7.0 / 9.0));
    let c0 = &r.per_class[0];
    assert_eq!(
        (c0.true_positive, c0.false_positive, c0.false_negative),
        (2, 1, 1)
    );
}

#[test]
fn object_ids_instead_of_classes_are_refused_by_name() {
    let ids: Vec<u32> = (0..2000).collect();
    let err = evaluate(&ids, &ids, &EvalOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains(
            "2000 target classes and 2000 predicted labels: their confusion matrix would have more than 1048576 cells"
        ),
        "{err}"
    );
}

#[test]
fn hungarian_beats_greedy_matching() {
    // Greedy would give cluster 0 to class 0 (6 px) and leave cluster 1 with class 1 (0 px);
    // the optimum is 0 -> 1, 1 -> 0 (5 + 5 = 10 px).
    let conf = [(0u8, 0u8, 6usize), (0, 1, 5), (1, 0, 5), (1, 1, 0)];
    let mut target = Vec::new();
    let mut pred = Vec::new();
    for (t, p, n) in conf {
        target.extend(std::iter::repeat_n(t, n));
        pred.extend(std::iter::repeat_n(p, n));
    }
    let r = evaluate(&pred, &target, &EvalOptions::default()).unwrap();
    let mapping: Vec<(i64, Option<i64>)> = r.mapping.iter().map(|m| (m.cluster, m.class)).collect();
    assert_eq!(mapping, vec![(0, Some(1)), (1, Some(0))]);
    assert!(close(r.pixel_accuracy.unwrap(), 10.0 / 16.0));
}

#[test]
fn majority_matches_many_to_one_when_counts_differ() {
    let target: [u8; 7] = [0, 0, 0, 0, 1, 1, 1];
    let pred: [u8; 7] = [0, 0, 1, 2, 2, 3, 3];
    let r = evaluate(&pred, &target, &EvalOptions::default()).unwrap();
    assert_eq!(r.confusion, vec![vec![2, 1, 1, 0], vec![0, 0, 1, 2]]);
    assert_eq!(r.matching, Matching::Majority);
    assert!(!r.one_to_one);
    // cluster 2 ties (1 px each): the lower class wins.
    let mapping: Vec<Option<i64>> = r.mapping.iter().map(|m| m.class).collect();
    assert_eq!(mapping, vec![Some(0), Some(0), Some(0), Some(1)]);
    // class 0: TP 4, FP 1, FN 0 -> 0.8; class 1: TP 2, FP 0, FN 1 -> 2/3
    assert!(close(ious(&r)[0], 0.8) && close(ious(&r)[1], 2.0 / 3.0));
    assert!(close(r.mean_iou.unwrap(), (0.8 + 2.0 / 3.0) / 2.0));
    assert!(close(r.pixel_accuracy.unwrap(), 6.0 / 7.0));

    // Forced Hungarian on the same data: clusters 1 and 2 stay unmatched.
    let h = evaluate(
        &pred,
        &target,
        &EvalOptions {
            matching: MatchingMode::Hungarian,
            ..EvalOptions::default()
        },
    )
    .unwrap();
    let mapping: Vec<Option<i64>> = h.mapping.iter().map(|m| m.class).collect();
    assert_eq!(mapping, vec![Some(0), None, None, Some(1)]);
    // class 0: TP 2, FP 0, FN 2 -> 0.5; class 1: TP 2, FP 0, FN 1 -> 2/3
    assert!(close(ious(&h)[0], 0.5) && close(ious(&h)[1], 2.0 / 3.0));
    assert!(close(h.pixel_accuracy.unwrap(), 4.0 / 7.0));
}

#[test]
fn ignore_labels_and_masks_count_nowhere() {
    let target: [u16; 6] = [0, 1, 1, 255, 255, 0];
    let pred: [u8; 6] = [3, 4, 4, 4, 3, 4];
    let opts = EvalOptions {
        ignore: vec![255],
        ..EvalOptions::default()
    };
    let r = evaluate(&pred, &target, &opts).unwrap();
    assert_eq!(r.ignored_pixels, 2);
    assert_eq!(r.valid_pixels, 4);
    assert_eq!(r.confusion, vec![vec![1, 1], vec![0, 2]]);
    // 3 -> 0, 4 -> 1: class 0 TP 1 FN 1 -> 0.5; class 1 TP 2 FP 1 -> 2/3
    assert!(close(ious(&r)[0], 0.5) && close(ious(&r)[1], 2.0 / 3.0));

    let mut acc = Accumulator::new(&opts);
    acc.add_masked(&pred, &target, &[true, true, true, true, true, false])
        .unwrap();
    let m = acc.finish().unwrap();
    assert_eq!(
        (m.valid_pixels, m.ignored_pixels, m.masked_pixels),
        (3, 2, 1)
    );
    assert_eq!(ious(&m), vec![1.0, 1.0]);

    // Streaming in parts and merging gives the same report as one call.
    let mut a = Accumulator::new(&opts);
    a.add(&pred[..3], &target[..3]).unwrap();
    let mut b = Accumulator::new(&opts);
    b.add(&pred[3..], &target[3..]).unwrap();
    a.merge(&b);
    assert_eq!(a.finish().unwrap(), r);

    // Labels beyond u8 and negative labels take the same path.
    let big = evaluate(
        &[1000i32, 1000, -1],
        &[70000u32, 70000, 5],
        &EvalOptions::default(),
    )
    .unwrap();
    assert_eq!(big.classes, vec![5, 70000]);
    assert_eq!(big.mean_iou, Some(1.0));

    let err = evaluate(&[0u8; 3], &[0u8; 4], &opts).unwrap_err();
    assert_eq!(err.to_string(), "prediction has 3 pixels but target has 4");
    let none = evaluate(&[0u8; 2], &[255u8; 2], &opts).unwrap();
    assert_eq!((none.mean_iou, none.pixel_accuracy), (None, None));
}

/// Writes a 900x900 u8 raster of `value`, georeferenced like the building mask (or shifted).
fn write_constant(path: &Path, value: u8, shift: f64) {
    let mask = GeoTiffReader::open(BufReader::new(
        File::open(real("buildings_mask.tif")).unwrap(),
    ))
    .unwrap();
    let mut georef = mask.info().georef.clone().unwrap();
    if shift != 0.0 {
        georef = georef.for_window(engine::raster::Window::new(shift as u32, 0, 1, 1));
    }
    let mut o = WriterOptions::new(900, 900, 1, SampleType::U8);
    o.georef = Some(georef);
    let mut w = GeoTiffWriter::new(BufWriter::new(File::create(path).unwrap()), o).unwrap();
    let mut row = 0;
    while row < 900 {
        let rows = (TILE_SIZE as usize).min(900 - row);
        w.write_strip(&Samples::U8(vec![value; rows * 900]))
            .unwrap();
        row += rows;
    }
    w.finish().unwrap();
}

#[test]
fn building_mask_against_itself_scores_one() {
    let mask = real("buildings_mask.tif");
    let r = evaluate_files(&mask, &mask, &EvalOptions::default()).unwrap();
    assert_eq!(r.matching, Matching::Hungarian);
    assert_eq!(r.confusion, vec![vec![776_182, 0], vec![0, 33_818]]);
    assert_eq!(r.mean_iou, Some(1.0));
    assert_eq!(r.pixel_accuracy, Some(1.0));
    assert_eq!(r.valid_pixels, 810_000);
}

#[test]
fn building_mask_against_all_background_gives_the_known_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let zeros = tmp.path().join("zeros.tif");
    write_constant(&zeros, 0, 0.0);
    let mask = real("buildings_mask.tif");
    let r = evaluate_files(&zeros, &mask, &EvalOptions::default()).unwrap();
    // One cluster, two classes: majority matching puts the cluster on background.
    assert_eq!(r.matching, Matching::Majority);
    assert_eq!(r.confusion, vec![vec![776_182], vec![33_818]]);
    assert!(close(ious(&r)[0], 776_182.0 / 810_000.0));
    assert_eq!(ious(&r)[1], 0.0);
    assert!(close(r.mean_iou.unwrap(), 776_182.0 / 1_620_000.0));
    assert!(close(r.pixel_accuracy.unwrap(), 776_182.0 / 810_000.0));

    // The command line gives the same numbers as JSON, and as a table.
    let (code, stdout, err) = outcome(&run(&[
        "eval",
        zeros.to_str().unwrap(),
        mask.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(code, 0, "{err}");
    let json: EvalReport = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json, r);
    let (code, table, _) = outcome(&run(&[
        "eval",
        zeros.to_str().unwrap(),
        mask.to_str().unwrap(),
    ]));
    assert_eq!(code, 0);
    assert!(
        table.contains("matching        majority (many to one)"),
        "{table}"
    );
    assert!(table.contains("mean IoU        0.4791"), "{table}");
    assert!(table.contains("pixel accuracy  0.9582"), "{table}");

    // Ignoring the background leaves the buildings, all predicted as the one cluster.
    let (code, stdout, _) = outcome(&run(&[
        "eval",
        zeros.to_str().unwrap(),
        mask.to_str().unwrap(),
        "--json",
        "--ignore",
        "0",
    ]));
    assert_eq!(code, 0);
    let ignored: EvalReport = serde_json::from_str(&stdout).unwrap();
    assert_eq!(ignored.ignored_pixels, 776_182);
    assert_eq!(ignored.classes, vec![1]);
    assert_eq!(ignored.mean_iou, Some(1.0));
}

#[test]
fn rasters_that_do_not_line_up_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mask = real("buildings_mask.tif");
    let (code, _, err) = outcome(&run(&[
        "eval",
        real("L7_ETMs.tif").to_str().unwrap(),
        mask.to_str().unwrap(),
    ]));
    assert_eq!(code, 1);
    assert!(
        err.contains("has 6 bands; expected a single-band label raster"),
        "{err}"
    );
    let (code, _, err) = outcome(&run(&[
        "eval",
        mask.to_str().unwrap(),
        real("sample_geotiff.tif").to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{err}");

    let shifted = tmp.path().join("shifted.tif");
    write_constant(&shifted, 1, 10.0);
    let (code, _, err) = outcome(&run(&[
        "eval",
        shifted.to_str().unwrap(),
        mask.to_str().unwrap(),
    ]));
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "shard-tools: prediction and target are not georeferenced alike (different CRS or transform)"
    );

    let small = tmp.path().join("small.tif");
    let mut o = WriterOptions::new(10, 20, 1, SampleType::U8);
    o.nodata = None;
    let mut w = GeoTiffWriter::new(BufWriter::new(File::create(&small).unwrap()), o).unwrap();
    w.write_strip(&Samples::U8(vec![0; 200])).unwrap();
    w.finish().unwrap();
    let (code, _, err) = outcome(&run(&[
        "eval",
        small.to_str().unwrap(),
        mask.to_str().unwrap(),
    ]));
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "shard-tools: prediction is 10x20 but target is 900x900"
    );
}
