//! `mapseg relabel`: merges classes of an existing Mapseg label GeoTIFF.
//!
//! The legend comes from the file (colour table, `CLASS_{i}_NAME` metadata), the run manifest
//! from its `MAPSEG_MANIFEST` metadata. The new raster keeps the georeferencing tags verbatim,
//! nodata, and gets the merged legend and the manifest with the merges appended. The file is
//! read and relabelled one strip of tiles at a time into a [`CogWriter`] whose tiles wait in a
//! scratch file, so memory does not grow with the raster; the output goes to a temporary file
//! renamed into place. Its statistics are printed (and written as CSV with `--stats`).

use anyhow::{Context, bail};
use engine::geotiff::{RasterInfo, TILE_SIZE};
use engine::labels::{LegendEntry, NODATA, default_colour};
use engine::manifest::RunManifest;
use engine::pipeline::writer_options;
use engine::raster::{SampleType, Samples, Window};
use engine::relabel::{Merge, plan};
use engine::stats::{ClassStats, to_csv};

use crate::args::RelabelArgs;
use crate::info::open;
use crate::output;

/// Runs `mapseg relabel`.
pub fn run(args: &RelabelArgs) -> anyhow::Result<()> {
    let mut outputs = vec![("--output", args.output.as_path())];
    if let Some(stats) = &args.stats {
        outputs.push(("--stats", stats.as_path()));
    }
    output::check_distinct(&args.input, &outputs)?;
    let mut reader = open(&args.input)?;
    let info = reader.info().clone();
    let (legend, mut manifest) = label_raster(&info).with_context(|| {
        format!(
            "{} is not a Mapseg label raster (as `mapseg segment` writes it)",
            args.input.display()
        )
    })?;
    if args.names.len() > args.merges.len() {
        bail!(
            "{} --name given for {} --merge; give at most one name per merge",
            args.names.len(),
            args.merges.len()
        );
    }
    let merges = merges(args, &legend)?;
    let relabelling = plan(&legend, &merges)?;
    manifest.merges.extend(relabelling.records.iter().cloned());

    // Dropped (and deleted) on every early return: no partial file is left.
    let options = writer_options(&info, &relabelling.legend, &manifest);
    let mut file = output::LabelFile::create(&args.output, options)?;
    let cannot_write = || format!("cannot write {}", args.output.display());
    let mut stats = ClassStats::new(relabelling.legend.len(), info.georef.as_ref());
    for y in (0..info.height).step_by(TILE_SIZE as usize) {
        let window = Window::new(0, y, info.width, TILE_SIZE.min(info.height - y));
        let block = reader
            .read_window(window)
            .with_context(|| format!("cannot read {}", args.input.display()))?;
        let Samples::U8(mut labels) = block.samples else {
            bail!("{} is not a u8 raster", args.input.display());
        };
        relabelling.map.apply(&mut labels);
        stats.add_rows(y, info.width, &labels);
        file.writer
            .write_strip(&Samples::U8(labels))
            .with_context(cannot_write)?;
    }
    let written = file.finish().with_context(cannot_write)?;
    let csv = to_csv(&stats.rows(&relabelling.legend));
    written.persist(&args.output)?;
    if let Some(path) = &args.stats {
        output::write(path, csv.as_bytes())?;
    }
    for r in &relabelling.records {
        let classes: Vec<String> = r.classes.iter().map(ToString::to_string).collect();
        eprintln!(
            "merged classes {} into {} \"{}\"",
            classes.join(", "),
            r.into,
            r.name
        );
    }
    print!("{csv}");
    Ok(())
}

/// The legend and manifest of a label raster written by Mapseg.
fn label_raster(info: &RasterInfo) -> anyhow::Result<(Vec<LegendEntry>, RunManifest)> {
    if info.bands != 1 || info.sample_type != SampleType::U8 {
        bail!("it has {} band(s) of {:?}", info.bands, info.sample_type);
    }
    let json = info
        .dataset_metadata()
        .into_iter()
        .find(|(name, _)| name == "MAPSEG_MANIFEST")
        .map(|(_, v)| v)
        .context("it has no MAPSEG_MANIFEST metadata")?;
    let manifest: RunManifest =
        serde_json::from_str(&json).context("its MAPSEG_MANIFEST does not parse")?;
    let legend = file_legend(info);
    if legend.is_empty() {
        bail!("it has no class names (CLASS_0_NAME, …)");
    }
    Ok((legend, manifest))
}

/// The legend a label GeoTIFF carries: one entry per `CLASS_{i}_NAME` metadata item from
/// class 0 on, coloured from its colour table (the default colours where it has none).
pub fn file_legend(info: &RasterInfo) -> Vec<LegendEntry> {
    let metadata = info.dataset_metadata();
    let name_of = |i: usize| {
        let key = format!("CLASS_{i}_NAME");
        metadata
            .iter()
            .find(|(n, _)| *n == key)
            .map(|(_, v)| v.clone())
    };
    (0..usize::from(NODATA))
        .map_while(|i| {
            name_of(i).map(|name| LegendEntry {
                name,
                colour: info
                    .palette
                    .as_ref()
                    .and_then(|p| p.get(i).copied())
                    .unwrap_or_else(|| default_colour(i)),
            })
        })
        .collect()
}

/// The merges of the command line, each in the file's class values: a later `--merge` naming
/// a class an earlier one merged follows it into the merged class.
fn merges(args: &RelabelArgs, legend: &[LegendEntry]) -> anyhow::Result<Vec<Merge>> {
    if args.merges.is_empty() {
        bail!("nothing to do: give at least one --merge A,B");
    }
    let mut out: Vec<Merge> = Vec::new();
    for (i, text) in args.merges.iter().enumerate() {
        let values = parse_classes(text, legend.len())?;
        let before = plan(legend, &out)?;
        out.push(Merge {
            classes: values.iter().map(|&v| before.map.value(v)).collect(),
            name: args.names.get(i).cloned(),
        });
    }
    Ok(out)
}

/// "2,5" → [2, 5], each a class of the file (0 to `k` - 1), at least two different ones.
fn parse_classes(text: &str, k: usize) -> anyhow::Result<Vec<u8>> {
    let mut values = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let v: usize = part
            .parse()
            .with_context(|| format!("--merge {text}: `{part}` is not a class number"))?;
        if v >= k {
            bail!(
                "--merge {text}: there is no class {v}; this raster has classes 0 to {}",
                k - 1
            );
        }
        values.push(v as u8);
    }
    let mut distinct = values.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 2 {
        bail!("--merge {text}: a merge needs at least two different classes");
    }
    Ok(values)
}
