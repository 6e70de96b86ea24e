//! Mapseg's engine: everything between the bytes of a GeoTIFF and a georeferenced label raster.
//!
//! The engine never touches files, threads, clocks or the network. Callers hand it readers and
//! writers (`Read + Seek`, `Write + Seek`) and a [`progress::Progress`] handle; it returns values.
//! It compiles for `wasm32-unknown-unknown` and for native targets alike.
//!
//! - [`geotiff`]: windowed GeoTIFF/BigTIFF decoding, georeferencing, tile-streamed encoding.
//! - [`pipeline`]: a segmentation run whatever the method: parameters, the
//!   [`pipeline::Segmenter`] seam, the unit driver and its sinks, the label raster's options.
//! - [`kmeans`]: the K-Means method ([`kmeans::model`]) and its clustering kernels.
//! - [`cnn`]: the CNN method (network, model artifacts, band roles; burn behind the `cnn`
//!   feature).
//! - [`normalise`], [`features`], [`sample`], [`smoothing`]: the stages of a run.
//! - [`stats`], [`labels`], [`manifest`]: what a run reports.
//! - [`naming`]: suggested class names from each class's spectral signature.
//! - [`polygons`]: the label raster as simplified class polygons (FlatGeobuf, GeoJSON).
//! - [`preview`]: display images (decimated or overview reads, label previews, colouring).

pub mod cnn;
pub mod features;
pub mod geotiff;
pub mod kmeans;
pub mod labels;
pub mod manifest;
pub mod naming;
pub mod normalise;
pub mod pipeline;
pub mod polygons;
pub mod preview;
pub mod progress;
pub mod raster;
pub mod relabel;
pub mod sample;
pub mod smoothing;
pub mod stats;
