//! Dataset headers, pairing, seeded splits, shard building, shard validation and IoU evaluation
//! for Mapseg.
//!
//! The library holds everything the `shard-tools` command does, so that other crates (the
//! trainer) can call the same code:
//!
//! - [`header`]: the dataset header YAML: schema, strict parsing, validation, templates.
//! - [`pairing`]: which input raster goes with which target raster.
//! - [`split`]: deterministic, seeded split assignment with a metrics holdout.
//! - [`plan`]: what a build will write: items, windows, splits and shards.
//! - [`build`]: writes the shard tree, resumably and without deleting foreign files.
//! - [`init`]: a header generated from a folder of inputs and a folder of targets.
//! - [`index`]: the records a shard tree is made of (`index.jsonl`, `shard.json`, the summary).
//! - [`validate`]: checks a shard tree against its index.
//! - [`eval`]: cluster-to-class matched IoU, per-class IoU, pixel accuracy, confusion matrix.
//!
//! Raster I/O goes through `engine::geotiff` (see [`rio`]).

#![warn(missing_docs)]

pub mod build;
pub mod eval;
pub mod fsutil;
pub mod header;
pub mod index;
pub mod init;
pub mod pairing;
pub mod plan;
pub mod rio;
pub mod split;
pub mod validate;
