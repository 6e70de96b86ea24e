//! What both polygon writers start from: the class features, each with its attributes and
//! its polygons in the raster's CRS.

use super::{ClassAttributes, PolygonError, Polygons, class_attributes};
use crate::geotiff::GeoReference;
use crate::labels::LegendEntry;
use crate::progress::{self, Progress, Stage};

/// The polygons of `class` in the raster's CRS: exterior rings counter-clockwise, holes
/// clockwise (in x east, y north), every ring closed.
pub(super) fn crs_rings(
    polygons: &Polygons<'_>,
    georef: &GeoReference,
    class: u8,
) -> Vec<Vec<Vec<[f64; 2]>>> {
    let t = georef.transform;
    let [_, a, b, _, d, e] = t.0;
    // Pixel space (column right, row down) is counter-clockwise where the CRS is clockwise
    // when the transform flips orientation, as north-up rasters do.
    let flip = a * e - b * d < 0.0;
    polygons
        .class_rings(class)
        .into_iter()
        .map(|polygon| {
            polygon
                .into_iter()
                .map(|ring| {
                    let mut ring: Vec<[f64; 2]> = ring
                        .iter()
                        .map(|&[col, row]| {
                            let (x, y) = t.apply(f64::from(col), f64::from(row));
                            [x, y]
                        })
                        .collect();
                    if flip {
                        ring.reverse();
                    }
                    ring
                })
                .collect()
        })
        .collect()
}

/// What both writers start from: the raster's georeferencing, which they need, and the
/// attributes of every class that has polygons, one feature each.
pub(super) struct Features<'p, 't> {
    polygons: &'p Polygons<'t>,
    pub(super) georef: &'t GeoReference,
    pub(super) classes: Vec<ClassAttributes>,
}

impl<'p, 't> Features<'p, 't> {
    /// The features of `polygons`, named and coloured after `legend`; an error without
    /// georeferencing.
    pub(super) fn new(
        polygons: &'p Polygons<'t>,
        legend: &[LegendEntry],
    ) -> Result<Self, PolygonError> {
        let georef = polygons
            .topology()
            .georef()
            .ok_or(PolygonError::NoGeoreference)?;
        Ok(Self {
            polygons,
            georef,
            classes: class_attributes(polygons, legend),
        })
    }

    /// Hands `write` each class in turn (its index, attributes and polygons in the raster's CRS,
    /// as [`crs_rings`] makes them), checking for cancellation and reporting
    /// [`Stage::Writing`] before each, and its end after the last.
    pub(super) fn write_each(
        &self,
        progress: &impl Progress,
        mut write: impl FnMut(
            usize,
            &ClassAttributes,
            Vec<Vec<Vec<[f64; 2]>>>,
        ) -> Result<(), PolygonError>,
    ) -> Result<(), PolygonError> {
        for (i, attributes) in self.classes.iter().enumerate() {
            progress::check(progress)?;
            progress.report(Stage::Writing, i as f32 / self.classes.len() as f32);
            write(
                i,
                attributes,
                crs_rings(self.polygons, self.georef, attributes.class),
            )?;
        }
        progress.report(Stage::Writing, 1.0);
        Ok(())
    }
}
