//! The training loop: paired views → IIC loss on every head → AdamW with warm-up, cosine decay
//! and gradient-norm clipping. Seeded; checkpoints every `checkpoint_every` steps and resumes
//! from the last one; one JSON line per logged step with the unsupervised diagnostics.

use std::fs::{self, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use burn::module::Module;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::store::ModuleRecord;
use burn::tensor::{Device, Tensor, TensorData};
use engine::cnn::bands::SLOTS;
use engine::cnn::{Cnn, CnnConfig};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::Scene;
use crate::loss::head_loss;
use crate::views::{self, Batch, D4, Overlap, ViewOptions};

/// Everything a training run is made of; saved beside its checkpoints so `--resume` goes on
/// with the same settings.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    pub architecture: CnnConfig,
    pub views: ViewOptions,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub min_lr: f64,
    pub warmup: usize,
    pub weight_decay: f32,
    pub clip: f32,
    /// λ of the marginal entropies.
    pub lambda: f32,
    /// What the views are compared with.
    #[serde(default)]
    pub objective: Objective,
    /// Cells (half resolution) left out at every crop edge.
    pub margin: usize,
    pub seed: u64,
    pub log_every: usize,
    pub checkpoint_every: usize,
    /// Data arguments, as given.
    pub data: Vec<PathBuf>,
    /// Weights the run started from (a model folder or a burnpack file), if any.
    #[serde(default)]
    pub init: Option<PathBuf>,
}

/// The self-supervised objective.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Dense IIC on the heads' cluster probabilities.
    Iic,
    /// VICReg on the embeddings themselves (2×2-pooled): the default, measured more stable.
    #[default]
    Vicreg,
}

/// The learning rate of `step`: linear warm-up, then cosine decay to `min_lr`.
pub fn learning_rate(c: &TrainConfig, step: usize) -> f64 {
    if step < c.warmup {
        return c.lr * (step + 1) as f64 / c.warmup as f64;
    }
    let t = (step - c.warmup) as f64 / (c.steps - c.warmup).max(1) as f64;
    c.min_lr + 0.5 * (c.lr - c.min_lr) * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
}

/// The run's files.
struct RunDir(PathBuf);

impl RunDir {
    fn config(&self) -> PathBuf {
        self.0.join("config.json")
    }
    fn log(&self) -> PathBuf {
        self.0.join("train.jsonl")
    }
    fn model(&self) -> PathBuf {
        self.0.join("checkpoint-model.bpk")
    }
    fn optimiser(&self) -> PathBuf {
        self.0.join("checkpoint-optimiser.bpk")
    }
    fn state(&self) -> PathBuf {
        self.0.join("checkpoint.json")
    }
    fn last(&self) -> PathBuf {
        self.0.join("model.bpk")
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct CheckpointState {
    step: usize,
    wall_s: f64,
}

/// What a finished run hands to `export`.
#[derive(Debug)]
pub struct Trained {
    pub steps: usize,
    pub wall_s: f64,
    pub scenes: Vec<String>,
}

/// The random stream of `step`: a resumed run draws exactly what an uninterrupted one would.
fn step_rng(seed: u64, step: usize) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Trains into `out`, resuming from its checkpoint when `resume` holds; `None` when it stopped
/// at a checkpoint after `stop_after` steps of this session.
pub fn run(
    config: TrainConfig,
    scenes: &[Scene],
    out: &Path,
    resume: bool,
    stop_after: Option<usize>,
    device: &Device,
    quiet: bool,
) -> Result<Option<Trained>> {
    config.views.validate()?;
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let dir = RunDir(out.to_path_buf());
    let (config, start, mut wall_s) = if resume && dir.state().is_file() {
        let config: TrainConfig = serde_json::from_slice(&fs::read(dir.config())?)
            .context("the run's config.json is not valid")?;
        let state: CheckpointState = serde_json::from_slice(&fs::read(dir.state())?)
            .context("the run's checkpoint.json is not valid")?;
        (config, state.step, state.wall_s)
    } else {
        fs::write(dir.config(), serde_json::to_vec_pretty(&config)?)?;
        if dir.log().exists() {
            fs::remove_file(dir.log())?;
        }
        (config, 0, 0.0)
    };
    let ad = device.clone().autodiff();
    ad.seed(config.seed);
    let mut net = config.architecture.init(&ad);
    let mut optim = AdamWConfig::new()
        .with_weight_decay(config.weight_decay)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(config.clip)))
        .init();
    if let (0, Some(init)) = (start, &config.init) {
        let file = if init.is_dir() {
            init.join("weights.bpk")
        } else {
            init.clone()
        };
        let record =
            ModuleRecord::load(&file).with_context(|| format!("cannot read {}", file.display()))?;
        net = net
            .try_load_record(record)
            .with_context(|| format!("{} does not fit the network", file.display()))?;
    }
    if start > 0 {
        let record = ModuleRecord::load(dir.model()).context("cannot read the checkpoint")?;
        net = net
            .try_load_record(record)
            .context("the checkpoint does not fit the network")?;
        optim = optim
            .load(dir.optimiser())
            .context("cannot read the optimiser's checkpoint")?;
    }
    let mut log = BufWriter::new(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.log())
            .with_context(|| format!("cannot write {}", dir.log().display()))?,
    );
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(config.steps as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} steps, ETA {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(start as u64);
    let mut last = Instant::now();
    for step in start..config.steps {
        let mut rng = step_rng(config.seed, step);
        let batch = views::batch(scenes, config.batch, &config.views, &mut rng);
        let (loss, stats) = step_loss(&net, &batch, &config, &ad);
        let loss_value = loss.clone().into_scalar::<f32>();
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let lr = learning_rate(&config, step);
        net = optim.step(lr, net, grads);
        let now = Instant::now();
        let step_s = now.duration_since(last).as_secs_f64();
        wall_s += step_s;
        last = now;
        bar.set_position(step as u64 + 1);
        bar.set_message(format!("loss {loss_value:.4}"));
        let logged = step % config.log_every == 0 || step + 1 == config.steps;
        if logged {
            let mut line = serde_json::json!({
                "step": step,
                "loss": loss_value,
                "lr": lr,
                "step_s": step_s,
                "wall_s": wall_s,
            });
            match stats.vicreg {
                Some([invariance, variance, covariance]) => {
                    line["vicreg"] = serde_json::json!({
                        "invariance": invariance,
                        "variance": variance,
                        "covariance": covariance,
                    });
                }
                None => {
                    line["head_entropy"] = stats.entropy.into();
                    line["head_live_clusters"] = stats.live.into();
                }
            }
            let valid = net.valid();
            line["equivariance_error"] = equivariance_error(&valid, &batch, device).into();
            line["clusters_by_scene"] = histograms(&valid, scenes, device, &config);
            writeln!(log, "{line}")?;
            log.flush()?;
        }
        let stop = stop_after.is_some_and(|n| step + 1 - start >= n);
        if (step + 1) % config.checkpoint_every == 0 || step + 1 == config.steps || stop {
            net.clone()
                .into_record()
                .save(dir.model())
                .context("cannot write the checkpoint")?;
            optim
                .save(dir.optimiser())
                .context("cannot write the optimiser's checkpoint")?;
            fs::write(
                dir.state(),
                serde_json::to_vec(&CheckpointState {
                    step: step + 1,
                    wall_s,
                })?,
            )?;
        }
        if stop && step + 1 < config.steps {
            bar.finish_and_clear();
            return Ok(None);
        }
    }
    bar.finish_and_clear();
    let net = net.valid();
    net.clone().into_record().save(dir.last())?;
    Ok(Some(Trained {
        steps: config.steps,
        wall_s,
        scenes: scenes.iter().map(|s| s.name.clone()).collect(),
    }))
}

/// Per-head diagnostics of a step.
struct StepStats {
    /// Marginal entropy over ln k (1: every cluster equally used; near 0: collapse).
    entropy: Vec<f32>,
    /// Clusters holding at least 1 % of the mass.
    live: Vec<usize>,
    /// VICReg's invariance, variance and covariance terms (a variance term near 0 means no
    /// dimension collapsed).
    vicreg: Option<[f32; 3]>,
}

fn tensor4(v: &[f32], shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), device)
}

/// The loss of a batch (mean over heads) and its diagnostics.
fn step_loss(net: &Cnn, b: &Batch, c: &TrainConfig, device: &Device) -> (Tensor<1>, StepStats) {
    let (n, s, h) = (b.size, b.crop, b.crop / 2);
    let mask = Tensor::from_data(TensorData::new(b.mask.clone(), [n, SLOTS]), device);
    let x1 = tensor4(&b.first, [n, SLOTS, s, s], device);
    let x2 = b.g.apply(tensor4(&b.second, [n, SLOTS, s, s], device));
    let v1 = tensor4(&b.first_valid, [n, 1, h, h], device);
    let v2 = tensor4(&b.second_valid, [n, 1, h, h], device);
    let z1 = net.embed(x1, mask.clone());
    let z2 = net.embed(x2, mask);
    let shift = [b.shift[0] / 2, b.shift[1] / 2];
    let overlap = Overlap::new(h, shift, c.margin).unwrap_or(Overlap {
        first: [(0, h), (0, h)],
        second: [0, 0],
    });
    if c.objective == Objective::Vicreg {
        let pool = |z: Tensor<4>| {
            burn::tensor::module::avg_pool2d(
                z,
                burn::tensor::ops::AvgPoolOptions {
                    kernel_size: [2, 2],
                    stride: [2, 2],
                    padding: [(0, 0), (0, 0)],
                    count_include_pad: true,
                    ceil_mode: false,
                },
            )
        };
        let a = overlap.cut_first(pool(z1));
        let bb = overlap.cut_second(b.g.undo(pool(z2)));
        let terms = crate::loss::vicreg_terms(a, bb);
        let value = |t: &Tensor<1>| t.clone().into_scalar::<f32>();
        let stats = StepStats {
            entropy: Vec::new(),
            live: Vec::new(),
            vicreg: Some([value(&terms[0]), value(&terms[1]), value(&terms[2])]),
        };
        return (crate::loss::vicreg(terms), stats);
    }
    let p1 = net.heads(z1);
    let p2 = net.heads(z2);
    let mut total: Option<Tensor<1>> = None;
    let mut stats = StepStats {
        entropy: Vec::new(),
        live: Vec::new(),
        vicreg: None,
    };
    let heads = p1.len();
    for (a, bb) in p1.into_iter().zip(p2) {
        let aligned = b.g.undo(bb);
        let (l, joint) = head_loss(a, aligned, v1.clone(), v2.clone(), &overlap, c.lambda);
        let marginal: Vec<f32> = joint
            .sum_dim(1)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        let k = marginal.len().max(2) as f32;
        let entropy: f32 = marginal
            .iter()
            .filter(|&&p| p > 0.0)
            .map(|&p| -p * p.ln())
            .sum();
        stats.entropy.push(entropy / k.ln());
        stats
            .live
            .push(marginal.iter().filter(|&&p| p >= 0.01).count());
        total = Some(match total {
            Some(t) => t + l,
            None => l,
        });
    }
    let total = total.unwrap_or_else(|| Tensor::zeros([1], device)) / heads.max(1) as f32;
    (total, stats)
}

/// ‖g⁻¹ f(g x) − f(x)‖ / ‖f(x)‖ on the embeddings of the batch's first views, for a quarter
/// turn with a flip: 0 for a network that commutes with the symmetry.
fn equivariance_error(net: &Cnn, b: &Batch, device: &Device) -> f32 {
    let (n, s) = (b.size.min(2), b.crop);
    let x = tensor4(&b.first[..n * SLOTS * s * s], [n, SLOTS, s, s], device);
    let mask = Tensor::from_data(
        TensorData::new(b.mask[..n * SLOTS].to_vec(), [n, SLOTS]),
        device,
    );
    let g = D4 {
        flip: true,
        turns: 1,
    };
    let z = net.embed(x.clone(), mask.clone());
    let zg = g.undo(net.embed(g.apply(x), mask));
    let diff = (zg - z.clone())
        .powf_scalar(2.0)
        .sum()
        .sqrt()
        .into_scalar::<f32>();
    let norm = z.powf_scalar(2.0).sum().sqrt().into_scalar::<f32>();
    diff / norm.max(1e-12)
}

/// For each scene, how its central crop's cells spread over the first head's clusters
/// (fractions): a cluster that lives in one scene only is a sensor or scene cluster.
fn histograms(net: &Cnn, scenes: &[Scene], device: &Device, c: &TrainConfig) -> serde_json::Value {
    let s = c.views.crop;
    let mut out = serde_json::Map::new();
    for scene in scenes.iter().filter(|sc| sc.width >= s && sc.height >= s) {
        let (x, y) = ((scene.width - s) / 2, (scene.height - s) / 2);
        let mut values = vec![0f32; SLOTS * s * s];
        let mut valid = vec![false; s * s];
        scene.crop(x, y, s, &mut values, &mut valid);
        let input = tensor4(&values, [1, SLOTS, s, s], device);
        let mask = Tensor::from_data(TensorData::new(scene.mask.to_vec(), [1, SLOTS]), device);
        let Some(p) = net.heads(net.embed(input, mask)).into_iter().next() else {
            continue;
        };
        let k = p.dims()[1];
        let labels = p
            .argmax(1)
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .unwrap_or_default();
        let mut hist = vec![0f32; k];
        for &l in &labels {
            if let Some(h) = hist.get_mut(l as usize) {
                *h += 1.0;
            }
        }
        let total = labels.len().max(1) as f32;
        let hist: Vec<f32> = hist
            .iter()
            .map(|h| (h / total * 1000.0).round() / 1000.0)
            .collect();
        out.insert(scene.name.clone(), hist.into());
    }
    out.into()
}
