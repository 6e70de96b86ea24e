//! Progress reporting and cancellation: the caller passes a handle, the engine reports into it.

/// A named step of a run, reported together with a fraction in `0.0..=1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Reading,
    Sampling,
    Fitting,
    Assigning,
    Smoothing,
    Writing,
    /// Fitting k = 2..16 for the inertia curve.
    KCurve,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Reading => "reading",
            Stage::Sampling => "sampling",
            Stage::Fitting => "fitting",
            Stage::Assigning => "assigning",
            Stage::Smoothing => "smoothing",
            Stage::Writing => "writing",
            Stage::KCurve => "k_curve",
        }
    }
}

/// Receives progress and answers whether the caller wants the work to stop.
///
/// Implementations must be cheap: the engine calls them between tiles and between iterations.
pub trait Progress {
    fn report(&self, stage: Stage, fraction: f32);
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
