//! Suggested class names from each class's spectral signature.
//!
//! A run's classes are numbers; this module suggests a land-cover name for each one from the
//! mean raw band values of its pixels ([`signature`]) and the file's band roles ([`rules`]):
//! standard spectral indices (NDVI, NDWI, MNDWI, NDBI) where the bands include near and
//! shortwave infrared, scene-relative brightness and greenness for RGB, nothing for a single
//! band or bands of unknown role. Suggestions are starting points a user edits, never claims of
//! accuracy; each carries the values it rests on.
//!
//! It depends only on the labels (a [`LabelPreview`]) and the input raster, so it works for
//! every method, the CNN included (whose centres live in an embedding space).

pub mod rules;
pub mod signature;

use std::io::{Read, Seek};

pub use rules::suggest;
pub use signature::{ClassSignature, Signatures, signatures};

use crate::cnn::bands::{BandRoleError, BandRoles};
use crate::geotiff::{DecodeError, GeoTiffReader};
use crate::labels::LegendEntry;
use crate::preview::LabelPreview;
use crate::progress::{Cancelled, Progress};

/// A suggested class name and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Suggestion {
    /// The suggested name ("water", "dense vegetation", "bright surface (built-up or bare)").
    pub name: String,
    /// The values the suggestion rests on, for people: "NDVI 0.71, NDWI −0.58".
    pub basis: String,
}

/// Why suggestions could not be computed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NamingError {
    /// The label preview was made for a raster of another size.
    #[error(
        "the label preview is of a {}x{} raster, the input is {}x{}",
        preview.0, preview.1, raster.0, raster.1
    )]
    PreviewSize {
        preview: (u32, u32),
        raster: (u32, u32),
    },
    /// The band roles given for the run do not fit the raster.
    #[error(transparent)]
    BandRoles(#[from] BandRoleError),
    /// The input's pixels could not be read.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The caller cancelled.
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

/// A suggested name (or `None`) for each of `classes` classes of a run whose labels `preview`
/// holds, from `reader`'s raster (the run's input) and the band roles the file states
/// ([`BandRoles::from_info`]; none known: no suggestions). Reads a bounded part of the raster:
/// see [`signatures`] for the cost.
///
/// # Errors
///
/// As [`signatures`].
pub fn suggest_names<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    preview: &LabelPreview,
    classes: usize,
    progress: &impl Progress,
) -> Result<Vec<Option<Suggestion>>, NamingError> {
    let Ok(roles) = BandRoles::from_info(reader.info()) else {
        return Ok(vec![None; classes]);
    };
    suggest_names_with(reader, preview, classes, &roles, progress)
}

/// [`suggest_names`] for a run: with the band roles the user gave the run (`band_roles`, as
/// written for the CNN's `--band-roles`), else the file's.
///
/// # Errors
///
/// [`NamingError::BandRoles`] when `band_roles` does not parse for this raster, else as
/// [`signatures`].
pub fn suggest_for_run<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    preview: &LabelPreview,
    classes: usize,
    band_roles: Option<&str>,
    progress: &impl Progress,
) -> Result<Vec<Option<Suggestion>>, NamingError> {
    match band_roles {
        Some(text) => {
            let roles = BandRoles::parse(text, reader.info())?;
            suggest_names_with(reader, preview, classes, &roles, progress)
        }
        None => suggest_names(reader, preview, classes, progress),
    }
}

/// [`suggest_names`] with band roles the caller decided (e.g. a user's `--band-roles`).
///
/// # Errors
///
/// As [`signatures`].
pub fn suggest_names_with<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    preview: &LabelPreview,
    classes: usize,
    roles: &BandRoles,
    progress: &impl Progress,
) -> Result<Vec<Option<Suggestion>>, NamingError> {
    if !rules::can_name(roles) {
        return Ok(vec![None; classes]);
    }
    let signatures = signatures(reader, preview, classes, progress)?;
    Ok(suggest(&signatures, roles))
}

/// Names each class of `legend` that has a suggestion after it.
pub fn take_suggestions(legend: &mut [LegendEntry], suggestions: &[Option<Suggestion>]) {
    for (entry, suggestion) in legend.iter_mut().zip(suggestions) {
        if let Some(s) = suggestion {
            entry.name.clone_from(&s.name);
        }
    }
}
