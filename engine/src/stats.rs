//! Per-class statistics of a label raster: pixel counts, areas and shares.

use crate::geotiff::{GeoReference, PixelArea};
use crate::labels::{LegendEntry, NODATA};

/// Counts and areas accumulated row strip by row strip. Serialised without the pixel areas:
/// what comes back from another worker is only [`ClassStats::merge`]d into a full one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassStats {
    pub counts: Vec<u64>,
    /// Area per class, exact; `None` when the raster's units are unknown.
    areas: Option<Areas>,
    pub nodata_pixels: u64,
    #[serde(skip)]
    pixel_area: Option<PixelArea>,
}

/// Areas as whole multiples of a quantum: integer sums, so a class's area does not depend on
/// how its rows were grouped (a raster labelled in parts, `mapseg apply`, sums to the same
/// areas as one run).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Areas {
    /// A power of two, 2⁻²⁴ of the first row's pixel area or less: each pixel's area is
    /// rounded to it (a relative error under 6·10⁻⁸).
    quantum_m2: f64,
    /// Per class, in quanta.
    quanta: Vec<u64>,
}

/// Bits of precision of a pixel's area in [`Areas`].
const AREA_BITS: i32 = 24;

impl Areas {
    fn new(k: usize, pixel_m2: f64) -> Self {
        let exponent = pixel_m2.log2().floor() as i32 - AREA_BITS;
        Self {
            quantum_m2: 2f64.powi(exponent.clamp(-1000, 1000)),
            quanta: vec![0; k],
        }
    }

    /// `other` added (in this quantum when the two differ: rasters of other pixel sizes).
    fn add(&mut self, other: &Areas) {
        if other.quantum_m2 == self.quantum_m2 {
            for (a, b) in self.quanta.iter_mut().zip(&other.quanta) {
                *a = a.saturating_add(*b);
            }
            return;
        }
        let scale = other.quantum_m2 / self.quantum_m2;
        for (a, b) in self.quanta.iter_mut().zip(&other.quanta) {
            *a = a.saturating_add((*b as f64 * scale).round() as u64);
        }
    }

    fn m2(&self) -> Vec<f64> {
        self.quanta
            .iter()
            .map(|&q| q as f64 * self.quantum_m2)
            .collect()
    }
}

/// One row of the statistics table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassRow {
    /// Label value in the raster.
    pub class: u8,
    pub name: String,
    pub pixels: u64,
    pub area_m2: Option<f64>,
    pub area_ha: Option<f64>,
    /// Share of the valid pixels, in percent.
    pub percent: f64,
}

impl ClassStats {
    pub fn new(k: usize, georef: Option<&GeoReference>) -> Self {
        let areas = georef
            .and_then(|g| g.pixel_area_m2(0.0))
            .filter(|a| a.is_finite() && *a > 0.0)
            .map(|a| Areas::new(k, a));
        Self {
            counts: vec![0; k],
            areas,
            nodata_pixels: 0,
            pixel_area: georef.map(GeoReference::pixel_area),
        }
    }

    /// Adds `labels`: rows of `width` pixels (a whole raster row or part of one) starting at
    /// raster row `y0`.
    #[cfg_attr(
        all(target_arch = "wasm32", feature = "simd"),
        target_feature(enable = "simd128")
    )]
    pub fn add_rows(&mut self, y0: u32, width: u32, labels: &[u8]) {
        for (i, row) in labels.chunks_exact(width as usize).enumerate() {
            let mut hist = [0u64; 256];
            for &l in row {
                hist[usize::from(l)] += 1;
            }
            self.nodata_pixels += hist[usize::from(NODATA)];
            let pixel_area = self.pixel_area.and_then(|a| a.m2(f64::from(y0) + i as f64));
            for (class, count) in self.counts.iter_mut().enumerate() {
                *count += hist[class];
            }
            if let (Some(areas), Some(a)) = (self.areas.as_mut(), pixel_area) {
                let pixel = (a / areas.quantum_m2).round() as u64;
                for (class, area) in areas.quanta.iter_mut().enumerate() {
                    *area = area.saturating_add(hist[class].saturating_mul(pixel));
                }
            }
        }
    }

    /// Area per class in m²; `None` when the raster's units are unknown.
    pub fn area_m2(&self) -> Option<Vec<f64>> {
        self.areas.as_ref().map(Areas::m2)
    }

    /// Adds the counts and areas of `other` (for the same k).
    pub fn merge(&mut self, other: &ClassStats) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        if let (Some(a), Some(b)) = (self.areas.as_mut(), other.areas.as_ref()) {
            a.add(b);
        }
        self.nodata_pixels += other.nodata_pixels;
    }

    /// These statistics with the classes relabelled by `map` (counts and areas summed).
    pub fn relabelled(&self, map: &crate::relabel::ClassMap) -> ClassStats {
        ClassStats {
            counts: map.sum(&self.counts),
            areas: self.areas.as_ref().map(|a| Areas {
                quantum_m2: a.quantum_m2,
                quanta: map.sum(&a.quanta),
            }),
            nodata_pixels: self.nodata_pixels,
            pixel_area: self.pixel_area,
        }
    }

    /// The table, one row per class, named after `legend`.
    pub fn rows(&self, legend: &[LegendEntry]) -> Vec<ClassRow> {
        table(&self.counts, self.area_m2().as_deref(), legend)
    }
}

/// The statistics table of per-class `counts` and areas (`area_m2`, one per class, when the
/// pixel area is known), one row per class, named after `legend` (the default names beyond it).
pub fn table(counts: &[u64], area_m2: Option<&[f64]>, legend: &[LegendEntry]) -> Vec<ClassRow> {
    let valid: u64 = counts.iter().sum();
    counts
        .iter()
        .enumerate()
        .map(|(class, &pixels)| {
            let area_m2 = area_m2.map(|a| a[class]);
            ClassRow {
                class: class as u8,
                name: legend
                    .get(class)
                    .map_or_else(|| format!("class {}", class + 1), |e| e.name.clone()),
                pixels,
                area_m2,
                area_ha: area_m2.map(|a| a / 10_000.0),
                percent: if valid == 0 {
                    0.0
                } else {
                    100.0 * pixels as f64 / valid as f64
                },
            }
        })
        .collect()
}

/// The table as CSV text (header `class,name,pixels,area_m2,area_ha,percent`).
pub fn to_csv(rows: &[ClassRow]) -> String {
    let mut out = String::from("class,name,pixels,area_m2,area_ha,percent\n");
    let opt =
        |v: Option<f64>, digits: usize| v.map_or_else(String::new, |v| format!("{v:.digits$}"));
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{:.4}\n",
            r.class,
            csv_field(&r.name),
            r.pixels,
            opt(r.area_m2, 3),
            opt(r.area_ha, 6),
            r.percent
        ));
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::default_legend;

    #[test]
    fn counts_shares_and_csv() {
        let mut s = ClassStats::new(3, None);
        s.add_rows(0, 4, &[0, 0, 1, NODATA, 2, 2, 2, 2]);
        assert_eq!(s.counts, vec![2, 1, 4]);
        assert_eq!(s.nodata_pixels, 1);
        let mut legend = default_legend(3);
        legend[1].name = "water, deep".into();
        let rows = s.rows(&legend);
        assert!((rows[2].percent - 400.0 / 7.0).abs() < 1e-9);
        let csv = to_csv(&rows);
        assert!(csv.contains("1,\"water, deep\",1,,,14.2857"), "{csv}");
    }

    #[test]
    fn areas_do_not_depend_on_the_grouping_of_rows() {
        // Ellipsoidal areas differ on every row; whole-raster and per-part sums must agree.
        use crate::geotiff::{GeoReference, RawGeoTags};
        // EPSG:4326, 0.000123° pixels from 47.5° N: every row has its own area.
        let georef = GeoReference::from_raw(RawGeoTags {
            model_pixel_scale: Some(vec![0.000_123, 0.000_123, 0.0]),
            model_tiepoint: Some(vec![0.0, 0.0, 0.0, 8.0, 47.5, 0.0]),
            geo_key_directory: vec![1, 1, 0, 2, 1024, 0, 1, 2, 2048, 0, 1, 4326],
            ..RawGeoTags::default()
        })
        .expect("a transform");
        let (w, h) = (7u32, 300u32);
        let labels: Vec<u8> = (0..w * h)
            .map(|i| (i.wrapping_mul(2_654_435_761) % 5) as u8)
            .collect();
        let mut whole = ClassStats::new(5, Some(&georef));
        for y in 0..h {
            let row = &labels[(y * w) as usize..((y + 1) * w) as usize];
            whole.add_rows(y, w, row);
        }
        for parts in [2u32, 3, 7, 64] {
            let mut sum = ClassStats::new(5, Some(&georef));
            let rows = h.div_ceil(parts);
            for y0 in (0..h).step_by(rows as usize) {
                let y1 = (y0 + rows).min(h);
                let mut part = ClassStats::new(5, Some(&georef));
                part.add_rows(y0, w, &labels[(y0 * w) as usize..(y1 * w) as usize]);
                sum.merge(&part);
            }
            assert_eq!(sum.area_m2(), whole.area_m2(), "{parts} parts");
            assert_eq!(sum.counts, whole.counts);
        }
    }
}
