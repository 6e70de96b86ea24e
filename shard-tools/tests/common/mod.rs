//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `tests/fixtures/real/<name>` at the workspace root.
pub fn real(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/real")
        .join(name)
}

/// The SpaceNet Atlanta buildings header.
pub fn spacenet_header() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/shards/spacenet-atlanta/header.yaml")
}

/// Copies the SpaceNet header and its manifest into `dir` (pointing at the real fixtures), with
/// `edit` applied to the header text; returns the header path.
pub fn spacenet_copy(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(spacenet_header()).unwrap();
    let header = dir.join("header.yaml");
    std::fs::write(&header, edit(text)).unwrap();
    let manifest = format!(
        "id,input,target\natlanta,{},{}\n",
        real("sample_geotiff.tif").display(),
        real("buildings_mask.tif").display()
    );
    std::fs::write(dir.join("pairs.csv"), manifest).unwrap();
    header
}

/// Runs the binary.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shard-tools"))
        .args(args)
        .output()
        .unwrap()
}

/// Exit code, stdout and stderr of a run.
pub fn outcome(o: &Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Every file under `root` (hidden ones too), by relative path, with its BLAKE3 hash.
pub fn tree_digest(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                out.insert(format!("{rel}/"), String::new());
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(rel, blake3::hash(&bytes).to_hex().to_string());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}
