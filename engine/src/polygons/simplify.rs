//! Topology-preserving simplification: each arc once, Douglas–Peucker with checks.
//!
//! Arcs are simplified one after the other, in order. Within an arc, Douglas–Peucker proposes
//! to replace the corners between `i` and `j` by the segment `i`–`j` when none lies farther
//! than the tolerance from it; the proposal is accepted only when the segment, against every
//! segment as it stands now (other arcs, simplified or not, and the rest of this arc):
//!
//! - crosses or touches none, except at a shared end, and overlaps none;
//! - keeps half a pixel from every other segment's ends, and they from it (so rounding or
//!   reprojecting the coordinates later cannot make them cross);
//! - sweeps no vertex: no corner of another segment lies in the area between the old corners
//!   and the new segment (which would put an island on the other side of a boundary).
//!
//! Otherwise the span is split at its farthest corner, as if it were too far, down to single
//! original segments, which always stand. A segment grid indexes the current segments. Arcs
//! along nodata or the raster's edge are kept as they are, so the classes cover exactly the
//! valid pixels.
//! Kept vertices are original pixel corners, so every test is exact integer arithmetic; only
//! the tolerance is measured in metres.

use super::topology::Arc;
use super::trace::NONE;
use super::{Corner, PolygonError, Topology};
use crate::geotiff::{GeoReference, LinearUnit};
use crate::progress::{self, Progress, Stage};

/// The clearance kept between a simplified segment and other segments' ends, in pixels.
const CLEARANCE_PX: f64 = 0.5;

/// The simplified polygons of a [`Topology`]: its arcs, simplified once each, in its rings.
#[derive(Debug)]
pub struct Polygons<'t> {
    pub(super) topology: &'t Topology,
    pub(super) arcs: Vec<Vec<Corner>>,
    tolerance_m: f64,
}

impl<'t> Polygons<'t> {
    /// The tolerance the arcs were simplified with, in metres (0: not simplified).
    pub fn tolerance_m(&self) -> f64 {
        self.tolerance_m
    }

    /// The topology simplified.
    pub fn topology(&self) -> &'t Topology {
        self.topology
    }

    /// Vertices left on all arcs.
    pub fn vertices(&self) -> usize {
        self.arcs.iter().map(Vec::len).sum()
    }

    /// The polygons of class `class` in pixel-corner coordinates (column, row): each polygon
    /// its exterior ring (counter-clockwise in pixel space) and holes (clockwise), every ring
    /// closed (its first corner repeated at the end).
    pub fn class_rings(&self, class: u8) -> Vec<Vec<Vec<Corner>>> {
        self.topology
            .regions
            .iter()
            .filter(|r| r.class == class)
            .map(|region| {
                region
                    .rings
                    .iter()
                    .map(|ring| self.ring_corners(ring))
                    .collect()
            })
            .collect()
    }

    /// The classes that have polygons, in order.
    pub fn classes(&self) -> Vec<u8> {
        let mut classes: Vec<u8> = self.topology.regions.iter().map(|r| r.class).collect();
        classes.dedup();
        classes
    }

    fn ring_corners(&self, ring: &[u32]) -> Vec<Corner> {
        let mut out: Vec<Corner> = Vec::new();
        for &half in ring {
            let (a, reversed) = super::topology::split(half);
            let points = &self.arcs[a];
            let skip = usize::from(!out.is_empty());
            if reversed {
                out.extend(points.iter().rev().skip(skip));
            } else {
                out.extend(points.iter().skip(skip));
            }
        }
        out
    }
}

impl Topology {
    /// Simplifies every arc once with a tolerance of `tolerance_m` metres (0 keeps every pixel
    /// corner), reporting [`Stage::Polygons`] and stopping when `progress` is cancelled.
    ///
    /// A tolerance above 0 needs the raster's linear unit or a geographic CRS to turn metres
    /// into pixels.
    pub fn simplify(
        &self,
        tolerance_m: f64,
        progress: &impl Progress,
    ) -> Result<Polygons<'_>, PolygonError> {
        if !tolerance_m.is_finite() || tolerance_m < 0.0 {
            return Err(PolygonError::BadTolerance(tolerance_m));
        }
        let arcs = if tolerance_m == 0.0 {
            self.arcs.iter().map(|a| a.points.clone()).collect()
        } else {
            let metric =
                Metric::of(self.georef.as_ref(), self.height).ok_or(PolygonError::UnknownUnit)?;
            let mut state = Simplifier::new(&self.arcs, self.width, self.height);
            let tolerance2 = tolerance_m * tolerance_m;
            for a in 0..self.arcs.len() {
                if a % 1024 == 0 {
                    progress::check(progress)?;
                    progress.report(Stage::Polygons, a as f32 / self.arcs.len() as f32);
                }
                state.simplify_arc(a, &metric, tolerance2);
            }
            state.kept()
        };
        progress.report(Stage::Polygons, 1.0);
        Ok(Polygons {
            topology: self,
            arcs,
            tolerance_m,
        })
    }
}

/// Pixel steps to metres: the transform's linear part times the unit's length; for degrees,
/// metres per degree at the raster's middle latitude (WGS 84).
#[derive(Debug, Clone, Copy)]
struct Metric([f64; 4]);

impl Metric {
    fn of(georef: Option<&GeoReference>, height: u32) -> Option<Metric> {
        let georef = georef?;
        let [_, a, b, _, d, e] = georef.transform.0;
        let (kx, ky) = match georef.unit {
            LinearUnit::Degree => {
                let (_, lat) = georef.transform.apply(0.0, f64::from(height) / 2.0);
                let phi = lat.clamp(-89.0, 89.0).to_radians();
                let semi_major: f64 = 6_378_137.0;
                let e2 = 0.006_694_379_990_14;
                let w = (1.0 - e2 * phi.sin().powi(2)).sqrt();
                let meridian = semi_major * (1.0 - e2) / (w * w * w);
                let parallel = semi_major * phi.cos() / w;
                (parallel.to_radians(), meridian.to_radians())
            }
            unit => {
                let m = unit.metres()?;
                (m, m)
            }
        };
        Some(Metric([a * kx, b * kx, d * ky, e * ky]))
    }

    fn apply(&self, dx: i64, dy: i64) -> [f64; 2] {
        let [a, b, d, e] = self.0;
        let (dx, dy) = (dx as f64, dy as f64);
        [a * dx + b * dy, d * dx + e * dy]
    }
}

/// Squared distance from `p` to the segment from the origin to `q`.
fn distance2(p: [f64; 2], q: [f64; 2]) -> f64 {
    let len2 = q[0] * q[0] + q[1] * q[1];
    let t = if len2 > 0.0 {
        ((p[0] * q[0] + p[1] * q[1]) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (dx, dy) = (p[0] - t * q[0], p[1] - t * q[1]);
    dx * dx + dy * dy
}

/// A segment of the current geometry: arc and index of its first corner.
type Entry = (u32, u32);

/// Uniform grid over the lattice; each cell lists the segments that touch it (closed cells).
#[derive(Debug)]
struct Grid {
    cell: i64,
    cols: i64,
    rows: i64,
    cells: Vec<Vec<Entry>>,
}

impl Grid {
    fn new(width: u32, height: u32, segments: usize) -> Grid {
        let area = (f64::from(width) + 1.0) * (f64::from(height) + 1.0);
        let target = (segments / 2).max(1024) as f64;
        let cell = ((area / target).sqrt().ceil() as i64).max(8);
        let cols = i64::from(width) / cell + 1;
        let rows = i64::from(height) / cell + 1;
        Grid {
            cell,
            cols,
            rows,
            cells: vec![Vec::new(); (cols * rows) as usize],
        }
    }

    /// The cells a closed box `[min_x, min_y, max_x, max_y]` touches.
    fn cells_in(&self, bbox: [i64; 4]) -> impl Iterator<Item = (i64, i64)> + use<> {
        let clamp_x = |v: i64| (v / self.cell).clamp(0, self.cols - 1);
        let clamp_y = |v: i64| (v / self.cell).clamp(0, self.rows - 1);
        // A coordinate on a cell border belongs to the cells on both sides.
        let (x0, x1) = (clamp_x(bbox[0] - 1), clamp_x(bbox[2]));
        let (y0, y1) = (clamp_y(bbox[1] - 1), clamp_y(bbox[3]));
        (y0..=y1).flat_map(move |y| (x0..=x1).map(move |x| (x, y)))
    }

    /// The cells the segment `p`–`q` passes through.
    fn cells_of(&self, p: Corner, q: Corner) -> Vec<usize> {
        let bbox = bbox_of(&[p, q]);
        let straight = p[0] == q[0] || p[1] == q[1];
        self.cells_in(bbox)
            .filter(|&(x, y)| straight || self.touches(p, q, x, y))
            .map(|(x, y)| (y * self.cols + x) as usize)
            .collect()
    }

    /// Whether segment `p`–`q` touches cell (`x`, `y`) grown by one unit (Liang–Barsky).
    fn touches(&self, p: Corner, q: Corner, x: i64, y: i64) -> bool {
        let lo = [(x * self.cell - 1) as f64, (y * self.cell - 1) as f64];
        let hi = [
            ((x + 1) * self.cell + 1) as f64,
            ((y + 1) * self.cell + 1) as f64,
        ];
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for axis in 0..2 {
            let start = f64::from(p[axis]);
            let delta = f64::from(q[axis]) - start;
            if delta == 0.0 {
                if start < lo[axis] || start > hi[axis] {
                    return false;
                }
                continue;
            }
            let (a, b) = ((lo[axis] - start) / delta, (hi[axis] - start) / delta);
            let (a, b) = if a < b { (a, b) } else { (b, a) };
            t0 = t0.max(a);
            t1 = t1.min(b);
            if t0 > t1 {
                return false;
            }
        }
        true
    }

    fn insert(&mut self, p: Corner, q: Corner, entry: Entry) {
        for c in self.cells_of(p, q) {
            self.cells[c].push(entry);
        }
    }

    fn remove(&mut self, p: Corner, q: Corner, entry: Entry) {
        for c in self.cells_of(p, q) {
            let cell = &mut self.cells[c];
            if let Some(at) = cell.iter().position(|e| *e == entry) {
                cell.swap_remove(at);
            }
        }
    }
}

fn bbox_of(points: &[Corner]) -> [i64; 4] {
    let mut b = [i64::MAX, i64::MAX, i64::MIN, i64::MIN];
    for p in points {
        let (x, y) = (i64::from(p[0]), i64::from(p[1]));
        b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
    }
    b
}

/// The arcs as they stand: original corners and, per arc, the next kept corner of each.
#[derive(Debug)]
struct Simplifier<'a> {
    arcs: &'a [Arc],
    next: Vec<Vec<u32>>,
    grid: Grid,
    /// Scratch: the entries near a proposal.
    near: Vec<Entry>,
}

impl<'a> Simplifier<'a> {
    fn new(arcs: &'a [Arc], width: u32, height: u32) -> Simplifier<'a> {
        let segments: usize = arcs.iter().map(|a| a.points.len().saturating_sub(1)).sum();
        let mut grid = Grid::new(width, height, segments);
        let mut next = Vec::with_capacity(arcs.len());
        for (a, arc) in arcs.iter().enumerate() {
            let n = arc.points.len();
            next.push((1..=n as u32).collect::<Vec<u32>>());
            for k in 0..n.saturating_sub(1) {
                grid.insert(arc.points[k], arc.points[k + 1], (a as u32, k as u32));
            }
        }
        Simplifier {
            arcs,
            next,
            grid,
            near: Vec::new(),
        }
    }

    /// The kept corners of every arc.
    fn kept(self) -> Vec<Vec<Corner>> {
        self.arcs
            .iter()
            .zip(&self.next)
            .map(|(arc, next)| {
                let n = arc.points.len();
                let mut out = Vec::new();
                let mut k = 0;
                while k < n {
                    out.push(arc.points[k]);
                    k = next[k] as usize;
                }
                out
            })
            .collect()
    }

    fn simplify_arc(&mut self, a: usize, metric: &Metric, tolerance2: f64) {
        let arcs = self.arcs;
        let arc = &arcs[a];
        let (points, n) = (&arc.points, arc.points.len());
        if n < 3 || arc.left == NONE || arc.right == NONE {
            // Boundaries with nodata and the raster's edge stay exact: the classes keep
            // covering the valid pixels, no more and no less.
            return;
        }
        let mut stack = Vec::new();
        if arc.is_closed() {
            // A ring: split at the corner farthest from its start first.
            let p0 = points[0];
            let far = (1..n - 1)
                .max_by(|&u, &v| {
                    let du = dist2_corners(p0, points[u]);
                    let dv = dist2_corners(p0, points[v]);
                    du.cmp(&dv).then(v.cmp(&u))
                })
                .unwrap_or(1);
            stack.push((far, n - 1));
            stack.push((0, far));
        } else {
            stack.push((0, n - 1));
        }
        while let Some((i, j)) = stack.pop() {
            if j <= i + 1 {
                continue;
            }
            let (p, q) = (points[i], points[j]);
            let span = metric.apply(
                i64::from(q[0]) - i64::from(p[0]),
                i64::from(q[1]) - i64::from(p[1]),
            );
            let (mut far, mut far_d2) = (i + 1, -1.0);
            for (k, c) in points.iter().enumerate().take(j).skip(i + 1) {
                let v = metric.apply(
                    i64::from(c[0]) - i64::from(p[0]),
                    i64::from(c[1]) - i64::from(p[1]),
                );
                let d2 = distance2(v, span);
                if d2 > far_d2 {
                    (far, far_d2) = (k, d2);
                }
            }
            if far_d2 <= tolerance2 && self.acceptable(a, i, j) {
                self.replace(a, i, j);
            } else {
                stack.push((far, j));
                stack.push((i, far));
            }
        }
    }

    /// Replaces the corners strictly between `i` and `j` of arc `a` (still original) by the
    /// segment `i`–`j`.
    fn replace(&mut self, a: usize, i: usize, j: usize) {
        let arcs = self.arcs;
        let points = &arcs[a].points;
        for k in i..j {
            self.grid
                .remove(points[k], points[k + 1], (a as u32, k as u32));
        }
        self.next[a][i] = j as u32;
        self.grid.insert(points[i], points[j], (a as u32, i as u32));
    }

    /// Whether the segment `i`–`j` of arc `a` may replace the corners between them.
    fn acceptable(&mut self, a: usize, i: usize, j: usize) -> bool {
        let arcs = self.arcs;
        let chain = &arcs[a].points[i..=j];
        let (p, q) = (chain[0], chain[chain.len() - 1]);
        let bbox = bbox_of(chain);
        let margin = CLEARANCE_PX.ceil() as i64;
        let grown = [
            bbox[0] - margin,
            bbox[1] - margin,
            bbox[2] + margin,
            bbox[3] + margin,
        ];
        self.near.clear();
        for (x, y) in self.grid.cells_in(grown) {
            let cell = &self.grid.cells[(y * self.grid.cols + x) as usize];
            self.near.extend(
                cell.iter()
                    .filter(|&&(b, k)| !(b as usize == a && (i..j).contains(&(k as usize)))),
            );
        }
        self.near.sort_unstable();
        self.near.dedup();
        let clearance2 = CLEARANCE_PX * CLEARANCE_PX;
        for &(b, k) in &self.near {
            let points = &self.arcs[b as usize].points;
            let (s, e) = (
                points[k as usize],
                points[self.next[b as usize][k as usize] as usize],
            );
            if conflicts(p, q, s, e, clearance2) {
                return false;
            }
            for v in [s, e] {
                if v != p && v != q && inside_box(v, bbox) && inside_chain(v, chain) {
                    return false;
                }
            }
        }
        true
    }
}

fn dist2_corners(a: Corner, b: Corner) -> i64 {
    let (dx, dy) = (
        i64::from(a[0]) - i64::from(b[0]),
        i64::from(a[1]) - i64::from(b[1]),
    );
    dx * dx + dy * dy
}

fn inside_box(v: Corner, b: [i64; 4]) -> bool {
    let (x, y) = (i64::from(v[0]), i64::from(v[1]));
    x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3]
}

/// Sign of the turn `a` → `b` → `c`: positive left (counter-clockwise), 0 collinear.
fn orient(a: Corner, b: Corner, c: Corner) -> i64 {
    let (abx, aby) = (
        i64::from(b[0]) - i64::from(a[0]),
        i64::from(b[1]) - i64::from(a[1]),
    );
    let (acx, acy) = (
        i64::from(c[0]) - i64::from(a[0]),
        i64::from(c[1]) - i64::from(a[1]),
    );
    (abx * acy - aby * acx).signum()
}

/// Whether `v`, collinear with `a`–`b`, lies on that closed segment.
fn on_segment(a: Corner, b: Corner, v: Corner) -> bool {
    v[0] >= a[0].min(b[0])
        && v[0] <= a[0].max(b[0])
        && v[1] >= a[1].min(b[1])
        && v[1] <= a[1].max(b[1])
}

/// Whether closed segments `a`–`b` and `c`–`d` have a point in common.
fn intersect(a: Corner, b: Corner, c: Corner, d: Corner) -> bool {
    let (o1, o2, o3, o4) = (
        orient(a, b, c),
        orient(a, b, d),
        orient(c, d, a),
        orient(c, d, b),
    );
    if o1 != o2 && o3 != o4 && o1 * o2 <= 0 && o3 * o4 <= 0 {
        return true;
    }
    (o1 == 0 && on_segment(a, b, c))
        || (o2 == 0 && on_segment(a, b, d))
        || (o3 == 0 && on_segment(c, d, a))
        || (o4 == 0 && on_segment(c, d, b))
}

/// Squared distance from corner `v` to segment `a`–`b`, in pixels².
fn distance2_to_segment(v: Corner, a: Corner, b: Corner) -> f64 {
    let p = [
        f64::from(v[0]) - f64::from(a[0]),
        f64::from(v[1]) - f64::from(a[1]),
    ];
    let q = [
        f64::from(b[0]) - f64::from(a[0]),
        f64::from(b[1]) - f64::from(a[1]),
    ];
    distance2(p, q)
}

/// Whether a proposed segment `p`–`q` conflicts with the standing segment `s`–`e`.
fn conflicts(p: Corner, q: Corner, s: Corner, e: Corner, clearance2: f64) -> bool {
    let shares_p = s == p || e == p;
    let shares_q = s == q || e == q;
    if shares_p && shares_q {
        // The same two corners: the two would coincide (a ring collapsing).
        return true;
    }
    if shares_p || shares_q {
        // Sharing one end, they meet elsewhere only when they overlap along a line.
        let (shared, own_other) = if shares_p { (p, q) } else { (q, p) };
        let other = if s == shared { e } else { s };
        if orient(shared, own_other, other) != 0 {
            return false;
        }
        let dot = (i64::from(own_other[0]) - i64::from(shared[0]))
            * (i64::from(other[0]) - i64::from(shared[0]))
            + (i64::from(own_other[1]) - i64::from(shared[1]))
                * (i64::from(other[1]) - i64::from(shared[1]));
        return dot > 0;
    }
    intersect(p, q, s, e)
        || distance2_to_segment(s, p, q) < clearance2
        || distance2_to_segment(e, p, q) < clearance2
        || distance2_to_segment(p, s, e) < clearance2
        || distance2_to_segment(q, s, e) < clearance2
}

/// Whether `v` (on none of its edges) lies inside the polygon `chain` closed by its last-to-
/// first segment (even–odd rule, so a chain that crosses its closing segment counts each lobe).
fn inside_chain(v: Corner, chain: &[Corner]) -> bool {
    let (vx, vy) = (i64::from(v[0]), i64::from(v[1]));
    let mut inside = false;
    let n = chain.len();
    for k in 0..n {
        let a = chain[k];
        let b = chain[(k + 1) % n];
        let (ax, ay, bx, by) = (
            i64::from(a[0]),
            i64::from(a[1]),
            i64::from(b[0]),
            i64::from(b[1]),
        );
        if (ay > vy) != (by > vy) {
            // x of the edge at height vy compared with vx, exactly: (vx - ax)(by - ay) vs
            // (bx - ax)(vy - ay), the sign flipped when by < ay.
            let lhs = (vx - ax) * (by - ay);
            let rhs = (bx - ax) * (vy - ay);
            let left_of_edge = if by > ay { lhs < rhs } else { lhs > rhs };
            if left_of_edge {
                inside = !inside;
            }
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_conflict_when_they_cross_overlap_or_come_close() {
        let c2 = CLEARANCE_PX * CLEARANCE_PX;
        // Crossing.
        assert!(conflicts([0, 0], [4, 4], [0, 4], [4, 0], c2));
        // Sharing an end at an angle: fine.
        assert!(!conflicts([0, 0], [4, 4], [0, 0], [4, 0], c2));
        // Sharing an end and folding back along the same line.
        assert!(conflicts([0, 0], [4, 4], [0, 0], [2, 2], c2));
        // The same segment reversed.
        assert!(conflicts([0, 0], [4, 4], [4, 4], [0, 0], c2));
        // Far apart, and close without touching.
        assert!(!conflicts([0, 0], [10, 0], [0, 2], [10, 2], c2));
        assert!(conflicts([0, 0], [10, 1], [5, 1], [5, 3], c2));
    }

    #[test]
    fn points_inside_a_chain_and_its_closing_segment() {
        let chain = [[0, 0], [4, 0], [4, 4], [0, 4]];
        assert!(inside_chain([2, 2], &chain));
        assert!(!inside_chain([5, 2], &chain));
        assert!(!inside_chain([2, 5], &chain));
    }
}
