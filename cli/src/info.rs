//! `mapseg info`: what a GeoTIFF holds and where it lies.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::Context;
use engine::geotiff::{GeoReference, GeoTiffReader, RasterInfo};

use crate::args::InfoArgs;

pub fn run(args: &InfoArgs) -> anyhow::Result<()> {
    let reader = open(&args.file)?;
    let info = reader.info();
    let size = std::fs::metadata(&args.file).map(|m| m.len()).ok();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&to_json(info, size))?);
    } else {
        print!("{}", to_text(&args.file, info, size));
    }
    Ok(())
}

/// Opens a GeoTIFF for reading, naming the file in any error.
pub fn open(path: &Path) -> anyhow::Result<GeoTiffReader<BufReader<File>>> {
    GeoTiffReader::open(buffered(path)?).with_context(|| format!("cannot read {}", path.display()))
}

/// Another reader of the file `reader` has opened, on a handle of its own, sharing its parsed
/// structure (for another thread).
pub fn reopen(
    reader: &GeoTiffReader<BufReader<File>>,
    path: &Path,
) -> anyhow::Result<GeoTiffReader<BufReader<File>>> {
    reader
        .reopen(buffered(path)?)
        .with_context(|| format!("cannot read {}", path.display()))
}

/// A buffered handle on the file at `path`, naming it in the error.
fn buffered(path: &Path) -> anyhow::Result<BufReader<File>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(BufReader::with_capacity(1 << 16, file))
}

fn crs_line(g: &GeoReference) -> String {
    match (&g.crs_name, g.epsg) {
        (Some(name), Some(code)) => format!("{name} (EPSG:{code})"),
        (Some(name), None) => format!("{name} (user-defined)"),
        (None, Some(code)) => format!("EPSG:{code}"),
        (None, None) => "user-defined (no EPSG code)".into(),
    }
}

fn to_text(path: &Path, info: &RasterInfo, size: Option<u64>) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<13}{v}\n"));
    line("File:", path.display().to_string());
    if let Some(s) = size {
        line("File size:", format!("{s} bytes"));
    }
    line("Size:", format!("{} x {} pixels", info.width, info.height));
    let alpha = info
        .alpha_band
        .map_or(String::new(), |a| format!(" (band {} is alpha)", a + 1));
    line("Bands:", format!("{}{alpha}", info.bands));
    line("Type:", info.sample_type.to_string());
    line("Compression:", info.compression.to_string());
    line(
        "Layout:",
        format!(
            "{}{}",
            info.layout,
            if info.planar {
                ", planar"
            } else {
                ", interleaved"
            }
        ),
    );
    line("Colour:", info.photometric.to_string());
    line(
        "Format:",
        format!(
            "{}, {}",
            if info.big_tiff { "BigTIFF" } else { "TIFF" },
            if info.little_endian {
                "little-endian"
            } else {
                "big-endian"
            }
        ),
    );
    line(
        "Nodata:",
        info.nodata.map_or_else(|| "none".into(), |v| v.to_string()),
    );
    match &info.georef {
        Some(g) => {
            line("CRS:", crs_line(g));
            let (px, py) = g.transform.pixel_size();
            line("Pixel size:", format!("{px} x {py} ({})", g.unit));
            let e = g.extent(info.width, info.height);
            line(
                "Extent:",
                format!("x {} to {}, y {} to {}", e[0], e[2], e[1], e[3]),
            );
            line("Raster type:", g.raster_type.to_string());
        }
        None => line("CRS:", "none: the file has no georeferencing".into()),
    }
    let overviews: Vec<String> = info
        .overviews
        .iter()
        .map(|(w, h)| format!("{w}x{h}"))
        .collect();
    line(
        "Overviews:",
        if overviews.is_empty() {
            "none".into()
        } else {
            overviews.join(", ")
        },
    );
    out
}

fn to_json(info: &RasterInfo, size: Option<u64>) -> serde_json::Value {
    let georef = info.georef.as_ref().map(|g| {
        serde_json::json!({
            "crs": crs_line(g),
            "epsg": g.epsg,
            "crs_name": g.crs_name,
            "geotransform": g.transform.0,
            "pixel_size": g.transform.pixel_size(),
            "extent": g.extent(info.width, info.height),
            "geographic": g.geographic,
        })
    });
    serde_json::json!({
        "file_size": size,
        "width": info.width,
        "height": info.height,
        "bands": info.bands,
        "alpha_band": info.alpha_band.map(|a| a + 1),
        "sample_type": info.sample_type,
        "compression": info.compression.to_string(),
        "planar": info.planar,
        "photometric": info.photometric.to_string(),
        "big_tiff": info.big_tiff,
        "nodata": info.nodata,
        "georeference": georef,
        "overviews": info.overviews,
    })
}
