//! `mapseg segment`: fit on a sample, label the raster on every core, write the label GeoTIFF.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use engine::geotiff::{EncodedTile, GeoTiffReader, GeoTiffWriter};
use engine::kmeans::suggest_k;
use engine::labels::default_legend;
use engine::manifest::{InputIdentity, hash_input};
use engine::pipeline::{self, Sampler, SegmentParams};
use engine::progress::{Progress, Stage};
use engine::raster::{Samples, Window};
use engine::stats::{ClassStats, to_csv};

use crate::args::{SegmentArgs, threads};
use crate::info::open;
use crate::output;
use crate::progress::Bar;

/// Seconds spent in each phase, written with `--timings`.
#[derive(Debug, Default, serde::Serialize)]
struct Timings {
    /// Sampling and k-means fit.
    fit_s: f64,
    /// Decoding, assignment, smoothing and tile compression on the workers (wall time).
    label_s: f64,
    /// Writing the compressed tiles and the directory.
    write_s: f64,
    total_s: f64,
}

type Reader = GeoTiffReader<BufReader<File>>;

/// What a worker hands back for one unit.
struct UnitResult {
    tiles: Vec<EncodedTile>,
    stats: ClassStats,
}

pub fn run(args: &SegmentArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let outputs: Vec<(&str, &Path)> = [
        ("the output", Some(args.output.as_path())),
        ("--stats", args.stats.as_deref()),
        ("--manifest", args.manifest.as_deref()),
        ("--timings", args.timings.as_deref()),
    ]
    .into_iter()
    .filter_map(|(what, path)| path.map(|p| (what, p)))
    .collect();
    output::check_distinct(&args.input, &outputs)?;
    let params = params(args)?;
    let bar = Bar::new(args.quiet);
    let input = args.input.clone();
    let hashing = std::thread::spawn(move || File::open(&input).and_then(hash_input));

    let mut reader = open(&args.input)?;
    let info = reader.info().clone();
    let fitted = fit_in_parallel(
        &args.input,
        &mut reader,
        &params,
        threads(args.threads),
        &bar,
    )
    .context("fitting failed")?;
    let mut timings = Timings {
        fit_s: start.elapsed().as_secs_f64(),
        ..Timings::default()
    };
    if args.k_curve {
        print_k_curve(&fitted, &bar)?;
    }
    let model = fitted.model;

    let (blake3, bytes) = hashing
        .join()
        .map_err(|_| anyhow::anyhow!("hashing the input panicked"))??;
    let name = args
        .input
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let manifest = model.manifest(InputIdentity {
        name,
        bytes,
        blake3,
    });
    let legend = default_legend(params.k);

    let tmp = output::temporary_beside(&args.output)?;
    let sink = BufWriter::with_capacity(1 << 20, tmp.reopen()?);
    let mut writer = GeoTiffWriter::new(sink, model.writer_options(&info, &legend, &manifest))?;
    let encoder = writer.tile_encoder();
    let mut stats = ClassStats::new(params.k, info.georef.as_ref());

    let label_start = Instant::now();
    let mut write_s = 0.0;
    let work = |reader: &mut Reader, &unit: &Window| -> anyhow::Result<UnitResult> {
        let labels = model.label_window(reader, unit)?;
        let mut unit_stats = ClassStats::new(params.k, info.georef.as_ref());
        unit_stats.add_rows(unit.y, unit.width, &labels);
        Ok(UnitResult {
            tiles: encoder.encode(unit, &Samples::U8(labels))?,
            stats: unit_stats,
        })
    };
    let units = model.units();
    in_order(
        &args.input,
        &units,
        threads(args.threads),
        work,
        |done, result| {
            let t = Instant::now();
            writer.write_tiles(&result.tiles)?;
            stats.merge(&result.stats);
            write_s += t.elapsed().as_secs_f64();
            bar.report(Stage::Assigning, (done + 1) as f32 / units.len() as f32);
            Ok(())
        },
    )?;
    bar.report(Stage::Writing, 1.0);
    let t = Instant::now();
    writer
        .finish()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    tmp.persist(&args.output)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    timings.write_s = write_s + t.elapsed().as_secs_f64();
    timings.label_s = label_start.elapsed().as_secs_f64() - timings.write_s;
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
        print_summary(&args.output, &rows, timings.total_s);
    }
    Ok(())
}

fn params(args: &SegmentArgs) -> anyhow::Result<SegmentParams> {
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
    Ok(SegmentParams {
        k: args.k,
        resolution: args.resolution,
        bands,
        presmooth: args.presmooth,
        smooth: args.smooth,
        mmu: args.mmu,
        seed: args.seed,
        ..SegmentParams::default()
    })
}

/// [`pipeline::fit`], with the sample windows decoded on `threads` workers.
fn fit_in_parallel(
    input: &Path,
    reader: &mut Reader,
    params: &SegmentParams,
    threads: usize,
    bar: &Bar,
) -> anyhow::Result<pipeline::Fitted> {
    let sampler = Sampler::new(reader, params, bar)?;
    let indices: Vec<usize> = (0..sampler.len()).collect();
    let mut windows = Vec::with_capacity(sampler.len());
    in_order(
        input,
        &indices,
        threads,
        |r, &i| Ok(sampler.read(r, i)?),
        |done, features| {
            windows.push(features);
            bar.report(Stage::Sampling, (done + 1) as f32 / indices.len() as f32);
            Ok(())
        },
    )?;
    Ok(sampler.fit(windows, bar)?)
}

/// Runs `work` on every item on `threads` workers, each with its own reader of `input`, and
/// hands the results to `sink` on the calling thread in item order (with the item's index).
/// Workers stay at most a few items ahead of `sink`, so memory stays bounded. Stops at the
/// first error.
fn in_order<I: Sync, T: Send>(
    input: &Path,
    items: &[I],
    threads: usize,
    work: impl Fn(&mut Reader, &I) -> anyhow::Result<T> + Sync,
    mut sink: impl FnMut(usize, T) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let ahead = 4 * threads;
    let next = AtomicUsize::new(0);
    let delivered = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(usize, anyhow::Result<T>)>(ahead);
        for _ in 0..threads {
            let (tx, next, delivered, work) = (tx.clone(), &next, &delivered, &work);
            scope.spawn(move || {
                let mut reader = match open(input) {
                    Ok(r) => r,
                    Err(e) => return drop(tx.send((0, Err(e)))),
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    while i >= delivered.load(Ordering::Acquire) + ahead {
                        std::thread::park_timeout(Duration::from_millis(1));
                    }
                    if tx.send((i, work(&mut reader, item))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut done = 0;
        let result = rx.iter().try_for_each(|(i, r)| {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&done) {
                sink(done, r?)?;
                done += 1;
                delivered.store(done, Ordering::Release);
            }
            Ok(())
        });
        if result.is_err() {
            next.store(items.len(), Ordering::Relaxed);
            delivered.store(usize::MAX / 2, Ordering::Release);
        }
        result
    })
}

fn print_k_curve(fitted: &pipeline::Fitted, bar: &Bar) -> anyhow::Result<()> {
    let curve = pipeline::k_curve(fitted, bar)?;
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

fn print_summary(output: &Path, rows: &[engine::stats::ClassRow], seconds: f64) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "wrote {} in {seconds:.2} s", output.display());
    let _ = writeln!(
        out,
        "{:>5}  {:<12}  {:>12}  {:>12}  {:>7}",
        "class", "name", "pixels", "hectares", "%"
    );
    for r in rows {
        let ha = r.area_ha.map_or_else(|| "-".into(), |a| format!("{a:.4}"));
        let _ = writeln!(
            out,
            "{:>5}  {:<12}  {:>12}  {:>12}  {:>6.2}%",
            r.class, r.name, r.pixels, ha, r.percent
        );
    }
}
