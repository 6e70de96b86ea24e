//! Progress reporting and cancellation: the caller passes a handle, the engine reports into it.

/// A named step of a run, reported together with a fraction in `0.0..=1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// Reading the sample's band values to fit the normalisation.
    BandStatistics,
    /// Reading the sample's features.
    Sampling,
    /// Fitting the model on the sample.
    Fitting,
    /// Fitting k = 2..16 for the inertia curve.
    KCurve,
    /// Labelling the raster unit by unit (decode, classify, smooth, encode).
    Assigning,
    /// Hashing the whole input for the manifest.
    Hashing,
    /// Writing the output's directory and closing it.
    Writing,
    /// Simplifying the label polygons' boundaries.
    Polygons,
}

impl Stage {
    /// The stage's name as front ends show it (also its serialised form).
    pub fn label(self) -> &'static str {
        match self {
            Stage::BandStatistics => "band_statistics",
            Stage::Sampling => "sampling",
            Stage::Fitting => "fitting",
            Stage::KCurve => "k_curve",
            Stage::Assigning => "assigning",
            Stage::Hashing => "hashing",
            Stage::Writing => "writing",
            Stage::Polygons => "polygons",
        }
    }
}

/// Receives progress and answers whether the caller wants the work to stop.
///
/// Implementations must be cheap: the engine calls them between tiles and between iterations.
pub trait Progress {
    /// `fraction` of `stage` is done.
    fn report(&self, stage: Stage, fraction: f32);
    /// Whether the caller wants the work to stop (checked between units and iterations).
    fn is_cancelled(&self) -> bool;
}

/// A handle that reports nowhere and never cancels.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&self, _stage: Stage, _fraction: f32) {}
    fn is_cancelled(&self) -> bool {
        false
    }
}

impl<P: Progress + ?Sized> Progress for &P {
    fn report(&self, stage: Stage, fraction: f32) {
        (**self).report(stage, fraction);
    }
    fn is_cancelled(&self) -> bool {
        (**self).is_cancelled()
    }
}

/// Returned by a stage that noticed the caller's cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// Returns `Err(Cancelled)` when the caller asked to stop.
pub fn check(progress: &impl Progress) -> Result<(), Cancelled> {
    if progress.is_cancelled() {
        Err(Cancelled)
    } else {
        Ok(())
    }
}
