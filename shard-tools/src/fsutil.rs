//! File-system helpers that never delete anything this crate did not write.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::index::{FORMAT, INDEX_FILE, INPUTS_DIR, MARKER, Marker, SHARD_FILE, TARGETS_DIR};

/// A file-system failure, or a refusal to touch files that are not ours.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// An operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The output folder holds files and was not made by shard-tools.
    #[error(
        "refusing to write into a non-empty folder that is not a shard tree (no {MARKER}): {}",
        path.display()
    )]
    Foreign {
        /// The folder.
        path: PathBuf,
    },
    /// A shard folder to replace holds a file this crate does not write.
    #[error("refusing to delete a shard folder holding a file shard-tools did not write: {}", path.display())]
    Unexpected {
        /// The unexpected file.
        path: PathBuf,
    },
}

/// Wraps an I/O error with its path.
pub fn io(path: &Path) -> impl Fn(std::io::Error) -> FsError + '_ {
    move |source| FsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Makes `out` a shard tree: creates it (with its marker) when absent or empty, accepts it when
/// it has our marker, and refuses anything else.
pub fn prepare_tree(out: &Path) -> Result<(), FsError> {
    let marker = out.join(MARKER);
    if marker.is_file() {
        let text = fs::read_to_string(&marker).map_err(io(&marker))?;
        return match serde_json::from_str::<Marker>(&text) {
            Ok(m) if m.format == FORMAT => Ok(()),
            _ => Err(FsError::Foreign {
                path: out.to_owned(),
            }),
        };
    }
    if out.exists() {
        let mut entries = fs::read_dir(out).map_err(io(out))?;
        if entries.next().is_some() {
            return Err(FsError::Foreign {
                path: out.to_owned(),
            });
        }
    } else {
        fs::create_dir_all(out).map_err(io(out))?;
    }
    let body = serde_json::to_vec_pretty(&Marker {
        format: FORMAT.to_owned(),
    })
    .unwrap_or_default();
    write_atomic(&marker, &body)
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over `path`, so
/// `path` is either complete or untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let mut tmp = temporary_beside(path)?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io(tmp.path()))?;
    tmp.persist(path).map_err(|e| FsError::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// A new file `.<name>.<random>.tmp` in the folder of `path`, removed when dropped unless it
/// is persisted; a crash may leave one behind, which [`remove_shard_dir`] counts as ours.
fn temporary_beside(path: &Path) -> Result<NamedTempFile<fs::File>, FsError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Opened as `File::create` opens a file (the usual permissions, not a temporary file's
    // 0600), but never onto an existing one.
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(TEMP_SUFFIX)
        .make_in(dir, |p| {
            fs::File::options().write(true).create_new(true).open(p)
        })
        .map_err(io(dir))
}

/// Removes a shard folder written by this crate: `*.tif` in `inputs/` and `targets/`,
/// `index.jsonl`, `shard.json`, then the folders themselves. Anything else stops the removal
/// with [`FsError::Unexpected`], leaving the user's file in place.
pub fn remove_shard_dir(dir: &Path) -> Result<(), FsError> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours_file = name == INDEX_FILE || name == SHARD_FILE || is_temp(&name);
        let ours_dir = name == INPUTS_DIR || name == TARGETS_DIR;
        if ours_file && path.is_file() {
            continue;
        }
        if ours_dir && path.is_dir() {
            for inner in fs::read_dir(&path).map_err(io(&path))? {
                let inner = inner.map_err(io(&path))?.path();
                let inner_name = inner
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if !(inner.is_file() && (inner_name.ends_with(".tif") || is_temp(&inner_name))) {
                    return Err(FsError::Unexpected { path: inner });
                }
            }
            continue;
        }
        return Err(FsError::Unexpected { path });
    }
    for sub in [INPUTS_DIR, TARGETS_DIR] {
        let d = dir.join(sub);
        if d.is_dir() {
            for inner in fs::read_dir(&d).map_err(io(&d))? {
                let p = inner.map_err(io(&d))?.path();
                fs::remove_file(&p).map_err(io(&p))?;
            }
            fs::remove_dir(&d).map_err(io(&d))?;
        }
    }
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let p = entry.map_err(io(dir))?.path();
        fs::remove_file(&p).map_err(io(&p))?;
    }
    fs::remove_dir(dir).map_err(io(dir))
}

/// The end of the names of [`write_atomic`]'s temporary files.
const TEMP_SUFFIX: &str = ".tmp";

/// Whether `name` is one of [`write_atomic`]'s temporary files (left behind by a crash).
fn is_temp(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
}

/// Removes `dir` and then its parents up to (not including) `stop`, each only if empty.
pub fn remove_empty_dirs(dir: &Path, stop: &Path) {
    let mut d = dir.to_path_buf();
    while d.starts_with(stop) && d != stop {
        if fs::remove_dir(&d).is_err() {
            break;
        }
        match d.parent() {
            Some(p) => d = p.to_path_buf(),
            None => break,
        }
    }
}

/// Syncs a folder so that renames into it survive a crash (a no-op where unsupported).
pub fn sync_dir(dir: &Path) {
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_the_file_and_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SHARD_FILE);
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [SHARD_FILE]);
        // The same permissions as a file made by `File::create`.
        let plain = dir.path().join("plain");
        fs::File::create(&plain).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions(),
            fs::metadata(&plain).unwrap().permissions()
        );
        assert!(write_atomic(&dir.path().join("missing/x.json"), b"x").is_err());
    }

    #[test]
    fn temporary_files_are_beside_the_target_and_count_as_ours() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join(INDEX_FILE);
        let tmp = temporary_beside(&target).unwrap();
        assert_eq!(tmp.path().parent(), Some(dir.path()));
        let name = tmp
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(name.starts_with(&format!(".{INDEX_FILE}.")), "{name}");
        assert!(is_temp(&name), "{name}");
        // A temporary file left behind does not stop the folder's removal.
        let (_, left) = tmp.keep().unwrap();
        remove_shard_dir(dir.path()).unwrap();
        assert!(!left.exists() && !dir.path().exists());
    }
}
