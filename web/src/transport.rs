//! Posting and receiving [`crate::protocol`] messages as `{ msg, file? }` objects.

use engine::geotiff::EncodedTile;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
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
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
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

/// Where a compressed tile goes and how many of the payload's bytes are its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TilePlace {
    pub column: u32,
    pub row: u32,
    pub len: usize,
}

/// The bytes a worker sends beside a labelled unit: every tile's bytes, then the unit's labels
/// (and the tiles' places and lengths, for the message).
pub fn unit_payload(tiles: &[EncodedTile], labels: &[u8]) -> (Vec<TilePlace>, Vec<u8>) {
    let size = tiles.iter().map(|t| t.bytes.len()).sum::<usize>() + labels.len();
    let mut payload = Vec::with_capacity(size);
    let places = tiles
        .iter()
        .map(|t| {
            payload.extend_from_slice(&t.bytes);
            TilePlace {
                column: t.column,
                row: t.row,
                len: t.bytes.len(),
            }
        })
        .collect();
    payload.extend_from_slice(labels);
    (places, payload)
}

/// The tiles and labels of a labelled unit from its payload ([`unit_payload`]); `None` when the lengths do
/// not add up.
pub fn split_payload(
    places: &[TilePlace],
    labels: usize,
    payload: &[u8],
) -> Option<(Vec<EncodedTile>, Vec<u8>)> {
    let tile_bytes = places
        .iter()
        .try_fold(0usize, |sum, p| sum.checked_add(p.len))?;
    if tile_bytes.checked_add(labels)? != payload.len() {
        return None;
    }
    let mut rest = payload;
    let tiles = places
        .iter()
        .map(|p| {
            let (bytes, tail) = rest.split_at(p.len);
            rest = tail;
            EncodedTile {
                column: p.column,
                row: p.row,
                bytes: bytes.to_vec(),
            }
        })
        .collect();
    Some((tiles, rest.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_splits_into_the_tiles_and_labels_it_was_made_of() {
        let tiles = vec![
            EncodedTile {
                column: 0,
                row: 2,
                bytes: vec![1, 2, 3],
            },
            EncodedTile {
                column: 1,
                row: 2,
                bytes: vec![],
            },
            EncodedTile {
                column: 2,
                row: 2,
                bytes: vec![9; 5],
            },
        ];
        let labels = vec![7u8; 11];
        let (places, payload) = unit_payload(&tiles, &labels);
        assert_eq!(payload.len(), 19);
        let (back, back_labels) = split_payload(&places, labels.len(), &payload).unwrap();
        assert_eq!(back, tiles);
        assert_eq!(back_labels, labels);
        assert!(split_payload(&places, labels.len() + 1, &payload).is_none());
        let lying = [TilePlace {
            column: 0,
            row: 0,
            len: usize::MAX,
        }];
        assert!(split_payload(&lying, 1, &payload).is_none());
    }
}
