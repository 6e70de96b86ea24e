//! The two self-supervised objectives: VICReg on the embeddings ([`vicreg`], the default) and
//! the dense IIC loss on the heads ([`head_loss`]).
//!
//! IIC (Ji, Henriques and Vedaldi, "Invariant Information Clustering", 2019):
//! minus the mutual information between the cluster assignments of aligned positions of two
//! views, over small displacements, with the "uncollapsed" weighting of the marginals.
//!
//! For probabilities `p1`, `p2` (`[batch, k, h, w]`, aligned) and a displacement `t`:
//!
//! ```text
//! P   = Σ_{b,u} p1_b(u) · p2_b(u + t)ᵀ,  then symmetrised and divided by its sum   (k × k)
//! L_t = − Σ_ij P_ij (ln P_ij − λ ln Pi_i − λ ln Pj_j)
//! ```
//!
//! Its entropy terms make the one-cluster solution costly: anti-collapse is built in.

use burn::tensor::Tensor;

use crate::views::Overlap;

/// Floor of a probability before its logarithm.
pub const EPS: f32 = 1e-8;

/// The displacements (x, y) at half resolution: the position itself and its 4 neighbours.
pub const DISPLACEMENTS: [[i64; 2]; 5] = [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]];

/// The joint distribution of two `[batch, k, h, w]` maps of the same shape.
///
/// # Shapes
/// - `p1`, `p2`: `[batch, k, h, w]`
/// - output: `[k, k]`, symmetric, summing to 1.
pub fn joint(p1: Tensor<4>, p2: Tensor<4>) -> Tensor<2> {
    let k = p1.dims()[1];
    let a: Tensor<2> = p1.swap_dims(0, 1).reshape([k as i64, -1]);
    let b: Tensor<2> = p2.swap_dims(0, 1).reshape([k as i64, -1]);
    let p = a.matmul(b.transpose());
    let p = (p.clone() + p.transpose()) / 2.0;
    let total = p.clone().sum();
    p / total.unsqueeze()
}

/// Minus the (λ-weighted) mutual information of a joint distribution.
///
/// # Shapes
/// - `p`: `[k, k]`, summing to 1.
/// - output: `[1]`.
pub fn iic(p: Tensor<2>, lambda: f32) -> Tensor<1> {
    let k = p.dims()[0];
    let pi = p.clone().sum_dim(1).expand([k, k]);
    let pj = p.clone().sum_dim(0).expand([k, k]);
    let lp = p.clone().clamp_min(EPS).log();
    let lpi = pi.clamp_min(EPS).log();
    let lpj = pj.clamp_min(EPS).log();
    -(p * (lp - lpi * lambda - lpj * lambda)).sum()
}

/// The loss of one head over every displacement: `p1` and `p2` are the two views' maps (view
/// 2 already turned back), `v1`, `v2` their cell validity (`[batch, 1, h, w]`), `overlap`
/// where they cover the same ground. Returns the loss and the joint of the zero displacement.
pub fn head_loss(
    p1: Tensor<4>,
    p2: Tensor<4>,
    v1: Tensor<4>,
    v2: Tensor<4>,
    overlap: &Overlap,
    lambda: f32,
) -> (Tensor<1>, Tensor<2>) {
    let p1 = p1 * v1;
    let p2 = p2 * v2;
    let mut total: Option<Tensor<1>> = None;
    let mut centre = None;
    let mut count = 0usize;
    for d in DISPLACEMENTS {
        let Some(o) = overlap.displaced(d) else {
            continue;
        };
        let p = joint(o.cut_first(p1.clone()), o.cut_second(p2.clone()));
        if d == [0, 0] {
            centre = Some(p.clone());
        }
        let l = iic(p, lambda);
        total = Some(match total {
            Some(t) => t + l,
            None => l,
        });
        count += 1;
    }
    let device = p1.device();
    let total = total.unwrap_or_else(|| Tensor::zeros([1], &device));
    let centre = centre.unwrap_or_else(|| Tensor::zeros([1, 1], &device));
    (total / count.max(1) as f32, centre)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn device() -> Device {
        Device::flex()
    }

    /// The loss of a 2 × 2 joint against the formula computed by hand.
    #[test]
    fn loss_matches_a_hand_computed_value() {
        // P = [[0.4, 0.1], [0.1, 0.4]]: Pi = Pj = [0.5, 0.5].
        // L = −Σ P ln(P / (Pi Pj)) = −(2·0.4·ln 1.6 + 2·0.1·ln 0.4)
        let p = Tensor::<2>::from_data(TensorData::from([[0.4f32, 0.1], [0.1, 0.4]]), &device());
        let got = iic(p, 1.0).into_scalar::<f32>();
        let want = -(2.0 * 0.4 * 1.6f32.ln() + 2.0 * 0.1 * 0.4f32.ln());
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        assert!((want - -0.192_745).abs() < 1e-5);
    }

    /// λ weights the marginals: with λ = 1.5 the loss gains 0.5 × (H(Pi) + H(Pj)) of −… terms.
    #[test]
    fn lambda_weights_the_marginal_entropies() {
        let p = Tensor::<2>::from_data(TensorData::from([[0.3f32, 0.2], [0.2, 0.3]]), &device());
        let l1 = iic(p.clone(), 1.0).into_scalar::<f32>();
        let l15 = iic(p, 1.5).into_scalar::<f32>();
        // Σ P ln Pi = ln 0.5 (Pi uniform), so each extra 0.5 λ adds 0.5 · 2 · ln 0.5.
        let want = l1 + 0.5 * 2.0 * 0.5f32.ln();
        assert!((l15 - want).abs() < 1e-6, "{l15} vs {want}");
    }

    /// One cluster everywhere carries no information: MI = 0.
    #[test]
    fn one_cluster_gives_zero_information() {
        let ones = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32; 2 * 8 * 8], [2, 1, 8, 8]),
            &device(),
        );
        let zeros = Tensor::<4>::zeros([2, 2, 8, 8], &device());
        let p = Tensor::cat(vec![ones, zeros], 1);
        let l = iic(joint(p.clone(), p), 1.0).into_scalar::<f32>();
        assert!(l.abs() < 1e-5, "{l}");
    }

    /// Two perfectly paired balanced clusters reach the minimum, −ln k.
    #[test]
    fn perfect_agreement_reaches_minus_ln_k() {
        let mut v = vec![0f32; 2 * 4 * 4];
        for p in 0..16 {
            let c = usize::from(p % 2 == 0);
            v[c * 16 + p] = 1.0;
        }
        let p = Tensor::<4>::from_data(TensorData::new(v, [1, 2, 4, 4]), &device());
        let l = iic(joint(p.clone(), p), 1.0).into_scalar::<f32>();
        assert!((l + 2f32.ln()).abs() < 1e-5, "{l}");
    }
}

/// VICReg (Bardes, Ponce and LeCun, 2022) on aligned embeddings: invariance (the two views'
/// embeddings of the same ground agree), variance (every dimension keeps a standard deviation
/// of at least 1 over the batch, so nothing collapses) and covariance (dimensions decorrelate,
/// so the embedding spreads its information). Weights 25, 25, 1 as in the paper.
///
/// Takes [`vicreg_terms`].
pub fn vicreg(terms: [Tensor<1>; 3]) -> Tensor<1> {
    let [invariance, variance, covariance] = terms;
    invariance * 25.0 + variance * 25.0 + covariance
}

/// The three VICReg terms, unweighted: invariance (mean squared difference), variance (hinge on
/// each dimension's standard deviation, summed over the views) and covariance (squared
/// off-diagonal covariances over the dimension count, summed over the views).
///
/// # Shapes
/// - `z1`, `z2`: `[batch, dims, h, w]`, aligned.
/// - output: three `[1]` tensors.
pub fn vicreg_terms(z1: Tensor<4>, z2: Tensor<4>) -> [Tensor<1>; 3] {
    let d = z1.dims()[1];
    let a: Tensor<2> = z1.swap_dims(0, 1).reshape([d as i64, -1]).transpose();
    let b: Tensor<2> = z2.swap_dims(0, 1).reshape([d as i64, -1]).transpose();
    let invariance = (a.clone() - b.clone()).powf_scalar(2.0).mean();
    let spread = |x: Tensor<2>| -> (Tensor<1>, Tensor<1>) {
        let n = x.dims()[0] as f32;
        let centred = x.clone() - x.mean_dim(0);
        let var = centred.clone().powf_scalar(2.0).sum_dim(0) / (n - 1.0).max(1.0);
        let std = (var.clone() + 1e-4).sqrt();
        let variance = (-(std - 1.0)).clamp_min(0.0).mean();
        let cov = centred.clone().transpose().matmul(centred) / (n - 1.0).max(1.0);
        let off = (cov.powf_scalar(2.0).sum() - var.powf_scalar(2.0).sum()) / d as f32;
        (variance, off)
    };
    let (va, ca) = spread(a);
    let (vb, cb) = spread(b);
    [invariance, va + vb, ca + cb]
}

#[cfg(test)]
mod vicreg_tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// Identical views of decorrelated unit-variance dimensions cost (almost) nothing; a
    /// collapsed embedding pays the variance term in full.
    #[test]
    fn collapse_costs_and_spread_is_free() {
        let device = Device::flex();
        // Two dimensions: ±1 patterns that are uncorrelated over 4 × 4 cells.
        let mut v = vec![0f32; 2 * 16];
        for p in 0..16 {
            v[p] = if p % 2 == 0 { 1.0 } else { -1.0 };
            v[16 + p] = if (p / 2) % 2 == 0 { 1.0 } else { -1.0 };
        }
        // Unbiased variance of ±1 over 16 cells is 16/15: std just over 1.
        let z = Tensor::<4>::from_data(TensorData::new(v, [1, 2, 4, 4]), &device);
        let free = vicreg(vicreg_terms(z.clone(), z)).into_scalar::<f32>();
        assert!(free.abs() < 1e-3, "{free}");
        let flat = Tensor::<4>::zeros([1, 2, 4, 4], &device);
        let collapsed = vicreg(vicreg_terms(flat.clone(), flat)).into_scalar::<f32>();
        // std = sqrt(1e-4) = 0.01 in both dimensions of both views: 25 · 2 · 0.99.
        assert!((collapsed - 49.5).abs() < 1e-3, "{collapsed}");
    }
}
