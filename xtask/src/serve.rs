//! `cargo xtask serve`: the web app is not part of this build yet.

use std::process::ExitCode;

/// Says how to segment today and exits with status 2.
pub fn run() -> ExitCode {
    eprintln!(
        "The web app is not part of this build yet; to segment a raster today use \
         `cargo run -p mapseg-cli --release -- segment …`"
    );
    ExitCode::from(2)
}
