//! `native-trainer`: trains Mapseg's CNN on real scenes, evaluates it beside K-Means on
//! labelled scenes, and exports it as a model artifact (`models/<id>/`).

mod data;
mod eval;
mod export;
mod loss;
mod train;
mod views;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::{Parser, Subcommand};
use engine::cnn::CnnConfig;

use crate::views::ViewOptions;

#[derive(Debug, Parser)]
#[command(name = "native-trainer", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Trains the network on real scenes (GeoTIFF files, folders, or shard trees).
    Train(TrainArgs),
    /// Scores a model and K-Means at the same k on labelled scenes.
    Eval(EvalArgs),
    /// Writes a trained run as a model artifact: weights.bpk, meta.json, metrics.json.
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
struct TrainArgs {
    /// Training data: GeoTIFF files, folders of them, or shard trees (their `train` split).
    #[arg(required = true)]
    data: Vec<PathBuf>,
    /// The run's folder: config, JSON-lines log, checkpoints, final weights.
    #[arg(short, long)]
    out: PathBuf,
    #[arg(long, default_value_t = 300)]
    steps: usize,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    #[arg(long, default_value_t = 128)]
    crop: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Warm-up steps (default: a tenth of the steps, plus one).
    #[arg(long)]
    warmup: Option<usize>,
    #[arg(long, default_value_t = 1.0)]
    lambda: f32,
    /// The self-supervised objective.
    #[arg(long, value_enum, default_value_t = train::Objective::Vicreg)]
    objective: train::Objective,
    /// Context channels of the network.
    #[arg(long, default_value_t = 24)]
    width: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 50)]
    log_every: usize,
    #[arg(long, default_value_t = 250)]
    checkpoint_every: usize,
    /// Start from these weights (a model folder or a .bpk file) instead of random ones.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Go on from the run folder's last checkpoint with its saved settings.
    #[arg(long)]
    resume: bool,
    /// Stop (after a checkpoint) once this many steps ran in this session, e.g. to fit a
    /// scheduler's time limit; `--resume` goes on from there.
    #[arg(long)]
    stop_after: Option<usize>,
    /// Where to train.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, clap::Args)]
struct EvalArgs {
    /// A model folder (weights.bpk + meta.json).
    #[arg(long)]
    model: PathBuf,
    /// The labelled configurations.
    #[arg(long, default_value = "tests/fixtures/labelled/scenes.json")]
    scenes: PathBuf,
    /// Where the label rasters go.
    #[arg(long, default_value = "target/cnn-eval")]
    work: PathBuf,
    /// Seeds of the runs (each scene is segmented once per seed by each method).
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    seeds: Vec<u64>,
    /// Weight of the band values beside the embedding (default: the engine's).
    #[arg(long)]
    spectra: Option<f32>,
    /// Also write the table as the model's metrics.json.
    #[arg(long)]
    write_metrics: bool,
}

#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// A training run's folder.
    run: PathBuf,
    /// The model's id; the artifact goes to `<models>/<id>/`.
    #[arg(long)]
    id: String,
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// JSON describing the training data's sources and licences, kept in meta.json.
    #[arg(long)]
    sources: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Backend {
    /// burn's pure-Rust CPU backend.
    Flex,
    /// Any GPU through wgpu (needs the `wgpu` feature).
    Wgpu,
    /// NVIDIA GPUs through CUDA (needs the `cuda` feature).
    Cuda,
}

fn device(backend: Backend) -> Result<Device> {
    match backend {
        Backend::Flex => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(feature = "cuda")]
        Backend::Cuda => Ok(Device::cuda(0)),
        #[allow(unreachable_patterns)]
        other => bail!(
            "this native-trainer was built without the {other:?} backend; rebuild it with `--features {}`",
            format!("{other:?}").to_lowercase()
        ),
    }
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Train(a) => train(a),
        Command::Eval(a) => {
            let artifact = export::read(&a.model)?;
            let mut rows = Vec::new();
            for &seed in &a.seeds {
                rows.extend(eval::run(
                    artifact.clone(),
                    &a.scenes,
                    &a.work,
                    seed,
                    a.spectra,
                )?);
            }
            print!("{}", eval::markdown(&rows));
            if a.write_metrics {
                let path = a.model.join("metrics.json");
                std::fs::write(&path, serde_json::to_vec_pretty(&export::metrics(&rows))?)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(())
        }
        Command::Export(a) => export::run(&a.run, &a.id, &a.models, a.sources.as_deref()),
    }
}

fn train(a: TrainArgs) -> Result<()> {
    let device = device(a.backend)?;
    let mut files = Vec::new();
    for d in &a.data {
        files.extend(data::files(d)?);
    }
    let mut scenes = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let scene = data::load(f, a.seed.wrapping_add(i as u64))?;
        if scene.width < a.crop + 16 || scene.height < a.crop + 16 {
            eprintln!("skipping {}: smaller than a crop", f.display());
            continue;
        }
        if !a.quiet {
            eprintln!(
                "{}: {}x{} px, {}",
                scene.name, scene.width, scene.height, scene.roles
            );
        }
        scenes.push(scene);
    }
    if scenes.is_empty() {
        bail!("no training scene is larger than a crop of {} px", a.crop);
    }
    let config = train::TrainConfig {
        architecture: CnnConfig::new().with_width(a.width),
        views: ViewOptions {
            crop: a.crop,
            ..ViewOptions::default()
        },
        steps: a.steps,
        batch: a.batch,
        lr: a.lr,
        min_lr: a.lr / 100.0,
        warmup: a.warmup.unwrap_or(a.steps / 10 + 1).min(a.steps),
        weight_decay: 1e-4,
        clip: 1.0,
        lambda: a.lambda,
        objective: a.objective,
        margin: 8,
        seed: a.seed,
        log_every: a.log_every.max(1),
        checkpoint_every: a.checkpoint_every.max(1),
        data: a.data.clone(),
        init: a.init.clone(),
    };
    let Some(trained) = train::run(
        config,
        &scenes,
        &a.out,
        a.resume,
        a.stop_after,
        &device,
        a.quiet,
    )?
    else {
        if !a.quiet {
            eprintln!("stopped at a checkpoint; go on with --resume");
        }
        return Ok(());
    };
    export::write_run_summary(&a.out, &trained, &files)?;
    if !a.quiet {
        eprintln!(
            "trained {} steps in {:.0} s; weights in {}",
            trained.steps,
            trained.wall_s,
            a.out.join("model.bpk").display()
        );
    }
    Ok(())
}
