//! A helper of the pool: a worker started by another worker, answering its [`Job`]s one at a
//! time with a reader of its own on the same `File`.

use std::cell::RefCell;
use std::io::Read;

use engine::geotiff::{GeoTiffReader, RasterInfo, TileEncoder};
use engine::kmeans::model::{self, Sampler};
use engine::manifest::InputHasher;
use engine::pipeline::{EncodedTiles, Segmenter, UnitSink, label_encoder};
use engine::preview::LabelPreview;
use engine::progress::NoProgress;
use engine::raster::Window;
use engine::stats::ClassStats;
use wasm_bindgen::JsValue;
use web::protocol::PREVIEW_MAX_SIDE;
use web_sys::Blob;

use crate::blob_reader::BlobReader;
use web::transport::unit_payload;

use super::messages::{Job, Reply};
use web::packed::Packed;

/// Bytes the hash reads at a time.
const HASH_READ: usize = 4 << 20;
/// Bytes the hash reads between two returns to the event loop, which let the browser free the
/// buffers the reads left behind.
const HASH_STEP: u64 = 64 << 20;

/// The opened raster.
struct Opened {
    name: String,
    blob: Blob,
    reader: GeoTiffReader<BlobReader>,
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
pub async fn answer(job: Job, file: Option<JsValue>) -> (Reply, Option<Vec<u8>>) {
    match work(job, file).await {
        Ok(answer) => answer,
        Err(message) => (Reply::Failed { message }, None),
    }
}

async fn work(job: Job, file: Option<JsValue>) -> Result<(Reply, Option<Vec<u8>>), String> {
    match job {
        Job::Open { name } => {
            STATE.with(|s| *s.borrow_mut() = State::default());
            let blob: Blob = file
                .and_then(|f| wasm_bindgen::JsCast::dyn_into(f).ok())
                .ok_or_else(|| "no file was sent to the parallel worker".to_owned())?;
            let source = BlobReader::new(blob.clone()).map_err(|e| e.to_string())?;
            let reader =
                GeoTiffReader::open(source).map_err(|e| format!("cannot read {name}: {e}"))?;
            STATE.with(|s| {
                s.borrow_mut().opened = Some(Opened { name, blob, reader });
            });
            Ok((Reply::Done, None))
        }
        Job::Hash => {
            let (name, blob) = with_opened(|o| Ok((o.name.clone(), o.blob.clone())))?;
            let (blake3, bytes) = hash(blob)
                .await
                .map_err(|e| format!("cannot read {name}: {e}"))?;
            Ok((Reply::Hashed { blake3, bytes }, None))
        }
        Job::Sampler { sampler } => {
            STATE.with(|s| s.borrow_mut().sampler = Some(*sampler));
            Ok((Reply::Done, None))
        }
        Job::BandValues { window } => {
            let values = with_sampler(|sampler, reader| sampler.band_values(reader, window))?;
            Ok((
                Reply::BandValues {
                    values: values.into_iter().map(Packed).collect(),
                },
                None,
            ))
        }
        Job::Features { window } => {
            let features = with_sampler(|sampler, reader| sampler.read(reader, window))?;
            Ok((
                Reply::Features {
                    features: features.into(),
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

/// Labels `unit` into its statistics, compressed tiles and the labels the worker's preview
/// keeps.
async fn label(unit: Window) -> Result<(Reply, Option<Vec<u8>>), String> {
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
) -> Result<(Reply, Option<Vec<u8>>), String> {
    let segmenter = &labeller.segmenter;
    let info = opened.reader.info();
    let mut parts = (
        ClassStats::new(segmenter.classes(), info.georef.as_ref()),
        EncodedTiles::new(labeller.encoder.clone()),
        UnitLabels::default(),
    );
    segmenter
        .label_into(&mut opened.reader, unit, &mut parts)
        .await
        .map_err(|e| e.to_string())?;
    let (stats, tiles, labels) = parts;
    let samples = labeller.preview.samples(unit, &labels.0);
    let (places, payload) = unit_payload(&tiles.tiles, &samples);
    Ok((
        Reply::Labelled {
            stats,
            tiles: places,
            labels: samples.len(),
        },
        Some(payload),
    ))
}

/// The BLAKE3 and length of `blob`, read in steps with a return to the event loop after each.
async fn hash(blob: Blob) -> std::io::Result<(String, u64)> {
    let mut source = BlobReader::new(blob)?;
    let mut hasher = InputHasher::default();
    let mut buf = vec![0u8; HASH_READ];
    let mut since_yield = 0u64;
    loop {
        let n = source.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
        since_yield += n as u64;
        if since_yield >= HASH_STEP {
            since_yield = 0;
            super::next_task().await;
        }
    }
}

fn with_opened<T>(f: impl FnOnce(&mut Opened) -> Result<T, String>) -> Result<T, String> {
    STATE.with(|s| match s.borrow_mut().opened.as_mut() {
        Some(opened) => f(opened),
        None => Err("the parallel worker has no raster open".to_owned()),
    })
}

fn with_sampler<T>(
    f: impl FnOnce(
        &Sampler,
        &mut GeoTiffReader<BlobReader>,
    ) -> Result<T, engine::pipeline::SegmentError>,
) -> Result<T, String> {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let State {
            opened, sampler, ..
        } = &mut *s;
        match (opened.as_mut(), sampler.as_ref()) {
            (Some(opened), Some(sampler)) => {
                f(sampler, &mut opened.reader).map_err(|e| e.to_string())
            }
            _ => Err("the parallel worker has no raster or no sample plan".to_owned()),
        }
    })
}
