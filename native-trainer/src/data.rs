//! Training data: real scenes (GeoTIFF files, folders of them, or the `train` split of a
//! `shard-tools` shard tree), each normalised once from its own sample and held in memory in
//! the network's canonical slots.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use engine::cnn::bands::{BandRoles, SLOTS};
use engine::cnn::input::{InputSpec, Span};
use engine::geotiff::GeoTiffReader;
use engine::normalise::Normalisation;
use engine::progress::NoProgress;
use rand::Rng;

/// One scene in memory.
#[derive(Debug, Clone)]
pub struct Scene {
    pub name: String,
    pub width: usize,
    pub height: usize,
    /// Planar slot values, `[slot][row][col]`.
    pub values: Vec<f32>,
    pub valid: Vec<bool>,
    pub mask: [f32; SLOTS],
    pub roles: String,
}

/// The marker file of a shard tree (see `shard-tools`).
const SHARD_MARKER: &str = ".shard-tools.json";

/// Every GeoTIFF a data argument names: a file, the `.tif` files of a folder (recursively), or
/// the `train` split's input windows of a shard tree.
pub fn files(arg: &Path) -> Result<Vec<PathBuf>> {
    if arg.is_file() {
        return Ok(vec![arg.to_path_buf()]);
    }
    if !arg.is_dir() {
        bail!("{}: no such file or folder", arg.display());
    }
    let root = if arg.join(SHARD_MARKER).is_file() {
        arg.join("train")
    } else {
        arg.to_path_buf()
    };
    let shards = arg.join(SHARD_MARKER).is_file();
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        let mut entries = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .collect::<std::io::Result<Vec<_>>>()?;
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let p = e.path();
            if p.is_dir() {
                // In a shard tree only input windows train; targets are labels.
                if !(shards && p.file_name().is_some_and(|n| n == "targets")) {
                    stack.push(p);
                }
            } else if p
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("tif") || x.eq_ignore_ascii_case("tiff"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    if out.is_empty() {
        bail!("{}: no GeoTIFF files found", arg.display());
    }
    Ok(out)
}

/// Loads a scene: band roles from the file, the scene's normalisation from its sample.
pub fn load(path: &Path, seed: u64) -> Result<Scene> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = GeoTiffReader::open(BufReader::new(file))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let info = reader.info().clone();
    let roles = BandRoles::from_info(&info).with_context(|| path.display().to_string())?;
    let described = roles.describe();
    let spec = InputSpec::fit(
        &mut reader,
        roles.file_bands(),
        roles,
        Normalisation::RobustClip,
        seed,
        &NoProgress,
    )
    .with_context(|| format!("cannot normalise {}", path.display()))?;
    let span = Span {
        x: 0,
        y: 0,
        width: info.width,
        height: info.height,
    };
    let input = spec
        .read(&mut reader, span)
        .with_context(|| format!("cannot decode {}", path.display()))?;
    Ok(Scene {
        name: path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        width: info.width as usize,
        height: info.height as usize,
        values: input.values,
        valid: input.valid,
        mask: input.mask,
        roles: described,
    })
}

impl Scene {
    /// The share of valid pixels in a window.
    pub fn valid_share(&self, x: usize, y: usize, w: usize, h: usize) -> f32 {
        let mut n = 0usize;
        for row in y..y + h {
            n += self.valid[row * self.width + x..row * self.width + x + w]
                .iter()
                .filter(|&&v| v)
                .count();
        }
        n as f32 / (w * h) as f32
    }

    /// Copies a `size`² window at (`x`, `y`) into `out` (planar, 6 slots) and its validity.
    pub fn crop(&self, x: usize, y: usize, size: usize, out: &mut [f32], valid: &mut [bool]) {
        let plane = self.width * self.height;
        for s in 0..SLOTS {
            for row in 0..size {
                let src = s * plane + (y + row) * self.width + x;
                let dst = (s * size + row) * size;
                out[dst..dst + size].copy_from_slice(&self.values[src..src + size]);
            }
        }
        for row in 0..size {
            let src = (y + row) * self.width + x;
            valid[row * size..(row + 1) * size].copy_from_slice(&self.valid[src..src + size]);
        }
    }
}

/// Picks a scene with probability proportional to its pixel count.
pub fn pick_scene(scenes: &[Scene], rng: &mut impl Rng) -> usize {
    let total: usize = scenes.iter().map(|s| s.width * s.height).sum();
    let mut t = rng.random_range(0..total);
    for (i, s) in scenes.iter().enumerate() {
        let n = s.width * s.height;
        if t < n {
            return i;
        }
        t -= n;
    }
    scenes.len() - 1
}
