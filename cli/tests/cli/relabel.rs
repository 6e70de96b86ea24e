//! `mapseg relabel` end to end: a real run's label raster, classes merged, GDAL as the judge.

use std::path::Path;

use serde_json::Value;

use super::{failed, fixture, gdalinfo_with, mapseg, segment, succeeded};

/// `gdalinfo -json -hist` (exact histogram: 256 buckets, one per byte value).
fn gdalinfo(path: &Path) -> Value {
    gdalinfo_with(path, &["-hist"])
}

fn histogram(info: &Value) -> Vec<u64> {
    let h = &info["bands"][0]["histogram"];
    assert_eq!(h["count"], 256, "{h}");
    h["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect()
}

fn colour(info: &Value, i: usize) -> Value {
    info["bands"][0]["colorTable"]["entries"][i].clone()
}

#[test]
fn merge_rewrites_values_colours_names_manifest_and_stats() {
    let (dir, _) = segment("OSBS_029.tif", &["--k", "5"]);
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let printed = succeeded(&mapseg(&[
        "relabel",
        &p("labels.tif"),
        "--merge",
        "1,3",
        "--name",
        "water",
        "-o",
        &p("merged.tif"),
        "--stats",
        &p("merged.csv"),
    ]));
    let before = gdalinfo(Path::new(&p("labels.tif")));
    let after = gdalinfo(Path::new(&p("merged.tif")));
    assert_eq!(after["geoTransform"], before["geoTransform"]);
    assert_eq!(
        after["coordinateSystem"]["wkt"],
        before["coordinateSystem"]["wkt"]
    );
    assert_eq!(after["bands"][0]["noDataValue"], 255.0);

    let (h0, h1) = (histogram(&before), histogram(&after));
    assert!(h0[1] > 0 && h0[3] > 0, "{:?}", &h0[..6]);
    assert_eq!(h1[0], h0[0]);
    assert_eq!(h1[1], h0[1] + h0[3]);
    assert_eq!(h1[2], h0[2]);
    assert_eq!(h1[3], h0[4], "class 4 moves down to 3");
    assert_eq!(h1[4], 0, "no class 4 any more");
    assert_eq!(h1[255], h0[255]);

    assert_eq!(colour(&after, 1), colour(&before, 1));
    assert_eq!(colour(&after, 3), colour(&before, 4));
    let md = &after["metadata"][""];
    assert_eq!(md["CLASS_1_NAME"], "water");
    assert_eq!(md["CLASS_3_NAME"], "class 5");
    assert!(md["CLASS_4_NAME"].is_null(), "{md}");
    let manifest: Value = serde_json::from_str(md["MAPSEG_MANIFEST"].as_str().unwrap()).unwrap();
    assert_eq!(
        manifest["merges"],
        serde_json::json!([{"classes": [1, 3], "into": 1, "name": "water"}])
    );
    assert_eq!(manifest["method"]["params"]["k"], 5);

    let csv = std::fs::read_to_string(p("merged.csv")).unwrap();
    assert_eq!(csv, printed);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(
        lines[2].starts_with(&format!("1,water,{},", h0[1] + h0[3])),
        "{csv}"
    );

    // Polygons of the relabelled raster carry its names.
    succeeded(&mapseg(&[
        "polygons",
        &p("merged.tif"),
        "-o",
        &p("merged.geojson"),
        "--quiet",
    ]));
    let geojson: Value =
        serde_json::from_str(&std::fs::read_to_string(p("merged.geojson")).unwrap()).unwrap();
    let names: Vec<&str> = geojson["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"water"), "{names:?}");
    assert!(!names.contains(&"class 4"), "{names:?}");

    // A second relabel appends to the manifest's merges, in the new file's values.
    succeeded(&mapseg(&[
        "relabel",
        &p("merged.tif"),
        "--merge",
        "0,3",
        "-o",
        &p("twice.tif"),
    ]));
    let twice = gdalinfo(Path::new(&p("twice.tif")));
    let md = &twice["metadata"][""];
    assert_eq!(md["CLASS_0_NAME"], "class 1 + class 5");
    let manifest: Value = serde_json::from_str(md["MAPSEG_MANIFEST"].as_str().unwrap()).unwrap();
    assert_eq!(manifest["merges"].as_array().unwrap().len(), 2);
    assert_eq!(histogram(&twice)[0], h0[0] + h0[4]);
}

#[test]
fn errors_name_the_problem() {
    let (dir, _) = segment("OSBS_029.tif", &["--k", "4"]);
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_owned();
    let input = fixture("OSBS_029.tif");
    let relabel =
        |merge: &str, src: &str| mapseg(&["relabel", src, "--merge", merge, "-o", &p("out.tif")]);
    let err = failed(&relabel("1,7", &p("labels.tif")));
    assert!(
        err.contains("no class 7") && err.contains("0 to 3"),
        "{err}"
    );
    let err = failed(&relabel("2,2", &p("labels.tif")));
    assert!(err.contains("at least two different classes"), "{err}");
    let err = failed(&relabel("1,x", &p("labels.tif")));
    assert!(err.contains("`x` is not a class number"), "{err}");
    let err = failed(&relabel("0,1", input.to_str().unwrap()));
    assert!(err.contains("is not a Mapseg label raster"), "{err}");
    assert!(!Path::new(&p("out.tif")).exists());
}
