//! The CNN's model and device for `mapseg segment --method cnn`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use engine::cnn::{Artifact, CnnRuntime};

use crate::args::Backend;

/// The model of `--model DIR`, else the built-in one.
pub fn artifact(dir: Option<&Path>) -> Result<Artifact> {
    let Some(dir) = dir else {
        return Artifact::builtin().context("the built-in model does not load");
    };
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).with_context(|| format!("--model: cannot read {}", path.display()))
    };
    Artifact::from_bytes(&read("meta.json")?, &read("weights.bpk")?)
        .with_context(|| format!("--model: {} is not a usable model", dir.display()))
}

/// The model on the device of `backend`.
pub fn runtime(model: Option<&Path>, backend: Backend) -> Result<CnnRuntime> {
    let artifact = artifact(model)?;
    let (device, name) = device(backend)?;
    let mut runtime = CnnRuntime::cpu(artifact);
    runtime.device = device;
    runtime.backend = name.to_owned();
    Ok(runtime)
}

/// The device of `backend`, when this build has it and the machine has its driver (burn panics
/// in a background thread when the driver is missing, so that is checked first).
fn device(backend: Backend) -> Result<(Device, &'static str)> {
    match backend {
        Backend::Flex => Ok((Device::flex(), engine::pipeline::CPU_BACKEND)),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Ok((
            Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
            "wgpu",
        )),
        #[cfg(feature = "vulkan")]
        Backend::Vulkan => {
            require_vulkan()?;
            Ok((
                Device::vulkan(burn::tensor::DeviceKind::DefaultDevice),
                "vulkan",
            ))
        }
        #[cfg(feature = "cuda")]
        Backend::Cuda => {
            require_cuda()?;
            Ok((Device::cuda(0), "cuda"))
        }
        #[allow(unreachable_patterns)]
        other => {
            let name = format!("{other:?}").to_lowercase();
            bail!(
                "--backend {name}: this mapseg was built without it; rebuild with `cargo build --release -p mapseg-cli --features {name}`, or use --backend flex"
            )
        }
    }
}

/// Library folders where GPU drivers live.
#[cfg(any(feature = "vulkan", feature = "cuda"))]
const LIB_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/nvidia/lib64",
    "/usr/lib/wsl/lib",
];

#[cfg(feature = "cuda")]
fn require_cuda() -> Result<()> {
    let from_env = std::env::var("LD_LIBRARY_PATH").unwrap_or_default();
    let found = LIB_DIRS
        .iter()
        .copied()
        .chain(from_env.split(':'))
        .any(|d| !d.is_empty() && Path::new(d).join("libcuda.so.1").exists());
    if !found {
        bail!("--backend cuda: no NVIDIA driver found (libcuda.so.1); use --backend flex");
    }
    Ok(())
}

#[cfg(feature = "vulkan")]
fn require_vulkan() -> Result<()> {
    let icd = std::env::var_os("VK_DRIVER_FILES").or_else(|| std::env::var_os("VK_ICD_FILENAMES"));
    let found = icd.is_some()
        || ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"]
            .iter()
            .any(|d| std::fs::read_dir(d).is_ok_and(|mut e| e.next().is_some()));
    if !found {
        bail!("--backend vulkan: no Vulkan driver found; use --backend flex");
    }
    Ok(())
}
