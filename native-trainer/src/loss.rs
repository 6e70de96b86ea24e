//! The dense IIC loss (Ji, Henriques and Vedaldi, "Invariant Information Clustering", 2019):
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
