//! The CNN's model, fetched from the app's origin (`models/<id>/meta.json` and `weights.bpk`,
//! cached by the service worker for offline use) on the first CNN run, then kept.

use std::sync::Arc;

use engine::cnn::Artifact;
use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Response, WorkerGlobalScope};

use web::transport::js_error_text;

/// Folder of the models, relative to the worker's script.
const MODELS: &str = "./models";

/// Fetches and checks the model `id`.
pub async fn fetch(id: &str) -> Result<Arc<Artifact>, String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !id.starts_with('.');
    if !ok {
        return Err(format!("`{id}` is not a model name"));
    }
    let meta = bytes(&format!("{MODELS}/{id}/meta.json")).await?;
    let weights = bytes(&format!("{MODELS}/{id}/weights.bpk")).await?;
    Artifact::from_bytes(&meta, &weights)
        .map(Arc::new)
        .map_err(|e| format!("the model {id} does not load: {e}"))
}

/// The body of `url` (same origin).
async fn bytes(url: &str) -> Result<Vec<u8>, String> {
    let failed = |e: wasm_bindgen::JsValue| format!("could not fetch {url}: {}", js_error_text(&e));
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let response: Response = JsFuture::from(scope.fetch_with_str(url))
        .await
        .map_err(failed)?
        .dyn_into()
        .map_err(failed)?;
    if !response.ok() {
        return Err(format!(
            "could not fetch {url}: HTTP {} {}",
            response.status(),
            response.status_text()
        ));
    }
    let body = JsFuture::from(response.array_buffer().map_err(failed)?)
        .await
        .map_err(failed)?;
    Ok(Uint8Array::new(&body).to_vec())
}
