//! The seam where segmentation methods plug in.
//!
//! A [`Segmenter`] is a prepared method (K-Means: fitted centres) plus the shared
//! post-processing. It labels one unit in three steps:
//!
//! 1. [`Segmenter::prepare`]: decode the unit with its halo and turn the pixels into the method's
//!    input (synchronous I/O; any thread, one reader each);
//! 2. [`Segmenter::classify`]: one label per block, [`NODATA`] where a block has no data. The
//!    only method-specific step; `async`, so a GPU readback can sit inside it;
//! 3. [`Segmenter::finish`]: majority filter, sieve and expansion to pixels, the same for every
//!    method.

use std::io::{Read, Seek};

use super::tiling::{self, PixelMap};
use super::{MethodParams, PostProcess, SegmentError, SegmentParams};
use crate::features::Features;
use crate::geotiff::GeoTiffReader;
use crate::kmeans::model::KMeansModel;
use crate::labels::{LegendEntry, default_legend};
use crate::manifest::{
    InputIdentity, KMeansManifest, MANIFEST_FORMAT, MethodManifest, RunManifest,
};
use crate::raster::Window;

/// A prepared method: what it needs to classify any unit of the raster.
// One per run, never held in bulk: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MethodModel {
    /// Fitted K-Means centres and the feature spec.
    Kmeans(KMeansModel),
    /// The network, the scene's input normalisation and the centres on its embeddings.
    #[cfg(feature = "cnn")]
    Cnn(crate::cnn::CnnModel),
}

/// A method ready to label every unit of one raster.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmenter {
    pub model: MethodModel,
    pub post: PostProcess,
    /// Raster size in pixels.
    pub width: u32,
    pub height: u32,
    /// The device K-Means assigns blocks on; the engine's CPU kernel when `None`.
    #[cfg(feature = "cnn")]
    kmeans_device: Option<super::Accelerator>,
}

/// One unit decoded with its halo and turned into the method's input.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedUnit {
    map: PixelMap,
    input: MethodInput,
}

#[derive(Debug, Clone, PartialEq)]
enum MethodInput {
    Kmeans(Features),
    #[cfg(feature = "cnn")]
    Cnn(crate::cnn::input::SpanInput),
}

impl PreparedUnit {
    /// The unit, in pixels.
    pub fn core(&self) -> Window {
        self.map.core
    }
}

impl Segmenter {
    /// K-Means, fitted, with `post` after it.
    pub fn kmeans(model: KMeansModel, post: PostProcess) -> Self {
        Self {
            width: model.spec.width,
            height: model.spec.height,
            model: MethodModel::Kmeans(model),
            post,
            #[cfg(feature = "cnn")]
            kmeans_device: None,
        }
    }

    /// The same segmenter with K-Means' assignment on `device` (the CPU kernel when `None`).
    /// Labels equal the CPU's except where two centres are exactly as near.
    #[cfg(feature = "cnn")]
    pub fn assigning_on(mut self, device: Option<super::Accelerator>) -> Self {
        self.kmeans_device = device;
        self
    }

    /// The same segmenter with all its work on the CPU: what a front end goes on with when
    /// a GPU is lost mid-run. The fitted centres stay; the CNN's network moves to burn's CPU
    /// backend.
    pub fn on_cpu(&self) -> Self {
        #[cfg_attr(not(feature = "cnn"), allow(unused_mut))]
        let mut cpu = self.clone();
        #[cfg(feature = "cnn")]
        {
            cpu.kmeans_device = None;
            if let MethodModel::Cnn(m) = &self.model {
                cpu.model = MethodModel::Cnn(m.on(super::Accelerator::cpu()));
            }
        }
        cpu
    }

    /// The name of where this segmenter's heavy work runs ("cpu" unless a device was given).
    pub fn backend(&self) -> String {
        match &self.model {
            #[cfg(feature = "cnn")]
            MethodModel::Cnn(m) => m.backend.clone(),
            #[cfg(feature = "cnn")]
            MethodModel::Kmeans(_) => self
                .kmeans_device
                .as_ref()
                .map_or(super::CPU_BACKEND, |a| a.name.as_str())
                .to_owned(),
            #[cfg(not(feature = "cnn"))]
            MethodModel::Kmeans(_) => super::CPU_BACKEND.to_owned(),
        }
    }

    /// The CNN, fitted, with `post` after it.
    #[cfg(feature = "cnn")]
    pub fn cnn(model: crate::cnn::CnnModel, post: PostProcess) -> Self {
        let (width, height) = model.size();
        Self {
            width,
            height,
            model: MethodModel::Cnn(model),
            post,
            kmeans_device: None,
        }
    }

    /// Number of classes the labels take (0..classes, plus [`NODATA`]).
    pub fn classes(&self) -> usize {
        match &self.model {
            MethodModel::Kmeans(m) => m.params.k,
            #[cfg(feature = "cnn")]
            MethodModel::Cnn(m) => m.fit.params.k,
        }
    }

    /// Block edge in pixels of the label grid.
    pub fn resolution(&self) -> u32 {
        match &self.model {
            MethodModel::Kmeans(m) => m.spec.resolution,
            #[cfg(feature = "cnn")]
            MethodModel::Cnn(m) => m.fit.params.resolution,
        }
    }

    /// The default legend: a name and a colour per class.
    pub fn legend(&self) -> Vec<LegendEntry> {
        default_legend(self.classes())
    }

    /// The parameters this segmenter was made with.
    pub fn params(&self) -> SegmentParams {
        match &self.model {
            MethodModel::Kmeans(m) => SegmentParams {
                method: MethodParams::Kmeans(m.params.clone()),
                post: self.post,
                seed: m.seed,
            },
            #[cfg(feature = "cnn")]
            MethodModel::Cnn(m) => SegmentParams {
                method: MethodParams::Cnn(m.fit.params.clone()),
                post: self.post,
                seed: m.fit.seed,
            },
        }
    }

    /// The units of labelling work (see [`tiling::units`]).
    pub fn units(&self) -> Vec<Window> {
        tiling::units(self.width, self.height)
    }

    /// The window of pixels [`Self::prepare`] decodes for `core`, where one window is all it
    /// reads (K-Means): a caller whose reads are slow can fetch its bytes ahead
    /// ([`GeoTiffReader::ranges_to_read`]). `None` for a method that reads otherwise or a
    /// `core` that [`Self::prepare`] refuses.
    pub fn input_window(&self, core: Window) -> Option<Window> {
        let r = self.resolution();
        if !core.x.is_multiple_of(r) || !core.y.is_multiple_of(r) {
            return None;
        }
        let blocks = tiling::core_blocks(core, r).grow_clipped(
            tiling::halo_blocks(self.post, r),
            self.width.div_ceil(r),
            self.height.div_ceil(r),
        );
        match &self.model {
            MethodModel::Kmeans(m) => Some(m.spec.read_window(blocks)),
            #[cfg(feature = "cnn")]
            MethodModel::Cnn(_) => None,
        }
    }

    /// Decodes `core` (pixels; it must start on a multiple of the resolution, as every unit of
    /// [`Self::units`] does) with the halo its labels depend on, and prepares the method's input.
    pub fn prepare<R: Read + Seek>(
        &self,
        reader: &mut GeoTiffReader<R>,
        core: Window,
    ) -> Result<PreparedUnit, SegmentError> {
        let r = self.resolution();
        if !core.x.is_multiple_of(r) || !core.y.is_multiple_of(r) {
            return Err(SegmentError::UnalignedUnit {
                unit: core,
                resolution: r,
            });
        }
        let grid_w = self.width.div_ceil(r);
        let grid_h = self.height.div_ceil(r);
        let blocks = tiling::core_blocks(core, r).grow_clipped(
            tiling::halo_blocks(self.post, r),
            grid_w,
            grid_h,
        );
        match &self.model {
            MethodModel::Kmeans(m) => {
                let pixels = reader.read_window(m.spec.read_window(blocks))?;
                let (features, valid_px) = m.spec.features(&pixels, blocks);
                Ok(PreparedUnit {
                    map: PixelMap {
                        core,
                        blocks,
                        r,
                        decoded: pixels.window,
                        valid_px,
                    },
                    input: MethodInput::Kmeans(features),
                })
            }
            #[cfg(feature = "cnn")]
            MethodModel::Cnn(m) => {
                let input = m.prepare(reader, blocks)?;
                let decoded = input.span.clip(self.width, self.height);
                let valid_px = crop_validity(&input, decoded);
                Ok(PreparedUnit {
                    map: PixelMap {
                        core,
                        blocks,
                        r,
                        decoded,
                        valid_px,
                    },
                    input: MethodInput::Cnn(input),
                })
            }
        }
    }

    /// One label per block of the prepared unit (halo included), [`NODATA`] where a block has no
    /// data.
    pub async fn classify(&self, unit: &PreparedUnit) -> Result<Vec<u8>, SegmentError> {
        match (&self.model, &unit.input) {
            #[cfg(feature = "cnn")]
            (MethodModel::Kmeans(m), MethodInput::Kmeans(features)) => match &self.kmeans_device {
                Some(accelerator) => m.assign_on(&accelerator.device, features).await,
                None => Ok(m.assign(features)),
            },
            #[cfg(not(feature = "cnn"))]
            (MethodModel::Kmeans(m), MethodInput::Kmeans(features)) => Ok(m.assign(features)),
            #[cfg(feature = "cnn")]
            (MethodModel::Cnn(m), MethodInput::Cnn(input)) => {
                m.classify(input, unit.map.blocks).await
            }
            #[cfg(feature = "cnn")]
            _ => Err(SegmentError::Backend(
                "a unit prepared by another method".into(),
            )),
        }
    }

    /// Smooths the block labels of `unit` and spreads them over its pixels.
    pub fn finish(&self, unit: &PreparedUnit, grid: Vec<u8>) -> Vec<u8> {
        let smoothed = tiling::smooth(grid, unit.map.blocks, self.post, unit.map.r);
        unit.map.expand(&smoothed)
    }

    /// The labels of every pixel of `core` (row-major), [`NODATA`] where the input has no data:
    /// prepare → classify → finish. The result equals the same part of a whole-raster run.
    pub async fn label<R: Read + Seek>(
        &self,
        reader: &mut GeoTiffReader<R>,
        core: Window,
    ) -> Result<Vec<u8>, SegmentError> {
        let unit = self.prepare(reader, core)?;
        let grid = self.classify(&unit).await?;
        Ok(self.finish(&unit, grid))
    }

    /// The manifest of a run of this segmenter over `input` on `backend`.
    pub fn manifest(&self, input: InputIdentity, backend: &str) -> RunManifest {
        let method = match &self.model {
            MethodModel::Kmeans(m) => MethodManifest::Kmeans(KMeansManifest {
                params: m.params.clone(),
                bands_used: m.spec.bands.iter().map(|b| b + 1).collect(),
                normaliser: m.spec.normaliser.clone(),
                fitted_blocks: m.fitted_blocks,
                iterations: m.centres.iterations,
                inertia: m.centres.inertia,
                centres: m.centres.rows(),
            }),
            #[cfg(feature = "cnn")]
            MethodModel::Cnn(m) => {
                let m = &m.fit;
                MethodManifest::Cnn(crate::manifest::CnnManifest {
                    params: m.params.clone(),
                    model: m.model_id.clone(),
                    weights_blake3: m.weights_hash.clone(),
                    band_roles: m.input.roles.clone(),
                    normaliser: m.input.pixels.normaliser.clone(),
                    fitted_blocks: m.fitted_blocks,
                    iterations: m.centres.iterations,
                    inertia: m.centres.inertia,
                    centres: m.centres.rows(),
                })
            }
        };
        let params = self.params();
        RunManifest {
            format: MANIFEST_FORMAT,
            software: "mapseg".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            backend: backend.into(),
            input,
            width: self.width,
            height: self.height,
            seed: params.seed,
            post: params.post,
            method,
            merges: Vec::new(),
            part: None,
        }
    }
}

/// The validity of the pixels of `inside` (a part of the input's span).
#[cfg(feature = "cnn")]
fn crop_validity(input: &crate::cnn::input::SpanInput, inside: Window) -> Vec<bool> {
    let span = input.span;
    let ox = (i64::from(inside.x) - span.x) as usize;
    let oy = (i64::from(inside.y) - span.y) as usize;
    let sw = span.width as usize;
    let mut out = Vec::with_capacity(inside.len());
    for row in 0..inside.height as usize {
        let start = (oy + row) * sw + ox;
        out.extend_from_slice(&input.valid[start..start + inside.width as usize]);
    }
    out
}
