//! The `postMessage` transport: the window that framed the app (`window.parent`) or opened it
//! (`window.opener`) sends structured-cloned messages; a result's GeoTIFF goes back as a
//! transferred `ArrayBuffer` (`geotiff`).

use serde::Serialize;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Window};

use super::{HostLink, property};
use crate::app::{AppState, dom};
use crate::embedding::{BufferField, GeoTiffField, OpenFields, ToHost};

/// A host window and the origin messages to it are addressed to (`*` when unknown).
#[derive(Debug, Clone)]
pub struct WindowHost {
    window: Window,
    origin: String,
}

impl WindowHost {
    /// Posts `message`; a result's GeoTIFF is transferred, not copied.
    pub fn send(&self, message: &ToHost<'_>) {
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        let value = match message.wire(GeoTiffField::Beside).serialize(&serializer) {
            Ok(value) => value,
            Err(e) => {
                web_sys::console::error_1(&JsValue::from_str(&e.to_string()));
                return;
            }
        };
        let transfer = js_sys::Array::new();
        if let ToHost::Result(result) = message {
            let buffer = js_sys::Uint8Array::from(result.geotiff).buffer();
            let _ = js_sys::Reflect::set(&value, &"geotiff".into(), &buffer);
            transfer.push(&buffer);
        }
        if let Err(e) = self
            .window
            .post_message_with_transfer(&value, &self.origin, &transfer)
        {
            web_sys::console::error_1(&e);
        }
    }
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

/// Listens to messages from the host windows and says `{type: 'ready'}` to them.
pub fn listen(state: AppState) {
    let Some(w) = dom::window() else { return };
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        receive(state, &event);
    });
    let _ = w.add_event_listener_with_callback("message", handler.as_ref().unchecked_ref());
    handler.forget();
    for window in hosts(&w) {
        let host = WindowHost {
            window,
            origin: "*".to_owned(),
        };
        host.send(&ToHost::Ready);
    }
}

/// Handles one `message` event: an `open` from a host window opens its raster; anything else
/// is ignored.
fn receive(state: AppState, event: &MessageEvent) {
    let Some(w) = dom::window() else { return };
    // The host's window comes from another realm (see `hosts`): compared by identity.
    let Some(source) = event.source().map(|s| s.unchecked_into::<Window>()) else {
        return;
    };
    if !hosts(&w).iter().any(|h| js_sys::Object::is(h, &source)) {
        return;
    }
    let data = event.data();
    if property(&data, "type")
        .and_then(|t| t.as_string())
        .as_deref()
        != Some("open")
    {
        return;
    }
    let link = HostLink::Window(WindowHost {
        window: source,
        origin: Some(event.origin())
            .filter(|o| o != "null")
            .unwrap_or_else(|| "*".to_owned()),
    });
    let buffer = property(&data, "buffer");
    super::open(state, link, &open_fields(&data, buffer.is_some()), buffer);
}

/// The fields of an `open` message object (non-string and empty texts count as absent).
fn open_fields(data: &JsValue, has_buffer: bool) -> OpenFields {
    let text = |key: &str| {
        property(data, key)
            .and_then(|v| v.as_string())
            .filter(|s| !s.is_empty())
    };
    OpenFields {
        name: text("name"),
        url: text("url"),
        base64: text("base64"),
        buffer: if has_buffer {
            BufferField::Present
        } else {
            BufferField::Absent
        },
        autorun: property(data, "autorun").is_some_and(|a| a.is_truthy()),
    }
}
