//! Project commands, run as `cargo xtask <command>`:
//!
//! - `test`: installs what is missing (the `wasm32-unknown-unknown` target; Debian `gdal-bin`, `clang`, `chromium`,
//!   `xvfb`, `python3-pyqt5.qtwebengine`, `slurm-wlm`; trunk and the wasm-bindgen CLI; `playwright-core` from npm),
//!   then runs `cargo fmt --check`, `cargo clippy -D warnings`, `cargo test --workspace`, `mapseg fit`, `apply` and
//!   `merge` on a throw-away one-node Slurm cluster (`tests/slurm/run.sh`), the engine's wasm32 build, the web
//!   build, the Playwright tests in headless Chromium, the QtWebEngine 5.15 test and the fuzz crate's checks with 20 s
//!   of each fuzz target (see `fuzz`), stopping at the first failure.
//! - `serve [--port N] [--dev] [--no-build]`: installs trunk and the wasm-bindgen CLI if missing (the versions
//!   `Trunk.toml` and `Cargo.lock` name), builds the web app with `trunk build --release` into `dist/`, and serves it
//!   on `http://127.0.0.1:8080/` with a small static server (correct MIME types, `application/wasm` included).
//! - `bench [--strict] [--mapseg PATH]`: prepares a real 4096² and a 16384² GeoTIFF and a Python venv with
//!   scikit-learn and faiss under `$CARGO_TARGET_DIR/../mapseg-bench/`, times `mapseg` against MiniBatchKMeans and
//!   faiss k-means on the same pixels, measures peak memory on the large raster, and prints PASS/FAIL per target.
//! - `bench cnn [--strict] [--mapseg PATH]`: tiles the labelled Sentinel-2 scene of `tests/fixtures/labelled/` 3×3
//!   into the bench directory, times `mapseg segment --method cnn` and `--method kmeans` on one thread and on all
//!   cores (and the CNN on the GPU backends where there is a GPU), prints megapixels per second as a Markdown table
//!   with PASS/MISS for CNN inference ≥ 1 MP/s on one CPU core, and writes `bench-cnn-results.json`.
//! - `bench web [--mapseg PATH] [--dist PATH] [--all-runs]`: builds the release web app and `mapseg` (unless given),
//!   installs Chromium and the npm packages of `tests/e2e` if missing, and on both bench GeoTIFFs (4096² and 16384²)
//!   at 1, 2 and all threads (without repeats) runs `mapseg segment --method kmeans --threads N`, then the app in
//!   headless Chromium, a fresh browser per run, with K-Means on the CPU and N workers (`?backend=cpu&workers=N`);
//!   `--all-runs` adds K-Means on WebGPU and the CNN on the CPU and on WebGPU on the 4096² raster (with
//!   `mapseg segment --method cnn` as reference). Prints a Markdown table (browser drop → result, file panel /
//!   preview, Segment → result, renderer peak RSS, native wall time and peak RSS, browser ÷ native at the same thread
//!   count) and the raw and gzip sizes of the app's wasm files, and writes `bench-web-results.json`. Fails on errors
//!   only.
//! - `bench cluster [--mapseg PATH] [--parts 1,2,4] [--raster small|large]`: on the 16384² bench GeoTIFF (4096²
//!   with `--raster small`), times `mapseg segment` (the one-machine baseline) and `mapseg fit`, then for each part
//!   count N runs the N parts of `mapseg apply` one after the other on all cores and `mapseg merge`, checks the merged
//!   COG and statistics equal the one-machine run's byte for byte, and prints a Markdown table (fit, slowest part, sum
//!   of parts, merge, projected wall time on N nodes = fit + slowest part + merge, speed-up) with each part's peak
//!   RSS; writes `bench-cluster-results.json`. Fails on errors and on a merge that differs.
//! - `quality [--mapseg PATH] [-- SEGMENT ARGS…]`: segments the labelled scenes of `tests/fixtures/labelled/` with
//!   `mapseg segment` at its defaults (k = the number of classes; trailing arguments are appended to every run) and
//!   with scikit-learn K-Means on z-scored bands, scores both against the reference labels with shard-tools' mean IoU,
//!   prints a Markdown table and writes `quality-results.json` to the bench directory. Fails on errors only.
//! - `package-qgis [--dist DIR] [--out DIR]`: builds the release web app (unless `--dist` names one) and writes the
//!   installable QGIS plugin zip `qgis-plugin/dist/mapseg-<version>.zip` (the plugin repository's layout: one
//!   `mapseg/` folder, the app in `mapseg/app/`).
//! - `fixtures`: regenerates the GDAL-made test fixtures (`tests/fixtures/make_gdal_fixtures.sh`).
//! - `fuzz [--seconds N] [TARGET…]`: installs the nightly toolchain (else uses the pinned one with
//!   `RUSTC_BOOTSTRAP=1`) and cargo-fuzz if missing, builds the targets of `fuzz/` once and runs each for N seconds
//!   (default 60) on its committed seed corpus plus a scratch corpus under `$CARGO_TARGET_DIR/fuzz/`, then reports
//!   executions, coverage and crash artifacts per target; fails on a crash, an input over 1 GiB or over 15 s.
//!
//! Every command prints each step (`==> …`) before doing it. `CARGO_TARGET_DIR` defaults to
//! `$HOME/.cache/mapseg-target` and is passed on to every child process.

mod bench;
mod cmd;
mod e2e;
mod fixtures;
mod fuzz;
mod install;
mod peak_rss;
mod qgis;
mod quality;
mod serve;
mod slurm;
mod test;
mod web;

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
    /// Install what is missing, then format check, clippy, tests, the wasm32 build, the browser tests and a short fuzz run.
    Test,
    /// Build the web app (`trunk build --release`) and serve `dist/` on http://127.0.0.1:PORT.
    Serve {
        /// Port to listen on (127.0.0.1 only).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Debug build (faster to build, slower to run).
        #[arg(long)]
        dev: bool,
        /// Serve the existing `dist/` without building.
        #[arg(long)]
        no_build: bool,
    },
    /// Benchmark `mapseg` against MiniBatchKMeans and faiss on real imagery (`bench cnn`: the CNN method's speed;
    /// `bench web`: the web app in headless Chromium beside the CLI; `bench cluster`: fit, apply in parts and merge
    /// beside one segment run).
    Bench {
        #[command(subcommand)]
        suite: Option<BenchSuite>,
        /// Exit with a non-zero status when a target is missed.
        #[arg(long, global = true)]
        strict: bool,
        /// Benchmark this `mapseg` executable instead of building the release one.
        #[arg(long, value_name = "PATH", global = true)]
        mapseg: Option<std::path::PathBuf>,
    },
    /// Score `mapseg segment` and scikit-learn K-Means against the labelled scenes' reference land cover.
    Quality {
        /// Score this `mapseg` executable instead of building the release one.
        #[arg(long, value_name = "PATH")]
        mapseg: Option<std::path::PathBuf>,
        /// Arguments appended to every `mapseg segment` run (after `--`), e.g. `-- --smooth 0`.
        #[arg(last = true, value_name = "SEGMENT ARGS")]
        segment_args: Vec<OsString>,
    },
    /// Build the installable QGIS plugin zip (the plugin with the release build of the app inside).
    PackageQgis {
        /// Bundle this built web app (a trunk `dist` folder) instead of building the release one.
        #[arg(long, value_name = "PATH")]
        dist: Option<std::path::PathBuf>,
        /// Folder for the zip (default: `qgis-plugin/dist/`).
        #[arg(long, value_name = "DIR")]
        out: Option<std::path::PathBuf>,
    },
    /// Regenerate the GDAL-made test fixtures.
    Fixtures,
    /// Build the fuzz targets of `fuzz/` and run each for a while; fails on a crash, OOM or timeout.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Which compiler builds the targets.
        #[arg(long, value_enum, default_value_t = fuzz::Toolchain::Auto)]
        toolchain: fuzz::Toolchain,
        /// Sanitizer of the fuzz build.
        #[arg(long, value_enum, default_value_t = fuzz::Sanitizer::Auto)]
        sanitizer: fuzz::Sanitizer,
        /// Targets to run (default: all of them: reader, pipeline, georef).
        #[arg(value_name = "TARGET")]
        targets: Vec<String>,
    },
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

/// What `cargo xtask bench` times besides its default comparison with MiniBatchKMeans and faiss.
#[derive(Debug, Subcommand)]
enum BenchSuite {
    /// Time the CNN method's inference beside K-Means on a tiled Sentinel-2 scene, on the CPU (and GPU if any).
    Cnn,
    /// Time the web app in headless Chromium (K-Means on the CPU, 1, 2 and all workers) beside `mapseg segment` at
    /// the same thread counts, on the real 4096² and 16384² rasters.
    Web {
        /// Measure this built web app (a trunk `dist` folder) instead of building the release one.
        #[arg(long, value_name = "PATH")]
        dist: Option<std::path::PathBuf>,
        /// Also measure K-Means on WebGPU and the CNN on the CPU and on WebGPU (4096² raster, all workers).
        #[arg(long)]
        all_runs: bool,
        /// Rounds of every run (each: the CLI, then the browser); the table shows the median round.
        #[arg(long, default_value_t = 3, value_name = "N")]
        rounds: usize,
    },
    /// Time `mapseg fit`, `apply` in N parts (one after the other, each on all cores) and `merge` beside one
    /// `mapseg segment` run, check the merge equals that run byte for byte, and project the wall time on N nodes.
    Cluster {
        /// Part counts to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4])]
        parts: Vec<u32>,
        /// Which bench raster: small (4096²) or large (16384²).
        #[arg(long, value_enum, default_value_t = bench::cluster::Raster::Large)]
        raster: bench::cluster::Raster,
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
        Command::Serve {
            port,
            dev,
            no_build,
        } => serve::run(port, dev, no_build).map(|()| ExitCode::SUCCESS),
        Command::Bench {
            suite: None,
            strict,
            mapseg,
        } => bench::run(strict, mapseg),
        Command::Bench {
            suite: Some(BenchSuite::Cnn),
            strict,
            mapseg,
        } => bench::cnn::run(strict, mapseg),
        // No targets: only errors fail, so `--strict` changes nothing.
        Command::Bench {
            suite:
                Some(BenchSuite::Web {
                    dist,
                    all_runs,
                    rounds,
                }),
            strict: _,
            mapseg,
        } => bench::web::run(mapseg, dist, all_runs, rounds),
        // No targets here either: a merge that differs from the one-machine run fails in any case.
        Command::Bench {
            suite: Some(BenchSuite::Cluster { parts, raster }),
            strict: _,
            mapseg,
        } => bench::cluster::run(mapseg, &parts, raster),
        Command::Quality {
            mapseg,
            segment_args,
        } => quality::run(mapseg, &segment_args),
        Command::PackageQgis { dist, out } => qgis::run(dist, out).map(|()| ExitCode::SUCCESS),
        Command::Fixtures => fixtures::run().map(|()| ExitCode::SUCCESS),
        Command::Fuzz {
            seconds,
            toolchain,
            sanitizer,
            targets,
        } => fuzz::run(seconds, &targets, toolchain, sanitizer),
        Command::PeakRss { report, command } => peak_rss::run_child(&report, &command),
    }
}
