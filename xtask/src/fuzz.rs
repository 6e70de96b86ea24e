//! `cargo xtask fuzz [--seconds N] [TARGET…]`: builds the cargo-fuzz crate in `fuzz/` once and
//! runs each target for a while, reporting executions, coverage and crash artifacts.
//!
//! The targets need `-Zsanitizer` and SanitizerCoverage, so a nightly compiler: the `nightly`
//! toolchain (installed with rustup when missing) or, when it cannot be had, the pinned toolchain
//! of `rust-toolchain.toml` with `RUSTC_BOOTSTRAP=1`. Address Sanitizer is used when the
//! toolchain can build with it, else none.
//!
//! Each target runs on its committed seed corpus (`fuzz/corpus/<target>`, never written) plus a
//! scratch corpus under `$CARGO_TARGET_DIR/fuzz/corpus/<target>` that keeps what earlier runs
//! found (CI starts from an empty one). libFuzzer treats a panic, more than 1 GiB of memory or
//! more than 15 s on one input as a failure and writes the input under
//! `$CARGO_TARGET_DIR/fuzz/artifacts/<target>/`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context as _, Result, bail};

use crate::cmd::{Cmd, note, repo_root, target_dir};

/// The fuzz targets and their largest input (`-max_len`), in bytes.
pub const TARGETS: &[(&str, usize)] = &[
    // The committed seeds go up to 1 MiB (hostile files of many directories).
    ("reader", 1 << 20),
    // 32 bytes of parameters in front of a raster of up to 256 KiB.
    ("pipeline", (256 << 10) + 33),
    ("georef", 64 << 10),
];

/// Seconds each target runs in `cargo xtask test`.
pub const CI_SECONDS: u64 = 20;

/// libFuzzer options that make resource abuse a failure: the product's promise is that no
/// input makes the tools use more than 1 GiB or run longer than 15 s.
const LIMITS: &[&str] = &["-rss_limit_mb=1024", "-timeout=15"];

/// Which compiler builds the targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Toolchain {
    /// Nightly when it is installed or can be installed, else pinned.
    Auto,
    /// The `nightly` toolchain.
    Nightly,
    /// The pinned toolchain of `rust-toolchain.toml`, with `RUSTC_BOOTSTRAP=1`.
    Pinned,
}

/// Sanitizer of the fuzz build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sanitizer {
    /// Address Sanitizer when the toolchain can build with it, else none.
    Auto,
    Address,
    None,
}

impl Sanitizer {
    fn name(self) -> &'static str {
        match self {
            Sanitizer::Auto | Sanitizer::Address => "address",
            Sanitizer::None => "none",
        }
    }
}

/// What one target's run did.
#[derive(Debug, Default)]
struct Report {
    target: String,
    runs: Option<u64>,
    seconds: Option<u64>,
    cov: Option<u64>,
    ft: Option<u64>,
    corpus: Option<String>,
    peak_rss_mb: Option<u64>,
    artifact: Option<String>,
    failure: Option<String>,
    /// Where the first panic happened and its message.
    panic: Option<String>,
    /// Whether the previous line was the panic's location (its message follows).
    after_panic: bool,
    log: PathBuf,
}

/// `cargo xtask fuzz`: runs `targets` (every target when empty) for `seconds` each.
pub fn run(
    seconds: u64,
    targets: &[String],
    toolchain: Toolchain,
    sanitizer: Sanitizer,
) -> Result<ExitCode> {
    let targets = select(targets)?;
    let build = prepare(toolchain, sanitizer)?;
    let reports = targets
        .iter()
        .map(|&(name, max_len)| run_target(&build, name, max_len, seconds, false))
        .collect::<Result<Vec<_>>>()?;
    Ok(if summarise(&reports) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The step of `cargo xtask test`: the fuzz crate's format check and unit tests (its TIFF
/// generator can express every hostile fixture), then every target for [`CI_SECONDS`] on its
/// committed corpus.
pub fn ci() -> Result<()> {
    let manifest = repo_root().join("fuzz/Cargo.toml");
    Cmd::cargo(["fmt", "--manifest-path"])?
        .arg(&manifest)
        .args(["--", "--check"])
        .run()?;
    Cmd::cargo(["test", "--manifest-path"])?
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", target_dir()?.join("fuzz"))
        .run()?;
    let build = prepare(Toolchain::Auto, Sanitizer::Auto)?;
    let mut reports = Vec::new();
    for &(name, max_len) in TARGETS {
        reports.push(run_target(&build, name, max_len, CI_SECONDS, true)?);
    }
    if !summarise(&reports) {
        bail!("a fuzz target failed (see the artifacts above)");
    }
    Ok(())
}

fn select(names: &[String]) -> Result<Vec<(&'static str, usize)>> {
    if names.is_empty() {
        return Ok(TARGETS.to_vec());
    }
    names
        .iter()
        .map(|name| {
            TARGETS
                .iter()
                .find(|(t, _)| t == name)
                .copied()
                .with_context(|| {
                    let known: Vec<&str> = TARGETS.iter().map(|(t, _)| *t).collect();
                    format!("no fuzz target `{name}` (targets: {})", known.join(", "))
                })
        })
        .collect()
}

/// A built fuzz crate: where its binaries are.
#[derive(Debug)]
struct Build {
    bin_dir: PathBuf,
    dir: PathBuf,
}

/// Installs what is missing and builds every target once: with the first of nightly (when
/// wanted and available) and the pinned toolchain, and of Address Sanitizer and none, that works.
fn prepare(toolchain: Toolchain, sanitizer: Sanitizer) -> Result<Build> {
    let nightly = match toolchain {
        Toolchain::Nightly => {
            ensure_nightly()?;
            true
        }
        Toolchain::Pinned => false,
        Toolchain::Auto => match ensure_nightly() {
            Ok(()) => true,
            Err(error) => {
                note(&format!(
                    "no nightly toolchain ({error:#}); using the pinned toolchain with RUSTC_BOOTSTRAP=1"
                ));
                false
            }
        },
    };
    ensure_cargo_fuzz()?;
    let mut attempts = Vec::new();
    let sanitizers: &[Sanitizer] = match sanitizer {
        Sanitizer::Auto => &[Sanitizer::Address, Sanitizer::None],
        Sanitizer::Address => &[Sanitizer::Address],
        Sanitizer::None => &[Sanitizer::None],
    };
    let toolchains: &[bool] = match (toolchain, nightly) {
        (Toolchain::Auto, true) => &[true, false],
        (_, true) => &[true],
        (_, false) => &[false],
    };
    for &nightly in toolchains {
        for &sanitizer in sanitizers {
            attempts.push((nightly, sanitizer));
        }
    }
    let dir = target_dir()?.join("fuzz");
    let mut last_error = None;
    for (nightly, sanitizer) in attempts {
        if let Some(error) = &last_error {
            note(&format!(
                "that build failed ({error:#}); trying the next way"
            ));
        }
        let host = host_triple(nightly)?;
        match build(nightly, sanitizer, &dir, &host) {
            Ok(()) => {
                return Ok(Build {
                    bin_dir: dir.join(&host).join("release"),
                    dir,
                });
            }
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow::anyhow!("nothing to build with")))
        .context("could not build the fuzz targets")
}

/// Installs the nightly toolchain unless it is there.
fn ensure_nightly() -> Result<()> {
    let version = Cmd::new("rustc")?
        .args(["+nightly", "--version"])
        .query_quietly();
    if let Some(version) = version {
        note(&format!(
            "toolchain nightly: installed ({})",
            version.trim()
        ));
        return Ok(());
    }
    note("installing the nightly toolchain (rustup)");
    Cmd::new("rustup")?
        .args(["toolchain", "install", "nightly", "--profile", "minimal"])
        .run()
        .context("could not install the nightly toolchain")
}

/// Installs cargo-fuzz unless `cargo fuzz` runs.
fn ensure_cargo_fuzz() -> Result<()> {
    if let Some(version) = Cmd::cargo(["fuzz", "--version"])?.query_quietly() {
        note(&format!("{}: installed", version.trim()));
        return Ok(());
    }
    note("installing cargo-fuzz (cargo install)");
    Cmd::cargo(["install", "cargo-fuzz", "--locked"])?
        .run()
        .context("could not install cargo-fuzz")
}

/// The host's target triple, which cargo-fuzz builds for.
fn host_triple(nightly: bool) -> Result<String> {
    let rustc = Cmd::new("rustc")?;
    let rustc = if nightly {
        rustc.arg("+nightly")
    } else {
        rustc
    };
    let info = rustc
        .arg("-vV")
        .query_quietly()
        .context("could not run `rustc -vV`")?;
    info.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|h| h.trim().to_owned())
        .context("`rustc -vV` names no host")
}

/// `cargo fuzz build` of every target into `dir`.
fn build(nightly: bool, sanitizer: Sanitizer, dir: &Path, host: &str) -> Result<()> {
    let cargo = if nightly {
        Cmd::cargo(["+nightly"])?
    } else {
        Cmd::new("cargo")?.env("RUSTC_BOOTSTRAP", "1")
    };
    let elapsed = cargo
        .args(["fuzz", "build", "--target", host, "--sanitizer"])
        .arg(sanitizer.name())
        .arg("--target-dir")
        .arg(dir)
        .run_timed()?;
    note(&format!(
        "fuzz targets built in {:.0} s with {}, sanitizer {}",
        elapsed.as_secs_f64(),
        if nightly {
            "the nightly toolchain"
        } else {
            "the pinned toolchain and RUSTC_BOOTSTRAP=1"
        },
        sanitizer.name()
    ));
    Ok(())
}

/// Runs one target for `seconds`; a fresh scratch corpus when `fresh`.
fn run_target(
    build: &Build,
    name: &str,
    max_len: usize,
    seconds: u64,
    fresh: bool,
) -> Result<Report> {
    let root = repo_root();
    let scratch = build
        .dir
        .join(if fresh { "ci-corpus" } else { "corpus" })
        .join(name);
    if fresh && scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("could not empty {}", scratch.display()))?;
    }
    let artifacts = build.dir.join("artifacts").join(name);
    let logs = build.dir.join("logs");
    for dir in [&scratch, &artifacts, &logs] {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
    }
    let binary = build.bin_dir.join(name);
    let log = logs.join(format!("{name}.log"));
    let mut args: Vec<String> = vec![
        scratch.display().to_string(),
        root.join("fuzz/corpus").join(name).display().to_string(),
        format!("-dict={}", root.join("fuzz/tiff.dict").display()),
        format!("-max_len={max_len}"),
        format!("-max_total_time={seconds}"),
        "-print_final_stats=1".to_owned(),
        format!("-artifact_prefix={}/", artifacts.display()),
    ];
    args.extend(LIMITS.iter().map(|s| (*s).to_owned()));
    note(&format!(
        "fuzzing {name} for {seconds} s: {} {} (log: {})",
        binary.display(),
        args.join(" "),
        log.display()
    ));
    let mut child = Command::new(&binary)
        .args(&args)
        .current_dir(root)
        // A smaller quarantine, so that memory counted against -rss_limit_mb is mostly the
        // engine's own.
        .env("ASAN_OPTIONS", "quarantine_size_mb=64:detect_leaks=0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start {}", binary.display()))?;
    let mut file = std::fs::File::create(&log)
        .with_context(|| format!("could not create {}", log.display()))?;
    let mut report = Report {
        target: name.to_owned(),
        log: log.clone(),
        ..Report::default()
    };
    let started = Instant::now();
    let mut tail: Vec<String> = Vec::new();
    let stderr = child.stderr.take().context("no standard error")?;
    for line in BufReader::new(stderr).lines() {
        let line = line.context("could not read libFuzzer's output")?;
        writeln!(file, "{line}").with_context(|| format!("could not write {}", log.display()))?;
        report.take(&line);
        if line.contains("INITED") || line.contains("DONE") {
            println!("    {line}");
        }
        tail.push(line);
        if tail.len() > 80 {
            tail.remove(0);
        }
    }
    let status = child.wait().context("libFuzzer did not finish")?;
    report.seconds = Some(started.elapsed().as_secs());
    if !status.success() || report.artifact.is_some() || report.failure.is_some() {
        let why = report
            .failure
            .take()
            .unwrap_or_else(|| "libFuzzer failed".to_owned());
        let panic = report
            .panic
            .take()
            .map(|p| format!(", {p}"))
            .unwrap_or_default();
        report.failure = Some(format!("{why}{panic} ({status})"));
        eprintln!("--- last lines of {} ---", log.display());
        for line in &tail {
            eprintln!("{line}");
        }
    }
    Ok(report)
}

impl Report {
    /// Takes what libFuzzer's line says about the run.
    fn take(&mut self, line: &str) {
        let number = |key: &str| -> Option<u64> {
            let at = line.find(key)? + key.len();
            line[at..].split_whitespace().next()?.parse().ok()
        };
        if line.starts_with('#') {
            self.cov = number(" cov: ").or(self.cov);
            self.ft = number(" ft: ").or(self.ft);
            if let Some(at) = line.find(" corp: ") {
                let corpus = line[at + 7..].split_whitespace().next().unwrap_or("");
                self.corpus = Some(corpus.to_owned());
            }
        }
        if let Some(runs) = number("stat::number_of_executed_units: ") {
            self.runs = Some(runs);
        }
        if let Some(rss) = number("stat::peak_rss_mb: ") {
            self.peak_rss_mb = Some(rss);
        }
        if let Some(at) = line.find("Test unit written to ") {
            self.artifact = Some(line[at + 21..].trim().to_owned());
        }
        if self.failure.is_none()
            && (line.contains("ERROR: libFuzzer:") || line.contains("ERROR: AddressSanitizer"))
        {
            let at = line.find("ERROR: ").unwrap_or(0);
            self.failure = Some(line[at..].trim().to_owned());
        }
        if self.after_panic {
            self.after_panic = false;
            if let Some(panic) = &mut self.panic {
                panic.push(' ');
                panic.push_str(line.trim());
            }
        }
        if self.panic.is_none()
            && let Some(at) = line.find("panicked at ")
        {
            self.panic = Some(line[at..].trim().to_owned());
            self.after_panic = true;
        }
    }
}

/// Prints one line per target; whether all passed.
fn summarise(reports: &[Report]) -> bool {
    let show = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
    note("fuzzing summary");
    let mut passed = true;
    for r in reports {
        let rate = match (r.runs, r.seconds) {
            (Some(runs), Some(s)) if s > 0 => format!("{}/s", runs / s),
            _ => "?".to_owned(),
        };
        println!(
            "    {:<9} {} executions in {} s ({rate}), cov {}, ft {}, corpus {}, peak RSS {} MB: {}",
            r.target,
            show(r.runs),
            show(r.seconds),
            show(r.cov),
            show(r.ft),
            r.corpus.as_deref().unwrap_or("?"),
            show(r.peak_rss_mb),
            match (&r.failure, &r.artifact) {
                (None, _) => "ok".to_owned(),
                (Some(why), Some(artifact)) => format!("FAILED: {why}; input: {artifact}"),
                (Some(why), None) => format!("FAILED: {why}; log: {}", r.log.display()),
            }
        );
        passed &= r.failure.is_none();
    }
    passed
}
