//! Fits and labels a small raster with fuzzed segmentation parameters, like the web worker and
//! like the CLI.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mapseg_fuzz::check_pipeline(data));
