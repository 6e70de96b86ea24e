//! File-system helpers that never delete anything this crate did not write.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

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

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    {
        let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io(path))
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

fn is_temp(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
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
