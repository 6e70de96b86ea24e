//! Ordered parallel execution: items are worked on by several threads, each with its own
//! resource (a reader of the input), and handed back on the calling thread in item order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};

/// Runs `work` on every item on one thread per resource of `resources` (lent to the threads for
/// the call, so the caller keeps them for the next) and hands the results to
/// `sink` on the calling thread in item order (with the item's index). Workers stay at most
/// `4 × threads` items ahead of `sink`, so memory stays bounded. Stops at the first error (of
/// `work` or of `sink`), which is the error of the lowest failing item whatever the timing.
pub fn in_order<I: Sync, R: Send, T: Send>(
    items: &[I],
    resources: &mut [R],
    work: impl Fn(&mut R, &I) -> anyhow::Result<T> + Sync,
    mut sink: impl FnMut(usize, T) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let ahead = 4 * resources.len().max(1);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // Items delivered to `sink` so far; workers wait on it to stay within `ahead`.
    let delivered = (Mutex::new(0usize), Condvar::new());
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, anyhow::Result<T>)>();
        for resource in resources.iter_mut() {
            let (tx, next, stop, delivered, work) = (tx.clone(), &next, &stop, &delivered, &work);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { return };
                    {
                        let (count, wake) = delivered;
                        let mut done = count.lock().unwrap_or_else(|e| e.into_inner());
                        while i >= *done + ahead && !stop.load(Ordering::Acquire) {
                            done = wake.wait(done).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    if tx.send((i, work(resource, item))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut done = 0;
        let result = rx.iter().try_for_each(|(i, r)| {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&done) {
                sink(done, r?)?;
                done += 1;
                let (count, wake) = &delivered;
                *count.lock().unwrap_or_else(|e| e.into_inner()) = done;
                wake.notify_all();
            }
            Ok(())
        });
        if result.is_err() {
            stop.store(true, Ordering::Release);
            let (count, wake) = &delivered;
            drop(count.lock().unwrap_or_else(|e| e.into_inner()));
            wake.notify_all();
        }
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arrive_in_order_whatever_the_timing() {
        let items: Vec<u64> = (0..200).collect();
        let mut seen = Vec::new();
        in_order(
            &items,
            &mut [(); 4],
            |_, &i| {
                std::thread::sleep(std::time::Duration::from_micros((i * 7919) % 300));
                Ok(i * 2)
            },
            |index, v| {
                seen.push((index, v));
                Ok(())
            },
        )
        .unwrap();
        let want: Vec<(usize, u64)> = (0..200).map(|i| (i as usize, i * 2)).collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn the_first_failing_item_is_reported() {
        let items: Vec<u32> = (0..100).collect();
        for _ in 0..5 {
            let mut count = 0;
            let err = in_order(
                &items,
                &mut [(); 3],
                |_, &i| {
                    if i >= 40 && i % 10 == 0 {
                        anyhow::bail!("item {i} failed")
                    }
                    Ok(i)
                },
                |_, _| {
                    count += 1;
                    Ok(())
                },
            )
            .unwrap_err();
            assert_eq!(err.to_string(), "item 40 failed");
            assert_eq!(count, 40);
        }
    }

    #[test]
    fn a_sink_error_stops_the_workers() {
        let items: Vec<u32> = (0..10_000).collect();
        let worked = AtomicUsize::new(0);
        let err = in_order(
            &items,
            &mut [(); 2],
            |_, &i| {
                worked.fetch_add(1, Ordering::Relaxed);
                Ok(i)
            },
            |i, _| {
                if i == 5 {
                    anyhow::bail!("full")
                } else {
                    Ok(())
                }
            },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "full");
        assert!(
            worked.load(Ordering::Relaxed) < 100,
            "workers stop soon after"
        );
    }
}
