//! The run manifest: everything needed to reproduce a segmentation, embedded in the output's
//! metadata and offered as JSON.

use std::io::Read;

use crate::features::Normaliser;
use crate::pipeline::SegmentParams;

/// Identifies the input raster.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputIdentity {
    pub name: String,
    pub bytes: u64,
    /// BLAKE3 of the whole file, hex.
    pub blake3: String,
}

/// What produced a label raster.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunManifest {
    pub software: String,
    pub version: String,
    pub method: String,
    pub backend: String,
    pub input: InputIdentity,
    pub width: u32,
    pub height: u32,
    pub params: SegmentParams,
    /// File bands used as features, 1-based as users count them.
    pub bands_used: Vec<usize>,
    pub normaliser: Normaliser,
    pub sample_size: usize,
    pub iterations: usize,
    pub inertia: f64,
    /// Centres in normalised feature units, darkest first (label 0 first).
    pub centres: Vec<Vec<f32>>,
}

impl RunManifest {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// Hashes a whole input with BLAKE3, returning the hex digest and the byte count.
pub fn hash_input(mut reader: impl Read) -> std::io::Result<(String, u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hasher.finalize().to_hex().to_string(), total))
}
