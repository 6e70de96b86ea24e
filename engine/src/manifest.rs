//! The run manifest: everything needed to reproduce a segmentation, embedded in the output's
//! metadata and offered as JSON.

use std::io::Read;

use crate::cnn::CnnParams;
use crate::cnn::bands::BandRoles;
use crate::kmeans::model::KMeansParams;
use crate::normalise::Normaliser;
use crate::pipeline::PostProcess;
use crate::relabel::MergeRecord;

/// Identifies the input raster.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputIdentity {
    pub name: String,
    pub bytes: u64,
    /// BLAKE3 of the whole file, hex.
    pub blake3: String,
}

/// Version of the manifest's layout; readers refuse what they do not know. Version 1 had the
/// K-Means fields at the top level; version 2 puts them under a tagged `method`.
pub const MANIFEST_FORMAT: u32 = 2;

/// What produced a label raster (embedded in every output's metadata).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunManifest {
    /// [`MANIFEST_FORMAT`] of the software that wrote it.
    pub format: u32,
    pub software: String,
    pub version: String,
    /// Where the method ran ("cpu", "CPU (WebAssembly)", a GPU adapter).
    pub backend: String,
    pub input: InputIdentity,
    pub width: u32,
    pub height: u32,
    pub seed: u64,
    pub post: PostProcess,
    /// The method, its parameters and what it fitted, tagged by `name`.
    pub method: MethodManifest,
    /// Class merges applied after the run, in order (absent in files without any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merges: Vec<MergeRecord>,
    /// The part of the run this file holds, for a raster labelled in parts (`mapseg apply`);
    /// absent for a whole raster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<PartRecord>,
}

/// Which part of a run a label GeoTIFF holds, and with which model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartRecord {
    #[serde(flatten)]
    pub part: crate::pipeline::Part,
    /// BLAKE3 of the model file the part was labelled with, hex.
    pub model_blake3: String,
    /// Where the part's index came from (`--part`, or a scheduler's variable).
    pub index_from: String,
}

/// The method of a run and what it fitted.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MethodManifest {
    Kmeans(KMeansManifest),
    Cnn(CnnManifest),
}

/// A K-Means run: parameters, normalisation and centres.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KMeansManifest {
    pub params: KMeansParams,
    /// File bands used as features, 1-based as users count them.
    pub bands_used: Vec<usize>,
    /// The normalisation the centres live in (`normaliser.method` is the concrete choice).
    pub normaliser: Normaliser,
    /// Blocks the centres were fitted on.
    pub fitted_blocks: usize,
    pub iterations: usize,
    pub inertia: f64,
    /// Centres in normalised feature units, darkest first (label 0 first).
    pub centres: Vec<Vec<f32>>,
}

/// A CNN run: parameters, model, band roles, normalisation and the centres on the embeddings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CnnManifest {
    pub params: CnnParams,
    /// The model's id and the BLAKE3 of its weights.
    pub model: String,
    pub weights_blake3: String,
    /// Which file band filled which input slot, and how that was decided.
    pub band_roles: BandRoles,
    /// The scene's normalisation of those bands (in `band_roles` order).
    pub normaliser: Normaliser,
    pub fitted_blocks: usize,
    pub iterations: usize,
    pub inertia: f64,
    /// Centres in standardised embedding units, darkest first (label 0 first).
    pub centres: Vec<Vec<f32>>,
}

impl RunManifest {
    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Plain structs of strings, numbers and arrays (non-finite floats become null): a
        // failure here would be a bug in this type, not bad input.
        #[allow(clippy::expect_used)]
        serde_json::to_string_pretty(self).expect("a run manifest always serialises")
    }
}

/// Hashes a whole input with BLAKE3, returning the hex digest and the byte count.
pub fn hash_input(mut reader: impl Read) -> std::io::Result<(String, u64)> {
    let mut hasher = InputHasher::default();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finish())
}

/// [`hash_input`] fed piece by piece, for a front end that reads the input in steps.
#[derive(Debug, Clone, Default)]
pub struct InputHasher {
    hasher: blake3::Hasher,
    bytes: u64,
}

impl InputHasher {
    /// Adds the next bytes of the input.
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
    }

    /// The hex digest and the byte count of everything added.
    pub fn finish(&self) -> (String, u64) {
        (self.hasher.finalize().to_hex().to_string(), self.bytes)
    }
}
