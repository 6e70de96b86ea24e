//! The embedding contract: a host page (the window that framed or opened the app, e.g. the QGIS
//! panel) sends `{type: 'open', name, buffer}` (an `ArrayBuffer`, typed array or `Blob`;
//! `autorun: true` also starts a run) and receives `{type: 'result', name, geotiff, legend,
//! stats, manifest}` when a run finishes (`geotiff` is an `ArrayBuffer` with the legend's names
//! and colours), or `{type: 'error', message}`. The app announces itself with
//! `{type: 'ready'}`. Results go only to the window and origin that sent the raster.

use std::cell::RefCell;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Window};

use super::{AppState, Busy, bridge, dom};

/// The host that sent the current raster.
struct Host {
    window: Window,
    origin: String,
}

thread_local! {
    static HOST: RefCell<Option<Host>> = const { RefCell::new(None) };
    static AUTORUN: RefCell<bool> = const { RefCell::new(false) };
}

/// Whether a host is waiting for results.
pub fn attached() -> bool {
    HOST.with(|h| h.borrow().is_some())
}

/// The windows allowed to drive the app: the parent frame and the opener.
fn hosts(w: &Window) -> Vec<Window> {
    let mut out = Vec::new();
    if let Ok(Some(parent)) = w.parent()
        && !js_sys::Object::is(&parent, w)
    {
        out.push(parent);
    }
    // Another page's window is from another JavaScript realm, where `instanceof Window` is
    // false: only null and undefined are ruled out.
    if let Ok(opener) = w.opener()
        && !opener.is_null()
        && !opener.is_undefined()
    {
        out.push(opener.unchecked_into::<Window>());
    }
    out
}

/// Starts listening to host messages and says `{type: 'ready'}` to the hosts.
pub fn listen(state: AppState) {
    let Some(w) = dom::window() else { return };
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let Some(w) = dom::window() else { return };
        // The host's window comes from another realm (see `hosts`): compared by identity.
        let Some(source) = event.source().map(|s| s.unchecked_into::<Window>()) else {
            return;
        };
        if !hosts(&w).iter().any(|h| js_sys::Object::is(h, &source)) {
            return;
        }
        let data = event.data();
        let get = |key: &str| js_sys::Reflect::get(&data, &key.into()).ok();
        if get("type").and_then(|t| t.as_string()).as_deref() != Some("open") {
            return;
        }
        let name = get("name")
            .and_then(|n| n.as_string())
            .unwrap_or_else(|| "raster.tif".to_owned());
        let Some(blob) = get("buffer").and_then(|b| to_blob(&b)) else {
            state.fail("the host sent no raster (expected `buffer`)", false);
            return;
        };
        HOST.with(|h| {
            *h.borrow_mut() = Some(Host {
                window: source,
                origin: Some(event.origin())
                    .filter(|o| o != "null")
                    .unwrap_or_else(|| "*".to_owned()),
            })
        });
        let autorun = get("autorun").is_some_and(|a| a.is_truthy());
        AUTORUN.with(|a| *a.borrow_mut() = autorun);
        bridge::open_blob(state, name, blob);
        if autorun {
            watch_for_open(state);
        }
    });
    let _ = w.add_event_listener_with_callback("message", handler.as_ref().unchecked_ref());
    handler.forget();
    for host in hosts(&w) {
        let ready = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&ready, &"type".into(), &"ready".into());
        let _ = host.post_message(&ready, "*");
    }
}

/// Runs once the raster the host sent has been opened.
fn watch_for_open(state: AppState) {
    use leptos::prelude::*;
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let opened = state.busy.get() == Busy::Idle && state.info.with(Option::is_some);
        if opened && AUTORUN.with(|a| std::mem::take(&mut *a.borrow_mut())) {
            bridge::run(state);
            return true;
        }
        false
    });
}

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

/// Sends the finished result to the host.
pub fn send_result(state: AppState, geotiff: &[u8]) {
    use leptos::prelude::*;
    HOST.with(|h| {
        let host = h.borrow();
        let Some(host) = host.as_ref() else { return };
        let Some((rows, manifest)) = state.shown.with_untracked(|s| {
            s.as_ref()
                .map(|s| (s.result.rows.clone(), s.result.manifest.clone()))
        }) else {
            return;
        };
        let legend = state.legend.get_untracked();
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        use serde::Serialize;
        let (Ok(legend), Ok(stats)) = (legend.serialize(&serializer), rows.serialize(&serializer))
        else {
            return;
        };
        let buffer = js_sys::Uint8Array::from(geotiff).buffer();
        let msg = js_sys::Object::new();
        for (key, value) in [
            ("type", JsValue::from_str("result")),
            ("name", JsValue::from_str(&bridge::file_name(state))),
            ("geotiff", buffer.clone().into()),
            ("legend", legend),
            ("stats", stats),
            ("manifest", JsValue::from_str(&manifest)),
        ] {
            let _ = js_sys::Reflect::set(&msg, &key.into(), &value);
        }
        let transfer = js_sys::Array::of1(&buffer);
        if let Err(e) = host
            .window
            .post_message_with_transfer(&msg, &host.origin, &transfer)
        {
            web_sys::console::error_1(&e);
        }
    });
}

/// Tells the host that its raster could not be processed.
pub fn send_error(message: &str) {
    HOST.with(|h| {
        let host = h.borrow();
        let Some(host) = host.as_ref() else { return };
        let msg = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&msg, &"type".into(), &"error".into());
        let _ = js_sys::Reflect::set(&msg, &"message".into(), &message.into());
        let _ = host.window.post_message(&msg, &host.origin);
    });
}
