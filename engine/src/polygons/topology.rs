//! Regions' rings rebuilt from the arcs, each arc used once per side.
//!
//! A *half-arc* is an arc walked so that a given region lies on its left: forwards for the
//! arc's left region, backwards for its right one. A region's rings chain its half-arcs at
//! shared corners. Only at a corner where the same region holds two diagonal pixels are there
//! two ways on; the ring turns right there (hugging the other region's pixel), so a ring never
//! passes a corner twice: the region's exterior and a hole touch at that corner instead. An
//! exterior ring winds counter-clockwise in pixel space (column, row), a hole clockwise.

use super::trace::NONE;
use super::{Corner, PolygonError};
use crate::geotiff::GeoReference;
use crate::stats::ClassStats;

/// A chain of pixel corners between two nodes (or a closed ring, first corner = last) with a
/// region on each side ([`NONE`] for nodata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Arc {
    pub points: Vec<Corner>,
    pub left: u32,
    pub right: u32,
}

impl Arc {
    pub fn is_closed(&self) -> bool {
        self.points.len() > 1 && self.points.first() == self.points.last()
    }
}

/// A half-arc: `arc << 1 | reversed`.
pub(super) type HalfArc = u32;

/// The rings of one region: the exterior first, then the holes, as half-arcs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RegionRings {
    pub class: u8,
    pub rings: Vec<Vec<HalfArc>>,
}

/// The planar topology of a label raster: arcs shared by the regions on their two sides, each
/// region's rings, and the class statistics of the same pixels. Simplify it with
/// [`Topology::simplify`]; it can be simplified again with another tolerance.
#[derive(Debug, Clone)]
pub struct Topology {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) arcs: Vec<Arc>,
    /// Regions ordered by class, then by their first pixel in row-major order.
    pub(super) regions: Vec<RegionRings>,
    pub(super) stats: ClassStats,
    pub(super) georef: Option<GeoReference>,
}

impl Topology {
    /// Chains the half-arcs of every region into rings. `class_of` gives the class of each
    /// region id the arcs name.
    pub(super) fn build(
        width: u32,
        height: u32,
        arcs: Vec<Arc>,
        class_of: &[u8],
        stats: ClassStats,
        georef: Option<GeoReference>,
    ) -> Result<Topology, PolygonError> {
        let mut rings: Vec<(u32, Vec<HalfArc>)> = Vec::new();
        // (region, start corner, half-arc) of every half-arc of an open arc.
        let mut starts: Vec<(u32, Corner, HalfArc)> = Vec::new();
        for (a, arc) in arcs.iter().enumerate() {
            let a = u32::try_from(a)
                .ok()
                .filter(|a| *a < 1 << 31)
                .ok_or(PolygonError::Topology("too many arcs"))?;
            for (region, reversed) in [(arc.left, 0), (arc.right, 1)] {
                if region == NONE {
                    continue;
                }
                let half = a << 1 | reversed;
                if arc.is_closed() {
                    rings.push((region, vec![half]));
                } else {
                    starts.push((region, start(&arcs, half), half));
                }
            }
        }
        starts.sort_unstable();
        let mut used = vec![false; starts.len()];
        for i in 0..starts.len() {
            if used[i] {
                continue;
            }
            let (region, ring_start, first) = starts[i];
            used[i] = true;
            let mut ring = vec![first];
            let mut half = first;
            loop {
                let at = end(&arcs, half);
                let from = starts.partition_point(|s| (s.0, s.1) < (region, at));
                let to = starts.partition_point(|s| (s.0, s.1) <= (region, at));
                let next = match to - from {
                    1 => from,
                    2 => {
                        // The region's diagonal pixels meet here: turn right.
                        let incoming = last_step(&arcs, half);
                        if cross(incoming, first_step(&arcs, starts[from].2)) < 0 {
                            from
                        } else {
                            from + 1
                        }
                    }
                    _ => return Err(PolygonError::Topology("a ring corner without its way on")),
                };
                if starts[next].2 == first {
                    break;
                }
                if used[next] || at == ring_start && next != i {
                    return Err(PolygonError::Topology("a ring passes a corner twice"));
                }
                used[next] = true;
                half = starts[next].2;
                ring.push(half);
            }
            rings.push((region, ring));
        }
        drop(starts);

        // Exteriors first, then holes, per region; regions by class, then by id.
        let mut by_region: Vec<u32> = vec![NONE; class_of.len()];
        let mut regions: Vec<RegionRings> = Vec::new();
        let mut holes: Vec<(u32, Vec<HalfArc>)> = Vec::new();
        rings.sort_by_key(|(region, _)| *region);
        for (region, ring) in rings {
            if twice_area(&arcs, &ring) > 0 {
                let slot = by_region
                    .get_mut(region as usize)
                    .ok_or(PolygonError::Topology("an arc names an unknown region"))?;
                if *slot != NONE {
                    return Err(PolygonError::Topology("a region with two exterior rings"));
                }
                *slot = regions.len() as u32;
                regions.push(RegionRings {
                    class: class_of[region as usize],
                    rings: vec![ring],
                });
            } else {
                holes.push((region, ring));
            }
        }
        for (region, ring) in holes {
            let r = by_region[region as usize];
            if r == NONE {
                return Err(PolygonError::Topology("a hole without its region"));
            }
            regions[r as usize].rings.push(ring);
        }
        regions.sort_by_key(|r| r.class);
        Ok(Topology {
            width,
            height,
            arcs,
            regions,
            stats,
            georef,
        })
    }

    /// Width and height of the label raster in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Pixel corners on all arcs (shared corners counted once per arc).
    pub fn vertices(&self) -> usize {
        self.arcs.iter().map(|a| a.points.len()).sum()
    }

    /// Regions (polygons) of all classes.
    pub fn regions(&self) -> usize {
        self.regions.len()
    }

    /// The counts and areas of the traced pixels per label value (the same numbers as the
    /// run's statistics).
    pub fn stats(&self) -> &ClassStats {
        &self.stats
    }

    /// The georeferencing given to the tracer.
    pub fn georef(&self) -> Option<&GeoReference> {
        self.georef.as_ref()
    }
}

/// The arc index and whether it is walked backwards.
pub(super) fn split(half: HalfArc) -> (usize, bool) {
    ((half >> 1) as usize, half & 1 == 1)
}

fn start(arcs: &[Arc], half: HalfArc) -> Corner {
    let (a, reversed) = split(half);
    let p = &arcs[a].points;
    if reversed { p[p.len() - 1] } else { p[0] }
}

fn end(arcs: &[Arc], half: HalfArc) -> Corner {
    let (a, reversed) = split(half);
    let p = &arcs[a].points;
    if reversed { p[0] } else { p[p.len() - 1] }
}

fn step(from: Corner, to: Corner) -> [i64; 2] {
    [
        i64::from(to[0]) - i64::from(from[0]),
        i64::from(to[1]) - i64::from(from[1]),
    ]
}

fn first_step(arcs: &[Arc], half: HalfArc) -> [i64; 2] {
    let (a, reversed) = split(half);
    let p = &arcs[a].points;
    let n = p.len();
    if reversed {
        step(p[n - 1], p[n - 2])
    } else {
        step(p[0], p[1])
    }
}

fn last_step(arcs: &[Arc], half: HalfArc) -> [i64; 2] {
    let (a, reversed) = split(half);
    let p = &arcs[a].points;
    let n = p.len();
    if reversed {
        step(p[1], p[0])
    } else {
        step(p[n - 2], p[n - 1])
    }
}

fn cross(a: [i64; 2], b: [i64; 2]) -> i64 {
    a[0] * b[1] - a[1] * b[0]
}

/// Twice the signed area of a ring of half-arcs (positive: counter-clockwise in pixel space).
fn twice_area(arcs: &[Arc], ring: &[HalfArc]) -> i64 {
    let mut sum = 0i64;
    for &half in ring {
        let (a, reversed) = split(half);
        let p = &arcs[a].points;
        for w in p.windows(2) {
            let (s, e) = if reversed { (w[1], w[0]) } else { (w[0], w[1]) };
            sum += i64::from(s[0]) * i64::from(e[1]) - i64::from(e[0]) * i64::from(s[1]);
        }
    }
    sum
}
