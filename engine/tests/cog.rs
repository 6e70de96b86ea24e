//! Cloud-optimised label rasters: GDAL's COG validator accepts what [`CogWriter`] writes, every
//! overview is the 2×2 mode of the level below (checked against a plain reference here, read back
//! by our reader and by GDAL), and GDAL finds the colour table, nodata, class names and the
//! input's georeferencing on the file. Needs GDAL: `gdalinfo`, `gdal_translate` (gdal-bin) and
//! its Python bindings (python3-gdal, which gdal-bin depends on) for the validator.

#![allow(clippy::unwrap_used)]

mod gdal_tools;
mod geotiff_support;

use std::io::Cursor;

use engine::geotiff::{
    CogWriter, EncodeError, GeoTiffReader, TILE_SIZE, TileEncoder, WriterOptions,
};
use engine::pipeline::write_geotiff;
use engine::raster::{SampleType, Samples, Window};
use gdal_tools::{assert_valid_cog, gdal_pixels, gdalinfo};
use geotiff_support::{XorShift, gdal_json, open};
use serde_json::json;

const NODATA: u8 = 255;

/// Options of a label raster of `width`×`height` with `k` classes on the grid of OSBS_029.tif.
fn options(width: u32, height: u32, k: usize) -> WriterOptions {
    let mut options = WriterOptions::new(width, height, 1, SampleType::U8);
    options.georef = open("real/OSBS_029.tif").info().georef.clone();
    options.nodata = Some(f64::from(NODATA));
    options.palette = Some(
        (0..k)
            .map(|i| [(40 * i) as u8, (255 - 30 * i) as u8, (90 + 17 * i) as u8])
            .collect(),
    );
    options.metadata = (0..k)
        .map(|i| (format!("CLASS_{i}_NAME"), format!("class {}", i + 1)))
        .collect();
    options.band_descriptions = vec!["class".into()];
    options
}

/// Labels with regions of `k` classes, speckle, and nodata in a corner and along a diagonal.
fn labels(width: u32, height: u32, k: u8, seed: u64) -> Vec<u8> {
    let mut rng = XorShift(seed);
    let mut out = Vec::with_capacity(width as usize * height as usize);
    for y in 0..height {
        for x in 0..width {
            let region = ((x / 37 + y / 53) ^ (x / 91)) as u8 % k;
            let value = match rng.below(20) {
                _ if x < 300 && y < 200 => NODATA,
                _ if (x + 3 * y) % 400 < 9 => NODATA,
                0 => rng.below(usize::from(k)) as u8,
                1 => NODATA,
                _ => region,
            };
            out.push(value);
        }
    }
    out
}

/// The plain reference: each pixel the most frequent non-nodata value of its 2×2 block (blocks
/// at an odd edge are smaller), the smallest on a tie, nodata only when the block is all nodata.
fn reference_overview(src: &[u8], width: usize, height: usize) -> Vec<u8> {
    let (w, h) = (width.div_ceil(2), height.div_ceil(2));
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let mut votes = [0u32; 256];
            for (sx, sy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (px, py) = (2 * x + sx, 2 * y + sy);
                if px < width && py < height && src[py * width + px] != NODATA {
                    votes[usize::from(src[py * width + px])] += 1;
                }
            }
            let mut best = NODATA;
            let mut best_votes = 0;
            for (class, &n) in votes.iter().enumerate() {
                if n > best_votes {
                    (best, best_votes) = (class as u8, n);
                }
            }
            out.push(best);
        }
    }
    out
}

/// Every overview level of the reference, largest first, down to the first one that fits a tile.
fn reference_pyramid(labels: &[u8], width: u32, height: u32) -> Vec<(u32, u32, Vec<u8>)> {
    let mut levels = Vec::new();
    let (mut w, mut h, mut px) = (width, height, labels.to_vec());
    while w > TILE_SIZE || h > TILE_SIZE {
        px = reference_overview(&px, w as usize, h as usize);
        (w, h) = (w.div_ceil(2), h.div_ceil(2));
        levels.push((w, h, px.clone()));
    }
    levels
}

/// All compressed tiles of `labels`.
fn encode_all(options: &WriterOptions, labels: &[u8]) -> Vec<engine::geotiff::EncodedTile> {
    let encoder = TileEncoder::new(options);
    let (width, height) = (options.width, options.height);
    (0..height)
        .step_by(TILE_SIZE as usize)
        .flat_map(|y| {
            let rows = TILE_SIZE.min(height - y);
            let strip = labels[(y * width) as usize..((y + rows) * width) as usize].to_vec();
            encoder
                .encode(Window::new(0, y, width, rows), &Samples::U8(strip))
                .unwrap()
        })
        .collect()
}

/// The file written from whole strips.
fn write_strips(options: &WriterOptions, labels: &[u8]) -> Vec<u8> {
    let mut writer = CogWriter::new(Vec::new(), Cursor::new(Vec::new()), options.clone()).unwrap();
    let strip = (TILE_SIZE * options.width) as usize;
    for chunk in labels.chunks(strip) {
        writer.write_strip(&Samples::U8(chunk.to_vec())).unwrap();
    }
    writer.finish().unwrap()
}

/// Our reader's pixels of every level, full resolution first.
fn read_levels(bytes: &[u8]) -> Vec<(u32, u32, Vec<u8>)> {
    let mut reader = GeoTiffReader::open(Cursor::new(bytes.to_vec())).unwrap();
    let info = reader.info().clone();
    std::iter::once((info.width, info.height))
        .chain(info.overviews.iter().copied())
        .enumerate()
        .map(|(level, (w, h))| {
            let block = reader
                .read_window_at_level(level, Window::new(0, 0, w, h))
                .unwrap();
            let Samples::U8(px) = block.samples else {
                panic!("labels are u8")
            };
            (w, h, px)
        })
        .collect()
}

#[test]
fn a_large_label_raster_is_a_valid_cog_with_mode_overviews() {
    let (width, height, k) = (2000, 1500, 5);
    let options = options(width, height, k);
    let labels = labels(width, height, k as u8, 7);
    let bytes = write_strips(&options, &labels);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.tif");
    std::fs::write(&path, &bytes).unwrap();
    assert_valid_cog(&path);

    let pyramid = reference_pyramid(&labels, width, height);
    let sizes: Vec<(u32, u32)> = pyramid.iter().map(|(w, h, _)| (*w, *h)).collect();
    assert_eq!(sizes, [(1000, 750), (500, 375), (250, 188)]);
    let levels = read_levels(&bytes);
    assert_eq!(levels[0].2, labels, "full resolution");
    assert_eq!(levels.len(), 4);
    for (i, (ours, reference)) in levels[1..].iter().zip(&pyramid).enumerate() {
        assert_eq!(ours, reference, "overview {i}: our reader");
        assert_eq!(
            gdal_pixels(&path, Some(i)),
            reference.2,
            "overview {i}: GDAL"
        );
    }

    let info = gdalinfo(&path);
    let input = gdal_json("real_OSBS_029");
    assert_eq!(
        info["coordinateSystem"]["wkt"],
        input["coordinateSystem"]["wkt"]
    );
    assert_eq!(info["geoTransform"], input["geoTransform"]);
    assert_eq!(info["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"], "COG");
    assert_eq!(
        info["metadata"]["IMAGE_STRUCTURE"]["COMPRESSION"],
        "DEFLATE"
    );
    let band = &info["bands"][0];
    assert_eq!(
        band["overviews"],
        json!([{"size": [1000, 750]}, {"size": [500, 375]}, {"size": [250, 188]}])
    );
    assert_eq!(band["block"], json!([256, 256]));
    assert_eq!(band["type"], "Byte");
    assert_eq!(band["noDataValue"], 255.0);
    assert_eq!(band["colorInterpretation"], "Palette");
    assert_eq!(band["description"], "class");
    let entries = band["colorTable"]["entries"].as_array().unwrap();
    for (entry, rgb) in entries.iter().zip(options.palette.as_ref().unwrap()) {
        assert_eq!(entry, &json!([rgb[0], rgb[1], rgb[2], 255]));
    }
    for i in 0..k {
        assert_eq!(
            info["metadata"][""][format!("CLASS_{i}_NAME")],
            format!("class {}", i + 1)
        );
    }
}

#[test]
fn tiles_in_any_order_give_the_same_file() {
    let (width, height) = (900, 700);
    let options = options(width, height, 4);
    let labels = labels(width, height, 4, 3);
    let in_order = write_strips(&options, &labels);
    let mut tiles = encode_all(&options, &labels);
    let mut rng = XorShift(11);
    for i in (1..tiles.len()).rev() {
        tiles.swap(i, rng.below(i + 1));
    }
    assert_eq!(write_geotiff(options.clone(), &tiles).unwrap(), in_order);
    let mut writer = CogWriter::new(Vec::new(), Cursor::new(Vec::new()), options).unwrap();
    assert_eq!(writer.overview_sizes(), [(450, 350), (225, 175)]);
    for chunk in tiles.chunks(3) {
        writer.write_tiles(chunk).unwrap();
    }
    assert_eq!(writer.finish().unwrap(), in_order);
}

#[test]
fn small_and_odd_sized_rasters_are_valid_cogs() {
    let dir = tempfile::tempdir().unwrap();
    for (width, height, overviews) in [
        (200, 100, vec![]),
        (256, 256, vec![]),
        (257, 3, vec![(129, 2)]),
        (513, 1027, vec![(257, 514), (129, 257), (65, 129)]),
    ] {
        let options = options(width, height, 3);
        let labels = labels(width, height, 3, u64::from(width));
        let bytes = write_strips(&options, &labels);
        let path = dir.path().join(format!("{width}x{height}.tif"));
        std::fs::write(&path, &bytes).unwrap();
        assert_valid_cog(&path);
        let levels = read_levels(&bytes);
        let sizes: Vec<(u32, u32)> = levels[1..].iter().map(|(w, h, _)| (*w, *h)).collect();
        assert_eq!(sizes, overviews, "{width}x{height}");
        assert_eq!(levels[0].2, labels);
        for (ours, reference) in levels[1..]
            .iter()
            .zip(reference_pyramid(&labels, width, height))
        {
            assert_eq!(ours, &reference, "{width}x{height}");
        }
    }
}

#[test]
fn misuse_is_reported() {
    let rgb = WriterOptions::new(300, 300, 3, SampleType::U8);
    let err = CogWriter::new(Vec::new(), Cursor::new(Vec::new()), rgb).unwrap_err();
    assert!(matches!(err, EncodeError::InvalidOptions(_)), "{err}");
    let options = options(300, 300, 2);
    let labels = labels(300, 300, 2, 1);
    let tiles = encode_all(&options, &labels);
    let mut writer = CogWriter::new(Vec::new(), Cursor::new(Vec::new()), options.clone()).unwrap();
    writer.write_tiles(&tiles[..3]).unwrap();
    let err = writer.write_tiles(&tiles[2..3]).unwrap_err();
    assert!(
        matches!(err, EncodeError::TileMismatch { column: 0, row: 1 }),
        "{err}"
    );
    let err = writer.finish().unwrap_err();
    assert!(
        matches!(
            err,
            EncodeError::Incomplete {
                written: 3,
                total: 4
            }
        ),
        "{err}"
    );
    let mut corrupt = tiles[0].clone();
    corrupt.bytes.truncate(10);
    let mut writer = CogWriter::new(Vec::new(), Cursor::new(Vec::new()), options).unwrap();
    let err = writer.write_tiles(&[corrupt]).unwrap_err();
    assert!(
        matches!(err, EncodeError::CorruptTile { column: 0, row: 0 }),
        "{err}"
    );
}
