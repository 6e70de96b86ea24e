//! Labelling units on every core: each worker labels a unit into its own sinks (class
//! statistics, compressed tiles, and the labels when asked), and the calling thread takes them
//! in unit order. What `mapseg segment` and `mapseg apply` share.

use engine::geotiff::{GeoReference, TileEncoder};
use engine::pipeline::{EncodedTiles, Part, Segmenter};
use engine::progress::{Progress, Stage};
use engine::raster::Window;
use engine::stats::ClassStats;

use crate::fitting::Reader;
use crate::parallel::in_order;
use crate::polygons::UnitLabels;
use crate::progress::Bar;

/// What a worker hands back for one unit: its class counts (rows of the whole raster), its
/// compressed tiles and, when kept, its labels.
pub type UnitParts = (ClassStats, EncodedTiles, UnitLabels);

/// Where the tiles of the labelled units go.
#[derive(Debug, Clone, Copy)]
pub enum Placement {
    /// The whole raster's GeoTIFF.
    Whole,
    /// A part's own GeoTIFF.
    Part(Part),
}

/// Labels `units` (whole-raster units of `segmenter`) with one worker per reader, compressing
/// their tiles with `encoder` at `placement`, and hands each unit's parts to `sink` in unit
/// order, reporting [`Stage::Assigning`] and stopping at Ctrl-C. `keep_labels` keeps each
/// unit's labels too (polygons, suggested names).
#[allow(clippy::too_many_arguments)]
pub fn label_units(
    readers: &mut [Reader],
    segmenter: &Segmenter,
    units: &[Window],
    georef: Option<&GeoReference>,
    encoder: &TileEncoder,
    placement: Placement,
    keep_labels: bool,
    bar: &Bar,
    mut sink: impl FnMut(UnitParts) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let classes = segmenter.classes();
    let work = |reader: &mut Reader, &unit: &Window| -> anyhow::Result<UnitParts> {
        bar.check()?;
        let tiles = match placement {
            Placement::Whole => EncodedTiles::new(encoder.clone()),
            Placement::Part(part) => EncodedTiles::within(encoder.clone(), part),
        };
        let mut parts = (
            ClassStats::new(classes, georef),
            tiles,
            UnitLabels {
                keep: keep_labels,
                labels: None,
            },
        );
        pollster::block_on(segmenter.label_into(reader, unit, &mut parts))?;
        Ok(parts)
    };
    in_order(units, readers, work, |done, parts| {
        sink(parts)?;
        bar.report(Stage::Assigning, (done + 1) as f32 / units.len() as f32);
        Ok(())
    })
}
