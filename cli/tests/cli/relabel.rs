//! `mapseg relabel` end to end: a real run's label raster, classes merged, GDAL as the judge.

use std::io::Cursor;
use std::path::Path;

use engine::geotiff::{GeoTiffReader, TILE_SIZE, TileEncoder};
use engine::labels::LegendEntry;
use engine::manifest::RunManifest;
use engine::pipeline::{write_geotiff, writer_options};
use engine::raster::{Samples, Window};
use engine::relabel::{Merge, plan};
use serde_json::Value;

use super::{
    assert_valid_cog, failed, fixture, gdal_pixels, gdalinfo_with, mapseg, segment, succeeded,
};

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

/// `labels` relabelled with `merges` (in the values of the raster before each) the way
/// `mapseg relabel` did before it streamed: every compressed tile in memory, then
/// [`write_geotiff`].
fn relabelled_in_memory(labels: &Path, merges: &[Merge]) -> Vec<u8> {
    let mut reader = GeoTiffReader::open(Cursor::new(std::fs::read(labels).unwrap())).unwrap();
    let info = reader.info().clone();
    let metadata = info.dataset_metadata();
    let item = |key: &str| {
        metadata
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
    };
    let palette = info.palette.clone().unwrap();
    let legend: Vec<LegendEntry> = (0..)
        .map_while(|i| {
            item(&format!("CLASS_{i}_NAME")).map(|name| LegendEntry {
                name,
                colour: palette[i],
            })
        })
        .collect();
    let mut manifest: RunManifest =
        serde_json::from_str(&item("MAPSEG_MANIFEST").unwrap()).unwrap();
    let relabelling = plan(&legend, merges).unwrap();
    manifest.merges.extend(relabelling.records.iter().cloned());
    let options = writer_options(&info, &relabelling.legend, &manifest);
    let encoder = TileEncoder::new(&options);
    let mut tiles = Vec::new();
    for y in (0..info.height).step_by(TILE_SIZE as usize) {
        let window = Window::new(0, y, info.width, TILE_SIZE.min(info.height - y));
        let Samples::U8(mut values) = reader.read_window(window).unwrap().samples else {
            panic!("labels are u8");
        };
        relabelling.map.apply(&mut values);
        tiles.extend(encoder.encode(window, &Samples::U8(values)).unwrap());
    }
    write_geotiff(options, &tiles).unwrap()
}

#[test]
fn the_streamed_file_is_the_one_written_in_memory_and_a_valid_cog() {
    // 900² pixels: four strips of tiles and two overviews.
    let (dir, labels) = segment("sample_geotiff.tif", &["--k", "5"]);
    let merged = dir.path().join("merged.tif");
    succeeded(&mapseg(&[
        "relabel",
        labels.to_str().unwrap(),
        "--merge",
        "1,3",
        "--name",
        "water",
        "--merge",
        "0,4",
        "-o",
        merged.to_str().unwrap(),
    ]));
    let streamed = std::fs::read(&merged).unwrap();
    // The second merge in the values after the first: class 4 moved down to 3.
    let merges = [
        Merge {
            classes: vec![1, 3],
            name: Some("water".into()),
        },
        Merge {
            classes: vec![0, 3],
            name: None,
        },
    ];
    assert!(
        streamed == relabelled_in_memory(&labels, &merges),
        "the streamed file differs from the one written in memory"
    );

    assert_valid_cog(&merged);
    let before = gdal_pixels(&labels, None);
    let after = gdal_pixels(&merged, None);
    let expected: Vec<u8> = before
        .iter()
        .map(|&v| match v {
            1 | 3 => 1,
            0 | 4 => 0,
            255 => 255,
            other => other,
        })
        .collect();
    assert_eq!(after, expected, "pixels as GDAL reads them");
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".mapseg-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}
