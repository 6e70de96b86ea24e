//! Where a run's heavy work goes: the CNN's model and device, and the device K-Means assigns
//! blocks on. The default is the CPU for both (the built-in model through burn's flex backend,
//! K-Means through the engine's own kernel).

use super::{CPU_BACKEND, SegmentParams};

/// A burn device and the name manifests and front ends show for it ("cpu", "wgpu", "webgpu: …").
#[cfg(feature = "cnn")]
#[derive(Debug, Clone, PartialEq)]
pub struct Accelerator {
    pub device: burn::tensor::Device,
    pub name: String,
}

#[cfg(feature = "cnn")]
impl Accelerator {
    /// burn's CPU backend ([`crate::cnn::cpu_device`]).
    pub fn cpu() -> Self {
        Self {
            device: crate::cnn::cpu_device(),
            name: CPU_BACKEND.to_owned(),
        }
    }
}

/// What a run may need beyond its parameters.
#[derive(Debug, Clone, Default)]
pub struct Runtime {
    /// The CNN's model and device (the built-in model on the CPU when `None`).
    #[cfg(feature = "cnn")]
    pub cnn: Option<crate::cnn::CnnRuntime>,
    /// The device K-Means assigns blocks to centres on (the engine's CPU kernel when `None`).
    #[cfg(feature = "cnn")]
    pub kmeans: Option<Accelerator>,
}

impl Runtime {
    /// The manifest's name of where the method of `params` runs.
    pub fn backend(&self, params: &SegmentParams) -> String {
        match &params.method {
            #[cfg(feature = "cnn")]
            super::MethodParams::Cnn(_) => self
                .cnn
                .as_ref()
                .map_or(CPU_BACKEND, |c| c.backend.as_str())
                .to_owned(),
            #[cfg(feature = "cnn")]
            super::MethodParams::Kmeans(_) => self
                .kmeans
                .as_ref()
                .map_or(CPU_BACKEND, |a| a.name.as_str())
                .to_owned(),
            #[cfg(not(feature = "cnn"))]
            _ => CPU_BACKEND.to_owned(),
        }
    }
}
