//! Interprets arbitrary georeferencing tags and calls every accessor of the result.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mapseg_fuzz::check_georef(data));
