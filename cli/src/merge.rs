//! `mapseg merge`: puts the parts of `mapseg apply` back together. For one raster: a
//! cloud-optimised GeoTIFF equal to one `mapseg segment` run (the same bytes) and/or a VRT of
//! the parts, with the colour table, class names and manifest; for a list: a VRT mosaic of the
//! label files when they share a grid. In both, the summed statistics.
//!
//! It refuses parts of different models or splits, missing parts and parts off the grid,
//! naming them.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use engine::geotiff::{GeoReference, GeoTransform, RasterInfo};
use engine::labels::{LegendEntry, default_legend};
use engine::manifest::RunManifest;
use engine::pipeline::{Part, units, writer_options};
use engine::progress::{Progress, Stage};
use engine::raster::SampleType;
use engine::stats::{ClassStats, to_csv};

use crate::args::{MergeArgs, threads};
use crate::fitting::Reader;
use crate::info::{open, reopen};
use crate::output;
use crate::parallel::in_order;
use crate::part_files::{PartFile, PartOutput, PartWork, read_all};
use crate::progress::{Bar, Cancel};
use engine::geotiff::vrt::{Mosaic, Source};

/// What `-o` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cog,
    Vrt,
}

fn kind(path: &Path) -> anyhow::Result<Kind> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "tif" | "tiff" => Ok(Kind::Cog),
        "vrt" => Ok(Kind::Vrt),
        _ => bail!(
            "-o {}: write a .tif (cloud-optimised GeoTIFF) or a .vrt (VRT mosaic)",
            path.display()
        ),
    }
}

pub fn run(args: &MergeArgs, cancel: &Cancel) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut outputs: Vec<(&str, &Path)> = args.output.iter().map(|p| ("-o", p.as_path())).collect();
    outputs.extend(args.stats.as_deref().map(|p| ("--stats", p)));
    outputs.extend(args.manifest.as_deref().map(|p| ("--manifest", p)));
    output::check_distinct(&args.dir.join(PartFile::name(0)), &outputs)?;
    let kinds = args
        .output
        .iter()
        .map(|p| kind(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let parts = read_all(&args.dir)?;
    let bar = Bar::new(args.quiet, cancel.clone());
    let merged = match &parts[0].work {
        PartWork::Rows { .. } => rows(&args.dir, &parts)?,
        PartWork::Files { .. } => files(&args.dir, &parts)?,
    };
    // Every output is checked before the first is written: a refused merge writes nothing.
    let mut vrts = Vec::new();
    for (path, kind) in args.output.iter().zip(&kinds) {
        match kind {
            Kind::Cog => merged.check_cog(&args.dir, path)?,
            Kind::Vrt => vrts.push((path, merged.vrt(&args.dir, path)?.to_xml())),
        }
    }
    if args.manifest.is_some() && merged.run.is_none() {
        bail!("--manifest: the files of a list each have their own manifest, in their GeoTIFF");
    }
    for (path, kind) in args.output.iter().zip(&kinds) {
        if *kind == Kind::Cog {
            merged.write_cog(&args.dir, path, threads(args.threads), &bar)?;
        }
    }
    for (path, xml) in vrts {
        output::write(path, xml.as_bytes())?;
    }
    if let Some(path) = &args.stats {
        output::write(path, to_csv(&merged.stats.rows(&merged.legend)).as_bytes())?;
    }
    if let (Some(path), Some(run)) = (&args.manifest, &merged.run) {
        output::write(path, run.to_json().as_bytes())?;
    }
    bar.finish();
    if !args.quiet {
        println!(
            "merged {} part(s) of {} in {:.2} s",
            parts.len(),
            args.dir.display(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The parts, checked, and what the outputs are made of.
struct Merged {
    /// The label GeoTIFFs in order, with where each lies in the mosaic.
    sources: Vec<(Source, RasterInfo)>,
    width: u32,
    height: u32,
    /// The mosaic's transform (from its first pixel) and EPSG code.
    transform: GeoTransform,
    epsg: Option<u32>,
    /// One raster: its georeferencing, for the COG.
    georef: Option<GeoReference>,
    legend: Vec<LegendEntry>,
    stats: ClassStats,
    /// One raster: the run's manifest (a list's files each have their own).
    run: Option<RunManifest>,
    /// Why the label files cannot be mosaicked, when they cannot.
    off_grid: Option<String>,
    /// GDAL's name of the raster type of the first label GeoTIFF ("Area", "Point").
    area_or_point: &'static str,
}

impl Merged {
    /// The VRT of the sources, written at `path` (sources relative to its folder).
    fn vrt(&self, dir: &Path, path: &Path) -> anyhow::Result<Mosaic<'_>> {
        if let Some(reason) = &self.off_grid {
            bail!("-o {}: {reason}", path.display());
        }
        let Some(code) = self.epsg else {
            bail!(
                "-o {}: the raster has no georeferencing or its CRS has no EPSG code, which a VRT needs here; write the cloud-optimised GeoTIFF (.tif) instead",
                path.display()
            );
        };
        let from = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut sources = Vec::with_capacity(self.sources.len());
        for (source, _) in &self.sources {
            sources.push(Source {
                file: relative(&dir.join(&source.file), from)?,
                ..source.clone()
            });
        }
        let mut metadata: Vec<(String, String)> = self
            .legend
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("CLASS_{i}_NAME"), e.name.clone()))
            .collect();
        if let Some(run) = &self.run {
            metadata.push(("MAPSEG_MANIFEST".into(), run.to_json()));
        }
        metadata.push(("AREA_OR_POINT".into(), self.area_or_point.into()));
        Ok(Mosaic {
            width: self.width,
            height: self.height,
            transform: self.transform,
            srs: format!("EPSG:{code}"),
            legend: &self.legend,
            metadata,
            sources,
        })
    }

    /// One raster: the parts as one cloud-optimised GeoTIFF at `path`, written as
    /// `mapseg segment` writes it (so the same bytes).
    /// Refuses a COG of a list's files.
    fn check_cog(&self, dir: &Path, path: &Path) -> anyhow::Result<()> {
        if self.run.is_none() {
            bail!(
                "-o {}: a list's parts are whole files, already label GeoTIFFs in {}; merge writes a VRT mosaic of them (-o mosaic.vrt) and the statistics",
                path.display(),
                dir.display()
            );
        }
        Ok(())
    }

    fn write_cog(&self, dir: &Path, path: &Path, threads: usize, bar: &Bar) -> anyhow::Result<()> {
        self.check_cog(dir, path)?;
        let (Some(run), Some(first)) = (&self.run, self.sources.first()) else {
            bail!("-o {}: no parts to write", path.display());
        };
        let whole = RasterInfo {
            width: self.width,
            height: self.height,
            georef: self.georef.clone(),
            ..first.1.clone()
        };
        let mut file = output::LabelFile::create(path, writer_options(&whole, &self.legend, run))?;
        let encoder = file.writer.tile_encoder();
        let all = units(self.width, self.height);
        let mut done = 0;
        for (source, _) in &self.sources {
            // The part's tiles are decoded and compressed again on every core, and written in
            // order.
            let path_of = dir.join(&source.file);
            let first = open(&path_of)?;
            let mut readers = (1..threads)
                .map(|_| reopen(&first, &path_of))
                .collect::<anyhow::Result<Vec<_>>>()?;
            readers.push(first);
            let part = Part {
                index: 0,
                count: 1,
                window: engine::raster::Window::new(
                    source.x,
                    source.y,
                    source.width,
                    source.height,
                ),
            };
            let work = |reader: &mut Reader, &unit: &engine::raster::Window| {
                bar.check()?;
                let block = reader
                    .read_window(part.local(unit))
                    .with_context(|| format!("cannot read {}", source.file))?;
                Ok(encoder.encode(unit, &block.samples)?)
            };
            in_order(&part.units(&all), &mut readers, work, |_, tiles| {
                file.writer.write_tiles(&tiles)?;
                done += 1;
                bar.report(Stage::Writing, done as f32 / all.len() as f32);
                Ok(())
            })?;
        }
        file.finish()?.persist(path)
    }
}

/// The parts of one raster: every part holds the band of tile rows its index owns, from the
/// same run, on the same grid.
fn rows(dir: &Path, parts: &[PartFile]) -> anyhow::Result<Merged> {
    let mut sources = Vec::with_capacity(parts.len());
    let mut stats: Option<ClassStats> = None;
    let mut whole: Option<(RunManifest, Option<GeoReference>)> = None;
    for part in parts {
        let name = PartFile::name(part.index);
        let PartWork::Rows { window, output } = &part.work else {
            bail!("{name} labelled whole files of a list, the others tile rows of one raster");
        };
        let run = &output.run;
        let expected =
            Part::plan(run.width, run.height, part.index, part.count).with_context(|| {
                format!(
                    "{name}: no such part of a {}x{} raster",
                    run.width, run.height
                )
            })?;
        if *window != expected.window {
            bail!(
                "{name} holds rows {}..{}, but part {} of {} owns rows {}..{}: the parts are not of one split",
                window.y,
                window.bottom(),
                part.index,
                part.count,
                expected.window.y,
                expected.window.bottom()
            );
        }
        let info = label_info(dir, output, window.width, window.height)?;
        let georef = info.georef.clone();
        match &whole {
            None => whole = Some((run.clone(), georef)),
            Some((first_run, first_georef)) => {
                if run != first_run {
                    bail!(
                        "{name} comes from another run than {} (another input, parameters or seed)",
                        PartFile::name(0)
                    );
                }
                // Without georeferencing (as `segment` allows) there is no grid to be off.
                let expected = first_georef
                    .as_ref()
                    .map(|g| g.for_window(*window).transform);
                if georef.as_ref().map(|g| g.transform) != expected {
                    bail!(
                        "{} is off the grid of {}: its origin should be {:?}; it was not written for this raster",
                        output.file,
                        PartFile::name(0),
                        expected.map(|t| t.apply(0.0, 0.0))
                    );
                }
            }
        }
        add(&mut stats, &output.stats);
        sources.push((
            Source {
                file: output.file.clone(),
                width: window.width,
                height: window.height,
                x: 0,
                y: window.y,
            },
            info,
        ));
    }
    let (Some((run, georef)), Some(stats)) = (whole, stats) else {
        bail!("no parts");
    };
    Ok(Merged {
        area_or_point: area_or_point(georef.as_ref()),
        sources,
        width: run.width,
        height: run.height,
        transform: georef
            .as_ref()
            .map_or(GeoTransform([0.0; 6]), |g| g.transform),
        epsg: georef.as_ref().and_then(|g| g.epsg),
        georef,
        legend: default_legend(stats.counts.len()),
        stats,
        run: Some(run),
        off_grid: None,
    })
}

/// The parts of a list: each file's label GeoTIFF, placed on the first one's pixel grid (a
/// VRT needs one grid; the statistics do not).
fn files(dir: &Path, parts: &[PartFile]) -> anyhow::Result<Merged> {
    let mut labels: Vec<(String, RasterInfo)> = Vec::new();
    let mut stats: Option<ClassStats> = None;
    for part in parts {
        let PartWork::Files { outputs, .. } = &part.work else {
            bail!(
                "{} labelled tile rows of one raster, the others whole files of a list",
                PartFile::name(part.index)
            );
        };
        for output in outputs {
            let info = label_info(dir, output, output.run.width, output.run.height)?;
            if let Some(s) = &stats
                && s.counts.len() != output.stats.counts.len()
            {
                bail!(
                    "{} has another number of classes than {}",
                    output.file,
                    labels[0].0
                );
            }
            add(&mut stats, &output.stats);
            labels.push((output.file.clone(), info));
        }
    }
    let Some(stats) = stats else {
        bail!("the parts hold no files");
    };
    let reference = labels[0].1.georef.clone();
    // Each file's place on the first one's pixel grid, then the mosaic's extent.
    let mut offsets = Vec::with_capacity(labels.len());
    let mut off_grid = None;
    for (file, info) in &labels {
        let offset = reference
            .as_ref()
            .zip(info.georef.as_ref())
            .and_then(|(r, g)| grid_offset(r, g));
        match offset {
            Some(offset) => offsets.push(offset),
            None => {
                off_grid.get_or_insert_with(|| {
                    format!(
                        "{file} is not on the pixel grid of {} (another CRS or pixel size, a fractional offset, or no georeferencing), so no mosaic can hold both; the label files and the statistics are in {}",
                        labels[0].0,
                        dir.display()
                    )
                });
                offsets.push((0, 0));
            }
        }
    }
    let x0 = offsets.iter().map(|o| o.0).min().unwrap_or(0);
    let y0 = offsets.iter().map(|o| o.1).min().unwrap_or(0);
    let x1 = offsets
        .iter()
        .zip(&labels)
        .map(|(o, (_, i))| o.0 + i64::from(i.width))
        .max()
        .unwrap_or(0);
    let y1 = offsets
        .iter()
        .zip(&labels)
        .map(|(o, (_, i))| o.1 + i64::from(i.height))
        .max()
        .unwrap_or(0);
    let size = |v: i64| u32::try_from(v).ok();
    let (Some(width), Some(height)) = (size(x1 - x0), size(y1 - y0)) else {
        bail!("the mosaic of the list would be larger than 4294967295 pixels a side");
    };
    let sources = labels
        .into_iter()
        .zip(&offsets)
        .map(|((file, info), &(x, y))| {
            let source = Source {
                file,
                width: info.width,
                height: info.height,
                x: size(x - x0).unwrap_or(0),
                y: size(y - y0).unwrap_or(0),
            };
            (source, info)
        })
        .collect();
    let (transform, epsg) = reference
        .as_ref()
        .map_or((GeoTransform([0.0; 6]), None), |r| {
            (r.transform.shifted(x0 as f64, y0 as f64), r.epsg)
        });
    Ok(Merged {
        sources,
        width,
        height,
        transform,
        epsg,
        georef: None,
        legend: default_legend(stats.counts.len()),
        stats,
        area_or_point: area_or_point(reference.as_ref()),
        run: None,
        off_grid,
    })
}

/// Where `g`'s first pixel lies on `reference`'s pixel grid, in whole pixels: `None` unless
/// both are the same north-up grid (CRS, pixel size) at a whole-pixel offset.
fn grid_offset(reference: &GeoReference, g: &GeoReference) -> Option<(i64, i64)> {
    let [rx, ra, rb, ry, rd, re] = reference.transform.0;
    let [gx, ga, gb, gy, gd, ge] = g.transform.0;
    let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
    if reference.epsg.is_none()
        || reference.epsg != g.epsg
        || rb != 0.0
        || rd != 0.0
        || gb != 0.0
        || gd != 0.0
        || !same(ra, ga)
        || !same(re, ge)
    {
        return None;
    }
    let whole = |v: f64| {
        let r = v.round();
        ((v - r).abs() < 1e-6 && r.abs() < 1e15).then_some(r as i64)
    };
    Some((whole((gx - rx) / ra)?, whole((gy - ry) / re)?))
}

/// The label GeoTIFF of `output` in `dir`: present, one u8 band, the size its part file says.
fn label_info(
    dir: &Path,
    output: &PartOutput,
    width: u32,
    height: u32,
) -> anyhow::Result<RasterInfo> {
    let path = dir.join(&output.file);
    let info = open(&path)?.info().clone();
    if info.bands != 1 || info.sample_type != SampleType::U8 {
        bail!("{} is not a label GeoTIFF (one u8 band)", path.display());
    }
    if (info.width, info.height) != (width, height) {
        bail!(
            "{} is {}x{} pixels, but its part file says {width}x{height}: it was overwritten",
            path.display(),
            info.width,
            info.height
        );
    }
    Ok(info)
}

/// GDAL's `AREA_OR_POINT` of a raster with `georef`.
fn area_or_point(georef: Option<&GeoReference>) -> &'static str {
    match georef.map(|g| g.raster_type) {
        Some(engine::geotiff::RasterType::PixelIsPoint) => "Point",
        _ => "Area",
    }
}

/// Adds `part` to the running total.
fn add(total: &mut Option<ClassStats>, part: &ClassStats) {
    match total {
        Some(t) => t.merge(part),
        None => *total = Some(part.clone()),
    }
}

/// `path` relative to the folder `from` (both made absolute), with `/` separators.
fn relative(path: &Path, from: &Path) -> anyhow::Result<String> {
    let abs = |p: &Path| {
        std::path::absolute(p).with_context(|| format!("cannot resolve {}", p.display()))
    };
    let rel = pathdiff::diff_paths(abs(path)?, abs(from)?)
        .with_context(|| format!("cannot place {} relative to the VRT", path.display()))?;
    Ok(rel.to_string_lossy().replace('\\', "/"))
}
