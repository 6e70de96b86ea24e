//! Encoding: what the writer produces reads back identically with our reader, and GDAL
//! (`gdalinfo -json`, which must be installed) reports the input's CRS and geotransform, the
//! colour table, nodata, metadata and a 256×256 tiled Deflate layout.

#![allow(clippy::unwrap_used)]

mod geotiff_support;

use std::io::Cursor;
use std::process::Command;

use engine::geotiff::{
    Compression, EncodeError, GeoReference, GeoTiffReader, GeoTiffWriter, Layout, Photometric,
    TILE_SIZE, WriterOptions,
};
use engine::raster::{SampleType, Samples, Window};
use geotiff_support::{XorShift, gdal_json, open};
use serde_json::Value;

/// Writes `samples` (the whole raster) strip by strip.
fn write(options: WriterOptions, samples: &Samples) -> Vec<u8> {
    let (width, bands) = (options.width as usize, options.bands);
    let mut writer = GeoTiffWriter::new(Cursor::new(Vec::new()), options.clone()).unwrap();
    let strip_len = TILE_SIZE as usize * width * bands;
    for start in (0..samples.len()).step_by(strip_len) {
        let end = (start + strip_len).min(samples.len());
        writer.write_strip(&samples.slice(start..end)).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn random_samples(sample_type: SampleType, len: usize, seed: u64) -> Samples {
    let mut rng = XorShift(seed);
    let mut next = || rng.next_u64();
    match sample_type {
        SampleType::U8 => Samples::U8((0..len).map(|_| next() as u8).collect()),
        SampleType::U16 => Samples::U16((0..len).map(|_| next() as u16).collect()),
        SampleType::I16 => Samples::I16((0..len).map(|_| next() as i16).collect()),
        SampleType::U32 => Samples::U32((0..len).map(|_| next() as u32).collect()),
        SampleType::F32 => Samples::F32(
            (0..len)
                .map(|_| (next() as u32) as f32 / 7.0 - 1e8)
                .collect(),
        ),
        SampleType::F64 => Samples::F64((0..len).map(|_| next() as f64 / 3.0 - 1e18).collect()),
    }
}

fn read_all(bytes: Vec<u8>) -> (GeoTiffReader<Cursor<Vec<u8>>>, Samples) {
    let mut reader = GeoTiffReader::open(Cursor::new(bytes)).unwrap();
    let (width, height) = (reader.info().width, reader.info().height);
    let block = reader
        .read_window(Window::new(0, 0, width, height))
        .unwrap();
    (reader, block.samples)
}

#[test]
fn every_sample_type_and_band_count_reads_back_identically() {
    let cases = [
        (SampleType::U8, 1, 300, 270),
        (SampleType::U8, 3, 257, 513),
        (SampleType::U8, 4, 100, 40),
        (SampleType::U16, 2, 511, 256),
        (SampleType::I16, 1, 256, 257),
        (SampleType::U32, 1, 70, 300),
        (SampleType::F32, 5, 260, 30),
        (SampleType::F64, 1, 33, 280),
    ];
    for (seed, (sample_type, bands, width, height)) in cases.into_iter().enumerate() {
        let samples = random_samples(
            sample_type,
            width as usize * height as usize * bands,
            seed as u64 + 1,
        );
        let bytes = write(
            WriterOptions::new(width, height, bands, sample_type),
            &samples,
        );
        let (reader, decoded) = read_all(bytes);
        let info = reader.info();
        let what = format!("{sample_type} × {bands} bands, {width}x{height}");
        assert_eq!(decoded, samples, "{what}");
        assert_eq!(
            info.layout,
            Layout::Tiles {
                width: TILE_SIZE,
                height: TILE_SIZE
            },
            "{what}"
        );
        assert_eq!(info.compression, Compression::Deflate, "{what}");
        assert_eq!(info.sample_type, sample_type, "{what}");
        let photometric = if sample_type == SampleType::U8 && bands >= 3 {
            Photometric::Rgb
        } else {
            Photometric::MinIsBlack
        };
        assert_eq!(info.photometric, photometric, "{what}");
        assert_eq!(info.alpha_band, None, "{what}");
        assert!(info.georef.is_none() && !info.big_tiff, "{what}");
    }
}

/// A label raster for the grid of `source`, carrying its georeferencing.
fn label_options(source: &str) -> (WriterOptions, Samples) {
    let reader = open(source);
    let info = reader.info();
    let mut options = WriterOptions::new(info.width, info.height, 1, SampleType::U8);
    options.georef = info.georef.clone();
    options.nodata = Some(255.0);
    options.palette = Some(vec![[0, 0, 255], [34, 139, 34], [200, 180, 120]]);
    options.metadata = vec![
        ("MAPSEG_CLASS_1".into(), "water & <wet> \"sand\"".into()),
        ("MAPSEG_K".into(), "3".into()),
    ];
    options.band_descriptions = vec!["land cover".into()];
    let labels = (0..info.width as usize * info.height as usize)
        .map(|i| [0, 1, 2, 255][i % 7 % 4])
        .collect();
    (options, Samples::U8(labels))
}

#[test]
fn label_raster_reads_back_with_our_reader() {
    let (options, labels) = label_options("real/OSBS_029.tif");
    let (reader, decoded) = read_all(write(options.clone(), &labels));
    let info = reader.info();
    assert_eq!(decoded, labels);
    assert_eq!(info.photometric, Photometric::Palette);
    assert_eq!(info.nodata, Some(255.0));
    assert_eq!(info.georef, options.georef);
    let metadata = info.gdal_metadata.as_deref().unwrap();
    let escaped_twice = "water &amp;amp; &amp;lt;wet&amp;gt; &amp;quot;sand&amp;quot;";
    assert!(
        metadata.contains(&format!(
            r#"<Item name="MAPSEG_CLASS_1">{escaped_twice}</Item>"#
        )),
        "{metadata}"
    );
    assert!(
        metadata.contains(
            r#"<Item name="DESCRIPTION" sample="0" role="description">land cover</Item>"#
        )
    );
}

#[test]
fn gdal_reads_our_output_with_the_input_crs_and_geotransform() {
    for (source, gdal_name) in [
        ("real/OSBS_029.tif", "real_OSBS_029"),
        ("real/L7_ETMs.tif", "real_L7_ETMs"),
        (
            "gdal/rgb_point_deflate_strips.tif",
            "rgb_point_deflate_strips",
        ),
        ("gdal/pan_rotated_lzw_strips.tif", "pan_rotated_lzw_strips"),
        ("gdal/geographic_4326.tif", "geographic_4326"),
        (
            "gdal/user_defined_tmerc_ftus.tif",
            "user_defined_tmerc_ftus",
        ),
    ] {
        let (options, labels) = label_options(source);
        let output = gdalinfo(&write(options.clone(), &labels));
        let input = gdal_json(gdal_name);
        assert_eq!(
            output["coordinateSystem"]["wkt"], input["coordinateSystem"]["wkt"],
            "{source}: CRS"
        );
        assert_eq!(
            output["geoTransform"], input["geoTransform"],
            "{source}: geotransform"
        );
        assert_eq!(
            output["metadata"][""]["AREA_OR_POINT"], input["metadata"][""]["AREA_OR_POINT"],
            "{source}"
        );
        check_label_raster(source, &output, &options);
    }
}

fn check_label_raster(source: &str, output: &Value, options: &WriterOptions) {
    let band = &output["bands"][0];
    assert_eq!(
        band["block"],
        serde_json::json!([TILE_SIZE, TILE_SIZE]),
        "{source}: tiles"
    );
    assert_eq!(
        output["metadata"]["IMAGE_STRUCTURE"]["COMPRESSION"], "DEFLATE",
        "{source}: compression"
    );
    assert_eq!(band["noDataValue"], 255.0, "{source}: nodata");
    assert_eq!(band["colorInterpretation"], "Palette", "{source}");
    let entries = band["colorTable"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 256, "{source}: colour table");
    for (entry, rgb) in entries.iter().zip(options.palette.as_ref().unwrap()) {
        assert_eq!(
            entry,
            &serde_json::json!([rgb[0], rgb[1], rgb[2], 255]),
            "{source}: colour"
        );
    }
    assert_eq!(
        entries[3],
        serde_json::json!([0, 0, 0, 255]),
        "{source}: unused colours are black"
    );
    let metadata = &output["metadata"][""];
    for (key, value) in &options.metadata {
        assert_eq!(metadata[key], value.as_str(), "{source}: metadata {key}");
    }
    assert_eq!(
        band["description"], "land cover",
        "{source}: band description"
    );
}

/// `gdalinfo -json` of a GeoTIFF held in memory.
fn gdalinfo(tiff: &[u8]) -> Value {
    let file = tempfile::Builder::new().suffix(".tif").tempfile().unwrap();
    std::fs::write(file.path(), tiff).unwrap();
    let output = Command::new("gdalinfo")
        .arg("-json")
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("this test needs GDAL's gdalinfo on the PATH (install gdal-bin): {e}");
        });
    assert!(
        output.status.success(),
        "gdalinfo failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn window_georeference_is_what_gdal_reports_for_a_written_window() {
    let reader = open("real/L7_ETMs.tif");
    let georef = reader.info().georef.clone().unwrap();
    let window = Window::new(100, 37, 50, 20);
    let mut options = WriterOptions::new(window.width, window.height, 1, SampleType::U8);
    options.georef = Some(georef.for_window(window));
    let output = gdalinfo(&write(options, &Samples::U8(vec![7; window.len()])));
    let transform: Vec<f64> = output["geoTransform"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (x, y) = georef.transform.apply(100.0, 37.0);
    assert!(
        (transform[0] - x).abs() < 1e-6 && (transform[3] - y).abs() < 1e-6,
        "{transform:?}"
    );
    assert_eq!(&transform[1..3], &georef.transform.0[1..3]);
}

#[test]
fn misuse_is_reported() {
    let options = WriterOptions::new(300, 300, 1, SampleType::U8);
    let mut writer = GeoTiffWriter::new(Cursor::new(Vec::new()), options.clone()).unwrap();
    let err = writer
        .write_strip(&Samples::U16(vec![0; 300 * 256]))
        .unwrap_err();
    assert!(matches!(err, EncodeError::StripMismatch { .. }), "{err}");
    writer
        .write_strip(&Samples::U8(vec![0; 300 * 256]))
        .unwrap();
    let err = writer.finish().unwrap_err();
    assert_eq!(err.to_string(), "only 2 of 4 tiles were written");

    let mut palette_rgb = WriterOptions::new(10, 10, 3, SampleType::U8);
    palette_rgb.palette = Some(vec![[1, 2, 3]]);
    let err = GeoTiffWriter::new(Cursor::new(Vec::new()), palette_rgb).unwrap_err();
    assert!(matches!(err, EncodeError::InvalidOptions(_)), "{err}");

    let mut writer = GeoTiffWriter::new(
        Cursor::new(Vec::new()),
        WriterOptions::new(5, 5, 1, SampleType::U8),
    )
    .unwrap();
    writer.write_strip(&Samples::U8(vec![0; 25])).unwrap();
    let err = writer.write_strip(&Samples::U8(vec![0; 25])).unwrap_err();
    assert!(matches!(err, EncodeError::TooManyStrips { .. }), "{err}");
}

#[test]
fn tiles_can_arrive_in_any_order_but_only_once() {
    let (w, h) = (600u32, 300u32);
    let pixels: Vec<u8> = (0..w * h).map(|i| (i % 251) as u8).collect();
    let rows =
        |y0: u32, y1: u32| Samples::U8(pixels[(y0 * w) as usize..(y1 * w) as usize].to_vec());
    let options = WriterOptions::new(w, h, 1, SampleType::U8);
    let mut writer = GeoTiffWriter::new(Cursor::new(Vec::new()), options).unwrap();
    let encoder = writer.tile_encoder();
    // Bottom strip first, then the top one: the file must not care.
    let bottom = encoder
        .encode(Window::new(0, 256, w, 44), &rows(256, 300))
        .unwrap();
    let top = encoder
        .encode(Window::new(0, 0, w, 256), &rows(0, 256))
        .unwrap();
    writer.write_tiles(&bottom).unwrap();
    let err = writer.write_tiles(&bottom[..1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tile (column 0, row 1) is outside the raster or was already written"
    );
    writer.write_tiles(&top).unwrap();
    let bytes = writer.finish().unwrap().into_inner();
    let mut back = GeoTiffReader::open(Cursor::new(bytes)).unwrap();
    let block = back.read_window(Window::new(0, 0, w, h)).unwrap();
    assert_eq!(block.samples, Samples::U8(pixels));

    let err = encoder
        .encode(
            Window::new(10, 0, 256, 256),
            &Samples::U8(vec![0; 256 * 256]),
        )
        .unwrap_err();
    assert!(matches!(err, EncodeError::NotTileAligned { .. }), "{err}");
    let err = encoder
        .encode(
            Window::new(0, 0, 256, 100),
            &Samples::U8(vec![0; 256 * 100]),
        )
        .unwrap_err();
    assert!(matches!(err, EncodeError::NotTileAligned { .. }), "{err}");
}

#[test]
fn raw_geo_tags_are_carried_verbatim() {
    for source in [
        "real/OSBS_029.tif",
        "gdal/user_defined_tmerc_ftus.tif",
        "gdal/pan_rotated_lzw_strips.tif",
    ] {
        let georef: GeoReference = open(source).info().georef.clone().unwrap();
        let mut options = WriterOptions::new(3, 2, 1, SampleType::U8);
        options.georef = Some(georef.clone());
        let (reader, _) = read_all(write(options, &Samples::U8(vec![1; 6])));
        assert_eq!(
            reader.info().georef.as_ref().map(|g| &g.raw),
            Some(&georef.raw),
            "{source}"
        );
    }
}
