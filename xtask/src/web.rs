//! Building the web app: the tools trunk needs (trunk itself, the wasm-bindgen CLI at the
//! `Cargo.lock` version, and binaryen's wasm-opt from npm for the worker), then `cargo fetch`
//! and `trunk build` into `dist/`.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

use crate::cmd::{Cmd, note, repo_root, target_dir};
use crate::install::{ensure_apt_packages, ensure_rust_target};

/// The trunk release the build is made with (`Trunk.toml` relies on its options).
const TRUNK_VERSION: &str = "0.22.1";

/// The binaryen release whose wasm-opt shrinks the worker (npm's build; Debian's binaryen 108
/// writes modules that fail to instantiate). `index.html` runs it on the worker only.
const BINARYEN_VERSION: &str = "132";

/// The wasm-bindgen version of `Cargo.lock`, which the CLI must match exactly.
fn locked_wasm_bindgen() -> Result<String> {
    let lock = std::fs::read_to_string(repo_root().join("Cargo.lock"))
        .context("cannot read Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == r#"name = "wasm-bindgen""# {
            let version = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
                .map(|v| v.trim_matches('"').to_owned());
            return version.context("Cargo.lock: wasm-bindgen has no version line");
        }
    }
    bail!("Cargo.lock has no wasm-bindgen package: is the `web` crate a workspace member?")
}

/// Whether `program --version` prints `version`.
fn has_version(program: &str, version: &str) -> bool {
    Cmd::new(program)
        .ok()
        .and_then(|c| c.arg("--version").query_quietly())
        .is_some_and(|out| out.split_whitespace().any(|w| w == version))
}

/// Installs trunk and the wasm-bindgen CLI unless the right versions are on `PATH`, and clang
/// (zstd-sys compiles C for wasm32) unless it is there.
pub fn ensure_tools() -> Result<()> {
    ensure_rust_target("wasm32-unknown-unknown")?;
    ensure_apt_packages(&["clang"])?;
    if has_version("trunk", TRUNK_VERSION) {
        note(&format!("trunk {TRUNK_VERSION}: installed"));
    } else {
        // trunk 0.22 declares a newer rust-version than it needs.
        Cmd::cargo([
            "install",
            "--locked",
            "trunk",
            "--version",
            TRUNK_VERSION,
            "--ignore-rust-version",
        ])?
        .run()
        .context("could not install trunk")?;
    }
    let bindgen = locked_wasm_bindgen()?;
    if has_version("wasm-bindgen", &bindgen) {
        note(&format!("wasm-bindgen-cli {bindgen}: installed"));
    } else {
        // Not --locked: the CLI's own lockfile pins crates the registry may not have.
        Cmd::cargo(["install", "wasm-bindgen-cli", "--version", &bindgen])?
            .run()
            .context("could not install wasm-bindgen-cli")?;
    }
    Ok(())
}

/// Installs npm's binaryen (wasm-opt) next to the cargo target directory unless it is there;
/// returns the folder holding `wasm-opt`.
fn ensure_wasm_opt() -> Result<PathBuf> {
    let target = target_dir()?;
    let prefix = target
        .parent()
        .unwrap_or(&target)
        .join(format!("mapseg-binaryen-{BINARYEN_VERSION}"));
    let bin = prefix.join("node_modules").join(".bin");
    let wasm_opt = bin.join("wasm-opt");
    let wanted = format!("version_{BINARYEN_VERSION}");
    if has_version(&wasm_opt.to_string_lossy(), &format!("({wanted})")) {
        note(&format!("wasm-opt {BINARYEN_VERSION}: installed"));
        return Ok(bin);
    }
    std::fs::create_dir_all(&prefix)?;
    Cmd::new("npm")?
        .args([
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(&prefix)
        .arg(format!("binaryen@{BINARYEN_VERSION}"))
        .run()
        .context("could not install binaryen (wasm-opt) from npm")?;
    Ok(bin)
}

/// Builds the web app into `dist/` at the repository root and returns that folder.
///
/// Installs what is missing ([`ensure_tools`]), fetches the crates (trunk builds offline),
/// then runs `trunk build` (`--release` when `release`).
pub fn build_dist(release: bool) -> Result<PathBuf> {
    ensure_tools()?;
    let wasm_opt = ensure_wasm_opt()?;
    Cmd::cargo(["fetch"])?.run()?;
    // trunk finds wasm-opt on PATH: ours comes first.
    let path = std::env::join_paths(std::iter::once(wasm_opt).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))?;
    let mut trunk = Cmd::new("trunk")?.arg("build").env("PATH", path);
    if release {
        trunk = trunk.arg("--release");
    }
    trunk.run().context("the web app did not build")?;
    let dist = repo_root().join("dist");
    if !dist.join("index.html").is_file() {
        bail!("trunk finished but {} has no index.html", dist.display());
    }
    Ok(dist)
}
