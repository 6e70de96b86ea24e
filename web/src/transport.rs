//! Posting and receiving [`crate::protocol`] messages as `{ msg, file? }` objects.

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};

/// A message failed to (de)serialise: a bug, reported like a panic.
#[derive(Debug, thiserror::Error)]
#[error("malformed message: {0}")]
pub struct TransportError(String);

/// Builds the `{ msg, file? }` object for `postMessage`.
pub fn envelope(msg: &impl Serialize, file: Option<&JsValue>) -> Result<JsValue, TransportError> {
    envelope_as("msg", msg, file)
}

/// Reads the message and the optional `file` of an envelope.
pub fn open<T: DeserializeOwned>(data: &JsValue) -> Result<(T, Option<JsValue>), TransportError> {
    open_as("msg", data)
}

/// Builds the `{ <key>, file? }` object for `postMessage`: the message under `key`, so one
/// receiver can tell apart conversations that share its message handler.
pub fn envelope_as(
    key: &str,
    msg: &impl Serialize,
    file: Option<&JsValue>,
) -> Result<JsValue, TransportError> {
    // Bytes (`web::packed`) as one `Uint8Array`, not one JavaScript number per byte.
    let serializer =
        serde_wasm_bindgen::Serializer::json_compatible().serialize_bytes_as_arrays(false);
    let value = msg
        .serialize(&serializer)
        .map_err(|e| TransportError(e.to_string()))?;
    let object = js_sys::Object::new();
    set(&object, key, &value)?;
    if let Some(file) = file {
        set(&object, "file", file)?;
    }
    Ok(object.into())
}

/// Reads the message under `key` and the optional `file` of an envelope.
pub fn open_as<T: DeserializeOwned>(
    key: &str,
    data: &JsValue,
) -> Result<(T, Option<JsValue>), TransportError> {
    let msg = js_sys::Reflect::get(data, &key.into()).map_err(describe)?;
    let msg = serde_wasm_bindgen::from_value(msg).map_err(|e| TransportError(e.to_string()))?;
    let file = js_sys::Reflect::get(data, &"file".into())
        .ok()
        .filter(|f| !f.is_undefined() && !f.is_null());
    Ok((msg, file))
}

fn set(object: &js_sys::Object, key: &str, value: &JsValue) -> Result<(), TransportError> {
    js_sys::Reflect::set(object, &key.into(), value)
        .map(|_| ())
        .map_err(describe)
}

/// The text of a JavaScript exception.
pub fn describe(error: JsValue) -> TransportError {
    TransportError(js_error_text(&error))
}

/// The message of a JavaScript error value, or its string form.
pub fn js_error_text(error: &JsValue) -> String {
    if let Some(e) = error.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}
