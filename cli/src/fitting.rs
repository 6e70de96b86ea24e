//! Fitting a method on the sample of one raster or several, the sample windows read on every
//! core: what `mapseg segment` and `mapseg fit` share, so both fit the same model.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::Context;
use engine::cnn::CnnParams;
use engine::geotiff::{GeoTiffReader, RasterInfo};
use engine::kmeans::model::{self, JointSampler, KMeansParams};
use engine::pipeline::{
    MethodParams, PostProcess, Runtime, SegmentError, SegmentParams, Segmenter,
};
use engine::progress::{Progress, Stage};

use crate::args::{Method, MethodArgs};
use crate::info::{open, reopen};
use crate::parallel::in_order;
use crate::progress::Bar;

pub type Reader = GeoTiffReader<BufReader<File>>;

/// An input raster with one reader per worker thread, opened before any work starts and kept
/// for every pass; the readers share the file's parsed structure.
pub struct Raster {
    pub path: PathBuf,
    pub info: RasterInfo,
    pub readers: Vec<Reader>,
}

impl Raster {
    /// Opens `path` with `threads` readers.
    pub fn open(path: &Path, threads: usize) -> anyhow::Result<Self> {
        let first = open(path)?;
        let info = first.info().clone();
        let mut readers = Vec::with_capacity(threads.max(1));
        for _ in 1..threads.max(1) {
            readers.push(reopen(&first, path)?);
        }
        readers.push(first);
        Ok(Self {
            path: path.to_path_buf(),
            info,
            readers,
        })
    }

    /// The file's name, as manifests record it.
    pub fn name(&self) -> String {
        file_name(&self.path)
    }
}

/// The last component of `path` (empty when it has none).
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// The CNN's network and device when the method is the CNN; nothing for K-Means.
pub fn runtime(args: &MethodArgs) -> anyhow::Result<Runtime> {
    Ok(match args.method {
        Method::Cnn => Runtime {
            cnn: Some(crate::cnn::runtime(args.model.as_deref(), args.backend)?),
            ..Runtime::default()
        },
        Method::Kmeans => Runtime::default(),
    })
}

/// Refuses options of the other method.
fn check_method_options(args: &MethodArgs) -> anyhow::Result<()> {
    use engine::normalise::Normalisation;
    let options = [
        ("--presmooth", args.presmooth, Method::Kmeans),
        (
            "--normalise",
            args.normalise != Normalisation::Auto,
            Method::Kmeans,
        ),
        ("--model", args.model.is_some(), Method::Cnn),
        ("--band-roles", args.band_roles.is_some(), Method::Cnn),
        (
            "--backend",
            args.backend != crate::args::Backend::Flex,
            Method::Cnn,
        ),
    ];
    match options.iter().find(|(_, set, m)| *set && *m != args.method) {
        Some((flag, _, m)) => anyhow::bail!(
            "{flag} applies to --method {} only, not to --method {}",
            method_name(*m),
            method_name(args.method)
        ),
        None => Ok(()),
    }
}

pub fn method_name(m: Method) -> &'static str {
    match m {
        Method::Kmeans => "kmeans",
        Method::Cnn => "cnn",
    }
}

/// The run's parameters from the command line.
pub fn params(args: &MethodArgs, runtime: &Runtime) -> anyhow::Result<SegmentParams> {
    check_method_options(args)?;
    let bands = match &args.bands {
        None => None,
        Some(list) => Some(
            list.iter()
                .map(|&b| {
                    b.checked_sub(1)
                        .context("--bands: bands are numbered from 1")
                })
                .collect::<anyhow::Result<Vec<_>>>()?,
        ),
    };
    let post = PostProcess {
        smooth: args.smooth,
        mmu: args.mmu,
    };
    let method = match args.method {
        Method::Cnn => {
            let model = runtime.cnn.as_ref().map_or_else(
                || engine::cnn::BUILTIN_MODEL.to_owned(),
                |c| c.artifact.meta.id.clone(),
            );
            MethodParams::Cnn(CnnParams {
                k: args.k,
                resolution: args.resolution,
                model,
                bands,
                band_roles: args.band_roles.clone(),
                ..CnnParams::default()
            })
        }
        Method::Kmeans => MethodParams::Kmeans(KMeansParams {
            k: args.k,
            resolution: args.resolution,
            bands,
            presmooth: args.presmooth,
            normalise: args.normalise,
            ..KMeansParams::default()
        }),
    };
    Ok(SegmentParams {
        method,
        post,
        seed: args.seed,
    })
}

/// A fitted segmenter, and for K-Means the sample it was fitted on (for the k curve).
pub struct Fit {
    pub segmenter: Segmenter,
    pub kmeans: Option<model::Fitted>,
}

/// Fits `params` on a stratified sample across `rasters` (the CNN: on one raster), reading
/// the sample windows on every reader. For one raster this is exactly the fit of
/// `engine::pipeline::segmenter`.
pub fn fit(
    rasters: &mut [Raster],
    params: &SegmentParams,
    runtime: &Runtime,
    bar: &Bar,
) -> anyhow::Result<Fit> {
    for raster in rasters.iter() {
        params
            .validate(&raster.info)
            .with_context(|| format!("cannot segment {}", raster.path.display()))?;
    }
    match &params.method {
        MethodParams::Kmeans(p) => {
            let fitted = fit_kmeans(rasters, p, params.seed, bar).context("fitting failed")?;
            let segmenter = Segmenter::kmeans(fitted.model.clone(), params.post);
            Ok(Fit {
                segmenter,
                kmeans: Some(fitted),
            })
        }
        MethodParams::Cnn(_) => {
            let [raster] = rasters else {
                anyhow::bail!(
                    "--method cnn fits on one raster ({} given): fit on a representative scene, or use --method kmeans for a sample across several",
                    rasters.len()
                );
            };
            let segmenter = pollster::block_on(engine::pipeline::segmenter(
                &mut raster.readers[0],
                params,
                runtime,
                bar,
            ))
            .context("fitting failed")?;
            Ok(Fit {
                segmenter,
                kmeans: None,
            })
        }
        _ => anyhow::bail!("method {} is not available", params.method.name()),
    }
}

/// K-Means' joint sample of `rasters`, its windows decoded on one worker per reader.
fn fit_kmeans(
    rasters: &mut [Raster],
    params: &KMeansParams,
    seed: u64,
    bar: &Bar,
) -> anyhow::Result<model::Fitted> {
    let infos: Vec<&RasterInfo> = rasters.iter().map(|r| &r.info).collect();
    let mut joint = JointSampler::new(&infos, params, seed).map_err(|e| name_raster(e, rasters))?;
    if joint.needs_normaliser() {
        let mut values = Vec::with_capacity(rasters.len());
        for (raster, sampler) in rasters.iter_mut().zip(joint.samplers()) {
            values.push(each_window(
                &mut raster.readers,
                sampler.len(),
                Stage::BandStatistics,
                bar,
                |r, i| sampler.band_values(r, i),
            )?);
        }
        joint.set_normaliser(values)?;
    }
    let mut windows = Vec::with_capacity(rasters.len());
    for (raster, sampler) in rasters.iter_mut().zip(joint.samplers()) {
        windows.push(each_window(
            &mut raster.readers,
            sampler.len(),
            Stage::Sampling,
            bar,
            |r, i| sampler.read(r, i),
        )?);
    }
    Ok(joint.fit(windows, bar)?)
}

/// The error of a joint sample, with the raster it is about named by its path.
fn name_raster(e: SegmentError, rasters: &[Raster]) -> anyhow::Error {
    match &e {
        SegmentError::OtherBands { raster, .. } => {
            let path = rasters
                .get(raster.saturating_sub(1))
                .map_or_else(String::new, |r| r.path.display().to_string());
            anyhow::Error::new(e).context(format!("cannot fit on {path} with the others"))
        }
        _ => e.into(),
    }
}

/// `read(reader, i)` for every sample window `i < n` on one worker per reader, in window
/// order, reporting `stage` and stopping at Ctrl-C.
fn each_window<T: Send>(
    readers: &mut [Reader],
    n: usize,
    stage: Stage,
    bar: &Bar,
    read: impl Fn(&mut Reader, usize) -> Result<T, SegmentError> + Sync,
) -> anyhow::Result<Vec<T>> {
    let indices: Vec<usize> = (0..n).collect();
    let mut out = Vec::with_capacity(n);
    in_order(
        &indices,
        readers,
        |r, &i| {
            bar.check()?;
            Ok(read(r, i)?)
        },
        |done, value| {
            out.push(value);
            bar.report(stage, (done + 1) as f32 / n as f32);
            Ok(())
        },
    )?;
    Ok(out)
}
