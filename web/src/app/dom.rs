//! Small browser helpers: time, the URL query, downloads, drag and drop.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Blob, BlobPropertyBag, DragEvent, HtmlAnchorElement, Url, Window};

use super::{AppState, bridge};
use crate::transport::js_error_text;

pub fn window() -> Option<Window> {
    web_sys::window()
}

/// Milliseconds from `performance.now()` (or the epoch clock without it).
pub fn now_ms() -> f64 {
    window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

/// Replaces the page's query string without reloading or adding a history entry.
pub fn replace_query(query: &str) {
    let Some(w) = window() else { return };
    let current = w.location().search().unwrap_or_default();
    if current == query {
        return;
    }
    if let Ok(history) = w.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(query));
    }
}

/// A `Blob` holding `bytes`.
pub fn blob_from_bytes(bytes: &[u8], mime: &str) -> Result<Blob, String> {
    blob_from_array(&js_sys::Uint8Array::from(bytes), mime)
}

/// A `Blob` of type `mime` holding a copy of `array`.
fn blob_from_array(array: &js_sys::Uint8Array, mime: &str) -> Result<Blob, String> {
    let parts = js_sys::Array::of1(array);
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(|e| js_error_text(&e))
}

/// Starts a browser download of `bytes` as `name`.
pub fn download_bytes(name: &str, bytes: &[u8], mime: &str) -> Result<(), String> {
    download_blob(name, &blob_from_bytes(bytes, mime)?)
}

/// Starts a browser download of the JavaScript bytes `array` as `name` (never copied into the
/// page's WebAssembly memory).
pub fn download_array(name: &str, array: &js_sys::Uint8Array, mime: &str) -> Result<(), String> {
    download_blob(name, &blob_from_array(array, mime)?)
}

/// Starts a browser download of `blob` as `name` (an `<a download>` with a blob URL).
pub fn download_blob(name: &str, blob: &Blob) -> Result<(), String> {
    let fail = |e: JsValue| format!("the download of {name} failed: {}", js_error_text(&e));
    let document = window().and_then(|w| w.document()).ok_or("no document")?;
    let url = Url::create_object_url_with_blob(blob).map_err(fail)?;
    let anchor: HtmlAnchorElement = document
        .create_element("a")
        .map_err(fail)?
        .dyn_into()
        .map_err(|_| "not an anchor".to_owned())?;
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.set_attribute("hidden", "").map_err(fail)?;
    let body = document.body().ok_or("no body")?;
    body.append_child(&anchor).map_err(fail)?;
    anchor.click();
    anchor.remove();
    // Revoke later: the download reads the URL asynchronously.
    let revoke = Closure::once_into_js(move || {
        let _ = Url::revoke_object_url(&url);
    });
    if let Some(w) = window() {
        let _ =
            w.set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000);
    }
    Ok(())
}

/// Lets a file be dropped anywhere on the page.
pub fn install_drop_target(state: AppState) {
    let Some(w) = window() else { return };
    let body = w.document().and_then(|d| d.body());
    let over_body = body.clone();
    let over = Closure::<dyn FnMut(DragEvent)>::new(move |e: DragEvent| {
        e.prevent_default();
        if let Some(b) = &over_body {
            let _ = b.class_list().add_1("dragging");
        }
    });
    let leave_body = body.clone();
    let leave = Closure::<dyn FnMut(DragEvent)>::new(move |_e: DragEvent| {
        if let Some(b) = &leave_body {
            let _ = b.class_list().remove_1("dragging");
        }
    });
    let drop_body = body;
    let drop = Closure::<dyn FnMut(DragEvent)>::new(move |e: DragEvent| {
        e.prevent_default();
        if let Some(b) = &drop_body {
            let _ = b.class_list().remove_1("dragging");
        }
        let file = e
            .data_transfer()
            .and_then(|d| d.files())
            .and_then(|f| f.get(0));
        if let Some(file) = file {
            bridge::open_blob(state, file.name(), file.into());
        }
    });
    for (name, handler) in [("dragover", &over), ("dragleave", &leave), ("drop", &drop)] {
        let _ = w.add_event_listener_with_callback(name, handler.as_ref().unchecked_ref());
    }
    over.forget();
    leave.forget();
    drop.forget();
}

/// Fetches a file of the app (same origin) as a `Blob`.
pub async fn fetch_blob(path: &str) -> Result<Blob, String> {
    let w = window().ok_or("no window")?;
    let fail = |e: JsValue| format!("could not load {path}: {}", js_error_text(&e));
    let response: web_sys::Response = wasm_bindgen_futures::JsFuture::from(w.fetch_with_str(path))
        .await
        .map_err(fail)?
        .dyn_into()
        .map_err(|_| format!("could not load {path}"))?;
    if !response.ok() {
        return Err(format!("could not load {path}: HTTP {}", response.status()));
    }
    let blob = wasm_bindgen_futures::JsFuture::from(response.blob().map_err(fail)?)
        .await
        .map_err(fail)?;
    blob.dyn_into()
        .map_err(|_| format!("could not load {path}"))
}
