//! The Qt transport: the app is the page of a `QWebEngineView` (the QGIS plugin) whose
//! `QWebChannel` holds one object, `mapsegHost`, and which injected Qt's `qwebchannel.js` into
//! the page, so `window.QWebChannel` and `window.qt.webChannelTransport` exist.
//!
//! Every message is the JSON text of an embedding message: the host emits the object's signal
//! `message(text)`, the app calls its slot `post(text)`. A result's GeoTIFF travels as standard
//! base64 in `geotiff_base64`.

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::{HostLink, property, warn};
use crate::app::{AppState, dom};
use crate::embedding::{FromHost, ToHost, parse_host_message};

/// The name of the host's object in the channel.
const OBJECT: &str = "mapsegHost";

/// The host's `mapsegHost` object and its slot `post`.
#[derive(Debug, Clone)]
pub struct QtHost {
    object: JsValue,
    post: Function,
    /// A callback that ignores `post`'s (void) answer: with a callback, `qwebchannel.js` makes
    /// no `Promise` that could be rejected unhandled.
    ignore_answer: JsValue,
}

impl QtHost {
    /// `object` as a host, if it has a `post` method.
    fn new(object: JsValue) -> Option<Self> {
        let post = property(&object, "post")?.dyn_into::<Function>().ok()?;
        let ignore_answer = Closure::<dyn Fn(JsValue)>::new(|_: JsValue| {}).into_js_value();
        Some(Self {
            object,
            post,
            ignore_answer,
        })
    }

    /// Calls the slot `post` with the JSON text of `message`.
    pub fn send(&self, message: &ToHost<'_>) {
        let text = match message.to_json() {
            Ok(text) => text,
            Err(e) => {
                web_sys::console::error_1(&JsValue::from_str(&e));
                return;
            }
        };
        if let Err(e) =
            self.post
                .call2(&self.object, &JsValue::from_str(&text), &self.ignore_answer)
        {
            web_sys::console::error_1(&e);
        }
    }
}

/// Opens Qt's web channel when the page has its transport. `postMessage` keeps working
/// whatever happens here.
pub fn connect(state: AppState) {
    let Some(w) = dom::window() else { return };
    let Some(transport) = property(&w, "qt").and_then(|qt| property(&qt, "webChannelTransport"))
    else {
        return;
    };
    let Some(channel_class) =
        property(&w, "QWebChannel").and_then(|c| c.dyn_into::<Function>().ok())
    else {
        warn(
            "the page has Qt's web channel transport but no QWebChannel: the host did not \
             inject qwebchannel.js (only postMessage is used)",
        );
        return;
    };
    let on_channel = Closure::once_into_js(move |channel: JsValue| attach(state, &channel));
    if let Err(e) = Reflect::construct(&channel_class, &Array::of2(&transport, &on_channel)) {
        warn(&format!(
            "could not open the QWebChannel: {}",
            crate::transport::js_error_text(&e)
        ));
    }
}

/// Takes the channel's `mapsegHost`, listens to its signal `message` and says ready.
fn attach(state: AppState, channel: &JsValue) {
    let Some(object) = property(channel, "objects").and_then(|o| property(&o, OBJECT)) else {
        warn(&format!(
            "the QWebChannel has no object `{OBJECT}` (only postMessage is used)"
        ));
        return;
    };
    let Some(host) = QtHost::new(object.clone()) else {
        warn(&format!(
            "`{OBJECT}` has no slot `post` (only postMessage is used)"
        ));
        return;
    };
    let Some((signal, connect)) = property(&object, "message").and_then(|signal| {
        let connect = property(&signal, "connect")?.dyn_into::<Function>().ok()?;
        Some((signal, connect))
    }) else {
        warn(&format!(
            "`{OBJECT}` has no signal `message` (only postMessage is used)"
        ));
        return;
    };
    let receiver = host.clone();
    let handler = Closure::<dyn FnMut(JsValue)>::new(move |text: JsValue| {
        receive(state, &receiver, &text);
    });
    if let Err(e) = connect.call1(&signal, handler.as_ref()) {
        web_sys::console::error_1(&e);
        return;
    }
    handler.forget();
    host.send(&ToHost::Ready);
}

/// Handles one `message` signal: an `open` opens its raster, other types are ignored, and
/// text that is no message is answered with an error.
fn receive(state: AppState, host: &QtHost, text: &JsValue) {
    let parsed = text
        .as_string()
        .ok_or_else(|| "the host's `message` signal carried no text".to_owned())
        .and_then(|text| parse_host_message(&text));
    match parsed {
        Ok(FromHost::Open(fields)) => {
            super::open(state, HostLink::Qt(host.clone()), &fields, None);
        }
        Ok(FromHost::Other(_)) => {}
        Err(message) => {
            warn(&message);
            host.send(&ToHost::Error(&message));
        }
    }
}
