//! `mapseg segment`: fit on a sample, label the raster on every core, write the label GeoTIFF
//! (cloud-optimised, with mode overviews).

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use engine::cnn::CnnParams;
use engine::geotiff::{CogWriter, GeoTiffReader, RasterInfo};
use engine::kmeans::model::{self, KMeansParams, Sampler};
use engine::kmeans::suggest_k;
use engine::manifest::{InputIdentity, hash_input};
use engine::naming::{self, Suggestion};
use engine::pipeline::{
    EncodedTiles, MethodParams, PostProcess, Runtime, SegmentError, SegmentParams, Segmenter,
    UnitSink, writer_options,
};
use engine::preview::LabelPreview;
use engine::progress::{Progress, Stage};
use engine::raster::Window;
use engine::stats::{ClassStats, to_csv};

use crate::args::{Method, SegmentArgs, threads};
use crate::info::{open, reopen};
use crate::output;
use crate::parallel::in_order;
use crate::polygons::{self, UnitLabels};
use crate::progress::{Bar, Cancel};

/// Seconds spent in each phase, written with `--timings`.
#[derive(Debug, Default, serde::Serialize)]
struct Timings {
    /// Band statistics, sampling and the k-means fit.
    fit_s: f64,
    /// Decoding, assignment, smoothing and tile compression on the workers (wall time).
    label_s: f64,
    /// Spilling the compressed tiles, building the overviews and writing the file.
    write_s: f64,
    /// Simplifying the class polygons and writing them (`--polygons`).
    polygons_s: f64,
    total_s: f64,
}

type Reader = GeoTiffReader<BufReader<File>>;

/// What a worker hands back for one unit: its class counts, compressed tiles and, for
/// `--polygons` and the suggested class names, its labels.
type UnitParts = (ClassStats, EncodedTiles, UnitLabels);

/// Longer side of the label preview the class names are suggested from (as the web app's).
const NAMING_PREVIEW_SIDE: u32 = 1024;

pub fn run(args: &SegmentArgs, cancel: &Cancel) -> anyhow::Result<()> {
    let start = Instant::now();
    let outputs: Vec<(&str, &Path)> = [
        ("the output", Some(args.output.as_path())),
        ("--stats", args.stats.as_deref()),
        ("--manifest", args.manifest.as_deref()),
        ("--polygons", args.polygons.as_deref()),
        ("--timings", args.timings.as_deref()),
    ]
    .into_iter()
    .filter_map(|(what, path)| path.map(|p| (what, p)))
    .collect();
    output::check_distinct(&args.input, &outputs)?;
    let runtime = match args.method {
        Method::Cnn => Runtime {
            cnn: Some(crate::cnn::runtime(args.model.as_deref(), args.backend)?),
            ..Runtime::default()
        },
        Method::Kmeans => Runtime::default(),
    };
    let params = params(args, &runtime)?;
    let bar = Bar::new(args.quiet, cancel.clone());
    let input = args.input.clone();
    let hashing = std::thread::spawn(move || File::open(&input).and_then(hash_input));

    let first = open(&args.input)?;
    let info = first.info().clone();
    params.validate(&info)?;
    let polygons = polygons::Request::new(args.polygons.as_deref(), args.simplify, &info)?;
    let mut tracer = polygons.map(|p| p.tracer(&info)).transpose()?;
    // One reader per worker, opened before any work starts and kept for every pass; they share
    // the file's parsed structure.
    let mut readers = (0..threads(args.threads))
        .map(|_| reopen(&first, &args.input))
        .collect::<anyhow::Result<Vec<Reader>>>()?;
    drop(first);
    let segmenter = match &params.method {
        MethodParams::Kmeans(p) => {
            let fitted = fit_in_parallel(&mut readers, &info, p, params.seed, &bar)
                .context("fitting failed")?;
            if args.k_curve {
                print_k_curve(&fitted, &bar)?;
            }
            Segmenter::kmeans(fitted.model, params.post)
        }
        MethodParams::Cnn(_) => pollster::block_on(engine::pipeline::segmenter(
            &mut readers[0],
            &params,
            &runtime,
            &bar,
        ))
        .context("fitting failed")?,
        _ => anyhow::bail!("method {} is not available", params.method.name()),
    };
    let mut timings = Timings {
        fit_s: start.elapsed().as_secs_f64(),
        ..Timings::default()
    };

    let (blake3, bytes) = hashing
        .join()
        .map_err(|_| anyhow::anyhow!("hashing the input panicked"))?
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let name = args
        .input
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let manifest = segmenter.manifest(
        InputIdentity {
            name,
            bytes,
            blake3,
        },
        &runtime.backend(&params),
    );
    let legend = segmenter.legend();

    // Dropped (and deleted) on every early return, Ctrl-C included: no partial file is left.
    let tmp = output::temporary_beside(&args.output)?;
    let sink = BufWriter::with_capacity(1 << 20, tmp.reopen()?);
    // The tiles wait here until the overviews are done: a COG puts them last.
    let scratch = output::scratch_beside(&args.output)?;
    let options = writer_options(&info, &legend, &manifest);
    let mut writer = CogWriter::new(sink, scratch, options)?;
    let encoder = writer.tile_encoder();
    let classes = segmenter.classes();
    let mut stats = ClassStats::new(classes, info.georef.as_ref());
    // The labels the class names are suggested from (for the summary, or --suggested-names).
    let naming = args.suggested_names || !args.quiet;
    let mut preview =
        naming.then(|| LabelPreview::new(info.width, info.height, NAMING_PREVIEW_SIDE));

    let label_start = Instant::now();
    let mut write_s = 0.0;
    // Each unit is labelled into its own sinks on a worker; the writer and the totals take them
    // in unit order.
    let work = |reader: &mut Reader, &unit: &Window| -> anyhow::Result<UnitParts> {
        bar.check()?;
        let mut parts = (
            ClassStats::new(classes, info.georef.as_ref()),
            EncodedTiles::new(encoder.clone()),
            UnitLabels {
                keep: polygons.is_some() || naming,
                labels: None,
            },
        );
        pollster::block_on(segmenter.label_into(reader, unit, &mut parts))?;
        Ok(parts)
    };
    let units = segmenter.units();
    in_order(
        &units,
        &mut readers,
        work,
        |done, (unit_stats, unit_tiles, labels)| {
            let t = Instant::now();
            writer.write_tiles(&unit_tiles.tiles)?;
            stats.merge(&unit_stats);
            write_s += t.elapsed().as_secs_f64();
            if let Some((unit, labels)) = labels.labels {
                if let Some(preview) = preview.as_mut() {
                    preview.add(unit, &labels);
                }
                if let Some(tracer) = tracer.as_mut() {
                    tracer.unit(unit, &labels)?;
                }
            }
            bar.report(Stage::Assigning, (done + 1) as f32 / units.len() as f32);
            Ok(())
        },
    )?;
    bar.check()?;
    let suggestions = match &preview {
        Some(preview) => suggest(&mut readers[0], preview, classes, args, &bar)?,
        None => vec![None; classes],
    };
    let mut legend = legend;
    if args.suggested_names {
        // The file's header is written last: the names still reach it.
        naming::take_suggestions(&mut legend, &suggestions);
        writer.describe(writer_options(&info, &legend, &manifest))?;
    }
    bar.report(Stage::Writing, 1.0);
    let t = Instant::now();
    writer
        .finish()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    timings.write_s = write_s + t.elapsed().as_secs_f64();
    let written = match (polygons, tracer) {
        (Some(request), Some(tracer)) => {
            let topology = tracer.finish().context("polygons failed")?;
            Some(request.write(&topology, &legend, &bar)?)
        }
        _ => None,
    };
    bar.check()?;
    tmp.persist(&args.output)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    if let (Some(written), Some(path)) = (written, &args.polygons) {
        timings.polygons_s = written.seconds;
        if !args.quiet {
            println!(
                "wrote {}: {} polygons, {} vertices",
                path.display(),
                written.regions,
                written.vertices
            );
        }
        written.persist(path)?;
    }
    timings.label_s = label_start.elapsed().as_secs_f64() - timings.write_s - timings.polygons_s;
    bar.finish();

    let rows = stats.rows(&legend);
    if let Some(path) = &args.stats {
        output::write(path, to_csv(&rows).as_bytes())?;
    }
    if let Some(path) = &args.manifest {
        output::write(path, manifest.to_json().as_bytes())?;
    }
    timings.total_s = start.elapsed().as_secs_f64();
    if let Some(path) = &args.timings {
        output::write(path, serde_json::to_string_pretty(&timings)?.as_bytes())?;
    }
    if !args.quiet {
        print_summary(
            &args.output,
            &rows,
            &suggestions,
            args.suggested_names,
            timings.total_s,
        );
    }
    Ok(())
}

/// Refuses options of the other method.
fn check_method_options(args: &SegmentArgs) -> anyhow::Result<()> {
    use engine::normalise::Normalisation;
    let options = [
        ("--presmooth", args.presmooth, Method::Kmeans),
        ("--k-curve", args.k_curve, Method::Kmeans),
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
    let name = |m: Method| match m {
        Method::Kmeans => "kmeans",
        Method::Cnn => "cnn",
    };
    match options.iter().find(|(_, set, m)| *set && *m != args.method) {
        Some((flag, _, m)) => anyhow::bail!(
            "{flag} applies to --method {} only, not to --method {}",
            name(*m),
            name(args.method)
        ),
        None => Ok(()),
    }
}

fn params(args: &SegmentArgs, runtime: &Runtime) -> anyhow::Result<SegmentParams> {
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
    if args.method == Method::Cnn {
        let model = runtime.cnn.as_ref().map_or_else(
            || engine::cnn::BUILTIN_MODEL.to_owned(),
            |c| c.artifact.meta.id.clone(),
        );
        return Ok(SegmentParams {
            method: MethodParams::Cnn(CnnParams {
                k: args.k,
                resolution: args.resolution,
                model,
                bands,
                band_roles: args.band_roles.clone(),
                ..CnnParams::default()
            }),
            post,
            seed: args.seed,
        });
    }
    Ok(SegmentParams {
        method: MethodParams::Kmeans(KMeansParams {
            k: args.k,
            resolution: args.resolution,
            bands,
            presmooth: args.presmooth,
            normalise: args.normalise,
            ..KMeansParams::default()
        }),
        post,
        seed: args.seed,
    })
}

/// [`model::fit`], with the sample windows decoded on one worker per reader.
fn fit_in_parallel(
    readers: &mut [Reader],
    info: &RasterInfo,
    params: &KMeansParams,
    seed: u64,
    bar: &Bar,
) -> anyhow::Result<model::Fitted> {
    let mut sampler = Sampler::new(info, params, seed)?;
    if sampler.needs_normaliser() {
        let values = each_window(
            readers,
            sampler.len(),
            Stage::BandStatistics,
            bar,
            |r, i| sampler.band_values(r, i),
        )?;
        sampler.set_normaliser(values)?;
    }
    let windows = each_window(readers, sampler.len(), Stage::Sampling, bar, |r, i| {
        sampler.read(r, i)
    })?;
    Ok(sampler.fit(windows, bar)?)
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

fn print_k_curve(fitted: &model::Fitted, bar: &Bar) -> anyhow::Result<()> {
    let curve = model::k_curve(fitted, bar)?;
    bar.finish();
    println!("{:>3}  {:>14}  {:>10}", "k", "inertia", "silhouette");
    for c in &curve {
        println!("{:>3}  {:>14.3}  {:>10.3}", c.k, c.inertia, c.silhouette);
    }
    if let Some(k) = suggest_k(&curve) {
        println!("suggested k: {k}");
    }
    Ok(())
}

/// Suggested names for the classes whose labels `preview` holds, from the input's band roles
/// (the user's `--band-roles`, else the file's).
fn suggest(
    reader: &mut Reader,
    preview: &LabelPreview,
    classes: usize,
    args: &SegmentArgs,
    bar: &Bar,
) -> anyhow::Result<Vec<Option<Suggestion>>> {
    naming::suggest_for_run(reader, preview, classes, args.band_roles.as_deref(), bar)
        .context("suggesting class names failed")
}

fn print_summary(
    output: &Path,
    rows: &[engine::stats::ClassRow],
    suggestions: &[Option<Suggestion>],
    used: bool,
    seconds: f64,
) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "wrote {} in {seconds:.2} s", output.display());
    let width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .fold(12, usize::max);
    let _ = writeln!(
        out,
        "{:>5}  {:<width$}  {:>12}  {:>12}  {:>7}  suggested (from the class's mean band values)",
        "class", "name", "pixels", "hectares", "%"
    );
    for r in rows {
        let ha = r.area_ha.map_or_else(|| "-".into(), |a| format!("{a:.4}"));
        let suggested = suggestions
            .get(usize::from(r.class))
            .and_then(Option::as_ref)
            .map_or_else(|| "-".into(), |s| format!("{} ({})", s.name, s.basis));
        let _ = writeln!(
            out,
            "{:>5}  {:<width$}  {:>12}  {:>12}  {:>6.2}%  {suggested}",
            r.class, r.name, r.pixels, ha, r.percent
        );
    }
    if suggestions.iter().any(Option::is_some) {
        let how = if used {
            "used as the class names"
        } else {
            "--suggested-names uses them as the class names"
        };
        let _ = writeln!(
            out,
            "suggested names are hints to check, not a classification ({how})"
        );
    }
}
