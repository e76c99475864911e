//! Order-preserving parallel map on scoped threads, one contiguous chunk per core.
//!
//! Chosen over a work-stealing pool: issuing is uniform work, and idle pool workers spin on a
//! loaded two-core machine, stealing the CPU the single-certificate path needs.

/// Below this many items the work runs on the calling thread: spawning costs more than it saves.
const MIN_PARALLEL: usize = 16;

/// Maps `f` over `items` on up to `available_parallelism` threads, in order; the first error wins.
pub(crate) fn map<T: Sync, R: Send, E: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if threads < 2 || items.len() < MIN_PARALLEL {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    let parts: Vec<Result<Vec<R>, E>> = std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Result<Vec<R>, E>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r,
                // A panic in a worker is a bug; re-raise it rather than hide it.
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    });
    let mut out = Vec::with_capacity(items.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order_and_reports_errors() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled = super::map(&items, |x| Ok::<_, String>(x * 2)).unwrap();
        assert_eq!(doubled, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        let err = super::map(&items, |x| {
            if *x == 777 {
                Err(format!("bad {x}"))
            } else {
                Ok(*x)
            }
        });
        assert_eq!(err.unwrap_err(), "bad 777");
    }
}
