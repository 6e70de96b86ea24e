//! Raster files through `engine::geotiff`: opening, window reads, band selection, writing
//! georeferenced windows, and georeference comparison.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use engine::geotiff::{
    DecodeError, EncodeError, GeoReference, GeoTiffReader, GeoTiffWriter, RasterInfo, TILE_SIZE,
    WriterOptions,
};
use engine::raster::{PixelBlock, Samples, Window};
use engine::with_samples;

/// A GeoTIFF reader over a buffered file.
pub type FileReader = GeoTiffReader<BufReader<File>>;

/// Failure to read or write a raster file.
#[derive(Debug, thiserror::Error)]
pub enum RasterError {
    /// The file could not be opened or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a readable GeoTIFF, or a window could not be decoded.
    #[error("{}: {source}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: DecodeError,
    },
    /// A window could not be encoded.
    #[error("{}: {source}", path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// The encoder's error.
        source: EncodeError,
    },
}

/// An open raster file.
#[derive(Debug)]
pub struct RasterFile {
    path: PathBuf,
    reader: FileReader,
}

impl RasterFile {
    /// Opens `path` and reads its description (not its pixels).
    pub fn open(path: &Path) -> Result<Self, RasterError> {
        let file = File::open(path).map_err(|source| RasterError::Io {
            path: path.to_owned(),
            source,
        })?;
        let reader =
            GeoTiffReader::open(BufReader::new(file)).map_err(|source| RasterError::Decode {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            path: path.to_owned(),
            reader,
        })
    }

    /// The raster's description.
    pub fn info(&self) -> &RasterInfo {
        self.reader.info()
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Decodes `window` (every band, pixel-interleaved).
    pub fn read(&mut self, window: Window) -> Result<PixelBlock, RasterError> {
        self.reader
            .read_window(window)
            .map_err(|source| RasterError::Decode {
                path: self.path.clone(),
                source,
            })
    }
}

/// The bands `keep` (0-based) of pixel-interleaved `samples` holding `bands` bands.
pub fn select_bands(samples: &Samples, bands: usize, keep: &[usize]) -> Samples {
    if keep.len() == bands && keep.iter().enumerate().all(|(i, &b)| i == b) {
        return samples.clone();
    }
    fn pick<T: Copy>(v: &[T], bands: usize, keep: &[usize]) -> Vec<T> {
        let mut out = Vec::with_capacity(v.len() / bands.max(1) * keep.len());
        for px in v.chunks_exact(bands.max(1)) {
            out.extend(keep.iter().map(|&b| px[b]));
        }
        out
    }
    with_samples!(samples, S(v) => S(pick(v, bands, keep)))
}

/// Writes `samples` (pixel-interleaved, `options.width × options.height × options.bands`) as a
/// GeoTIFF at `path`.
pub fn write(path: &Path, options: WriterOptions, samples: &Samples) -> Result<(), RasterError> {
    let io = |source| RasterError::Io {
        path: path.to_owned(),
        source,
    };
    let enc = |source| RasterError::Encode {
        path: path.to_owned(),
        source,
    };
    let row_len = options.width as usize * options.bands;
    let height = options.height as usize;
    let file = File::create(path).map_err(io)?;
    let mut writer = GeoTiffWriter::new(BufWriter::new(file), options).map_err(enc)?;
    let strip = TILE_SIZE as usize;
    let mut row = 0;
    while row < height {
        let end = (row + strip).min(height);
        writer
            .write_strip(&samples.slice(row * row_len..end * row_len))
            .map_err(enc)?;
        row = end;
    }
    let mut buf = writer.finish().map_err(enc)?;
    buf.flush().map_err(io)?;
    let file = buf.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok(())
}

/// Whether two georeferences put the same pixel grid in the same place: same EPSG code (when
/// both have one) and transforms equal to a millionth of a pixel.
pub fn same_georef(a: &GeoReference, b: &GeoReference) -> bool {
    if let (Some(ea), Some(eb)) = (a.epsg, b.epsg)
        && ea != eb
    {
        return false;
    }
    transforms_match(&a.transform.0, &b.transform.0)
}

/// Whether two GDAL-order transforms agree to a millionth of a pixel.
pub fn transforms_match(a: &[f64; 6], b: &[f64; 6]) -> bool {
    let px = a[1].abs().max(a[5].abs()).max(a[2].abs()).max(a[4].abs());
    let tol = if px > 0.0 { px * 1e-6 } else { 1e-9 };
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

/// Whether a sample type holds integer labels.
pub fn is_integer(samples: &Samples) -> bool {
    !matches!(samples, Samples::F32(_) | Samples::F64(_))
}

/// Label of element `i` of integer `samples`.
#[inline]
pub fn label_at(samples: &Samples, i: usize) -> i64 {
    with_samples!(samples, v => v[i] as i64)
}
