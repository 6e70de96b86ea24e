//! Regenerates the committed seed corpus under `fuzz/corpus/` from the test fixtures:
//!
//! - `reader`: the GDAL-made fixtures, the small real ones (at most 300 KB) and the hostile
//!   ones (decompressed; at most 1 MiB, the target's `-max_len`);
//! - `pipeline`: the same files up to 256 KiB, each behind a parameter prefix that the file
//!   validates with, plus a few rasters written by the engine from seeded [`RasterSpec`] bytes;
//! - `georef`: the georeferencing tags of every fixture, in [`mapseg_fuzz::geo_input`]'s format.
//!
//! Run with `cargo run --manifest-path fuzz/Cargo.toml --example make_corpus`.

use std::collections::BTreeMap;
use std::error::Error;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use engine::geotiff::GeoTiffReader;
use mapseg_fuzz::{PARAMS_LEN, geo_input, params};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const READER_MAX: usize = 1 << 20;
const PIPELINE_MAX: usize = 256 << 10;
const REAL_MAX: usize = 300_000;

fn main() -> Result<()> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = fuzz.join("../tests/fixtures");
    let files = fixture_files(&fixtures)?;

    let mut reader = BTreeMap::new();
    let mut pipeline = BTreeMap::new();
    let mut georef = BTreeMap::new();
    let mut rng = XorShift(0x5eed_f022_c0de_0001);
    for (name, bytes) in &files {
        if bytes.len() <= READER_MAX {
            reader.insert(name.clone(), bytes.clone());
        }
        // Larger ones are hostile files that take gigabytes to open while the decoder lacks a
        // budget for the file's structure.
        if bytes.len() > PIPELINE_MAX {
            continue;
        }
        let Ok(opened) = GeoTiffReader::open(Cursor::new(&bytes[..])) else {
            continue;
        };
        let info = opened.info().clone();
        if let Some(g) = &info.georef {
            georef.insert(name.clone(), geo_input::to_bytes(&g.raw));
        }
        // A prefix whose parameters this file validates with, when one turns up.
        let prefix = (0..200)
            .map(|_| rng.bytes(PARAMS_LEN))
            .find(|p| params::decode(p).0.validate(&info).is_ok())
            .unwrap_or_else(|| vec![0; PARAMS_LEN]);
        pipeline.insert(name.clone(), [prefix, bytes.clone()].concat());
    }
    // Rasters written by the engine: parameter prefix, selector 0, then RasterSpec bytes.
    for i in 0..12 {
        let mut seed = rng.bytes(PARAMS_LEN);
        seed.push(0);
        seed.extend(rng.bytes(64 + 32 * i));
        pipeline.insert(format!("written-{i:02}"), seed);
    }

    for (target, seeds) in [
        ("reader", &reader),
        ("pipeline", &pipeline),
        ("georef", &georef),
    ] {
        let dir = fuzz.join("corpus").join(target);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let mut total = 0;
        for (name, bytes) in seeds {
            std::fs::write(dir.join(name), bytes)?;
            total += bytes.len();
        }
        println!(
            "{target}: {} seeds, {} KiB in {}",
            seeds.len(),
            total >> 10,
            dir.display()
        );
    }
    Ok(())
}

/// Every fixture TIFF as (seed name, bytes), `.gz` ones decompressed.
fn fixture_files(fixtures: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for (dir, max) in [
        ("gdal", usize::MAX),
        ("real", REAL_MAX),
        ("bad-inputs", usize::MAX),
    ] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures.join(dir))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        paths.sort();
        for path in paths {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or("a fixture name is not UTF-8")?
                .to_owned();
            let bytes = if let Some(stem) = name.strip_suffix(".tif.gz") {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(std::fs::File::open(&path)?).read_to_end(&mut out)?;
                (stem.to_owned(), out)
            } else if let Some(stem) = name.strip_suffix(".tif") {
                (stem.to_owned(), std::fs::read(&path)?)
            } else {
                continue;
            };
            if bytes.1.len() <= max {
                files.push((format!("{dir}-{}", bytes.0), bytes.1));
            }
        }
    }
    Ok(files)
}

/// A small deterministic generator, so the corpus is the same on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}
