//! `cargo xtask bench web`: the web app in headless Chromium on the bench's real 4096² GeoTIFF, each method on each
//! backend, with the native `mapseg` on the same file in the same run as the reference.
//!
//! The raster is `yell_4096.tif` of `cargo xtask bench` (a NEON orthophoto, RGB u8, made or reused in the bench
//! directory). The app is the release build of `dist/` (or `--dist PATH`), served on 127.0.0.1 and driven by
//! `tests/e2e/measure.mjs`: for K-Means and the CNN, each on the CPU and on WebGPU (`?method=…&backend=…`), a fresh
//! browser opens the app, is handed the file and runs it to the result; that gives the time from the drop to the
//! result, megapixels per second over it, the renderer's peak resident memory, the worker's WebAssembly memory and
//! the backend the page says it ran on. The reference is `mapseg segment --method kmeans|cnn` on the same file at its
//! defaults, on all threads and on one, timed around the process with its peak resident memory. Everything runs once,
//! one after the other; the table goes to standard output and the results to `bench-web-results.json` in the bench
//! directory. It fails on errors only, never on speed.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::data::{self, SIZE};
use super::{bench_dir, build_mapseg};
use crate::cmd::{Cmd, note, repo_root};
use crate::install::ensure_apt_packages;
use crate::peak_rss;

/// The measuring script, relative to the repository root.
const MEASURE: &str = "tests/e2e/measure.mjs";
/// The web runs (`method:backend`, as `measure.mjs --runs` takes them), in table order.
const WEB_RUNS: [&str; 4] = ["kmeans:cpu", "kmeans:webgpu", "cnn:cpu", "cnn:webgpu"];
/// `mapseg segment --method` values and their names.
const METHODS: [(&str, &str); 2] = [("kmeans", "K-Means"), ("cnn", "CNN")];
const KIB_PER_MIB: f64 = 1024.0;

#[derive(Debug, Serialize)]
struct Raster {
    path: PathBuf,
    width: u32,
    height: u32,
    megapixels: f64,
}

/// One `mapseg segment` run.
#[derive(Debug, Serialize)]
struct NativeRow {
    label: String,
    method: &'static str,
    /// `--threads`; `None` is the default, all cores.
    threads: Option<usize>,
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
    label: String,
    run: Option<String>,
    method: Option<String>,
    backend_requested: Option<String>,
    /// What `[data-testid=backend]` showed after the run.
    backend: Option<String>,
    gpu: Option<bool>,
    backend_note: Option<String>,
    drop_to_result_ms: Option<f64>,
    data_elapsed_ms: Option<f64>,
    megapixels_per_s: Option<f64>,
    renderer_peak_rss_mib: Option<f64>,
    wasm_memory_mib: Option<f64>,
    error: Option<String>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Debug, Serialize)]
struct Results {
    raster: Raster,
    mapseg: PathBuf,
    dist: PathBuf,
    cpus: usize,
    chromium: Option<String>,
    native: Vec<NativeRow>,
    web: Vec<WebRow>,
    /// Web runs that gave no result line, and a failure of the script itself.
    errors: Vec<String>,
}

pub fn run(mapseg: Option<PathBuf>, dist: Option<PathBuf>) -> Result<ExitCode> {
    let dir = bench_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    note(&format!("bench directory: {}", dir.display()));

    note("preparing the 4096² raster");
    let python = data::ensure_venv(&dir)?;
    let rasters = data::ensure_rasters(&dir, &python)?;
    let raster = Raster {
        path: rasters.small,
        width: SIZE,
        height: SIZE,
        megapixels: f64::from(SIZE) * f64::from(SIZE) / 1e6,
    };

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

    let mut native = Vec::new();
    for threads in [None, Some(1)] {
        for (method, name) in METHODS {
            note(&format!(
                "timing mapseg segment --method {method} on {} ({})",
                file_name(&raster.path),
                threads_text(threads.unwrap_or(cpus))
            ));
            native.push(time_native(&mapseg, &dir, &raster, method, name, threads));
        }
    }

    note(&format!(
        "measuring the web app in headless Chromium: {}",
        WEB_RUNS.join(", ")
    ));
    let (web, mut errors) = measure_web(&dir, &dist, &raster)?;
    for run in WEB_RUNS {
        if !web.iter().any(|r| r.run.as_deref() == Some(run)) {
            errors.push(format!("web {run}: no result"));
        }
    }

    let results = Results {
        raster,
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

    let failed = results.native.iter().filter(|r| r.error.is_some()).count()
        + results.web.iter().filter(|r| r.error.is_some()).count()
        + results.errors.len();
    Ok(if failed > 0 {
        eprintln!("error: {failed} measurement(s) failed");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
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

/// `mapseg segment IN -o OUT --method METHOD` at its defaults (with `--threads N` and as wide a Rayon pool when
/// `threads` is given), timed around the process, with its peak resident memory.
fn time_native(
    mapseg: &Path,
    dir: &Path,
    raster: &Raster,
    method: &'static str,
    name: &str,
    threads: Option<usize>,
) -> NativeRow {
    let label = match threads {
        None => format!("CLI, {name} (`--method {method}`)"),
        Some(n) => format!("CLI, {name} (`--method {method} --threads {n}`)"),
    };
    let mut row = NativeRow {
        label,
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
    let mut args: Vec<OsString> = vec![
        "segment".into(),
        raster.path.clone().into(),
        "-o".into(),
        dir.join("bench-web-cli-out.tif").into(),
        "--method".into(),
        method.into(),
        "--timings".into(),
        timings.clone().into(),
        "--quiet".into(),
    ];
    // With a thread count, `env` sets the Rayon pool (the CNN's tensor kernels) as wide and execs `mapseg`, which
    // stays the measured process.
    let program = match threads {
        None => mapseg.to_path_buf(),
        Some(n) => {
            args.extend(["--threads".into(), n.to_string().into()]);
            args.insert(0, mapseg.into());
            args.insert(0, format!("RAYON_NUM_THREADS={n}").into());
            PathBuf::from("env")
        }
    };
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

/// Runs `measure.mjs` on the raster once per web run; its result lines, and an error of the script itself.
fn measure_web(dir: &Path, dist: &Path, raster: &Raster) -> Result<(Vec<WebRow>, Vec<String>)> {
    let lines = dir.join("bench-web-runs.jsonl");
    let _ = std::fs::remove_file(&lines);
    let status = Cmd::new("node")?
        .arg(repo_root().join(MEASURE))
        .arg(dist)
        .arg(&raster.path)
        .args(["--runs", &WEB_RUNS.join(",")])
        .arg("--out")
        .arg(&lines)
        .env("MAPSEG_BENCH", dir)
        .run();
    let mut errors = Vec::new();
    let text = match std::fs::read_to_string(&lines) {
        Ok(text) => text,
        Err(_) if status.is_err() => String::new(),
        Err(error) => {
            return Err(error).with_context(|| format!("could not read {}", lines.display()));
        }
    };
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: WebRow = serde_json::from_str(line)
            .with_context(|| format!("unexpected line from {MEASURE}: {line}"))?;
        rows.push(row);
    }
    // A failed measurement already is a row with `error` (and makes the script exit 1); anything else is its own.
    if let Err(error) = status
        && rows.iter().all(|r| r.error.is_none())
    {
        errors.push(format!("{error:#}"));
    }
    Ok((rows, errors))
}

fn threads_text(n: usize) -> String {
    if n == 1 {
        "1 thread".to_owned()
    } else {
        format!("{n} threads")
    }
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

fn number(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.decimals$}"))
}

impl WebRow {
    fn title(&self) -> String {
        let method = match self.method.as_deref() {
            Some("cnn") => "CNN",
            Some("kmeans") => "K-Means",
            Some(other) => other,
            None => "default method",
        };
        let backend = self.backend_requested.as_deref().unwrap_or("auto");
        format!("web, {method}, backend={backend}")
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

impl Results {
    fn print(&self) {
        let r = &self.raster;
        println!();
        println!(
            "{}: {}×{} px ({:.2} MP), RGB u8; mapseg segment and the web app at their defaults, one run each, {} CPUs",
            file_name(&r.path),
            r.width,
            r.height,
            r.megapixels,
            self.cpus
        );
        println!(
            "web: {} (headless), app {}; peak memory: the CLI process, the page's renderer process (VmHWM)",
            self.chromium.as_deref().unwrap_or("Chromium"),
            self.dist.display()
        );
        println!();
        println!(
            "| run | backend shown | drop→result s | MP/s | peak memory MiB | wasm memory MiB | time ÷ CLI (all threads) |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|");
        for row in &self.native {
            if let Some(error) = &row.error {
                println!("| {} | error: {} | | | | | |", row.label, cell(error));
                continue;
            }
            let cpu = if row.method == "cnn" {
                "CPU (flex)"
            } else {
                "CPU"
            };
            let backend = format!("{cpu}, {}", threads_text(row.threads.unwrap_or(self.cpus)));
            let ratio = self.ratio(row.method, row.wall_s);
            println!(
                "| {} | {backend} | {} | {} | {} | – | {ratio} |",
                row.label,
                number(row.wall_s, 2),
                number(row.megapixels_per_s, 2),
                number(row.peak_rss_mib, 0),
            );
        }
        for row in &self.web {
            if let Some(error) = &row.error {
                println!("| {} | error: {} | | | | | |", row.title(), cell(error));
                continue;
            }
            let seconds = row.drop_to_result_ms.map(|ms| ms / 1000.0);
            let mp_s = row
                .megapixels_per_s
                .or_else(|| seconds.map(|s| r.megapixels / s));
            let ratio = self.ratio(row.method.as_deref().unwrap_or("kmeans"), seconds);
            println!(
                "| {} | {} | {} | {} | {} | {} | {ratio} |",
                row.title(),
                cell(&row.backend_shown()),
                number(seconds, 2),
                number(mp_s, 2),
                number(row.renderer_peak_rss_mib, 0),
                number(row.wasm_memory_mib, 0),
            );
        }
        for error in &self.errors {
            println!("| – | error: {} | | | | | |", cell(error));
        }
        println!();
    }

    /// `seconds` ÷ the all-threads CLI run of `method`, as "N.NN×".
    fn ratio(&self, method: &str, seconds: Option<f64>) -> String {
        let cli = self
            .native
            .iter()
            .find(|r| r.method == method && r.threads.is_none())
            .and_then(|r| r.wall_s);
        match (seconds, cli) {
            (Some(s), Some(c)) if c > 0.0 => format!("{:.2}×", s / c),
            _ => "–".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_measure_lines_and_keeps_unnamed_keys() {
        let ok: WebRow = serde_json::from_str(
            r#"{"label":"a.tif kmeans:webgpu","file":"/b/a.tif","run":"kmeans:webgpu","method":"kmeans",
            "backend_requested":"webgpu","backend":"WebGPU","gpu":true,"backend_note":null,"width":349,
            "height":352,"megapixels":0.122848,"load_ms":173,"drop_to_result_ms":1037,"data_elapsed_ms":768,
            "megapixels_per_s":0.118,"renderer_peak_rss_mib":246,"renderer_rss_after_startup_mib":171,
            "wasm_memory_mib":18}"#,
        )
        .unwrap();
        assert_eq!(ok.run.as_deref(), Some("kmeans:webgpu"));
        assert_eq!(ok.backend_shown(), "WebGPU (GPU)");
        assert_eq!(ok.title(), "web, K-Means, backend=webgpu");
        assert_eq!(ok.rest["load_ms"], 173);
        let failed: WebRow = serde_json::from_str(
            r#"{"label":"a.tif cnn:cpu","file":"/b/a.tif","run":"cnn:cpu","method":"cnn",
            "backend_requested":"cpu","error":"no result-ready within 1800000 ms","log":["x"]}"#,
        )
        .unwrap();
        assert!(failed.drop_to_result_ms.is_none());
        assert_eq!(failed.rest["log"][0], "x");
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(json["error"], "no result-ready within 1800000 ms");
        assert_eq!(json["file"], "/b/a.tif");

        let native = NativeRow {
            label: "CLI, K-Means (`--method kmeans`)".to_owned(),
            method: "kmeans",
            threads: None,
            wall_s: Some(0.5),
            megapixels_per_s: Some(33.5),
            peak_rss_mib: Some(120.0),
            timings: BTreeMap::new(),
            error: None,
        };
        let results = Results {
            raster: Raster {
                path: "/b/yell_4096.tif".into(),
                width: SIZE,
                height: SIZE,
                megapixels: 16.78,
            },
            mapseg: "mapseg".into(),
            dist: "dist".into(),
            cpus: 2,
            chromium: None,
            native: vec![native],
            web: vec![ok, failed],
            errors: vec!["web cnn:webgpu: no result".to_owned()],
        };
        assert_eq!(results.ratio("kmeans", Some(1.037)), "2.07×");
        assert_eq!(results.ratio("cnn", Some(1.0)), "–");
        results.print();
    }
}
