//! `cargo xtask bench web`: the web app in headless Chromium beside the native `mapseg segment`, on both bench
//! rasters, at 1, 2 and all threads, measured side by side in one invocation.
//!
//! The rasters are `yell_4096.tif` (4096², 47 MB) and `yell_16384.tif` (16384², 754 MB) of `cargo xtask bench` (a
//! NEON orthophoto, RGB u8, tiled Deflate GeoTIFF, made or reused in the bench directory). The thread counts are 1, 2
//! and all cores, without repeats (on two cores: 1 and all). The app is the release build of `dist/` (or
//! `--dist PATH`), served on 127.0.0.1 and driven by `tests/e2e/measure.mjs`: for each raster and thread count N, a
//! fresh browser opens the app at `?backend=cpu&workers=N` (K-Means on the CPU with a pool of N workers; for all
//! cores no `workers`, the app's default), is handed the file and runs it to the result. That gives the time from the
//! drop to the result, from the drop to the file panel and to its display image, the app's own time from Segment to the
//! result, the renderer's peak resident memory and the worker's WebAssembly memory. The reference is
//! `mapseg segment IN -o OUT --method kmeans --threads N` (for all cores no `--threads`, its default) on the same
//! file, timed around the process with its peak resident memory.
//!
//! With `--all-runs`, the other web runs follow on the 4096² raster at the app's default pool: K-Means on WebGPU and
//! the CNN on the CPU and on WebGPU, with `mapseg segment --method cnn` on all cores as the CNN's reference (the CNN
//! on the 16384² raster takes minutes).
//!
//! Everything runs in rounds (`--rounds N`, 3 by default), one after the other: in each, first the CLI, then the
//! browser, so that a slow spell of the machine slows both sides of a ratio. Standard output gets a Markdown table of
//! the median round of each cell (raster, threads, browser drop → result (the map), drop → details (the suggested
//! names and a k curve that follow it), file panel / preview, browser Segment → result, renderer peak RSS: those of
//! the browser run with the median drop → result; native wall time and peak RSS: the run with the median wall time;
//! the ratio of the two medians), every round's drop → result and native wall time, the other runs' table with
//! `--all-runs`, and the raw and `gzip -9` sizes of the WebAssembly modules in the app; every run goes to
//! `bench-web-results.json` in the bench directory. It fails on errors only, never on speed.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::data::{self, Rasters, SIZE};
use super::{bench_dir, build_mapseg};
use crate::cmd::{Cmd, note, repo_root};
use crate::install::ensure_apt_packages;
use crate::peak_rss;

/// The measuring script, relative to the repository root.
const MEASURE: &str = "tests/e2e/measure.mjs";
/// The web run of the main table (`method:backend`, as `measure.mjs --runs` takes them).
const MAIN_RUN: &str = "kmeans:cpu";
/// The web runs of `--all-runs`, on the 4096² raster at the app's default pool, in table order.
const OTHER_RUNS: [&str; 3] = ["kmeans:webgpu", "cnn:cpu", "cnn:webgpu"];
/// Thread counts measured besides all cores (those below the number of cores).
const FEW_THREADS: [usize; 2] = [1, 2];
/// The WebAssembly modules of the app whose sizes are reported.
const WASM_FILES: [&str; 3] = ["worker_bg.wasm", "worker_legacy_bg.wasm", "web_bg.wasm"];
const KIB_PER_MIB: f64 = 1024.0;
const BYTES_PER_MB: f64 = 1e6;

/// A thread count: `--threads N` of the CLI and `workers=N` of the app, or all cores (neither given: their
/// defaults). In JSON: N, or `"all"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Threads {
    Count(usize),
    All,
}

impl Threads {
    /// `measure.mjs --workers` reports N or `"all"`.
    fn from_json(value: &Value) -> Option<Self> {
        match value {
            Value::String(text) if text == "all" => Some(Self::All),
            _ => value
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Self::Count),
        }
    }

    /// The table's text: N, or "all (CPUS)".
    fn cell(self, cpus: usize) -> String {
        match self {
            Self::Count(n) => n.to_string(),
            Self::All => format!("all ({cpus})"),
        }
    }
}

/// As `measure.mjs --workers` takes it: N or `all`.
impl fmt::Display for Threads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::All => f.write_str("all"),
        }
    }
}

impl Serialize for Threads {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Count(n) => n.serialize(serializer),
            Self::All => serializer.serialize_str("all"),
        }
    }
}

/// 1, 2 and all cores, without repeats: the fixed counts below `cpus`, then all.
fn thread_counts(cpus: usize) -> Vec<Threads> {
    FEW_THREADS
        .into_iter()
        .filter(|&n| n < cpus)
        .map(Threads::Count)
        .chain([Threads::All])
        .collect()
}

#[derive(Debug, Serialize)]
struct Raster {
    path: PathBuf,
    width: u32,
    height: u32,
    megapixels: f64,
}

impl Raster {
    fn square(path: PathBuf, side: u32) -> Self {
        Self {
            path,
            width: side,
            height: side,
            megapixels: f64::from(side) * f64::from(side) / 1e6,
        }
    }

    fn name(&self) -> String {
        file_name(&self.path)
    }
}

/// One `mapseg segment` run.
#[derive(Debug, Serialize)]
struct NativeRow {
    /// The round it ran in, from 1.
    round: usize,
    /// File name of the raster.
    raster: String,
    method: &'static str,
    threads: Threads,
    /// Wall time of the process.
    wall_s: Option<f64>,
    megapixels_per_s: Option<f64>,
    peak_rss_mib: Option<f64>,
    /// The `--timings` file of the run (seconds).
    timings: BTreeMap<String, f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// One result line of `measure.mjs` (the keys not named here are kept as they are).
#[derive(Debug, Serialize, Deserialize)]
struct WebRow {
    /// The round it ran in, from 1 (set by the bench, not by the script).
    #[serde(default)]
    round: usize,
    label: String,
    file: Option<PathBuf>,
    run: Option<String>,
    method: Option<String>,
    backend_requested: Option<String>,
    /// `--workers`: N, or `"all"` (no `workers` parameter).
    workers: Option<Value>,
    /// What `[data-testid=backend]` showed after the run.
    backend: Option<String>,
    gpu: Option<bool>,
    backend_note: Option<String>,
    /// The page's `navigator.hardwareConcurrency`.
    hardware_concurrency: Option<u32>,
    /// From handing the file over until the file panel shows it. This and the next two are
    /// taken on the page's clock (see `tests/e2e/measure.mjs`); the same spans as the driving
    /// script saw them, DevTools round trips and polling added, are in `rest`
    /// (`load_wall_ms`, `drop_to_result_wall_ms`, `drop_to_details_wall_ms`).
    load_ms: Option<f64>,
    /// Until the map shows the display image, which follows the panel.
    preview_ms: Option<f64>,
    drop_to_result_ms: Option<f64>,
    /// Until the details that follow the map (suggested names, a k curve still being drawn).
    drop_to_details_ms: Option<f64>,
    /// The app's own time from Segment to the result.
    data_elapsed_ms: Option<f64>,
    megapixels_per_s: Option<f64>,
    renderer_peak_rss_mib: Option<f64>,
    wasm_memory_mib: Option<f64>,
    error: Option<String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// Size of one WebAssembly module of the app, as shipped and after `gzip -9`.
#[derive(Debug, Serialize)]
struct WasmSize {
    file: String,
    bytes: Option<u64>,
    gzip_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Results {
    rasters: Vec<Raster>,
    /// The thread counts of the main table, in order.
    threads: Vec<Threads>,
    /// Whether the other web runs (`--all-runs`) were measured.
    all_runs: bool,
    /// Rounds of every run.
    rounds: usize,
    mapseg: PathBuf,
    dist: PathBuf,
    cpus: usize,
    chromium: Option<String>,
    wasm: Vec<WasmSize>,
    native: Vec<NativeRow>,
    web: Vec<WebRow>,
    /// Web runs that gave no result line, and failures of the script itself.
    errors: Vec<String>,
}

/// One `measure.mjs` invocation: each file once per (run, workers) pair.
#[derive(Debug)]
struct WebPlan<'a> {
    rasters: Vec<&'a Raster>,
    runs: Vec<&'static str>,
    workers: Vec<Threads>,
    /// File name of its result lines in the bench directory.
    lines: &'static str,
}

pub fn run(
    mapseg: Option<PathBuf>,
    dist: Option<PathBuf>,
    all_runs: bool,
    rounds: usize,
) -> Result<ExitCode> {
    if rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let dir = bench_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    note(&format!("bench directory: {}", dir.display()));

    note("preparing the 4096² and 16384² rasters");
    let rasters = bench_rasters(&dir)?;
    note("preparing mapseg (release)");
    let mapseg = match mapseg {
        Some(path) => path,
        None => build_mapseg()?,
    };
    note("preparing the web app (release dist)");
    let dist = match dist {
        Some(path) => path,
        None => crate::web::build_dist(true)?,
    };
    if !dist.join("index.html").is_file() {
        bail!("{} has no index.html: not a built web app", dist.display());
    }
    note("preparing headless Chromium and the measuring script");
    ensure_apt_packages(&["chromium", "gdal-bin"])?;
    crate::e2e::ensure_tools()?;
    let chromium = chromium_version();
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = thread_counts(cpus);

    let mut native = Vec::new();
    let mut web = Vec::new();
    let mut errors = Vec::new();
    for round in 1..=rounds {
        note(&format!("round {round} of {rounds}"));
        native.extend(time_native_runs(
            &mapseg, &dir, &rasters, &threads, all_runs, round,
        ));
        for plan in web_plans(&rasters, &threads, all_runs) {
            let (mut rows, plan_errors) = measure_web(&dir, &dist, &plan)?;
            errors.extend(
                plan_errors
                    .into_iter()
                    .chain(plan.missing(&rows))
                    .map(|e| format!("round {round}: {e}")),
            );
            for row in &mut rows {
                row.round = round;
            }
            web.append(&mut rows);
        }
    }

    let results = Results {
        wasm: wasm_sizes(&dist),
        rasters,
        threads,
        all_runs,
        rounds,
        mapseg,
        dist,
        cpus,
        chromium,
        native,
        web,
        errors,
    };
    results.print();
    let path = dir.join("bench-web-results.json");
    let json = serde_json::to_string_pretty(&results)?;
    std::fs::write(&path, json + "\n")
        .with_context(|| format!("could not write {}", path.display()))?;
    note(&format!("results written to {}", path.display()));

    let failed = results.failures();
    Ok(if failed > 0 {
        eprintln!("error: {failed} measurement(s) failed");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Both bench rasters, 4096² then 16384², made or reused in `dir`.
fn bench_rasters(dir: &Path) -> Result<Vec<Raster>> {
    let python = data::ensure_venv(dir)?;
    let rasters = data::ensure_rasters(dir, &python)?;
    Ok(vec![
        Raster::square(rasters.small, SIZE),
        Raster::square(rasters.large, Rasters::LARGE_SIZE),
    ])
}

/// `chromium --version` of the browser `measure.mjs` launches (`MAPSEG_CHROMIUM`, else `/usr/bin/chromium`).
fn chromium_version() -> Option<String> {
    let program = std::env::var_os("MAPSEG_CHROMIUM")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    Cmd::new(program)
        .ok()?
        .arg("--version")
        .query_quietly()
        .map(|v| v.trim().to_owned())
}

/// K-Means on every raster at every thread count, and with `all_runs` the CNN on the 4096² raster on all cores.
fn time_native_runs(
    mapseg: &Path,
    dir: &Path,
    rasters: &[Raster],
    threads: &[Threads],
    all_runs: bool,
    round: usize,
) -> Vec<NativeRow> {
    let mut plan: Vec<(&Raster, &'static str, Threads)> = rasters
        .iter()
        .flat_map(|raster| threads.iter().map(move |&t| (raster, "kmeans", t)))
        .collect();
    if all_runs && let Some(small) = rasters.first() {
        plan.push((small, "cnn", Threads::All));
    }
    plan.into_iter()
        .map(|(raster, method, threads)| {
            note(&format!(
                "timing mapseg segment --method {method} on {} (threads: {threads})",
                raster.name()
            ));
            time_native(mapseg, dir, raster, method, threads, round)
        })
        .collect()
}

/// `mapseg segment IN -o OUT --method METHOD` at its defaults (with `--threads N` and as wide a Rayon pool for a
/// thread count), timed around the process, with its peak resident memory.
fn time_native(
    mapseg: &Path,
    dir: &Path,
    raster: &Raster,
    method: &'static str,
    threads: Threads,
    round: usize,
) -> NativeRow {
    let mut row = NativeRow {
        round,
        raster: raster.name(),
        method,
        threads,
        wall_s: None,
        megapixels_per_s: None,
        peak_rss_mib: None,
        timings: BTreeMap::new(),
        error: None,
    };
    let timings = dir.join("bench-web-cli-timings.json");
    let _ = std::fs::remove_file(&timings);
    let (program, args) = native_command(mapseg, dir, raster, method, threads, &timings);
    let start = Instant::now();
    let peak = peak_rss::measure(&program, &args, &dir.join("bench-web-cli-peak-rss-kib.txt"));
    let wall_s = start.elapsed().as_secs_f64();
    match peak {
        Ok(kib) => {
            row.wall_s = Some(wall_s);
            row.megapixels_per_s = Some(raster.megapixels / wall_s);
            row.peak_rss_mib = Some(kib as f64 / KIB_PER_MIB);
        }
        Err(error) => {
            row.error = Some(format!("{error:#}"));
            return row;
        }
    }
    match read_timings(&timings) {
        Ok(numbers) => row.timings = numbers,
        Err(error) => row.error = Some(format!("{error:#}")),
    }
    row
}

/// The program and arguments of one `mapseg segment` run. With a thread count, `env` sets the Rayon pool (the CNN's
/// tensor kernels) as wide and execs `mapseg`, which stays the measured process.
fn native_command(
    mapseg: &Path,
    dir: &Path,
    raster: &Raster,
    method: &str,
    threads: Threads,
    timings: &Path,
) -> (PathBuf, Vec<OsString>) {
    let mut args: Vec<OsString> = vec![
        "segment".into(),
        raster.path.clone().into(),
        "-o".into(),
        dir.join("bench-web-cli-out.tif").into(),
        "--method".into(),
        method.into(),
        "--timings".into(),
        timings.into(),
        "--quiet".into(),
    ];
    match threads {
        Threads::All => (mapseg.to_path_buf(), args),
        Threads::Count(n) => {
            args.extend(["--threads".into(), n.to_string().into()]);
            args.insert(0, mapseg.into());
            args.insert(0, format!("RAYON_NUM_THREADS={n}").into());
            (PathBuf::from("env"), args)
        }
    }
}

/// The numeric entries of a `--timings` file.
fn read_timings(path: &Path) -> Result<BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read {}", path.display()))?;
    let json: BTreeMap<String, Value> = serde_json::from_str(&text)
        .with_context(|| format!("invalid JSON in {}", path.display()))?;
    Ok(json
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.as_f64()?)))
        .collect())
}

/// K-Means on the CPU on every raster at every worker count; with `all_runs`, the other runs on the 4096² raster.
fn web_plans<'a>(rasters: &'a [Raster], threads: &[Threads], all_runs: bool) -> Vec<WebPlan<'a>> {
    let mut plans = vec![WebPlan {
        rasters: rasters.iter().collect(),
        runs: vec![MAIN_RUN],
        workers: threads.to_vec(),
        lines: "bench-web-runs.jsonl",
    }];
    if all_runs && let Some(small) = rasters.first() {
        plans.push(WebPlan {
            rasters: vec![small],
            runs: OTHER_RUNS.to_vec(),
            workers: vec![Threads::All],
            lines: "bench-web-other-runs.jsonl",
        });
    }
    plans
}

impl WebPlan<'_> {
    /// An error for each (raster, run, workers) that has no result line.
    fn missing(&self, rows: &[WebRow]) -> Vec<String> {
        let mut errors = Vec::new();
        for raster in &self.rasters {
            for run in &self.runs {
                for &workers in &self.workers {
                    if !rows.iter().any(|r| r.is(raster, run, workers)) {
                        errors.push(format!(
                            "web {} {run} workers={workers}: no result",
                            raster.name()
                        ));
                    }
                }
            }
        }
        errors
    }
}

/// `1,2,all`, as `measure.mjs --workers` takes it.
fn workers_list(workers: &[Threads]) -> String {
    workers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs `measure.mjs` on the plan; its result lines, and an error of the script itself.
fn measure_web(dir: &Path, dist: &Path, plan: &WebPlan<'_>) -> Result<(Vec<WebRow>, Vec<String>)> {
    note(&format!(
        "measuring the web app in headless Chromium: {} at workers {}",
        plan.runs.join(", "),
        workers_list(&plan.workers)
    ));
    let lines = dir.join(plan.lines);
    let _ = std::fs::remove_file(&lines);
    let status = Cmd::new("node")?
        .arg(repo_root().join(MEASURE))
        .arg(dist)
        .args(plan.rasters.iter().map(|r| &r.path))
        .args(["--runs", &plan.runs.join(",")])
        .args(["--workers", &workers_list(&plan.workers)])
        .arg("--out")
        .arg(&lines)
        .env("MAPSEG_BENCH", dir)
        .run();
    let text = match std::fs::read_to_string(&lines) {
        Ok(text) => text,
        Err(_) if status.is_err() => String::new(),
        Err(error) => {
            return Err(error).with_context(|| format!("could not read {}", lines.display()));
        }
    };
    let rows = parse_lines(&text)?;
    // A failed measurement already is a row with `error` (and makes the script exit 1); anything else is its own.
    let mut errors = Vec::new();
    if let Err(error) = status
        && rows.iter().all(|r| r.error.is_none())
    {
        errors.push(format!("{error:#}"));
    }
    Ok((rows, errors))
}

/// The result lines of `measure.mjs` (one JSON object a line).
fn parse_lines(text: &str) -> Result<Vec<WebRow>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .with_context(|| format!("unexpected line from {MEASURE}: {line}"))
        })
        .collect()
}

/// Raw and `gzip -9` sizes of the app's WebAssembly modules (`None` where unreadable).
fn wasm_sizes(dist: &Path) -> Vec<WasmSize> {
    WASM_FILES
        .into_iter()
        .map(|file| {
            let path = dist.join(file);
            WasmSize {
                file: file.to_owned(),
                bytes: std::fs::metadata(&path).ok().map(|m| m.len()),
                gzip_bytes: gzip_size(&path),
            }
        })
        .collect()
}

/// Bytes of `gzip -9 -c FILE`.
fn gzip_size(path: &Path) -> Option<u64> {
    let output = Cmd::new("gzip")
        .ok()?
        .args(["-9".as_ref(), "-c".as_ref(), path.as_os_str()])
        .output_unchecked()
        .ok()?;
    output
        .status
        .success()
        .then(|| u64::try_from(output.stdout.len()).ok())
        .flatten()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Table cell text: no pipes or line breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn seconds(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |s| format!("{s:.2} s"))
}

fn seconds_from_ms(ms: Option<f64>) -> String {
    seconds(ms.map(|ms| ms / 1000.0))
}

fn mib(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.0} MiB"))
}

fn megabytes(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "–".to_owned(),
        |b| format!("{:.2} MB", b as f64 / BYTES_PER_MB),
    )
}

/// `browser_ms` ÷ `native_s`, as "N.NN×".
fn ratio(browser_ms: Option<f64>, native_s: Option<f64>) -> String {
    match (browser_ms, native_s) {
        (Some(ms), Some(s)) if s > 0.0 => format!("{:.2}×", ms / 1000.0 / s),
        _ => "–".to_owned(),
    }
}

impl NativeRow {
    /// Whether this is the run of `method` on `raster` with `threads`.
    fn is(&self, raster: &Raster, method: &str, threads: Threads) -> bool {
        self.raster == raster.name() && self.method == method && self.threads == threads
    }

    /// "wall s (peak MiB)", or the error.
    fn cell(&self) -> String {
        match &self.error {
            Some(error) => format!("error: {}", cell(error)),
            None => format!("{} ({})", seconds(self.wall_s), mib(self.peak_rss_mib)),
        }
    }
}

impl WebRow {
    /// Whether this is the line of `raster` at `run` with `workers`.
    fn is(&self, raster: &Raster, run: &str, workers: Threads) -> bool {
        self.file.as_deref().map(file_name) == Some(raster.name())
            && self.run.as_deref() == Some(run)
            && self.workers.as_ref().and_then(Threads::from_json) == Some(workers)
    }

    /// Browser drop → result, drop → details, file panel / preview, browser Segment → result,
    /// renderer peak RSS.
    fn cells(&self) -> [String; 5] {
        if let Some(error) = &self.error {
            return [
                format!("error: {}", cell(error)),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ];
        }
        [
            seconds_from_ms(self.drop_to_result_ms),
            seconds_from_ms(self.drop_to_details_ms),
            format!(
                "{} / {}",
                seconds_from_ms(self.load_ms),
                seconds_from_ms(self.preview_ms)
            ),
            seconds_from_ms(self.data_elapsed_ms),
            mib(self.renderer_peak_rss_mib),
        ]
    }

    fn backend_shown(&self) -> String {
        let mut text = self.backend.clone().unwrap_or_else(|| "–".to_owned());
        if self.gpu == Some(true) {
            text += " (GPU)";
        }
        if let Some(note) = &self.backend_note {
            text += &format!(" – {note}");
        }
        text
    }
}

const NO_RESULT: [&str; 5] = ["no result", "", "", "", ""];

impl Results {
    fn print(&self) {
        println!();
        self.print_header();
        println!();
        self.print_main_table();
        if self.rounds > 1 {
            println!();
            self.print_rounds_table();
        }
        if self.all_runs {
            println!();
            self.print_other_runs();
        }
        println!();
        println!("{}", self.wasm_line());
        for error in &self.errors {
            println!("error: {error}");
        }
        println!();
    }

    fn print_header(&self) {
        let rasters: Vec<String> = self
            .rasters
            .iter()
            .map(|r| {
                format!(
                    "{} ({}×{} px, {:.2} MP)",
                    r.name(),
                    r.width,
                    r.height,
                    r.megapixels
                )
            })
            .collect();
        let runs = match self.rounds {
            1 => "one run each".to_owned(),
            n => format!(
                "{n} rounds (each: the CLI, then the browser), the median round of each cell"
            ),
        };
        println!(
            "{}, RGB u8 GeoTIFF; K-Means, {runs}, {} CPUs",
            rasters.join(" and "),
            self.cpus
        );
        println!(
            "browser: {} (headless), app {}, `?backend=cpu&workers=N` (all: no `workers`{}), a fresh browser per run; \
             renderer peak RSS: VmHWM of the page's renderer process",
            self.chromium.as_deref().unwrap_or("Chromium"),
            self.dist.display(),
            self.hardware_concurrency()
                .map(|n| format!(", navigator.hardwareConcurrency = {n}"))
                .unwrap_or_default()
        );
        println!(
            "native: `mapseg segment IN -o OUT --method kmeans --threads N` (all: no `--threads`), wall time (peak RSS) \
             of the process; browser / native: browser drop → result ÷ native wall time"
        );
        println!(
            "browser times: on the page's clock, from the event that hands the file over until the panel, the display \
             image, the map or the details appear (Segment is clicked as soon as the panel shows, and the run waits \
             for the display image); bench-web-results.json also has them \
             as the driving script saw them (`*_wall_ms`)"
        );
    }

    /// The `navigator.hardwareConcurrency` the pages reported.
    fn hardware_concurrency(&self) -> Option<u32> {
        self.web.iter().find_map(|r| r.hardware_concurrency)
    }

    fn print_main_table(&self) {
        println!(
            "| raster | threads | browser drop → result | drop → details | file panel / preview | \
             browser Segment → result | renderer peak RSS | native `mapseg segment` | browser / native |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for raster in &self.rasters {
            for &threads in &self.threads {
                let web = self.web_row(raster, MAIN_RUN, threads);
                let native = self.native_row(raster, "kmeans", threads);
                println!(
                    "| {} | {} | {} | {} | {} |",
                    raster.name(),
                    threads.cell(self.cpus),
                    web_cells(web).join(" | "),
                    native.map_or_else(|| "–".to_owned(), NativeRow::cell),
                    ratio(
                        web.and_then(|w| w.drop_to_result_ms),
                        native.and_then(|n| n.wall_s)
                    ),
                );
            }
        }
    }

    /// Every round's browser drop → result, native wall time and their ratio, per raster and thread count.
    fn print_rounds_table(&self) {
        println!(
            "| raster | threads | browser drop → result, by round | native `mapseg segment`, by round \
             | browser / native, by round |"
        );
        println!("|---|---:|---:|---:|---:|");
        for raster in &self.rasters {
            for &threads in &self.threads {
                let (mut web, mut native, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
                for round in 1..=self.rounds {
                    let w = self
                        .web
                        .iter()
                        .find(|r| r.round == round && r.is(raster, MAIN_RUN, threads))
                        .and_then(|r| r.drop_to_result_ms);
                    let n = self
                        .native
                        .iter()
                        .find(|r| r.round == round && r.is(raster, "kmeans", threads))
                        .and_then(|r| r.wall_s);
                    web.push(seconds_from_ms(w));
                    native.push(seconds(n));
                    ratios.push(ratio(w, n));
                }
                println!(
                    "| {} | {} | {} | {} | {} |",
                    raster.name(),
                    threads.cell(self.cpus),
                    web.join(", "),
                    native.join(", "),
                    ratios.join(", ")
                );
            }
        }
    }

    /// The `--all-runs` table: the other web runs on the 4096² raster at the app's default pool.
    fn print_other_runs(&self) {
        println!(
            "| raster | run | backend shown | browser drop → result | drop → details | file panel / preview \
             | browser Segment → result | renderer peak RSS | wasm memory | native `mapseg segment` (all threads) \
             | browser / native |"
        );
        println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        let Some(raster) = self.rasters.first() else {
            return;
        };
        for run in OTHER_RUNS {
            let web = self.web_row(raster, run, Threads::All);
            let method = run.split(':').next().unwrap_or(run);
            let native = self.native_row(raster, method, Threads::All);
            println!(
                "| {} | `{run}` | {} | {} | {} | {} | {} |",
                raster.name(),
                web.map_or_else(|| "–".to_owned(), |w| cell(&w.backend_shown())),
                web_cells(web).join(" | "),
                mib(web.and_then(|w| w.wasm_memory_mib)),
                native.map_or_else(|| "–".to_owned(), NativeRow::cell),
                ratio(
                    web.and_then(|w| w.drop_to_result_ms),
                    native.and_then(|n| n.wall_s)
                ),
            );
        }
    }

    /// "wasm in DIST: FILE X MB (gzip -9 Y MB), …".
    fn wasm_line(&self) -> String {
        let sizes: Vec<String> = self
            .wasm
            .iter()
            .map(|w| {
                format!(
                    "`{}` {} (gzip -9 {})",
                    w.file,
                    megabytes(w.bytes),
                    megabytes(w.gzip_bytes)
                )
            })
            .collect();
        format!("wasm in {}: {}", self.dist.display(), sizes.join(", "))
    }

    /// The round of `raster` at `run` with `workers` whose drop → result is the median.
    fn web_row(&self, raster: &Raster, run: &str, workers: Threads) -> Option<&WebRow> {
        median_by(
            self.web.iter().filter(|r| r.is(raster, run, workers)),
            |r| r.drop_to_result_ms,
        )
    }

    /// The round of `mapseg segment --method METHOD` on `raster` with `threads` whose wall time is the median.
    fn native_row(&self, raster: &Raster, method: &str, threads: Threads) -> Option<&NativeRow> {
        median_by(
            self.native.iter().filter(|r| r.is(raster, method, threads)),
            |r| r.wall_s,
        )
    }

    /// Failed CLI runs, failed browser runs, missing result lines and script failures.
    fn failures(&self) -> usize {
        self.native.iter().filter(|r| r.error.is_some()).count()
            + self.web.iter().filter(|r| r.error.is_some()).count()
            + self.errors.len()
    }
}

/// The run of `runs` with the median `key` (the lower middle one of an even count); a run without it (a failure)
/// only where no run has it.
fn median_by<'a, T>(
    runs: impl Iterator<Item = &'a T>,
    key: impl Fn(&T) -> Option<f64>,
) -> Option<&'a T> {
    let runs: Vec<&T> = runs.collect();
    let mut timed: Vec<(&T, f64)> = runs
        .iter()
        .filter_map(|&run| Some((run, key(run)?)))
        .collect();
    if timed.is_empty() {
        return runs.first().copied();
    }
    timed.sort_by(|a, b| a.1.total_cmp(&b.1));
    Some(timed[(timed.len() - 1) / 2].0)
}

/// The four browser cells of a row, or "no result".
fn web_cells(row: Option<&WebRow>) -> [String; 5] {
    row.map_or_else(|| NO_RESULT.map(str::to_owned), WebRow::cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line as `measure.mjs --runs kmeans:cpu --workers 1` prints it.
    const KMEANS_LINE: &str = r#"{"label":"yell_4096.tif kmeans:cpu workers=1",
        "file":"/root/.cache/mapseg-bench/yell_4096.tif","run":"kmeans:cpu","method":"kmeans",
        "backend_requested":"cpu","workers":1,"backend":"CPU (WebAssembly)","gpu":false,"backend_note":null,
        "width":4096,"height":4096,"megapixels":16.777216,"hardware_concurrency":2,"load_ms":1187,"preview_ms":1402,
        "drop_to_result_ms":3313,"drop_to_details_ms":3521,"data_elapsed_ms":2049,"megapixels_per_s":5.064055538786598,
        "renderer_peak_rss_mib":571,"renderer_rss_after_startup_mib":186,"wasm_memory_mib":70}"#;

    fn results(web: Vec<WebRow>) -> Results {
        let rasters = vec![
            Raster::square("/b/yell_4096.tif".into(), SIZE),
            Raster::square("/b/yell_16384.tif".into(), Rasters::LARGE_SIZE),
        ];
        let native = |round, wall_s| NativeRow {
            round,
            raster: "yell_4096.tif".to_owned(),
            method: "kmeans",
            threads: Threads::Count(1),
            wall_s,
            megapixels_per_s: Some(16.78),
            peak_rss_mib: Some(120.0),
            timings: BTreeMap::new(),
            error: wall_s.is_none().then(|| "mapseg failed".to_owned()),
        };
        Results {
            rasters,
            threads: thread_counts(2),
            all_runs: true,
            rounds: 3,
            mapseg: "mapseg".into(),
            dist: "dist".into(),
            cpus: 2,
            chromium: None,
            wasm: vec![WasmSize {
                file: "web_bg.wasm".to_owned(),
                bytes: Some(1_431_233),
                gzip_bytes: None,
            }],
            native: vec![native(1, Some(1.2)), native(2, None), native(3, Some(1.0))],
            web,
            errors: vec!["web yell_16384.tif kmeans:cpu workers=all: no result".to_owned()],
        }
    }

    #[test]
    fn thread_counts_are_one_two_and_all_without_repeats() {
        assert_eq!(thread_counts(1), [Threads::All]);
        assert_eq!(thread_counts(2), [Threads::Count(1), Threads::All]);
        assert_eq!(
            thread_counts(16),
            [Threads::Count(1), Threads::Count(2), Threads::All]
        );
        assert_eq!(workers_list(&thread_counts(16)), "1,2,all");
        assert_eq!(Threads::All.cell(16), "all (16)");
    }

    #[test]
    fn reads_measure_lines_and_keeps_unnamed_keys() -> Result<()> {
        let failed_line = r#"{"label":"yell_4096.tif cnn:cpu workers=all","file":"/b/yell_4096.tif",
            "run":"cnn:cpu","method":"cnn","backend_requested":"cpu","workers":"all",
            "error":"no result-ready within 1800000 ms","log":["x"]}"#;
        let text = format!(
            "{}\n\n{}\n",
            KMEANS_LINE.replace('\n', ""),
            failed_line.replace('\n', "")
        );
        let rows = parse_lines(&text)?;
        let [ok, failed] = rows.as_slice() else {
            bail!("expected two rows, got {}", rows.len());
        };
        let r = results(Vec::new());
        assert!(ok.is(&r.rasters[0], "kmeans:cpu", Threads::Count(1)));
        assert!(!ok.is(&r.rasters[0], "kmeans:cpu", Threads::All));
        assert!(!ok.is(&r.rasters[1], "kmeans:cpu", Threads::Count(1)));
        assert!(failed.is(&r.rasters[0], "cnn:cpu", Threads::All));
        assert_eq!(ok.hardware_concurrency, Some(2));
        assert_eq!(
            ok.cells(),
            ["3.31 s", "3.52 s", "1.19 s / 1.40 s", "2.05 s", "571 MiB"].map(str::to_owned)
        );
        assert_eq!(ok.backend_shown(), "CPU (WebAssembly)");
        assert_eq!(ok.rest["renderer_rss_after_startup_mib"], 186);
        assert!(failed.drop_to_result_ms.is_none());
        assert_eq!(failed.rest["log"][0], "x");
        let json = serde_json::to_value(failed)?;
        assert_eq!(json["error"], "no result-ready within 1800000 ms");
        assert_eq!(json["workers"], "all");
        Ok(())
    }

    #[test]
    fn a_cell_shows_the_median_round() -> Result<()> {
        // Three rounds of the same run: 3.31 s, 2.50 s and a failure; then one more at 4.00 s.
        let line = KMEANS_LINE.replace('\n', "");
        let text = [
            line.clone(),
            line.replace("3313", "2500"),
            line.replace(r#""drop_to_result_ms":3313,"#, r#""error":"no result","#),
        ]
        .join("\n");
        let mut rows = parse_lines(&text)?;
        for (round, row) in rows.iter_mut().enumerate() {
            row.round = round + 1;
        }
        let mut r = results(rows);
        let four = r.rasters[0].name();
        let raster = &r.rasters[0];
        let web = r.web_row(raster, MAIN_RUN, Threads::Count(1));
        // Two timed rounds: the lower middle one.
        assert_eq!(web.and_then(|w| w.drop_to_result_ms), Some(2500.0));
        let native = r.native_row(raster, "kmeans", Threads::Count(1));
        assert_eq!(native.map(|n| n.round), Some(3));
        assert!(r.web_row(raster, MAIN_RUN, Threads::All).is_none());
        let mut more = parse_lines(&line.replace("3313", "4000"))?;
        more[0].round = 4;
        r.web.append(&mut more);
        let raster = &r.rasters[0];
        assert_eq!(
            r.web_row(raster, MAIN_RUN, Threads::Count(1))
                .and_then(|w| w.drop_to_result_ms),
            Some(3313.0)
        );
        assert_eq!(r.failures(), 3);
        assert_eq!(four, "yell_4096.tif");
        // A run that failed in every round still has its row.
        let failed = parse_lines(&line.replace(r#""drop_to_result_ms":3313,"#, r#""error":"x","#))?;
        assert_eq!(
            median_by(failed.iter(), |w| w.drop_to_result_ms).map(|w| w.error.as_deref()),
            Some(Some("x"))
        );
        Ok(())
    }

    #[test]
    fn prints_the_tables() -> Result<()> {
        let mut rows = parse_lines(&KMEANS_LINE.replace('\n', ""))?;
        rows[0].round = 1;
        let r = results(rows);
        assert_eq!(ratio(Some(3313.0), Some(1.0)), "3.31×");
        assert_eq!(ratio(Some(3313.0), None), "–");
        assert_eq!(r.hardware_concurrency(), Some(2));
        assert_eq!(r.failures(), 2);
        assert_eq!(
            r.wasm_line(),
            "wasm in dist: `web_bg.wasm` 1.43 MB (gzip -9 –)"
        );
        let json = serde_json::to_value(&r)?;
        assert_eq!(json["threads"], serde_json::json!([1, "all"]));
        assert_eq!(json["native"][0]["threads"], 1);
        r.print();
        Ok(())
    }
}
