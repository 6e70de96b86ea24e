//! Building the web app: the tools trunk needs (trunk itself and the wasm-bindgen CLI at the
//! `Cargo.lock` version), then `cargo fetch` and `trunk build` into `dist/`.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

use crate::cmd::{Cmd, note, repo_root};
use crate::install::{ensure_apt_packages, ensure_rust_target};

/// The trunk release the build is made with (`Trunk.toml` relies on its options).
const TRUNK_VERSION: &str = "0.22.1";

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

/// Builds the web app into `dist/` at the repository root and returns that folder.
///
/// Installs what is missing ([`ensure_tools`]), fetches the crates (trunk builds offline),
/// then runs `trunk build` (`--release` when `release`).
pub fn build_dist(release: bool) -> Result<PathBuf> {
    ensure_tools()?;
    Cmd::cargo(["fetch"])?.run()?;
    let mut trunk = Cmd::new("trunk")?.arg("build");
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
