//! `--polygons` and `mapseg polygons`, judged by GDAL: valid geometries (GEOS through
//! SpatiaLite's `ST_IsValid`), areas equal to the class statistics, classes that cover the
//! valid pixels without gaps or overlaps after simplification, the CRS that QGIS sees, and
//! GeoJSON coordinates where GDAL's own reprojection of our FlatGeobuf puts them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::{fixture, gdal, mapseg, succeeded, workspace};

/// `ogrinfo -dialect sqlite -sql SQL` on `path`: one map of field name to value per row.
fn ogr_sql(path: &Path, sql: &str) -> Vec<BTreeMap<String, String>> {
    let out = gdal(
        Command::new("ogrinfo")
            .args(["-q", "-dialect", "sqlite", "-sql", sql])
            .arg(path),
    );
    let mut rows = Vec::new();
    for line in String::from_utf8(out).unwrap().lines() {
        if line.starts_with("OGRFeature(") {
            rows.push(BTreeMap::new());
        } else if let (Some(row), Some((name, value))) = (rows.last_mut(), line.split_once(" = ")) {
            let name = name.trim().split(' ').next().unwrap().to_owned();
            row.insert(name, value.trim().to_owned());
        }
    }
    rows
}

fn number(row: &BTreeMap<String, String>, name: &str) -> f64 {
    row[name].parse().unwrap()
}

/// Runs `mapseg segment INPUT -o DIR/labels.tif --polygons DIR/NAME` with `extra` options.
fn segment_polygons(input: &Path, dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let polygons = dir.join(name);
    let labels = dir.join(format!("{name}.tif"));
    let mut args = vec![
        "segment",
        input.to_str().unwrap(),
        "-o",
        labels.to_str().unwrap(),
        "--polygons",
        polygons.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    succeeded(&mapseg(&args));
    polygons
}

/// Class → area in m² from a `--stats` CSV.
fn stats_areas(csv: &Path) -> BTreeMap<u8, f64> {
    std::fs::read_to_string(csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[3].parse().unwrap())
        })
        .filter(|(_, a)| *a > 0.0)
        .collect()
}

#[test]
fn polygons_are_valid_with_the_class_areas_and_no_gaps_or_overlaps() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("stats.csv");
    let input = fixture("OSBS_029.tif");
    let common = ["--k", "5", "--stats", csv.to_str().unwrap()];
    let exact = segment_polygons(&input, dir.path(), "exact.fgb", &common);
    let areas = stats_areas(&csv);
    let valid_area: f64 = areas.values().sum();

    // Before simplification the polygons are the pixels: the statistics' areas exactly.
    let rows = ogr_sql(
        &exact,
        "SELECT class, area_m2, ST_IsValid(geometry) AS valid, ST_Area(geometry) AS area FROM classes",
    );
    assert_eq!(rows.len(), areas.len(), "one feature per class");
    for row in &rows {
        let class: u8 = row["class"].parse().unwrap();
        assert_eq!(row["valid"], "1", "class {class} is not valid");
        let expected = areas[&class];
        assert!(
            (number(row, "area") - expected).abs() < 1e-6 * expected,
            "{row:?}"
        );
        assert!((number(row, "area_m2") - expected).abs() < 1e-3, "{row:?}");
    }

    // Simplified: still valid, the classes still cover exactly the valid pixels, and no two
    // classes overlap.
    for tolerance in ["0.3", "1"] {
        let mut extra = common.to_vec();
        extra.extend(["--simplify", tolerance]);
        let simplified = segment_polygons(&input, dir.path(), "simple.fgb", &extra);
        let rows = ogr_sql(
            &simplified,
            "SELECT class, ST_IsValid(geometry) AS valid, ST_NPoints(geometry) AS n FROM classes",
        );
        for row in &rows {
            assert_eq!(row["valid"], "1", "{tolerance} m: {row:?}");
        }
        let n: f64 = rows.iter().map(|r| number(r, "n")).sum();
        let n_exact: f64 = ogr_sql(&exact, "SELECT ST_NPoints(geometry) AS n FROM classes")
            .iter()
            .map(|r| number(r, "n"))
            .sum();
        assert!(
            n < 0.8 * n_exact,
            "{tolerance} m: {n} of {n_exact} vertices"
        );
        let union = ogr_sql(
            &simplified,
            "SELECT ST_Area(ST_Union(geometry)) AS area FROM classes",
        );
        let union = number(&union[0], "area");
        assert!(
            (union - valid_area).abs() < 1e-6 * valid_area,
            "{tolerance} m: the union covers {union} m², the valid pixels {valid_area} m²"
        );
        let overlap = ogr_sql(
            &simplified,
            "SELECT max(ST_Area(ST_Intersection(a.geometry, b.geometry))) AS area \
             FROM classes a, classes b WHERE a.class < b.class",
        );
        let overlap = number(&overlap[0], "area");
        assert!(
            overlap < 1e-6,
            "{tolerance} m: classes overlap by {overlap} m²"
        );
    }
}

/// Every `[x, y]` position of a GeoJSON FeatureCollection's MultiPolygons, feature by feature,
/// and the signed area (shoelace) of each ring.
fn positions(geojson: &Path) -> (Vec<[f64; 2]>, Vec<f64>) {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(geojson).unwrap()).unwrap();
    let (mut points, mut areas) = (Vec::new(), Vec::new());
    for feature in v["features"].as_array().unwrap() {
        for polygon in feature["geometry"]["coordinates"].as_array().unwrap() {
            for ring in polygon.as_array().unwrap() {
                let ring: Vec<[f64; 2]> = ring
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| [p[0].as_f64().unwrap(), p[1].as_f64().unwrap()])
                    .collect();
                areas.push(
                    ring.windows(2)
                        .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
                        .sum::<f64>()
                        / 2.0,
                );
                points.extend(ring);
            }
        }
    }
    (points, areas)
}

#[test]
fn geojson_lies_where_gdal_reprojects_it() {
    let dir = tempfile::tempdir().unwrap();
    // A projected CRS by EPSG code, the same place in a user-defined transverse Mercator
    // (its GeoKeys rebuilt into a PROJ string and, in the FlatGeobuf, a WKT), a geographic
    // raster, and a rotated transform.
    let tmerc = dir.path().join("tmerc.tif");
    gdal(
        Command::new("gdal_translate")
            .args(["-q", "-a_srs"])
            .arg("+proj=tmerc +lat_0=0 +lon_0=-81.5 +k=0.9999 +x_0=450000 +y_0=0 +datum=WGS84 +units=m")
            .arg(fixture("OSBS_029.tif"))
            .arg(&tmerc),
    );
    let gdal_fixture = |name: &str| workspace("tests/fixtures/gdal").join(name);
    // (input, pixel size in metres, simplification)
    let cases = [
        (fixture("OSBS_029.tif"), 0.1, "0.2"),
        (tmerc, 0.1, "0"),
        (gdal_fixture("geographic_4326.tif"), 0.09, "0.1"),
        (gdal_fixture("pan_rotated_lzw_strips.tif"), 0.5, "0.6"),
    ];
    for (i, (input, pixel_m, simplify)) in cases.iter().enumerate() {
        let extra = ["--k", "3", "--simplify", simplify];
        let ours = segment_polygons(input, dir.path(), &format!("{i}.geojson"), &extra);
        let native = segment_polygons(input, dir.path(), &format!("{i}.fgb"), &extra);
        let reference = dir.path().join(format!("{i}-gdal.geojson"));
        gdal(
            Command::new("ogr2ogr")
                .args(["-f", "GeoJSON", "-t_srs", "EPSG:4326"])
                .arg(&reference)
                .arg(&native),
        );
        let (a, areas) = positions(&ours);
        let (b, _) = positions(&reference);
        assert_eq!(a.len(), b.len(), "{input:?}: different vertex counts");
        assert!(!a.is_empty());
        let mut worst = 0.0f64;
        for (p, q) in a.iter().zip(&b) {
            let metres_per_degree = 111_320.0;
            let dx = (p[0] - q[0]) * metres_per_degree * q[1].to_radians().cos();
            let dy = (p[1] - q[1]) * metres_per_degree;
            worst = worst.max(dx.hypot(dy));
        }
        assert!(
            worst < pixel_m / 10.0,
            "{input:?}: {worst} m from GDAL's position, pixels are {pixel_m} m"
        );
        // RFC 7946: the exterior counter-clockwise; holes, being inside, are smaller and
        // clockwise, so the positive rings hold more area than the negative ones.
        let ccw: f64 = areas.iter().filter(|a| **a > 0.0).sum();
        let cw: f64 = -areas.iter().filter(|a| **a < 0.0).sum::<f64>();
        assert!(
            ccw > cw,
            "{input:?}: exterior rings are not counter-clockwise"
        );
    }
}

#[test]
fn flatgeobuf_carries_the_crs_and_the_legend() {
    let dir = tempfile::tempdir().unwrap();
    let fgb = segment_polygons(&fixture("OSBS_029.tif"), dir.path(), "c.fgb", &["--k", "4"]);
    let info = gdal(Command::new("ogrinfo").arg("-so").arg(&fgb).arg("classes"));
    let info = String::from_utf8(info).unwrap();
    assert!(
        info.contains("ID[\"EPSG\",32617]"),
        "the CRS should be EPSG:32617:\n{info}"
    );
    for field in [
        "class: Integer",
        "name: String",
        "colour: String",
        "area_m2: Real",
        "area_ha: Real",
    ] {
        assert!(info.contains(field), "{field:?} missing:\n{info}");
    }
    let rows = ogr_sql(
        &fgb,
        "SELECT class, name, colour, area_m2, area_ha FROM classes",
    );
    assert_eq!(rows[0]["name"], "class 1");
    assert_eq!(rows[0]["colour"], "#1f77b4");
    assert!((number(&rows[0], "area_m2") / 10_000.0 - number(&rows[0], "area_ha")).abs() < 1e-9);
}

#[test]
fn polygons_of_an_existing_label_raster() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("stats.csv");
    let labels = dir.path().join("labels.tif");
    succeeded(&mapseg(&[
        "segment",
        fixture("sample_geotiff.tif").to_str().unwrap(),
        "-o",
        labels.to_str().unwrap(),
        "--k",
        "4",
        "--stats",
        csv.to_str().unwrap(),
        "--quiet",
    ]));
    let out = dir.path().join("classes.geojson");
    succeeded(&mapseg(&[
        "polygons",
        labels.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--simplify",
        "20",
        "--quiet",
    ]));
    let areas = stats_areas(&csv);
    let rows = ogr_sql(
        &out,
        "SELECT class, area_m2, ST_IsValid(geometry) AS valid FROM classes",
    );
    assert_eq!(rows.len(), areas.len());
    for row in rows {
        let class: u8 = row["class"].parse().unwrap();
        assert_eq!(row["valid"], "1");
        assert!((number(&row, "area_m2") - areas[&class]).abs() < 1e-3);
    }
}

#[test]
fn polygon_options_are_checked_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("OSBS_029.tif");
    let out = dir.path().join("out.tif");
    let (i, o) = (input.to_str().unwrap(), out.to_str().unwrap());
    let shp = dir.path().join("x.shp");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--polygons", shp.to_str().unwrap()], ".fgb"),
        (
            vec!["--simplify", "2"],
            "--simplify applies to --polygons only",
        ),
        (
            vec!["--polygons", o],
            "--polygons and the output are the same file",
        ),
    ];
    for (extra, message) in cases {
        let mut args = vec!["segment", i, "-o", o, "--quiet"];
        args.extend(extra);
        let run = mapseg(&args);
        assert_eq!(run.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(run.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(message), "{err:?} should mention {message:?}");
    }
    let fgb = dir.path().join("x.fgb");
    let run = mapseg(&[
        "segment",
        i,
        "-o",
        o,
        "--polygons",
        fgb.to_str().unwrap(),
        "--simplify=-1",
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(!out.exists() && !fgb.exists());
}
