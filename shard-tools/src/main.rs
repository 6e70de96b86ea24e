//! The `shard-tools` command: parses flags, runs one command, prints one error line on failure.

mod commands;
mod flags;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = flags::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("shard-tools: {err:#}");
            ExitCode::from(1)
        }
    }
}
