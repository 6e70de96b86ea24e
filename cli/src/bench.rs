//! `mapseg bench-cluster`: clustering alone (fit on the stratified sample + assignment of every
//! pixel) on a raster decoded into memory beforehand, for comparison with other k-means tools.

use std::time::Instant;

use anyhow::Context;
use engine::kmeans;
use engine::kmeans::model::KMeansParams;
use engine::progress::NoProgress;
use engine::raster::Window;

use crate::args::{BenchArgs, threads};
use crate::info::open;

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let params = KMeansParams {
        k: args.k,
        resolution: 1,
        ..KMeansParams::default()
    };
    let mut reader = open(&args.input)?;
    let sampler = engine::kmeans::model::sampler(&mut reader, &params, args.seed, &NoProgress)?;
    let spec = sampler.spec().clone();
    let (gw, gh) = spec.grid_size();
    let all = Window::new(0, 0, gw, gh);
    let pixels = reader
        .read_window(spec.read_window(all))
        .context("decoding the whole raster")?;
    let (features, _) = spec.features(&pixels, all);
    drop(pixels);

    let t = Instant::now();
    let windows = (0..sampler.len())
        .map(|i| {
            sampler
                .crop(&features, i)
                .context("a sample window lies outside the raster")
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let fitted = sampler.fit(windows, &NoProgress)?;
    let fit_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let labels = assign_parallel(
        &features.values,
        features.dims,
        &fitted.model.centres.values,
        threads(args.threads),
    );
    let assign_s = t.elapsed().as_secs_f64();

    let result = serde_json::json!({
        "pixels": labels.len(),
        "k": args.k,
        "sample": fitted.model.fitted_blocks,
        "iterations": fitted.model.centres.iterations,
        "fit_s": fit_s,
        "assign_s": assign_s,
        "cluster_s": fit_s + assign_s,
    });
    if args.json {
        println!("{result}");
    } else {
        println!("{}", serde_json::to_string_pretty(&result)?);
    }
    Ok(())
}

fn assign_parallel(values: &[f32], dims: usize, centres: &[f32], threads: usize) -> Vec<u8> {
    let n = values.len() / dims;
    let mut labels = vec![0u8; n];
    let chunk = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (part, out) in values.chunks(chunk * dims).zip(labels.chunks_mut(chunk)) {
            s.spawn(move || kmeans::assign(part, dims, centres, out, None));
        }
    });
    labels
}
