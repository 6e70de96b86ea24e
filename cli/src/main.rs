//! `mapseg`: describe and segment GeoTIFF rasters from the command line.
//!
//! - `mapseg info FILE` prints what the file holds and where it lies.
//! - `mapseg segment IN -o OUT` writes a georeferenced label GeoTIFF (K-Means), with optional
//!   class statistics (CSV) and run manifest (JSON).
//!
//! Errors print one line and exit with status 1.

mod args;
mod bench;
mod info;
mod output;
mod progress;
mod segment;

use clap::Parser;

fn main() {
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Info(a) => info::run(&a),
        args::Command::Segment(a) => segment::run(&a),
        args::Command::BenchCluster(a) => bench::run(&a),
    };
    if let Err(e) = result {
        eprintln!("mapseg: error: {}", one_line(&e));
        std::process::exit(1);
    }
}

/// The error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}
