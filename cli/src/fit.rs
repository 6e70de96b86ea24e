//! `mapseg fit`: fits the model once on a stratified sample of one raster, a list or a VRT
//! mosaic, and writes the model file that every `mapseg apply` part labels with.

use std::fs::File;
use std::time::Instant;

use anyhow::Context;
use engine::manifest::{InputIdentity, hash_input};
use engine::pipeline::{FittedInput, ModelFile};

use crate::args::{FitArgs, threads};
use crate::fitting::{self, Raster};
use crate::inputs;
use crate::output;
use crate::progress::{Bar, Cancel};

pub fn run(args: &FitArgs, cancel: &Cancel) -> anyhow::Result<()> {
    let start = Instant::now();
    let paths = inputs::expand(&args.inputs)?;
    for path in &paths {
        output::check_distinct(path, &[("the output", args.output.as_path())])?;
    }
    let runtime = fitting::runtime(&args.method)?;
    let params = fitting::params(&args.method, &runtime)?;
    let bar = Bar::new(args.quiet, cancel.clone());
    // Each raster is hashed beside the fit: the model records what it was fitted on.
    let hashing: Vec<_> = paths
        .iter()
        .cloned()
        .map(|p| std::thread::spawn(move || File::open(&p).and_then(hash_input)))
        .collect();
    let threads = threads(args.threads);
    let mut rasters = paths
        .iter()
        .map(|p| Raster::open(p, threads))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let fit = fitting::fit(&mut rasters, &params, &runtime, &bar)?;
    let mut fitted = Vec::with_capacity(rasters.len());
    for (raster, hashing) in rasters.iter().zip(hashing) {
        let (blake3, bytes) = hashing
            .join()
            .map_err(|_| anyhow::anyhow!("hashing the input panicked"))?
            .with_context(|| format!("cannot read {}", raster.path.display()))?;
        let identity = InputIdentity {
            name: raster.name(),
            bytes,
            blake3,
        };
        fitted.push(FittedInput::new(identity, &raster.info));
    }
    bar.check()?;
    let file = ModelFile::new(&fit.segmenter, fitted);
    output::write(&args.output, file.to_json().as_bytes())?;
    bar.finish();
    if !args.quiet {
        println!(
            "wrote {} in {:.2} s: {} with {} classes, fitted on {} block(s) of {} raster(s)",
            args.output.display(),
            start.elapsed().as_secs_f64(),
            file.method_name(),
            fit.segmenter.classes(),
            fitted_blocks(&file),
            rasters.len()
        );
    }
    Ok(())
}

fn fitted_blocks(file: &ModelFile) -> usize {
    match &file.method {
        engine::pipeline::FittedMethod::Kmeans(m) => m.fitted_blocks,
        engine::pipeline::FittedMethod::Cnn(m) => m.fitted_blocks,
        _ => 0,
    }
}
