//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use engine::normalise::Normalisation;

#[derive(Debug, Parser)]
#[command(
    name = "mapseg",
    version,
    about = "Unsupervised land-cover segmentation of GeoTIFF rasters"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe a GeoTIFF: size, bands, type, compression, CRS, pixel size, extent, nodata.
    Info(InfoArgs),
    /// Segment a GeoTIFF into k classes and write a label GeoTIFF.
    Segment(SegmentArgs),
    /// Write the classes of a label GeoTIFF as polygons (FlatGeobuf or GeoJSON).
    Polygons(PolygonsArgs),
    /// Merge classes of a label GeoTIFF written by `mapseg segment` into one.
    Relabel(RelabelArgs),
    /// Fit a model once on a sample of one raster, a list of rasters or a VRT mosaic, for
    /// `mapseg apply` to label in parts.
    Fit(FitArgs),
    /// Label one part of N with a fitted model (one array task of Slurm, Kubernetes, AWS or
    /// Google Batch, Cloud Run…): part I of one raster, or the files of part I of a list.
    Apply(ApplyArgs),
    /// Put the parts of `mapseg apply` together: a COG and/or a VRT with the colour table,
    /// class names and manifest, and the summed statistics.
    Merge(MergeArgs),
    /// Time clustering alone (fit + assign of every pixel) on a raster held in memory.
    #[command(hide = true)]
    BenchCluster(BenchArgs),
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    pub file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// Input GeoTIFF.
    pub input: PathBuf,
    /// Output label GeoTIFF (written atomically: a failed run leaves no partial file).
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub method: MethodArgs,
    /// Write per-class statistics (pixels, m², ha, %) as CSV.
    #[arg(long)]
    pub stats: Option<PathBuf>,
    /// Write the run manifest as JSON.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Also write the classes as polygons, one MultiPolygon per class with its name, colour
    /// and area: FlatGeobuf in the raster's CRS (.fgb) or GeoJSON in WGS 84 (.geojson).
    #[arg(long)]
    pub polygons: Option<PathBuf>,
    /// --polygons only: simplify the class boundaries with this tolerance in metres;
    /// neighbours keep sharing their boundaries (no gaps, no overlaps). Default 0: every pixel
    /// corner.
    #[arg(long, value_name = "METRES")]
    pub simplify: Option<f64>,
    /// Name the classes with their suggested names (water, dense or sparse vegetation, bare
    /// soil, built-up… from each class's mean band values: spectral indices where the bands
    /// include near infrared, brightness and colour for RGB) in the GeoTIFF, --stats and
    /// --polygons, for the classes that have one. They are suggestions to check, not a
    /// classification; the summary shows them in any case.
    #[arg(long)]
    pub suggested_names: bool,
    /// Print inertia and silhouette for k = 2..16 and a suggested k.
    #[arg(long)]
    pub k_curve: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write stage timings (seconds) as JSON.
    #[arg(long)]
    pub timings: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// The method and its parameters: what `mapseg segment` and `mapseg fit` share.
#[derive(Debug, Args)]
pub struct MethodArgs {
    /// Segmentation method: kmeans (clusters of block colours) or cnn (clusters of a learned
    /// network's embeddings, which see each pixel's neighbourhood).
    #[arg(long, value_enum, default_value_t = Method::Kmeans)]
    pub method: Method,
    /// CNN only: a model folder (weights.bpk + meta.json) instead of the built-in model.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// CNN only: where the network runs.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    pub backend: Backend,
    /// CNN only: the spectral role of the bands, when the file does not say: one word per data
    /// band in file order ("red,green,blue,nir"; "-" skips a band) or band=role pairs
    /// ("4=nir,3=red,2=green"). Roles: blue, green, red, nir, swir1, swir2, pan.
    #[arg(long)]
    pub band_roles: Option<String>,
    /// Number of classes (2-64).
    #[arg(long, default_value_t = 8)]
    pub k: usize,
    /// Block size in pixels: 1, 2, 4, 8 or 16.
    #[arg(long, default_value_t = 2)]
    pub resolution: u32,
    /// Bands to use, 1-based, comma-separated (default: every band but alpha). With --method
    /// cnn, those with a spectral role feed the network and all of them join the clustering.
    #[arg(long, value_delimiter = ',')]
    pub bands: Option<Vec<usize>>,
    /// Majority filter kernel size (odd, 3-15; 0 turns it off).
    #[arg(long, default_value_t = 3)]
    pub smooth: usize,
    /// Minimum mapping unit in pixels: smaller regions merge into a neighbour (0 turns it off).
    #[arg(long, default_value_t = 16)]
    pub mmu: u32,
    /// How band values are scaled before clustering: auto (the default for the raster's sample
    /// type), unit (divide by 255, 8-bit only), stretch (2-98 % percentiles to 0-1), zscore,
    /// robust (median/MAD), robust_clip (median/MAD clipped to ±3).
    #[arg(long, default_value_t = Normalisation::Auto, value_parser = parse_normalisation)]
    pub normalise: Normalisation,
    /// Average each pixel with its 3x3 neighbours before clustering.
    #[arg(long)]
    pub presmooth: bool,
    /// Seed for sampling and k-means++ (same seed, same labels).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct FitArgs {
    /// Input GeoTIFF(s): one raster, the scenes of a list, or a VRT mosaic (its GeoTIFF
    /// sources). The model is fitted on a stratified sample across all of them.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output model file (JSON; written atomically).
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub method: MethodArgs,
    /// Worker threads (default: all cores, at most SLURM_CPUS_PER_TASK when set).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The model file written by `mapseg fit`.
    pub model_file: PathBuf,
    /// Input GeoTIFF(s): one raster (its parts are bands of whole 256-pixel tile rows), or a
    /// list of rasters or a VRT mosaic (its parts are whole files).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Number of parts the work is split into (always given: schedulers' own counts describe
    /// what was submitted, not the split).
    #[arg(long)]
    pub parts: u32,
    /// The part to label, 0-based. Default: the array index of the scheduler running this
    /// task (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX,
    /// BATCH_TASK_INDEX, CLOUD_RUN_TASK_INDEX, MAPSEG_PART; 1-based SGE_TASK_ID,
    /// PBS_ARRAY_INDEX, PBS_ARRAYID, LSB_JOBINDEX).
    #[arg(long)]
    pub part: Option<u32>,
    /// Output folder (created if missing): part-NNNNNN.tif and part-NNNNNN.json for one
    /// raster, one label GeoTIFF per input file plus part-NNNNNN.json for a list.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Label the part even when the folder already holds it complete (by default a part whose
    /// part file names the same model is left as it is).
    #[arg(long)]
    pub again: bool,
    /// CNN only: the model folder the model file was fitted with, when not the built-in one.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// CNN only: where the network runs.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    pub backend: Backend,
    /// Worker threads (default: all cores, at most SLURM_CPUS_PER_TASK when set).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The output folder of `mapseg apply` (every part of one model).
    pub dir: PathBuf,
    /// Output: a cloud-optimised GeoTIFF (.tif) and/or a VRT (.vrt) of the parts; repeat for
    /// both. A one-raster run only (a list's label files stay as they are; the VRT mosaics
    /// them when they share a grid).
    #[arg(short, long, required = true)]
    pub output: Vec<PathBuf>,
    /// Write the summed per-class statistics as CSV.
    #[arg(long)]
    pub stats: Option<PathBuf>,
    /// Write the run manifest as JSON.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Worker threads for the GeoTIFF (default: all cores, at most SLURM_CPUS_PER_TASK when
    /// set).
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct PolygonsArgs {
    /// A label GeoTIFF (as `mapseg segment` writes it: one u8 band, 255 for nodata).
    pub input: PathBuf,
    /// Output: .fgb (FlatGeobuf, in the raster's CRS) or .geojson (GeoJSON, in WGS 84).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Simplify the class boundaries with this tolerance in metres (0: every pixel corner).
    #[arg(long, value_name = "METRES", default_value_t = 0.0)]
    pub simplify: f64,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct RelabelArgs {
    /// A label GeoTIFF written by Mapseg (its colour table, class names and manifest are read).
    pub input: PathBuf,
    /// Classes to merge, comma-separated label values as in the GeoTIFF and the statistics
    /// CSV's `class` column (0-based: the default name "class 1" is value 0). The merged class
    /// takes the lowest value and the colour of that class; higher classes move down to close
    /// the gap. Repeat for several merges (values always as in the input file).
    #[arg(long = "merge", value_name = "A,B[,C…]", required = true)]
    pub merges: Vec<String>,
    /// Name of the merged class (default: the merged names joined with " + "); one per
    /// --merge, in order.
    #[arg(long = "name")]
    pub names: Vec<String>,
    /// Output label GeoTIFF (written atomically).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write the new per-class statistics as CSV (they are printed in any case).
    #[arg(long)]
    pub stats: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    pub input: PathBuf,
    #[arg(long, default_value_t = 8)]
    pub k: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// A segmentation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    Kmeans,
    Cnn,
}

/// Where the CNN runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The CPU (burn's flex backend): always available.
    #[value(alias = "cpu")]
    Flex,
    /// Any GPU through wgpu (a build with the `wgpu` feature).
    Wgpu,
    /// A GPU through Vulkan (a build with the `vulkan` feature).
    Vulkan,
    /// An NVIDIA GPU through CUDA (a build with the `cuda` feature).
    Cuda,
}

/// Worker threads to use: as requested, else every core this process may use (its CPU
/// affinity and cgroup quota), at most `SLURM_CPUS_PER_TASK` when Slurm sets it.
pub fn threads(requested: Option<usize>) -> usize {
    let slurm = std::env::var("SLURM_CPUS_PER_TASK")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0);
    requested
        .unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            slurm.map_or(cores, |s| s.min(cores))
        })
        .max(1)
}

fn parse_normalisation(s: &str) -> Result<Normalisation, String> {
    s.parse()
        .map_err(|e: engine::normalise::UnknownNormalisation| e.to_string())
}
