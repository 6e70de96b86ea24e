//! Decoding against GDAL: every fixture in `tests/fixtures/gdal` is decoded whole and in odd
//! windows at every level and compared with GDAL's own decoding and `gdalinfo -json`, both
//! recorded by `tests/fixtures/make_gdal_fixtures.sh`.

#![allow(clippy::unwrap_used)]

mod geotiff_support;

use std::io::Cursor;

use engine::geotiff::{
    Compression, DecodeError, GeoKeyValue, GeoTiffReader, Layout, LinearUnit, Photometric,
    RasterInfo, RasterType,
};
use engine::raster::{SampleType, Window};
use geotiff_support::{REAL_FILES, fixtures_dir, gdal_json, le_bytes, open, read_fixture};
use serde_json::Value;

macro_rules! gdal_fixtures {
    ($($name:ident),* $(,)?) => {
        const FIXTURES: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                check_fixture(stringify!($name));
            }
        )*
    };
}

gdal_fixtures! {
    geographic_4326,
    ls7_6band_deflate_strips,
    ls7_6band_planar_zstd_tiles,
    pan_f32_big_endian_deflate_pred3_strips,
    pan_f32_lzw_pred3_tiles,
    pan_f64_deflate_pred3_strips,
    pan_i16_zstd_pred2_strips,
    pan_rotated_lzw_strips,
    pan_u16_big_endian_deflate_pred2_tiles,
    pan_u16_lzw_pred2_tiles,
    pan_u16_nodata_deflate_strips,
    pan_u32_lzw_tiles,
    rgb_alpha_deflate_tiles,
    rgb_big_endian_lzw_strips,
    rgb_bigtiff_deflate_tiles,
    rgb_deflate_pred2_tiles,
    rgb_deflate_strips,
    rgb_jpeg_rgb_strips,
    rgb_jpeg_ycbcr_tiles,
    rgb_lzw_pred2_strips,
    rgb_lzw_tiles,
    rgb_mask_overviews_tiles,
    rgb_no_georef_lzw_strips,
    rgb_none_strips,
    rgb_overviews_tiles,
    rgb_packbits_tiles,
    rgb_planar_deflate_strips,
    rgb_planar_lzw_tiles,
    rgb_point_deflate_strips,
    rgb_zstd_strips,
    user_defined_tmerc_ftus,
}

#[test]
fn every_gdal_fixture_has_a_test() {
    let dir = fixtures_dir().join("gdal");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tif") {
            let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
            assert!(
                FIXTURES.contains(&stem.as_str()),
                "{stem}.tif has no test in geotiff_read.rs"
            );
        }
    }
}

fn check_fixture(name: &str) {
    let json = gdal_json(name);
    let mut reader = open(&format!("gdal/{name}.tif"));
    check_info(name, reader.info(), &json);
    check_georeferencing(name, reader.info(), &json);
    for level in 0..reader.info().levels() {
        check_pixels(name, &mut reader, level);
    }
}

fn check_info(name: &str, info: &RasterInfo, json: &Value) {
    let bands = json["bands"].as_array().unwrap();
    assert_eq!(
        (info.width, info.height),
        (size(&json["size"])),
        "{name}: size"
    );
    assert_eq!(info.bands, bands.len(), "{name}: bands");
    assert_eq!(
        gdal_type(info.sample_type),
        bands[0]["type"],
        "{name}: sample type"
    );
    let (block_w, block_h) = size(&bands[0]["block"]);
    let expected_layout = match info.layout {
        Layout::Strips { .. } => Layout::Strips {
            rows_per_strip: block_h,
        },
        Layout::Tiles { .. } => Layout::Tiles {
            width: block_w,
            height: block_h,
        },
    };
    assert_eq!(info.layout, expected_layout, "{name}: layout");
    let structure = &json["metadata"]["IMAGE_STRUCTURE"];
    if info.bands > 1 {
        assert_eq!(
            info.planar,
            structure["INTERLEAVE"] == "BAND",
            "{name}: planar"
        );
    }
    let compression = structure["COMPRESSION"]
        .as_str()
        .map(|c| c.trim_start_matches("YCbCr "));
    assert_eq!(
        gdal_compression(info.compression),
        compression,
        "{name}: compression"
    );
    let overviews: Vec<_> = bands[0]["overviews"]
        .as_array()
        .map(|o| o.iter().map(|o| size(&o["size"])).collect())
        .unwrap_or_default();
    assert_eq!(info.overviews, overviews, "{name}: overviews");
    let alpha = bands
        .iter()
        .position(|b| b["colorInterpretation"] == "Alpha");
    assert_eq!(info.alpha_band, alpha, "{name}: alpha band");
    match (&bands[0]["noDataValue"], info.nodata) {
        (Value::Null, None) => {}
        (Value::String(s), Some(v)) if s == "NaN" => assert!(v.is_nan(), "{name}: nodata"),
        (Value::Number(n), Some(v)) => assert_eq!(n.as_f64(), Some(v), "{name}: nodata"),
        (expected, found) => panic!("{name}: nodata {found:?}, GDAL says {expected}"),
    }
    assert!(
        info.little_endian != name.contains("big_endian"),
        "{name}: byte order"
    );
    assert_eq!(info.big_tiff, name.contains("bigtiff"), "{name}: BigTIFF");
}

fn check_georeferencing(name: &str, info: &RasterInfo, json: &Value) {
    let Some(expected) = json["geoTransform"].as_array() else {
        assert!(info.georef.is_none(), "{name}: GDAL sees no georeferencing");
        return;
    };
    let georef = info
        .georef
        .as_ref()
        .unwrap_or_else(|| panic!("{name}: no georeferencing"));
    for (i, (ours, gdal)) in georef.transform.0.iter().zip(expected).enumerate() {
        let gdal = gdal.as_f64().unwrap();
        assert!(
            (ours - gdal).abs() <= 1e-9 * gdal.abs().max(1.0),
            "{name}: geotransform[{i}] {ours} vs {gdal}"
        );
    }
    let wkt = json["coordinateSystem"]["wkt"].as_str().unwrap();
    assert_eq!(georef.epsg, top_level_epsg(wkt), "{name}: EPSG");
    assert_eq!(
        georef.geographic,
        wkt.starts_with("GEOGCRS"),
        "{name}: geographic"
    );
    if georef.epsg.is_some() {
        let crs_name = wkt.split('"').nth(1);
        assert_eq!(georef.crs_name.as_deref(), crs_name, "{name}: CRS name");
    }
    let point = json["metadata"][""]["AREA_OR_POINT"] == "Point";
    assert_eq!(
        georef.raster_type == RasterType::PixelIsPoint,
        point,
        "{name}: raster type"
    );
}

/// Decodes level `level` whole and in odd windows and compares with GDAL's decoding.
fn check_pixels(name: &str, reader: &mut GeoTiffReader<Cursor<Vec<u8>>>, level: usize) {
    let expected = read_fixture(&format!("gdal/{name}.L{level}.raw"));
    let info = reader.info().clone();
    let (width, height) = info.level_size(level).unwrap();
    let pixel_bytes = info.bands * info.sample_type.bytes();
    assert_eq!(
        expected.len(),
        width as usize * height as usize * pixel_bytes,
        "{name}: dump size"
    );
    let lossy = info.compression == Compression::Jpeg;
    for window in odd_windows(width, height) {
        let block = reader
            .read_window_at_level(level, window)
            .unwrap_or_else(|e| panic!("{name} level {level} window {window:?}: {e}"));
        assert_eq!(block.window, window);
        assert_eq!(block.bands, info.bands);
        let ours = le_bytes(&block.samples);
        let gdal = crop(&expected, width, pixel_bytes, window);
        let what = format!("{name} level {level} window {window:?}");
        if lossy {
            assert_close(&ours, &gdal, &what);
        } else {
            assert!(ours == gdal, "{what}: pixels differ from GDAL's");
        }
    }
}

/// Whole image, chunk-crossing interior, right/bottom edges, one column, one row, one pixel.
fn odd_windows(width: u32, height: u32) -> Vec<Window> {
    vec![
        Window::new(0, 0, width, height),
        Window::new(width / 3, height / 4, width / 2, height / 3 + 1),
        Window::new(width - 5, height - 3, 5, 3),
        Window::new(width - 1, 0, 1, height),
        Window::new(0, height - 1, width, 1),
        Window::new(width / 2, height / 2, 1, 1),
    ]
}

fn crop(image: &[u8], width: u32, pixel_bytes: usize, w: Window) -> Vec<u8> {
    let row_bytes = width as usize * pixel_bytes;
    (w.y..w.bottom())
        .flat_map(|y| {
            let start = y as usize * row_bytes + w.x as usize * pixel_bytes;
            image[start..start + w.width as usize * pixel_bytes]
                .iter()
                .copied()
        })
        .collect()
}

/// JPEG decoders may differ slightly in chroma upsampling and colour conversion: at most 4
/// levels anywhere and half a level on average.
fn assert_close(ours: &[u8], gdal: &[u8], what: &str) {
    assert_eq!(ours.len(), gdal.len(), "{what}: length");
    let diffs: Vec<u32> = ours
        .iter()
        .zip(gdal)
        .map(|(a, b)| u32::from(a.abs_diff(*b)))
        .collect();
    let max = diffs.iter().copied().max().unwrap_or(0);
    let mean = f64::from(diffs.iter().sum::<u32>()) / diffs.len().max(1) as f64;
    // The mean is only meaningful over more than a few pixels.
    let mean_ok = diffs.len() < 100 || mean <= 0.5;
    assert!(
        max <= 4 && mean_ok,
        "{what}: JPEG decoding differs from GDAL's (max {max}, mean {mean:.3})"
    );
}

fn size(value: &Value) -> (u32, u32) {
    let dim = |i: usize| u32::try_from(value[i].as_u64().unwrap()).unwrap();
    (dim(0), dim(1))
}

fn gdal_type(sample_type: SampleType) -> &'static str {
    match sample_type {
        SampleType::U8 => "Byte",
        SampleType::U16 => "UInt16",
        SampleType::I16 => "Int16",
        SampleType::U32 => "UInt32",
        SampleType::F32 => "Float32",
        SampleType::F64 => "Float64",
    }
}

fn gdal_compression(compression: Compression) -> Option<&'static str> {
    match compression {
        Compression::None => None,
        Compression::Lzw => Some("LZW"),
        Compression::Deflate | Compression::AdobeDeflate => Some("DEFLATE"),
        Compression::PackBits => Some("PACKBITS"),
        Compression::Zstd => Some("ZSTD"),
        Compression::Jpeg => Some("JPEG"),
        other => panic!("no fixture uses {other}"),
    }
}

/// The EPSG code of the CRS itself (the WKT's last `ID`, when it closes the outermost node).
fn top_level_epsg(wkt: &str) -> Option<u32> {
    let (_, code) = wkt
        .trim_end()
        .strip_suffix("]]")?
        .rsplit_once("ID[\"EPSG\",")?;
    code.parse().ok()
}

// Georeferencing details beyond what the per-fixture comparison covers.

#[test]
fn pixel_is_point_is_shifted_by_half_a_pixel_like_gdal() {
    let reader = open("gdal/rgb_point_deflate_strips.tif");
    let georef = reader.info().georef.clone().unwrap();
    assert_eq!(georef.raster_type, RasterType::PixelIsPoint);
    let tie = georef.raw.model_tiepoint.as_ref().unwrap();
    let [x0, a, _, y0, _, e] = georef.transform.0;
    assert!((tie[3] - (x0 + a / 2.0)).abs() < 1e-6 && (tie[4] - (y0 + e / 2.0)).abs() < 1e-6);
}

#[test]
fn rotated_transform_comes_from_model_transformation() {
    let reader = open("gdal/pan_rotated_lzw_strips.tif");
    let georef = reader.info().georef.clone().unwrap();
    assert!(georef.raw.model_transformation.is_some());
    assert!(georef.raw.model_tiepoint.is_none());
    assert_eq!(
        georef.transform.0,
        [733750.0, 0.4, 0.3, 3724939.0, 0.3, -0.4]
    );
    let (x, y) = georef.transform.apply(10.0, 20.0);
    assert!(
        (x - (733750.0 + 4.0 + 6.0)).abs() < 1e-9 && (y - (3724939.0 + 3.0 - 8.0)).abs() < 1e-9
    );
    assert!((georef.transform.pixel_size().0 - 0.5).abs() < 1e-12);
    assert!((georef.pixel_area_m2(0.0).unwrap() - (0.4f64 * 0.4 + 0.3 * 0.3)).abs() < 1e-12);
}

#[test]
fn geographic_crs_has_degrees_and_ellipsoidal_pixel_area() {
    let reader = open("gdal/geographic_4326.tif");
    let georef = reader.info().georef.clone().unwrap();
    assert!(georef.geographic);
    assert_eq!(georef.epsg, Some(4326));
    assert_eq!(georef.crs_name.as_deref(), Some("WGS 84"));
    assert_eq!(georef.unit, LinearUnit::Degree);
    let [_, dlon, _, lat0, _, dlat] = georef.transform.0;
    let lat = (lat0 + 10.5 * dlat).to_radians();
    // Radii of curvature of WGS 84 at this latitude.
    let (a, e2) = (6_378_137.0_f64, 0.006_694_379_990_14_f64);
    let w = (1.0 - e2 * lat.sin().powi(2)).sqrt();
    let (meridian, normal) = (a * (1.0 - e2) / w.powi(3), a / w);
    let approx = meridian * dlat.abs().to_radians() * normal * lat.cos() * dlon.to_radians();
    let area = georef.pixel_area_m2(10.0).unwrap();
    assert!((area / approx - 1.0).abs() < 1e-6, "{area} vs {approx}");
}

#[test]
fn user_defined_crs_keeps_its_keys_and_unit() {
    let reader = open("gdal/user_defined_tmerc_ftus.tif");
    let georef = reader.info().georef.clone().unwrap();
    assert_eq!(georef.epsg, None);
    assert!(!georef.geographic);
    assert!(
        matches!(georef.unit, LinearUnit::Other { name: "US survey foot", metres, .. } if (metres - 1200.0 / 3937.0).abs() < 1e-12),
        "{:?}",
        georef.unit
    );
    // ProjectedCSTypeGeoKey is user-defined, and the projection's parameters are doubles.
    assert_eq!(georef.key(3072), Some(&GeoKeyValue::Short(32767)));
    let natural_origin_long = georef.key(3080).or(georef.key(3088));
    assert_eq!(
        natural_origin_long,
        Some(&GeoKeyValue::Doubles(vec![-81.9]))
    );
    assert!(georef.crs_name.is_some());
    let feet = 1200.0 / 3937.0;
    let expected = georef.transform.pixel_area() * feet * feet;
    assert!((georef.pixel_area_m2(0.0).unwrap() - expected).abs() < 1e-12);
}

#[test]
fn projected_pixel_area_is_the_pixel_size_squared() {
    let reader = open("real/OSBS_029.tif");
    let georef = reader.info().georef.clone().unwrap();
    assert_eq!(georef.unit, LinearUnit::Metre);
    assert!((georef.pixel_area_m2(123.0).unwrap() - 0.01).abs() < 1e-12);
}

#[test]
fn window_georeference_moves_the_origin_in_transform_and_raw_tags() {
    for name in [
        "real/OSBS_029.tif",
        "gdal/pan_rotated_lzw_strips.tif",
        "gdal/rgb_point_deflate_strips.tif",
    ] {
        let georef = open(name).info().georef.clone().unwrap();
        let moved = georef.for_window(Window::new(17, 5, 10, 10));
        let (x, y) = georef.transform.apply(17.0, 5.0);
        assert_eq!(
            (moved.transform.0[0], moved.transform.0[3]),
            (x, y),
            "{name}"
        );
        let reparsed = engine::geotiff::GeoReference::from_raw(moved.raw.clone()).unwrap();
        for (a, b) in reparsed.transform.0.iter().zip(moved.transform.0) {
            assert!(
                (a - b).abs() < 1e-6,
                "{name}: raw tags and transform disagree"
            );
        }
        assert_eq!(moved.epsg, georef.epsg);
    }
}

// Real images: described as documented and decoded whole with GDAL's checksums.

#[test]
fn real_images_decode_to_gdal_checksums() {
    for file in REAL_FILES {
        let stem = file.trim_end_matches(".tif");
        let json = gdal_json(&format!("real_{stem}"));
        let mut reader = open(&format!("real/{file}"));
        let info = reader.info().clone();
        check_info(file, &info, &json);
        check_georeferencing(file, &info, &json);
        let block = reader
            .read_window(Window::new(0, 0, info.width, info.height))
            .unwrap();
        for (band, expected) in json["bands"].as_array().unwrap().iter().enumerate() {
            let samples: Vec<i64> = (0..block.window.len())
                .map(|i| block.samples.get_f64(i * info.bands + band) as i64)
                .collect();
            let checksum = gdal_checksum(&samples);
            assert_eq!(
                Some(u64::from(checksum)),
                expected["checksum"].as_u64(),
                "{file} band {band}"
            );
        }
    }
}

/// GDAL's `GDALChecksumImage` for integer samples of one band, in row-major order.
fn gdal_checksum(samples: &[i64]) -> u32 {
    const PRIMES: [i64; 11] = [7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43];
    let sum = samples
        .iter()
        .enumerate()
        .fold(0, |sum, (i, v)| (sum + v % PRIMES[i % 11]) & 0xffff);
    sum as u32
}

/// What `tests/fixtures/real/README.md` says about a real image.
struct Documented {
    file: &'static str,
    size: (u32, u32),
    bands: usize,
    photometric: Photometric,
    epsg: Option<u32>,
    display: [usize; 3],
}

#[test]
fn real_images_are_described_as_documented() {
    let doc = |file, size, bands, photometric, epsg, display| Documented {
        file,
        size,
        bands,
        photometric,
        epsg: Some(epsg),
        display,
    };
    let cases = [
        doc(
            "OSBS_029.tif",
            (400, 400),
            3,
            Photometric::Rgb,
            32617,
            [0, 1, 2],
        ),
        doc(
            "L7_ETMs.tif",
            (349, 352),
            6,
            Photometric::MinIsBlack,
            31985,
            [0, 1, 2],
        ),
        doc(
            "olinda_rgb_uint8.tif",
            (349, 352),
            3,
            Photometric::Rgb,
            31985,
            [0, 1, 2],
        ),
        doc(
            "sample_geotiff.tif",
            (900, 900),
            1,
            Photometric::MinIsBlack,
            32616,
            [0, 0, 0],
        ),
        doc(
            "buildings_mask.tif",
            (900, 900),
            1,
            Photometric::MinIsBlack,
            32616,
            [0, 0, 0],
        ),
    ];
    for Documented {
        file,
        size,
        bands,
        photometric,
        epsg,
        display,
    } in cases
    {
        let reader = open(&format!("real/{file}"));
        let info = reader.info();
        assert_eq!((info.width, info.height), size, "{file}");
        assert_eq!(info.bands, bands, "{file}");
        assert_eq!(info.photometric, photometric, "{file}");
        assert_eq!(info.georef.as_ref().and_then(|g| g.epsg), epsg, "{file}");
        assert_eq!(info.display_bands(), display, "{file}");
        assert_eq!(info.data_bands(), (0..bands).collect::<Vec<_>>(), "{file}");
    }
    let landsat = open("real/L7_ETMs.tif");
    let georef = landsat.info().georef.as_ref().unwrap();
    assert_eq!(
        georef.crs_name.as_deref(),
        Some("SIRGAS 2000 / UTM zone 25S")
    );
}

#[test]
fn alpha_band_is_not_a_data_band() {
    let reader = open("gdal/rgb_alpha_deflate_tiles.tif");
    assert_eq!(reader.info().alpha_band, Some(3));
    assert_eq!(reader.info().data_bands(), vec![0, 1, 2]);
    assert_eq!(reader.info().display_bands(), [0, 1, 2]);
}

// Errors name the problem.

#[test]
fn windows_outside_the_raster_and_missing_levels_are_errors() {
    let mut reader = open("gdal/rgb_lzw_tiles.tif");
    let err = reader.read_window(Window::new(60, 40, 10, 10)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "window 60,40 10x10 lies outside the 67x45 raster"
    );
    let err = reader
        .read_window(Window::new(u32::MAX, 0, 2, 1))
        .unwrap_err();
    assert!(matches!(err, DecodeError::WindowOutside { .. }));
    let err = reader
        .read_window_at_level(1, Window::new(0, 0, 1, 1))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "level 1 does not exist: the raster has 1 levels"
    );
    let empty = reader.read_window(Window::new(67, 45, 0, 0)).unwrap();
    assert!(empty.samples.is_empty());
}

#[test]
fn not_a_tiff_and_truncated_headers_are_errors() {
    let err = GeoTiffReader::open(Cursor::new(b"GIF89a....".to_vec())).unwrap_err();
    assert_eq!(err.to_string(), "not a TIFF file (bad magic bytes)");
    let err = GeoTiffReader::open(Cursor::new(b"II*".to_vec())).unwrap_err();
    assert!(matches!(err, DecodeError::Truncated(_)), "{err}");
    assert!(err.to_string().starts_with("file is truncated: "));
}

#[test]
fn old_jpeg_compression_is_named_in_the_error() {
    let mut bytes = read_fixture("gdal/rgb_none_strips.tif");
    set_classic_tag_short(&mut bytes, 259, 6);
    let err = GeoTiffReader::open(Cursor::new(bytes)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "JPEG-in-old-JPEG compression (6) is not supported"
    );
}

#[test]
fn unsupported_sample_format_is_named_in_the_error() {
    let mut bytes = read_fixture("gdal/pan_f32_lzw_pred3_tiles.tif");
    set_classic_tag_short(&mut bytes, 339, 2);
    let err = GeoTiffReader::open(Cursor::new(bytes)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "32-bit signed integer samples are not supported"
    );
}

/// Overwrites the inline SHORT value of `tag` in the first directory of a little-endian
/// classic TIFF.
fn set_classic_tag_short(bytes: &mut [u8], tag: u16, value: u16) {
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let ifd = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let count = u16_at(bytes, ifd) as usize;
    let entry = (0..count)
        .map(|i| ifd + 2 + 12 * i)
        .find(|&e| u16_at(bytes, e) == tag)
        .unwrap();
    assert_eq!(u16_at(bytes, entry + 2), 3, "tag {tag} is not a SHORT");
    bytes[entry + 8..entry + 10].copy_from_slice(&value.to_le_bytes());
}
