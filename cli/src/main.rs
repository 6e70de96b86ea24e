//! `mapseg`: describe and segment GeoTIFF rasters from the command line.
//!
//! - `mapseg info FILE` prints what the file holds and where it lies.
//! - `mapseg segment IN -o OUT` writes a georeferenced label GeoTIFF (K-Means), with optional
//!   class statistics (CSV), run manifest (JSON) and class polygons (FlatGeobuf, GeoJSON).
//! - `mapseg polygons LABELS -o OUT` writes the classes of a label GeoTIFF as polygons.
//! - `mapseg relabel LABELS --merge 2,5 --name water -o OUT` merges classes of a label GeoTIFF.
//! - `mapseg fit IN… -o model.json`, `mapseg apply model.json IN… --parts N [--part I] -o DIR`
//!   and `mapseg merge DIR -o OUT`: a raster too big for one machine, fitted once, labelled in
//!   parts by an array job of any scheduler, and put back together, byte for byte as one run.
//!
//! Errors print one line and exit with status 1; Ctrl-C stops a run between units of work,
//! leaves no partial output behind and exits with status 130.

mod apply;
mod args;
mod bench;
mod cnn;
mod fit;
mod fitting;
mod info;
mod inputs;
mod labelling;
mod merge;
mod output;
mod parallel;
mod part_files;
mod part_index;
mod polygons;
mod progress;
mod relabel;
mod segment;

use std::process::ExitCode;

use clap::Parser;
use engine::pipeline::SegmentError;
use engine::progress::Cancelled;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Info(a) => info::run(&a),
        args::Command::Segment(a) => {
            progress::Cancel::on_ctrl_c().and_then(|cancel| segment::run(&a, &cancel))
        }
        args::Command::Polygons(a) => {
            progress::Cancel::on_ctrl_c().and_then(|cancel| polygons::run(&a, &cancel))
        }
        args::Command::Relabel(a) => relabel::run(&a),
        args::Command::Fit(a) => {
            progress::Cancel::on_ctrl_c().and_then(|cancel| fit::run(&a, &cancel))
        }
        args::Command::Apply(a) => {
            progress::Cancel::on_ctrl_c().and_then(|cancel| apply::run(&a, &cancel))
        }
        args::Command::Merge(a) => {
            progress::Cancel::on_ctrl_c().and_then(|cancel| merge::run(&a, &cancel))
        }
        args::Command::BenchCluster(a) => bench::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_cancelled(&e) => {
            eprintln!("mapseg: cancelled; no output was written");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("mapseg: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Whether `e` is the user's cancellation, however it was wrapped.
fn is_cancelled(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<Cancelled>()
            || c.downcast_ref::<SegmentError>()
                .is_some_and(SegmentError::is_cancelled)
    })
}

/// The error and its causes on one line; a cause whose text its parent already shows (an error
/// that wraps another and prints it) is not repeated.
fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain().map(ToString::to_string) {
        if !parts.last().is_some_and(|last| last.ends_with(&cause)) {
            parts.push(cause);
        }
    }
    parts.join(": ")
}
