//! The network: a stride-4 context encoder beside a per-pixel spectral projection.
//!
//! ```text
//! x [B, 6, H, W] ─ stem 4×4/4 ─ ReLU ─ 3×3 ─ ReLU ─ 3×3 dil 2 (+) ─ ReLU ─ 1×1 ─ bilinear ×4 ─┐
//!   (6 canonical slots,                                                                  (+) ─ z [B, E, H, W]
//!    missing ones 0)   └──────────────────────────────── spectral 1×1 ─────────────────────┘
//! mask [B, 6] ─ linear ─ bias of the stem and of the spectral projection
//! ```
//!
//! All context work happens at a sixteenth of the pixels; the only full-resolution work is the
//! spectral projection and the upsampling, so the embedding `z` always holds the pixel's own
//! spectrum plus its neighbourhood. The heads turn a 2×2-pooled `z` into cluster probabilities
//! for the trainer's IIC objective; inference never uses them (and models trained with VICReg,
//! which shapes `z` itself, leave them at their initial weights).

use burn::config::Config;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::module::{avg_pool2d, interpolate};
use burn::tensor::ops::{AvgPoolOptions, InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};

use super::bands::SLOTS;

/// The stem's stride: windows must start on multiples of it to keep the patch grid in phase.
pub const STRIDE: u32 = 4;

/// The shape of the network.
#[derive(Config, Debug, PartialEq)]
pub struct CnnConfig {
    /// Channels of the context path.
    #[config(default = 24)]
    pub width: usize,
    /// Dimensions of the embedding `z`.
    #[config(default = 16)]
    pub embedding: usize,
    /// Clusters of each training head (the first over-clusters).
    #[config(default = "vec![32, 12]")]
    pub heads: Vec<usize>,
}

// The windows' margin covers the receptive field and keeps the stride phase.
const _: () =
    assert!(super::MARGIN >= CnnConfig::receptive_radius() && super::MARGIN.is_multiple_of(STRIDE));

impl CnnConfig {
    /// The receptive field of the embedding, in pixels (from the centre of a pixel to the
    /// farthest pixel it depends on, each side): stem 4, two 3×3 convolutions at stride 4
    /// (dilation 1 and 2), then the bilinear upsample reaching into the next patch.
    pub const fn receptive_radius() -> u32 {
        // stem: 4 px; conv 3×3: ±1 patch; conv 3×3 dil 2: ±2 patches; upsample: ±1 patch.
        STRIDE * (1 + 2 + 1) + STRIDE
    }

    /// A network with fresh (seeded by the device) weights.
    pub fn init(&self, device: &Device) -> Cnn {
        let w = self.width;
        let e = self.embedding;
        let conv = |cin: usize, cout: usize, k: usize| Conv2dConfig::new([cin, cout], [k, k]);
        Cnn {
            stem: conv(SLOTS, w, 4).with_stride([4, 4]).init(device),
            stem_mask: LinearConfig::new(SLOTS, w).init(device),
            context1: conv(w, w, 3)
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            context2: conv(w, w, 3)
                .with_dilation([2, 2])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                .init(device),
            context_out: conv(w, e, 1).init(device),
            spectral: conv(SLOTS, e, 1).init(device),
            spectral_mask: LinearConfig::new(SLOTS, e).init(device),
            heads: self
                .heads
                .iter()
                .map(|&k| conv(e, k, 1).init(device))
                .collect(),
        }
    }
}

/// The CNN (see the module documentation).
#[derive(Module, Debug)]
pub struct Cnn {
    stem: Conv2d,
    stem_mask: Linear,
    context1: Conv2d,
    context2: Conv2d,
    context_out: Conv2d,
    spectral: Conv2d,
    spectral_mask: Linear,
    heads: Vec<Conv2d>,
}

impl Cnn {
    /// The embedding of every pixel.
    ///
    /// # Shapes
    /// - `x`: `[batch, 6, height, width]`, normalised band values in the canonical slots
    ///   (missing slots 0); `height` and `width` multiples of [`STRIDE`].
    /// - `mask`: `[batch, 6]`, 1 where a slot holds a band.
    /// - output: `[batch, embedding, height, width]`.
    pub fn embed(&self, x: Tensor<4>, mask: Tensor<2>) -> Tensor<4> {
        let [batch, _, height, width] = x.dims();
        let stem_bias = self.stem_mask.forward(mask.clone());
        let channels = stem_bias.dims()[1];
        let c = relu(self.stem.forward(x.clone()) + stem_bias.reshape([batch, channels, 1, 1]));
        let c1 = relu(self.context1.forward(c));
        let c2 = relu(self.context2.forward(c1.clone()) + c1);
        let context = self.context_out.forward(c2);
        let up = interpolate(
            context,
            InterpolateOptions::new(InterpolateMode::Bilinear)
                .with_align_corners(false)
                .with_output_size([height, width]),
        );
        let spectral_bias = self.spectral_mask.forward(mask);
        let e = spectral_bias.dims()[1];
        let spectral = self.spectral.forward(x) + spectral_bias.reshape([batch, e, 1, 1]);
        up + spectral
    }

    /// Cluster probabilities of each head on 2×2-pooled embeddings.
    ///
    /// # Shapes
    /// - `z`: `[batch, embedding, height, width]` (even sides).
    /// - output: one `[batch, k, height / 2, width / 2]` per head, summing to 1 over `k`.
    pub fn heads(&self, z: Tensor<4>) -> Vec<Tensor<4>> {
        let pooled = avg_pool2d(
            z,
            AvgPoolOptions {
                kernel_size: [2, 2],
                stride: [2, 2],
                padding: [(0, 0), (0, 0)],
                count_include_pad: true,
                ceil_mode: false,
            },
        );
        self.heads
            .iter()
            .map(|head| softmax(head.forward(pooled.clone()), 1))
            .collect()
    }
}
