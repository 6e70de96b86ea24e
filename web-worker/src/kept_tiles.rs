//! The compressed label tiles of the last run, kept so that its GeoTIFF and polygons can be
//! written (again, after merges) without labelling it again.
//!
//! Tiles labelled by the pool's helpers stay in `Blob`s, one per unit (made by the helper, or
//! by the worker when a core is free for it): the browser keeps a `Blob`'s bytes outside this tab's memory (on disk when they are
//! many), so the worker's WebAssembly memory, which never shrinks, does not grow by the size
//! of the output. An export reads them back. Tiles labelled by the worker itself stay in its
//! memory.

use std::borrow::Cow;

use engine::geotiff::EncodedTile;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, FileReaderSync};

use web::tile_index::{TileIndex, TilePlace};
use web::transport::js_error_text;

#[derive(Debug)]
pub enum KeptTiles {
    /// In raster order.
    Memory(Vec<EncodedTile>),
    /// The helpers' `Blob`s, one per unit, in the order `index` has them.
    Blobs { index: TileIndex, blobs: Vec<Blob> },
}

impl KeptTiles {
    /// No tiles yet, to be added unit by unit ([`Self::add`]).
    pub fn blobs() -> Self {
        Self::Blobs {
            index: TileIndex::default(),
            blobs: Vec::new(),
        }
    }

    /// Adds a unit's tiles: `file` (a `Blob`, or bytes put into one here) holds those of
    /// `places`, one after the other.
    pub fn add(&mut self, file: JsValue, places: &[TilePlace]) -> Result<(), String> {
        let Self::Blobs { index, blobs } = self else {
            return Err("the tiles of this run are kept in memory".to_owned());
        };
        let blob = match file.dyn_into::<Blob>() {
            Ok(blob) => blob,
            Err(file) => {
                let bytes: Uint8Array = file
                    .dyn_into()
                    .map_err(|_| "a labelled unit came without its tiles".to_owned())?;
                Blob::new_with_u8_array_sequence(&Array::of1(&bytes))
                    .map_err(|e| format!("cannot keep the labelled tiles: {}", js_error_text(&e)))?
            }
        };
        index
            .add_part(places, blob.size() as usize)
            .ok_or_else(|| "a labelled unit came back incomplete".to_owned())?;
        blobs.push(blob);
        Ok(())
    }

    /// Every tile, in raster order (read back from the `Blob`s where they are kept there).
    pub fn load(&self) -> Result<Cow<'_, [EncodedTile]>, String> {
        let (index, blobs) = match self {
            Self::Memory(tiles) => return Ok(Cow::Borrowed(tiles)),
            Self::Blobs { index, blobs } => (index, blobs),
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
/// which puts them into a `Blob`).
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

/// A `Blob` of the bytes of `tiles`, one after the other, copied from this worker's memory
/// straight into the browser's.
pub fn tiles_blob(tiles: &[EncodedTile]) -> Result<Blob, String> {
    // Views of this worker's memory, read by the `Blob` constructor below before anything
    // allocates in it again (a growing memory would leave the views empty).
    let memory = wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer();
    let parts = Array::new();
    for tile in tiles {
        let at = tile.bytes.as_ptr() as usize as u32;
        let len = tile.bytes.len() as u32;
        parts.push(&Uint8Array::new_with_byte_offset_and_length(
            &memory, at, len,
        ));
    }
    Blob::new_with_u8_array_sequence(&parts)
        .map_err(|e| format!("cannot keep the labelled tiles: {}", js_error_text(&e)))
}
