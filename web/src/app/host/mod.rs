//! The embedding contract (README, "Embedding contract"): a host (the QGIS panel, a page that
//! frames or opened the app) sends `{type: 'open', name, url | base64 | buffer}` (`autorun:
//! true` also starts a run) and receives `{type: 'result', …}` when a run finishes, or
//! `{type: 'error', message}`. The app announces itself with `{type: 'ready'}`.
//!
//! Two transports carry the messages of [`crate::embedding`]:
//!
//! - [`window`]: `postMessage` with the window that framed or opened the app;
//! - [`qt`]: Qt's `QWebChannel`, when the app is the page of a `QWebEngineView` whose channel
//!   holds an object `mapsegHost`.
//!
//! Results go back over the transport the raster came from (and only to the window and origin
//! that sent it).

mod qt;
mod window;

use std::cell::{Cell, RefCell};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::{AppState, Busy, bridge, dom};
use crate::embedding::{HostResult, OpenFields, RasterSource, ToHost};

/// Where the host that sent the current raster listens.
#[derive(Debug, Clone)]
enum HostLink {
    Window(window::WindowHost),
    Qt(qt::QtHost),
}

impl HostLink {
    /// Sends `message` over this link's transport.
    fn send(&self, message: &ToHost<'_>) {
        match self {
            HostLink::Window(host) => host.send(message),
            HostLink::Qt(host) => host.send(message),
        }
    }
}

thread_local! {
    static HOST: RefCell<Option<HostLink>> = const { RefCell::new(None) };
    static AUTORUN: Cell<bool> = const { Cell::new(false) };
    /// Counts the hosts' `open` messages, so that a fetch that ends after a newer `open` is dropped.
    static OPENS: Cell<u64> = const { Cell::new(0) };
}

/// Whether a host is waiting for results.
pub fn attached() -> bool {
    HOST.with(|h| h.borrow().is_some())
}

/// Starts listening to hosts on both transports; each says `{type: 'ready'}` to its hosts.
pub fn listen(state: AppState) {
    window::listen(state);
    qt::connect(state);
}

/// Handles a host's `open`: `link` becomes the host that results and errors go to, then the
/// raster is opened from the one source the message names (`buffer` is the postMessage
/// message's `buffer` field, if any).
fn open(state: AppState, link: HostLink, fields: &OpenFields, buffer: Option<JsValue>) {
    let ticket = OPENS.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    HOST.with(|h| *h.borrow_mut() = Some(link));
    let name = fields.raster_name();
    let autorun = fields.autorun;
    match fields.source() {
        Err(message) => report(state, &message),
        Ok(RasterSource::Buffer) => match buffer.as_ref().and_then(to_blob) {
            Some(blob) => start(state, name, blob, autorun),
            None => report(
                state,
                "the host's `buffer` is not an ArrayBuffer, a Uint8Array or a Blob",
            ),
        },
        Ok(RasterSource::Bytes(bytes)) => match dom::blob_from_bytes(&bytes, "image/tiff") {
            Ok(blob) => start(state, name, blob.into(), autorun),
            Err(message) => report(state, &message),
        },
        Ok(RasterSource::Url(url)) => wasm_bindgen_futures::spawn_local(async move {
            let fetched = dom::fetch_blob(&url).await;
            if OPENS.with(Cell::get) != ticket {
                return;
            }
            match fetched {
                Ok(blob) => start(state, name, blob.into(), autorun),
                Err(message) => report(state, &message),
            }
        }),
    }
}

/// Opens the host's raster, and runs it once opened if the host asked for `autorun`.
fn start(state: AppState, name: String, blob: JsValue, autorun: bool) {
    AUTORUN.with(|a| a.set(autorun));
    bridge::open_blob(state, name, blob);
    if autorun {
        watch_for_open(state);
    }
}

/// Shows `message` in the page and sends it to the host as `{type: 'error'}`.
fn report(state: AppState, message: &str) {
    state.fail(message, false);
    send_error(message);
}

/// Runs once the raster the host sent has been opened.
fn watch_for_open(state: AppState) {
    use leptos::prelude::*;
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let opened = state.busy.get() == Busy::Idle && state.info.with(Option::is_some);
        if opened && AUTORUN.with(|a| a.replace(false)) {
            bridge::run(state);
            return true;
        }
        false
    });
}

/// A `Blob` from a host's `buffer`: a `Blob` (or `File`), an `ArrayBuffer` or a `Uint8Array`.
fn to_blob(buffer: &JsValue) -> Option<JsValue> {
    if buffer.is_instance_of::<web_sys::Blob>() {
        return Some(buffer.clone());
    }
    let bytes = if buffer.is_instance_of::<js_sys::ArrayBuffer>() {
        js_sys::Uint8Array::new(buffer)
    } else if let Some(view) = buffer.dyn_ref::<js_sys::Uint8Array>() {
        view.clone()
    } else {
        return None;
    };
    let parts = js_sys::Array::of1(&bytes);
    web_sys::Blob::new_with_u8_array_sequence(&parts)
        .ok()
        .map(Into::into)
}

/// Sends `message` to the host of the current raster, if any. The link is taken out of
/// [`HOST`] first, so that a host answering at once finds it free.
fn send_to_host(message: &ToHost<'_>) {
    let link = HOST.with(|h| h.borrow().clone());
    if let Some(link) = link {
        link.send(message);
    }
}

/// Sends the finished result (the label GeoTIFF with the current legend) to the host.
pub fn send_result(state: AppState, geotiff: &[u8]) {
    use leptos::prelude::*;
    let Some((stats, manifest)) = state.shown.with_untracked(|s| {
        s.as_ref()
            .map(|s| (s.result.rows.clone(), s.result.manifest.clone()))
    }) else {
        return;
    };
    let legend = state.legend.get_untracked();
    let name = bridge::file_name(state);
    send_to_host(&ToHost::Result(HostResult {
        name: &name,
        geotiff,
        legend: &legend,
        stats: &stats,
        manifest: &manifest,
    }));
}

/// Tells the host that its raster could not be processed.
pub fn send_error(message: &str) {
    send_to_host(&ToHost::Error(message));
}

/// Logs a warning about the embedding in the console.
fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(&format!("Mapseg embedding: {message}")));
}

/// A property of a JavaScript value, unless it is missing, `undefined` or `null`.
fn property(target: &JsValue, key: &str) -> Option<JsValue> {
    js_sys::Reflect::get(target, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}
