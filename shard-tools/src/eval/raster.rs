//! Evaluating a prediction raster against a target raster, strip by strip.

use std::path::{Path, PathBuf};

use engine::raster::{Samples, Window};

use super::{Accumulator, EvalError, EvalOptions, EvalReport};
use crate::rio::{RasterError, RasterFile, same_georef};

/// Rows read at a time.
const STRIP_ROWS: u32 = 256;

/// Why two rasters cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum RasterEvalError {
    /// A file could not be read.
    #[error(transparent)]
    Raster(#[from] RasterError),
    /// The rasters differ in size.
    #[error("prediction is {}x{} but target is {}x{}", pred.0, pred.1, target.0, target.1)]
    Size {
        /// Prediction width and height.
        pred: (u32, u32),
        /// Target width and height.
        target: (u32, u32),
    },
    /// Both rasters are georeferenced, differently.
    #[error("prediction and target are not georeferenced alike (different CRS or transform)")]
    Georef,
    /// A raster has more than one band.
    #[error("{}: has {bands} bands; expected a single-band label raster", path.display())]
    Bands {
        /// The file.
        path: PathBuf,
        /// Its band count.
        bands: usize,
    },
    /// A raster holds a value that is not an integer label.
    #[error("{}: value {value} is not an integer label", path.display())]
    NotInteger {
        /// The file.
        path: PathBuf,
        /// The value.
        value: f64,
    },
}

impl From<RasterError> for EvalError {
    fn from(e: RasterError) -> Self {
        EvalError::Raster(RasterEvalError::Raster(e))
    }
}

/// Scores the label raster `pred` against the label raster `target`.
///
/// Both must be single-band, of the same size and, when both are georeferenced, georeferenced
/// alike. Pixels equal to either raster's nodata value are masked.
pub fn evaluate_files(
    pred: &Path,
    target: &Path,
    options: &EvalOptions,
) -> Result<EvalReport, EvalError> {
    let mut p = RasterFile::open(pred)?;
    let mut t = RasterFile::open(target)?;
    let (pi, ti) = (p.info().clone(), t.info().clone());
    for (path, info) in [(pred, &pi), (target, &ti)] {
        if info.bands != 1 {
            return Err(RasterEvalError::Bands {
                path: path.to_owned(),
                bands: info.bands,
            }
            .into());
        }
    }
    if (pi.width, pi.height) != (ti.width, ti.height) {
        return Err(RasterEvalError::Size {
            pred: (pi.width, pi.height),
            target: (ti.width, ti.height),
        }
        .into());
    }
    if let (Some(a), Some(b)) = (&pi.georef, &ti.georef)
        && !same_georef(a, b)
    {
        return Err(RasterEvalError::Georef.into());
    }
    let mut acc = Accumulator::new(options);
    let mut y = 0;
    while y < pi.height {
        let rows = STRIP_ROWS.min(pi.height - y);
        let window = Window::new(0, y, pi.width, rows);
        let pb = p.read(window)?;
        let tb = t.read(window)?;
        let pl = labels(&pb.samples, pred)?;
        let tl = labels(&tb.samples, target)?;
        let valid: Vec<bool> = (0..pl.len())
            .map(|i| !is_nodata(&pb.samples, i, pi.nodata) && !is_nodata(&tb.samples, i, ti.nodata))
            .collect();
        acc.add_masked(&pl, &tl, &valid)?;
        y += rows;
    }
    acc.finish()
}

/// Whether element `i` equals the nodata value or is NaN.
fn is_nodata(s: &Samples, i: usize, nodata: Option<f64>) -> bool {
    let v = s.get_f64(i);
    v.is_nan() || nodata.is_some_and(|n| v == n)
}

/// Samples as integer labels (floats must hold integral values; NaN is masked as nodata).
fn labels(s: &Samples, path: &Path) -> Result<Vec<i64>, EvalError> {
    Ok(match s {
        Samples::U8(v) => v.iter().map(|&x| i64::from(x)).collect(),
        Samples::U16(v) => v.iter().map(|&x| i64::from(x)).collect(),
        Samples::I16(v) => v.iter().map(|&x| i64::from(x)).collect(),
        Samples::U32(v) => v.iter().map(|&x| i64::from(x)).collect(),
        Samples::F32(_) | Samples::F64(_) => {
            let mut out = Vec::with_capacity(s.len());
            for i in 0..s.len() {
                let v = s.get_f64(i);
                if v.is_nan() {
                    out.push(i64::MIN);
                } else if v.fract() != 0.0 || v.abs() > 9.0e15 {
                    return Err(RasterEvalError::NotInteger {
                        path: path.to_owned(),
                        value: v,
                    }
                    .into());
                } else {
                    out.push(v as i64);
                }
            }
            out
        }
    })
}
