//! One segmentation run in the worker: prepare the method (K-Means: fit it on the sample, its
//! windows read by the pool's helpers, then the k curve; the CNN: fetch its model once, fit on
//! its embeddings), then label the raster unit by unit into three sinks: class statistics, the
//! label preview and the compressed output tiles (kept, so the GeoTIFF can be written again
//! with an edited legend). K-Means on the CPU labels on the pool, each helper a run of
//! neighbouring units, the answers merged as they come (exact counts, tiles put back in raster
//! order); on a GPU, or without a pool, the worker labels through the engine's unit driver
//! itself. The input's hash for the manifest streams in on the worker while the units are
//! labelled, or after the map when the helpers label on every core ([`crate::hashing`]). The
//! result goes to the page first; the suggested class names, a k curve still being drawn and a
//! manifest still waiting for the hash follow ([`details`]). The heavy work runs on the backend
//! the page chose ([`crate::backend`]); a GPU that fails mid-run hands over to the CPU.

use std::cell::Cell;

use std::sync::Arc;

use engine::cnn::{self, Artifact, CnnParams, CnnRuntime};
use engine::features::Features;
use engine::geotiff::{GeoTiffReader, RasterInfo};
use engine::kmeans::model::{KMeansParams, Sampler};
use engine::kmeans::{model, suggest_k};
use engine::labels::{LegendEntry, default_legend};
use engine::manifest::{InputIdentity, RunManifest};
use engine::naming::{self, Suggestion};
use engine::pipeline::{
    self, Accelerator, CPU_BACKEND, EncodedTiles, MethodModel, MethodParams, Runtime, SegmentError,
    SegmentParams, Segmenter, label_encoder, writer_options,
};
use engine::polygons::{self, PolygonError, PolygonFormat, PolygonLimits};
use engine::preview::LabelPreview;
use engine::progress::{NoProgress, Progress, Stage};
use engine::raster::Window;
use engine::relabel::{self, Merge, RelabelError, Relabelling};
use engine::stats::ClassStats;

use crate::backend::{Backend, CPU, Webgpu};
use crate::blob_reader::BlobReader;
use crate::kept_tiles::KeptTiles;
use crate::pool::messages::{Job, Reply};
use crate::pool::{Outgoing, Pool, PoolError, Side};
use crate::unit_bytes::UnitBytes;
use crate::worker::{Session, post};
use web::packed::Packed;
use web::protocol::{FromWorker, PREVIEW_MAX_SIDE, RunResult};

/// Least time between two progress messages of one stage, in milliseconds (four a second: each
/// one has the page lay out and paint, on the cores the run needs; a new stage goes at once).
const PROGRESS_INTERVAL_MS: f64 = 250.0;

/// Bounds on polygons in the browser: 4 million boundary vertices, about 400 MB at the peak
/// (a real 4096 × 4096 label raster has about 1.1 million).
const BROWSER_POLYGON_LIMITS: PolygonLimits = PolygonLimits {
    max_vertices: 4_000_000,
};

/// Why a run in the worker failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Segment(#[from] SegmentError),
    /// A method the engine knows but the web app does not run.
    #[error("the method `{0}` is not available in the web app")]
    Unsupported(&'static str),
    /// The CNN's model could not be fetched or does not load.
    #[error("{0}")]
    Model(String),
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// The file could not be read for its hash.
    #[error("cannot read the file to hash it: {0}")]
    Hash(String),
}

/// A finished run: what the page gets first, what the worker keeps, and what follows the result
/// ([`details`]).
#[derive(Debug)]
pub struct Finished {
    pub result: RunResult,
    pub last: LastRun,
    pub later: Later,
}

/// What a run's result leaves for [`details`]: the suggested class names, read from the raster
/// under the label preview, and the k curve if it is still being drawn on the pool.
#[derive(Debug)]
pub struct Later {
    preview: LabelPreview,
    classes: usize,
    curve_on_pool: bool,
    /// Whether the manifest still waits for the input's hash.
    hash_pending: bool,
}

/// What the worker keeps of the last run to write its GeoTIFF again.
#[derive(Debug)]
pub struct LastRun {
    info: RasterInfo,
    manifest: RunManifest,
    /// The run's classes (before any merge).
    classes: usize,
    tiles: KeptTiles,
}

/// Why a result could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Segment(#[from] SegmentError),
    #[error(transparent)]
    Relabel(#[from] RelabelError),
    #[error(transparent)]
    Polygons(#[from] PolygonError),
    #[error("the legend has {legend} classes but the merges leave {classes}")]
    Legend { legend: usize, classes: usize },
    #[error("{0}")]
    Tiles(String),
}

/// Polygons written by [`LastRun::polygons`].
#[derive(Debug)]
pub struct PolygonFile {
    pub bytes: Vec<u8>,
    pub regions: usize,
    pub vertices: usize,
}

impl LastRun {
    /// The label GeoTIFF after `merges` (applied to the kept tiles, recorded in the manifest),
    /// with `legend` (the legend after them) as colour table and class names.
    pub fn export(&self, legend: &[LegendEntry], merges: &[Merge]) -> Result<Vec<u8>, ExportError> {
        let kept = self.tiles.load().map_err(ExportError::Tiles)?;
        if merges.is_empty() {
            return Ok(pipeline::write_geotiff(
                writer_options(&self.info, legend, &self.manifest),
                &kept,
            )?);
        }
        let relabelling = self.relabelling(legend, merges)?;
        let mut manifest = self.manifest.clone();
        manifest.merges.extend(relabelling.records);
        let tiles = kept
            .iter()
            .map(|t| relabelling.map.apply_tile(t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(pipeline::write_geotiff(
            writer_options(&self.info, legend, &manifest),
            &tiles,
        )?)
    }

    /// The class polygons after `merges`, simplified with a tolerance of `simplify_m` metres,
    /// in `format`, named and coloured after `legend` (the legend after the merges).
    pub fn polygons(
        &self,
        legend: &[LegendEntry],
        merges: &[Merge],
        format: PolygonFormat,
        simplify_m: f64,
    ) -> Result<PolygonFile, ExportError> {
        let relabelling = self.relabelling(legend, merges)?;
        let kept = self.tiles.load().map_err(ExportError::Tiles)?;
        let topology = polygons::trace_tiles(
            &kept,
            self.info.width,
            self.info.height,
            self.info.georef.as_ref(),
            &relabelling.map,
            BROWSER_POLYGON_LIMITS,
            &NoProgress,
        )?;
        let simplified = topology.simplify(simplify_m, &NoProgress)?;
        let bytes = match format {
            PolygonFormat::FlatGeobuf => {
                polygons::write_flatgeobuf(&simplified, legend, Vec::new(), &NoProgress)?
            }
            PolygonFormat::GeoJson => {
                polygons::write_geojson(&simplified, legend, Vec::new(), &NoProgress)?
            }
        };
        Ok(PolygonFile {
            bytes,
            regions: topology.regions(),
            vertices: simplified.vertices(),
        })
    }

    /// `merges` resolved against the run's classes, checked against `legend` (the legend the
    /// page shows after them).
    fn relabelling(
        &self,
        legend: &[LegendEntry],
        merges: &[Merge],
    ) -> Result<Relabelling, ExportError> {
        let relabelling = relabel::plan(&default_legend(self.classes), merges)?;
        if relabelling.legend.len() != legend.len() {
            return Err(ExportError::Legend {
                legend: legend.len(),
                classes: relabelling.legend.len(),
            });
        }
        Ok(relabelling)
    }
}

/// Progress posted to the page, at most every [`PROGRESS_INTERVAL_MS`] per stage.
#[derive(Debug)]
struct Throttled {
    last_ms: Cell<f64>,
    last_stage: Cell<Option<Stage>>,
}

impl Throttled {
    fn new() -> Self {
        Self {
            last_ms: Cell::new(f64::NEG_INFINITY),
            last_stage: Cell::new(None),
        }
    }
}

impl Progress for Throttled {
    fn report(&self, stage: Stage, fraction: f32) {
        let now = js_sys::Date::now();
        let new_stage = self.last_stage.get() != Some(stage);
        if new_stage || now - self.last_ms.get() >= PROGRESS_INTERVAL_MS {
            self.last_ms.set(now);
            self.last_stage.set(Some(stage));
            post(&FromWorker::Progress {
                stage,
                fraction: fraction.clamp(0.0, 1.0),
            });
        }
    }

    fn is_cancelled(&self) -> bool {
        false
    }
}

/// What a run may use beyond the open raster: where it works (the GPU is dropped for good once
/// it fails) and the CNN's model, fetched on the first CNN run.
#[derive(Debug, Default)]
pub struct Resources {
    pub backend: Backend,
    /// The worker's WebGPU device, once started.
    pub webgpu: Webgpu,
    pub models: Vec<Arc<Artifact>>,
}

impl Resources {
    /// The model `id`, fetched from the app's origin the first time.
    async fn model(&mut self, id: &str) -> Result<Arc<Artifact>, RunError> {
        if let Some(m) = self.models.iter().find(|m| m.meta.id == id) {
            return Ok(m.clone());
        }
        let model = crate::model::fetch(id).await.map_err(RunError::Model)?;
        self.models.push(model.clone());
        Ok(model)
    }

    /// The engine's runtime for `params` on the current backend.
    async fn runtime(&mut self, params: &SegmentParams) -> Result<Runtime, RunError> {
        let cnn = match &params.method {
            MethodParams::Cnn(p) => {
                let accelerator = self.backend.gpu.clone().unwrap_or_else(|| Accelerator {
                    name: CPU.to_owned(),
                    ..Accelerator::cpu()
                });
                Some(CnnRuntime {
                    artifact: self.model(&p.model).await?,
                    device: accelerator.device,
                    backend: accelerator.name,
                })
            }
            _ => None,
        };
        Ok(Runtime {
            cnn,
            kmeans: self.backend.gpu.clone(),
        })
    }

    /// Drops the GPU after it failed with `error`, and tells the page.
    fn lose_gpu(&mut self, error: &SegmentError) {
        let name = self.backend.name();
        self.backend = Backend::default();
        self.webgpu = Webgpu::Unavailable(format!("{name} was lost during a run ({error})"));
        web_sys::console::warn_1(&format!("{name} failed during a run: {error}").into());
        post(&FromWorker::Fallback {
            message: format!(
                "{name} failed during the run ({}); the CPU finished it",
                short_reason(error)
            ),
        });
    }
}

/// The gist of a GPU failure for the page: its innermost cause, without a backtrace.
fn short_reason(error: &SegmentError) -> String {
    let text = error.to_string();
    let text = text.split("Backtrace").next().unwrap_or_default();
    let cause = text.rsplit("Caused by:").next().unwrap_or_default().trim();
    let mut short: String = cause.chars().take(120).collect();
    if cause.chars().count() > 120 {
        short.push('…');
    }
    short
}

/// Whether `result` failed on the GPU (and may be done again on the CPU).
fn gpu_failed<T>(result: &Result<T, SegmentError>, resources: &Resources) -> bool {
    resources.backend.gpu.is_some() && matches!(result, Err(SegmentError::Backend(_)))
}

/// Segments the open raster with `params`, on `pool` where there is one. A GPU that fails
/// (device lost, allocation refused) is dropped and the run goes on on the CPU: a fit is done
/// again, labelling starts again with the fitted centres.
pub async fn run(
    session: &mut Session,
    params: &SegmentParams,
    resources: &mut Resources,
    mut pool: Option<&mut Pool>,
) -> Result<Finished, RunError> {
    let progress = Throttled::new();
    let info = session.info.clone();
    params.validate(&info)?;
    let reader = &mut session.reader;

    // The k curve's job, when it waits until the units are labelled (the helpers label them,
    // and the map comes before the curve).
    let mut curve_job = None;
    let (segmenter, k_curve) = match &params.method {
        MethodParams::Kmeans(kmeans) => {
            let prepared = session
                .prepared
                .take()
                .and_then(|p| p.fitted_for(kmeans, params.seed));
            let fitted = match (prepared, pool.as_deref_mut()) {
                (Some(fitted), _) => fitted,
                (None, Some(pool)) => {
                    fit_on_pool(pool, &info, kmeans, params.seed, &progress).await?
                }
                (None, None) => model::fit(reader, kmeans, params.seed, &progress)?,
            };
            // Kept, so a run that changes only the post-processing does not fit again.
            session.prepared = Some(Prepared {
                params: kmeans.clone(),
                seed: params.seed,
                fitted: fitted.clone(),
            });
            // On the pool, a helper draws the k curve after the units, while the result is
            // shown (all of them label first); while a GPU labels, at once.
            let curve = match pool.as_deref_mut() {
                Some(pool) => {
                    let job = Job::KCurve {
                        sample: Packed(fitted.sample),
                        dims: fitted.model.spec.dims(),
                        seed: fitted.model.seed,
                    };
                    if resources.backend.gpu.is_some() {
                        pool.start_side(Side::KCurve, &job)?;
                    } else {
                        curve_job = Some(job);
                    }
                    None
                }
                None => Some(model::k_curve(&fitted, &progress)?),
            };
            let segmenter = Segmenter::kmeans(fitted.model, params.post)
                .assigning_on(resources.backend.gpu.clone());
            (segmenter, curve)
        }
        MethodParams::Cnn(cnn) => {
            let mut fitted = fit_cnn(reader, params, cnn, resources, &progress).await;
            if resources.backend.gpu.is_some()
                && let Err(RunError::Segment(e @ SegmentError::Backend(_))) = &fitted
            {
                resources.lose_gpu(e);
                fitted = fit_cnn(reader, params, cnn, resources, &progress).await;
            }
            let fitted = fitted?;
            let curve = fitted.k_curve(&progress)?;
            (Segmenter::cnn(fitted.model, params.post), Some(curve))
        }
        other => return Err(RunError::Unsupported(other.name())),
    };

    let pooled = match (&segmenter.model, pool.as_deref_mut()) {
        (MethodModel::Kmeans(model), Some(pool)) if resources.backend.gpu.is_none() => {
            Some((model.clone(), pool))
        }
        _ => None,
    };
    // When a core is free for the worker while the helpers label, it hashes the file and
    // reads the helpers' bytes for them meanwhile. When they label on every core, the hash
    // waits until the map is shown (the manifest follows with the details) and each helper
    // reads its own bytes: the worker's thread would only take time from them.
    let hash_later = pooled
        .as_ref()
        .is_some_and(|(_, pool)| pool.len() >= crate::pool::cores());
    if !hash_later {
        session.hash.start();
    }
    let (segmenter, (stats, labels_preview, tiles)) = match pooled {
        Some((model, pool)) => {
            let bytes = (!hash_later).then(|| UnitBytes::new(session.blob.clone(), pool.len()));
            let sinks = label_on_pool(pool, model, params, (reader, bytes), &progress).await?;
            (segmenter, sinks)
        }
        None => {
            let labelled = label(reader, &segmenter, &info, &progress).await;
            if gpu_failed(&labelled, resources)
                && let Err(e) = &labelled
            {
                resources.lose_gpu(e);
                let cpu = segmenter.on_cpu();
                let sinks = label(reader, &cpu, &info, &progress).await?;
                (cpu, sinks)
            } else {
                (segmenter, labelled?)
            }
        }
    };

    if let (Some(job), Some(pool)) = (curve_job, pool.as_deref_mut()) {
        pool.start_side(Side::KCurve, &job)?;
    }
    let identity = if hash_later {
        // Its hash comes with the details.
        InputIdentity {
            name: session.name.clone(),
            bytes: session.blob.size() as u64,
            blake3: String::new(),
        }
    } else {
        progress.report(Stage::Hashing, 0.0);
        let identity = input_identity(session).await?;
        progress.report(Stage::Hashing, 1.0);
        identity
    };
    // The curve drawn on the pool, if it is ready; otherwise it follows the result.
    let mut curve_on_pool = false;
    let k_curve = match (k_curve, pool) {
        (None, Some(pool)) if matches!(params.method, MethodParams::Kmeans(_)) => {
            if pool.side_ready(Side::KCurve) {
                Some(pool_curve(pool).await?)
            } else {
                curve_on_pool = true;
                None
            }
        }
        (curve, _) => curve,
    };
    let suggested_k = k_curve.as_deref().and_then(suggest_k);
    let backend = match segmenter.backend().as_str() {
        CPU_BACKEND => CPU.to_owned(),
        name => name.to_owned(),
    };
    let manifest = segmenter.manifest(identity, &backend);
    let legend = segmenter.legend();

    let later = Later {
        preview: labels_preview.clone(),
        classes: legend.len(),
        curve_on_pool,
        hash_pending: hash_later,
    };
    let (label_width, label_height, labels) = labels_preview.finish();
    let result = RunResult {
        label_width,
        label_height,
        labels,
        rows: stats.rows(&legend),
        legend,
        manifest: manifest.to_json(),
        k_curve,
        suggested_k,
        suggestions: Vec::new(),
        details_pending: true,
    };
    let last = LastRun {
        info,
        classes: result.legend.len(),
        manifest,
        tiles,
    };
    Ok(Finished {
        result,
        last,
        later,
    })
}

/// What follows the result of the run on `session` with `params`: its manifest, if the
/// input's hash waited until the map was shown (`last` gets it too, for the GeoTIFF), its
/// suggested class names and, if it was still being drawn on `pool`, its k curve. A failure
/// only costs these: it is logged (a hash that fails is reported), and the result stands.
pub async fn details(
    later: Later,
    session: &mut Session,
    last: &mut LastRun,
    params: &SegmentParams,
    pool: Option<&mut Pool>,
) -> FromWorker {
    // The hash first: it has the worker to itself while a helper draws the curve.
    let manifest = if later.hash_pending {
        match input_identity(session).await {
            Ok(identity) => {
                last.manifest.input = identity;
                Some(last.manifest.to_json())
            }
            Err(e) => {
                post(&FromWorker::Error {
                    message: e.to_string(),
                });
                None
            }
        }
    } else {
        None
    };
    let suggestions = suggest_names(
        &mut session.reader,
        &later.preview,
        later.classes,
        params,
        &NoProgress,
    );
    let k_curve = match pool {
        Some(pool) if later.curve_on_pool => match pool_curve(pool).await {
            Ok(curve) => Some(curve),
            Err(e) => {
                web_sys::console::warn_1(&format!("no k curve: {e}").into());
                Some(Vec::new())
            }
        },
        _ => None,
    };
    FromWorker::Details {
        suggested_k: k_curve.as_deref().and_then(suggest_k),
        k_curve,
        suggestions,
        manifest,
    }
}

/// The opened file's identity for the manifest, its hash waited for (and started if need be).
async fn input_identity(session: &mut Session) -> Result<InputIdentity, RunError> {
    let (blake3, bytes) = session.hash.result().await.map_err(RunError::Hash)?;
    Ok(InputIdentity {
        name: session.name.clone(),
        bytes,
        blake3,
    })
}

/// The k curve drawn by the pool's side job, waiting for it if need be.
async fn pool_curve(pool: &mut Pool) -> Result<Vec<engine::kmeans::KChoice>, RunError> {
    match pool.side(Side::KCurve).await? {
        Reply::KCurve { curve } => Ok(curve),
        other => Err(unexpected(&other)),
    }
}

/// [`model::fit`] with the sample windows read by the pool's helpers, in window order.
async fn fit_on_pool(
    pool: &mut Pool,
    info: &RasterInfo,
    params: &KMeansParams,
    seed: u64,
    progress: &impl Progress,
) -> Result<model::Fitted, RunError> {
    PoolSample::new(pool, info, params, seed)?
        .fit(pool, progress)
        .await
}

/// A K-Means fit begun when the raster was opened, before any run: one helper reads the whole
/// sample and fits it ([`Job::Fit`]) while the worker reads the display image, and the fit is
/// taken back ([`Ahead::finish`]) while the user looks at the file panel. It is the fit a run
/// makes of the same sample read by the whole pool ([`PoolSample`]).
pub struct Ahead {
    params: KMeansParams,
    seed: u64,
}

/// A K-Means fit done ahead, or by the last run, for a run whose parameters match.
#[derive(Debug)]
pub struct Prepared {
    params: KMeansParams,
    seed: u64,
    fitted: model::Fitted,
}

impl Ahead {
    /// Starts fitting `params` (K-Means; nothing for another method) on a helper of `pool`.
    /// Parameters the raster refuses start nothing (the run reports them).
    pub fn start(pool: &mut Pool, info: &RasterInfo, params: &SegmentParams) -> Option<Ahead> {
        let MethodParams::Kmeans(kmeans) = &params.method else {
            return None;
        };
        let sampler = Sampler::new(info, kmeans, params.seed).ok()?;
        let job = Job::Fit {
            sampler: Box::new(sampler),
        };
        if let Err(e) = pool.start_side(Side::Fit, &job) {
            web_sys::console::warn_1(&format!("no fit ahead: {e}").into());
            return None;
        }
        Some(Ahead {
            params: kmeans.clone(),
            seed: params.seed,
        })
    }

    /// Takes the helper's fit back.
    pub async fn finish(self, pool: &mut Pool) -> Result<Prepared, RunError> {
        let fitted = match pool.side(Side::Fit).await? {
            Reply::Fitted { model, sample } => model::Fitted {
                model: *model,
                sample: sample.0,
            },
            other => return Err(unexpected(&other)),
        };
        Ok(Prepared {
            params: self.params,
            seed: self.seed,
            fitted,
        })
    }
}

impl Prepared {
    /// The fit, if it was done with `params` and `seed`.
    fn fitted_for(self, params: &KMeansParams, seed: u64) -> Option<model::Fitted> {
        (self.params == *params && self.seed == seed).then_some(self.fitted)
    }
}

/// Jobs of sample windows per helper: a few, so the helpers stay busy to the end.
const WINDOW_JOBS_PER_HELPER: usize = 4;

/// K-Means' sample read on the pool's helpers, in runs of windows: the band values of its
/// windows first when the normalisation is fitted on them, then their features. Both passes
/// send the same runs, each run to the helper that read it first, which keeps the pixels it
/// decoded: a window is decoded once.
struct PoolSample {
    sampler: Sampler,
    /// `(first, count)` windows of each job.
    runs: Vec<(usize, usize)>,
    /// The helper that did each run of the first pass.
    on: Option<Vec<usize>>,
}

impl PoolSample {
    /// Plans the sample and sends the plan to every helper.
    fn new(
        pool: &mut Pool,
        info: &RasterInfo,
        params: &KMeansParams,
        seed: u64,
    ) -> Result<Self, RunError> {
        let sampler = Sampler::new(info, params, seed)?;
        let n = sampler.len();
        let jobs = (n.min(pool.len() * WINDOW_JOBS_PER_HELPER)).max(1);
        let runs = (0..jobs)
            .map(|j| (j * n / jobs, (j + 1) * n / jobs - j * n / jobs))
            .filter(|&(_, count)| count > 0)
            .collect();
        pool.broadcast(&Job::Sampler {
            sampler: Box::new(sampler.clone()),
        })?;
        Ok(Self {
            sampler,
            runs,
            on: None,
        })
    }

    /// The jobs of the next pass: band values while the normaliser waits for them, else
    /// features.
    fn jobs(&self) -> Vec<Job> {
        let values = self.sampler.needs_normaliser();
        self.runs
            .iter()
            .map(|&(first, count)| {
                if values {
                    Job::BandValues { first, count }
                } else {
                    Job::Features { first, count }
                }
            })
            .collect()
    }

    /// Reads the sample and fits the centres.
    async fn fit(
        mut self,
        pool: &mut Pool,
        progress: &impl Progress,
    ) -> Result<model::Fitted, RunError> {
        if self.sampler.needs_normaliser() {
            let values = self
                .pass(pool, Stage::BandStatistics, progress, |reply| match reply {
                    Reply::BandValues { values } => Ok(values
                        .into_iter()
                        .map(|bands| bands.into_iter().map(|b| b.0).collect())
                        .collect()),
                    other => Err(unexpected(&other)),
                })
                .await?;
            self.sampler.set_normaliser(values)?;
            pool.broadcast(&Job::Sampler {
                sampler: Box::new(self.sampler.clone()),
            })?;
        }
        let windows = self
            .pass(pool, Stage::Sampling, progress, |reply| match reply {
                Reply::Features { features } => {
                    Ok(features.into_iter().map(Features::from).collect())
                }
                other => Err(unexpected(&other)),
            })
            .await?;
        Ok(self.sampler.fit(windows, progress)?)
    }

    /// The answers of the next pass, one per window in window order (each answer `unpack`ed
    /// into one value per window), reporting `stage`.
    async fn pass<T>(
        &mut self,
        pool: &mut Pool,
        stage: Stage,
        progress: &impl Progress,
        unpack: impl Fn(Reply) -> Result<Vec<T>, RunError>,
    ) -> Result<Vec<T>, RunError> {
        let n = self.sampler.len();
        let mut values = Vec::with_capacity(n);
        progress.report(stage, 0.0);
        let take = |_, reply, _| -> Result<(), RunError> {
            values.extend(unpack(reply)?);
            progress.report(stage, values.len() as f32 / n as f32);
            Ok(())
        };
        let jobs = self.jobs();
        let done_by = match &self.on {
            Some(on) => pool.map_on(jobs, on, take).await?,
            None => pool.map(jobs, take).await?,
        };
        self.on.get_or_insert(done_by);
        if values.len() != n {
            return Err(PoolError::Message(format!(
                "{} sample windows came back for {n}",
                values.len()
            ))
            .into());
        }
        Ok(values)
    }
}

fn unexpected(reply: &Reply) -> RunError {
    PoolError::Message(format!(
        "unexpected answer from a parallel worker: {reply:?}"
    ))
    .into()
}

/// Rows of output tiles in a band of units that a helper labels column by column: its reader's
/// chunk cache ([`crate::pool::helper::CHUNK_CACHE_BYTES`]) still holds the left neighbours'
/// chunks when it reaches the next column (8 tile rows of 512-px RGB chunks are about 4 MiB a
/// column, beside the 6 MiB a unit decodes).
const BAND_TILE_ROWS: u32 = 8;

/// Tile rows in a unit of the pool: a job's fixed costs (a read of the file, which waits for the
/// browser's file service, and two messages) then come once per two rows of tiles. Any tiling
/// gives the same labels.
const POOL_UNIT_TILE_ROWS: u32 = 2;

/// The units in the order the pool labels them: bands of [`BAND_TILE_ROWS`] tile rows, each
/// column by column (top to bottom), so that the units of a helper's run are neighbours and
/// each decoded chunk serves every unit that reads it; each unit [`POOL_UNIT_TILE_ROWS`] of the
/// engine's units one below the other (fewer at a band's foot).
fn pool_order(mut units: Vec<Window>) -> Vec<Window> {
    let tile = engine::geotiff::TILE_SIZE;
    let band = BAND_TILE_ROWS * tile;
    units.sort_by_key(|u| (u.y / band, u.x, u.y));
    let mut merged: Vec<Window> = Vec::with_capacity(units.len());
    for unit in units {
        match merged.last_mut() {
            Some(last)
                if last.x == unit.x
                    && last.width == unit.width
                    && last.bottom() == unit.y
                    && last.y / band == unit.y / band
                    && last.height < POOL_UNIT_TILE_ROWS * tile =>
            {
                last.height += unit.height;
            }
            _ => merged.push(unit),
        }
    }
    merged
}

/// Labels every unit with K-Means' `model` on the pool's helpers, merging their statistics,
/// tiles and labels as they come: counts and areas are exact integer sums, the label preview
/// keeps each unit's samples in place and the tiles are put back in raster order, so the
/// bytes do not depend on the number of helpers or on the order the units finish.
async fn label_on_pool(
    pool: &mut Pool,
    model: engine::kmeans::model::KMeansModel,
    params: &SegmentParams,
    (reader, mut bytes): (&GeoTiffReader<BlobReader>, Option<UnitBytes>),
    progress: &Throttled,
) -> Result<(ClassStats, LabelPreview, KeptTiles), RunError> {
    let info = reader.info();
    let classes = model.params.k;
    let segmenter = Segmenter::kmeans(model.clone(), params.post);
    let units = pool_order(segmenter.units());
    pool.broadcast(&Job::Labeller {
        model: Box::new(model),
        post: params.post,
    })?;
    let mut stats = ClassStats::new(classes, info.georef.as_ref());
    let mut preview = LabelPreview::new(info.width, info.height, PREVIEW_MAX_SIDE);
    let mut tiles = KeptTiles::blobs();
    let total = units.len();
    progress.report(Stage::Assigning, 0.0);
    // Each job goes with the bytes its helper lacks, when the worker reads them.
    let make = |i: usize, helper: usize| {
        let unit = units[i];
        let fetch = bytes.as_mut().map(|bytes| {
            let ranges = bytes.plan(reader, helper, segmenter.input_window(unit));
            bytes.fetch(ranges)
        });
        async move {
            let Some(fetch) = fetch else {
                return Ok::<_, RunError>(Outgoing::job(Job::Label {
                    unit,
                    staged: Vec::new(),
                }));
            };
            let fetched = fetch.await.map_err(PoolError::Message)?;
            Ok(Outgoing {
                job: Job::Label {
                    unit,
                    staged: fetched.ranges,
                },
                file: Some(fetched.bytes.into()),
                transfer: Some(fetched.buffers),
            })
        }
    };
    let mut done = 0;
    pool.spread(total, make, |i, reply, file| -> Result<(), RunError> {
        let Reply::Labelled {
            stats: unit_stats,
            tiles: places,
            labels,
        } = reply
        else {
            return Err(unexpected(&reply));
        };
        let file = file.ok_or_else(|| {
            PoolError::Message("a labelled unit came without its tiles".to_owned())
        })?;
        tiles.add(file, &places).map_err(PoolError::Message)?;
        stats.merge(&unit_stats);
        preview.add_samples(units[i], &labels.0);
        done += 1;
        progress.report(Stage::Assigning, done as f32 / total as f32);
        Ok(())
    })
    .await?;
    Ok((stats, preview, tiles))
}

/// Suggested class names from the labels of `preview` (none where the bands do not allow
/// any). A failure only costs the suggestions: it is logged, and the run's result stands.
fn suggest_names(
    reader: &mut GeoTiffReader<BlobReader>,
    preview: &LabelPreview,
    classes: usize,
    params: &SegmentParams,
    progress: &impl Progress,
) -> Vec<Option<Suggestion>> {
    let band_roles = match &params.method {
        MethodParams::Cnn(cnn) => cnn.band_roles.as_deref(),
        _ => None,
    };
    naming::suggest_for_run(reader, preview, classes, band_roles, progress).unwrap_or_else(|e| {
        web_sys::console::warn_1(&format!("no suggested class names: {e}").into());
        vec![None; classes]
    })
}

/// Fits the CNN on the current backend (its model fetched first).
async fn fit_cnn(
    reader: &mut GeoTiffReader<BlobReader>,
    params: &SegmentParams,
    cnn: &CnnParams,
    resources: &mut Resources,
    progress: &Throttled,
) -> Result<cnn::method::Fitted, RunError> {
    let runtime = resources.runtime(params).await?;
    let Some(cnn_runtime) = runtime.cnn.as_ref() else {
        return Err(SegmentError::NoModel.into());
    };
    Ok(cnn::method::fit(reader, cnn, params.seed, cnn_runtime, progress).await?)
}

/// Labels every unit with `segmenter` on this worker into the class statistics, the label
/// preview and the compressed tiles.
async fn label(
    reader: &mut GeoTiffReader<BlobReader>,
    segmenter: &Segmenter,
    info: &RasterInfo,
    progress: &Throttled,
) -> Result<(ClassStats, LabelPreview, KeptTiles), SegmentError> {
    let mut sinks = (
        ClassStats::new(segmenter.classes(), info.georef.as_ref()),
        LabelPreview::new(info.width, info.height, PREVIEW_MAX_SIDE),
        EncodedTiles::new(label_encoder(info)),
    );
    segmenter.run(reader, &mut sinks, progress).await?;
    let (stats, preview, tiles) = sinks;
    Ok((stats, preview, KeptTiles::Memory(tiles.tiles)))
}
