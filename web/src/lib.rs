//! Mapseg's web app.
//!
//! Two WebAssembly programs are built by trunk:
//!
//! - `web` (the page, this crate): a leptos client-side app ([`app`]) with the file panel, the
//!   controls, the map view, the legend and the downloads. It never touches pixels of the
//!   raster itself, and links neither burn nor wgpu.
//! - `worker` (the `web-worker` crate, a dedicated Web Worker): opens the user's `File` through
//!   `FileReaderSync` and `Blob.slice` (so a raster larger than memory is read chunk by chunk),
//!   runs the engine's segmentation (K-Means or the CNN, on WebGPU or the CPU) and sends back
//!   previews, statistics and the label GeoTIFF.
//!
//! They talk through the serde messages of [`protocol`], sent by [`transport`]; arrays of
//! numbers between workers go as bytes ([`packed`]), and the label tiles of a run are kept by
//! unit and put back in raster order ([`tile_index`]). The settings of a run live in the
//! page's URL query ([`url_state`]), so a link reproduces a run. A host that embeds the app
//! (a framing page, QGIS) talks to it in the messages of [`embedding`].

pub mod embedding;
pub mod format;
pub mod packed;
pub mod protocol;
pub mod tile_index;
pub mod url_state;

#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
pub mod transport;
