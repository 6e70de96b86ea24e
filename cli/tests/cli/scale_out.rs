//! `mapseg fit` → `mapseg apply` × N → `mapseg merge` against one `mapseg segment` run, on a
//! real image, with GDAL reading the parts and the mosaics.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::gdal_tools::{assert_valid_cog, gdal, gdal_pixels, gdalinfo};
use super::{MAPSEG, failed, fixture, mapseg, succeeded};

/// A real image (OSBS_029, 400 × 400) resampled by GDAL to 1100 × 1300 pixels: six tile rows,
/// so parts of one, two, four and six rows.
fn big_raster(dir: &Path) -> PathBuf {
    let out = dir.join("scene.tif");
    gdal(Command::new("gdal_translate").args([
        "-q",
        "-outsize",
        "1100",
        "1300",
        "-r",
        "bilinear",
        "-co",
        "TILED=YES",
        "-co",
        "COMPRESS=DEFLATE",
        fixture("OSBS_029.tif").to_str().unwrap(),
        out.to_str().unwrap(),
    ]));
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `mapseg apply` for `part` of `parts` into `dir`.
fn apply(model: &Path, inputs: &[&Path], parts: u32, part: u32, dir: &Path, extra: &[&str]) {
    let (parts, part) = (parts.to_string(), part.to_string());
    let mut args = vec!["apply", s(model)];
    args.extend(inputs.iter().map(|p| s(p)));
    args.extend(["--parts", &parts, "--part", &part, "-o", s(dir), "-q"]);
    args.extend_from_slice(extra);
    succeeded(&mapseg(&args));
}

#[test]
fn fit_apply_merge_equals_one_segment_run_for_any_part_count() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = big_raster(d);
    let (one, csv) = (d.join("one.tif"), d.join("one.csv"));
    let options = ["--k", "6", "--seed", "3", "--mmu", "40"];
    let mut args = vec![
        "segment",
        s(&input),
        "-o",
        s(&one),
        "--stats",
        s(&csv),
        "-q",
    ];
    args.extend(options);
    succeeded(&mapseg(&args));
    let model = d.join("model.json");
    let mut args = vec!["fit", s(&input), "-o", s(&model), "-q"];
    args.extend(options);
    succeeded(&mapseg(&args));
    let one_bytes = std::fs::read(&one).unwrap();
    let one_pixels = gdal_pixels(&one, None);
    for parts in [1u32, 2, 4, 6] {
        let out = d.join(format!("parts-{parts}"));
        // Parts run in any order, on any number of threads.
        for part in (0..parts).rev() {
            let threads = if part % 2 == 0 { "1" } else { "2" };
            apply(
                &model,
                &[&input],
                parts,
                part,
                &out,
                &["--threads", threads],
            );
        }
        let (cog, vrt, sums) = (
            d.join(format!("merged-{parts}.tif")),
            d.join(format!("merged-{parts}.vrt")),
            d.join(format!("merged-{parts}.csv")),
        );
        succeeded(&mapseg(&[
            "merge",
            s(&out),
            "-o",
            s(&cog),
            "-o",
            s(&vrt),
            "--stats",
            s(&sums),
            "--threads",
            if parts % 2 == 0 { "2" } else { "1" },
            "-q",
        ]));
        assert!(
            std::fs::read(&cog).unwrap() == one_bytes,
            "{parts} parts: the merged GeoTIFF differs from the one-run GeoTIFF"
        );
        assert_eq!(
            std::fs::read_to_string(&sums).unwrap(),
            std::fs::read_to_string(&csv).unwrap(),
            "{parts} parts: summed statistics"
        );
        assert!(
            gdal_pixels(&vrt, None) == one_pixels,
            "{parts} parts: VRT pixels"
        );
        let info = gdalinfo(&vrt);
        let whole = gdalinfo(&one);
        assert_eq!(info["geoTransform"], whole["geoTransform"]);
        assert_eq!(info["size"], whole["size"]);
        assert_eq!(info["metadata"][""]["CLASS_5_NAME"], "class 6");
        assert!(
            info["metadata"][""]["MAPSEG_MANIFEST"]
                .as_str()
                .unwrap()
                .contains("\"seed\": 3")
        );
        let band = &info["bands"][0];
        assert_eq!(band["noDataValue"], 255.0);
        assert_eq!(band["description"], "class");
        assert_eq!(band["colorInterpretation"], "Palette");
        assert_eq!(
            band["colorTable"]["entries"][1],
            whole["bands"][0]["colorTable"]["entries"][1]
        );
        assert_eq!(band["categories"][0], "class 1");
        assert_eq!(
            band["colorTable"]["entries"][255], whole["bands"][0]["colorTable"]["entries"][255],
            "nodata is transparent"
        );
        assert_eq!(info["metadata"][""]["AREA_OR_POINT"], "Area");
    }
    assert_valid_cog(&d.join("merged-4.tif"));
}

#[test]
fn a_part_lies_where_its_rows_are_and_a_rerun_writes_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = big_raster(d);
    let model = d.join("model.json");
    succeeded(&mapseg(&["fit", s(&input), "-o", s(&model), "-q"]));
    let out = d.join("parts");
    apply(&model, &[&input], 3, 1, &out, &[]);
    let tif = out.join("part-000001.tif");
    let first = std::fs::read(&tif).unwrap();
    let record = std::fs::read(out.join("part-000001.json")).unwrap();
    // A task that runs again finds its part complete; asked to, it writes the same bytes.
    let again = succeeded(&mapseg(&[
        "apply",
        s(&model),
        s(&input),
        "--parts",
        "3",
        "--part",
        "1",
        "-o",
        s(&out),
    ]));
    assert!(again.contains("part 1 of 3 is already complete"), "{again}");
    std::fs::remove_file(&tif).unwrap();
    let redone = succeeded(&mapseg(&[
        "apply",
        s(&model),
        s(&input),
        "--parts",
        "3",
        "--part",
        "1",
        "-o",
        s(&out),
    ]));
    assert!(
        redone.contains("wrote part 1 of 3"),
        "a missing GeoTIFF is labelled again: {redone}"
    );
    apply(&model, &[&input], 3, 1, &out, &["--again"]);
    assert!(
        std::fs::read(&tif).unwrap() == first,
        "a rerun changed the part"
    );
    assert_eq!(std::fs::read(out.join("part-000001.json")).unwrap(), record);
    let whole = gdalinfo(&input);
    let part = gdalinfo(&tif);
    // Part 1 of 3 owns tile rows 2 and 3: rows 512..1024.
    assert_eq!(part["size"], serde_json::json!([1100, 512]));
    let g = whole["geoTransform"].as_array().unwrap();
    let p = part["geoTransform"].as_array().unwrap();
    let y0 = g[3].as_f64().unwrap() + 512.0 * g[5].as_f64().unwrap();
    assert!((p[3].as_f64().unwrap() - y0).abs() < 1e-6, "{p:?}");
    assert_eq!(p[0], g[0]);
    let manifest: serde_json::Value =
        serde_json::from_str(part["metadata"][""]["MAPSEG_MANIFEST"].as_str().unwrap()).unwrap();
    assert_eq!(manifest["part"]["index"], 1);
    assert_eq!(manifest["part"]["count"], 3);
    assert_eq!(manifest["part"]["index_from"], "--part");
    assert_valid_cog(&tif);
}

#[test]
fn the_part_comes_from_the_schedulers_variable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = fixture("OSBS_029.tif");
    let model = d.join("model.json");
    succeeded(&mapseg(&["fit", s(&input), "-o", s(&model), "-q"]));
    let run = |vars: &[(&str, &str)], out: &Path| {
        let mut cmd = Command::new(MAPSEG);
        cmd.args([
            "apply",
            s(&model),
            s(&input),
            "--parts",
            "2",
            "-o",
            s(out),
            "-q",
        ]);
        for name in ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "SGE_TASK_ID"] {
            cmd.env_remove(name);
        }
        cmd.envs(vars.iter().copied());
        cmd.output().unwrap()
    };
    let out = d.join("slurm");
    succeeded(&run(
        &[("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_CPUS_PER_TASK", "1")],
        &out,
    ));
    assert!(out.join("part-000001.tif").exists());
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("part-000001.json")).unwrap()).unwrap();
    assert_eq!(record["index_from"], "SLURM_ARRAY_TASK_ID=1");
    let out = d.join("k8s");
    succeeded(&run(&[("JOB_COMPLETION_INDEX", "0")], &out));
    assert!(out.join("part-000000.tif").exists());
    let out = d.join("sge");
    succeeded(&run(&[("SGE_TASK_ID", "2")], &out));
    assert!(out.join("part-000001.tif").exists(), "SGE counts from 1");
    let err = failed(&run(&[], &d.join("none")));
    assert!(err.contains("no part given: pass --part I"), "{err}");
    let err = failed(&run(&[("SLURM_ARRAY_TASK_ID", "2")], &d.join("over")));
    assert!(
        err.contains("SLURM_ARRAY_TASK_ID=2 gives part 2, but there are 2 parts, numbered 0 to 1"),
        "{err}"
    );
}

#[test]
fn merge_refuses_missing_foreign_and_mixed_parts_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = big_raster(d);
    let (model, other) = (d.join("model.json"), d.join("other.json"));
    succeeded(&mapseg(&["fit", s(&input), "-o", s(&model), "-q"]));
    succeeded(&mapseg(&[
        "fit",
        s(&input),
        "-o",
        s(&other),
        "--seed",
        "9",
        "-q",
    ]));
    let out = d.join("parts");
    apply(&model, &[&input], 3, 0, &out, &[]);
    apply(&model, &[&input], 3, 2, &out, &[]);
    let merged = d.join("merged.tif");
    let err = failed(&mapseg(&["merge", s(&out), "-o", s(&merged)]));
    assert!(
        err.contains("part 1 of 3 is missing") && err.contains("part-000001.json"),
        "{err}"
    );
    assert!(!merged.exists(), "a refused merge writes nothing");
    apply(&other, &[&input], 3, 1, &out, &[]);
    let err = failed(&mapseg(&["merge", s(&out), "-o", s(&merged)]));
    assert!(err.contains("was labelled with another model"), "{err}");
    apply(&model, &[&input], 2, 1, &out, &[]);
    let err = failed(&mapseg(&["merge", s(&out), "-o", s(&merged)]));
    assert!(err.contains("split into"), "{err}");
    let err = failed(&mapseg(&["merge", s(d), "-o", s(&merged)]));
    assert!(err.contains("holds no parts"), "{err}");
    let err = failed(&mapseg(&["merge", s(&out), "-o", s(&d.join("x.png"))]));
    assert!(err.contains("write a .tif"), "{err}");
}

#[test]
fn a_list_is_fitted_as_one_sample_and_split_by_whole_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The left and right halves of a real image, as two scenes, and a VRT of them.
    let mut halves = Vec::new();
    for (name, x) in [("west.tif", "0"), ("east.tif", "200")] {
        let out = d.join(name);
        gdal(Command::new("gdal_translate").args([
            "-q",
            "-srcwin",
            x,
            "0",
            "200",
            "400",
            fixture("OSBS_029.tif").to_str().unwrap(),
            out.to_str().unwrap(),
        ]));
        halves.push(out);
    }
    let vrt = d.join("scenes.vrt");
    gdal(Command::new("gdalbuildvrt").args(["-q", s(&vrt), s(&halves[0]), s(&halves[1])]));
    let (listed, from_vrt) = (d.join("list.json"), d.join("vrt.json"));
    let (west, east) = (s(&halves[0]), s(&halves[1]));
    succeeded(&mapseg(&[
        "fit",
        west,
        east,
        "-o",
        s(&listed),
        "--k",
        "5",
        "-q",
    ]));
    succeeded(&mapseg(&[
        "fit",
        s(&vrt),
        "-o",
        s(&from_vrt),
        "--k",
        "5",
        "-q",
    ]));
    assert_eq!(
        std::fs::read(&listed).unwrap(),
        std::fs::read(&from_vrt).unwrap(),
        "a VRT stands for its sources"
    );
    let model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&listed).unwrap()).unwrap();
    assert_eq!(model["inputs"].as_array().unwrap().len(), 2);
    assert_eq!(model["method"]["name"], "kmeans");

    let (one, two) = (d.join("one"), d.join("two"));
    apply(&listed, &[&halves[0], &halves[1]], 1, 0, &one, &[]);
    for part in 0..2 {
        apply(&listed, &[&vrt], 2, part, &two, &[]);
    }
    for name in ["west.tif", "east.tif"] {
        assert!(
            std::fs::read(one.join(name)).unwrap() == std::fs::read(two.join(name)).unwrap(),
            "{name} does not depend on the split"
        );
    }
    let (mosaic, sums) = (d.join("mosaic.vrt"), d.join("sums.csv"));
    succeeded(&mapseg(&[
        "merge",
        s(&two),
        "-o",
        s(&mosaic),
        "--stats",
        s(&sums),
        "-q",
    ]));
    let info = gdalinfo(&mosaic);
    assert_eq!(info["size"], serde_json::json!([400, 400]));
    assert_eq!(
        info["geoTransform"],
        gdalinfo(&fixture("OSBS_029.tif"))["geoTransform"]
    );
    let pixels = gdal_pixels(&mosaic, None);
    let west_px = gdal_pixels(&two.join("west.tif"), None);
    assert_eq!(&pixels[..200], &west_px[..200], "the west file's first row");
    let csv = std::fs::read_to_string(&sums).unwrap();
    let total: u64 = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    let labelled = |name: &str| {
        let px = gdal_pixels(&two.join(name), None);
        px.iter().filter(|&&l| l != 255).count() as u64
    };
    assert_eq!(total, labelled("west.tif") + labelled("east.tif"));
    let (refused_vrt, refused_tif) = (d.join("refused.vrt"), d.join("m.tif"));
    let err = failed(&mapseg(&[
        "merge",
        s(&two),
        "-o",
        s(&refused_vrt),
        "-o",
        s(&refused_tif),
    ]));
    assert!(err.contains("a list's parts are whole files"), "{err}");
    assert!(!refused_vrt.exists(), "a refused merge writes nothing");
    let err = failed(&mapseg(&[
        "apply",
        s(&listed),
        west,
        east,
        "--parts",
        "3",
        "--part",
        "0",
        "-o",
        s(d),
    ]));
    assert!(err.contains("--parts 3 is more than the 2 files"), "{err}");
}

#[test]
fn a_model_is_refused_for_rasters_of_other_bands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = d.join("model.json");
    let rgb = fixture("OSBS_029.tif");
    succeeded(&mapseg(&["fit", s(&rgb), "-o", s(&model), "-q"]));
    let etm = fixture("L7_ETMs.tif");
    let err = failed(&mapseg(&[
        "apply",
        s(&model),
        s(&etm),
        "--parts",
        "1",
        "--part",
        "0",
        "-o",
        s(d),
    ]));
    assert!(
        err.contains("but the model was fitted on rasters with 3 u8 band(s)"),
        "{err}"
    );
    std::fs::write(d.join("bad.json"), "{\"format\": 7}").unwrap();
    let err = failed(&mapseg(&[
        "apply",
        s(&d.join("bad.json")),
        s(&rgb),
        "--parts",
        "1",
        "--part",
        "0",
        "-o",
        s(d),
    ]));
    assert!(err.contains("format 7"), "{err}");
    let err = failed(&mapseg(&["fit", s(&rgb), s(&etm), "-o", s(&model)]));
    assert!(err.contains("L7_ETMs.tif"), "{err}");
}

#[test]
fn the_cnn_fits_once_and_its_parts_merge_to_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = fixture("OSBS_029.tif");
    let one = d.join("one.tif");
    let options = ["--method", "cnn", "--k", "5", "--seed", "2"];
    let mut args = vec!["segment", s(&input), "-o", s(&one), "-q"];
    args.extend(options);
    succeeded(&mapseg(&args));
    let model = d.join("model.json");
    let mut args = vec!["fit", s(&input), "-o", s(&model), "-q"];
    args.extend(options);
    succeeded(&mapseg(&args));
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&model).unwrap()).unwrap();
    assert_eq!(file["method"]["name"], "cnn");
    assert!(file["method"]["weights_hash"].as_str().unwrap().len() == 64);
    let out = d.join("parts");
    for part in 0..2 {
        apply(&model, &[&input], 2, part, &out, &[]);
    }
    let merged = d.join("merged.tif");
    succeeded(&mapseg(&["merge", s(&out), "-o", s(&merged), "-q"]));
    assert!(std::fs::read(&merged).unwrap() == std::fs::read(&one).unwrap());
    let err = failed(&mapseg(&[
        "apply",
        s(&model),
        s(&input),
        "--parts",
        "2",
        "--part",
        "0",
        "-o",
        s(d),
        "--model",
        s(&d.join("elsewhere")),
    ]));
    assert!(err.contains("--model"), "{err}");
}

#[test]
fn a_raster_without_georeferencing_merges_as_segment_writes_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = d.join("plain.tif");
    gdal(Command::new("gdal_translate").args([
        "-q",
        "--config",
        "GDAL_PAM_ENABLED",
        "NO",
        "-co",
        "PROFILE=BASELINE",
        fixture("OSBS_029.tif").to_str().unwrap(),
        s(&input),
    ]));
    assert!(
        gdalinfo(&input)["geoTransform"].is_null(),
        "no georeferencing"
    );
    let (one, model, out) = (d.join("one.tif"), d.join("model.json"), d.join("parts"));
    succeeded(&mapseg(&["segment", s(&input), "-o", s(&one), "-q"]));
    succeeded(&mapseg(&["fit", s(&input), "-o", s(&model), "-q"]));
    for part in 0..2 {
        apply(&model, &[&input], 2, part, &out, &[]);
    }
    let merged = d.join("merged.tif");
    succeeded(&mapseg(&["merge", s(&out), "-o", s(&merged), "-q"]));
    assert!(std::fs::read(&merged).unwrap() == std::fs::read(&one).unwrap());
    let err = failed(&mapseg(&["merge", s(&out), "-o", s(&d.join("m.vrt"))]));
    assert!(err.contains("has no georeferencing"), "{err}");
}
