//! Split assignment on synthetic ids: exact counts, determinism, and a holdout that stays out.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use shard_tools::header::{Holdout, Ratios};
use shard_tools::split::{Policy, Split, SplitConfig, SplitError, Unit, assign};

/// 100 items, every fifth without a target (80 labelled).
fn ids() -> Vec<String> {
    (0..100).map(|i| format!("item-{i:03}")).collect()
}

fn units(ids: &[String]) -> Vec<Unit<'_>> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| Unit {
            id,
            item: id,
            labelled: !i.is_multiple_of(5),
        })
        .collect()
}

fn config(seed: u64, r: (f64, f64, f64), holdout: Option<Holdout>) -> SplitConfig {
    SplitConfig {
        seed,
        policy: Policy::Ratios(Ratios {
            train: r.0,
            val: r.1,
            test: r.2,
        }),
        holdout,
    }
}

fn by_split(ids: &[String], splits: &[Split]) -> BTreeMap<Split, BTreeSet<String>> {
    let mut out: BTreeMap<Split, BTreeSet<String>> = BTreeMap::new();
    for (id, s) in ids.iter().zip(splits) {
        out.entry(*s).or_default().insert(id.clone());
    }
    out
}

fn counts(m: &BTreeMap<Split, BTreeSet<String>>) -> Vec<(Split, usize)> {
    m.iter().map(|(s, v)| (*s, v.len())).collect()
}

fn fraction(f: f64) -> Option<Holdout> {
    Some(Holdout {
        items: Vec::new(),
        fraction: Some(f),
        seed: 0,
    })
}

#[test]
fn exact_counts_for_seed_42() {
    let ids = ids();
    let s = assign(&units(&ids), &config(42, (0.7, 0.2, 0.1), fraction(0.1))).unwrap();
    let m = by_split(&ids, &s);
    // Holdout: round(0.1 x 80 labelled) = 8. The other 92: 64.4 / 18.4 / 9.2 -> 64/18/9,
    // and the one left over goes to the largest fractional part (train and val tie; train first).
    assert_eq!(
        counts(&m),
        vec![
            (Split::Train, 65),
            (Split::Val, 18),
            (Split::Test, 9),
            (Split::Metrics, 8)
        ]
    );
    let metrics: Vec<&str> = m[&Split::Metrics].iter().map(String::as_str).collect();
    assert_eq!(
        metrics,
        vec![
            "item-004", "item-009", "item-019", "item-021", "item-024", "item-032", "item-087",
            "item-098"
        ]
    );
    // Every held-out item is labelled.
    assert!(metrics.iter().all(|id| {
        let n: usize = id[5..].parse().unwrap();
        !n.is_multiple_of(5)
    }));
}

#[test]
fn ten_items_split_six_three_one() {
    let ids: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    let u: Vec<Unit<'_>> = ids
        .iter()
        .map(|id| Unit {
            id,
            item: id,
            labelled: true,
        })
        .collect();
    let s = assign(&u, &config(123, (0.6, 0.3, 0.1), None)).unwrap();
    assert_eq!(
        counts(&by_split(&ids, &s)),
        vec![(Split::Train, 6), (Split::Val, 3), (Split::Test, 1)]
    );
}

#[test]
fn assignment_ignores_listing_order_and_depends_on_the_seed() {
    let ids = ids();
    let a = by_split(
        &ids,
        &assign(&units(&ids), &config(7, (0.7, 0.2, 0.1), fraction(0.1))).unwrap(),
    );
    let mut reversed = ids.clone();
    reversed.reverse();
    // Same labelled flags, listed backwards.
    let ru: Vec<Unit<'_>> = reversed
        .iter()
        .map(|id| Unit {
            id,
            item: id,
            labelled: !id[5..].parse::<usize>().unwrap().is_multiple_of(5),
        })
        .collect();
    let b = by_split(
        &reversed,
        &assign(&ru, &config(7, (0.7, 0.2, 0.1), fraction(0.1))).unwrap(),
    );
    assert_eq!(a, b);
    let c = by_split(
        &ids,
        &assign(&units(&ids), &config(8, (0.7, 0.2, 0.1), fraction(0.1))).unwrap(),
    );
    assert_ne!(a[&Split::Train], c[&Split::Train]);
    assert_eq!(counts(&a), counts(&c));
}

#[test]
fn the_holdout_never_reaches_train_or_val_whatever_the_seed_or_ratios() {
    let ids = ids();
    let explicit = Some(Holdout {
        items: vec!["item-001".into(), "item-002".into()],
        fraction: Some(0.1),
        seed: 3,
    });
    let reference = by_split(
        &ids,
        &assign(&units(&ids), &config(0, (0.7, 0.2, 0.1), explicit.clone())).unwrap(),
    )[&Split::Metrics]
        .clone();
    assert!(reference.contains("item-001") && reference.contains("item-002"));
    for seed in 0..20 {
        for ratios in [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.5, 0.25, 0.25)] {
            let m = by_split(
                &ids,
                &assign(&units(&ids), &config(seed, ratios, explicit.clone())).unwrap(),
            );
            assert_eq!(m[&Split::Metrics], reference);
            for s in [Split::Train, Split::Val, Split::Test] {
                if let Some(set) = m.get(&s) {
                    assert!(set.is_disjoint(&reference));
                }
            }
        }
    }
}

#[test]
fn holdout_and_manifest_errors() {
    let ids = ids();
    let u = units(&ids);
    let bad = |items: Vec<&str>| Holdout {
        items: items.into_iter().map(String::from).collect(),
        fraction: None,
        seed: 0,
    };
    assert_eq!(
        assign(&u, &config(0, (1.0, 0.0, 0.0), Some(bad(vec!["nope"])))).unwrap_err(),
        SplitError::UnknownHoldoutItem("nope".into())
    );
    assert_eq!(
        assign(&u, &config(0, (1.0, 0.0, 0.0), Some(bad(vec!["item-005"])))).unwrap_err(),
        SplitError::UnlabelledHoldout("item-005".into())
    );
    // A manifest: listed splits are kept, the holdout overrides them, missing items are errors.
    let mut map: BTreeMap<String, Split> = ids.iter().map(|i| (i.clone(), Split::Val)).collect();
    map.insert("item-001".into(), Split::Train);
    let cfg = SplitConfig {
        seed: 0,
        policy: Policy::Manifest(map.clone()),
        holdout: Some(bad(vec!["item-001"])),
    };
    let s = assign(&u, &cfg).unwrap();
    assert_eq!(s[1], Split::Metrics);
    assert_eq!(s[2], Split::Val);
    map.remove("item-003");
    let cfg = SplitConfig {
        seed: 0,
        policy: Policy::Manifest(map),
        holdout: None,
    };
    assert_eq!(
        assign(&u, &cfg).unwrap_err().to_string(),
        "splits.manifest: item \"item-003\" has no split"
    );
}
