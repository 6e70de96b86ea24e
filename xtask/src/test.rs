//! `cargo xtask test`: installs what is missing, then runs the checks in order and stops at the first failure.

use anyhow::{Context as _, Result, bail};

use crate::cmd::{Cmd, note};
use crate::e2e;
use crate::fuzz;
use crate::install::{
    ensure_apt_packages, ensure_apt_packages_without_recommends, ensure_rust_target,
};

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
        Step::new("cuda build guard", cuda_build_guard),
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
        Step::new(
            "Slurm cluster (fit → apply array → merge)",
            crate::slurm::run,
        ),
        Step::new("QGIS plugin tests (pytest)", crate::qgis::run_pytest),
        cargo(
            "wasm build",
            &["build", "-p", "engine", "--target", WASM_TARGET],
        )?,
    ];
    steps.extend(e2e::steps());
    steps.push(Step::new("fuzz", fuzz::ci));
    Ok(steps)
}

/// The build dependency of the registry's `cubecl-llvm` that downloads LLVM from GitHub.
const LLVM_DOWNLOADER: &str = "tracel-llvm-bundler";

/// Fails if the `cuda` feature of native-trainer or mapseg-cli would build [`LLVM_DOWNLOADER`].
///
/// The root manifest patches `cubecl-llvm` with an LLVM-free stand-in
/// (`native-trainer/cubecl-llvm-stub`), but `[patch]` only applies while its version is the one
/// `cubecl-cuda` asks for: after a cubecl update cargo would quietly go back to the registry
/// crate and its download. `cargo tree` only resolves the graph, so this costs no compilation;
/// the CUDA build itself never runs in CI.
fn cuda_build_guard() -> Result<()> {
    for package in ["native-trainer", "mapseg-cli"] {
        cuda_guard(package)?;
    }
    Ok(())
}

/// [`cuda_build_guard`] for one package with a `cuda` feature.
fn cuda_guard(package: &str) -> Result<()> {
    let output = Cmd::cargo([
        "tree",
        "-p",
        package,
        "--features",
        "cuda",
        "-i",
        LLVM_DOWNLOADER,
    ])?
    .output_unchecked()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Not in Cargo.lock at all: cargo rejects the `-i` package.
    let absent = format!("package ID specification `{LLVM_DOWNLOADER}` did not match any packages");
    if output.status.success() {
        // In Cargo.lock, but not in this graph: cargo prints nothing (and warns about it).
        if stdout.trim().is_empty() {
            return Ok(());
        }
        bail!(
            "{package}'s `cuda` feature builds {LLVM_DOWNLOADER}, which downloads LLVM; keep \
             native-trainer/cubecl-llvm-stub at the version of the pinned cubecl-cuda:\n{stdout}"
        );
    }
    if stderr.contains(&absent) {
        return Ok(());
    }
    bail!("`cargo tree` failed ({}):\n{stderr}", output.status)
}

pub fn run() -> Result<()> {
    ensure_rust_target(WASM_TARGET)?;
    ensure_apt_packages(&[APT_PACKAGES, e2e::APT_PACKAGES].concat())?;
    ensure_apt_packages_without_recommends(
        &[crate::qgis::APT_PACKAGES, crate::slurm::APT_PACKAGES].concat(),
    )?;
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
