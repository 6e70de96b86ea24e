//! The hostile files of `tests/fixtures/bad-inputs/` through the real `mapseg`: `info` and
//! `segment` end with a one-line error or a result, never a panic or an abort, inside 1 GiB of
//! address space (`prlimit --as`) and 15 seconds (`timeout`), and leave no output behind when
//! they fail.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{MAPSEG, workspace};

/// Address space a run may use: allocations past it fail, and Rust aborts.
const MEMORY_BYTES: u64 = 1 << 30;
const SECONDS: u32 = 15;

fn bad_inputs() -> PathBuf {
    workspace("tests/fixtures/bad-inputs")
}

/// Copies every hostile file into `dir`, decompressing the `.gz` ones with `gzip`.
fn unpacked(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(bad_inputs()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".gz") {
            let out = Command::new("gzip").arg("-dc").arg(&path).output().unwrap();
            assert!(out.status.success(), "gzip -dc {name}");
            let to = dir.join(stem);
            std::fs::write(&to, out.stdout).unwrap();
            files.push(to);
        } else if name.ends_with(".tif") {
            let to = dir.join(&name);
            std::fs::copy(&path, &to).unwrap();
            files.push(to);
        }
    }
    files.sort();
    assert_eq!(files.len(), 8, "{files:?}");
    files
}

#[test]
fn hostile_files_fail_cleanly_within_memory_and_time() {
    let dir = tempfile::tempdir().unwrap();
    for input in unpacked(dir.path()) {
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        let out_path = dir.path().join(format!("{name}.labels.tif"));
        for args in [
            vec!["info".as_ref(), input.as_os_str()],
            vec![
                "segment".as_ref(),
                input.as_os_str(),
                "-o".as_ref(),
                out_path.as_os_str(),
                "--quiet".as_ref(),
            ],
        ] {
            let run = Command::new("timeout")
                .args(["-s", "KILL", &SECONDS.to_string()])
                .arg("prlimit")
                .arg(format!("--as={MEMORY_BYTES}"))
                .arg(MAPSEG)
                .args(&args)
                .output()
                .expect("timeout and prlimit (coreutils, util-linux) run mapseg");
            let what = format!("mapseg {:?} on {name}", args[0]);
            let stderr = String::from_utf8_lossy(&run.stderr);
            match run.status.code() {
                Some(0) => {}
                Some(1) => {
                    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
                    assert!(stderr.starts_with("mapseg: error: "), "{what}: {stderr}");
                    assert!(!out_path.exists(), "{what} failed but left {out_path:?}");
                }
                other => panic!(
                    "{what} ended with {other:?} (101 is a panic, 137 a kill after {SECONDS} s, \
                     none a signal such as an abort past {MEMORY_BYTES} bytes): {stderr}"
                ),
            }
            println!("{what}: {}", stderr.trim());
        }
    }
}
