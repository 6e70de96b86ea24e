//! `mapseg segment`: fit on a sample, label the raster on every core, write the label GeoTIFF
//! (cloud-optimised, with mode overviews).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use engine::kmeans::model;
use engine::kmeans::suggest_k;
use engine::manifest::{InputIdentity, hash_input};
use engine::naming::{self, Suggestion};
use engine::pipeline::{UnitSink, writer_options};
use engine::preview::LabelPreview;
use engine::progress::{Progress, Stage};
use engine::stats::{ClassStats, to_csv};

use crate::args::{Method, SegmentArgs, threads};
use crate::fitting::{self, Raster, Reader};
use crate::labelling::{Placement, label_units};
use crate::output;
use crate::polygons;
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
    if args.k_curve && args.method.method != Method::Kmeans {
        anyhow::bail!(
            "--k-curve applies to --method kmeans only, not to --method {}",
            fitting::method_name(args.method.method)
        );
    }
    let runtime = fitting::runtime(&args.method)?;
    let params = fitting::params(&args.method, &runtime)?;
    let bar = Bar::new(args.quiet, cancel.clone());
    let input = args.input.clone();
    let hashing = std::thread::spawn(move || File::open(&input).and_then(hash_input));

    let mut raster = Raster::open(&args.input, threads(args.threads))?;
    let info = raster.info.clone();
    params.validate(&info)?;
    let polygons = polygons::Request::new(args.polygons.as_deref(), args.simplify, &info)?;
    let mut tracer = polygons.map(|p| p.tracer(&info)).transpose()?;
    let fit = fitting::fit(std::slice::from_mut(&mut raster), &params, &runtime, &bar)?;
    if let (true, Some(fitted)) = (args.k_curve, &fit.kmeans) {
        print_k_curve(fitted, &bar)?;
    }
    let segmenter = fit.segmenter;
    let mut readers = raster.readers;
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
    let mut file =
        output::LabelFile::create(&args.output, writer_options(&info, &legend, &manifest))?;
    let encoder = file.writer.tile_encoder();
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
    let units = segmenter.units();
    label_units(
        &mut readers,
        &segmenter,
        &units,
        info.georef.as_ref(),
        &encoder,
        Placement::Whole,
        polygons.is_some() || naming,
        &bar,
        |(unit_stats, unit_tiles, labels)| {
            let t = Instant::now();
            file.writer.write_tiles(&unit_tiles.tiles)?;
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
        file.writer
            .describe(writer_options(&info, &legend, &manifest))?;
    }
    bar.report(Stage::Writing, 1.0);
    let t = Instant::now();
    let written = file.finish()?;
    timings.write_s = write_s + t.elapsed().as_secs_f64();
    let polygons_written = match (polygons, tracer) {
        (Some(request), Some(tracer)) => {
            let topology = tracer.finish().context("polygons failed")?;
            Some(request.write(&topology, &legend, &bar)?)
        }
        _ => None,
    };
    bar.check()?;
    written.persist(&args.output)?;
    if let (Some(written), Some(path)) = (polygons_written, &args.polygons) {
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
    naming::suggest_for_run(
        reader,
        preview,
        classes,
        args.method.band_roles.as_deref(),
        bar,
    )
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
