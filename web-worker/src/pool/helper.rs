//! A helper of the pool: a worker started by another worker, answering its [`Job`]s one at a
//! time with a reader of its own on the same `File`.

use std::cell::RefCell;
use std::ops::Range;

use engine::features::Features;
use engine::geotiff::{GeoTiffReader, Limits, RasterInfo, TileEncoder};
use engine::kmeans::model::{self, Sampler};
use engine::pipeline::{EncodedTiles, Segmenter, UnitSink, label_encoder};
use engine::preview::LabelPreview;
use engine::progress::NoProgress;
use engine::raster::{PixelBlock, Window};
use engine::stats::ClassStats;
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use web::protocol::PREVIEW_MAX_SIDE;
use web_sys::Blob;

use crate::blob_reader::{BlobReader, Stager};
use web::tile_index::tile_places;

use crate::kept_tiles::tiles_bytes;

use super::messages::{Job, Reply};
use web::packed::Packed;

/// Decoded chunks a helper keeps: those a unit shares with the next one down and with its
/// neighbour in the next column of its band (see `run::BAND_TILE_ROWS`), and little more, since
/// WebAssembly memory never shrinks and every helper has its own.
pub const CHUNK_CACHE_BYTES: usize = 12 << 20;

/// Decoded pixels of sample windows a helper keeps between the two passes of a sample (band
/// values, then features), so it decodes each of its windows once: the default sample's windows
/// are small (64 of 80 × 80 pixels), and larger samples keep what fits.
const KEPT_WINDOW_BYTES: usize = 16 << 20;

/// The decoded pixels of the sample windows this helper read for their band values, by window
/// index, until it reads their features.
#[derive(Default)]
struct KeptWindows {
    pixels: std::collections::HashMap<usize, PixelBlock>,
    bytes: usize,
}

impl KeptWindows {
    /// Keeps `pixels` of window `index` if they fit [`KEPT_WINDOW_BYTES`].
    fn keep(&mut self, index: usize, pixels: PixelBlock) {
        let bytes = Self::bytes_of(&pixels);
        if self.bytes + bytes <= KEPT_WINDOW_BYTES {
            self.bytes += bytes;
            self.pixels.insert(index, pixels);
        }
    }

    fn take(&mut self, index: usize) -> Option<PixelBlock> {
        let pixels = self.pixels.remove(&index)?;
        self.bytes -= Self::bytes_of(&pixels);
        Some(pixels)
    }

    fn bytes_of(pixels: &PixelBlock) -> usize {
        pixels.samples.len() * pixels.samples.sample_type().bytes()
    }
}

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
    /// Pixels of the current sample's windows read for their band values.
    kept: KeptWindows,
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
            use_sampler(*sampler);
            Ok((Reply::Done, None))
        }
        Job::BandValues { first, count } => {
            let values = band_values(first..first + count)
                .await?
                .into_iter()
                .map(|bands| bands.into_iter().map(Packed).collect())
                .collect();
            Ok((Reply::BandValues { values }, None))
        }
        Job::Features { first, count } => {
            let features = features(first..first + count)
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            Ok((Reply::Features { features }, None))
        }
        Job::Fit { sampler } => {
            let fitted = fit(*sampler).await?;
            Ok((
                Reply::Fitted {
                    model: Box::new(fitted.model),
                    sample: Packed(fitted.sample),
                },
                None,
            ))
        }
        Job::Labeller { model, post } => {
            let info: RasterInfo = with_opened(|o| Ok(o.reader.info().clone()))?;
            let labeller = Labeller {
                segmenter: Segmenter::kmeans(*model, post),
                encoder: label_encoder(&info),
                preview: LabelPreview::new(info.width, info.height, PREVIEW_MAX_SIDE),
            };
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                s.labeller = Some(labeller);
                s.kept = KeptWindows::default();
            });
            Ok((Reply::Done, None))
        }
        Job::Label { unit, staged } => {
            let staged = crate::unit_bytes::received(&staged, file.as_ref());
            label(unit, staged).await
        }
        Job::KCurve { sample, dims, seed } => {
            let curve = model::sample_k_curve(&sample.0, dims, seed, &NoProgress)
                .map_err(|e| e.to_string())?;
            Ok((Reply::KCurve { curve }, None))
        }
    }
}

/// Makes `sampler` the plan the sample jobs read from. The same plan again (its normaliser now
/// fitted) keeps the windows read.
fn use_sampler(sampler: Sampler) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if s.sampler
            .as_ref()
            .is_none_or(|old| !old.same_plan(&sampler))
        {
            s.kept = KeptWindows::default();
        }
        s.sampler = Some(sampler);
    });
}

/// Per window of `windows`, per band, the values of its sampled pixels; the pixels are kept
/// for the features.
async fn band_values(windows: Range<usize>) -> Result<Vec<Vec<Vec<f64>>>, String> {
    sample_windows(windows, |sampler, pixels, w, kept| {
        let bands = sampler.band_values_of(&pixels, w)?;
        kept.keep(w, pixels);
        Ok(bands)
    })
    .await
}

/// The features of each window of `windows`.
async fn features(windows: Range<usize>) -> Result<Vec<Features>, String> {
    sample_windows(windows, |sampler, pixels, w, _| {
        sampler.features_of(&pixels, w)
    })
    .await
}

/// Reads the whole sample of `sampler` (its band values first when the normaliser waits for
/// them, then its features, each window decoded once) and fits it: what the worker does with
/// the same passes spread over the pool, so the fit is the same.
async fn fit(sampler: Sampler) -> Result<model::Fitted, String> {
    let n = sampler.len();
    let values = sampler.needs_normaliser();
    use_sampler(sampler);
    if values {
        let values = band_values(0..n).await?;
        STATE.with(|s| match s.borrow_mut().sampler.as_mut() {
            Some(sampler) => sampler.set_normaliser(values).map_err(|e| e.to_string()),
            None => Err("the parallel worker lost its sample plan".to_owned()),
        })?;
    }
    let windows = features(0..n).await?;
    let sampler = STATE
        .with(|s| s.borrow_mut().sampler.take())
        .ok_or_else(|| "the parallel worker lost its sample plan".to_owned())?;
    sampler.fit(windows, &NoProgress).map_err(|e| e.to_string())
}

/// Labels `unit` (the file's bytes at `staged` read by the worker, else by this helper) into
/// its statistics, compressed tiles (their bytes, beside the reply) and the
/// labels the worker's preview keeps.
async fn label(
    unit: Window,
    staged: Option<Vec<(u64, Uint8Array)>>,
) -> Result<(Reply, Option<JsValue>), String> {
    let (mut opened, labeller) = STATE.with(|s| {
        let mut s = s.borrow_mut();
        (s.opened.take(), s.labeller.take())
    });
    let result = match (opened.as_mut(), labeller.as_ref()) {
        (Some(opened), Some(labeller)) => label_with(opened, labeller, unit, staged).await,
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
    staged: Option<Vec<(u64, Uint8Array)>>,
) -> Result<(Reply, Option<JsValue>), String> {
    let segmenter = &labeller.segmenter;
    let info = opened.reader.info();
    let mut parts = (
        ClassStats::new(segmenter.classes(), info.georef.as_ref()),
        EncodedTiles::new(labeller.encoder.clone()),
        UnitLabels::default(),
    );
    match staged {
        Some(ranges) if !ranges.is_empty() => opened.stager.put(ranges),
        _ => {
            if let Some(window) = segmenter.input_window(unit) {
                opened.stage(window).await?;
            }
        }
    }
    let labelled = segmenter
        .label_into(&mut opened.reader, unit, &mut parts)
        .await;
    opened.stager.clear();
    labelled.map_err(|e| e.to_string())?;
    let (stats, tiles, labels) = parts;
    let file: JsValue = tiles_bytes(&tiles.tiles).into();
    Ok((
        Reply::Labelled {
            stats,
            tiles: tile_places(&tiles.tiles),
            labels: Packed(labeller.preview.samples(unit, &labels.0)),
        },
        Some(file),
    ))
}

fn with_opened<T>(f: impl FnOnce(&mut Opened) -> Result<T, String>) -> Result<T, String> {
    STATE.with(|s| match s.borrow_mut().opened.as_mut() {
        Some(opened) => f(opened),
        None => Err("the parallel worker has no raster open".to_owned()),
    })
}

/// Bytes of the file that a batch of sample windows fetches at once (see [`read_batches`]).
const BATCH_BYTES: usize = 4 << 20;

/// Sample windows whose bytes are fetched together, and the file ranges they read.
#[derive(Default)]
struct ReadBatch {
    windows: Vec<usize>,
    ranges: Vec<(u64, usize)>,
}

/// The sample windows `todo` in batches: windows in the order of the last byte they read, so
/// that a batch reads a stretch of the file front to back ([`Stager::stage_spans`]: one read
/// where the windows are close, not one or two per window), each batch at most about
/// [`BATCH_BYTES`], so that few bytes are staged at once.
fn read_batches(
    opened: &Opened,
    sampler: &Sampler,
    todo: Vec<usize>,
) -> Result<Vec<ReadBatch>, String> {
    let mut planned = Vec::with_capacity(todo.len());
    for w in todo {
        let window = sampler.pixel_window(w, false).map_err(|e| e.to_string())?;
        let ranges = opened.reader.ranges_to_read(0, window).unwrap_or_default();
        let last = ranges
            .iter()
            .map(|&(offset, len)| offset + len as u64)
            .max()
            .unwrap_or(0);
        planned.push((last, w, ranges));
    }
    planned.sort_by_key(|&(last, w, _)| (last, w));
    let mut batches: Vec<ReadBatch> = Vec::new();
    let mut bytes = 0;
    for (_, w, ranges) in planned {
        let len: usize = ranges.iter().map(|&(_, len)| len).sum();
        if batches.is_empty() || bytes + len > BATCH_BYTES {
            batches.push(ReadBatch::default());
            bytes = 0;
        }
        bytes += len;
        if let Some(batch) = batches.last_mut() {
            batch.windows.push(w);
            batch.ranges.extend(ranges);
        }
    }
    Ok(batches)
}

/// Answers sample windows `windows` with `answer`, which gets each window's pixels (those
/// both passes take, [`Sampler::decode`]): kept from the band values' pass, or decoded, their
/// bytes fetched ahead in batches ([`read_batches`]).
async fn sample_windows<T>(
    windows: Range<usize>,
    answer: impl Fn(
        &Sampler,
        PixelBlock,
        usize,
        &mut KeptWindows,
    ) -> Result<T, engine::pipeline::SegmentError>,
) -> Result<Vec<T>, String> {
    let (mut opened, sampler, mut kept) = STATE.with(|s| {
        let mut s = s.borrow_mut();
        (
            s.opened.take(),
            s.sampler.take(),
            std::mem::take(&mut s.kept),
        )
    });
    // What was taken out goes back whatever happens (so no `?` below but in this block).
    let result = async {
        let (Some(opened), Some(sampler)) = (opened.as_mut(), sampler.as_ref()) else {
            return Err("the parallel worker has no raster or no sample plan".to_owned());
        };
        let first = windows.start;
        let mut answers: Vec<Option<T>> = windows.clone().map(|_| None).collect();
        let mut todo = Vec::new();
        for w in windows {
            match kept.take(w) {
                Some(pixels) => {
                    let answered = answer(sampler, pixels, w, &mut kept);
                    answers[w - first] = Some(answered.map_err(|e| e.to_string())?);
                }
                None => todo.push(w),
            }
        }
        for batch in read_batches(opened, sampler, todo)? {
            opened.stager.stage_spans(&batch.ranges).await?;
            for w in batch.windows {
                let pixels = sampler.decode(&mut opened.reader, w);
                let pixels = match pixels {
                    Ok(pixels) => pixels,
                    Err(e) => {
                        opened.stager.clear();
                        return Err(e.to_string());
                    }
                };
                let answered = answer(sampler, pixels, w, &mut kept);
                answers[w - first] = Some(answered.map_err(|e| e.to_string())?);
            }
            opened.stager.clear();
        }
        let answers: Option<Vec<T>> = answers.into_iter().collect();
        let answers = answers.ok_or_else(|| "a sample window was not read".to_owned())?;
        Ok(answers)
    }
    .await;
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.opened = opened;
        s.sampler = sampler;
        s.kept = kept;
    });
    result
}
