//! Running external programs: every command is printed before it runs, and a failure names it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

/// Prints one progress line, in the same style as the commands themselves.
pub fn note(message: &str) {
    println!("==> {message}");
}

/// The repository root (the parent of the `xtask` package).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the repository root")
}

/// The cargo target directory: `CARGO_TARGET_DIR` if set, else `$HOME/.cache/mapseg-target`.
pub fn target_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME").context("neither CARGO_TARGET_DIR nor HOME is set")?;
    Ok(PathBuf::from(home).join(".cache").join("mapseg-target"))
}

/// A command line to run, shown as `==> program args…` before it starts.
///
/// Every command runs from the repository root with `CARGO_TARGET_DIR` set (see [`target_dir`]).
#[derive(Debug)]
pub struct Cmd {
    inner: Command,
    shown: String,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Result<Self> {
        let program = program.as_ref();
        let mut inner = Command::new(program);
        inner
            .current_dir(repo_root())
            .env("CARGO_TARGET_DIR", target_dir()?);
        Ok(Self {
            inner,
            shown: quote(program),
        })
    }

    /// `cargo` with the given arguments.
    pub fn cargo<I, S>(args: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Ok(Self::new("cargo")?.args(args))
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.shown.push(' ');
        self.shown.push_str(&quote(arg.as_ref()));
        self.inner.arg(arg);
        self
    }

    pub fn args<I, S>(self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        args.into_iter().fold(self, Self::arg)
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.inner.env(key, value);
        self
    }

    /// Prints and runs the command; fails, naming it, unless it exits with status 0.
    pub fn run(self) -> Result<()> {
        self.run_timed().map(|_| ())
    }

    /// Like [`Cmd::run`], and returns the wall time from spawn to exit.
    pub fn run_timed(mut self) -> Result<Duration> {
        note(&self.shown);
        let start = Instant::now();
        let status = self
            .inner
            .status()
            .with_context(|| format!("could not start `{}`", self.shown))?;
        let elapsed = start.elapsed();
        if !status.success() {
            bail!("`{}` failed ({status})", self.shown);
        }
        Ok(elapsed)
    }

    /// Prints and runs the command, returning its standard output (standard error passes through).
    pub fn output(mut self) -> Result<String> {
        note(&self.shown);
        let output = self
            .inner
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("could not start `{}`", self.shown))?;
        if !output.status.success() {
            bail!("`{}` failed ({})", self.shown, output.status);
        }
        String::from_utf8(output.stdout)
            .with_context(|| format!("`{}` printed invalid UTF-8", self.shown))
    }

    /// Prints and runs the command, returning its status and both outputs, whatever the status:
    /// judging a failure is left to the caller.
    pub fn output_unchecked(mut self) -> Result<Output> {
        note(&self.shown);
        self.inner
            .output()
            .with_context(|| format!("could not start `{}`", self.shown))
    }

    /// Runs a silent query (not printed) and returns its standard output, or `None` if it fails.
    pub fn query_quietly(mut self) -> Option<String> {
        let output = self.inner.stderr(Stdio::null()).output().ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// Shell-style quoting for display only.
fn quote(arg: &OsStr) -> String {
    let text = arg.to_string_lossy();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}
