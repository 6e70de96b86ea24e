//! Snapshots of what users keep: the run manifest, the class statistics CSV and `mapseg info
//! --json`, on real scenes with a pinned seed. A change to any of them shows up as a diff in
//! `cli/tests/cli/snapshots/` and has to be accepted on purpose.

use super::{fixture, mapseg, segment};

#[test]
fn manifest_and_statistics_of_a_seeded_run() {
    for (name, extra) in [
        ("L7_ETMs.tif", &["--k", "6"][..]),
        (
            "sample_geotiff.tif",
            &["--k", "4", "--resolution", "4", "--seed", "3"][..],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (csv, manifest) = (dir.path().join("s.csv"), dir.path().join("m.json"));
        let mut args = extra.to_vec();
        args.extend([
            "--stats",
            csv.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
        ]);
        let (_d, _out) = segment(name, &args);
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        insta::assert_json_snapshot!(format!("manifest-{name}"), manifest, {
            ".version" => "[version]",
        });
        insta::assert_snapshot!(
            format!("stats-{name}"),
            std::fs::read_to_string(&csv).unwrap()
        );
    }
}

#[test]
fn info_json() {
    for name in ["OSBS_029.tif", "L7_ETMs.tif", "sample_geotiff.tif"] {
        let out = mapseg(&["info", fixture(name).to_str().unwrap(), "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        insta::assert_json_snapshot!(format!("info-{name}"), info);
    }
}
