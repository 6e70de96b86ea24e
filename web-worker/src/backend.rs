//! Where the worker's heavy work runs: WebGPU through burn when the browser has an adapter and
//! the user did not ask for the CPU, else the CPU (burn's flex backend for the CNN, the
//! engine's own kernels for K-Means).
//!
//! A device lost later is noticed by burn's runtime (its device-lost callback poisons the
//! device, and every readback after it fails), so a run sees a `SegmentError::Backend` and
//! goes on on the CPU ([`crate::run`]).

use engine::pipeline::Accelerator;
use wasm_bindgen::JsValue;

use web::protocol::BackendChoice;

/// The name shown for the CPU path.
pub use web::protocol::CPU_BACKEND as CPU;

/// Where runs work: a GPU, or the CPU when `None`.
#[derive(Debug, Clone, Default)]
pub struct Backend {
    pub gpu: Option<Accelerator>,
}

/// The worker's WebGPU device: burn registers one per worker, so it is made once and kept, and
/// once lost it stays lost.
#[derive(Debug, Clone, Default)]
pub enum Webgpu {
    #[default]
    Untried,
    Ready(Accelerator),
    /// Why there is none (no adapter, init failed, lost in a run).
    Unavailable(String),
}

impl Backend {
    /// The name the page and the manifests show.
    pub fn name(&self) -> String {
        self.gpu
            .as_ref()
            .map_or_else(|| CPU.to_owned(), |g| g.name.clone())
    }
}

/// Picks the backend for `choice`, starting WebGPU the first time it is allowed; the note says
/// why the CPU was taken when the choice allowed a GPU.
pub async fn choose(choice: BackendChoice, gpu: &mut Webgpu) -> (Backend, Option<String>) {
    if choice == BackendChoice::Cpu {
        return (Backend::default(), None);
    }
    if matches!(gpu, Webgpu::Untried) {
        *gpu = match webgpu().await {
            Ok(accelerator) => Webgpu::Ready(accelerator),
            Err(why) => Webgpu::Unavailable(why),
        };
    }
    match gpu {
        Webgpu::Ready(accelerator) => (
            Backend {
                gpu: Some(accelerator.clone()),
            },
            None,
        ),
        Webgpu::Unavailable(why) => (Backend::default(), Some(why.clone())),
        Webgpu::Untried => (Backend::default(), None),
    }
}

/// A burn device on the browser's WebGPU adapter, named after it.
#[cfg(not(feature = "webgpu"))]
async fn webgpu() -> Result<Accelerator, String> {
    Err(if has_navigator_gpu() {
        "this worker is built without WebGPU".to_owned()
    } else {
        "this browser has no WebGPU".to_owned()
    })
}

/// A burn device on the browser's WebGPU adapter, named after it.
#[cfg(feature = "webgpu")]
async fn webgpu() -> Result<Accelerator, String> {
    if !has_navigator_gpu() {
        return Err("this browser has no WebGPU".to_owned());
    }
    let (device, setup) = burn::tensor::Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(|e| format!("WebGPU could not start: {e}"))?;
    let info = setup.adapter.get_info();
    let adapter = if info.name.trim().is_empty() {
        adapter_info().await.unwrap_or_else(|| "adapter".to_owned())
    } else {
        info.name
    };
    Ok(Accelerator {
        device,
        name: format!("WebGPU: {adapter}"),
    })
}

/// The adapter's vendor, architecture and description from `GPUAdapter.info` (wgpu names a
/// web adapter after its description only, which browsers may leave empty).
#[cfg(feature = "webgpu")]
async fn adapter_info() -> Option<String> {
    let gpu = get(&get(&js_sys::global(), "navigator")?, "gpu")?;
    use wasm_bindgen::JsCast;
    let request: js_sys::Function = get(&gpu, "requestAdapter")?.dyn_into().ok()?;
    let promise: js_sys::Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
    let adapter = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    let info = get(&adapter, "info")?;
    let parts: Vec<String> = ["vendor", "architecture", "description"]
        .into_iter()
        .filter_map(|key| get(&info, key)?.as_string())
        .filter(|s| !s.trim().is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// `object[key]` unless it is undefined or null.
fn get(object: &JsValue, key: &str) -> Option<JsValue> {
    js_sys::Reflect::get(object, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// Whether `navigator.gpu` exists in this worker (Chromium 87 and browsers without WebGPU have
/// none; asking wgpu there would fail less clearly).
fn has_navigator_gpu() -> bool {
    get(&js_sys::global(), "navigator").is_some_and(|nav| get(&nav, "gpu").is_some())
}
