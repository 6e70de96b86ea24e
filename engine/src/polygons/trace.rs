//! Row-streamed boundary tracing: 4-connected regions and the arcs between them.
//!
//! Lattice line `y` runs between pixel rows `y - 1` (above) and `y` (below); outside the raster
//! is nodata. At each pixel corner the four surrounding pixels say which of its four edges are
//! boundaries (the pixels on either side differ). A boundary is followed as *fragments* that
//! only ever grow at their tail: a fragment starts at a corner where boundaries go right and
//! down (two fragments whose heads are linked) or at a node, runs right along a lattice line or
//! down to the next one, and ends where two tails meet (their tails are linked) or at a node.
//! [`Tracer::finish`] walks the links into arcs. Fragments keep only the corners where the
//! boundary turns, so straight runs cost nothing.

use std::mem;

use super::topology::{Arc, Topology};
use super::{Corner, PolygonError, PolygonLimits};
use crate::geotiff::GeoReference;
use crate::labels::NODATA;
use crate::pipeline::{SegmentError, UnitSink};
use crate::raster::Window;
use crate::stats::ClassStats;

/// No fragment, or no region (nodata).
pub(super) const NONE: u32 = u32::MAX;

/// What a fragment's head or tail is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Still growing (tails only).
    Open,
    /// A node: the arc ends here.
    Node,
    /// The same end (head to head, tail to tail) of another fragment at the same corner.
    Fragment(u32),
}

#[derive(Debug)]
struct Fragment {
    /// Corners from head to tail.
    points: Vec<Corner>,
    head: Link,
    tail: Link,
    /// Provisional region ids on the left and on the right, walking head to tail with x to the
    /// right and y down the rows (the left of +x is +y).
    left: u32,
    right: u32,
}

/// Turns label rows into the [`Topology`] of their regions.
///
/// Feed whole rows in order with [`Tracer::add_rows`] (or units through [`UnitSink`], a strip of
/// units at a time), then call [`Tracer::finish`]. It keeps two rows of labels and region ids,
/// the open fragments and the finished ones; the class counts and areas come out as
/// [`ClassStats`] of the same rows.
#[derive(Debug)]
pub struct Tracer {
    width: u32,
    height: u32,
    /// The next row expected.
    row: u32,
    above: Vec<u8>,
    above_ids: Vec<u32>,
    below_ids: Vec<u32>,
    /// Per lattice column: the fragment whose tail hangs down from the last lattice line.
    down: Vec<u32>,
    fragments: Vec<Fragment>,
    /// Union–find over provisional region ids.
    parent: Vec<u32>,
    /// The class of each provisional region id.
    class_of: Vec<u8>,
    vertices: u64,
    limits: PolygonLimits,
    stats: ClassStats,
    georef: Option<GeoReference>,
    /// Units of the strip being filled (for [`UnitSink`]).
    strip: Vec<u8>,
    strip_window: Option<Window>,
    strip_filled: u64,
}

impl Tracer {
    /// A tracer for a `width` × `height` label raster placed by `georef` (for areas and, later,
    /// coordinates).
    pub fn new(
        width: u32,
        height: u32,
        georef: Option<&GeoReference>,
        limits: PolygonLimits,
    ) -> Result<Tracer, PolygonError> {
        if width > i32::MAX as u32 - 1 || height > i32::MAX as u32 - 1 {
            return Err(PolygonError::TooLarge { width, height });
        }
        let w = width as usize;
        Ok(Tracer {
            width,
            height,
            row: 0,
            above: vec![NODATA; w],
            above_ids: vec![NONE; w],
            below_ids: vec![NONE; w],
            down: vec![NONE; w + 1],
            fragments: Vec::new(),
            parent: Vec::new(),
            class_of: Vec::new(),
            vertices: 0,
            limits,
            stats: ClassStats::new(usize::from(NODATA), georef),
            georef: georef.cloned(),
            strip: Vec::new(),
            strip_window: None,
            strip_filled: 0,
        })
    }

    /// Adds whole rows of labels (`labels.len()` a multiple of the width) starting at row `y0`,
    /// which must be the next row.
    pub fn add_rows(&mut self, y0: u32, labels: &[u8]) -> Result<(), PolygonError> {
        if y0 != self.row {
            return Err(PolygonError::RowOrder {
                expected: self.row,
                got: y0,
            });
        }
        let w = self.width as usize;
        if w == 0 || !labels.len().is_multiple_of(w) {
            return Err(PolygonError::RowLength {
                got: labels.len(),
                width: self.width,
            });
        }
        let rows = labels.len() / w;
        if u64::from(self.row) + rows as u64 > u64::from(self.height) {
            return Err(PolygonError::RowOrder {
                expected: self.row,
                got: self.height,
            });
        }
        self.stats.add_rows(y0, self.width, labels);
        for row in labels.chunks_exact(w) {
            self.label_regions(row);
            self.scan_line(row)?;
            self.above.copy_from_slice(row);
            mem::swap(&mut self.above_ids, &mut self.below_ids);
            self.row += 1;
        }
        Ok(())
    }

    /// The rows seen so far.
    pub fn rows_done(&self) -> u32 {
        self.row
    }

    /// Closes the last lattice line and joins the fragments into the raster's [`Topology`].
    pub fn finish(mut self) -> Result<Topology, PolygonError> {
        if self.row != self.height {
            return Err(PolygonError::Incomplete {
                got: self.row,
                height: self.height,
            });
        }
        let nodata_row = vec![NODATA; self.width as usize];
        self.below_ids.fill(NONE);
        self.scan_line(&nodata_row)?;
        let arcs = self.arcs()?;
        Topology::build(
            self.width,
            self.height,
            arcs,
            &self.class_of,
            self.stats,
            self.georef,
        )
    }

    /// Gives each pixel of `row` a provisional region id (4-connectivity), uniting ids that
    /// turn out to be the same region.
    fn label_regions(&mut self, row: &[u8]) {
        for x in 0..row.len() {
            let label = row[x];
            if label == NODATA {
                self.below_ids[x] = NONE;
                continue;
            }
            let from_left = x > 0 && row[x - 1] == label;
            let mut id = if from_left {
                self.below_ids[x - 1]
            } else {
                NONE
            };
            if self.above[x] == label {
                let above = self.above_ids[x];
                if id == NONE {
                    id = above;
                } else if self.above[x - 1] != label {
                    // A new contact with the row above; inside one, the pair was united at its
                    // start (ids are constant along a run).
                    self.union(id, above);
                }
            }
            if id == NONE {
                id = self.parent.len() as u32;
                self.parent.push(id);
                self.class_of.push(label);
            }
            self.below_ids[x] = id;
        }
    }

    fn find(&mut self, mut id: u32) -> u32 {
        let mut root = id;
        while self.parent[root as usize] != root {
            root = self.parent[root as usize];
        }
        while self.parent[id as usize] != root {
            let next = self.parent[id as usize];
            self.parent[id as usize] = root;
            id = next;
        }
        root
    }

    fn union(&mut self, a: u32, b: u32) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            // The smaller id stays the root: deterministic, and roots are found early.
            let (root, child) = if a < b { (a, b) } else { (b, a) };
            self.parent[child as usize] = root;
        }
    }

    /// Follows the boundaries along lattice line `self.row` between `self.above` and `below`.
    fn scan_line(&mut self, below: &[u8]) -> Result<(), PolygonError> {
        let w = self.width as usize;
        let y = self.row as i32;
        let mut carry = NONE;
        for x in 0..=w {
            let nw = if x > 0 { self.above[x - 1] } else { NODATA };
            let ne = if x < w { self.above[x] } else { NODATA };
            let sw = if x > 0 { below[x - 1] } else { NODATA };
            let se = if x < w { below[x] } else { NODATA };
            let up = nw != ne;
            let down = sw != se;
            let left = nw != sw;
            let right = ne != se;
            let degree = u8::from(up) + u8::from(down) + u8::from(left) + u8::from(right);
            if degree == 0 || (degree == 2 && ((up && down) || (left && right))) {
                // Nothing, or a boundary going straight through: no corner to keep.
                continue;
            }
            let corner = [x as i32, y];
            let up_fragment = if up { self.down[x] } else { NONE };
            if degree == 2 {
                match (up, left) {
                    (true, true) => {
                        // Two tails meet.
                        self.push(up_fragment, corner)?;
                        self.push(carry, corner)?;
                        self.fragments[up_fragment as usize].tail = Link::Fragment(carry);
                        self.fragments[carry as usize].tail = Link::Fragment(up_fragment);
                        carry = NONE;
                    }
                    (true, false) => {
                        // Down the last line, now right along this one.
                        self.push(up_fragment, corner)?;
                        carry = up_fragment;
                    }
                    (false, true) => {
                        // Right along this line, now down to the next.
                        self.push(carry, corner)?;
                        self.down[x] = carry;
                        carry = NONE;
                    }
                    (false, false) => {
                        // A boundary starts here, going right and down.
                        let d = self.start(corner, Link::Open, x, true)?;
                        let r = self.start(corner, Link::Fragment(d), x, false)?;
                        self.fragments[d as usize].head = Link::Fragment(r);
                        self.down[x] = d;
                        carry = r;
                    }
                }
                continue;
            }
            // A node: every boundary through it ends or starts here.
            if up {
                self.end_at_node(up_fragment, corner)?;
            }
            if left {
                self.end_at_node(carry, corner)?;
            }
            self.down[x] = if down {
                self.start(corner, Link::Node, x, true)?
            } else {
                NONE
            };
            carry = if right {
                self.start(corner, Link::Node, x, false)?
            } else {
                NONE
            };
        }
        Ok(())
    }

    /// Starts a fragment at `corner` (column `x` of the current line), going down or right.
    fn start(
        &mut self,
        corner: Corner,
        head: Link,
        x: usize,
        going_down: bool,
    ) -> Result<u32, PolygonError> {
        let w = self.width as usize;
        let id_at = |ids: &[u32], x: usize| if x < w { ids[x] } else { NONE };
        let (left, right) = if going_down {
            // +y: the pixel on the left is (x - 1, y), on the right (x, y).
            let left = if x > 0 {
                id_at(&self.below_ids, x - 1)
            } else {
                NONE
            };
            (left, id_at(&self.below_ids, x))
        } else {
            // +x: the pixel on the left is (x, y) below the line, on the right (x, y - 1).
            (id_at(&self.below_ids, x), id_at(&self.above_ids, x))
        };
        let id = u32::try_from(self.fragments.len())
            .ok()
            .filter(|&id| id != NONE)
            .ok_or(PolygonError::TooManyVertices {
                limit: self.limits.max_vertices,
            })?;
        self.fragments.push(Fragment {
            points: Vec::new(),
            head,
            tail: Link::Open,
            left,
            right,
        });
        self.push(id, corner)?;
        Ok(id)
    }

    fn end_at_node(&mut self, fragment: u32, corner: Corner) -> Result<(), PolygonError> {
        self.push(fragment, corner)?;
        self.fragments[fragment as usize].tail = Link::Node;
        Ok(())
    }

    fn push(&mut self, fragment: u32, corner: Corner) -> Result<(), PolygonError> {
        self.vertices += 1;
        if self.vertices > self.limits.max_vertices {
            return Err(PolygonError::TooManyVertices {
                limit: self.limits.max_vertices,
            });
        }
        let f = self
            .fragments
            .get_mut(fragment as usize)
            .ok_or(PolygonError::Topology(
                "a boundary edge without its fragment",
            ))?;
        f.points.push(corner);
        Ok(())
    }

    /// Walks the fragment links into arcs (with resolved region ids): first the chains that
    /// end at nodes, then the closed rings that have none.
    fn arcs(&mut self) -> Result<Vec<Arc>, PolygonError> {
        let n = self.fragments.len();
        let mut visited = vec![false; n];
        let mut arcs = Vec::new();
        for forward in [true, false] {
            for f in 0..n {
                let f_end = if forward {
                    self.fragments[f].head
                } else {
                    self.fragments[f].tail
                };
                if !visited[f] && f_end == Link::Node {
                    arcs.push(self.walk(f as u32, forward, &mut visited)?);
                }
            }
        }
        for f in 0..n {
            if !visited[f] {
                arcs.push(self.walk(f as u32, true, &mut visited)?);
            }
        }
        self.fragments = Vec::new();
        for arc in &mut arcs {
            arc.left = self.resolve(arc.left);
            arc.right = self.resolve(arc.right);
        }
        Ok(arcs)
    }

    fn resolve(&mut self, id: u32) -> u32 {
        if id == NONE { NONE } else { self.find(id) }
    }

    /// One arc from fragment `start` (head to tail when `forward`), until a node or, for a
    /// ring, back at `start`. The fragments' corners move into the arc.
    fn walk(
        &mut self,
        start: u32,
        forward: bool,
        visited: &mut [bool],
    ) -> Result<Arc, PolygonError> {
        let first = &self.fragments[start as usize];
        let (left, right) = if forward {
            (first.left, first.right)
        } else {
            (first.right, first.left)
        };
        let mut points: Vec<Corner> = Vec::new();
        let (mut current, mut forward) = (start, forward);
        loop {
            visited[current as usize] = true;
            let fragment = &mut self.fragments[current as usize];
            let mut corners = mem::take(&mut fragment.points);
            if !forward {
                corners.reverse();
            }
            let skip = usize::from(points.last().is_some() && points.last() == corners.first());
            points.extend_from_slice(&corners[skip..]);
            let next = if forward {
                fragment.tail
            } else {
                fragment.head
            };
            match next {
                Link::Node => break,
                Link::Open => return Err(PolygonError::Topology("a boundary left open")),
                Link::Fragment(g) if g == start => break,
                Link::Fragment(g) => {
                    if visited[g as usize] {
                        return Err(PolygonError::Topology("a boundary runs into itself"));
                    }
                    current = g;
                    forward = !forward;
                }
            }
        }
        Ok(Arc {
            points,
            left,
            right,
        })
    }
}

/// Takes the units of a run: they are gathered strip by strip (units of one strip share their
/// rows) and traced a whole strip at a time, so units must come strip after strip.
impl UnitSink for Tracer {
    fn unit(&mut self, unit: Window, labels: &[u8]) -> Result<(), SegmentError> {
        let strip = Window::new(0, unit.y, self.width, unit.height);
        match self.strip_window {
            Some(w) if w == strip => {}
            _ if self.strip_filled == 0 => {
                self.strip_window = Some(strip);
                self.strip.clear();
                self.strip.resize(strip.len(), NODATA);
            }
            _ => {
                return Err(PolygonError::RowOrder {
                    expected: self.row,
                    got: unit.y,
                }
                .into());
            }
        }
        let (w, x0) = (self.width as usize, unit.x as usize);
        for (r, row) in labels.chunks_exact(unit.width as usize).enumerate() {
            let at = r * w + x0;
            self.strip[at..at + row.len()].copy_from_slice(row);
        }
        self.strip_filled += unit.len() as u64;
        if self.strip_filled == strip.len() as u64 {
            let rows = mem::take(&mut self.strip);
            self.add_rows(strip.y, &rows)?;
            self.strip = rows;
            self.strip_filled = 0;
            self.strip_window = None;
        }
        Ok(())
    }
}
