//! Shared by the GeoTIFF tests: fixture access and sample conversions.
#![allow(dead_code)]

use std::io::Cursor;
use std::path::PathBuf;

use engine::geotiff::GeoTiffReader;
use engine::raster::Samples;
use engine::with_samples;

/// `tests/fixtures` at the workspace root.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

pub fn read_fixture(relative: &str) -> Vec<u8> {
    let path = fixtures_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// GDAL's `gdalinfo -json` of a fixture, as recorded by `make_gdal_fixtures.sh`.
pub fn gdal_json(name: &str) -> serde_json::Value {
    let text = read_fixture(&format!("gdal/{name}.json"));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{name}.json: {e}"))
}

pub fn open(relative: &str) -> GeoTiffReader<Cursor<Vec<u8>>> {
    GeoTiffReader::open(Cursor::new(read_fixture(relative)))
        .unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The real images copied into `tests/fixtures/real`.
pub const REAL_FILES: &[&str] = &[
    "OSBS_029.tif",
    "L7_ETMs.tif",
    "olinda_rgb_uint8.tif",
    "sample_geotiff.tif",
    "buildings_mask.tif",
];

/// Samples as little-endian bytes, the layout of GDAL's ENVI dumps.
pub fn le_bytes(samples: &Samples) -> Vec<u8> {
    with_samples!(samples, v => v.iter().flat_map(|x| x.to_le_bytes()).collect())
}

/// A deterministic xorshift64 generator.
#[derive(Debug, Clone)]
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
