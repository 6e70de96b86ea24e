//! Generating a header from a folder of inputs and a folder of targets.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use engine::raster::Window;

use crate::build::histogram;
use crate::header::{self, HeaderError, LoadedHeader, TemplateOptions, render_template};
use crate::pairing::{PairingError, pair};
use crate::rio::RasterFile;

/// Targets read to find the label values.
const LABEL_SCAN_FILES: usize = 16;
/// More distinct values than this are not listed as labels.
const MAX_LISTED_LABELS: usize = 64;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct InitOptions {
    /// Dataset id.
    pub dataset: String,
    /// Folder of input rasters.
    pub inputs: PathBuf,
    /// Folder of target rasters.
    pub targets: Option<PathBuf>,
    /// The header file to write.
    pub output: PathBuf,
    /// File-name pattern for both folders.
    pub pattern: String,
    /// Window side.
    pub window: u32,
    /// Windows per shard.
    pub shard_size: usize,
    /// Split seed.
    pub seed: u64,
    /// Overwrite an existing header file.
    pub force: bool,
}

/// What the generated header pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitReport {
    /// Items (inputs).
    pub items: usize,
    /// Items with a target.
    pub labelled: usize,
    /// Target files without an input.
    pub unmatched_targets: usize,
    /// Label values found in the targets.
    pub labels: Option<Vec<i64>>,
}

/// Failure to generate a header.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The output exists.
    #[error("{} exists; pass --force to overwrite it", .0.display())]
    Exists(PathBuf),
    /// A path cannot be resolved or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The generated header is invalid (for instance a bad dataset id).
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The folders could not be paired.
    #[error(transparent)]
    Pairing(#[from] PairingError),
}

/// Writes a commented header for `o.inputs` (and `o.targets`) to `o.output`.
pub fn init(o: &InitOptions) -> Result<InitReport, InitError> {
    if o.output.exists() && !o.force {
        return Err(InitError::Exists(o.output.clone()));
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| InitError::Io { path, source }
    };
    let base = o
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    std::fs::create_dir_all(&base).map_err(io(&base))?;
    let base_abs = base.canonicalize().map_err(io(&base))?;
    let rel = |dir: &Path| -> Result<PathBuf, InitError> {
        let abs = dir.canonicalize().map_err(io(dir))?;
        Ok(relative(&base_abs, &abs))
    };
    let mut options = TemplateOptions {
        dataset: o.dataset.clone(),
        inputs: rel(&o.inputs)?,
        targets: o.targets.as_deref().map(rel).transpose()?,
        labels: None,
        pattern: o.pattern.clone(),
        window: o.window,
        shard_size: o.shard_size,
        seed: o.seed,
    };
    let loaded = LoadedHeader {
        path: o.output.clone(),
        base: base.clone(),
        header: header::parse(&o.output, &render_template(&options))?,
    };
    let pairs = pair(&loaded)?;
    let mut labels = BTreeSet::new();
    let mut too_many = false;
    for target in pairs
        .items
        .iter()
        .filter_map(|i| i.target.as_deref())
        .take(LABEL_SCAN_FILES)
    {
        match scan_labels(&loaded.resolve(Path::new(target))) {
            Some(found) => labels.extend(found),
            None => too_many = true,
        }
        if labels.len() > MAX_LISTED_LABELS {
            too_many = true;
        }
    }
    if !too_many && !labels.is_empty() {
        options.labels = Some(labels.into_iter().collect());
    }
    let text = render_template(&options);
    header::parse(&o.output, &text)?;
    std::fs::write(&o.output, text).map_err(io(&o.output))?;
    Ok(InitReport {
        items: pairs.items.len(),
        labelled: pairs.labelled(),
        unmatched_targets: pairs.unmatched_targets.len(),
        labels: options.labels,
    })
}

/// The label values of a one-band integer raster; `None` when unreadable or not labels.
fn scan_labels(path: &Path) -> Option<BTreeSet<i64>> {
    let mut f = RasterFile::open(path).ok()?;
    let info = f.info().clone();
    if info.bands != 1 {
        return None;
    }
    let mut out = BTreeSet::new();
    let mut y = 0;
    while y < info.height {
        let rows = 256.min(info.height - y);
        let block = f.read(Window::new(0, y, info.width, rows)).ok()?;
        if !crate::rio::is_integer(&block.samples) {
            return None;
        }
        out.extend(histogram(&block.samples, info.nodata).0.into_keys());
        if out.len() > MAX_LISTED_LABELS {
            return None;
        }
        y += rows;
    }
    Some(out)
}

/// `to` relative to `from` (both absolute).
pub fn relative(from: &Path, to: &Path) -> PathBuf {
    let f: Vec<Component<'_>> = from.components().collect();
    let t: Vec<Component<'_>> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return to.to_owned();
    }
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/a/b"), Path::new("/a/c/d")),
            PathBuf::from("../c/d")
        );
        assert_eq!(
            relative(Path::new("/a/b"), Path::new("/a/b/x")),
            PathBuf::from("x")
        );
        assert_eq!(
            relative(Path::new("/a/b"), Path::new("/a/b")),
            PathBuf::from(".")
        );
    }
}
