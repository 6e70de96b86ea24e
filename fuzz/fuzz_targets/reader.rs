//! Opens arbitrary bytes (or a structure-aware TIFF description) as a GeoTIFF, describes it,
//! renders the web app's preview and decodes windows of every level.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mapseg_fuzz::check_reader(data));
