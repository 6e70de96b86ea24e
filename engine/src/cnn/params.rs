//! What a user chooses for a CNN run.

use crate::kmeans::FitOptions;

/// The id of the model built into the engine (`models/<id>/` in the source tree).
pub const BUILTIN_MODEL: &str = "mapseg-cnn-s1";

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
    /// The user's band roles (`--band-roles` syntax, see [`super::bands::BandRoles::parse`]);
    /// `None` reads them from the file.
    pub band_roles: Option<String>,
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
            band_roles: None,
            sample_size: 50_000,
            fit: FitOptions::default(),
        }
    }
}
