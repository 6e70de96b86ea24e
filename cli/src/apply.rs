//! `mapseg apply`: labels one part of N with a fitted model: a band of whole tile rows of one
//! raster into its own GeoTIFF, or the whole files of a list that fall to the part. Each label
//! GeoTIFF is written atomically, then the part file that says the part is complete; a rerun of
//! the same part writes the same bytes.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use engine::geotiff::WriterOptions;
use engine::manifest::{InputIdentity, PartRecord, RunManifest, hash_input};
use engine::pipeline::{
    FittedMethod, ModelFile, Part, Runtime, Segmenter, part_writer_options, writer_options,
};
use engine::raster::Window;
use engine::stats::ClassStats;

use crate::args::{ApplyArgs, Backend, threads};
use crate::fitting::Raster;
use crate::labelling::{Placement, label_units};
use crate::part_files::{PartFile, PartOutput, PartWork};
use crate::part_index::part_index;
use crate::progress::{Bar, Cancel};
use crate::{inputs, output};

/// What every raster of the part is labelled with.
struct Job<'a> {
    model: ModelFile,
    runtime: Runtime,
    threads: usize,
    dir: &'a Path,
    bar: Bar,
}

pub fn run(args: &ApplyArgs, cancel: &Cancel) -> anyhow::Result<()> {
    let start = Instant::now();
    let bytes = std::fs::read(&args.model_file)
        .with_context(|| format!("cannot read {}", args.model_file.display()))?;
    let model = ModelFile::from_json(&bytes)
        .with_context(|| format!("cannot use {}", args.model_file.display()))?;
    let model_blake3 = blake3::hash(&bytes).to_hex().to_string();
    let paths = inputs::expand(&args.inputs)?;
    let (index, index_from) = part_index(args.part, args.parts, |n| std::env::var(n).ok())?;
    let runtime = runtime(&model, args)?;
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create the folder {}", args.output.display()))?;
    let record = args.output.join(PartFile::name(index));
    let part_inputs = if paths.len() == 1 {
        paths.clone()
    } else {
        let files = files_of_part(paths.len(), index, args.parts);
        paths.get(files).unwrap_or_default().to_vec()
    };
    let done = is_complete(&record, &model_blake3, (index, args.parts), &part_inputs);
    if done && !args.again {
        if !args.quiet {
            println!(
                "part {index} of {} is already complete in {} (same model); --again labels it again",
                args.parts,
                args.output.display()
            );
        }
        return Ok(());
    }
    let job = Job {
        model,
        runtime,
        threads: threads(args.threads),
        dir: &args.output,
        bar: Bar::new(args.quiet, cancel.clone()),
    };
    let work = if let [path] = paths.as_slice() {
        rows(&job, path, index, args.parts, &model_blake3, &index_from)?
    } else {
        files(&job, &paths, index, args.parts)?
    };
    job.bar.check()?;
    let part = PartFile {
        format: crate::part_files::PART_FILE_FORMAT,
        software: "mapseg".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        model_blake3,
        index,
        count: args.parts,
        index_from,
        work,
    };
    output::write(&record, part.to_json().as_bytes())?;
    job.bar.finish();
    if !args.quiet {
        println!(
            "wrote part {index} of {} ({}) into {} in {:.2} s",
            args.parts,
            part.index_from,
            args.output.display(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Whether the part file at `record` says part `index` of `count` (`part`) is done with the
/// model of `model_blake3` on `inputs` (the same names and sizes), and its label GeoTIFFs are
/// there: a task that runs again (a requeued job, a replaced pod) then has nothing to do. The
/// part file is written last, so it is only there when the part is complete.
fn is_complete(record: &Path, model_blake3: &str, part: (u32, u32), inputs: &[PathBuf]) -> bool {
    let Ok(done) = PartFile::read(record) else {
        return false;
    };
    let dir = record.parent().unwrap_or(Path::new("."));
    let outputs = match &done.work {
        PartWork::Rows { output, .. } => std::slice::from_ref(output),
        PartWork::Files { outputs, .. } => outputs.as_slice(),
    };
    let same_input = |o: &PartOutput, path: &PathBuf| {
        let bytes = std::fs::metadata(path).map(|m| m.len()).ok();
        o.run.input.name == crate::fitting::file_name(path) && Some(o.run.input.bytes) == bytes
    };
    done.model_blake3 == model_blake3
        && (done.index, done.count) == part
        && done.version == env!("CARGO_PKG_VERSION")
        && outputs.len() == inputs.len()
        && outputs.iter().zip(inputs).all(|(o, p)| same_input(o, p))
        && outputs.iter().all(|o| dir.join(&o.file).is_file())
}

/// The CNN's network for a CNN model (`--model`, `--backend`); nothing for K-Means, which
/// refuses those options.
fn runtime(model: &ModelFile, args: &ApplyArgs) -> anyhow::Result<Runtime> {
    match &model.method {
        FittedMethod::Kmeans(_) => {
            if args.model.is_some() || args.backend != Backend::Flex {
                bail!("--model and --backend apply to a CNN model only; this model is K-Means");
            }
            Ok(Runtime::default())
        }
        _ => Ok(Runtime {
            cnn: Some(crate::cnn::runtime(args.model.as_deref(), args.backend)?),
            ..Runtime::default()
        }),
    }
}

/// Part `index` of `count` of the one raster at `path`: its tile rows into `part-NNNNNN.tif`.
fn rows(
    job: &Job<'_>,
    path: &Path,
    index: u32,
    count: u32,
    model_blake3: &str,
    index_from: &str,
) -> anyhow::Result<PartWork> {
    let mut raster = Raster::open(path, job.threads)?;
    let info = raster.info.clone();
    let part = Part::plan(info.width, info.height, index, count)
        .with_context(|| format!("cannot split {}", path.display()))?;
    let segmenter = segmenter(job, &raster)?;
    let run = segmenter.manifest(identity(&job.model, &raster)?, &backend(job, &segmenter));
    let own = RunManifest {
        part: Some(PartRecord {
            part,
            model_blake3: model_blake3.to_owned(),
            index_from: index_from.to_owned(),
        }),
        ..run.clone()
    };
    let legend = segmenter.legend();
    let options = part_writer_options(&info, &part, &legend, &own);
    let file = format!("part-{index:06}.tif");
    let units = part.units(&segmenter.units());
    let stats = label(
        job,
        &mut raster,
        &segmenter,
        &units,
        Placement::Part(part),
        options,
        &job.dir.join(&file),
    )?;
    Ok(PartWork::Rows {
        window: part.window,
        output: PartOutput { file, run, stats },
    })
}

/// The files of part `index` of `count` of the list `paths`, each into its own label GeoTIFF.
fn files(job: &Job<'_>, paths: &[PathBuf], index: u32, count: u32) -> anyhow::Result<PartWork> {
    let names = output_names(paths)?;
    let n = paths.len();
    if count as usize > n {
        bail!(
            "--parts {count} is more than the {n} files of the list: each part labels whole files, so use at most {n} parts"
        );
    }
    let files = files_of_part(n, index, count);
    let first = files.start;
    let mut outputs = Vec::with_capacity(files.len());
    for (path, file) in paths[files.clone()].iter().zip(&names[files]) {
        let mut raster = Raster::open(path, job.threads)?;
        let info = raster.info.clone();
        let segmenter = segmenter(job, &raster)?;
        let run = segmenter.manifest(identity(&job.model, &raster)?, &backend(job, &segmenter));
        let options = writer_options(&info, &segmenter.legend(), &run);
        let units = segmenter.units();
        let stats = label(
            job,
            &mut raster,
            &segmenter,
            &units,
            Placement::Whole,
            options,
            &job.dir.join(file),
        )?;
        outputs.push(PartOutput {
            file: file.clone(),
            run,
            stats,
        });
    }
    Ok(PartWork::Files {
        first,
        files: n,
        outputs,
    })
}

/// The files (indices into a list of `n`) that part `index` of `count` labels: contiguous
/// runs, as even as whole files allow.
fn files_of_part(n: usize, index: u32, count: u32) -> std::ops::Range<usize> {
    let at = |i: u32| (i as usize * n) / count.max(1) as usize;
    at(index)..at(index + 1)
}

/// The label GeoTIFF name of each file of a list (its name with a `.tif` extension), refusing
/// two files that would write the same name.
fn output_names(paths: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = Vec::with_capacity(paths.len());
    for (i, path) in paths.iter().enumerate() {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .with_context(|| format!("{} has no file name", path.display()))?;
        let name = format!("{stem}.tif");
        if name.starts_with("part-") {
            bail!(
                "{}: input names starting with \"part-\" would collide with the part files; rename it",
                path.display()
            );
        }
        if let Some(j) = names.iter().position(|n| *n == name) {
            bail!(
                "{} and {} would both be labelled into {name}: give files of distinct names",
                paths[j].display(),
                paths[i].display()
            );
        }
        names.push(name);
    }
    Ok(names)
}

/// The model's segmenter for `raster`, naming the raster in any error.
fn segmenter(job: &Job<'_>, raster: &Raster) -> anyhow::Result<Segmenter> {
    job.model
        .segmenter(&raster.info, &job.runtime)
        .with_context(|| format!("cannot label {} with this model", raster.path.display()))
}

fn backend(job: &Job<'_>, segmenter: &Segmenter) -> String {
    job.runtime.backend(&segmenter.params())
}

/// The raster's identity: as the model recorded it when the model was fitted on it (same name
/// and size), else hashed now.
fn identity(model: &ModelFile, raster: &Raster) -> anyhow::Result<InputIdentity> {
    let bytes = std::fs::metadata(&raster.path)
        .with_context(|| format!("cannot read {}", raster.path.display()))?
        .len();
    let name = raster.name();
    if let Some(fitted) = model.fitted_input(&name, bytes) {
        return Ok(fitted.identity.clone());
    }
    let (blake3, bytes) = File::open(&raster.path)
        .and_then(hash_input)
        .with_context(|| format!("cannot read {}", raster.path.display()))?;
    Ok(InputIdentity {
        name,
        bytes,
        blake3,
    })
}

/// Labels `units` of `raster` into a label GeoTIFF at `path` (written atomically) and returns
/// their statistics.
fn label(
    job: &Job<'_>,
    raster: &mut Raster,
    segmenter: &Segmenter,
    units: &[Window],
    placement: Placement,
    options: WriterOptions,
    path: &Path,
) -> anyhow::Result<ClassStats> {
    let mut file = output::LabelFile::create(path, options)?;
    let encoder = file.writer.tile_encoder();
    let georef = raster.info.georef.clone();
    let mut stats = ClassStats::new(segmenter.classes(), georef.as_ref());
    label_units(
        &mut raster.readers,
        segmenter,
        units,
        georef.as_ref(),
        &encoder,
        placement,
        false,
        &job.bar,
        |(unit_stats, tiles, _)| {
            file.writer.write_tiles(&tiles.tiles)?;
            stats.merge(&unit_stats);
            Ok(())
        },
    )?;
    job.bar.check()?;
    file.finish()?.persist(path)?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_outputs_are_named_after_their_inputs_and_never_collide() {
        let paths = [PathBuf::from("a/x.tif"), PathBuf::from("b/y.tiff")];
        assert_eq!(output_names(&paths).unwrap(), vec!["x.tif", "y.tif"]);
        let clash = [PathBuf::from("a/x.tif"), PathBuf::from("b/x.tif")];
        let e = output_names(&clash).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a/x.tif and b/x.tif would both be labelled into x.tif: give files of distinct names"
        );
    }
}
