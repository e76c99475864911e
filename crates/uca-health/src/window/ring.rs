//! Bucket counts of one width in time order: the storage under an endpoint's history.

use std::collections::VecDeque;

/// Counts of one time bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bucket {
    pub start_ms: i64,
    pub total: u32,
    /// Succeeded within the ok latency.
    pub good_ok: u32,
    /// Succeeded within the warn latency.
    pub good_warn: u32,
    pub success: u32,
    pub latency_ms_sum: f64,
}

impl Bucket {
    pub(crate) fn add(&mut self, other: &Bucket) {
        self.total += other.total;
        self.good_ok += other.good_ok;
        self.good_warn += other.good_warn;
        self.success += other.success;
        self.latency_ms_sum += other.latency_ms_sum;
    }
}

/// Buckets of one width, oldest first, at most `cap` of them.
#[derive(Debug, Clone)]
pub struct Ring {
    pub width_ms: i64,
    cap: usize,
    buckets: VecDeque<Bucket>,
}

impl Ring {
    pub fn new(width_ms: i64, cap: usize) -> Ring {
        Ring {
            width_ms: width_ms.max(1),
            cap,
            buckets: VecDeque::with_capacity(cap.min(64)),
        }
    }

    fn slot(&mut self, at_ms: i64) -> &mut Bucket {
        let start = at_ms - at_ms.rem_euclid(self.width_ms);
        let pos = self
            .buckets
            .iter()
            .rposition(|b| b.start_ms <= start)
            .map(|i| i + 1)
            .unwrap_or(0);
        if pos == 0 || self.buckets[pos - 1].start_ms != start {
            self.buckets.insert(
                pos,
                Bucket {
                    start_ms: start,
                    ..Bucket::default()
                },
            );
            while self.buckets.len() > self.cap {
                self.buckets.pop_front();
            }
            let idx = self.buckets.iter().rposition(|b| b.start_ms == start);
            return &mut self.buckets[idx.unwrap_or(0)];
        }
        &mut self.buckets[pos - 1]
    }

    pub fn merge(&mut self, b: &Bucket) {
        self.slot(b.start_ms).add(b);
    }

    /// Totals of the buckets inside `[since_ms, now]`; the bucket that straddles `since_ms`
    /// counts when most of it is inside (buckets are window/60 wide, so the edge error stays
    /// under 1% of the window).
    pub fn since(&self, since_ms: i64) -> Bucket {
        let mut sum = Bucket::default();
        for b in self.buckets.iter().rev() {
            if b.start_ms + self.width_ms / 2 < since_ms {
                break;
            }
            sum.add(b);
        }
        sum
    }

    pub fn buckets(&self) -> impl Iterator<Item = &Bucket> {
        self.buckets.iter()
    }

    pub fn prune(&mut self, now_ms: i64) {
        let keep = now_ms - self.width_ms * self.cap as i64;
        while self.buckets.front().is_some_and(|b| b.start_ms < keep) {
            self.buckets.pop_front();
        }
    }
}
