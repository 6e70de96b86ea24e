//! Label rasters to polygons: areas equal to the pixel counts, simple rings, no crossing
//! segments and, after simplification, neighbours that still tile the raster exactly.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions fail loudly on purpose

use engine::geotiff::{GeoReference, RawGeoTags};
use engine::labels::NODATA;
use engine::pipeline::UnitSink;
use engine::polygons::{Corner, PolygonError, PolygonLimits, Polygons, Topology, Tracer};
use engine::progress::NoProgress;
use engine::raster::Window;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A north-up raster in WGS 84 / UTM zone 17N with `pixel`-metre pixels.
fn utm(pixel: f64) -> GeoReference {
    GeoReference::from_raw(RawGeoTags {
        model_pixel_scale: Some(vec![pixel, pixel, 0.0]),
        model_tiepoint: Some(vec![0.0, 0.0, 0.0, 400_000.0, 3_300_000.0, 0.0]),
        geo_key_directory: vec![1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32617],
        ..RawGeoTags::default()
    })
    .unwrap()
}

fn topology(width: u32, labels: &[u8], georef: Option<&GeoReference>) -> Topology {
    let height = (labels.len() / width as usize) as u32;
    let mut tracer = Tracer::new(width, height, georef, PolygonLimits::DEFAULT).unwrap();
    tracer.add_rows(0, labels).unwrap();
    tracer.finish().unwrap()
}

fn twice_area(ring: &[Corner]) -> i64 {
    ring.windows(2)
        .map(|w| i64::from(w[0][0]) * i64::from(w[1][1]) - i64::from(w[1][0]) * i64::from(w[0][1]))
        .sum()
}

/// Every ring closed, at least a triangle and simple at its vertices; exteriors counter-
/// clockwise, holes clockwise. Returns twice the area of each class.
fn check_rings(polygons: &Polygons<'_>) -> Vec<(u8, i64)> {
    let mut areas = Vec::new();
    for class in polygons.classes() {
        let mut area = 0;
        for polygon in polygons.class_rings(class) {
            for (i, ring) in polygon.iter().enumerate() {
                assert!(
                    ring.len() >= 4,
                    "class {class}: a ring of {} corners",
                    ring.len()
                );
                assert_eq!(ring.first(), ring.last(), "class {class}: an open ring");
                let mut corners = ring[1..].to_vec();
                corners.sort_unstable();
                corners.dedup();
                assert_eq!(
                    corners.len(),
                    ring.len() - 1,
                    "class {class}: a ring touches itself"
                );
                let a = twice_area(ring);
                if i == 0 {
                    assert!(
                        a > 0,
                        "class {class}: an exterior ring is not counter-clockwise"
                    );
                } else {
                    assert!(a < 0, "class {class}: a hole is not clockwise");
                }
                area += a;
            }
        }
        areas.push((class, area));
    }
    areas
}

fn orient(a: Corner, b: Corner, c: Corner) -> i64 {
    let ab = [i64::from(b[0] - a[0]), i64::from(b[1] - a[1])];
    let ac = [i64::from(c[0] - a[0]), i64::from(c[1] - a[1])];
    (ab[0] * ac[1] - ab[1] * ac[0]).signum()
}

fn between(a: Corner, b: Corner, v: Corner) -> bool {
    (a[0].min(b[0])..=a[0].max(b[0])).contains(&v[0])
        && (a[1].min(b[1])..=a[1].max(b[1])).contains(&v[1])
}

/// No two distinct segments of all rings meet anywhere but at a shared end, nor overlap.
fn check_no_crossings(polygons: &Polygons<'_>) {
    let mut segments: Vec<(Corner, Corner)> = Vec::new();
    for class in polygons.classes() {
        for ring in polygons.class_rings(class).into_iter().flatten() {
            for w in ring.windows(2) {
                segments.push((w[0].min(w[1]), w[0].max(w[1])));
            }
        }
    }
    segments.sort_unstable();
    segments.dedup();
    for (i, &(a, b)) in segments.iter().enumerate() {
        for &(c, d) in &segments[i + 1..] {
            let shared = [a, b].iter().filter(|p| **p == c || **p == d).count();
            let (o1, o2, o3, o4) = (
                orient(a, b, c),
                orient(a, b, d),
                orient(c, d, a),
                orient(c, d, b),
            );
            if shared == 1 {
                // Only a collinear overlap would be a second common point.
                let collinear = o1 == 0 && o2 == 0;
                let overlap = collinear
                    && ((c != a && c != b && between(a, b, c))
                        || (d != a && d != b && between(a, b, d))
                        || (a != c && a != d && between(c, d, a))
                        || (b != c && b != d && between(c, d, b)));
                assert!(!overlap, "segments {a:?}-{b:?} and {c:?}-{d:?} overlap");
                continue;
            }
            let proper = o1 * o2 < 0 && o3 * o4 < 0;
            let touch = (o1 == 0 && between(a, b, c))
                || (o2 == 0 && between(a, b, d))
                || (o3 == 0 && between(c, d, a))
                || (o4 == 0 && between(c, d, b));
            assert!(
                !proper && !touch,
                "segments {a:?}-{b:?} and {c:?}-{d:?} meet"
            );
        }
    }
}

/// Smooth random blobs of `k` classes, with a share of nodata.
fn blobs(width: u32, height: u32, k: u8, nodata: bool, seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<(f64, f64, u8)> = (0..12)
        .map(|i| {
            (
                rng.random_range(0.0..f64::from(width)),
                rng.random_range(0.0..f64::from(height)),
                (i % usize::from(k)) as u8,
            )
        })
        .collect();
    let mut labels = Vec::new();
    for y in 0..height {
        for x in 0..width {
            let (fx, fy) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
            let wobble = 3.0 * ((fx * 0.3).sin() + (fy * 0.23).cos());
            let nearest = centres
                .iter()
                .min_by(|a, b| {
                    let da = (a.0 - fx).hypot(a.1 - fy);
                    let db = (b.0 - fx).hypot(b.1 - fy);
                    da.total_cmp(&db)
                })
                .unwrap();
            let mut label = nearest.2;
            if (nearest.0 - fx).hypot(nearest.1 - fy) + wobble < 4.0 {
                label = (label + 1) % k;
            }
            if nodata && (fx - f64::from(width) * 0.7).hypot(fy - 5.0) < 9.0 + wobble {
                label = NODATA;
            }
            labels.push(label);
        }
    }
    labels
}

#[test]
fn one_class_is_the_raster_rectangle() {
    let t = topology(5, &[3; 15], None);
    let p = t.simplify(0.0, &NoProgress).unwrap();
    assert_eq!(p.classes(), vec![3]);
    assert_eq!(
        p.class_rings(3),
        vec![vec![vec![[0, 0], [5, 0], [5, 3], [0, 3], [0, 0]]]]
    );
}

#[test]
fn an_island_is_a_hole_of_its_surroundings() {
    #[rustfmt::skip]
    let labels = [
        0, 0, 0, 0,
        0, 1, 1, 0,
        0, 1, 0, 0,
        0, 0, 0, 0,
    ];
    let t = topology(4, &labels, None);
    let p = t.simplify(0.0, &NoProgress).unwrap();
    let zero = p.class_rings(0);
    assert_eq!(zero.len(), 1);
    assert_eq!(zero[0].len(), 2, "an exterior and one hole");
    assert_eq!(check_rings(&p), vec![(0, 2 * 13), (1, 2 * 3)]);
}

#[test]
fn diagonal_contacts_give_rings_that_never_touch_themselves() {
    // A hole touching the exterior at a corner (the 1 in the middle meets the corner 1
    // diagonally), a checkerboard, and a region meeting itself around a hole.
    #[rustfmt::skip]
    let cases: [(u32, Vec<u8>); 3] = [
        (3, vec![
            0, 0, 0,
            0, 1, 0,
            0, 0, 1,
        ]),
        (4, vec![
            0, 1, 0, 1,
            1, 0, 1, 0,
            0, 1, 0, 1,
        ]),
        (5, vec![
            2, 2, 2, 2, 2,
            2, 0, 0, 0, 2,
            2, 0, 1, 2, 2,
            2, 0, 0, 0, 2,
            2, 2, 2, 2, 2,
        ]),
    ];
    for (width, labels) in cases {
        let t = topology(width, &labels, None);
        let p = t.simplify(0.0, &NoProgress).unwrap();
        for (class, area) in check_rings(&p) {
            let pixels = labels.iter().filter(|&&l| l == class).count() as i64;
            assert_eq!(area, 2 * pixels, "class {class} of {labels:?}");
        }
        check_no_crossings(&p);
    }
    let t = topology(3, &[0, 0, 0, 0, 1, 0, 0, 0, 1], None);
    let p = t.simplify(0.0, &NoProgress).unwrap();
    let zero = p.class_rings(0);
    assert_eq!(zero.len(), 1, "one region of class 0");
    assert_eq!(
        zero[0].len(),
        2,
        "its exterior and the hole touching it at a corner"
    );
    assert_eq!(p.class_rings(1).len(), 2, "two regions of class 1");
}

#[test]
fn random_labels_give_exact_areas_and_no_crossings() {
    let georef = utm(1.0);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for case in 0..40 {
        let (w, h) = (rng.random_range(1..40u32), rng.random_range(1..40u32));
        let k = rng.random_range(2..5u8);
        let labels: Vec<u8> = (0..w * h)
            .map(|_| {
                if rng.random_bool(0.1) {
                    NODATA
                } else {
                    rng.random_range(0..k)
                }
            })
            .collect();
        let t = topology(w, &labels, Some(&georef));
        let p = t.simplify(0.0, &NoProgress).unwrap();
        for (class, area) in check_rings(&p) {
            let pixels = labels.iter().filter(|&&l| l == class).count() as i64;
            assert_eq!(area, 2 * pixels, "case {case}: class {class}");
            assert_eq!(t.stats().counts[usize::from(class)], pixels as u64);
        }
        check_no_crossings(&p);
        // Noise simplified hard: saddles everywhere, and still no crossing.
        let p = t.simplify(3.0, &NoProgress).unwrap();
        let total: i64 = check_rings(&p).iter().map(|(_, a)| a).sum();
        let valid = labels.iter().filter(|&&l| l != NODATA).count() as i64;
        assert_eq!(total, 2 * valid, "case {case}: gaps or overlaps");
        check_no_crossings(&p);
    }
}

#[test]
fn simplified_neighbours_still_tile_the_raster() {
    let georef = utm(1.0);
    for seed in 0..6 {
        let (w, h) = (90, 70);
        let nodata = seed % 2 == 1;
        let labels = blobs(w, h, 4, nodata, seed);
        let t = topology(w, &labels, Some(&georef));
        let exact = t.simplify(0.0, &NoProgress).unwrap();
        for tolerance in [0.7, 1.5, 4.0, 50.0] {
            let p = t.simplify(tolerance, &NoProgress).unwrap();
            assert!(
                p.vertices() < exact.vertices(),
                "seed {seed}, {tolerance} m: {} of {} vertices",
                p.vertices(),
                exact.vertices()
            );
            let areas = check_rings(&p);
            check_no_crossings(&p);
            // Boundaries with nodata and the raster's edge stay as they are: the classes
            // cover the valid pixels exactly.
            let total: i64 = areas.iter().map(|(_, a)| a).sum();
            let valid = labels.iter().filter(|&&l| l != NODATA).count() as i64;
            assert_eq!(
                total,
                2 * valid,
                "seed {seed}, {tolerance} m: gaps or overlaps"
            );
            for (class, area) in areas {
                let pixels = labels.iter().filter(|&&l| l == class).count() as f64;
                let relative = (area as f64 / 2.0 - pixels).abs() / pixels;
                assert!(
                    tolerance > 2.0 || relative < 0.1,
                    "seed {seed}, {tolerance} m, class {class}: area off by {relative}"
                );
            }
        }
    }
}

#[test]
fn tolerance_is_in_metres() {
    let labels = blobs(90, 70, 3, false, 3);
    let fine = utm(1.0);
    let coarse = utm(4.0);
    let t_fine = topology(90, &labels, Some(&fine));
    let t_coarse = topology(90, &labels, Some(&coarse));
    // 1 m is a pixel of 1 m but a quarter pixel of 4 m, closer than any corner of a pixel
    // staircase lies to a line past it: nothing to gain there.
    let a = t_fine.simplify(1.0, &NoProgress).unwrap();
    let b = t_coarse.simplify(1.0, &NoProgress).unwrap();
    assert!(a.vertices() < b.vertices());
    assert_eq!(b.vertices(), t_coarse.vertices());
    assert!(matches!(
        topology(90, &labels, None).simplify(1.0, &NoProgress),
        Err(PolygonError::UnknownUnit)
    ));
    assert!(matches!(
        t_fine.simplify(f64::NAN, &NoProgress),
        Err(PolygonError::BadTolerance(_))
    ));
}

#[test]
fn units_of_a_run_give_the_same_topology_as_rows() {
    let (w, h) = (50u32, 23u32);
    let labels = blobs(w, h, 3, true, 11);
    let whole = topology(w, &labels, None);
    let mut tracer = Tracer::new(w, h, None, PolygonLimits::DEFAULT).unwrap();
    for y in (0..h).step_by(8) {
        for x in (0..w).step_by(16) {
            let unit = Window::new(x, y, 16.min(w - x), 8.min(h - y));
            let mut part = Vec::new();
            for r in unit.y..unit.bottom() {
                let row = (r * w) as usize;
                part.extend_from_slice(&labels[row + x as usize..row + unit.right() as usize]);
            }
            tracer.unit(unit, &part).unwrap();
        }
    }
    let units = tracer.finish().unwrap();
    let (a, b) = (
        whole.simplify(0.0, &NoProgress).unwrap(),
        units.simplify(0.0, &NoProgress).unwrap(),
    );
    for class in a.classes() {
        assert_eq!(a.class_rings(class), b.class_rings(class));
    }
    assert_eq!(whole.stats(), units.stats());
}

#[test]
fn the_vertex_limit_is_enforced_with_a_clear_message() {
    let labels: Vec<u8> = (0..64 * 64).map(|i| ((i + i / 64) % 2) as u8).collect();
    let mut tracer = Tracer::new(64, 64, None, PolygonLimits { max_vertices: 1000 }).unwrap();
    let err = tracer.add_rows(0, &labels).unwrap_err();
    assert!(matches!(err, PolygonError::TooManyVertices { limit: 1000 }));
    assert!(err.to_string().contains("--mmu"), "{err}");
}
