//! Segmentation parameters from the first [`PARAMS_LEN`] bytes of the pipeline target's input:
//! mostly valid values, often edge cases, sometimes anything.

use arbitrary::Unstructured;
use engine::kmeans::model::KMeansParams;
use engine::normalise::Normalisation;
use engine::pipeline::SegmentParams;

/// Bytes of pipeline input that choose the parameters.
pub const PARAMS_LEN: usize = 32;

/// The parameters `bytes` choose, and whether to run like the CLI (else like the web worker).
pub fn decode(bytes: &[u8]) -> (SegmentParams, bool) {
    let mut u = Unstructured::new(bytes);
    let mut kmeans = KMeansParams::default();
    kmeans.k = pick(&mut u, 2..=12, &[0, 1, 2, 16, 63, 64, 65, usize::MAX]);
    kmeans.resolution = *u
        .choose(&[1, 2, 4, 8, 16, 2, 1, 0, 3, 32, u32::MAX])
        .unwrap_or(&2);
    kmeans.bands = if u.ratio(1, 3).unwrap_or(false) {
        let n = u.int_in_range(0..=4).unwrap_or(1);
        Some((0..n).map(|_| u.int_in_range(0..=6).unwrap_or(0)).collect())
    } else {
        None
    };
    kmeans.presmooth = u.arbitrary().unwrap_or(false);
    kmeans.normalise = *u
        .choose(&Normalisation::ALL)
        .unwrap_or(&Normalisation::Auto);
    kmeans.sample_size = pick(&mut u, 1..=4096, &[0, 1, 2, 50_000]);
    kmeans.fit.tolerance = *u
        .choose(&[1e-4, 0.0, 1e-30, 10.0, -1.0, f32::NAN, f32::INFINITY])
        .unwrap_or(&1e-4);
    kmeans.fit.max_iterations = u.int_in_range(0..=100).unwrap_or(100);
    let mut params = SegmentParams::kmeans(kmeans);
    params.post.smooth = pick(&mut u, 0..=15, &[0, 1, 2, 3, 15, 16, 17, usize::MAX]);
    params.post.mmu = pick(
        &mut u,
        0..=64,
        &[0, 1, 16, 100, 1000, 65_536, 1 << 20, u32::MAX],
    );
    params.seed = u.arbitrary().unwrap_or(0);
    let cli = u.arbitrary().unwrap_or(false);
    (params, cli)
}

/// Mostly a value in `range`, else one of `edges`.
fn pick<T: Copy + arbitrary::unstructured::Int>(
    u: &mut Unstructured<'_>,
    range: std::ops::RangeInclusive<T>,
    edges: &[T],
) -> T {
    let start = *range.start();
    if u.ratio(3, 4).unwrap_or(true) {
        u.int_in_range(range).unwrap_or(start)
    } else {
        *u.choose(edges).unwrap_or(&start)
    }
}
