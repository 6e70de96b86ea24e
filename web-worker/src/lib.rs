//! The Web Worker program of Mapseg's web app: owns the user's raster and runs the engine off
//! the page's thread, on WebGPU through burn or on the CPU.
//!
//! - [`worker`]: the message loop, one job at a time (open, preview, run, export, backend).
//! - [`backend`]: WebGPU or the CPU; [`model`]: the CNN's model from the app's origin.
//! - [`run`]: one segmentation run, with the CPU taking over from a failed GPU; [`kept_tiles`]:
//!   its label tiles, kept (in the helpers' `Blob`s) for the downloads.
//! - [`pool`]: helpers (more instances of this program) that read and label in parallel.
//! - [`blob_reader`]: `Read + Seek` over the `File`, chunk by chunk, with ranges fetched ahead
//!   through [`byte_stream`] (reads into one reused buffer); [`hashing`]: the file's hash for
//!   the manifest, in the background.
//!
//! It is its own crate so that only the worker's WebAssembly links burn and wgpu: the page
//! (`web`) builds the engine without them. Two programs are built from it: `worker` (WebGPU,
//! burn's flex CPU backend; for browsers with WebAssembly SIMD) and `worker_legacy` (feature
//! `legacy`: burn's ndarray CPU backend and no WebGPU, for Chromium 87 / QtWebEngine 5.15, which
//! refuse SIMD code). `worker_loader.js` picks one.

#[cfg(target_arch = "wasm32")]
mod backend;
#[cfg(target_arch = "wasm32")]
mod blob_reader;
#[cfg(target_arch = "wasm32")]
mod byte_stream;
#[cfg(target_arch = "wasm32")]
mod hashing;
#[cfg(target_arch = "wasm32")]
mod kept_tiles;
#[cfg(target_arch = "wasm32")]
mod model;
#[cfg(target_arch = "wasm32")]
mod pool;
#[cfg(target_arch = "wasm32")]
mod run;
#[cfg(target_arch = "wasm32")]
mod unit_bytes;
#[cfg(target_arch = "wasm32")]
mod warm_up;
#[cfg(target_arch = "wasm32")]
mod worker;

#[cfg(target_arch = "wasm32")]
pub use worker::start;
