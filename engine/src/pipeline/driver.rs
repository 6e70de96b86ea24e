//! The unit driver and its sinks: every front end labels units through
//! [`Segmenter::label_into`] and hands the labels to the outputs it wants.
//!
//! A sink takes the labels of one unit at a time, in unit order when one sink sees the whole
//! raster. The CLI labels units on several threads, each into a fresh per-unit sink
//! (`(ClassStats, EncodedTiles)`), and merges those in unit order; [`Segmenter::run`] does the
//! units in order into one sink. New outputs (polygons) are one more sink.

use std::io::{Cursor, Read, Seek, Write};

use super::{Runtime, SegmentError, SegmentParams, Segmenter, writer_options};
use crate::geotiff::{CogWriter, EncodedTile, GeoTiffReader, TILE_SIZE, TileEncoder};
use crate::kmeans::model;
use crate::labels::LegendEntry;
use crate::manifest::{InputIdentity, RunManifest};
use crate::pipeline::MethodParams;
use crate::preview::LabelPreview;
use crate::progress::{self, Progress, Stage};
use crate::raster::{Samples, Window};
use crate::stats::ClassStats;

/// Takes the labels of units (row-major over the unit, [`crate::labels::NODATA`] for nodata).
pub trait UnitSink {
    fn unit(&mut self, unit: Window, labels: &[u8]) -> Result<(), SegmentError>;
}

impl<S: UnitSink + ?Sized> UnitSink for &mut S {
    fn unit(&mut self, unit: Window, labels: &[u8]) -> Result<(), SegmentError> {
        (**self).unit(unit, labels)
    }
}

impl<A: UnitSink, B: UnitSink> UnitSink for (A, B) {
    fn unit(&mut self, unit: Window, labels: &[u8]) -> Result<(), SegmentError> {
        self.0.unit(unit, labels)?;
        self.1.unit(unit, labels)
    }
}

impl<A: UnitSink, B: UnitSink, C: UnitSink> UnitSink for (A, B, C) {
    fn unit(&mut self, unit: Window, labels: &[u8]) -> Result<(), SegmentError> {
        self.0.unit(unit, labels)?;
        self.1.unit(unit, labels)?;
        self.2.unit(unit, labels)
    }
}

/// Class counts and areas.
impl UnitSink for ClassStats {
    fn unit(&mut self, unit: Window, labels: &[u8]) -> Result<(), SegmentError> {
        self.add_rows(unit.y, unit.width, labels);
        Ok(())
    }
}

/// The decimated labels of the display image.
impl UnitSink for LabelPreview {
    fn unit(&mut self, unit: Window, labels: &[u8]) -> Result<(), SegmentError> {
        self.add(unit, labels);
        Ok(())
    }
}

/// Compressed output tiles, kept in memory (to write later, or again with another legend).
#[derive(Debug, Clone)]
pub struct EncodedTiles {
    encoder: TileEncoder,
    /// The part whose own GeoTIFF the tiles are for, when not the whole raster's.
    part: Option<super::Part>,
    pub tiles: Vec<EncodedTile>,
}

impl EncodedTiles {
    pub fn new(encoder: TileEncoder) -> Self {
        Self {
            encoder,
            part: None,
            tiles: Vec::new(),
        }
    }

    /// Tiles of `part`'s own GeoTIFF (`encoder` encodes the part's raster): units come in the
    /// whole raster's coordinates and are placed in the part's.
    pub fn within(encoder: TileEncoder, part: super::Part) -> Self {
        Self {
            part: Some(part),
            ..Self::new(encoder)
        }
    }
}

impl UnitSink for EncodedTiles {
    /// Encodes the tiles of `unit`, a run of whole tiles of one or more tile rows, row by row.
    fn unit(&mut self, unit: Window, labels: &[u8]) -> Result<(), SegmentError> {
        let unit = self.part.map_or(unit, |p| p.local(unit));
        let width = unit.width as usize;
        for y in (unit.y..unit.bottom()).step_by(TILE_SIZE as usize) {
            let row = Window::new(unit.x, y, unit.width, TILE_SIZE.min(unit.bottom() - y));
            // Too few labels reach the encoder short, which refuses them.
            let first = ((y - unit.y) as usize * width).min(labels.len());
            let rows = &labels[first..(first + row.len()).min(labels.len())];
            let tiles = self.encoder.encode(row, &Samples::U8(rows.to_vec()))?;
            self.tiles.extend(tiles);
        }
        Ok(())
    }
}

/// Compresses each unit's tiles and hands them to a cloud-optimised label GeoTIFF.
#[derive(Debug)]
pub struct TileWriter<W: Write, S: Read + Write + Seek> {
    encoder: TileEncoder,
    writer: CogWriter<W, S>,
}

impl<W: Write, S: Read + Write + Seek> TileWriter<W, S> {
    pub fn new(writer: CogWriter<W, S>) -> Self {
        Self {
            encoder: writer.tile_encoder(),
            writer,
        }
    }

    /// Writes the file and returns the sink.
    pub fn finish(self) -> Result<W, SegmentError> {
        Ok(self.writer.finish()?)
    }
}

impl<W: Write, S: Read + Write + Seek> UnitSink for TileWriter<W, S> {
    fn unit(&mut self, unit: Window, labels: &[u8]) -> Result<(), SegmentError> {
        let tiles = self.encoder.encode(unit, &Samples::U8(labels.to_vec()))?;
        self.writer.write_tiles(&tiles)?;
        Ok(())
    }
}

impl Segmenter {
    /// Labels `unit` ([`Segmenter::label`]) and hands its labels to `sink`.
    pub async fn label_into<R: Read + Seek>(
        &self,
        reader: &mut GeoTiffReader<R>,
        unit: Window,
        sink: &mut impl UnitSink,
    ) -> Result<(), SegmentError> {
        let labels = self.label(reader, unit).await?;
        sink.unit(unit, &labels)
    }

    /// Labels every unit in order into `sink` on one reader, reporting [`Stage::Assigning`] and
    /// stopping between units when `progress` is cancelled.
    pub async fn run<R: Read + Seek>(
        &self,
        reader: &mut GeoTiffReader<R>,
        sink: &mut impl UnitSink,
        progress: &impl Progress,
    ) -> Result<(), SegmentError> {
        let units = self.units();
        for (i, &unit) in units.iter().enumerate() {
            progress::check(progress)?;
            progress.report(Stage::Assigning, i as f32 / units.len() as f32);
            self.label_into(reader, unit, sink).await?;
        }
        progress.report(Stage::Assigning, 1.0);
        Ok(())
    }
}

/// The outcome of [`segment`].
#[derive(Debug)]
pub struct Segmentation<W> {
    pub sink: W,
    pub stats: ClassStats,
    pub manifest: RunManifest,
    pub legend: Vec<LegendEntry>,
}

/// The segmenter of `params` for `reader`'s raster, fitted on the sample on the calling thread
/// (K-Means: centres on block features; CNN: centres on the network's embeddings, with
/// `runtime`'s model and device).
pub async fn segmenter<R: Read + Seek>(
    reader: &mut GeoTiffReader<R>,
    params: &SegmentParams,
    runtime: &Runtime,
    progress: &impl Progress,
) -> Result<Segmenter, SegmentError> {
    params.validate(reader.info())?;
    match &params.method {
        MethodParams::Kmeans(p) => {
            let fitted = model::fit(reader, p, params.seed, progress)?;
            let segmenter = Segmenter::kmeans(fitted.model, params.post);
            #[cfg(feature = "cnn")]
            let segmenter = segmenter.assigning_on(runtime.kmeans.clone());
            Ok(segmenter)
        }
        #[cfg(feature = "cnn")]
        MethodParams::Cnn(p) => {
            #[cfg(feature = "builtin-model")]
            let builtin;
            let cnn = match &runtime.cnn {
                Some(cnn) => cnn,
                #[cfg(feature = "builtin-model")]
                None => {
                    builtin = crate::cnn::CnnRuntime::builtin()
                        .map_err(|e| SegmentError::Backend(e.to_string()))?;
                    &builtin
                }
                #[cfg(not(feature = "builtin-model"))]
                None => return Err(SegmentError::NoModel),
            };
            let fitted = crate::cnn::method::fit(reader, p, params.seed, cnn, progress).await?;
            Ok(Segmenter::cnn(fitted.model, params.post))
        }
        #[cfg(not(feature = "cnn"))]
        MethodParams::Cnn(_) => {
            let _ = runtime;
            Err(SegmentError::NoCnn)
        }
    }
}

/// Segments the raster of `reader` into `sink` as a cloud-optimised label GeoTIFF, on the
/// calling thread. The compressed tiles wait in memory until the file is written; a front end
/// whose memory must not grow with the raster hands [`TileWriter`] a scratch file instead.
pub async fn segment<R: Read + Seek, W: Write>(
    reader: &mut GeoTiffReader<R>,
    sink: W,
    params: &SegmentParams,
    runtime: &Runtime,
    input: InputIdentity,
    progress: &impl Progress,
) -> Result<Segmentation<W>, SegmentError> {
    let segmenter = segmenter(reader, params, runtime, progress).await?;
    let info = reader.info().clone();
    let legend = segmenter.legend();
    let manifest = segmenter.manifest(input, &runtime.backend(params));
    let options = writer_options(&info, &legend, &manifest);
    let writer = CogWriter::new(sink, Cursor::new(Vec::new()), options)?;
    let mut outputs = (
        ClassStats::new(segmenter.classes(), info.georef.as_ref()),
        TileWriter::new(writer),
    );
    segmenter.run(reader, &mut outputs, progress).await?;
    let (stats, tiles) = outputs;
    Ok(Segmentation {
        sink: tiles.finish()?,
        stats,
        manifest,
        legend,
    })
}
