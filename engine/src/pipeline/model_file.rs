//! The fitted model as a file: what `mapseg fit` writes once and every `mapseg apply` part
//! reads, so all parts label with the same centres (no seams between parts).
//!
//! A [`ModelFile`] holds the method's fitted values (K-Means: bands, normalisation and
//! centres; CNN: the scene's normalisation, the embeddings' standardisation, the centres and
//! the network's identity), the post-processing, the identities of the rasters it was fitted
//! on and the software version. [`ModelFile::segmenter`] turns it back into the
//! [`Segmenter`] a fit of the same raster would have made, for that raster or another of the
//! same bands.

use super::{MethodModel, PostProcess, Runtime, SegmentError, Segmenter};
use crate::geotiff::RasterInfo;
use crate::kmeans::model::KMeansModel;
use crate::manifest::InputIdentity;

/// Version of the model file's layout; readers refuse what they do not know.
pub const MODEL_FILE_FORMAT: u32 = 1;

/// A fitted model, as written by `mapseg fit`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelFile {
    /// [`MODEL_FILE_FORMAT`] of the software that wrote it.
    pub format: u32,
    pub software: String,
    pub version: String,
    /// The rasters the model was fitted on, in the order given.
    pub inputs: Vec<FittedInput>,
    pub post: PostProcess,
    /// The method and what it fitted, tagged by `name`.
    pub method: FittedMethod,
}

/// One raster a model was fitted on: its identity and what the model needs of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FittedInput {
    #[serde(flatten)]
    pub identity: InputIdentity,
    pub width: u32,
    pub height: u32,
    pub bands: usize,
    pub sample_type: String,
}

impl FittedInput {
    /// The record of `info`'s raster, identified by `identity`.
    pub fn new(identity: InputIdentity, info: &RasterInfo) -> Self {
        Self {
            identity,
            width: info.width,
            height: info.height,
            bands: info.bands,
            sample_type: info.sample_type.name().to_owned(),
        }
    }
}

/// The fitted values of a method.
// One per model file, never held in bulk: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FittedMethod {
    Kmeans(KMeansModel),
    #[cfg(feature = "cnn")]
    Cnn(crate::cnn::method::CnnFit),
    /// A CNN model read by a build without the CNN method: it can be described, not applied.
    #[cfg(not(feature = "cnn"))]
    Cnn(serde_json::Value),
}

/// Why a model file cannot be read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelFileError {
    #[error("not a Mapseg model file: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "the model file has format {found}, but this Mapseg reads format {MODEL_FILE_FORMAT}: fit it again with this version"
    )]
    Format { found: u32 },
    #[error(
        "the raster has {found}, but the model was fitted on rasters with {expected}: apply it to rasters of the same bands"
    )]
    OtherBands { expected: String, found: String },
    #[error(transparent)]
    Segment(#[from] SegmentError),
}

impl ModelFile {
    /// The model file of `segmenter`, fitted on `inputs`.
    pub fn new(segmenter: &Segmenter, inputs: Vec<FittedInput>) -> Self {
        let method = match &segmenter.model {
            MethodModel::Kmeans(m) => FittedMethod::Kmeans(m.clone()),
            #[cfg(feature = "cnn")]
            MethodModel::Cnn(m) => FittedMethod::Cnn(m.fit.clone()),
        };
        Self {
            format: MODEL_FILE_FORMAT,
            software: "mapseg".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            inputs,
            post: segmenter.post,
            method,
        }
    }

    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Plain structs of strings, numbers and arrays: a failure here would be a bug in this
        // type, not bad input.
        #[allow(clippy::expect_used)]
        serde_json::to_string_pretty(self).expect("a model file always serialises")
    }

    /// Reads a model file, refusing other formats.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ModelFileError> {
        #[derive(serde::Deserialize)]
        struct Head {
            format: u32,
        }
        let head: Head = serde_json::from_slice(bytes)?;
        if head.format != MODEL_FILE_FORMAT {
            return Err(ModelFileError::Format { found: head.format });
        }
        Ok(serde_json::from_slice(bytes)?)
    }

    /// The method's name ("kmeans", "cnn").
    pub fn method_name(&self) -> &'static str {
        match &self.method {
            FittedMethod::Kmeans(_) => "kmeans",
            FittedMethod::Cnn(_) => "cnn",
        }
    }

    /// The recorded input named `name` of `bytes` bytes, if the model was fitted on it.
    pub fn fitted_input(&self, name: &str, bytes: u64) -> Option<&FittedInput> {
        self.inputs
            .iter()
            .find(|i| i.identity.name == name && i.identity.bytes == bytes)
    }

    /// The segmenter that labels `info`'s raster with this model: what a fit of that raster
    /// with the same parameters would give when the model was fitted on it alone. The CNN
    /// takes its network from `runtime` (which must hold the weights it was fitted with).
    pub fn segmenter(
        &self,
        info: &RasterInfo,
        runtime: &Runtime,
    ) -> Result<Segmenter, ModelFileError> {
        self.check_bands(info)?;
        let segmenter = match &self.method {
            FittedMethod::Kmeans(m) => {
                let model = KMeansModel {
                    spec: m.spec.for_raster(info),
                    ..m.clone()
                };
                let segmenter = Segmenter::kmeans(model, self.post);
                #[cfg(feature = "cnn")]
                let segmenter = segmenter.assigning_on(runtime.kmeans.clone());
                #[cfg(not(feature = "cnn"))]
                let _ = runtime;
                segmenter
            }
            #[cfg(feature = "cnn")]
            FittedMethod::Cnn(fit) => {
                let Some(cnn) = &runtime.cnn else {
                    return Err(SegmentError::NoModel.into());
                };
                let model = crate::cnn::CnnModel::restore(fit.clone(), cnn)?.for_raster(info);
                Segmenter::cnn(model, self.post)
            }
            #[cfg(not(feature = "cnn"))]
            FittedMethod::Cnn(_) => return Err(SegmentError::NoCnn.into()),
        };
        segmenter.params().validate(info)?;
        Ok(segmenter)
    }

    /// Refuses a raster whose bands differ from those the model was fitted on.
    fn check_bands(&self, info: &RasterInfo) -> Result<(), ModelFileError> {
        let Some(first) = self.inputs.first() else {
            return Ok(());
        };
        let found = (info.bands, info.sample_type.name());
        if (first.bands, first.sample_type.as_str()) != found {
            return Err(ModelFileError::OtherBands {
                expected: format!("{} {} band(s)", first.bands, first.sample_type),
                found: format!("{} {} band(s)", found.0, found.1),
            });
        }
        Ok(())
    }
}
