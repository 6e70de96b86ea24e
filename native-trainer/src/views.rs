//! Paired views for the self-supervised loss and their alignment.
//!
//! Both views of a sample come from one scene and share a band-dropout pattern. View 2 is read
//! `shift` pixels away from view 1 (an overlapping crop), carries its own photometric jitter,
//! and is transformed by an element `g` of the dihedral group D4 (the 8 flips and quarter
//! turns, exact symmetries of nadir imagery). Before the loss, view 2's outputs are turned back
//! with `g⁻¹` ([`D4::undo`]) and both views are cut to their overlap ([`Overlap`]), so that
//! equal positions in the two maps are the same ground.

use burn::tensor::Tensor;
use engine::cnn::bands::SLOTS;
use rand::Rng;
use rand_distr::{Distribution, Normal};

use crate::data::{Scene, pick_scene};

/// An element of D4: `flip` (mirror the columns) then `turns` quarter turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct D4 {
    pub flip: bool,
    pub turns: u8,
}

impl D4 {
    pub const ALL: [D4; 8] = {
        let mut all = [D4 {
            flip: false,
            turns: 0,
        }; 8];
        let mut i = 0;
        while i < 8 {
            all[i] = D4 {
                flip: i >= 4,
                turns: (i % 4) as u8,
            };
            i += 1;
        }
        all
    };

    /// `g(x)` for `[batch, channels, height, width]` (square) tensors.
    pub fn apply(self, mut x: Tensor<4>) -> Tensor<4> {
        if self.flip {
            x = x.flip([3]);
        }
        for _ in 0..self.turns {
            x = x.swap_dims(2, 3).flip([2]);
        }
        x
    }

    /// `g⁻¹(x)`: undoes [`Self::apply`].
    pub fn undo(self, mut x: Tensor<4>) -> Tensor<4> {
        for _ in 0..self.turns {
            x = x.flip([2]).swap_dims(2, 3);
        }
        if self.flip {
            x = x.flip([3]);
        }
        x
    }
}

/// Where two maps of `side`² cells, the second read `shift` cells (x, y) from the first,
/// cover the same ground, less `margin` cells from every edge of either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlap {
    /// Start and end (exclusive) in the first map, per axis (x, y).
    pub first: [(usize, usize); 2],
    /// Start in the second map, per axis.
    pub second: [usize; 2],
}

impl Overlap {
    pub fn new(side: usize, shift: [i64; 2], margin: usize) -> Option<Self> {
        let mut first = [(0, 0); 2];
        let mut second = [0; 2];
        for a in 0..2 {
            let s = shift[a];
            let lo = s.max(0) + margin as i64;
            let hi = (side as i64 + s.min(0)) - margin as i64;
            if hi <= lo {
                return None;
            }
            first[a] = (lo as usize, hi as usize);
            second[a] = (lo - s) as usize;
        }
        Some(Self { first, second })
    }

    /// The overlap grown inwards by `d` (x, y) cells of displacement: the first map's cells
    /// `u` and the second's `u + d` both inside.
    pub fn displaced(&self, d: [i64; 2]) -> Option<Self> {
        let mut first = self.first;
        let mut second = self.second;
        for a in 0..2 {
            let (lo, hi) = (first[a].0 as i64, first[a].1 as i64);
            let lo2 = lo + d[a].abs();
            let hi2 = hi - d[a].abs();
            if hi2 <= lo2 {
                return None;
            }
            // Cells u of the first map in [lo + |d|, hi − |d|) pair with u + d in the second.
            let start2 = second[a] as i64 + (lo2 - lo) + d[a];
            first[a] = (lo2 as usize, hi2 as usize);
            second[a] = start2 as usize;
        }
        Some(Self { first, second })
    }

    pub fn width(&self) -> usize {
        self.first[0].1 - self.first[0].0
    }

    pub fn height(&self) -> usize {
        self.first[1].1 - self.first[1].0
    }

    /// The first map's part.
    pub fn cut_first(&self, x: Tensor<4>) -> Tensor<4> {
        let [(x0, x1), (y0, y1)] = self.first;
        let [b, c, _, _] = x.dims();
        x.slice([0..b, 0..c, y0..y1, x0..x1])
    }

    /// The second map's part.
    pub fn cut_second(&self, x: Tensor<4>) -> Tensor<4> {
        let [x0, y0] = self.second;
        let (w, h) = (self.width(), self.height());
        let [b, c, _, _] = x.dims();
        x.slice([0..b, 0..c, y0..y0 + h, x0..x0 + w])
    }
}

/// How views are made.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct ViewOptions {
    /// Crop side in pixels (a multiple of 8).
    pub crop: usize,
    /// Largest shift between the views, in pixels (even).
    pub max_shift: usize,
    /// Per-band gain: log-normal with this σ.
    pub gain: f32,
    /// Per-band offset, normal with this σ (normalised units).
    pub offset: f32,
    /// Amplitude of the smooth multiplicative illumination field.
    pub illumination: f32,
    /// Pixel noise σ.
    pub noise: f32,
    /// Probability that a sample keeps only its red, green and blue slots.
    pub rgb_only: f32,
    /// Probability that a sample loses one more of its slots.
    pub drop_one: f32,
}

impl ViewOptions {
    /// Checks the options.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.crop >= 64 && self.crop.is_multiple_of(8),
            "the crop must be a multiple of 8, at least 64 (got {})",
            self.crop
        );
        anyhow::ensure!(
            self.max_shift.is_multiple_of(2) && self.max_shift < self.crop / 2,
            "the shift must be even and under half the crop (got {})",
            self.max_shift
        );
        for (what, v) in [
            ("gain", self.gain),
            ("offset", self.offset),
            ("illumination", self.illumination),
            ("noise", self.noise),
        ] {
            anyhow::ensure!(
                v.is_finite() && v >= 0.0,
                "the {what} jitter must be ≥ 0 (got {v})"
            );
        }
        Ok(())
    }
}

impl Default for ViewOptions {
    fn default() -> Self {
        Self {
            crop: 128,
            max_shift: 16,
            gain: 0.05,
            offset: 0.05,
            illumination: 0.1,
            noise: 0.02,
            rgb_only: 0.35,
            drop_one: 0.15,
        }
    }
}

/// A batch of paired views, on the host.
#[derive(Debug, Clone)]
pub struct Batch {
    pub size: usize,
    pub crop: usize,
    /// `[batch, 6, crop, crop]` each, view 2 not yet transformed by `g`.
    pub first: Vec<f32>,
    pub second: Vec<f32>,
    /// Cell validity at half resolution (all 4 pixels valid), `[batch, 1, crop/2, crop/2]`.
    pub first_valid: Vec<f32>,
    pub second_valid: Vec<f32>,
    /// `[batch, 6]`.
    pub mask: Vec<f32>,
    /// View 2's offset from view 1 in pixels (x, y), even.
    pub shift: [i64; 2],
    pub g: D4,
    /// The scene of each sample.
    pub scenes: Vec<usize>,
}

/// Draws a batch of `size` samples.
pub fn batch(scenes: &[Scene], size: usize, o: &ViewOptions, rng: &mut impl Rng) -> Batch {
    let c = o.crop;
    let half_shift = (o.max_shift / 2) as i64;
    let shift = [
        2 * rng.random_range(-half_shift..=half_shift),
        2 * rng.random_range(-half_shift..=half_shift),
    ];
    let g = D4::ALL[rng.random_range(0..8)];
    let n = c * c;
    let h = c / 2;
    let mut b = Batch {
        size,
        crop: c,
        first: vec![0.0; size * SLOTS * n],
        second: vec![0.0; size * SLOTS * n],
        first_valid: vec![0.0; size * h * h],
        second_valid: vec![0.0; size * h * h],
        mask: vec![0.0; size * SLOTS],
        shift,
        g,
        scenes: Vec::with_capacity(size),
    };
    let mut valid = vec![false; n];
    for i in 0..size {
        let (si, x, y) = place(scenes, c, shift, rng);
        let scene = &scenes[si];
        b.scenes.push(si);
        let mask = dropout(scene.mask, o, rng);
        b.mask[i * SLOTS..(i + 1) * SLOTS].copy_from_slice(&mask);
        for (view, (vx, vy)) in [(0, (x, y)), (1, (x + shift[0], y + shift[1]))] {
            let out = if view == 0 {
                &mut b.first[i * SLOTS * n..(i + 1) * SLOTS * n]
            } else {
                &mut b.second[i * SLOTS * n..(i + 1) * SLOTS * n]
            };
            scene.crop(vx as usize, vy as usize, c, out, &mut valid);
            jitter(out, &mask, &valid, c, o, rng);
            let cells = if view == 0 {
                &mut b.first_valid[i * h * h..(i + 1) * h * h]
            } else {
                &mut b.second_valid[i * h * h..(i + 1) * h * h]
            };
            for cy in 0..h {
                for cx in 0..h {
                    let all =
                        (0..2).all(|dy| (0..2).all(|dx| valid[(2 * cy + dy) * c + 2 * cx + dx]));
                    cells[cy * h + cx] = if all { 1.0 } else { 0.0 };
                }
            }
        }
    }
    b
}

/// A scene and a position for view 1 such that both views lie inside it and view 1 is mostly
/// valid.
fn place(scenes: &[Scene], c: usize, shift: [i64; 2], rng: &mut impl Rng) -> (usize, i64, i64) {
    let mut best = (0, 0, 0, -1.0f32);
    for _ in 0..20 {
        let si = pick_scene(scenes, rng);
        let s = &scenes[si];
        let (w, h) = (s.width as i64, s.height as i64);
        let (x_lo, x_hi) = ((-shift[0]).max(0), w - c as i64 - shift[0].max(0));
        let (y_lo, y_hi) = ((-shift[1]).max(0), h - c as i64 - shift[1].max(0));
        if x_hi < x_lo || y_hi < y_lo {
            continue;
        }
        let x = rng.random_range(x_lo..=x_hi);
        let y = rng.random_range(y_lo..=y_hi);
        let share = s.valid_share(x as usize, y as usize, c, c);
        if share > best.3 {
            best = (si, x, y, share);
        }
        if share >= 0.9 {
            break;
        }
    }
    (best.0, best.1, best.2)
}

/// The slots a sample keeps: all of them, or only red, green and blue, or all but one.
fn dropout(mask: [f32; SLOTS], o: &ViewOptions, rng: &mut impl Rng) -> [f32; SLOTS] {
    let mut m = mask;
    let present = |m: &[f32; SLOTS]| m.iter().filter(|&&v| v > 0.0).count();
    if rng.random::<f32>() < o.rgb_only && m[..3].iter().all(|&v| v > 0.0) && present(&m) > 3 {
        m[3..].iter_mut().for_each(|v| *v = 0.0);
    } else if rng.random::<f32>() < o.drop_one && present(&m) > 1 {
        let filled: Vec<usize> = (0..SLOTS).filter(|&s| m[s] > 0.0).collect();
        m[filled[rng.random_range(0..filled.len())]] = 0.0;
    }
    m
}

/// Photometric jitter of one view, in place: per-band gain and offset, a smooth illumination
/// field, pixel noise; dropped slots and invalid pixels are 0.
fn jitter(
    x: &mut [f32],
    mask: &[f32; SLOTS],
    valid: &[bool],
    c: usize,
    o: &ViewOptions,
    rng: &mut impl Rng,
) {
    let n = c * c;
    // σ is finite and non-negative (checked by `ViewOptions::validate`), so `Normal` exists.
    let std = |s: f32| Normal::new(0.0f32, s).expect("a finite, non-negative σ");
    let (gain, offset, noise) = (std(o.gain), std(o.offset), std(o.noise));
    // A 4 × 4 grid of factors 1 ± illumination, bilinearly interpolated over the crop.
    let grid: Vec<f32> = (0..16)
        .map(|_| 1.0 + o.illumination * (2.0 * rng.random::<f32>() - 1.0))
        .collect();
    let field = |p: usize| {
        let (px, py) = ((p % c) as f32, (p / c) as f32);
        let gx = (px / (c - 1).max(1) as f32) * 3.0;
        let gy = (py / (c - 1).max(1) as f32) * 3.0;
        let (x0, y0) = ((gx.floor() as usize).min(2), (gy.floor() as usize).min(2));
        let (fx, fy) = (gx - x0 as f32, gy - y0 as f32);
        let at = |x: usize, y: usize| grid[y * 4 + x];
        (at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx) * (1.0 - fy)
            + (at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx) * fy
    };
    let light: Vec<f32> = (0..n).map(field).collect();
    for s in 0..SLOTS {
        let plane = &mut x[s * n..(s + 1) * n];
        if mask[s] == 0.0 {
            plane.iter_mut().for_each(|v| *v = 0.0);
            continue;
        }
        let g = gain.sample(rng).exp();
        let b = offset.sample(rng);
        for (p, v) in plane.iter_mut().enumerate() {
            *v = if valid[p] {
                (*v * g + b) * light[p] + noise.sample(rng)
            } else {
                0.0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    /// A `[1, 1, n, n]` tensor whose cell (x, y) of a global grid holds `f(x0 + x, y0 + y)`.
    fn grid(n: usize, x0: i64, y0: i64) -> Tensor<4> {
        let v: Vec<f32> = (0..n * n)
            .map(|p| {
                let (x, y) = (x0 + (p % n) as i64, y0 + (p / n) as i64);
                (x * 1000 + y) as f32
            })
            .collect();
        Tensor::from_data(TensorData::new(v, [1, 1, n, n]), &Device::flex())
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn every_d4_element_is_undone_exactly() {
        let x = grid(6, 0, 0);
        for g in D4::ALL {
            assert_eq!(
                values(g.undo(g.apply(x.clone()))),
                values(x.clone()),
                "{g:?}"
            );
        }
        // The 8 elements are distinct.
        let images: Vec<Vec<f32>> = D4::ALL.iter().map(|g| values(g.apply(x.clone()))).collect();
        for i in 0..8 {
            for j in 0..i {
                assert_ne!(images[i], images[j]);
            }
        }
    }

    #[test]
    fn a_quarter_turn_moves_the_top_row_to_the_left_column() {
        // rot90 counter-clockwise: x.swap_dims(2,3).flip([2]).
        let x = grid(3, 0, 0);
        let r = values(
            D4 {
                flip: false,
                turns: 1,
            }
            .apply(x.clone()),
        );
        let v = values(x);
        // A counter-clockwise quarter turn: the top row becomes the left column, its right end on top.
        assert_eq!([r[0], r[3], r[6]], [v[2], v[1], v[0]]);
    }

    /// Two crops of one global grid, the second transformed by g and turned back: the overlap's
    /// cells hold the same ground, for every g, shift and displacement.
    #[test]
    fn aligned_views_cover_the_same_ground() {
        let n = 16;
        for shift in [[0i64, 0], [2, -3], [-5, 4], [7, 7]] {
            let first = grid(n, 100, 200);
            let second = grid(n, 100 + shift[0], 200 + shift[1]);
            for g in D4::ALL {
                let back = g.undo(g.apply(second.clone()));
                for d in [[0, 0], [1, 0], [0, -1]] {
                    let o = Overlap::new(n, shift, 2).unwrap().displaced(d).unwrap();
                    let a = values(o.cut_first(first.clone()));
                    let b = values(o.cut_second(back.clone()));
                    // The second map at u + d is the ground at u shifted by d.
                    let expect: Vec<f32> =
                        a.iter().map(|v| v + (d[0] * 1000 + d[1]) as f32).collect();
                    assert_eq!(b, expect, "shift {shift:?} g {g:?} d {d:?}");
                }
            }
        }
    }

    #[test]
    fn overlaps_too_small_are_refused() {
        assert!(Overlap::new(16, [14, 0], 2).is_none());
        assert!(Overlap::new(16, [0, 0], 8).is_none());
    }
}
