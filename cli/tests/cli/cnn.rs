//! `mapseg segment --method cnn`: the built-in model or a model folder, band roles, GDAL's view
//! of the output, and clear errors for options of the other method and missing backends.

use super::{failed, fixture, gdalinfo, mapseg, segment, workspace};

#[test]
fn the_cnn_writes_a_georeferenced_label_raster_and_its_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("run.json");
    let (_out_dir, out) = segment(
        "L7_ETMs.tif",
        &[
            "--method",
            "cnn",
            "--k",
            "5",
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    );
    let input = gdalinfo(&fixture("L7_ETMs.tif"));
    let output = gdalinfo(&out);
    assert_eq!(
        output["coordinateSystem"]["wkt"],
        input["coordinateSystem"]["wkt"]
    );
    assert_eq!(output["geoTransform"], input["geoTransform"]);
    assert_eq!(output["bands"][0]["colorTable"]["count"], 256);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    assert_eq!(m["method"]["name"], "cnn");
    assert_eq!(m["method"]["model"], "mapseg-cnn-s1");
    assert_eq!(m["method"]["params"]["k"], 5);
    assert_eq!(m["method"]["band_roles"]["source"], "default");
    assert_eq!(m["backend"], "cpu");
}

#[test]
fn the_cnn_is_the_same_on_one_thread_and_on_many() {
    let (_a, one) = segment("OSBS_029.tif", &["--method", "cnn", "--threads", "1"]);
    let (_b, many) = segment("OSBS_029.tif", &["--method", "cnn", "--threads", "3"]);
    assert_eq!(std::fs::read(one).unwrap(), std::fs::read(many).unwrap());
}

#[test]
fn a_model_folder_replaces_the_built_in_model() {
    let model = workspace("models/mapseg-cnn-s1");
    let (_dir, out) = segment(
        "OSBS_029.tif",
        &[
            "--method",
            "cnn",
            "--model",
            model.to_str().unwrap(),
            "--k",
            "4",
        ],
    );
    assert!(out.is_file());
    let missing = mapseg(&[
        "segment",
        fixture("OSBS_029.tif").to_str().unwrap(),
        "-o",
        "/tmp/never-written.tif",
        "--method",
        "cnn",
        "--model",
        "/nonexistent/model",
    ]);
    let err = failed(&missing);
    assert!(
        err.contains("--model") && err.contains("meta.json"),
        "{err}"
    );
}

/// Runs `mapseg segment L7_ETMs.tif` with `extra` and returns its error line.
fn failure(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("labels.tif");
    let input = fixture("L7_ETMs.tif");
    let mut args = vec![
        "segment",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let err = failed(&mapseg(&args));
    assert!(!out.exists(), "{extra:?} left an output");
    err
}

#[test]
fn options_of_the_other_method_and_bad_roles_are_named() {
    let e = failure(&["--method", "cnn", "--normalise", "zscore"]);
    assert!(
        e.contains("--normalise applies to --method kmeans only"),
        "{e}"
    );
    let e = failure(&["--band-roles", "red,green,blue,nir,swir1,swir2"]);
    assert!(
        e.contains("--band-roles applies to --method cnn only"),
        "{e}"
    );
    let e = failure(&[
        "--method",
        "cnn",
        "--band-roles",
        "red,green,blue,nir,swir1,bogus",
    ]);
    assert!(e.contains("bogus"), "{e}");
    let e = failure(&["--method", "cnn", "--bands", "1,2", "--band-roles", "3=red"]);
    assert!(e.contains("band 3"), "{e}");
    let e = failure(&["--method", "cnn", "--backend", "cuda"]);
    assert!(
        e.contains("--backend cuda") && e.contains("--backend flex"),
        "{e}"
    );
}

#[test]
fn user_roles_and_bands_choose_what_the_network_reads() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("run.json");
    segment(
        "L7_ETMs.tif",
        &[
            "--method",
            "cnn",
            "--bands",
            "3,2,1",
            "--band-roles",
            "3=red,2=green,1=blue",
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    assert_eq!(m["method"]["band_roles"]["source"], "user");
    assert_eq!(m["method"]["params"]["bands"], serde_json::json!([2, 1, 0]));
    assert_eq!(
        m["method"]["normaliser"]["offset"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
