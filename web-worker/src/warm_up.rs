//! A segmentation of small synthetic rasters, run once when the worker starts, before any file.
//!
//! The browser compiles WebAssembly in two tiers: every function starts in a quick baseline
//! compiler and gets optimised code only once it has run a while, compiled in the background;
//! a call that is running when that code is ready finishes in the baseline code. The first run
//! after the page opens would pay for it: its fit (one call of k-means++, a few of Lloyd's
//! steps) and its first units would run at the baseline's speed. Running every stage of a
//! K-Means run (the display image, the manifest's hash, the sample and the fit, labelling
//! with the app's default post-processing into statistics, compressed tiles and the label
//! preview, as the helpers do) on synthetic rasters while the user picks a file has the
//! optimised code ready for the first real run. The pool's helpers run the worker's compiled
//! module, so they have it too.
//!
//! The warm-up gives way to anything the page sends: it returns to the event loop between its
//! steps and stops as soon as a message waits, to go on after it while no file is open.

use std::io::Cursor;

use engine::geotiff::{GeoTiffReader, GeoTiffWriter, TILE_SIZE, WriterOptions};
use engine::manifest::InputHasher;
use engine::pipeline::{EncodedTiles, Runtime, label_encoder, segmenter};
use engine::preview::{LabelPreview, render_preview};
use engine::progress::NoProgress;
use engine::raster::{SampleType, Samples};
use engine::stats::ClassStats;

use web::protocol::PREVIEW_MAX_SIDE;
use web::url_state::Settings;

use crate::pool::next_task;

/// A synthetic raster: its side in pixels, bands and sample type.
struct Scene {
    side: u32,
    bands: usize,
    sample_type: SampleType,
}

/// The rasters warmed up on: 8-bit RGB (aerial imagery), then 16-bit with four bands (satellite
/// reflectance), so that both sample types' code is optimised. Each is large enough for its
/// stages to run long enough to be optimised, and small enough to take a fraction of a second
/// in the baseline code.
const SCENES: [Scene; 2] = [
    Scene {
        side: 1024,
        bands: 3,
        sample_type: SampleType::U8,
    },
    Scene {
        side: 512,
        bands: 4,
        sample_type: SampleType::U16,
    },
];

/// Land covers of the synthetic landscape: reflectance in blue, green, red and near infrared.
const COVERS: [[f32; 4]; 5] = [
    [0.08, 0.06, 0.04, 0.02], // water
    [0.05, 0.09, 0.05, 0.45], // forest
    [0.10, 0.16, 0.12, 0.35], // crops
    [0.22, 0.22, 0.24, 0.25], // built-up
    [0.30, 0.28, 0.26, 0.32], // bare soil
];

/// Why the warm-up ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every stage ran on every scene.
    Done,
    /// A message came and the warm-up gave way; it goes on from the scene `next`.
    GaveWay { next: usize },
}

/// Runs the warm-up from the scene `from`, returning to the event loop between steps (the
/// display image, the fit, each unit: a few tens of milliseconds each) and stopping when
/// `waiting` says a message waits.
pub async fn run(from: usize, waiting: impl Fn() -> bool) -> Result<Outcome, String> {
    let params = Settings::default().params(&[]);
    for (i, scene) in SCENES.iter().enumerate().skip(from) {
        let gave_way = Ok(Outcome::GaveWay { next: i });
        if give_way(&waiting).await {
            return gave_way;
        }
        let bytes = scene.geotiff()?;
        let failed = |e: &dyn std::fmt::Display| format!("the warm-up run failed: {e}");
        let mut reader =
            GeoTiffReader::open(Cursor::new(bytes.as_slice())).map_err(|e| failed(&e))?;
        render_preview(&mut reader, [2, 1, 0], PREVIEW_MAX_SIDE).map_err(|e| failed(&e))?;
        let mut hasher = InputHasher::default();
        hasher.update(&bytes);
        // Nothing reads the results: kept from being optimised away.
        std::hint::black_box(hasher.finish());
        if give_way(&waiting).await {
            return gave_way;
        }
        let segmenter = segmenter(&mut reader, &params, &Runtime::default(), &NoProgress)
            .await
            .map_err(|e| failed(&e))?;
        let info = reader.info().clone();
        let mut sinks = (
            ClassStats::new(segmenter.classes(), info.georef.as_ref()),
            EncodedTiles::new(label_encoder(&info)),
            LabelPreview::new(info.width, info.height, PREVIEW_MAX_SIDE),
        );
        for unit in segmenter.units() {
            if give_way(&waiting).await {
                return gave_way;
            }
            segmenter
                .label_into(&mut reader, unit, &mut sinks)
                .await
                .map_err(|e| failed(&e))?;
        }
        std::hint::black_box(sinks);
    }
    Ok(Outcome::Done)
}

/// Returns to the event loop (messages that came meanwhile are queued); whether one waits.
async fn give_way(waiting: &impl Fn() -> bool) -> bool {
    next_task().await;
    waiting()
}

impl Scene {
    /// The scene as a tiled Deflate GeoTIFF in memory.
    fn geotiff(&self) -> Result<Vec<u8>, String> {
        let failed = |e: engine::geotiff::EncodeError| format!("the warm-up raster: {e}");
        let options = WriterOptions::new(self.side, self.side, self.bands, self.sample_type);
        let mut writer = GeoTiffWriter::new(Cursor::new(Vec::new()), options).map_err(failed)?;
        for top in (0..self.side).step_by(TILE_SIZE as usize) {
            let rows = TILE_SIZE.min(self.side - top);
            let values = (top..top + rows).flat_map(|y| {
                (0..self.side).flat_map(move |x| (0..self.bands).map(move |b| reflectance(x, y, b)))
            });
            let samples = match self.sample_type {
                SampleType::U16 => Samples::U16(values.map(|v| (v * 10_000.0) as u16).collect()),
                _ => Samples::U8(values.map(|v| (v * 255.0 * 2.5).min(255.0) as u8).collect()),
            };
            writer.write_strip(&samples).map_err(failed)?;
        }
        Ok(writer.finish().map_err(failed)?.into_inner())
    }
}

/// Reflectance of `band` at (`x`, `y`): a landscape of smooth patches of the [`COVERS`], with
/// some texture (a hash of the position, so the same on every run).
fn reflectance(x: u32, y: u32, band: usize) -> f32 {
    let (fx, fy) = (x as f32, y as f32);
    let field = (fx / 97.0).sin() + (fy / 131.0).cos() + 0.5 * ((fx + fy) / 53.0).sin();
    let cover = ((field + 2.5) * 1.2) as usize % COVERS.len();
    let mut h = x.wrapping_mul(0x9E37_79B1) ^ y.wrapping_mul(0x85EB_CA77) ^ (band as u32) << 28;
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    let texture = (h & 0xff) as f32 / 255.0 - 0.5;
    (COVERS[cover][band % 4] * (1.0 + 0.3 * texture)).clamp(0.0, 1.0)
}
