//! The compressed label tiles of the last run, kept so that its GeoTIFF and polygons can be
//! written (again, after merges) without labelling it again.
//!
//! Tiles labelled by the pool's helpers come back as bytes, one array per unit, and go into
//! `Blob`s a few MiB at a time: the browser keeps a `Blob`'s bytes outside this tab's memory
//! (on disk when they are many), so the worker's WebAssembly memory, which never shrinks, does
//! not grow by the size of the output, and making a `Blob` costs a round trip to the browser
//! whatever its size, so one per unit would cost a millisecond each. An export reads them back.
//! Tiles labelled by the worker itself stay in its memory.

use std::borrow::Cow;

use engine::geotiff::EncodedTile;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, FileReaderSync};

use web::tile_index::{TileIndex, TilePlace};
use web::transport::js_error_text;

/// Bytes of units' tiles that wait in this worker's JavaScript memory before they go into one
/// `Blob` together.
const BLOB_BYTES: usize = 4 << 20;

#[derive(Debug)]
pub enum KeptTiles {
    /// In raster order.
    Memory(Vec<EncodedTile>),
    /// The helpers' tiles in `Blob`s and, the last few units', in arrays waiting to join
    /// them (`pending`, `pending_bytes` bytes), in the order `index` has them.
    Blobs {
        index: TileIndex,
        blobs: Vec<Blob>,
        pending: Array,
        pending_bytes: usize,
    },
}

impl KeptTiles {
    /// No tiles yet, to be added unit by unit ([`Self::add`]).
    pub fn blobs() -> Self {
        Self::Blobs {
            index: TileIndex::default(),
            blobs: Vec::new(),
            pending: Array::new(),
            pending_bytes: 0,
        }
    }

    /// Adds a unit's tiles: `bytes` holds those of `places`, one after the other.
    pub fn add(&mut self, bytes: JsValue, places: &[TilePlace]) -> Result<(), String> {
        let Self::Blobs {
            index,
            blobs,
            pending,
            pending_bytes,
        } = self
        else {
            return Err("the tiles of this run are kept in memory".to_owned());
        };
        let bytes: Uint8Array = bytes
            .dyn_into()
            .map_err(|_| "a labelled unit came without its tiles".to_owned())?;
        let len = bytes.length() as usize;
        index
            .add_part(places, len)
            .ok_or_else(|| "a labelled unit came back incomplete".to_owned())?;
        pending.push(&bytes);
        *pending_bytes += len;
        if *pending_bytes >= BLOB_BYTES {
            let blob = Blob::new_with_u8_array_sequence(pending)
                .map_err(|e| format!("cannot keep the labelled tiles: {}", js_error_text(&e)))?;
            blobs.push(blob);
            *pending = Array::new();
            *pending_bytes = 0;
        }
        Ok(())
    }

    /// Every tile, in raster order (read back from the `Blob`s where they are kept there).
    pub fn load(&self) -> Result<Cow<'_, [EncodedTile]>, String> {
        let (index, blobs, pending) = match self {
            Self::Memory(tiles) => return Ok(Cow::Borrowed(tiles)),
            Self::Blobs {
                index,
                blobs,
                pending,
                ..
            } => (index, blobs, pending),
        };
        let failed = |e: JsValue| {
            format!(
                "the result's tiles could not be read back: {}",
                js_error_text(&e)
            )
        };
        let parts = Array::new();
        for blob in blobs {
            parts.push(blob);
        }
        for bytes in pending.iter() {
            parts.push(&bytes);
        }
        let all = Blob::new_with_blob_sequence(&parts).map_err(failed)?;
        let buffer = FileReaderSync::new()
            .map_err(failed)?
            .read_as_array_buffer(&all)
            .map_err(failed)?;
        let bytes = Uint8Array::new(&buffer);
        if bytes.length() as usize != index.byte_len() {
            return Err(format!(
                "the result's tiles could not be read back: {} of {} bytes came",
                bytes.length(),
                index.byte_len()
            ));
        }
        let tiles = index.tiles(|at, len| {
            let mut tile = vec![0; len];
            bytes
                .subarray(at as u32, (at + len) as u32)
                .copy_to(&mut tile);
            Some(tile)
        });
        tiles
            .map(Cow::Owned)
            .ok_or_else(|| "the result's tiles could not be read back".to_owned())
    }
}

/// The bytes of `tiles`, one after the other, in a new buffer (to transfer to the worker,
/// which keeps them in a `Blob`).
pub fn tiles_bytes(tiles: &[EncodedTile]) -> Uint8Array {
    let total = tiles.iter().map(|t| t.bytes.len()).sum::<usize>();
    let bytes = Uint8Array::new_with_length(total as u32);
    let mut at = 0;
    for tile in tiles {
        bytes
            .subarray(at, at + tile.bytes.len() as u32)
            .copy_from(&tile.bytes);
        at += tile.bytes.len() as u32;
    }
    bytes
}
