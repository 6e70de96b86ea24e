//! K-Means as a segmentation method: its parameters, the fitting sample of a raster, and the
//! fitted [`KMeansModel`] that labels feature grids.
//!
//! A run plans a stratified sample ([`Sampler::new`]), reads the sample's band values to fit the
//! normalisation ([`Sampler::band_values`], then [`Sampler::set_normaliser`]), reads the sample's
//! features ([`Sampler::read`]) and fits the centres ([`Sampler::fit`]). Each read takes any
//! reader on any thread and depends only on its index, so a caller may spread them over threads
//! and get the same model. [`fit`] does it all on one reader.

use std::io::{Read, Seek};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{Centres, FitOptions, KChoice, MAX_K};
use crate::features::{FeatureSpec, Features, RESOLUTIONS, Validity};
use crate::geotiff::{GeoTiffReader, RasterInfo};
use crate::labels::NODATA;
use crate::normalise::{Normalisation, Normaliser};
use crate::pipeline::SegmentError;
use crate::progress::{self, Progress, Stage};
use crate::raster::PixelBlock;
use crate::raster::SampleType;
use crate::raster::Window;
use crate::sample::{self, SampleWindow};

/// Seeds of the run's random choices, one salt per purpose, so that no two draw the same stream.
mod salt {
    pub const PLAN: u64 = 0;
    pub const PICK: u64 = 1;
    pub const FIT: u64 = 2;
    /// The plan of raster `i` of a joint sample takes `RASTER + i`.
    pub const RASTER: u64 = 1000;
}

/// The seed of one purpose of a run seeded with `seed` (every method salts its purposes
/// differently, so no two draw the same stream).
pub(crate) fn seed_for(seed: u64, salt: u64) -> u64 {
    seed.wrapping_add(salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Samples of band values kept (at most) to fit the normalisation.
const MAX_NORMALISER_VALUES: usize = 200_000;

/// What a user chooses for K-Means.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct KMeansParams {
    /// Number of classes, 2 to 64.
    pub k: usize,
    /// Block edge in pixels: 1, 2, 4, 8 or 16.
    pub resolution: u32,
    /// File bands to cluster on, 0-based; `None` uses every band but alpha.
    pub bands: Option<Vec<usize>>,
    /// 3×3 mean filter on the pixels before the block means.
    pub presmooth: bool,
    /// How band values are scaled before clustering.
    pub normalise: Normalisation,
    /// Blocks in the fitting sample (at most; fewer when the raster has fewer valid blocks).
    pub sample_size: usize,
    pub fit: FitOptions,
}

impl Default for KMeansParams {
    fn default() -> Self {
        Self {
            k: 8,
            resolution: 2,
            bands: None,
            presmooth: false,
            normalise: Normalisation::Auto,
            sample_size: 50_000,
            fit: FitOptions::default(),
        }
    }
}

/// The largest sample, in blocks: the sample is held in memory as f32 features.
const MAX_SAMPLE_SIZE: usize = 5_000_000;
/// The most Lloyd iterations a fit may be asked for.
const MAX_ITERATIONS: usize = 10_000;

impl KMeansParams {
    /// Checks the parameters against `info`; returns the bands to cluster on.
    pub fn validate(&self, info: &RasterInfo) -> Result<Vec<usize>, SegmentError> {
        if !(2..=MAX_K).contains(&self.k) {
            return Err(super::KMeansError::BadK(self.k).into());
        }
        if !RESOLUTIONS.contains(&self.resolution) {
            return Err(SegmentError::BadResolution(self.resolution));
        }
        let out_of_range = |what, value: f64, allowed| SegmentError::OutOfRange {
            what,
            value,
            allowed,
        };
        if !(1..=MAX_SAMPLE_SIZE).contains(&self.sample_size) {
            let allowed = "1 to 5000000 blocks";
            return Err(out_of_range(
                "sample size",
                self.sample_size as f64,
                allowed,
            ));
        }
        if !(1..=MAX_ITERATIONS).contains(&self.fit.max_iterations) {
            let value = self.fit.max_iterations as f64;
            return Err(out_of_range("iteration limit", value, "1 to 10000"));
        }
        if !(self.fit.tolerance.is_finite() && self.fit.tolerance >= 0.0) {
            let value = f64::from(self.fit.tolerance);
            return Err(out_of_range("tolerance", value, "a finite number ≥ 0"));
        }
        if self.normalise == Normalisation::Unit && info.sample_type != SampleType::U8 {
            return Err(SegmentError::UnitNeedsU8 {
                sample_type: info.sample_type.name(),
            });
        }
        let bands = match &self.bands {
            None => info.data_bands(),
            Some(chosen) => {
                for (i, &b) in chosen.iter().enumerate() {
                    if b >= info.bands {
                        return Err(SegmentError::NoSuchBand {
                            band: b + 1,
                            bands: info.bands,
                        });
                    }
                    if info.alpha_band == Some(b) {
                        return Err(SegmentError::AlphaBand(b + 1));
                    }
                    if chosen[..i].contains(&b) {
                        return Err(SegmentError::DuplicateBand(b + 1));
                    }
                }
                chosen.clone()
            }
        };
        if bands.is_empty() {
            return Err(SegmentError::NoDataBands);
        }
        if bands.len() > 255 {
            return Err(SegmentError::TooManyBands(bands.len()));
        }
        Ok(bands)
    }
}

/// Fitted centres plus everything needed to turn any window of the raster into features.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KMeansModel {
    pub params: KMeansParams,
    pub seed: u64,
    pub spec: FeatureSpec,
    pub centres: Centres,
    /// Blocks the centres were fitted on (at most `params.sample_size`).
    pub fitted_blocks: usize,
}

impl KMeansModel {
    /// The nearest centre of every block of `features` computed on `device`
    /// ([`super::device::assign`]), [`NODATA`] for blocks without data.
    #[cfg(feature = "cnn")]
    pub async fn assign_on(
        &self,
        device: &burn::tensor::Device,
        features: &Features,
    ) -> Result<Vec<u8>, crate::pipeline::SegmentError> {
        let mut labels = super::device::assign(
            device,
            &features.values,
            features.dims,
            &self.centres.values,
        )
        .await?;
        for (l, &ok) in labels.iter_mut().zip(&features.valid) {
            if !ok {
                *l = NODATA;
            }
        }
        Ok(labels)
    }

    /// Nearest-centre labels of a feature grid, [`NODATA`] for invalid blocks.
    pub fn assign(&self, features: &Features) -> Vec<u8> {
        let mut labels = vec![0u8; features.valid.len()];
        super::assign(
            &features.values,
            features.dims,
            &self.centres.values,
            &mut labels,
            None,
        );
        for (l, &ok) in labels.iter_mut().zip(&features.valid) {
            if !ok {
                *l = NODATA;
            }
        }
        labels
    }
}

/// A fitted model and the sample it was fitted on (for the k curve).
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub model: KMeansModel,
    pub sample: Vec<f32>,
}

/// Plans the sample of `reader`'s raster and fits the normalisation on it, on the calling thread.
pub fn sampler<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    params: &KMeansParams,
    seed: u64,
    progress: &impl Progress,
) -> Result<Sampler, SegmentError> {
    let mut sampler = Sampler::new(reader.info(), params, seed)?;
    if sampler.needs_normaliser() {
        let values = each_window(sampler.len(), Stage::BandStatistics, progress, |i| {
            sampler.band_values(reader, i)
        })?;
        sampler.set_normaliser(values)?;
    }
    Ok(sampler)
}

/// Draws the stratified sample from `reader` and fits the centres, on the calling thread.
pub fn fit<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    params: &KMeansParams,
    seed: u64,
    progress: &impl Progress,
) -> Result<Fitted, SegmentError> {
    let sampler = sampler(reader, params, seed, progress)?;
    let windows = each_window(sampler.len(), Stage::Sampling, progress, |i| {
        sampler.read(reader, i)
    })?;
    sampler.fit(windows, progress)
}

/// `read(i)` for every window index `i < n` in order, reporting `stage` and stopping when
/// `progress` is cancelled.
fn each_window<T>(
    n: usize,
    stage: Stage,
    progress: &impl Progress,
    mut read: impl FnMut(usize) -> Result<T, SegmentError>,
) -> Result<Vec<T>, SegmentError> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        progress::check(progress)?;
        progress.report(stage, i as f32 / n as f32);
        out.push(read(i)?);
    }
    progress.report(stage, 1.0);
    Ok(out)
}

/// The fitting sample, window by window (see the module documentation for the order of calls).
/// Serialisable, so other workers can read windows of the same plan.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sampler {
    spec: FeatureSpec,
    params: KMeansParams,
    seed: u64,
    windows: Vec<SampleWindow>,
    /// The normalisation still to fit from the sample, if any.
    pending: Option<Normalisation>,
}

impl Sampler {
    /// Plans the sample of a raster described by `info`.
    pub fn new(info: &RasterInfo, params: &KMeansParams, seed: u64) -> Result<Self, SegmentError> {
        let bands = params.validate(info)?;
        let method = params.normalise.resolve(info.sample_type);
        let spec = FeatureSpec {
            width: info.width,
            height: info.height,
            normaliser: Normaliser::unit_u8(bands.len()),
            bands,
            resolution: params.resolution,
            presmooth: params.presmooth,
            validity: Validity::of(info),
        };
        let pending = method.needs_sample().then_some(method);
        Ok(Self::plan(spec, params, seed, pending))
    }

    /// Plans the sample for a known feature spec (its normaliser already fitted).
    pub fn with_spec(spec: FeatureSpec, params: &KMeansParams, seed: u64) -> Self {
        Self::plan(spec, params, seed, None)
    }

    fn plan(
        spec: FeatureSpec,
        params: &KMeansParams,
        seed: u64,
        pending: Option<Normalisation>,
    ) -> Self {
        let (gw, gh) = spec.grid_size();
        let windows = sample::plan(gw, gh, params.sample_size, seed_for(seed, salt::PLAN));
        Self {
            spec,
            params: params.clone(),
            seed,
            windows,
            pending,
        }
    }

    /// Whether `other` reads the same windows of the same raster with the same bands (its
    /// normaliser may differ: the same plan before and after [`Self::set_normaliser`]).
    pub fn same_plan(&self, other: &Sampler) -> bool {
        let spec = FeatureSpec {
            normaliser: self.spec.normaliser.clone(),
            ..other.spec.clone()
        };
        self.windows == other.windows && self.spec == spec
    }

    /// Number of sample windows.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether the plan has no windows (never for a non-empty raster).
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The feature spec (with its final normaliser once [`Self::set_normaliser`] ran).
    pub fn spec(&self) -> &FeatureSpec {
        &self.spec
    }

    /// Whether [`Self::band_values`] and [`Self::set_normaliser`] must run before [`Self::read`].
    pub fn needs_normaliser(&self) -> bool {
        self.pending.is_some()
    }

    /// The pixels [`Self::band_values`] (`for_values`) or [`Self::read`] decodes for sample
    /// window `index`: a caller whose reads are slow can fetch their bytes ahead
    /// ([`GeoTiffReader::ranges_to_read`]).
    pub fn pixel_window(&self, index: usize, for_values: bool) -> Result<Window, SegmentError> {
        let blocks = self.window(index)?.blocks;
        Ok(if for_values {
            self.spec.block_pixels(blocks)
        } else {
            self.spec.read_window(blocks)
        })
    }

    /// Raw values of the selected bands at a spread subset of the valid pixels of sample window
    /// `index` (`result[band]`), for the normalisation.
    ///
    /// This decodes the window a first time; [`Self::read`] decodes it again for the features,
    /// because keeping the decoded windows would cost up to `r²` times the sample's memory (a
    /// caller that can keep some decodes each once: [`Self::decode`], [`Self::band_values_of`],
    /// [`Self::features_of`]).
    pub fn band_values<R: Read + Seek>(
        &self,
        reader: &mut GeoTiffReader<R>,
        index: usize,
    ) -> Result<Vec<Vec<f64>>, SegmentError> {
        let pixels = reader.read_window(self.pixel_window(index, true)?)?;
        self.band_values_of(&pixels, index)
    }

    /// The pixels of sample window `index` that both [`Self::band_values_of`] and
    /// [`Self::features_of`] take (those [`Self::read`] decodes).
    pub fn decode<R: Read + Seek>(
        &self,
        reader: &mut GeoTiffReader<R>,
        index: usize,
    ) -> Result<PixelBlock, SegmentError> {
        Ok(reader.read_window(self.pixel_window(index, false)?)?)
    }

    /// [`Self::band_values`] of sample window `index` from `pixels`, which must cover its
    /// [`Self::pixel_window`] (for values, or for the features).
    pub fn band_values_of(
        &self,
        pixels: &PixelBlock,
        index: usize,
    ) -> Result<Vec<Vec<f64>>, SegmentError> {
        let spec = &self.spec;
        let window = self.pixel_window(index, true)?;
        let pixels = pixels.crop(window).ok_or(SegmentError::SampleWindow {
            index,
            got: pixels.window,
            expected: window,
        })?;
        let valid = spec.validity.mask(&pixels);
        let step = (pixels.window.len() * self.windows.len())
            .div_ceil(MAX_NORMALISER_VALUES)
            .max(1);
        let mut values = vec![Vec::new(); spec.dims()];
        for p in (0..valid.len()).step_by(step).filter(|&p| valid[p]) {
            for (d, &b) in spec.bands.iter().enumerate() {
                values[d].push(pixels.samples.get_f64(p * pixels.bands + b));
            }
        }
        Ok(values)
    }

    /// Fits the normaliser from the [`Self::band_values`] of every window, in window order.
    pub fn set_normaliser(&mut self, windows: Vec<Vec<Vec<f64>>>) -> Result<(), SegmentError> {
        let Some(method) = self.pending else {
            return Ok(());
        };
        self.check_count(windows.len())?;
        let mut values: Vec<Vec<f64>> = vec![Vec::new(); self.spec.dims()];
        for window in windows {
            for (all, part) in values.iter_mut().zip(window) {
                all.extend(part);
            }
        }
        if values.iter().all(Vec::is_empty) {
            return Err(SegmentError::NoValidData);
        }
        self.spec.normaliser = Normaliser::fit(method, &mut values);
        self.pending = None;
        Ok(())
    }

    /// Decodes sample window `index` and returns its features.
    pub fn read<R: Read + Seek>(
        &self,
        reader: &mut GeoTiffReader<R>,
        index: usize,
    ) -> Result<Features, SegmentError> {
        if self.pending.is_some() {
            return Err(SegmentError::NormaliserNotFitted);
        }
        self.features_of(&self.decode(reader, index)?, index)
    }

    /// [`Self::read`] from `pixels`, the window's [`Self::decode`]d pixels.
    pub fn features_of(&self, pixels: &PixelBlock, index: usize) -> Result<Features, SegmentError> {
        if self.pending.is_some() {
            return Err(SegmentError::NormaliserNotFitted);
        }
        let blocks = self.window(index)?.blocks;
        let window = self.pixel_window(index, false)?;
        if pixels.window != window {
            return Err(SegmentError::SampleWindow {
                index,
                got: pixels.window,
                expected: window,
            });
        }
        Ok(self.spec.features(pixels, blocks).0)
    }

    /// The features of sample window `index`, cut from features already in memory.
    pub fn crop(&self, features: &Features, index: usize) -> Option<Features> {
        features.crop(self.windows.get(index)?.blocks)
    }

    fn window(&self, index: usize) -> Result<&SampleWindow, SegmentError> {
        self.windows.get(index).ok_or(SegmentError::SampleWindows {
            expected: self.windows.len(),
            got: index + 1,
        })
    }

    fn check_count(&self, got: usize) -> Result<(), SegmentError> {
        if got == self.windows.len() {
            Ok(())
        } else {
            Err(SegmentError::SampleWindows {
                expected: self.windows.len(),
                got,
            })
        }
    }

    /// Draws the sample from the windows' features (all of them, in window order) and fits the
    /// centres.
    pub fn fit(
        self,
        windows: Vec<Features>,
        progress: &impl Progress,
    ) -> Result<Fitted, SegmentError> {
        let points = self.pick(&windows)?;
        fit_points(self.spec, self.params, self.seed, points, progress)
    }

    /// The sampled blocks' features (each window's seeded quota of its valid blocks), from the
    /// features of every window in window order.
    fn pick(&self, windows: &[Features]) -> Result<Vec<f32>, SegmentError> {
        if self.pending.is_some() {
            return Err(SegmentError::NormaliserNotFitted);
        }
        self.check_count(windows.len())?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed_for(self.seed, salt::PICK));
        let mut points = Vec::new();
        for (features, w) in windows.iter().zip(&self.windows) {
            for b in sample::pick(&features.valid, w.quota, &mut rng) {
                points.extend_from_slice(
                    &features.values[b * features.dims..(b + 1) * features.dims],
                );
            }
        }
        Ok(points)
    }
}

/// Fits the centres of a run seeded with `seed` on `points` (features of `spec`).
fn fit_points(
    spec: FeatureSpec,
    params: KMeansParams,
    seed: u64,
    points: Vec<f32>,
    progress: &impl Progress,
) -> Result<Fitted, SegmentError> {
    if points.is_empty() {
        return Err(SegmentError::NoValidData);
    }
    let dims = spec.dims();
    let centres = super::fit(
        &points,
        dims,
        params.k,
        seed_for(seed, salt::FIT),
        params.fit,
        progress,
    )?;
    let model = KMeansModel {
        params,
        seed,
        spec,
        centres,
        fitted_blocks: points.len() / dims,
    };
    Ok(Fitted {
        model,
        sample: points,
    })
}

/// The fitting sample of several rasters of the same bands (a list of scenes, the tiles of a
/// mosaic), for one model that labels them all alike. Each raster's share of the sample
/// follows its share of the pixels; the normalisation is fitted once on the values of all of
/// them, and the centres once on all their sampled blocks. For one raster it is exactly that
/// raster's [`Sampler`].
#[derive(Debug, Clone, PartialEq)]
pub struct JointSampler {
    samplers: Vec<Sampler>,
    params: KMeansParams,
    seed: u64,
}

impl JointSampler {
    /// Plans the sample of the rasters `infos` describe (at least one).
    pub fn new(
        infos: &[&RasterInfo],
        params: &KMeansParams,
        seed: u64,
    ) -> Result<Self, SegmentError> {
        let Some(first) = infos.first() else {
            return Err(SegmentError::NoRasters);
        };
        if infos.len() == 1 {
            return Ok(Self {
                samplers: vec![Sampler::new(first, params, seed)?],
                params: params.clone(),
                seed,
            });
        }
        let pixels: Vec<u64> = infos
            .iter()
            .map(|i| u64::from(i.width) * u64::from(i.height))
            .collect();
        let total: u64 = pixels.iter().sum::<u64>().max(1);
        let mut samplers = Vec::with_capacity(infos.len());
        for (i, (info, &px)) in infos.iter().zip(&pixels).enumerate() {
            if (info.bands, info.sample_type) != (first.bands, first.sample_type) {
                return Err(SegmentError::OtherBands {
                    raster: i + 1,
                    found: format!("{} {} band(s)", info.bands, info.sample_type.name()),
                    expected: format!("{} {} band(s)", first.bands, first.sample_type.name()),
                });
            }
            let share = (params.sample_size as u128 * u128::from(px) / u128::from(total)) as usize;
            let own = KMeansParams {
                sample_size: share.max(1),
                ..params.clone()
            };
            samplers.push(Sampler::new(
                info,
                &own,
                seed_for(seed, salt::RASTER + i as u64),
            )?);
        }
        Ok(Self {
            samplers,
            params: params.clone(),
            seed,
        })
    }

    /// The sample of each raster, in the order given: read their windows with readers of
    /// that raster.
    pub fn samplers(&self) -> &[Sampler] {
        &self.samplers
    }

    /// Whether [`Self::set_normaliser`] must run before the features are read.
    pub fn needs_normaliser(&self) -> bool {
        self.samplers.iter().any(Sampler::needs_normaliser)
    }

    /// Fits one normalisation from the [`Sampler::band_values`] of every window of every
    /// raster (`values[raster][window]`).
    pub fn set_normaliser(&mut self, values: Vec<Vec<Vec<Vec<f64>>>>) -> Result<(), SegmentError> {
        if let [only] = self.samplers.as_mut_slice() {
            let [windows] =
                <[_; 1]>::try_from(values).map_err(|v| SegmentError::SampleWindows {
                    expected: 1,
                    got: v.len(),
                })?;
            return only.set_normaliser(windows);
        }
        let Some(method) = self.samplers.first().and_then(|s| s.pending) else {
            return Ok(());
        };
        let dims = self.samplers[0].spec.dims();
        let mut all: Vec<Vec<f64>> = vec![Vec::new(); dims];
        for (sampler, windows) in self.samplers.iter().zip(values) {
            sampler.check_count(windows.len())?;
            for window in windows {
                for (a, part) in all.iter_mut().zip(window) {
                    a.extend(part);
                }
            }
        }
        if all.iter().all(Vec::is_empty) {
            return Err(SegmentError::NoValidData);
        }
        let normaliser = Normaliser::fit(method, &mut all);
        for sampler in &mut self.samplers {
            sampler.spec.normaliser = normaliser.clone();
            sampler.pending = None;
        }
        Ok(())
    }

    /// Fits the centres on the sampled blocks of every raster (`windows[raster]`: the features
    /// of each of its windows, in order). The model's feature spec is the first raster's.
    pub fn fit(
        self,
        windows: Vec<Vec<Features>>,
        progress: &impl Progress,
    ) -> Result<Fitted, SegmentError> {
        if windows.len() != self.samplers.len() {
            return Err(SegmentError::SampleWindows {
                expected: self.samplers.len(),
                got: windows.len(),
            });
        }
        let mut samplers = self.samplers;
        if samplers.len() == 1 {
            let (only, windows) = (samplers.remove(0), windows.into_iter().flatten().collect());
            return only.fit(windows, progress);
        }
        let mut points = Vec::new();
        for (sampler, windows) in samplers.iter().zip(&windows) {
            points.extend(sampler.pick(windows)?);
        }
        let spec = samplers.swap_remove(0).spec;
        fit_points(spec, self.params, self.seed, points, progress)
    }
}

/// Inertia and silhouette for k = 2..=16 on (a seeded subset of) the fitting sample.
pub fn k_curve(fitted: &Fitted, progress: &impl Progress) -> Result<Vec<KChoice>, SegmentError> {
    sample_k_curve(
        &fitted.sample,
        fitted.model.spec.dims(),
        fitted.model.seed,
        progress,
    )
}

/// Inertia and silhouette for k = 2..=16 on (a subset of) a method's fitting sample: `sample`
/// holds points of `dims` features, as the method clusters them.
pub fn sample_k_curve(
    sample: &[f32],
    dims: usize,
    seed: u64,
    progress: &impl Progress,
) -> Result<Vec<KChoice>, SegmentError> {
    const MAX_POINTS: usize = 20_000;
    let n = sample.len() / dims.max(1);
    let step = n.div_ceil(MAX_POINTS).max(1);
    let points: Vec<f32> = sample
        .chunks_exact(dims)
        .step_by(step)
        .flatten()
        .copied()
        .collect();
    let max_k = 16.min(points.len() / dims);
    Ok(super::inertia_curve(
        &points,
        dims,
        2..=max_k,
        seed,
        progress,
    )?)
}
