//! Header parsing, validation messages, `headers init` and `headers check`.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;

use common::{outcome, real, run, spacenet_header};
use shard_tools::header::{self, HeaderError, PairingKind, SplitUnit};
use shard_tools::plan::plan;

const MINIMAL: &str = "dataset: d\n\
modalities:\n  input: { dir: images }\n\
splits: { ratios: { train: 0.8, val: 0.2 } }\n";

fn parse_err(text: &str) -> String {
    header::parse(Path::new("header.yaml"), text)
        .unwrap_err()
        .to_string()
}

#[test]
fn the_spacenet_header_parses_with_its_values() {
    let h = header::load(&spacenet_header()).unwrap().header;
    assert_eq!(h.dataset, "spacenet-atlanta-buildings");
    assert_eq!(h.pairing.by, PairingKind::Manifest);
    assert_eq!(h.splits.unit, SplitUnit::Window);
    assert_eq!(h.splits.seed, 7);
    assert_eq!(h.sharding.window, 256);
    assert_eq!(h.sharding.stride(), 256);
    assert_eq!(h.sharding.shard_size, 4);
    assert_eq!(h.modalities.target.unwrap().labels, Some(vec![0, 1]));
}

#[test]
fn defaults_fill_a_minimal_header() {
    let h = header::parse(Path::new("h.yaml"), MINIMAL).unwrap();
    assert_eq!(h.version, "1");
    assert_eq!(h.modalities.input.pattern, "*.tif");
    assert_eq!(h.sharding.window, 256);
    assert_eq!(h.sharding.max_nodata_fraction, 1.0);
    assert!(h.validation.ignore_labels.is_empty());
}

#[test]
fn unknown_fields_are_errors_naming_file_and_field() {
    let err = parse_err(&MINIMAL.replace("ratios:", "ratio:"));
    assert!(
        err.starts_with("header.yaml: splits: unknown field `ratio`"),
        "{err}"
    );
    let err = parse_err(&format!("{MINIMAL}sharding: {{ windw: 128 }}\n"));
    assert!(
        err.starts_with("header.yaml: sharding: unknown field `windw`"),
        "{err}"
    );
    let err = parse_err(&format!("{MINIMAL}colour: red\n"));
    assert!(err.contains("unknown field `colour`"), "{err}");
}

#[test]
fn invalid_values_name_the_field() {
    let err = parse_err(&MINIMAL.replace("val: 0.2", "val: 0.3"));
    assert_eq!(err, "header.yaml: splits.ratios: must sum to 1.0 (got 1.1)");
    let err = parse_err(&MINIMAL.replace("val: 0.2", "val: -0.1, test: 0.3"));
    assert_eq!(
        err,
        "header.yaml: splits.ratios.val: must be a number >= 0 (got -0.1)"
    );
    let err = parse_err(&format!("{MINIMAL}sharding: {{ window: 0 }}\n"));
    assert_eq!(
        err,
        "header.yaml: sharding.window: must be between 1 and 16384 (got 0)"
    );
    let err = parse_err(&MINIMAL.replace("dataset: d", "dataset: \"my data\""));
    assert!(
        err.starts_with("header.yaml: dataset: must be letters"),
        "{err}"
    );
    let err = parse_err(&MINIMAL.replace(
        "splits: { ratios:",
        "splits: { holdout: { fraction: 0.1 }, ratios:",
    ));
    assert!(
        err.starts_with("header.yaml: splits.holdout: needs a target modality"),
        "{err}"
    );
    let err = parse_err(&MINIMAL.replace("input: { dir: images }", "input: {}"));
    assert_eq!(
        err,
        "header.yaml: modalities.input.dir: is required when pairing by stem"
    );
    // Several problems: the first one, and how many more.
    let err = parse_err(
        &MINIMAL
            .replace("val: 0.2", "val: 0.3")
            .replace("dataset: d", "dataset: \"\""),
    );
    assert!(err.ends_with("(and 1 more problems)"), "{err}");
}

#[test]
fn every_problem_is_a_line_of_headers_check() {
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path().join("bad.yaml");
    fs::write(
        &h,
        MINIMAL
            .replace("val: 0.2", "val: 0.3")
            .replace("dataset: d", "dataset: \".x\""),
    )
    .unwrap();
    let (code, _, err) = outcome(&run(&["headers", "check", h.to_str().unwrap()]));
    assert_eq!(code, 1);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].ends_with("bad.yaml: dataset: must be letters, digits, '-', '_' or '.' and not start with '.' (got \".x\")"));
    assert!(lines[1].ends_with("bad.yaml: splits.ratios: must sum to 1.0 (got 1.1)"));
}

#[test]
fn headers_check_prints_the_planned_split_counts() {
    let h = spacenet_header();
    let (code, stdout, err) = outcome(&run(&["headers", "check", h.to_str().unwrap()]));
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains("1 items (1 labelled), 16 windows in 6 shards"),
        "{stdout}"
    );
    assert!(
        stdout.contains("windows per split: train 10, val 3, test 1, metrics 2"),
        "{stdout}"
    );
}

#[test]
fn missing_files_and_folders_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    // A folder that does not exist: an error naming it.
    let h = tmp.path().join("h.yaml");
    fs::write(&h, MINIMAL).unwrap();
    let err = match plan(header::load(&h).unwrap()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("planned without an input folder"),
    };
    assert!(
        err.starts_with("cannot read ") && err.contains("images"),
        "{err}"
    );
    let (code, _, stderr) = outcome(&run(&[
        "build",
        h.to_str().unwrap(),
        "--out",
        tmp.path().join("o").to_str().unwrap(),
    ]));
    assert_eq!(code, 1);
    assert!(stderr.starts_with("shard-tools: cannot read"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);

    // A file named by a manifest that does not exist: that item is dropped, exit code 2.
    fs::write(
        tmp.path().join("pairs.csv"),
        format!(
            "id,input,target\nok,{},{}\ngone,missing.tif,\n",
            real("sample_geotiff.tif").display(),
            real("buildings_mask.tif").display()
        ),
    )
    .unwrap();
    let m = tmp.path().join("m.yaml");
    fs::write(
        &m,
        "dataset: m\nmodalities: { input: {}, target: {} }\npairing: { by: manifest, manifest: pairs.csv }\nsplits: { ratios: { train: 1.0 } }\n",
    )
    .unwrap();
    let (code, _, stderr) = outcome(&run(&["headers", "check", m.to_str().unwrap()]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("dropped: missing.tif: No such file"),
        "{stderr}"
    );

    // A missing header file.
    let (code, _, stderr) = outcome(&run(&["headers", "check", "/nonexistent/h.yaml"]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot read /nonexistent/h.yaml"),
        "{stderr}"
    );
    assert!(matches!(
        header::load(Path::new("/nonexistent/h.yaml")),
        Err(HeaderError::Io { .. })
    ));
}

#[test]
fn headers_init_writes_a_header_that_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("data/images");
    let masks = tmp.path().join("data/masks");
    fs::create_dir_all(&images).unwrap();
    fs::create_dir_all(&masks).unwrap();
    fs::copy(real("sample_geotiff.tif"), images.join("atl.tif")).unwrap();
    fs::copy(real("buildings_mask.tif"), masks.join("atl.tif")).unwrap();
    fs::copy(real("OSBS_029.tif"), images.join("osbs.tif")).unwrap();
    let out = tmp.path().join("headers/atl.yaml");
    let args = [
        "headers",
        "init",
        "--dataset",
        "atl",
        "--inputs",
        images.to_str().unwrap(),
        "--targets",
        masks.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    let (code, stdout, err) = outcome(&run(&args));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("2 items, 1 with a target"), "{stdout}");
    assert!(stdout.contains("labels found: 0, 1"), "{stdout}");
    let h = header::load(&out).unwrap().header;
    assert_eq!(h.modalities.input.dir.unwrap(), Path::new("../data/images"));
    assert_eq!(h.modalities.target.unwrap().labels, Some(vec![0, 1]));

    let (code, stdout, err) = outcome(&run(&["headers", "check", out.to_str().unwrap()]));
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("2 items (1 labelled)"), "{stdout}");

    // No silent overwrite.
    let (code, _, err) = outcome(&run(&args));
    assert_eq!(code, 1);
    assert!(err.contains("exists; pass --force"), "{err}");
}
