//! The K-Means segmentation pipeline: fit global centres on a stratified sample, then label the
//! raster window by window (each with a halo, so no seams), smooth, and stream the labels out.
//!
//! [`segment`] runs everything on the calling thread. Callers that want parallelism use the same
//! pieces and get identical output: [`fit`], then for each of [`Model::units`] (whole tiles of
//! the output) [`Model::label_window`] with one reader per thread, a
//! [`crate::geotiff::TileEncoder`] to compress and a [`ClassStats`] to count, and one
//! [`GeoTiffWriter`] that takes the compressed tiles in any order.

use std::io::{Read, Seek, Write};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::features::{FeatureSpec, Features, Normaliser, RESOLUTIONS, Validity};
use crate::geotiff::{
    DecodeError, EncodeError, GeoTiffReader, GeoTiffWriter, RasterInfo, TILE_SIZE, WriterOptions,
};
use crate::kmeans::{self, Centres, FitOptions, KChoice, KMeansError, MAX_K};
use crate::labels::{LegendEntry, NODATA, default_legend};
use crate::manifest::{InputIdentity, RunManifest};
use crate::progress::{self, Cancelled, Progress, Stage};
use crate::raster::{SampleType, Samples, Window};
use crate::sample::{self, SampleWindow};
use crate::smoothing::{majority_filter, majority_halo, sieve, sieve_halo};
use crate::stats::ClassStats;

/// Width of one unit of labelling work, in pixels (a multiple of the tile size and of every
/// resolution, so a unit is a run of whole output tiles).
pub const UNIT_WIDTH: u32 = 4 * TILE_SIZE;

/// The largest halo, in pixels, that smoothing may ask for; it bounds the memory of a unit.
pub const MAX_HALO_PX: u32 = 1024;

/// Largest majority-filter kernel.
pub const MAX_SMOOTH: usize = 15;

/// Everything a user chooses for a K-Means run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SegmentParams {
    /// Number of classes, 2 to 64.
    pub k: usize,
    /// Block edge in pixels: 1, 2, 4, 8 or 16.
    pub resolution: u32,
    /// File bands to cluster on, 0-based; `None` uses every band but alpha.
    pub bands: Option<Vec<usize>>,
    /// 3×3 mean filter on the pixels before the block means.
    pub presmooth: bool,
    /// Majority-filter kernel size on the block grid (odd, up to 15); 0 or 1 switches it off.
    pub smooth: usize,
    /// Minimum mapping unit in pixels: smaller regions merge into a neighbour (0 = off). At
    /// resolution r a block counts as r² pixels.
    pub mmu: u32,
    pub seed: u64,
    /// Blocks in the fitting sample (at most; fewer when the raster has fewer valid blocks).
    pub sample_size: usize,
    pub fit: FitOptions,
}

impl Default for SegmentParams {
    fn default() -> Self {
        Self {
            k: 8,
            resolution: 2,
            bands: None,
            presmooth: false,
            smooth: 3,
            mmu: 16,
            seed: 0,
            sample_size: 50_000,
            fit: FitOptions::default(),
        }
    }
}

/// Why a segmentation failed.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    KMeans(#[from] KMeansError),
    #[error(
        "band {band} does not exist: the raster has {bands} band(s) (bands are numbered from 1)"
    )]
    NoSuchBand { band: usize, bands: usize },
    #[error("the raster has no data bands to cluster (its only band is alpha)")]
    NoDataBands,
    #[error("band {0} is the alpha band and cannot be clustered")]
    AlphaBand(usize),
    #[error("band {0} is selected twice")]
    DuplicateBand(usize),
    #[error("at most 255 bands can be clustered (got {0})")]
    TooManyBands(usize),
    #[error("resolution must be one of 1, 2, 4, 8, 16 (got {0})")]
    BadResolution(u32),
    #[error("smoothing kernel must be 0 (off) or an odd size from 3 to {MAX_SMOOTH} (got {0})")]
    BadSmoothing(usize),
    #[error(
        "minimum mapping unit of {mmu} px is too large at resolution {resolution} (at most {max} px)"
    )]
    MmuTooLarge { mmu: u32, resolution: u32, max: u32 },
    #[error("the raster has no valid pixels to cluster (everything is nodata)")]
    NoValidData,
    #[error("the raster is empty ({0}x{1} pixels)")]
    Empty(u32, u32),
    #[error("could not write the output: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl SegmentParams {
    /// Cells of the block grid below which the sieve merges a region.
    fn sieve_cells(&self) -> usize {
        let per_block = self.resolution * self.resolution;
        self.mmu.div_ceil(per_block) as usize
    }

    /// Halo around a unit, in blocks.
    fn halo_blocks(&self) -> u32 {
        let sieve = if self.mmu > 0 {
            sieve_halo(self.sieve_cells())
        } else {
            0
        };
        (majority_halo(self.smooth) + sieve) as u32
    }

    /// Checks the parameters against each other and against `info`; returns the bands to use.
    pub fn validate(&self, info: &RasterInfo) -> Result<Vec<usize>, SegmentError> {
        if !(2..=MAX_K).contains(&self.k) {
            return Err(KMeansError::BadK(self.k).into());
        }
        if !RESOLUTIONS.contains(&self.resolution) {
            return Err(SegmentError::BadResolution(self.resolution));
        }
        if self.smooth > MAX_SMOOTH || (self.smooth > 1 && self.smooth.is_multiple_of(2)) {
            return Err(SegmentError::BadSmoothing(self.smooth));
        }
        let max_blocks = MAX_HALO_PX / self.resolution;
        if self.halo_blocks() > max_blocks {
            let max_cells = max_blocks.saturating_sub(majority_halo(self.smooth) as u32);
            let max = max_cells * self.resolution * self.resolution;
            return Err(SegmentError::MmuTooLarge {
                mmu: self.mmu,
                resolution: self.resolution,
                max,
            });
        }
        if info.width == 0 || info.height == 0 {
            return Err(SegmentError::Empty(info.width, info.height));
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

/// Fitted centres plus everything needed to label any window of the raster.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub params: SegmentParams,
    pub spec: FeatureSpec,
    pub centres: Centres,
    /// Blocks in the fitting sample.
    pub sample_size: usize,
}

/// A fitted model and the sample it was fitted on (for the k curve).
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub model: Model,
    pub sample: Vec<f32>,
}

/// How the pixels of `reader` become features under `params`: the bands, validity and
/// normalisation (a percentile stretch from the sample windows for data that is not 8-bit).
pub fn feature_spec<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    params: &SegmentParams,
    progress: &impl Progress,
) -> Result<FeatureSpec, SegmentError> {
    let info = reader.info().clone();
    let bands = params.validate(&info)?;
    let validity = Validity {
        data_bands: info.data_bands(),
        nodata: info.nodata,
        alpha_band: info.alpha_band,
    };
    let mut spec = FeatureSpec {
        width: info.width,
        height: info.height,
        normaliser: Normaliser::unit_u8(bands.len()),
        bands,
        resolution: params.resolution,
        presmooth: params.presmooth,
        validity,
    };
    if info.sample_type != SampleType::U8 {
        spec.normaliser = stretch_from(reader, &spec, &sample_windows(&spec, params), progress)?;
    }
    Ok(spec)
}

fn sample_windows(spec: &FeatureSpec, params: &SegmentParams) -> Vec<SampleWindow> {
    let (gw, gh) = spec.grid_size();
    sample::plan(gw, gh, params.sample_size, params.seed)
}

/// Draws the stratified sample from `reader` and fits the centres.
pub fn fit<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    params: &SegmentParams,
    progress: &impl Progress,
) -> Result<Fitted, SegmentError> {
    let sampler = Sampler::new(reader, params, progress)?;
    let mut windows = Vec::with_capacity(sampler.len());
    for i in 0..sampler.len() {
        progress::check(progress)?;
        progress.report(Stage::Sampling, i as f32 / sampler.len() as f32);
        windows.push(sampler.read(reader, i)?);
    }
    progress.report(Stage::Sampling, 1.0);
    sampler.fit(windows, progress)
}

/// The fitting sample, window by window. Plan it with [`Sampler::new`], read the windows
/// ([`Sampler::read`], with any reader on any thread), and hand them back in order to
/// [`Sampler::fit`]; the result is the same however the windows were read.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampler {
    spec: FeatureSpec,
    params: SegmentParams,
    windows: Vec<SampleWindow>,
}

impl Sampler {
    /// Plans the sample of `reader`'s raster (computing the band stretch when it needs one).
    pub fn new<R: Read + Seek>(
        reader: &mut GeoTiffReader<R>,
        params: &SegmentParams,
        progress: &impl Progress,
    ) -> Result<Self, SegmentError> {
        Ok(Self::with_spec(
            feature_spec(reader, params, progress)?,
            params,
        ))
    }

    /// Plans the sample for a known feature spec.
    pub fn with_spec(spec: FeatureSpec, params: &SegmentParams) -> Self {
        let windows = sample_windows(&spec, params);
        Self {
            spec,
            params: params.clone(),
            windows,
        }
    }

    /// Number of sample windows.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    pub fn spec(&self) -> &FeatureSpec {
        &self.spec
    }

    /// Decodes sample window `index` and returns its features.
    pub fn read<R: Read + Seek>(
        &self,
        reader: &mut GeoTiffReader<R>,
        index: usize,
    ) -> Result<Features, SegmentError> {
        let blocks = self.windows[index].blocks;
        let pixels = reader.read_window(self.spec.read_window(blocks))?;
        Ok(self.spec.features(&pixels, blocks).0)
    }

    /// The features of sample window `index`, cut from features already in memory.
    pub fn crop(&self, features: &Features, index: usize) -> Option<Features> {
        features.crop(self.windows[index].blocks)
    }

    /// Draws the sample from the windows' features (in window order) and fits the centres.
    pub fn fit(
        self,
        windows: impl IntoIterator<Item = Features>,
        progress: &impl Progress,
    ) -> Result<Fitted, SegmentError> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.params.seed.wrapping_add(1));
        let mut points = Vec::new();
        for (features, w) in windows.into_iter().zip(&self.windows) {
            for b in sample::pick(&features.valid, w.quota, &mut rng) {
                points.extend_from_slice(
                    &features.values[b * features.dims..(b + 1) * features.dims],
                );
            }
        }
        if points.is_empty() {
            return Err(SegmentError::NoValidData);
        }
        let dims = self.spec.dims();
        let centres = kmeans::fit(
            &points,
            dims,
            self.params.k,
            self.params.seed,
            self.params.fit,
            progress,
        )?;
        let sample_size = points.len() / dims;
        let model = Model {
            params: self.params,
            spec: self.spec,
            centres,
            sample_size,
        };
        Ok(Fitted {
            model,
            sample: points,
        })
    }
}

/// Per-band percentile stretch from the raw values of the sample windows.
fn stretch_from<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    spec: &FeatureSpec,
    windows: &[SampleWindow],
    progress: &impl Progress,
) -> Result<Normaliser, SegmentError> {
    const MAX_VALUES: usize = 200_000;
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); spec.dims()];
    for w in windows {
        progress::check(progress)?;
        let pixels = reader.read_window(spec.block_pixels(w.blocks))?;
        let valid = spec.validity.mask(&pixels);
        let step = (pixels.window.len() * windows.len())
            .div_ceil(MAX_VALUES)
            .max(1);
        for p in (0..valid.len()).step_by(step).filter(|&p| valid[p]) {
            for (d, &b) in spec.bands.iter().enumerate() {
                values[d].push(pixels.samples.get_f64(p * pixels.bands + b));
            }
        }
    }
    if values.iter().all(Vec::is_empty) {
        return Err(SegmentError::NoValidData);
    }
    Ok(Normaliser::from_percentiles(&mut values))
}

/// Inertia and silhouette for k = 2..=16 on (a seeded subset of) the fitting sample.
pub fn k_curve(fitted: &Fitted, progress: &impl Progress) -> Result<Vec<KChoice>, SegmentError> {
    const MAX_POINTS: usize = 20_000;
    let dims = fitted.model.spec.dims();
    let n = fitted.sample.len() / dims;
    let step = n.div_ceil(MAX_POINTS).max(1);
    let points: Vec<f32> = fitted
        .sample
        .chunks_exact(dims)
        .step_by(step)
        .flatten()
        .copied()
        .collect();
    let max_k = 16.min(points.len() / dims);
    Ok(kmeans::inertia_curve(
        &points,
        dims,
        2..=max_k,
        fitted.model.params.seed,
        progress,
    )?)
}

impl Model {
    /// The units of labelling work, tile row after tile row, left to right.
    pub fn units(&self) -> Vec<Window> {
        let (w, h) = (self.spec.width, self.spec.height);
        let mut units = Vec::new();
        for y in (0..h).step_by(TILE_SIZE as usize) {
            for x in (0..w).step_by(UNIT_WIDTH as usize) {
                units.push(Window::new(
                    x,
                    y,
                    UNIT_WIDTH.min(w - x),
                    TILE_SIZE.min(h - y),
                ));
            }
        }
        units
    }

    /// Labels of every pixel of `core` (row-major), [`NODATA`] where the input has no data.
    ///
    /// `core` must start on a multiple of the resolution (every unit of [`Self::units`] does).
    /// The result equals the corresponding part of a whole-raster run.
    pub fn label_window<R: Read + Seek>(
        &self,
        reader: &mut GeoTiffReader<R>,
        core: Window,
    ) -> Result<Vec<u8>, SegmentError> {
        let r = self.spec.resolution;
        let (gw, gh) = self.spec.grid_size();
        let core_blocks = Window::new(
            core.x / r,
            core.y / r,
            core.right().div_ceil(r) - core.x / r,
            core.bottom().div_ceil(r) - core.y / r,
        );
        let work = core_blocks.grow_clipped(self.params.halo_blocks(), gw, gh);
        let pixels = reader.read_window(self.spec.read_window(work))?;
        let (features, valid_px) = self.spec.features(&pixels, work);
        let grid = self.smooth(self.assign(&features), work);
        Ok(expand(&grid, work, r, core, &valid_px, pixels.window))
    }

    /// Nearest-centre labels of a feature grid, [`NODATA`] for invalid blocks.
    fn assign(&self, features: &Features) -> Vec<u8> {
        let mut labels = vec![0u8; features.valid.len()];
        kmeans::assign(
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

    fn smooth(&self, labels: Vec<u8>, blocks: Window) -> Vec<u8> {
        let (w, h) = (blocks.width as usize, blocks.height as usize);
        let filtered = if self.params.smooth > 1 {
            majority_filter(&labels, w, h, self.params.smooth)
        } else {
            labels
        };
        if self.params.mmu > 0 {
            sieve(&filtered, w, h, self.params.sieve_cells())
        } else {
            filtered
        }
    }

    /// The manifest of a run of this model over `input`.
    pub fn manifest(&self, input: InputIdentity) -> RunManifest {
        RunManifest {
            software: "mapseg".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            method: "kmeans".into(),
            backend: "cpu".into(),
            input,
            width: self.spec.width,
            height: self.spec.height,
            params: self.params.clone(),
            bands_used: self.spec.bands.iter().map(|b| b + 1).collect(),
            normaliser: self.spec.normaliser.clone(),
            sample_size: self.sample_size,
            iterations: self.centres.iterations,
            inertia: self.centres.inertia,
            centres: (0..self.centres.k())
                .map(|i| self.centres.centre(i).to_vec())
                .collect(),
        }
    }

    /// Writer options for the label raster of this model: georeferencing carried over, legend
    /// as colour table and class names, the manifest in the metadata.
    pub fn writer_options(
        &self,
        info: &RasterInfo,
        legend: &[LegendEntry],
        manifest: &RunManifest,
    ) -> WriterOptions {
        let mut metadata: Vec<(String, String)> = legend
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("CLASS_{i}_NAME"), e.name.clone()))
            .collect();
        metadata.push(("MAPSEG_MANIFEST".into(), manifest.to_json()));
        WriterOptions {
            width: info.width,
            height: info.height,
            bands: 1,
            sample_type: SampleType::U8,
            georef: info.georef.clone(),
            nodata: Some(f64::from(NODATA)),
            palette: Some(legend.iter().map(|e| e.colour).collect()),
            metadata,
            band_descriptions: vec!["class".into()],
        }
    }
}

/// Block labels of `blocks` spread over the pixels of `core`, nodata where the pixel is.
fn expand(
    grid: &[u8],
    blocks: Window,
    r: u32,
    core: Window,
    valid_px: &[bool],
    decoded: Window,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(core.len());
    if r == 1 {
        // One block per pixel: invalid pixels are invalid blocks, already nodata in the grid.
        for y in core.y..core.bottom() {
            let start = ((y - blocks.y) * blocks.width + (core.x - blocks.x)) as usize;
            out.extend_from_slice(&grid[start..start + core.width as usize]);
        }
        return out;
    }
    for y in core.y..core.bottom() {
        let grid_row = ((y / r - blocks.y) * blocks.width) as usize;
        let px_row = ((y - decoded.y) * decoded.width) as usize;
        for x in core.x..core.right() {
            let valid = valid_px[px_row + (x - decoded.x) as usize];
            out.push(if valid {
                grid[grid_row + (x / r - blocks.x) as usize]
            } else {
                NODATA
            });
        }
    }
    out
}

/// The outcome of a run.
#[derive(Debug)]
pub struct Segmentation<W> {
    pub sink: W,
    pub stats: ClassStats,
    pub manifest: RunManifest,
    pub legend: Vec<LegendEntry>,
}

/// Segments the raster of `reader` into `sink` as a label GeoTIFF, on the calling thread.
pub fn segment<R: Read + Seek, W: Write + Seek>(
    reader: &mut GeoTiffReader<R>,
    sink: W,
    params: &SegmentParams,
    input: InputIdentity,
    progress: &impl Progress,
) -> Result<Segmentation<W>, SegmentError> {
    let fitted = fit(reader, params, progress)?;
    let model = fitted.model;
    let info = reader.info().clone();
    let legend = default_legend(params.k);
    let manifest = model.manifest(input);
    let mut writer = GeoTiffWriter::new(sink, model.writer_options(&info, &legend, &manifest))?;
    let encoder = writer.tile_encoder();
    let mut stats = ClassStats::new(params.k, info.georef.as_ref());
    let units = model.units();
    for (i, unit) in units.iter().enumerate() {
        progress::check(progress)?;
        progress.report(Stage::Assigning, i as f32 / units.len() as f32);
        let labels = model.label_window(reader, *unit)?;
        stats.add_rows(unit.y, unit.width, &labels);
        writer.write_tiles(&encoder.encode(*unit, &Samples::U8(labels))?)?;
    }
    progress.report(Stage::Assigning, 1.0);
    let sink = writer.finish()?;
    Ok(Segmentation {
        sink,
        stats,
        manifest,
        legend,
    })
}
