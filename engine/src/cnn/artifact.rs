//! Model artifacts: a directory `models/<id>/` holding `weights.bpk` (burnpack, from
//! `model.into_record().into_bytes()`), `meta.json` ([`ModelMeta`]) and `metrics.json` (the
//! evaluation table, for people). The engine takes the bytes; front ends read the files.

use std::sync::Arc;

use burn::module::Module;
use burn::tensor::{Bytes, Device};

use super::bands::BandRole;
use super::net::{Cnn, CnnConfig, STRIDE};
use crate::normalise::Normalisation;

/// The `format` of the `meta.json` this engine reads.
pub const META_FORMAT: u32 = 1;

/// What `meta.json` says about a model. `training` is free-form provenance (data with sources
/// and licences, command, steps, wall time, hardware) that the engine keeps but does not read.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelMeta {
    pub format: u32,
    pub id: String,
    pub architecture: CnnConfig,
    /// The canonical slots of the input, in order.
    pub slots: Vec<BandRole>,
    /// How each band is normalised, per scene, from the run's sample.
    pub normalisation: Normalisation,
    /// The stem's stride in pixels (windows start on multiples of it).
    pub stride: u32,
    /// How far an embedding reaches, in pixels each side.
    pub receptive_radius: u32,
    #[serde(default)]
    pub training: serde_json::Value,
}

impl ModelMeta {
    /// The meta of a model of `architecture` called `id`, with this engine's slots,
    /// normalisation, stride and receptive field.
    pub fn new(id: &str, architecture: CnnConfig, training: serde_json::Value) -> Self {
        Self {
            format: META_FORMAT,
            id: id.to_owned(),
            architecture,
            slots: BandRole::SLOT_ORDER.to_vec(),
            normalisation: Normalisation::RobustClip,
            stride: STRIDE,
            receptive_radius: CnnConfig::receptive_radius(),
            training,
        }
    }
}

/// Why a model artifact could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    #[error("the model's meta.json is not valid: {0}")]
    Meta(#[source] serde_json::Error),
    #[error(
        "the model's meta.json has format {found}, but this version of Mapseg reads format {META_FORMAT}"
    )]
    Format { found: u32 },
    #[error(
        "the model `{id}` was made for another input or network ({what}); this version of Mapseg cannot run it"
    )]
    Incompatible { id: String, what: String },
    #[error("the model's weights do not fit its meta.json: {0}")]
    Weights(String),
}

/// A loaded model: its meta and the network, ready for inference on any device.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub meta: ModelMeta,
    /// BLAKE3 of the weights file, recorded in run manifests.
    pub weights_hash: String,
    net: Arc<Cnn>,
}

/// The built-in model's files.
#[cfg(feature = "builtin-model")]
mod builtin {
    pub const META: &[u8] = include_bytes!("../../../models/mapseg-cnn-s1/meta.json");
    pub const WEIGHTS: &[u8] = include_bytes!("../../../models/mapseg-cnn-s1/weights.bpk");
}

impl Artifact {
    /// Reads a model from the bytes of its `meta.json` and `weights.bpk`, checking that the
    /// weights decode into the network `meta.json` describes.
    pub fn from_bytes(meta: &[u8], weights: &[u8]) -> Result<Self, ArtifactError> {
        let meta: ModelMeta = serde_json::from_slice(meta).map_err(ArtifactError::Meta)?;
        if meta.format != META_FORMAT {
            return Err(ArtifactError::Format { found: meta.format });
        }
        let incompatible = |what: String| ArtifactError::Incompatible {
            id: meta.id.clone(),
            what,
        };
        if meta.slots != BandRole::SLOT_ORDER {
            return Err(incompatible(format!("input slots {:?}", meta.slots)));
        }
        if meta.stride != STRIDE || meta.receptive_radius > CnnConfig::receptive_radius() {
            return Err(incompatible(format!(
                "stride {} and receptive radius {}",
                meta.stride, meta.receptive_radius
            )));
        }
        let a = &meta.architecture;
        if !(1..=256).contains(&a.width) || !(1..=256).contains(&a.embedding) {
            return Err(incompatible(format!(
                "width {} and embedding {}",
                a.width, a.embedding
            )));
        }
        let record = burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights.to_vec()))
            .map_err(|e| ArtifactError::Weights(e.to_string()))?;
        let net = meta
            .architecture
            .init(&crate::cnn::cpu_device())
            .try_load_record(record)
            .map_err(|e| ArtifactError::Weights(e.to_string()))?;
        Ok(Self {
            weights_hash: blake3::hash(weights).to_hex().to_string(),
            meta,
            net: Arc::new(net),
        })
    }

    /// The model built into the engine.
    #[cfg(feature = "builtin-model")]
    pub fn builtin() -> Result<Self, ArtifactError> {
        Self::from_bytes(builtin::META, builtin::WEIGHTS)
    }

    /// A model made from a network in memory (what a trainer exports).
    pub fn from_net(meta: ModelMeta, net: Cnn) -> Result<(Self, Vec<u8>), ArtifactError> {
        let bytes = net
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| ArtifactError::Weights(e.to_string()))?;
        let weights = bytes.to_vec();
        let artifact = Self {
            weights_hash: blake3::hash(&weights).to_hex().to_string(),
            meta,
            net: Arc::new(net),
        };
        Ok((artifact, weights))
    }

    /// The network on `device`.
    pub fn net(&self, device: &Device) -> Cnn {
        (*self.net).clone().to_device(device)
    }
}
