//! Installing what the commands need: rustup targets, Debian packages and npm packages.

use std::path::Path;

use anyhow::{Context as _, Result};

use crate::cmd::{Cmd, note};

/// Adds a rustup target unless it is already installed.
pub fn ensure_rust_target(target: &str) -> Result<()> {
    let installed = Cmd::new("rustup")?
        .args(["target", "list", "--installed"])
        .query_quietly()
        .unwrap_or_default();
    if installed.lines().any(|line| line.trim() == target) {
        note(&format!("rust target {target}: installed"));
        return Ok(());
    }
    note(&format!("installing rust target {target} (rustup)"));
    Cmd::new("rustup")?
        .args(["target", "add", target])
        .run()
        .with_context(|| format!("could not install the rust target {target}"))
}

/// Installs the Debian packages that are missing, with `apt-get install -y`
/// (through `sudo -n` when not running as root).
pub fn ensure_apt_packages(packages: &[&str]) -> Result<()> {
    install_missing(packages, &[])
}

/// [`ensure_apt_packages`] without the packages' recommendations (QGIS recommends GRASS and
/// more, hundreds of megabytes the tests do not use).
pub fn ensure_apt_packages_without_recommends(packages: &[&str]) -> Result<()> {
    install_missing(packages, &["--no-install-recommends"])
}

fn install_missing(packages: &[&str], options: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !is_installed(p))
        .collect();
    if missing.is_empty() {
        note(&format!(
            "Debian packages {}: installed",
            packages.join(", ")
        ));
        return Ok(());
    }
    let names = missing.join(" ");
    note(&format!("installing {names} (apt-get)"));
    apt_get(&["update"])
        .and_then(|()| apt_get(&[&["install", "-y"], options, missing.as_slice()].concat()))
        .with_context(|| {
            format!("could not install {names}; as root run: apt-get install -y {names}")
        })
}

fn is_installed(package: &str) -> bool {
    Cmd::new("dpkg-query")
        .map(|c| c.args(["-W", "-f=${Status}", package]).query_quietly())
        .ok()
        .flatten()
        .is_some_and(|status| status.trim() == "install ok installed")
}

fn apt_get(args: &[&str]) -> Result<()> {
    let cmd = if nix::unistd::geteuid().is_root() {
        Cmd::new("apt-get")?
    } else {
        Cmd::new("sudo")?.args(["-n", "apt-get"])
    };
    cmd.args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()
}

/// Runs `npm ci` in `dir` when its `node_modules` is missing or `package-lock.json` changed since the last
/// install (a copy of the lock file is kept in `node_modules/.xtask-package-lock.json`).
pub fn ensure_npm_deps(dir: &Path) -> Result<()> {
    let lock = dir.join("package-lock.json");
    let stamp = dir.join("node_modules").join(".xtask-package-lock.json");
    let wanted =
        std::fs::read(&lock).with_context(|| format!("could not read {}", lock.display()))?;
    if std::fs::read(&stamp).is_ok_and(|installed| installed == wanted) {
        note(&format!("npm packages in {}: installed", dir.display()));
        return Ok(());
    }
    Cmd::new("npm")?
        .arg("ci")
        .arg("--no-audit")
        .arg("--no-fund")
        .arg("--prefix")
        .arg(dir)
        .run()
        .with_context(|| format!("could not install the npm packages of {}", dir.display()))?;
    std::fs::write(&stamp, wanted).with_context(|| format!("could not write {}", stamp.display()))
}
