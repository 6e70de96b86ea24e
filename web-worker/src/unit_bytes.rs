//! The file's bytes of the units the pool's helpers label, read by the worker while the
//! helpers work.
//!
//! A helper's reads only progress while its thread waits, so a helper that reads its own
//! bytes idles between two units. When a core is free for the worker while the helpers label
//! (a pool smaller than the machine's cores), the worker reads the bytes of a helper's next
//! unit while the helper labels its current one, and sends them with the job (transferred,
//! not copied). When the helpers take every core, the worker's reads would only take time
//! from them, and each helper reads for itself.
//!
//! What a helper needs is what its reader lacks: the chunks of the unit's input window but
//! for those of the previous unit it labelled, which its chunk cache still holds (its run of
//! units goes down a column, [`crate::run`]). Whatever is missed (a chunk the cache dropped)
//! the helper reads itself, so a wrong guess only costs time.

use std::cell::Cell;
use std::rc::Rc;

use engine::geotiff::GeoTiffReader;
use engine::raster::Window;
use js_sys::{Array, Uint8Array};
use web_sys::Blob;

use crate::blob_reader::BlobReader;
use crate::byte_stream::read_range_into_new;

/// Ranges read at once: a read costs a round trip to the browser's file service.
const CONCURRENT_READS: usize = 4;

/// What the worker reads for each helper.
#[derive(Debug)]
pub struct UnitBytes {
    blob: Blob,
    /// Per helper, the input window of the last unit it was sent.
    last: Vec<Option<Window>>,
    /// Whether the browser reads a `Blob` into a given buffer (else the helpers read).
    byob: Rc<Cell<bool>>,
}

/// The bytes of one unit: its ranges, and the array of byte arrays and their buffers that go
/// beside the job.
pub struct Fetched {
    pub ranges: Vec<(u64, usize)>,
    pub bytes: Array,
    pub buffers: Array,
}

impl UnitBytes {
    pub fn new(blob: Blob, helpers: usize) -> Self {
        Self {
            blob,
            last: vec![None; helpers],
            byob: Rc::new(Cell::new(true)),
        }
    }

    /// The ranges helper `helper` reads for a unit whose input window is `window` (level 0;
    /// `None`: not known, nothing is read for it), taking that unit as its last.
    pub fn plan(
        &mut self,
        reader: &GeoTiffReader<BlobReader>,
        helper: usize,
        window: Option<Window>,
    ) -> Vec<(u64, usize)> {
        let Some(last) = self.last.get_mut(helper) else {
            return Vec::new();
        };
        let held = std::mem::replace(last, window);
        match window {
            Some(window) if self.byob.get() => {
                reader.ranges_after(0, window, held).unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }

    /// Reads `ranges` (a few at once); empty arrays where the browser cannot read into a
    /// buffer of the worker's choosing.
    pub fn fetch(
        &self,
        ranges: Vec<(u64, usize)>,
    ) -> impl Future<Output = Result<Fetched, String>> + use<> {
        let (blob, byob) = (self.blob.clone(), Rc::clone(&self.byob));
        async move {
            let (bytes, buffers) = (Array::new(), Array::new());
            let mut read = Vec::with_capacity(ranges.len());
            for wave in ranges.chunks(CONCURRENT_READS) {
                if !byob.get() {
                    break;
                }
                let reads = wave
                    .iter()
                    .map(|&(offset, len)| read_range_into_new(&blob, offset, len));
                for (range, done) in wave.iter().zip(futures_util::future::join_all(reads).await) {
                    match done? {
                        Some(array) => {
                            buffers.push(&array.buffer());
                            bytes.push(&array);
                            read.push(*range);
                        }
                        None => byob.set(false),
                    }
                }
            }
            if !byob.get() {
                return Ok(Fetched {
                    ranges: Vec::new(),
                    bytes: Array::new(),
                    buffers: Array::new(),
                });
            }
            Ok(Fetched {
                ranges: read,
                bytes,
                buffers,
            })
        }
    }
}

/// The staged ranges of a `Label` job with the byte arrays beside it, paired; `None` when they
/// do not match (the helper then reads for itself).
pub fn received(
    ranges: &[(u64, usize)],
    file: Option<&wasm_bindgen::JsValue>,
) -> Option<Vec<(u64, Uint8Array)>> {
    use wasm_bindgen::JsCast;
    let arrays: &Array = file?.dyn_ref()?;
    if arrays.length() as usize != ranges.len() {
        return None;
    }
    ranges
        .iter()
        .zip(arrays.iter())
        .map(|(&(offset, len), value)| {
            let bytes: Uint8Array = value.dyn_into().ok()?;
            (bytes.length() as usize == len).then_some((offset, bytes))
        })
        .collect()
}
