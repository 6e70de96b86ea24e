//! One segmentation run in the worker: prepare the method (K-Means: fit it on the sample, then
//! the k curve), hash the input for the manifest, then label the raster through the engine's unit
//! driver into three sinks: class statistics, the label preview and the compressed output tiles
//! (kept, so the GeoTIFF can be written again with an edited legend).

use std::cell::Cell;
use std::io::BufReader;

use engine::geotiff::{EncodedTile, RasterInfo, TileEncoder};
use engine::kmeans::{model, suggest_k};
use engine::labels::LegendEntry;
use engine::manifest::{InputIdentity, RunManifest, hash_input};
use engine::pipeline::{
    self, EncodedTiles, MethodParams, SegmentError, SegmentParams, Segmenter, writer_options,
};
use engine::preview::LabelPreview;
use engine::progress::{Progress, Stage};
use engine::stats::ClassStats;

use super::{BACKEND, BlobReader, Session, post};
use crate::protocol::{FromWorker, PREVIEW_MAX_SIDE, RunResult};

/// Least time between two progress messages, in milliseconds (about ten a second).
const PROGRESS_INTERVAL_MS: f64 = 100.0;

/// Buffer of the reader that hashes the input.
const HASH_BUFFER: usize = 4 << 20;

/// Why a run in the worker failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Segment(#[from] SegmentError),
    /// A method the engine knows but the web app does not run.
    #[error("the method `{0}` is not available in the web app")]
    Unsupported(&'static str),
}

/// What the worker keeps of the last run to write its GeoTIFF again.
#[derive(Debug)]
pub struct LastRun {
    info: RasterInfo,
    manifest: RunManifest,
    tiles: Vec<EncodedTile>,
}

impl LastRun {
    /// The label GeoTIFF with `legend` as colour table and class names.
    pub fn export(&self, legend: &[LegendEntry]) -> Result<Vec<u8>, SegmentError> {
        pipeline::write_geotiff(
            writer_options(&self.info, legend, &self.manifest),
            &self.tiles,
        )
    }
}

/// Progress posted to the page, at most every [`PROGRESS_INTERVAL_MS`] per stage.
#[derive(Debug)]
struct Throttled {
    last_ms: Cell<f64>,
    last_stage: Cell<Option<Stage>>,
}

impl Throttled {
    fn new() -> Self {
        Self {
            last_ms: Cell::new(f64::NEG_INFINITY),
            last_stage: Cell::new(None),
        }
    }
}

impl Progress for Throttled {
    fn report(&self, stage: Stage, fraction: f32) {
        let now = js_sys::Date::now();
        let new_stage = self.last_stage.get() != Some(stage);
        if new_stage || now - self.last_ms.get() >= PROGRESS_INTERVAL_MS {
            self.last_ms.set(now);
            self.last_stage.set(Some(stage));
            post(&FromWorker::Progress {
                stage,
                fraction: fraction.clamp(0.0, 1.0),
            });
        }
    }

    fn is_cancelled(&self) -> bool {
        false
    }
}

/// Segments the open raster with `params`.
pub async fn run(
    session: &mut Session,
    params: &SegmentParams,
) -> Result<(RunResult, LastRun), RunError> {
    let progress = Throttled::new();
    let info = session.info.clone();
    params.validate(&info)?;
    let reader = &mut session.reader;

    let (segmenter, k_curve) = match &params.method {
        MethodParams::Kmeans(kmeans) => {
            let fitted = model::fit(reader, kmeans, params.seed, &progress)?;
            let curve = model::k_curve(&fitted, &progress)?;
            (Segmenter::kmeans(fitted.model, params.post), Some(curve))
        }
        other => return Err(RunError::Unsupported(other.name())),
    };
    let suggested_k = k_curve.as_deref().and_then(suggest_k);

    progress.report(Stage::Hashing, 0.0);
    let hashed = BufReader::with_capacity(
        HASH_BUFFER,
        BlobReader::new(session.blob.clone()).map_err(SegmentError::ReadInput)?,
    );
    let (blake3, bytes) = hash_input(hashed).map_err(SegmentError::ReadInput)?;
    progress.report(Stage::Hashing, 1.0);
    let manifest = segmenter.manifest(
        InputIdentity {
            name: session.name.clone(),
            bytes,
            blake3,
        },
        BACKEND,
    );
    let legend = segmenter.legend();
    let options = writer_options(&info, &legend, &manifest);

    let mut sinks = (
        ClassStats::new(segmenter.classes(), info.georef.as_ref()),
        LabelPreview::new(info.width, info.height, PREVIEW_MAX_SIDE),
        EncodedTiles::new(TileEncoder::new(&options)),
    );
    segmenter.run(reader, &mut sinks, &progress).await?;
    let (stats, labels_preview, tiles) = sinks;

    let (label_width, label_height, labels) = labels_preview.finish();
    let result = RunResult {
        label_width,
        label_height,
        labels,
        rows: stats.rows(&legend),
        legend,
        manifest: manifest.to_json(),
        k_curve,
        suggested_k,
    };
    let last = LastRun {
        info,
        manifest,
        tiles: tiles.tiles,
    };
    Ok((result, last))
}
