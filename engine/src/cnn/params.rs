//! What a user chooses for a CNN run.

use super::bands::BandRoles;
use crate::features::RESOLUTIONS;
use crate::geotiff::RasterInfo;
use crate::kmeans::model::KMeansParams;
use crate::kmeans::{self, FitOptions, MAX_K};
use crate::pipeline::SegmentError;

/// The id of the model built into the engine (`models/<id>/` in the source tree).
pub const BUILTIN_MODEL: &str = "mapseg-cnn-s1";

/// Pixels read around every window beyond what its labels need: more than the network's
/// receptive radius (`CnnConfig::receptive_radius`), a multiple of its stride.
pub const MARGIN: u32 = 32;

/// The default weight of the band values beside the embedding.
pub const DEFAULT_SPECTRA: f32 = 1.0;

/// What a user chooses for the CNN.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CnnParams {
    /// Number of classes, 2 to 64: the k of the k-means on the embeddings.
    pub k: usize,
    /// Block edge in pixels of the label grid (1, 2, 4, 8 or 16): embeddings are averaged over
    /// each block.
    pub resolution: u32,
    /// The id of the model (the built-in one unless a front end loaded another).
    pub model: String,
    /// File bands to use, 0-based; `None` uses every band but alpha. The bands with a
    /// spectral role feed the network; all of them join the clustering (see `spectra`).
    pub bands: Option<Vec<usize>>,
    /// The user's band roles (`--band-roles` syntax, see [`super::bands::BandRoles::parse`]);
    /// `None` reads them from the file.
    pub band_roles: Option<String>,
    /// Weight of the file's own band values (every data band, normalised) beside the embedding
    /// in the clustering: 0 clusters the embedding alone, 1 gives both the same total
    /// variance.
    pub spectra: f32,
    /// Blocks in the fitting sample (at most).
    pub sample_size: usize,
    pub fit: FitOptions,
}

impl Default for CnnParams {
    fn default() -> Self {
        Self {
            k: 8,
            resolution: 2,
            model: BUILTIN_MODEL.to_owned(),
            bands: None,
            band_roles: None,
            spectra: DEFAULT_SPECTRA,
            sample_size: 50_000,
            fit: FitOptions::default(),
        }
    }
}

/// The largest weight of the band values beside the embedding.
const MAX_SPECTRA: f32 = 10.0;

/// The largest sample, in blocks.
const MAX_SAMPLE_SIZE: usize = 5_000_000;

impl CnnParams {
    /// Checks the parameters that do not depend on the raster.
    pub fn validate(&self) -> Result<(), SegmentError> {
        if !(2..=MAX_K).contains(&self.k) {
            return Err(kmeans::KMeansError::BadK(self.k).into());
        }
        if !RESOLUTIONS.contains(&self.resolution) {
            return Err(SegmentError::BadResolution(self.resolution));
        }
        if !(1..=MAX_SAMPLE_SIZE).contains(&self.sample_size) {
            return Err(SegmentError::OutOfRange {
                what: "sample size",
                value: self.sample_size as f64,
                allowed: "1 to 5000000 blocks",
            });
        }
        if !(self.spectra.is_finite() && (0.0..=MAX_SPECTRA).contains(&self.spectra)) {
            return Err(SegmentError::OutOfRange {
                what: "weight of the band values",
                value: f64::from(self.spectra),
                allowed: "0 to 10",
            });
        }
        Ok(())
    }

    /// The bands to use and the roles of those that feed the network, checked against `info`.
    pub fn resolve(&self, info: &RasterInfo) -> Result<(Vec<usize>, BandRoles), SegmentError> {
        let bands = KMeansParams {
            bands: self.bands.clone(),
            ..KMeansParams::default()
        }
        .validate(info)?;
        let mut roles = match &self.band_roles {
            Some(text) => {
                let roles = BandRoles::parse(text, info)?;
                if let Some(&(band, _)) = roles.bands.iter().find(|(b, _)| !bands.contains(b)) {
                    return Err(SegmentError::RoleOutsideBands(band + 1));
                }
                roles
            }
            None => BandRoles::from_info(info)?,
        };
        roles.bands.retain(|(b, _)| bands.contains(b));
        if roles.bands.is_empty() {
            return Err(SegmentError::NoRoleInBands);
        }
        Ok((bands, roles))
    }
}
