//! A segmentation run, whatever the method: parameters, the [`Segmenter`] seam where methods plug
//! in, the unit driver with its output sinks, and the label raster's writer options.
//!
//! A run is: make a [`Segmenter`] ([`segmenter`]; K-Means: [`crate::kmeans::model::fit`] on a
//! stratified sample), then label the raster unit by unit ([`Segmenter::units`], whole output tiles) with
//! [`Segmenter::label_into`], which reads each unit with its halo ([`Segmenter::prepare`],
//! synchronous I/O), classifies its blocks ([`Segmenter::classify`], `async` so a GPU readback
//! can sit inside it), smooths and expands them to pixels ([`Segmenter::finish`]) and hands the
//! labels to a [`UnitSink`] (class statistics, tile encoder, label preview). [`Segmenter::run`]
//! does the units in order on one reader; the CLI spreads them over threads, one reader each, and
//! merges the per-unit sinks in order; both give the same bytes.

mod driver;
mod model_file;
mod output;
mod parts;
mod runtime;
mod segmenter;
mod tiling;

pub use driver::{EncodedTiles, Segmentation, TileWriter, UnitSink, segment, segmenter};
pub use model_file::{FittedInput, FittedMethod, MODEL_FILE_FORMAT, ModelFile, ModelFileError};
pub use output::{CPU_BACKEND, label_encoder, part_writer_options, write_geotiff, writer_options};
pub use parts::{Part, PartError, tile_rows};
#[cfg(feature = "cnn")]
pub use runtime::Accelerator;
pub use runtime::Runtime;
pub use segmenter::{MethodModel, PreparedUnit, Segmenter};
pub use tiling::{MAX_HALO_PX, MAX_SMOOTH, UNIT_WIDTH, units};

use crate::cnn::CnnParams;
use crate::cnn::bands::BandRoleError;
use crate::geotiff::{DecodeError, EncodeError, RasterInfo};
use crate::kmeans::KMeansError;
use crate::kmeans::model::KMeansParams;
use crate::progress::Cancelled;
use crate::smoothing::majority_halo;

/// Everything a user chooses for a run: the method and its parameters, the post-processing
/// every method shares, and the seed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SegmentParams {
    pub method: MethodParams,
    pub post: PostProcess,
    /// Seed of every random choice of the run (same seed, same labels).
    pub seed: u64,
}

impl Default for SegmentParams {
    fn default() -> Self {
        Self {
            method: MethodParams::Kmeans(KMeansParams::default()),
            post: PostProcess::default(),
            seed: 0,
        }
    }
}

/// A segmentation method and its own parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MethodParams {
    /// K-Means on per-block features.
    Kmeans(KMeansParams),
    /// K-Means on the embeddings of a learned network.
    Cnn(CnnParams),
}

impl MethodParams {
    /// The method's name as manifests and front ends spell it.
    pub fn name(&self) -> &'static str {
        match self {
            MethodParams::Kmeans(_) => "kmeans",
            MethodParams::Cnn(_) => "cnn",
        }
    }

    /// Block edge in pixels of the label grid.
    pub fn resolution(&self) -> u32 {
        match self {
            MethodParams::Kmeans(p) => p.resolution,
            MethodParams::Cnn(p) => p.resolution,
        }
    }
}

/// What happens to the block labels of every method: majority filter, then sieve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PostProcess {
    /// Majority-filter kernel size on the block grid (odd, up to 15); 0 or 1 switches it off.
    pub smooth: usize,
    /// Minimum mapping unit in pixels: smaller regions merge into a neighbour (0 = off). At
    /// resolution r a block counts as r² pixels.
    pub mmu: u32,
}

impl Default for PostProcess {
    fn default() -> Self {
        Self { smooth: 3, mmu: 16 }
    }
}

impl SegmentParams {
    /// K-Means with these parameters and the default post-processing and seed.
    pub fn kmeans(params: KMeansParams) -> Self {
        Self {
            method: MethodParams::Kmeans(params),
            ..Self::default()
        }
    }

    /// Checks the parameters against each other and against `info`.
    pub fn validate(&self, info: &RasterInfo) -> Result<(), SegmentError> {
        let r = self.method.resolution();
        let post = self.post;
        if post.smooth > MAX_SMOOTH || (post.smooth > 1 && post.smooth.is_multiple_of(2)) {
            return Err(SegmentError::BadSmoothing(post.smooth));
        }
        match &self.method {
            MethodParams::Kmeans(p) => {
                p.validate(info)?;
            }
            MethodParams::Cnn(p) => {
                p.validate()?;
                p.resolve(info)?;
            }
        }
        let max_blocks = MAX_HALO_PX / r;
        if tiling::halo_blocks(post, r) > max_blocks {
            let max_cells = max_blocks.saturating_sub(majority_halo(post.smooth) as u32);
            return Err(SegmentError::MmuTooLarge {
                mmu: post.mmu,
                resolution: r,
                max: max_cells * r * r,
            });
        }
        if info.width == 0 || info.height == 0 {
            return Err(SegmentError::Empty {
                width: info.width,
                height: info.height,
            });
        }
        self.check_unit_memory(info)
    }

    /// Refuses parameters whose largest unit, with its halo, would hold more than the decoder's
    /// default window limit, before any work starts (wide halos on many-band rasters): the
    /// decoded pixels, their validity, and the f32 features of every pixel (twice with
    /// pre-smoothing).
    fn check_unit_memory(&self, info: &RasterInfo) -> Result<(), SegmentError> {
        let r = self.method.resolution();
        // Pixels read around the labelled blocks, and f32 values held per pixel.
        let (margin, values) = match &self.method {
            MethodParams::Kmeans(p) => {
                let dims = p.bands.as_ref().map_or(info.data_bands().len(), Vec::len) as u64;
                (u32::from(p.presmooth), dims * (1 + u64::from(p.presmooth)))
            }
            MethodParams::Cnn(p) => (
                crate::cnn::MARGIN,
                CNN_VALUES_PER_PIXEL
                    + p.bands.as_ref().map_or(info.data_bands().len(), Vec::len) as u64,
            ),
        };
        let halo_px = u64::from(tiling::halo_blocks(self.post, r) * r + margin);
        let width = (u64::from(UNIT_WIDTH) + 2 * halo_px + u64::from(r)).min(u64::from(info.width));
        let height = (u64::from(crate::geotiff::TILE_SIZE) + 2 * halo_px + u64::from(r))
            .min(u64::from(info.height));
        let per_pixel = info.bands as u64 * info.sample_type.bytes() as u64 + 1 + values * 4;
        let bytes = width * height * per_pixel;
        let limit = crate::geotiff::Limits::default().max_window_bytes as u64;
        if bytes > limit {
            return Err(SegmentError::UnitTooLarge {
                mib: bytes.div_ceil(1 << 20),
                limit_mib: limit >> 20,
                bands: info.bands,
                sample_type: info.sample_type.name(),
            });
        }
        Ok(())
    }
}

/// f32 values a CNN run holds per pixel of a window besides the band values: 6 input slots, a
/// 16-dimensional embedding and the network's intermediate tensors.
const CNN_VALUES_PER_PIXEL: u64 = 64;

/// Why a segmentation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SegmentError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    KMeans(KMeansError),
    #[error(transparent)]
    BandRoles(#[from] BandRoleError),
    #[error("band {0} has a spectral role but is not among the bands to use")]
    RoleOutsideBands(usize),
    #[error(
        "none of the bands to use has a spectral role the CNN reads (blue, green, red, NIR, SWIR1, SWIR2 or panchromatic): state them with --band-roles"
    )]
    NoRoleInBands,
    #[error(
        "this build of Mapseg has no CNN method (it was built without the engine's `cnn` feature)"
    )]
    NoCnn,
    #[error("no CNN model was given, and this build has none built in")]
    NoModel,
    #[error(
        "the model was fitted with the network {fitted}, but the network given is {given} (other weights): pass the network it was fitted with"
    )]
    OtherNetwork { fitted: String, given: String },
    #[error("the compute backend failed: {0}")]
    Backend(String),
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
    #[error("the {what} must be {allowed} (got {value})")]
    OutOfRange {
        what: &'static str,
        value: f64,
        allowed: &'static str,
    },
    #[error("smoothing kernel must be 0 (off) or an odd size from 3 to {MAX_SMOOTH} (got {0})")]
    BadSmoothing(usize),
    #[error(
        "minimum mapping unit of {mmu} px is too large at resolution {resolution} (at most {max} px)"
    )]
    MmuTooLarge { mmu: u32, resolution: u32, max: u32 },
    #[error(
        "the `unit` normalisation (divide by 255) needs 8-bit data, but the raster has {sample_type} samples"
    )]
    UnitNeedsU8 { sample_type: &'static str },
    #[error("no raster was given to fit on")]
    NoRasters,
    #[error(
        "raster {raster} has {found}, but the first has {expected}: a model is fitted on rasters of the same bands"
    )]
    OtherBands {
        raster: usize,
        found: String,
        expected: String,
    },
    #[error("the raster has no valid pixels to cluster (everything is nodata)")]
    NoValidData,
    #[error("the raster is empty ({width}x{height} pixels)")]
    Empty { width: u32, height: u32 },
    #[error("the sample has {expected} windows, but {got} were handed back")]
    SampleWindows { expected: usize, got: usize },
    #[error("sample window {index} needs the pixels of {expected:?}, not of {got:?}")]
    SampleWindow {
        index: usize,
        got: crate::raster::Window,
        expected: crate::raster::Window,
    },
    #[error("the band normalisation must be fitted before the sample's features are read")]
    NormaliserNotFitted,
    #[error("unit {unit:?} does not start on a block boundary of resolution {resolution}")]
    UnalignedUnit {
        unit: crate::raster::Window,
        resolution: u32,
    },
    #[error(
        "a unit of work with its smoothing halo would hold {mib} MiB ({bands} {sample_type} bands and their features), more than the {limit_mib} MiB limit: lower the minimum mapping unit or the smoothing, use a coarser resolution or fewer bands"
    )]
    UnitTooLarge {
        mib: u64,
        limit_mib: u64,
        bands: usize,
        sample_type: &'static str,
    },
    #[error("could not read the input: {0}")]
    ReadInput(#[source] std::io::Error),
    #[error(transparent)]
    Polygons(Box<crate::polygons::PolygonError>),
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

impl From<KMeansError> for SegmentError {
    /// Cancellation inside a fit is the run's cancellation: one variant for callers to match.
    fn from(e: KMeansError) -> Self {
        match e {
            KMeansError::Cancelled(c) => SegmentError::Cancelled(c),
            other => SegmentError::KMeans(other),
        }
    }
}

impl From<crate::polygons::PolygonError> for SegmentError {
    /// Cancellation while tracing polygons is the run's cancellation.
    fn from(e: crate::polygons::PolygonError) -> Self {
        match e {
            crate::polygons::PolygonError::Cancelled(c) => SegmentError::Cancelled(c),
            other => SegmentError::Polygons(Box::new(other)),
        }
    }
}

impl SegmentError {
    /// Whether the caller cancelled the run (as opposed to a failure).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, SegmentError::Cancelled(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_stay_small() {
        assert!(std::mem::size_of::<SegmentError>() <= 64);
    }

    #[test]
    fn cancellation_inside_a_fit_is_one_variant() {
        let e = SegmentError::from(KMeansError::Cancelled(Cancelled));
        assert!(e.is_cancelled());
    }

    #[test]
    fn params_serialise_with_a_tagged_method() {
        let json = serde_json::to_value(SegmentParams::default()).unwrap();
        assert_eq!(json["method"]["name"], "kmeans");
        assert_eq!(json["method"]["k"], 8);
        assert_eq!(json["post"]["smooth"], 3);
        let back: SegmentParams = serde_json::from_value(json).unwrap();
        assert_eq!(back, SegmentParams::default());
    }

    /// A `bands`-band 8-bit raster of 8192 × 8192 pixels.
    fn raster(bands: usize) -> RasterInfo {
        use crate::geotiff::{Compression, Layout};
        RasterInfo {
            sample_type: crate::raster::SampleType::U8,
            compression: Compression::Deflate,
            layout: Layout::Tiles {
                width: 256,
                height: 256,
            },
            ..RasterInfo::for_tests(8192, 8192, bands)
        }
    }

    #[test]
    fn unit_memory_counts_the_features_as_well_as_the_pixels() {
        // The widest halo at resolution 1: 3072 × 2304 px per unit.
        let mut params = SegmentParams::default();
        params.post.mmu = 100_000;
        let MethodParams::Kmeans(k) = &mut params.method else {
            unreachable!("the default method is K-Means")
        };
        k.resolution = 1;
        let max_mmu = match params.validate(&raster(3)) {
            Err(SegmentError::MmuTooLarge { max, .. }) => max,
            other => panic!("{other:?}"),
        };
        params.post.mmu = max_mmu;
        // 3 bands: 1 + 1 + 12 bytes per pixel, about 95 MiB.
        assert!(params.validate(&raster(3)).is_ok());
        // 12 bands: 12 + 1 + 48 bytes per pixel, about 410 MiB, though the pixels alone fit.
        let err = params.validate(&raster(12)).unwrap_err();
        assert!(
            matches!(err, SegmentError::UnitTooLarge { limit_mib: 256, .. }),
            "{err}"
        );
    }
}
