//! `cargo xtask test`: installs what is missing, then runs the checks in order and stops at the first failure.

use anyhow::{Context as _, Result};

use crate::cmd::{Cmd, note};
use crate::e2e;
use crate::fuzz;
use crate::install::{ensure_apt_packages, ensure_rust_target};

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Debian packages the checks need: GDAL for fixtures, clang to build zstd-sys for wasm32.
pub const APT_PACKAGES: &[&str] = &["gdal-bin", "clang"];

/// One named check.
pub struct Step {
    name: &'static str,
    action: Box<dyn FnOnce() -> Result<()>>,
}

impl Step {
    pub fn new(name: &'static str, action: impl FnOnce() -> Result<()> + 'static) -> Self {
        Self {
            name,
            action: Box::new(action),
        }
    }

    fn cmd(name: &'static str, cmd: Cmd) -> Self {
        Self::new(name, move || cmd.run())
    }
}

fn steps() -> Result<Vec<Step>> {
    let cargo = |name, args: &[&str]| -> Result<Step> { Ok(Step::cmd(name, Cmd::cargo(args)?)) };
    let mut steps = vec![
        cargo("format", &["fmt", "--all", "--", "--check"])?,
        cargo(
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
        )?,
        cargo("tests", &["test", "--workspace"])?,
        cargo(
            "wasm build",
            &["build", "-p", "engine", "--target", WASM_TARGET],
        )?,
    ];
    steps.extend(e2e::steps());
    steps.push(Step::new("fuzz", fuzz::ci));
    Ok(steps)
}

pub fn run() -> Result<()> {
    ensure_rust_target(WASM_TARGET)?;
    ensure_apt_packages(&[APT_PACKAGES, e2e::APT_PACKAGES].concat())?;
    e2e::ensure_tools()?;
    let steps = steps()?;
    let count = steps.len();
    for (i, step) in steps.into_iter().enumerate() {
        note(&format!("step {}/{count}: {}", i + 1, step.name));
        (step.action)().with_context(|| format!("step `{}` failed", step.name))?;
    }
    note(&format!("all {count} steps passed"));
    Ok(())
}
