//! A helper of the pool: a worker started by another worker, answering its [`Job`]s one at a
//! time with a reader of its own on the same `File`.

use std::cell::RefCell;

use engine::geotiff::{GeoTiffReader, Limits, RasterInfo, TileEncoder};
use engine::kmeans::model::{self, Sampler};
use engine::pipeline::{EncodedTiles, Segmenter, UnitSink, label_encoder};
use engine::preview::LabelPreview;
use engine::progress::NoProgress;
use engine::raster::Window;
use engine::stats::ClassStats;
use wasm_bindgen::JsValue;
use web::protocol::PREVIEW_MAX_SIDE;
use web_sys::Blob;

use crate::blob_reader::{BlobReader, Stager};
use web::tile_index::tile_places;

use crate::kept_tiles::tiles_blob;

use super::messages::{Job, Reply};
use web::packed::Packed;

/// Decoded chunks a helper keeps: those a unit shares with the next one down and with its
/// neighbour in the next column of its band (see `run::BAND_TILE_ROWS`), and little more, since
/// WebAssembly memory never shrinks and every helper has its own.
pub const CHUNK_CACHE_BYTES: usize = 12 << 20;

/// The opened raster.
struct Opened {
    reader: GeoTiffReader<BlobReader>,
    /// Fetches the bytes of a unit ahead of its reads.
    stager: Stager,
}

impl Opened {
    /// Fetches the bytes the reader needs for `window` ahead, into a reused buffer, without a
    /// round trip per read (see [`Stager`]); [`Stager::clear`] once the window is read.
    async fn stage(&mut self, window: Window) -> Result<(), String> {
        let ranges = self.reader.ranges_to_read(0, window).unwrap_or_default();
        self.stager.stage(&ranges).await
    }
}

/// What the labelling jobs use.
struct Labeller {
    segmenter: Segmenter,
    encoder: TileEncoder,
    /// The geometry of the worker's label preview (which labels of a unit it keeps).
    preview: LabelPreview,
}

#[derive(Default)]
struct State {
    opened: Option<Opened>,
    sampler: Option<Sampler>,
    labeller: Option<Labeller>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// A unit's labels, kept for the worker's label preview.
#[derive(Default)]
struct UnitLabels(Vec<u8>);

impl UnitSink for UnitLabels {
    fn unit(&mut self, _unit: Window, labels: &[u8]) -> Result<(), engine::pipeline::SegmentError> {
        self.0 = labels.to_vec();
        Ok(())
    }
}

/// Does `job` (with `file`, the `Blob` of an `Open`); returns the reply and the bytes that go
/// beside it.
pub async fn answer(job: Job, file: Option<JsValue>) -> (Reply, Option<JsValue>) {
    match work(job, file).await {
        Ok(answer) => answer,
        Err(message) => (Reply::Failed { message }, None),
    }
}

async fn work(job: Job, file: Option<JsValue>) -> Result<(Reply, Option<JsValue>), String> {
    match job {
        Job::Open { name } => {
            STATE.with(|s| *s.borrow_mut() = State::default());
            let blob: Blob = file
                .and_then(|f| wasm_bindgen::JsCast::dyn_into(f).ok())
                .ok_or_else(|| "no file was sent to the parallel worker".to_owned())?;
            let source = BlobReader::new(blob).map_err(|e| e.to_string())?;
            let stager = source.stager();
            let mut limits = Limits::default();
            limits.chunk_cache_bytes = CHUNK_CACHE_BYTES;
            let reader = GeoTiffReader::with_limits(source, limits)
                .map_err(|e| format!("cannot read {name}: {e}"))?;
            STATE.with(|s| {
                s.borrow_mut().opened = Some(Opened { reader, stager });
            });
            Ok((Reply::Done, None))
        }
        Job::Sampler { sampler } => {
            STATE.with(|s| s.borrow_mut().sampler = Some(*sampler));
            Ok((Reply::Done, None))
        }
        Job::BandValues { first, count } => {
            let values = sample_windows(first..first + count, true, |sampler, reader, w| {
                let bands = sampler.band_values(reader, w)?;
                Ok(bands.into_iter().map(Packed).collect())
            })
            .await?;
            Ok((Reply::BandValues { values }, None))
        }
        Job::Features { first, count } => {
            let features = sample_windows(first..first + count, false, |sampler, reader, w| {
                Ok(sampler.read(reader, w)?.into())
            })
            .await?;
            Ok((Reply::Features { features }, None))
        }
        Job::Labeller { model, post } => {
            let info: RasterInfo = with_opened(|o| Ok(o.reader.info().clone()))?;
            let labeller = Labeller {
                segmenter: Segmenter::kmeans(*model, post),
                encoder: label_encoder(&info),
                preview: LabelPreview::new(info.width, info.height, PREVIEW_MAX_SIDE),
            };
            STATE.with(|s| s.borrow_mut().labeller = Some(labeller));
            Ok((Reply::Done, None))
        }
        Job::Label { unit } => label(unit).await,
        Job::KCurve { sample, dims, seed } => {
            let curve = model::sample_k_curve(&sample.0, dims, seed, &NoProgress)
                .map_err(|e| e.to_string())?;
            Ok((Reply::KCurve { curve }, None))
        }
    }
}

/// Labels `unit` into its statistics, compressed tiles (in a `Blob`, beside the reply) and the
/// labels the worker's preview keeps.
async fn label(unit: Window) -> Result<(Reply, Option<JsValue>), String> {
    let (mut opened, labeller) = STATE.with(|s| {
        let mut s = s.borrow_mut();
        (s.opened.take(), s.labeller.take())
    });
    let result = match (opened.as_mut(), labeller.as_ref()) {
        (Some(opened), Some(labeller)) => label_with(opened, labeller, unit).await,
        _ => Err("the parallel worker has no raster or no model".to_owned()),
    };
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.opened = opened;
        s.labeller = labeller;
    });
    result
}

async fn label_with(
    opened: &mut Opened,
    labeller: &Labeller,
    unit: Window,
) -> Result<(Reply, Option<JsValue>), String> {
    let segmenter = &labeller.segmenter;
    let info = opened.reader.info();
    let mut parts = (
        ClassStats::new(segmenter.classes(), info.georef.as_ref()),
        EncodedTiles::new(labeller.encoder.clone()),
        UnitLabels::default(),
    );
    if let Some(window) = segmenter.input_window(unit) {
        opened.stage(window).await?;
    }
    let labelled = segmenter
        .label_into(&mut opened.reader, unit, &mut parts)
        .await;
    opened.stager.clear();
    labelled.map_err(|e| e.to_string())?;
    let (stats, tiles, labels) = parts;
    let blob = tiles_blob(&tiles.tiles)?;
    Ok((
        Reply::Labelled {
            stats,
            tiles: tile_places(&tiles.tiles),
            labels: Packed(labeller.preview.samples(unit, &labels.0)),
        },
        Some(blob.into()),
    ))
}

fn with_opened<T>(f: impl FnOnce(&mut Opened) -> Result<T, String>) -> Result<T, String> {
    STATE.with(|s| match s.borrow_mut().opened.as_mut() {
        Some(opened) => f(opened),
        None => Err("the parallel worker has no raster open".to_owned()),
    })
}

/// Reads sample windows `windows` with `read` (the windows of [`Sampler::band_values`] when
/// `for_values`, else of [`Sampler::read`]), each window's bytes fetched ahead.
async fn sample_windows<T>(
    windows: std::ops::Range<usize>,
    for_values: bool,
    read: impl Fn(
        &Sampler,
        &mut GeoTiffReader<BlobReader>,
        usize,
    ) -> Result<T, engine::pipeline::SegmentError>,
) -> Result<Vec<T>, String> {
    let (mut opened, sampler) = STATE.with(|s| {
        let mut s = s.borrow_mut();
        (s.opened.take(), s.sampler.take())
    });
    // What was taken out goes back whatever happens (so no `?` below but in this block).
    let result = async {
        let (Some(opened), Some(sampler)) = (opened.as_mut(), sampler.as_ref()) else {
            return Err("the parallel worker has no raster or no sample plan".to_owned());
        };
        let mut answers = Vec::with_capacity(windows.len());
        for w in windows {
            let window = sampler
                .pixel_window(w, for_values)
                .map_err(|e| e.to_string())?;
            opened.stage(window).await?;
            let answer = read(sampler, &mut opened.reader, w);
            opened.stager.clear();
            answers.push(answer.map_err(|e| e.to_string())?);
        }
        Ok(answers)
    }
    .await;
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.opened = opened;
        s.sampler = sampler;
    });
    result
}
