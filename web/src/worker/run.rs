//! One K-Means run in the worker, driven piece by piece like the CLI: sample, fit, k curve,
//! then label unit by unit, counting classes, collecting the label preview and compressing the
//! output tiles (kept, so the GeoTIFF can be written again with an edited legend).

use std::cell::Cell;
use std::io::{BufReader, Cursor};

use engine::geotiff::{EncodedTile, GeoTiffWriter, RasterInfo, TileEncoder};
use engine::kmeans::suggest_k;
use engine::labels::{LegendEntry, default_legend};
use engine::manifest::{InputIdentity, RunManifest, hash_input};
use engine::pipeline::{self, Model, SegmentError, SegmentParams};
use engine::preview::LabelPreview;
use engine::progress::{self, Progress, Stage};
use engine::raster::Samples;
use engine::stats::ClassStats;

use super::{BlobReader, Session, post};
use crate::protocol::{FromWorker, PREVIEW_MAX_SIDE, RunResult};

/// Least time between two progress messages, in milliseconds (about ten a second).
const PROGRESS_INTERVAL_MS: f64 = 100.0;

/// What the worker keeps of the last run to write its GeoTIFF again.
#[derive(Debug)]
pub struct LastRun {
    model: Model,
    info: RasterInfo,
    manifest: RunManifest,
    tiles: Vec<EncodedTile>,
}

impl LastRun {
    /// The label GeoTIFF with `legend` as colour table and class names.
    pub fn export(&self, legend: &[LegendEntry]) -> Result<Vec<u8>, SegmentError> {
        let options = self
            .model
            .writer_options(&self.info, legend, &self.manifest);
        let mut writer = GeoTiffWriter::new(Cursor::new(Vec::new()), options)?;
        writer.write_tiles(&self.tiles)?;
        Ok(writer.finish()?.into_inner())
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
                stage: stage.label().to_owned(),
                fraction: fraction.clamp(0.0, 1.0),
            });
        }
    }

    fn is_cancelled(&self) -> bool {
        false
    }
}

/// Segments the open raster with `params`.
pub fn run(
    session: &mut Session,
    params: &SegmentParams,
) -> Result<(RunResult, LastRun), SegmentError> {
    let progress = Throttled::new();
    let reader = &mut session.reader;
    let info = session.info.clone();

    let fitted = pipeline::fit(reader, params, &progress)?;
    let k_curve = pipeline::k_curve(&fitted, &progress)?;
    let suggested_k = suggest_k(&k_curve);
    let model = fitted.model;

    progress.report(Stage::Reading, 0.0);
    let hashed = BufReader::with_capacity(4 << 20, BlobReader::new(session.blob.clone())?);
    let (blake3, bytes) = hash_input(hashed)?;
    let mut manifest = model.manifest(InputIdentity {
        name: session.name.clone(),
        bytes,
        blake3,
    });
    manifest.backend = "cpu (WebAssembly)".to_owned();
    let legend = default_legend(params.k);

    let encoder = TileEncoder::new(&model.writer_options(&info, &legend, &manifest));
    let mut stats = ClassStats::new(params.k, info.georef.as_ref());
    let mut labels_preview = LabelPreview::new(info.width, info.height, PREVIEW_MAX_SIDE);
    let mut tiles = Vec::new();
    let units = model.units();
    for (i, unit) in units.iter().enumerate() {
        progress::check(&progress)?;
        progress.report(Stage::Assigning, i as f32 / units.len() as f32);
        let labels = model.label_window(reader, *unit)?;
        stats.add_rows(unit.y, unit.width, &labels);
        labels_preview.add(*unit, &labels);
        tiles.extend(encoder.encode(*unit, &Samples::U8(labels))?);
    }
    progress.report(Stage::Assigning, 1.0);

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
        model,
        info,
        manifest,
        tiles,
    };
    Ok((result, last))
}
