//! Command-line flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The exit codes, shown under `--help`.
const EXIT_CODES: &str = "Exit codes: 0 success; 1 failure (an error, or problems found); \
2 finished but some data was dropped (a bad file, an unreadable window); \
3 stopped early by --stop-after (rerun to resume).";

/// Dataset headers, seeded splits, shard building, shard validation and IoU evaluation.
#[derive(Debug, Parser)]
#[command(name = "shard-tools", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write or check dataset header YAML.
    #[command(subcommand)]
    Headers(HeadersCommand),
    /// Pair, split and cut a dataset into shards (resumable).
    Build(BuildArgs),
    /// Score a label raster against a target raster (matched mean IoU, accuracy).
    Eval(EvalArgs),
    /// Check a shard tree against its indexes.
    Validate(ValidateArgs),
}

#[derive(Debug, Subcommand)]
pub enum HeadersCommand {
    /// Generate a commented header from a folder of inputs and a folder of targets.
    Init(InitArgs),
    /// Validate a header: schema, values, pairing, files, and the planned split counts.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Dataset id (letters, digits, '-', '_', '.').
    #[arg(long)]
    pub dataset: String,
    /// Folder of input rasters.
    #[arg(long)]
    pub inputs: PathBuf,
    /// Folder of target (label) rasters, paired with inputs by file stem.
    #[arg(long)]
    pub targets: Option<PathBuf>,
    /// Header file to write.
    #[arg(short, long)]
    pub output: PathBuf,
    /// File-name pattern of the rasters.
    #[arg(long, default_value = "*.tif")]
    pub pattern: String,
    /// Window side in pixels.
    #[arg(long, default_value_t = 256)]
    pub window: u32,
    /// Windows per shard.
    #[arg(long, default_value_t = 256)]
    pub shard_size: usize,
    /// Split seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Overwrite an existing header.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The header file.
    pub header: PathBuf,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The header file.
    pub header: PathBuf,
    /// Root of the shard tree (created if absent; must be empty or a shard tree).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace this dataset's shards when they were built from a different header or sources.
    #[arg(long)]
    pub rebuild: bool,
    /// Write at most N new shards, then stop (a later run resumes).
    #[arg(long, value_name = "N")]
    pub stop_after: Option<usize>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MatchingArg {
    /// Hungarian when cluster and class counts are equal, majority otherwise.
    Auto,
    /// One-to-one assignment.
    Hungarian,
    /// Each cluster to its most-overlapping class.
    Majority,
    /// Cluster id = class id.
    Identity,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Predicted label raster (cluster ids).
    pub pred: PathBuf,
    /// Target label raster (class ids).
    pub target: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Target labels to ignore, comma-separated (e.g. 0,255).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub ignore: Vec<i64>,
    /// How clusters are matched to classes.
    #[arg(long, value_enum, default_value = "auto")]
    pub matching: MatchingArg,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Root of the shard tree.
    pub dir: PathBuf,
}
