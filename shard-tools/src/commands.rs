//! One function per command: call the library, print its result, choose the exit code.

use std::process::ExitCode;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use shard_tools::build::{BuildOptions, BuildProgress, build};
use shard_tools::eval::raster::evaluate_files;
use shard_tools::eval::{EvalOptions, MatchingMode};
use shard_tools::header::{self, HeaderError};
use shard_tools::init::{InitOptions, init};
use shard_tools::plan::plan;
use shard_tools::validate::validate_tree;

use crate::flags::{
    BuildArgs, CheckArgs, Cli, Command, EvalArgs, HeadersCommand, InitArgs, MatchingArg,
    ValidateArgs,
};

/// Finished, but some data was dropped.
const EXIT_DROPPED: u8 = 2;
/// Stopped early by --stop-after.
const EXIT_STOPPED: u8 = 3;

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Headers(HeadersCommand::Init(a)) => headers_init(a),
        Command::Headers(HeadersCommand::Check(a)) => headers_check(a),
        Command::Build(a) => build_cmd(a),
        Command::Eval(a) => eval_cmd(a),
        Command::Validate(a) => validate_cmd(a),
    }
}

fn headers_init(a: InitArgs) -> Result<ExitCode> {
    let report = init(&InitOptions {
        dataset: a.dataset,
        inputs: a.inputs,
        targets: a.targets,
        output: a.output.clone(),
        pattern: a.pattern,
        window: a.window,
        shard_size: a.shard_size,
        seed: a.seed,
        force: a.force,
    })?;
    println!(
        "wrote {}: {} items, {} with a target, {} targets without an input",
        a.output.display(),
        report.items,
        report.labelled,
        report.unmatched_targets
    );
    if let Some(labels) = report.labels {
        let l: Vec<String> = labels.iter().map(i64::to_string).collect();
        println!("labels found: {}", l.join(", "));
    }
    if report.items > 0 && report.labelled == 0 {
        println!("no input shares a stem with a target: set stem_suffix or pair by manifest");
    }
    Ok(ExitCode::SUCCESS)
}

fn headers_check(a: CheckArgs) -> Result<ExitCode> {
    let loaded = match header::load(&a.header) {
        Ok(l) => l,
        Err(e @ HeaderError::Invalid { .. }) => {
            for line in e.lines() {
                eprintln!("{line}");
            }
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let p = plan(loaded)?;
    let labelled = p.items.iter().filter(|i| i.item.target.is_some()).count();
    println!(
        "{}: ok: dataset {}, {} items ({} labelled), {} windows in {} shards",
        a.header.display(),
        p.h().dataset,
        p.items.len(),
        labelled,
        p.total_windows(),
        p.shards.len()
    );
    let counts: Vec<String> = p
        .windows_per_split
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    println!("windows per split: {}", counts.join(", "));
    for t in &p.unmatched_targets {
        println!("note: target without an input: {t}");
    }
    for d in &p.dropped {
        eprintln!("dropped: {}: {}", d.path, d.reason);
    }
    Ok(if p.dropped.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("{} items would be dropped", p.dropped.len());
        ExitCode::from(EXIT_DROPPED)
    })
}

/// An indicatif bar fed by the build.
struct Bar(ProgressBar);

impl BuildProgress for Bar {
    fn begin(&self, total: u64) {
        self.0.set_length(total);
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

fn build_cmd(a: BuildArgs) -> Result<ExitCode> {
    let loaded = header::load(&a.header)?;
    let p = plan(loaded)?;
    let bar = ProgressBar::with_draw_target(
        Some(p.total_windows() as u64),
        if a.quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} windows {elapsed_precise} eta {eta}")
            .context("progress bar template")?,
    );
    let options = BuildOptions {
        rebuild: a.rebuild,
        stop_after: a.stop_after,
    };
    let outcome = build(&p, &a.out, &options, &Bar(bar))
        .with_context(|| format!("building {}", a.out.display()))?;
    let Some(summary) = outcome.summary else {
        println!(
            "stopped after {} new shards ({} of {} complete); rerun to continue",
            outcome.shards_written,
            outcome.shards_written + outcome.shards_reused,
            outcome.shards_total
        );
        return Ok(ExitCode::from(EXIT_STOPPED));
    };
    let per_split: Vec<String> = summary
        .splits
        .iter()
        .map(|(s, c)| format!("{s} {} windows/{} shards", c.windows, c.shards))
        .collect();
    println!(
        "{}: {} shards ({} written, {} kept): {}",
        summary.dataset,
        outcome.shards_total,
        outcome.shards_written,
        outcome.shards_reused,
        per_split.join(", ")
    );
    if summary.skipped_nodata_windows > 0 {
        println!(
            "{} windows skipped for nodata",
            summary.skipped_nodata_windows
        );
    }
    if summary.dropped_data() {
        for d in &summary.dropped_items {
            eprintln!("dropped: {}: {}", d.path, d.reason);
        }
        for w in &summary.failed_windows {
            eprintln!("dropped window {}: {}", w.id, w.reason);
        }
        eprintln!(
            "data dropped: {} items, {} windows (see the summary in {})",
            summary.dropped_items.len(),
            summary.failed_windows.len(),
            a.out.join("metadata").display()
        );
        return Ok(ExitCode::from(EXIT_DROPPED));
    }
    Ok(ExitCode::SUCCESS)
}

fn eval_cmd(a: EvalArgs) -> Result<ExitCode> {
    let options = EvalOptions {
        ignore: a.ignore,
        matching: match a.matching {
            MatchingArg::Auto => MatchingMode::Auto,
            MatchingArg::Hungarian => MatchingMode::Hungarian,
            MatchingArg::Majority => MatchingMode::Majority,
            MatchingArg::Identity => MatchingMode::Identity,
        },
    };
    let report = evaluate_files(&a.pred, &a.target, &options)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

fn validate_cmd(a: ValidateArgs) -> Result<ExitCode> {
    let report = validate_tree(&a.dir)?;
    for p in &report.problems {
        println!("{}: {}", p.path.display(), p.message);
    }
    let summary = format!(
        "{} datasets, {} shards, {} windows",
        report.datasets.len(),
        report.shards,
        report.windows
    );
    if report.problems.is_empty() {
        println!("ok: {summary}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{} problems in {summary}", report.problems.len());
        Ok(ExitCode::from(1))
    }
}
