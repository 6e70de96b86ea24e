//! The `mapseg` binary end to end on real imagery, with GDAL as the independent judge of the
//! output GeoTIFF.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions fail loudly on purpose

// Beside this file rather than `tests/quality.rs`, which cargo would build as a second test binary.
#[path = "cli/bad_inputs.rs"]
mod bad_inputs;
#[path = "cli/cancel.rs"]
mod cancel;
#[path = "cli/cnn.rs"]
mod cnn;
#[path = "cli/cog.rs"]
mod cog;
#[path = "cli/naming.rs"]
mod naming;
#[path = "cli/polygons.rs"]
mod polygons;
#[path = "cli/quality.rs"]
mod quality;
#[path = "cli/relabel.rs"]
mod relabel;
#[path = "cli/scale_out.rs"]
mod scale_out;
#[path = "cli/snapshots.rs"]
mod snapshots;

// GDAL's programs and COG validator, shared with the engine's tests.
#[path = "../../engine/tests/gdal_tools/mod.rs"]
mod gdal_tools;

use std::path::PathBuf;
use std::process::{Command, Output};

use gdal_tools::{assert_valid_cog, gdal, gdal_pixels, gdalinfo, gdalinfo_with};
use serde_json::Value;

/// The `mapseg` binary under test.
const MAPSEG: &str = env!("CARGO_BIN_EXE_mapseg");

/// `relative` to the workspace root.
fn workspace(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// A real image of `tests/fixtures/real`.
fn fixture(name: &str) -> PathBuf {
    workspace("tests/fixtures/real").join(name)
}

fn mapseg(args: &[&str]) -> Output {
    Command::new(MAPSEG)
        .args(args)
        .output()
        .expect("mapseg runs")
}

/// The standard output of a run that must have succeeded.
fn succeeded(run: &Output) -> String {
    assert!(
        run.status.success(),
        "mapseg failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8_lossy(&run.stdout).into_owned()
}

/// The standard error of a run that must have failed.
fn failed(run: &Output) -> String {
    assert!(!run.status.success(), "mapseg succeeded unexpectedly");
    String::from_utf8_lossy(&run.stderr).into_owned()
}

/// Runs `mapseg segment` on the real image `input` with `extra` options, quietly, into
/// `labels.tif` of a new temporary folder.
fn segment(input: &str, extra: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("labels.tif");
    let input = fixture(input);
    let mut args = vec![
        "segment",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    succeeded(&mapseg(&args));
    (dir, out)
}

#[test]
fn output_is_a_cog_with_the_inputs_crs_and_geotransform_a_colour_table_and_nodata() {
    for (name, k, overviews) in [
        ("OSBS_029.tif", 6, serde_json::json!([{"size": [200, 200]}])),
        (
            "sample_geotiff.tif",
            4,
            serde_json::json!([{"size": [450, 450]}, {"size": [225, 225]}]),
        ),
        ("L7_ETMs.tif", 8, serde_json::json!([{"size": [175, 176]}])),
    ] {
        let (_dir, out) = segment(name, &["--k", &k.to_string()]);
        let input = gdalinfo(&fixture(name));
        let output = gdalinfo(&out);
        assert_eq!(
            output["coordinateSystem"]["wkt"], input["coordinateSystem"]["wkt"],
            "{name}: CRS differs"
        );
        assert_eq!(
            output["geoTransform"], input["geoTransform"],
            "{name}: geotransform differs"
        );
        assert_eq!(output["size"], input["size"], "{name}: size differs");
        assert_valid_cog(&out);
        let band = &output["bands"][0];
        assert_eq!(band["overviews"], overviews, "{name}: overviews");
        assert_eq!(band["type"], "Byte");
        assert_eq!(band["noDataValue"], 255.0, "{name}: nodata");
        assert_eq!(band["colorInterpretation"], "Palette");
        let entries = band["colorTable"]["entries"]
            .as_array()
            .expect("colour table");
        assert!(
            entries.len() >= k,
            "{name}: {} colour entries",
            entries.len()
        );
        assert_eq!(band["block"], serde_json::json!([256, 256]));
        assert_eq!(
            output["metadata"]["IMAGE_STRUCTURE"]["COMPRESSION"],
            "DEFLATE"
        );
        let md = &output["metadata"][""];
        assert_eq!(md["CLASS_0_NAME"], "class 1");
        let manifest: Value = serde_json::from_str(
            md["MAPSEG_MANIFEST"]
                .as_str()
                .expect("manifest in metadata"),
        )
        .unwrap();
        assert_eq!(manifest["method"]["params"]["k"], k);
        assert_eq!(manifest["input"]["name"], name);
        assert_eq!(manifest["input"]["blake3"].as_str().unwrap().len(), 64);
    }
}

#[test]
fn stats_csv_and_manifest_files() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, manifest) = (dir.path().join("s.csv"), dir.path().join("m.json"));
    let (_d, _out) = segment(
        "OSBS_029.tif",
        &[
            "--k",
            "5",
            "--stats",
            csv.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
        ],
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "class,name,pixels,area_m2,area_ha,percent");
    assert_eq!(lines.len(), 6);
    let pixels: u64 = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    let area: f64 = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(3).unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(pixels <= 160_000 && pixels > 150_000, "{pixels}");
    assert!(
        (area - pixels as f64 * 0.01).abs() < 0.01,
        "{area} m² for {pixels} px of 0.1 m"
    );
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    assert_eq!(m["method"]["name"], "kmeans");
    assert_eq!(m["method"]["bands_used"], serde_json::json!([1, 2, 3]));
    assert_eq!(m["method"]["normaliser"]["method"], "robust_clip");
}

#[test]
fn thread_count_does_not_change_the_output() {
    let (_a, one) = segment("sample_geotiff.tif", &["--threads", "1", "--k", "5"]);
    let (_b, four) = segment("sample_geotiff.tif", &["--threads", "4", "--k", "5"]);
    assert_eq!(std::fs::read(one).unwrap(), std::fs::read(four).unwrap());
}

#[test]
fn info_names_crs_size_and_type() {
    let out = mapseg(&["info", fixture("OSBS_029.tif").to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "400 x 400",
        "EPSG:32617",
        "u8",
        "Nodata:",
        "255",
        "0.1 x 0.1 (metre)",
        "Layout:      strips of 6 rows, interleaved",
        "Raster type: PixelIsArea",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    assert!(
        !text.contains('{'),
        "debug formatting in the output:\n{text}"
    );
    let json = mapseg(&[
        "info",
        "--json",
        fixture("sample_geotiff.tif").to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["georeference"]["epsg"], 32616);
    assert_eq!(v["sample_type"], "u16");
}

#[test]
fn errors_are_one_line_and_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let not_tiff = dir.path().join("notes.tif");
    std::fs::write(&not_tiff, "just some text, not an image").unwrap();
    let out_path = dir.path().join("out.tif");
    let segment_osbs = |extra: &[&str]| -> Vec<String> {
        let mut args = vec![
            "segment".to_owned(),
            fixture("OSBS_029.tif").display().to_string(),
        ];
        args.extend(["-o".to_owned(), out_path.display().to_string()]);
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        args
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["info".into(), not_tiff.display().to_string()],
            "not a TIFF",
        ),
        (
            vec![
                "info".into(),
                dir.path().join("missing.tif").display().to_string(),
            ],
            "cannot open",
        ),
        (segment_osbs(&["--bands", "0"]), "bands are numbered from 1"),
        (segment_osbs(&["--bands", "4"]), "band 4 does not exist"),
        (
            segment_osbs(&["--resolution", "3"]),
            "resolution must be one of",
        ),
    ];
    for (args, message) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = mapseg(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(message), "{err:?} should mention {message:?}");
    }
    assert!(
        !out_path.exists(),
        "a failed run must not leave an output file"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".part"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn side_outputs_never_overwrite_the_input_or_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("in.tif");
    std::fs::copy(fixture("OSBS_029.tif"), &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let (out, csv) = (dir.path().join("out.tif"), dir.path().join("s.csv"));
    let (input, out_s, csv_s) = (
        copy.to_str().unwrap(),
        out.to_str().unwrap(),
        csv.to_str().unwrap(),
    );
    for (extra, message) in [
        (vec!["--stats", input], "--stats"),
        (
            vec!["--manifest", out_s],
            "--manifest and the output are the same file",
        ),
        (
            vec!["--stats", csv_s, "--timings", csv_s],
            "--timings and --stats are the same file",
        ),
    ] {
        let mut args = vec!["segment", input, "-o", out_s, "--quiet"];
        args.extend(extra);
        let run = mapseg(&args);
        assert_eq!(run.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(run.stderr).unwrap();
        assert!(err.contains(message), "{err:?} should mention {message:?}");
    }
    assert_eq!(std::fs::read(&copy).unwrap(), before);
    assert!(!out.exists() && !csv.exists());
}

#[test]
fn refuses_to_overwrite_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("in.tif");
    std::fs::copy(fixture("OSBS_029.tif"), &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let out = mapseg(&[
        "segment",
        copy.to_str().unwrap(),
        "-o",
        copy.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&copy).unwrap(), before);
}

/// The `(offset, length)` of every tile of a classic little-endian tiled TIFF, from its first
/// directory's TileOffsets and TileByteCounts.
fn tile_locations(tiff: &[u8]) -> Vec<(usize, usize)> {
    let u16_at = |at: usize| usize::from(u16::from_le_bytes([tiff[at], tiff[at + 1]]));
    let u32_at = |at: usize| u32::from_le_bytes(tiff[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(&tiff[..4], b"II*\0", "a classic little-endian TIFF");
    let ifd = u32_at(4);
    let array = |tag: usize| -> Vec<usize> {
        let entry = (0..u16_at(ifd))
            .map(|i| ifd + 2 + 12 * i)
            .find(|&e| u16_at(e) == tag)
            .unwrap();
        let count = u32_at(entry + 4);
        let size = match u16_at(entry + 2) {
            3 => 2,
            4 => 4,
            other => panic!("tag {tag} has type {other}, not SHORT or LONG"),
        };
        let at = if count * size <= 4 {
            entry + 8
        } else {
            u32_at(entry + 8)
        };
        let value = |i: usize| match size {
            2 => u16_at(at + 2 * i),
            _ => u32_at(at + 4 * i),
        };
        (0..count).map(value).collect()
    };
    array(324).into_iter().zip(array(325)).collect()
}

#[test]
fn a_run_that_fails_while_writing_leaves_no_output_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let tiled = dir.path().join("tiled.tif");
    gdal(
        Command::new("gdal_translate")
            .args(["-q", "-co", "TILED=YES", "-co", "BLOCKXSIZE=16", "-co"])
            .args(["BLOCKYSIZE=16", "-co", "COMPRESS=DEFLATE"])
            .arg(fixture("sample_geotiff.tif"))
            .arg(&tiled),
    );
    let original = std::fs::read(&tiled).unwrap();
    let tiles = tile_locations(&original);
    let (damaged, out) = (dir.path().join("damaged.tif"), dir.path().join("out.tif"));
    // The sample reads a few small windows; labelling reads every tile. Damage one tile at a
    // time until the sample misses it, so that the run fails while the output is being written.
    for i in 0..40 {
        let (offset, len) = tiles[(i * 1543 + 700) % tiles.len()];
        let mut bytes = original.clone();
        bytes[offset..offset + len].fill(0xAA);
        std::fs::write(&damaged, &bytes).unwrap();
        let run = mapseg(&[
            "segment",
            damaged.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--resolution",
            "1",
            "--k",
            "2",
            "--quiet",
        ]);
        let err = String::from_utf8(run.stderr).unwrap();
        assert_eq!(
            run.status.code(),
            Some(1),
            "a damaged tile must fail the run"
        );
        if err.contains("fitting failed") {
            continue;
        }
        assert!(
            err.contains("chunk"),
            "{err:?} should name the damaged chunk"
        );
        assert!(!out.exists(), "a failed run must not leave an output file");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| !n.starts_with(".mapseg-")),
            "temporary files left behind: {names:?}"
        );
        return;
    }
    panic!("every damaged tile was in the sample: no run failed while writing");
}
