//! What the worker and its pool of helpers say to each other: a [`Job`] goes to one helper, a
//! [`Reply`] comes back for each job, in the order the helper got them. A unit's compressed
//! tiles travel beside the message as bytes (transferred), which the worker gathers into
//! `Blob`s ([`crate::kept_tiles`]); arrays of numbers travel as typed arrays of their bytes
//! ([`web::packed`]), never as one JavaScript number each.

use engine::kmeans::KChoice;
use engine::kmeans::model::{KMeansModel, Sampler};
use engine::pipeline::PostProcess;
use engine::raster::Window;
use engine::stats::ClassStats;
use serde::{Deserialize, Serialize};
use web::packed::{Packed, PackedFeatures};
use web::tile_index::TilePlace;

/// The key of a job in its envelope (the page's messages use `msg`).
pub const JOB_KEY: &str = "job";
/// The key of a reply in its envelope.
pub const REPLY_KEY: &str = "reply";

/// Work for one helper.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// Opens the `Blob` sent along (the raster the page opened) with a reader of its own.
    Open { name: String },
    /// The sample plan the next `BandValues` and `Features` jobs read from.
    Sampler { sampler: Box<Sampler> },
    /// The band values of sample windows `first..first + count`, for the normalisation (a
    /// job holds several windows: a job's round trip costs more than a small window).
    BandValues { first: usize, count: usize },
    /// The features of sample windows `first..first + count`.
    Features { first: usize, count: usize },
    /// Reads the whole sample of `sampler` and fits it ([`Reply::Fitted`]): a fit begun on
    /// opening, done on one helper while the worker reads the display image.
    Fit { sampler: Box<Sampler> },
    /// The fitted K-Means model and post-processing the next `Label` jobs use.
    Labeller {
        model: Box<KMeansModel>,
        post: PostProcess,
    },
    /// Labels one unit ([`Reply::Labelled`]). The file's bytes at `staged` (`(offset,
    /// length)` each), which the worker read while the helper was busy, come beside the job as
    /// an array of byte arrays in that order; the helper reads the rest itself.
    Label {
        unit: Window,
        staged: Vec<(u64, usize)>,
    },
    /// The k curve of a fit ([`Reply::KCurve`]): `sample` holds its points of `dims` features.
    KCurve {
        sample: Packed<f32>,
        dims: usize,
        seed: u64,
    },
}

/// A helper's answer to one [`Job`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// The job needed no answer but its completion (`Open`, `Sampler`, `Labeller`).
    Done,
    /// For each window, per band, the values of its sampled pixels.
    BandValues {
        values: Vec<Vec<Packed<f64>>>,
    },
    /// For each window, its features.
    Features {
        features: Vec<PackedFeatures>,
    },
    /// A fit: the model and its sampled points (for the k curve).
    Fitted {
        model: Box<KMeansModel>,
        sample: Packed<f32>,
    },
    KCurve {
        curve: Vec<KChoice>,
    },
    /// A labelled unit: its statistics, the places and lengths of its compressed tiles, whose
    /// bytes come beside the message one after the other in one byte array, and the unit's labels
    /// that the label preview keeps (`LabelPreview::samples`).
    Labelled {
        stats: ClassStats,
        tiles: Vec<TilePlace>,
        labels: Packed<u8>,
    },
    /// The job failed; the message names the problem.
    Failed {
        message: String,
    },
}
