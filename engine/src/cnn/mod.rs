//! The CNN method: a small learned encoder whose per-pixel embeddings are clustered like K-Means
//! features.
//!
//! - [`bands`]: which file band fills which canonical spectral slot (blue, green, red, NIR,
//!   SWIR1, SWIR2), from the user, the file's band descriptions, its colour interpretation or
//!   defaults by band count.
//! - [`CnnParams`]: what a user chooses (k, resolution, model, band roles).
//! - `net` (feature `cnn`): the burn module and its configuration.
//! - `artifact` (feature `cnn`): model artifacts (`meta.json` + burnpack weights) and the
//!   model built into the engine.
//! - `input` (feature `cnn`): the network's input: a scene's bands normalised once from the
//!   sample, put in their slots, on a window aligned to the stem's stride.
//! - `method` (feature `cnn`): the CNN as a segmentation method: embeddings of the stratified
//!   sample, seeded k-means on them with the run's k, and windows of a fixed shape per run so
//!   any tiling gives the same labels.
//!
//! Without the `cnn` feature the parameters and band roles still exist (front ends can describe
//! a CNN run), but making a CNN segmenter fails with [`crate::pipeline::SegmentError::NoCnn`].

pub mod bands;
mod params;

#[cfg(feature = "cnn")]
pub mod artifact;
#[cfg(feature = "cnn")]
pub mod input;
#[cfg(feature = "cnn")]
pub mod method;
#[cfg(feature = "cnn")]
pub mod net;

pub use params::{BUILTIN_MODEL, CnnParams, DEFAULT_SPECTRA, MARGIN};

#[cfg(feature = "cnn")]
pub use artifact::{Artifact, ArtifactError, ModelMeta};
#[cfg(feature = "cnn")]
pub use method::{CnnModel, CnnRuntime};
#[cfg(feature = "cnn")]
pub use net::{Cnn, CnnConfig};

#[cfg(all(feature = "cnn", not(any(feature = "flex", feature = "ndarray"))))]
compile_error!("the engine's `cnn` feature needs a CPU backend: enable `flex` (or `ndarray`)");

/// burn's CPU device: flex, or ndarray in builds without flex (browsers without WebAssembly
/// SIMD, whose compilers refuse flex's matrix kernels).
#[cfg(feature = "cnn")]
pub fn cpu_device() -> burn::tensor::Device {
    #[cfg(feature = "flex")]
    {
        burn::tensor::Device::flex()
    }
    #[cfg(all(feature = "ndarray", not(feature = "flex")))]
    {
        // Deprecated in burn 0.22 in favour of flex, which old browsers cannot load.
        #[allow(deprecated)]
        burn::tensor::Device::ndarray()
    }
    #[cfg(not(any(feature = "flex", feature = "ndarray")))]
    {
        unreachable!("a compile error above")
    }
}
