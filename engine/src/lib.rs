//! Mapseg's engine: everything between the bytes of a GeoTIFF and a georeferenced label raster.
//!
//! The engine never touches files, threads, clocks or the network. Callers hand it readers and
//! writers (`Read + Seek`, `Write + Seek`) and a [`progress::Progress`] handle; it returns values.
//! It compiles for `wasm32-unknown-unknown` and for native targets alike.
//!
//! - [`geotiff`]: windowed GeoTIFF/BigTIFF decoding, georeferencing, tile-streamed encoding.
//! - [`pipeline`]: the K-Means segmentation run ([`pipeline::fit`], [`pipeline::segment`]).
//! - [`features`], [`sample`], [`kmeans`], [`smoothing`]: its stages.
//! - [`stats`], [`labels`], [`manifest`]: what a run reports.
//! - [`preview`]: display images (decimated or overview reads, label previews, colouring).

pub mod features;
pub mod geotiff;
pub mod kmeans;
pub mod labels;
pub mod manifest;
pub mod pipeline;
pub mod preview;
pub mod progress;
pub mod raster;
pub mod sample;
pub mod smoothing;
pub mod stats;
