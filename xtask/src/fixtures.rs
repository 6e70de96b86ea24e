//! `cargo xtask fixtures`: regenerates the GDAL-made test fixtures.

use anyhow::{Result, ensure};

use crate::cmd::{Cmd, repo_root};
use crate::install::ensure_apt_packages;

const SCRIPT: &str = "tests/fixtures/make_gdal_fixtures.sh";

pub fn run() -> Result<()> {
    ensure_apt_packages(&["gdal-bin"])?;
    ensure!(
        repo_root().join(SCRIPT).is_file(),
        "the fixture script is missing: {SCRIPT}"
    );
    Cmd::new("bash")?.arg(SCRIPT).run()
}
