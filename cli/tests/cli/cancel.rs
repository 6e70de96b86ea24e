//! Ctrl-C during `mapseg segment`: the run stops, says so, exits with 130 and leaves neither the
//! output nor a temporary file behind.

use std::io::Cursor;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine::geotiff::{GeoTiffReader, GeoTiffWriter, WriterOptions};
use engine::raster::{SampleType, Samples};

use super::{MAPSEG, fixture};

/// A 4096² RGB raster of seeded noise with the NEON orthophoto's georeferencing: slow enough to
/// label that a signal arrives mid-run.
fn noisy_raster(path: &Path) {
    let osbs = std::fs::read(fixture("OSBS_029.tif")).unwrap();
    let georef = GeoTiffReader::open(Cursor::new(osbs))
        .unwrap()
        .info()
        .georef
        .clone();
    let side = 4096u32;
    let mut options = WriterOptions::new(side, side, 3, SampleType::U8);
    options.georef = georef;
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut writer = GeoTiffWriter::new(file, options).unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in (0..side).step_by(256) {
        let strip: Vec<u8> = (0..side as usize * 256 * 3)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 56) as u8
            })
            .collect();
        writer.write_strip(&Samples::U8(strip)).unwrap();
    }
    writer.finish().unwrap();
}

#[test]
fn ctrl_c_cancels_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("noise.tif");
    noisy_raster(&input);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let output = out_dir.join("labels.tif");
    let mut child = Command::new(MAPSEG)
        .args([
            "segment",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ])
        .args([
            "--quiet",
            "--threads",
            "1",
            "--resolution",
            "1",
            "--k",
            "12",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the temporary output exists: the run is labelling.
    let start = Instant::now();
    while std::fs::read_dir(&out_dir).unwrap().next().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no temporary output appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be interrupted"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("cancelled"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
