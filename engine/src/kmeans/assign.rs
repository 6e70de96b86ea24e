//! The assignment kernel: nearest centre for every feature vector.
//!
//! This is the hot loop of the whole pipeline, so it is written to vectorise: points are
//! processed in lanes of [`LANES`], transposed to structure-of-arrays, and the distance to each
//! centre is computed for all lanes at once with no data-dependent branches.

/// Points processed together; a multiple of every SIMD width the compiler may use.
const LANES: usize = 16;

/// Labels every point (`points.len() / dims` of them) with the index of its nearest centre, and
/// writes the squared distance to it when `distances` is given.
///
/// Ties go to the lower centre index. `labels.len()` must equal the point count, as must
/// `distances.len()` when present.
pub fn assign(
    points: &[f32],
    dims: usize,
    centres: &[f32],
    labels: &mut [u8],
    distances: Option<&mut [f32]>,
) {
    debug_assert!(dims > 0 && centres.len().is_multiple_of(dims));
    debug_assert_eq!(points.len(), labels.len() * dims);
    match dims {
        1 => assign_fixed::<1>(points, centres, labels, distances),
        2 => assign_fixed::<2>(points, centres, labels, distances),
        3 => assign_fixed::<3>(points, centres, labels, distances),
        4 => assign_fixed::<4>(points, centres, labels, distances),
        5 => assign_fixed::<5>(points, centres, labels, distances),
        6 => assign_fixed::<6>(points, centres, labels, distances),
        7 => assign_fixed::<7>(points, centres, labels, distances),
        8 => assign_fixed::<8>(points, centres, labels, distances),
        _ => assign_dynamic(points, dims, centres, labels, distances),
    }
}

#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd"),
    target_feature(enable = "simd128")
)]
fn assign_fixed<const D: usize>(
    points: &[f32],
    centres: &[f32],
    labels: &mut [u8],
    mut distances: Option<&mut [f32]>,
) {
    let centres: Vec<[f32; D]> = centres
        .chunks_exact(D)
        .map(|c| std::array::from_fn(|j| c[j]))
        .collect();
    let n = labels.len();
    let mut start = 0;
    while start < n {
        let len = LANES.min(n - start);
        // Transpose this run of points to structure-of-arrays; missing lanes stay zero.
        let mut soa = [[0f32; LANES]; D];
        for (lane, p) in points[start * D..(start + len) * D]
            .chunks_exact(D)
            .enumerate()
        {
            for j in 0..D {
                soa[j][lane] = p[j];
            }
        }
        let mut best_d = [f32::INFINITY; LANES];
        let mut best_i = [0u8; LANES];
        for (ci, c) in centres.iter().enumerate() {
            let mut d = [0f32; LANES];
            for j in 0..D {
                for lane in 0..LANES {
                    let diff = soa[j][lane] - c[j];
                    d[lane] += diff * diff;
                }
            }
            let ci = ci as u8;
            for lane in 0..LANES {
                let closer = d[lane] < best_d[lane];
                best_d[lane] = if closer { d[lane] } else { best_d[lane] };
                best_i[lane] = if closer { ci } else { best_i[lane] };
            }
        }
        labels[start..start + len].copy_from_slice(&best_i[..len]);
        if let Some(out) = distances.as_deref_mut() {
            out[start..start + len].copy_from_slice(&best_d[..len]);
        }
        start += len;
    }
}

#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd"),
    target_feature(enable = "simd128")
)]
fn assign_dynamic(
    points: &[f32],
    dims: usize,
    centres: &[f32],
    labels: &mut [u8],
    mut distances: Option<&mut [f32]>,
) {
    for (i, p) in points.chunks_exact(dims).enumerate() {
        let mut best = (f32::INFINITY, 0u8);
        for (ci, c) in centres.chunks_exact(dims).enumerate() {
            let d: f32 = p.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum();
            if d < best.0 {
                best = (d, ci as u8);
            }
        }
        labels[i] = best.1;
        if let Some(out) = distances.as_deref_mut() {
            out[i] = best.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(points: &[f32], dims: usize, centres: &[f32]) -> Vec<u8> {
        points
            .chunks_exact(dims)
            .map(|p| {
                let mut best = (f32::INFINITY, 0u8);
                for (ci, c) in centres.chunks_exact(dims).enumerate() {
                    let d: f32 = p.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum();
                    if d < best.0 {
                        best = (d, ci as u8);
                    }
                }
                best.1
            })
            .collect()
    }

    #[test]
    fn fixed_and_dynamic_kernels_agree_with_brute_force() {
        let mut state = 0x9e37_79b9_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 1000) as f32 / 1000.0
        };
        for dims in [1, 2, 3, 5, 8, 11] {
            let n = 103;
            let points: Vec<f32> = (0..n * dims).map(|_| next()).collect();
            let centres: Vec<f32> = (0..7 * dims).map(|_| next()).collect();
            let mut labels = vec![0u8; n];
            let mut dist = vec![0f32; n];
            assign(&points, dims, &centres, &mut labels, Some(&mut dist));
            assert_eq!(labels, brute(&points, dims, &centres), "dims {dims}");
            assert!(dist.iter().all(|d| d.is_finite() && *d >= 0.0));
        }
    }

    #[test]
    fn ties_go_to_the_lower_index() {
        let centres = [0.0, 1.0, 1.0];
        let mut labels = [9u8; 1];
        assign(&[1.0], 1, &centres, &mut labels, None);
        assert_eq!(labels, [1]);
    }
}
