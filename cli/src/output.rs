//! Output files: written to a temporary file beside the target and renamed into place only when
//! complete, and never onto the input or onto another output of the same run.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use engine::geotiff::{CogWriter, WriterOptions};
use tempfile::NamedTempFile;

/// A label GeoTIFF being written: a cloud-optimised GeoTIFF going into a temporary file beside
/// its path (dropped, and deleted, on any early return: no partial file is left), its tiles
/// waiting in an anonymous scratch file beside it until the overviews are done.
pub struct LabelFile {
    tmp: NamedTempFile,
    pub writer: CogWriter<BufWriter<File>, File>,
}

impl LabelFile {
    /// Starts the label GeoTIFF that will be `path`.
    pub fn create(path: &Path, options: WriterOptions) -> anyhow::Result<Self> {
        let tmp = temporary_beside(path)?;
        let sink = BufWriter::with_capacity(1 << 20, tmp.reopen()?);
        let scratch = scratch_beside(path)?;
        let writer = CogWriter::new(sink, scratch, options)?;
        Ok(Self { tmp, writer })
    }

    /// Writes the file out and syncs it; [`Written::persist`] then puts it in place.
    pub fn finish(self) -> anyhow::Result<Written> {
        self.writer
            .finish()?
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        Ok(Written(self.tmp))
    }
}

/// A complete label GeoTIFF not yet in place.
pub struct Written(NamedTempFile);

impl Written {
    /// Renames the file onto `path`.
    pub fn persist(self, path: &Path) -> anyhow::Result<()> {
        self.0
            .persist(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

/// Refuses a run whose outputs would overwrite the input or each other.
pub fn check_distinct(input: &Path, outputs: &[(&str, &Path)]) -> anyhow::Result<()> {
    let input = resolved(input);
    for (i, (what, path)) in outputs.iter().enumerate() {
        let p = resolved(path);
        if p == input {
            bail!(
                "{what} {} is the input file; choose another path",
                path.display()
            );
        }
        if let Some((other, _)) = outputs[..i].iter().find(|(_, q)| resolved(q) == p) {
            bail!(
                "{what} and {other} are the same file {}; choose different paths",
                path.display()
            );
        }
    }
    Ok(())
}

/// A temporary file in the folder of `path`, to be [`NamedTempFile::persist`]ed onto it.
pub fn temporary_beside(path: &Path) -> anyhow::Result<NamedTempFile> {
    let dir = folder_of(path);
    tempfile::Builder::new()
        .prefix(".mapseg-")
        .suffix(".part")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))
}

/// An anonymous scratch file in the folder of `path` (so on the same disk as the output): the
/// system removes it when it is closed, whatever ends the run.
pub fn scratch_beside(path: &Path) -> anyhow::Result<File> {
    let dir = folder_of(path);
    tempfile::tempfile_in(dir)
        .with_context(|| format!("cannot create a scratch file in {}", dir.display()))
}

/// Writes `bytes` to `path` through a temporary file, so `path` is either complete or untouched.
pub fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut tmp = temporary_beside(path)?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The folder `path` is in (`.` for a bare file name).
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// `path` made absolute with symbolic links resolved, as far as it exists.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (parent.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}
