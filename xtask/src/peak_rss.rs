//! Peak resident memory of one command.
//!
//! `getrusage(RUSAGE_CHILDREN)` reports the largest of all children a process has waited for, so the measurement
//! runs in a fresh `xtask peak-rss` process whose only child is the measured command.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, Result, bail};
use nix::sys::resource::{UsageWho, getrusage};

use crate::cmd::Cmd;

/// Runs `program args…` in a separate `xtask peak-rss` process and returns its peak RSS in KiB.
pub fn measure(program: &Path, args: &[OsString], report: &Path) -> Result<u64> {
    let xtask = std::env::current_exe().context("could not locate the xtask executable")?;
    Cmd::new(xtask)?
        .args([
            "peak-rss".as_ref(),
            "--report".as_ref(),
            report.as_os_str(),
            "--".as_ref(),
        ])
        .arg(program)
        .args(args)
        .run()?;
    let text = std::fs::read_to_string(report)
        .with_context(|| format!("could not read {}", report.display()))?;
    text.trim()
        .parse()
        .with_context(|| format!("invalid peak RSS {text:?} in {}", report.display()))
}

/// The `peak-rss` command: runs the command, writes its peak RSS (KiB) to `report`, exits with its status.
pub fn run_child(report: &Path, command: &[OsString]) -> Result<ExitCode> {
    let (program, args) = command.split_first().context("no command given")?;
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("could not start {}", program.to_string_lossy()))?;
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage failed")?;
    // Linux reports ru_maxrss in KiB.
    std::fs::write(report, format!("{}\n", usage.max_rss()))
        .with_context(|| format!("could not write {}", report.display()))?;
    match status.code() {
        Some(0) => Ok(ExitCode::SUCCESS),
        Some(code) => Ok(ExitCode::from(u8::try_from(code).unwrap_or(1))),
        None => bail!("{} was killed ({status})", program.to_string_lossy()),
    }
}
