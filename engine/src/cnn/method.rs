//! The CNN as a segmentation method.
//!
//! Fitting: bands and their roles → the scene's normalisation on a stratified sample → the
//! embeddings of the stratified sample's windows (each read with a margin wider than the
//! receptive field) → each block's mean embedding joined by its mean normalised band values →
//! per-dimension standardisation, the band values weighted by `CnnParams::spectra` → seeded
//! k-means with the run's k. Labelling a window: its span (the window plus that margin, in the
//! stem's stride phase) → embeddings → the same block features → nearest centre.
//!
//! An embedding depends only on the input within its receptive field, and the input outside
//! the raster or without data is 0, so a block's embedding is the same whichever window it was
//! computed in: any tiling gives the labels of the whole image (`engine/tests/cnn.rs`).

use std::io::{Read, Seek};
use std::sync::Arc;

use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::artifact::{Artifact, ArtifactError};
use super::input::{InputSpec, Span, SpanInput};
use super::net::Cnn;
use super::params::{CnnParams, MARGIN};
use crate::features::Features;
use crate::geotiff::GeoTiffReader;
use crate::kmeans::model::seed_for;
use crate::kmeans::{self, Centres};
use crate::labels::NODATA;
use crate::pipeline::SegmentError;
use crate::progress::{self, Progress, Stage};
use crate::raster::Window;
use crate::sample;

/// Seeds of the run's random choices, one salt per purpose (K-Means uses 0–2).
mod salt {
    pub const NORMALISER: u64 = 10;
    pub const PLAN: u64 = 11;
    pub const PICK: u64 = 12;
    pub const FIT: u64 = 13;
}

/// The model and the device a CNN run uses.
#[derive(Debug, Clone)]
pub struct CnnRuntime {
    pub artifact: Arc<Artifact>,
    pub device: Device,
    /// The backend's name, for manifests ("cpu", "wgpu", "vulkan", "cuda").
    pub backend: String,
}

impl CnnRuntime {
    /// `artifact` on the CPU (burn's flex backend).
    pub fn cpu(artifact: Artifact) -> Self {
        Self {
            artifact: Arc::new(artifact),
            device: Device::flex(),
            backend: crate::pipeline::CPU_BACKEND.to_owned(),
        }
    }

    /// The built-in model on the CPU.
    pub fn builtin() -> Result<Self, ArtifactError> {
        Ok(Self::cpu(Artifact::builtin()?))
    }
}

/// A fitted CNN run: the network, the scene's input normalisation, the standardisation of the
/// embeddings and the k-means centres on them.
#[derive(Debug, Clone)]
pub struct CnnModel {
    pub params: CnnParams,
    pub seed: u64,
    pub input: InputSpec,
    /// Dimensions of the network's embedding (the first of the clustering features; the band
    /// values follow when `params.spectra` > 0).
    pub embedding_dims: usize,
    /// Per-feature mean and inverse standard deviation (times the part's weight) over the
    /// sample.
    pub mean: Vec<f32>,
    pub inv_sd: Vec<f32>,
    pub centres: Centres,
    /// Blocks the centres were fitted on.
    pub fitted_blocks: usize,
    /// The model's id and the BLAKE3 of its weights.
    pub model_id: String,
    pub weights_hash: String,
    pub backend: String,
    net: Arc<Cnn>,
    device: Device,
}

/// Two models are equal when they label alike: same parameters, input, standardisation,
/// centres and weights (the network itself is compared through its weights' hash).
impl PartialEq for CnnModel {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
            && self.seed == other.seed
            && self.input == other.input
            && self.mean == other.mean
            && self.inv_sd == other.inv_sd
            && self.centres == other.centres
            && self.weights_hash == other.weights_hash
    }
}

/// The clustering features of a span's blocks (`blocks`, block coordinates at resolution
/// `r`): the mean embedding over the block's valid pixels, followed, when `spectra` holds, by
/// the mean normalised band values; all 0 and invalid for blocks without a valid pixel.
fn block_features(
    z: &[f32],
    dims: usize,
    input: &SpanInput,
    spectra: bool,
    blocks: Window,
    r: u32,
    size: (u32, u32),
) -> Features {
    let span = input.span;
    let n = span.len();
    let sw = span.width as usize;
    let features = dims + if spectra { input.bands } else { 0 };
    let mut values = vec![0f32; blocks.len() * features];
    let mut valid = vec![false; blocks.len()];
    let mut acc = vec![0f64; features];
    let cells = values.chunks_exact_mut(features).zip(valid.iter_mut());
    let origins = (blocks.y..blocks.bottom())
        .flat_map(|by| (blocks.x..blocks.right()).map(move |bx| (bx * r, by * r)));
    for ((out, ok), (x0, y0)) in cells.zip(origins) {
        acc.fill(0.0);
        let mut count = 0u32;
        let (x1, y1) = ((x0 + r).min(size.0), (y0 + r).min(size.1));
        for y in y0..y1 {
            let row = (i64::from(y) - span.y) as usize * sw;
            for x in x0..x1 {
                let p = row + (i64::from(x) - span.x) as usize;
                if !input.valid[p] {
                    continue;
                }
                count += 1;
                for (d, a) in acc[..dims].iter_mut().enumerate() {
                    *a += f64::from(z[d * n + p]);
                }
                for (d, a) in acc[dims..].iter_mut().enumerate() {
                    *a += f64::from(input.spectra[d * n + p]);
                }
            }
        }
        if count > 0 {
            *ok = true;
            for (o, a) in out.iter_mut().zip(&acc) {
                *o = (a / f64::from(count)) as f32;
            }
        }
    }
    Features {
        blocks,
        dims: features,
        values,
        valid,
    }
}

/// Runs the network on `input` and returns its embeddings (planar, `[dim][row][col]`).
async fn embed(net: &Cnn, device: &Device, input: &SpanInput) -> Result<Vec<f32>, SegmentError> {
    let (x, mask) = input.tensors(device);
    let z = net.embed(x, mask);
    let data = z
        .into_data_async()
        .await
        .map_err(|e| SegmentError::Backend(e.to_string()))?;
    data.try_into_vec::<f32>()
        .map_err(|e| SegmentError::Backend(format!("{e:?}")))
}

/// Fits the CNN method on `reader`'s raster: band roles, normalisation, sample embeddings,
/// k-means. On the calling thread.
pub async fn fit<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    params: &CnnParams,
    seed: u64,
    runtime: &CnnRuntime,
    progress: &impl Progress,
) -> Result<CnnModel, SegmentError> {
    params.validate()?;
    let (bands, roles) = params.resolve(reader.info())?;
    let meta = &runtime.artifact.meta;
    let input = InputSpec::fit(
        reader,
        bands,
        roles,
        meta.normalisation,
        seed_for(seed, salt::NORMALISER),
        progress,
    )?;
    let net = runtime.artifact.net(&runtime.device);
    let r = params.resolution;
    let size = input.size();
    let (gw, gh) = (size.0.div_ceil(r), size.1.div_ceil(r));
    let windows = sample::plan(gw, gh, params.sample_size, seed_for(seed, salt::PLAN));
    let mut rng = ChaCha8Rng::seed_from_u64(seed_for(seed, salt::PICK));
    let dims = meta.architecture.embedding;
    let spectra = params.spectra > 0.0;
    let mut points = Vec::new();
    for (i, w) in windows.iter().enumerate() {
        progress::check(progress)?;
        progress.report(Stage::Sampling, i as f32 / windows.len() as f32);
        let pixels = block_pixels(w.blocks, r, size);
        let span_input = input.read(reader, Span::around(pixels, MARGIN))?;
        let z = embed(&net, &runtime.device, &span_input).await?;
        let f = block_features(&z, dims, &span_input, spectra, w.blocks, r, size);
        for b in sample::pick(&f.valid, w.quota, &mut rng) {
            points.extend_from_slice(&f.values[b * f.dims..(b + 1) * f.dims]);
        }
    }
    progress.report(Stage::Sampling, 1.0);
    if points.is_empty() {
        return Err(SegmentError::NoValidData);
    }
    let features = dims + if spectra { input.pixels.dims() } else { 0 };
    let (mean, mut inv_sd) = standardisation(&points, features);
    // Equal total variance for the two parts at weight 1.
    let weight = params.spectra * (dims as f32 / (features - dims).max(1) as f32).sqrt();
    inv_sd[dims..].iter_mut().for_each(|s| *s *= weight);
    standardise(&mut points, &mean, &inv_sd);
    let centres = kmeans::fit(
        &points,
        features,
        params.k,
        seed_for(seed, salt::FIT),
        params.fit,
        progress,
    )?;
    Ok(CnnModel {
        params: params.clone(),
        seed,
        input,
        embedding_dims: dims,
        mean,
        inv_sd,
        centres,
        fitted_blocks: points.len() / features,
        model_id: meta.id.clone(),
        weights_hash: runtime.artifact.weights_hash.clone(),
        backend: runtime.backend.clone(),
        net: Arc::new(net),
        device: runtime.device.clone(),
    })
}

/// The pixels of `blocks` at resolution `r`, clipped to a raster of `size`.
fn block_pixels(blocks: Window, r: u32, size: (u32, u32)) -> Window {
    let x0 = blocks.x * r;
    let y0 = blocks.y * r;
    let x1 = (blocks.right() * r).min(size.0);
    let y1 = (blocks.bottom() * r).min(size.1);
    Window::new(x0, y0, x1.saturating_sub(x0), y1.saturating_sub(y0))
}

/// Mean and inverse standard deviation of each dimension of `points` (a constant dimension
/// gets 1).
fn standardisation(points: &[f32], dims: usize) -> (Vec<f32>, Vec<f32>) {
    let n = (points.len() / dims) as f64;
    let mut mean = vec![0f64; dims];
    for p in points.chunks_exact(dims) {
        for (m, &v) in mean.iter_mut().zip(p) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0f64; dims];
    for p in points.chunks_exact(dims) {
        for ((s, &v), m) in var.iter_mut().zip(p).zip(&mean) {
            *s += (f64::from(v) - m).powi(2);
        }
    }
    let inv_sd = var
        .iter()
        .map(|s| {
            let sd = (s / n).sqrt();
            if sd > 1e-12 && sd.is_finite() {
                (1.0 / sd) as f32
            } else {
                1.0
            }
        })
        .collect();
    (mean.iter().map(|&m| m as f32).collect(), inv_sd)
}

fn standardise(points: &mut [f32], mean: &[f32], inv_sd: &[f32]) {
    let dims = mean.len();
    for p in points.chunks_exact_mut(dims) {
        for ((v, m), s) in p.iter_mut().zip(mean).zip(inv_sd) {
            *v = (*v - m) * s;
        }
    }
}

impl CnnModel {
    /// Raster size in pixels.
    pub fn size(&self) -> (u32, u32) {
        self.input.size()
    }

    /// Reads the input that the labels of `blocks` need.
    pub fn prepare<R: Read + Seek>(
        &self,
        reader: &mut GeoTiffReader<R>,
        blocks: Window,
    ) -> Result<SpanInput, SegmentError> {
        let pixels = block_pixels(blocks, self.params.resolution, self.size());
        self.input.read(reader, Span::around(pixels, MARGIN))
    }

    /// The label of every block of `blocks`, [`NODATA`] for blocks without data.
    pub async fn classify(
        &self,
        input: &SpanInput,
        blocks: Window,
    ) -> Result<Vec<u8>, SegmentError> {
        let features = self.mean.len();
        let dims = self.embedding_dims;
        let z = embed(&self.net, &self.device, input).await?;
        let mut f = block_features(
            &z,
            dims,
            input,
            features > dims,
            blocks,
            self.params.resolution,
            self.size(),
        );
        standardise(&mut f.values, &self.mean, &self.inv_sd);
        let mut labels = vec![0u8; f.valid.len()];
        kmeans::assign(&f.values, features, &self.centres.values, &mut labels, None);
        for (l, &ok) in labels.iter_mut().zip(&f.valid) {
            if !ok {
                *l = NODATA;
            }
        }
        Ok(labels)
    }
}
