//! The nearest-centre assignment as burn tensor operations, for a GPU (WebGPU in the browser).
//!
//! The squared distance to each centre is summed one dimension at a time, in the order of the
//! CPU kernel ([`super::assign`]), so the labels equal the CPU's except where two centres are
//! at exactly the same distance. Points go to the device in chunks whose buffers stay under
//! [`MAX_BUFFER_BYTES`], far below WebGPU's default 128 MiB storage binding limit, whatever the
//! unit's size.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::pipeline::SegmentError;

/// The largest buffer one chunk allocates on the device.
pub const MAX_BUFFER_BYTES: usize = 32 << 20;

/// The number of points per chunk for `k` centres of `dims` values.
pub fn chunk_points(dims: usize, k: usize) -> usize {
    (MAX_BUFFER_BYTES / 4 / dims.max(k).max(1)).max(1)
}

/// The index of the nearest of `centres` for every point (`points.len() / dims` of them),
/// computed on `device`.
pub async fn assign(
    device: &Device,
    points: &[f32],
    dims: usize,
    centres: &[f32],
) -> Result<Vec<u8>, SegmentError> {
    if dims == 0 || !centres.len().is_multiple_of(dims) || !points.len().is_multiple_of(dims) {
        return Err(SegmentError::Backend(format!(
            "{} point values and {} centre values do not split into {dims} dimensions",
            points.len(),
            centres.len()
        )));
    }
    let k = centres.len() / dims;
    let n = points.len() / dims;
    let mut labels = Vec::with_capacity(n);
    if n == 0 || k == 0 {
        labels.resize(n, 0);
        return Ok(labels);
    }
    let centres = Tensor::<2>::from_data(TensorData::new(planar(centres, dims), [dims, k]), device);
    let chunk = chunk_points(dims, k);
    for part in points.chunks(chunk * dims) {
        let m = part.len() / dims;
        let x = Tensor::<2>::from_data(TensorData::new(planar(part, dims), [dims, m]), device);
        let squared = |j: usize| {
            let diff = x.clone().narrow(0, j, 1).reshape([m, 1]) - centres.clone().narrow(0, j, 1);
            diff.clone() * diff
        };
        let mut distance = squared(0);
        for j in 1..dims {
            distance = distance + squared(j);
        }
        let nearest: Tensor<2, Int> = distance.argmin(1);
        let data = nearest
            .into_data_async()
            .await
            .map_err(|e| SegmentError::Backend(e.to_string()))?
            .convert::<i64>();
        let idx = data
            .try_into_vec::<i64>()
            .map_err(|e| SegmentError::Backend(format!("{e:?}")))?;
        labels.extend(idx.into_iter().map(|i| i.clamp(0, 255) as u8));
    }
    Ok(labels)
}

/// `values` (rows of `dims`) as `dims` rows of one value per row of `values`.
fn planar(values: &[f32], dims: usize) -> Vec<f32> {
    let n = values.len() / dims;
    let mut out = vec![0f32; values.len()];
    for (i, row) in values.chunks_exact(dims).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            out[j * n + i] = v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_equal_the_cpu_kernels() {
        let mut state = 0x2545_f491_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 10_000) as f32 / 977.0 - 5.0
        };
        for (dims, k) in [(1, 2), (3, 5), (6, 12), (19, 9)] {
            let n = 1031;
            let points: Vec<f32> = (0..n * dims).map(|_| next()).collect();
            let centres: Vec<f32> = (0..k * dims).map(|_| next()).collect();
            let mut cpu = vec![0u8; n];
            super::super::assign(&points, dims, &centres, &mut cpu, None);
            let device = crate::cnn::cpu_device();
            let on_device = pollster::block_on(assign(&device, &points, dims, &centres)).unwrap();
            assert_eq!(on_device, cpu, "dims {dims}, k {k}");
        }
    }

    #[test]
    fn chunks_keep_buffers_under_the_limit() {
        for (dims, k) in [(1, 2), (6, 64), (300, 2)] {
            let chunk = chunk_points(dims, k);
            assert!(chunk * dims.max(k) * 4 <= MAX_BUFFER_BYTES);
            assert!(chunk >= 1);
        }
    }

    #[test]
    fn ragged_input_is_refused() {
        let device = crate::cnn::cpu_device();
        let err =
            pollster::block_on(assign(&device, &[1.0, 2.0, 3.0], 2, &[0.0, 0.0])).unwrap_err();
        assert!(err.to_string().contains("2 dimensions"), "{err}");
    }
}
