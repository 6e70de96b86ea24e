//! Project commands, run as `cargo xtask <command>`:
//!
//! - `test`: installs what is missing (the `wasm32-unknown-unknown` target, Debian `gdal-bin` and `clang`), then
//!   runs `cargo fmt --check`, `cargo clippy -D warnings`, `cargo test --workspace` and the engine's wasm32 build,
//!   stopping at the first failure.
//! - `serve`: the web app is not part of this build yet; says so and exits with status 2.
//! - `bench [--strict] [--mapseg PATH]`: prepares a real 4096² and a 16384² GeoTIFF and a Python venv with
//!   scikit-learn and faiss under `$CARGO_TARGET_DIR/../mapseg-bench/`, times `mapseg` against MiniBatchKMeans and
//!   faiss k-means on the same pixels, measures peak memory on the large raster, and prints PASS/FAIL per target.
//! - `fixtures`: regenerates the GDAL-made test fixtures (`tests/fixtures/make_gdal_fixtures.sh`).
//!
//! Every command prints each step (`==> …`) before doing it. `CARGO_TARGET_DIR` defaults to
//! `$HOME/.cache/mapseg-target` and is passed on to every child process.

mod bench;
mod cmd;
mod fixtures;
mod install;
mod peak_rss;
mod serve;
mod test;

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Mapseg project commands"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install what is missing, then format check, clippy, tests and the wasm32 build.
    Test,
    /// Serve the web app (not part of this build yet).
    Serve,
    /// Benchmark `mapseg` against MiniBatchKMeans and faiss on real imagery.
    Bench {
        /// Exit with a non-zero status when a target is missed.
        #[arg(long)]
        strict: bool,
        /// Benchmark this `mapseg` executable instead of building the release one.
        #[arg(long, value_name = "PATH")]
        mapseg: Option<std::path::PathBuf>,
    },
    /// Regenerate the GDAL-made test fixtures.
    Fixtures,
    /// Run a command and write its peak resident memory (KiB) to a file.
    #[command(hide = true)]
    PeakRss {
        /// Where to write the peak RSS in KiB.
        #[arg(long)]
        report: std::path::PathBuf,
        /// The command and its arguments.
        #[arg(required = true, last = true)]
        command: Vec<OsString>,
    },
}

// `main` maps the outcome to an exit code itself (rather than returning `anyhow::Result`) so that the error is
// printed exactly once, with its whole chain, and commands can choose their own exit status.
fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<ExitCode> {
    match command {
        Command::Test => test::run().map(|()| ExitCode::SUCCESS),
        Command::Serve => Ok(serve::run()),
        Command::Bench { strict, mapseg } => bench::run(strict, mapseg),
        Command::Fixtures => fixtures::run().map(|()| ExitCode::SUCCESS),
        Command::PeakRss { report, command } => peak_rss::run_child(&report, &command),
    }
}
