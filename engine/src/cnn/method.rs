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

use super::artifact::Artifact;
#[cfg(feature = "builtin-model")]
use super::artifact::ArtifactError;
use super::bands::SLOTS;
use super::input::{InputSpec, Span, SpanInput};
use super::net::Cnn;
use super::net::STRIDE;
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
    /// `artifact` on the CPU ([`crate::cnn::cpu_device`]).
    pub fn cpu(artifact: Artifact) -> Self {
        Self {
            artifact: Arc::new(artifact),
            device: crate::cnn::cpu_device(),
            backend: crate::pipeline::CPU_BACKEND.to_owned(),
        }
    }

    /// The built-in model on the CPU.
    #[cfg(feature = "builtin-model")]
    pub fn builtin() -> Result<Self, ArtifactError> {
        Ok(Self::cpu(Artifact::builtin()?))
    }
}

/// A fitted CNN run: the fitted values (the scene's input normalisation, the standardisation
/// of the embeddings and the k-means centres on them) and the network they were fitted with.
#[derive(Debug, Clone)]
pub struct CnnModel {
    pub fit: CnnFit,
    pub backend: String,
    /// The model the network came from (its weights stay on the CPU, so the network can be
    /// made again on another device even when the current one is lost).
    artifact: Arc<Artifact>,
    net: Arc<Cnn>,
    device: Device,
}

/// Two models are equal when they label alike: the same fitted values and the same weights
/// (the network itself is compared through its weights' hash).
impl PartialEq for CnnModel {
    fn eq(&self, other: &Self) -> bool {
        self.fit == other.fit
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

/// The largest buffer the network allocates for one piece of a span: the full-resolution
/// embedding (`embedding` values per pixel) of at most this many bytes. Far below WebGPU's
/// default 128 MiB storage binding limit; spans beyond it are done in pieces of rows.
pub const MAX_BUFFER_BYTES: usize = 32 << 20;

/// The rows of each piece a span of `width` pixels is embedded in (a multiple of the stride),
/// so that a piece with its margins stays under [`MAX_BUFFER_BYTES`] for `dims` channels.
fn piece_rows(width: usize, dims: usize) -> usize {
    let budget = MAX_BUFFER_BYTES / 4 / dims.max(SLOTS).max(1) / width.max(1);
    let margins = 2 * MARGIN as usize;
    let stride = STRIDE as usize;
    (budget.saturating_sub(margins) / stride * stride).max(stride)
}

/// Runs the network on `input` and returns its embeddings (planar, `[dim][row][col]`).
///
/// A span too large for one buffer goes through the network in pieces of rows, each read with
/// [`MARGIN`] rows on either side (more than the receptive radius) and cut at multiples of the
/// stride, so the embeddings equal those of the whole span.
async fn embed(
    net: &Cnn,
    device: &Device,
    input: &SpanInput,
    dims: usize,
) -> Result<Vec<f32>, SegmentError> {
    let rows = piece_rows(input.span.width as usize, dims);
    embed_in_pieces(net, device, input, dims, rows).await
}

/// [`embed`] with pieces of `rows` rows (a multiple of the stride).
async fn embed_in_pieces(
    net: &Cnn,
    device: &Device,
    input: &SpanInput,
    dims: usize,
    rows: usize,
) -> Result<Vec<f32>, SegmentError> {
    let (w, h) = (input.span.width as usize, input.span.height as usize);
    if h <= rows {
        return embed_rows(net, device, input, 0..h).await;
    }
    let margin = MARGIN as usize;
    let mut z = vec![0f32; dims * w * h];
    let mut y0 = 0;
    while y0 < h {
        let y1 = (y0 + rows).min(h);
        let read = y0.saturating_sub(margin)..(y1 + margin).min(h);
        let piece = embed_rows(net, device, input, read.clone()).await?;
        let piece_h = read.len();
        for d in 0..dims {
            let from = d * piece_h * w + (y0 - read.start) * w;
            let to = d * h * w + y0 * w;
            z[to..to + (y1 - y0) * w].copy_from_slice(&piece[from..from + (y1 - y0) * w]);
        }
        y0 = y1;
    }
    Ok(z)
}

/// The embeddings of rows `rows` of the span, computed on those rows alone.
async fn embed_rows(
    net: &Cnn,
    device: &Device,
    input: &SpanInput,
    rows: std::ops::Range<usize>,
) -> Result<Vec<f32>, SegmentError> {
    let (x, mask) = input.tensors_rows(device, rows);
    let z = net.embed(x, mask);
    let data = z
        .into_data_async()
        .await
        .map_err(|e| SegmentError::Backend(e.to_string()))?;
    data.try_into_vec::<f32>()
        .map_err(|e| SegmentError::Backend(format!("{e:?}")))
}

/// A fitted CNN and the sample it was fitted on (standardised block features, as clustered):
/// what a k curve is computed on.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub model: CnnModel,
    pub sample: Vec<f32>,
}

impl Fitted {
    /// Inertia and silhouette for k = 2..=16 on the fitting sample.
    pub fn k_curve(&self, progress: &impl Progress) -> Result<Vec<kmeans::KChoice>, SegmentError> {
        kmeans::model::sample_k_curve(
            &self.sample,
            self.model.fit.mean.len(),
            self.model.fit.seed,
            progress,
        )
    }
}

/// Fits the CNN method on `reader`'s raster: band roles, normalisation, sample embeddings,
/// k-means. On the calling thread.
pub async fn fit<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    params: &CnnParams,
    seed: u64,
    runtime: &CnnRuntime,
    progress: &impl Progress,
) -> Result<Fitted, SegmentError> {
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
        let z = embed(&net, &runtime.device, &span_input, dims).await?;
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
    let model = CnnModel {
        fit: CnnFit {
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
        },
        backend: runtime.backend.clone(),
        artifact: runtime.artifact.clone(),
        net: Arc::new(net),
        device: runtime.device.clone(),
    };
    Ok(Fitted {
        model,
        sample: points,
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

/// What a fitted CNN run holds besides the network itself, as plain values: what a model
/// file keeps, to label with the same network elsewhere ([`CnnModel::restore`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CnnFit {
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
    /// The network's model id and the BLAKE3 of its weights: restoring needs those weights.
    pub model_id: String,
    pub weights_hash: String,
}

impl CnnModel {
    /// The model `fit` describes, with the network of `runtime` (on its device), which must be
    /// the network it was fitted with (the same weights).
    pub fn restore(fit: CnnFit, runtime: &CnnRuntime) -> Result<Self, SegmentError> {
        if fit.weights_hash != runtime.artifact.weights_hash {
            return Err(SegmentError::OtherNetwork {
                fitted: fit.model_id,
                given: runtime.artifact.meta.id.clone(),
            });
        }
        let spectra = if fit.params.spectra > 0.0 {
            fit.input.pixels.dims()
        } else {
            0
        };
        let dims = fit.embedding_dims + spectra;
        if fit.mean.len() != dims || fit.inv_sd.len() != dims || fit.centres.dims != dims {
            return Err(SegmentError::Backend(format!(
                "the fitted values do not match: {dims} features, {} means, {} scales, centres of {} dimensions",
                fit.mean.len(),
                fit.inv_sd.len(),
                fit.centres.dims
            )));
        }
        let net = runtime.artifact.net(&runtime.device);
        Ok(Self {
            fit,
            backend: runtime.backend.clone(),
            artifact: runtime.artifact.clone(),
            net: Arc::new(net),
            device: runtime.device.clone(),
        })
    }

    /// The same fitted model for another raster of the same bands (`info`): its size and
    /// nodata.
    pub fn for_raster(mut self, info: &crate::geotiff::RasterInfo) -> Self {
        self.fit.input.pixels = self.fit.input.pixels.for_raster(info);
        self
    }

    /// The same fitted model with its network on `accelerator`'s device, made from the model's
    /// weights (never read back from the current device, which may be lost).
    pub fn on(&self, accelerator: crate::pipeline::Accelerator) -> Self {
        let net = self.artifact.net(&accelerator.device);
        Self {
            net: Arc::new(net),
            device: accelerator.device,
            backend: accelerator.name,
            ..self.clone()
        }
    }

    /// Raster size in pixels.
    pub fn size(&self) -> (u32, u32) {
        self.fit.input.size()
    }

    /// Reads the input that the labels of `blocks` need.
    pub fn prepare<R: Read + Seek>(
        &self,
        reader: &mut GeoTiffReader<R>,
        blocks: Window,
    ) -> Result<SpanInput, SegmentError> {
        let pixels = block_pixels(blocks, self.fit.params.resolution, self.size());
        self.fit.input.read(reader, Span::around(pixels, MARGIN))
    }

    /// The label of every block of `blocks`, [`NODATA`] for blocks without data.
    pub async fn classify(
        &self,
        input: &SpanInput,
        blocks: Window,
    ) -> Result<Vec<u8>, SegmentError> {
        let fit = &self.fit;
        let features = fit.mean.len();
        let dims = fit.embedding_dims;
        let z = embed(&self.net, &self.device, input, dims).await?;
        let mut f = block_features(
            &z,
            dims,
            input,
            features > dims,
            blocks,
            fit.params.resolution,
            self.size(),
        );
        standardise(&mut f.values, &fit.mean, &fit.inv_sd);
        let mut labels = vec![0u8; f.valid.len()];
        kmeans::assign(&f.values, features, &fit.centres.values, &mut labels, None);
        for (l, &ok) in labels.iter_mut().zip(&f.valid) {
            if !ok {
                *l = NODATA;
            }
        }
        Ok(labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnn::CnnConfig;

    #[test]
    fn pieces_of_rows_give_the_embeddings_of_the_whole_span() {
        let device = crate::cnn::cpu_device();
        let net = CnnConfig::new().init(&device);
        let (w, h) = (40usize, 152usize);
        let mut state = 0x1234_5678_u32;
        let values = (0..SLOTS * w * h)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 1000) as f32 / 250.0 - 2.0
            })
            .collect();
        let input = SpanInput {
            span: Span {
                x: 0,
                y: 0,
                width: w as u32,
                height: h as u32,
            },
            values,
            spectra: Vec::new(),
            bands: 0,
            valid: vec![true; w * h],
            mask: [1.0, 1.0, 1.0, 1.0, 0.0, 0.0],
        };
        let dims = CnnConfig::new().embedding;
        let whole = pollster::block_on(embed_in_pieces(&net, &device, &input, dims, h)).unwrap();
        let pieces = pollster::block_on(embed_in_pieces(&net, &device, &input, dims, 24)).unwrap();
        assert_eq!(whole.len(), dims * w * h);
        let worst = whole
            .iter()
            .zip(&pieces)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 1e-5, "pieces differ from the whole span by {worst}");
    }

    #[test]
    fn pieces_stay_under_the_buffer_limit() {
        for width in [64, 1092, 3136, 20_000] {
            let rows = piece_rows(width, 16);
            assert!(rows.is_multiple_of(STRIDE as usize) && rows >= STRIDE as usize);
            if width <= 4096 {
                let piece = (rows + 2 * MARGIN as usize) * width * 16 * 4;
                assert!(piece <= MAX_BUFFER_BYTES, "width {width}: {piece} bytes");
            }
        }
    }
}
