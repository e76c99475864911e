//! Everything remembered about one endpoint's probes: two rings of bucket counts (fine ones
//! for the status and the trend, one-minute ones for the burn rates), the latest latencies and
//! the run of failures, judged by the endpoint's [`Rules`].

use std::collections::VecDeque;
use std::fmt;

use crate::spec::Threshold;
use crate::window::ring::{Bucket, Ring};

/// One probe's outcome, as the window needs it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Unix time of the probe's start, milliseconds.
    pub at_ms: i64,
    pub success: bool,
    pub latency_ms: f64,
}

/// The thresholds a history is judged by.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub ok: Threshold,
    pub warn: Threshold,
    pub window_ms: i64,
    pub interval_ms: i64,
    pub min_samples: u32,
    pub horizon_ms: i64,
}

/// Everything remembered about one endpoint's probes.
#[derive(Debug, Clone)]
pub struct History {
    pub rules: Rules,
    pub fine: Ring,
    pub coarse: Ring,
    /// The latest latencies, for percentiles.
    pub recent_ms: VecDeque<f32>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub last_at_ms: Option<i64>,
}

const RECENT: usize = 128;

impl History {
    pub fn new(rules: Rules) -> History {
        let fine_width = (rules.window_ms / 60).max(100);
        let fine_cap = ((2 * rules.window_ms) / fine_width + 2) as usize;
        History {
            rules,
            fine: Ring::new(fine_width, fine_cap),
            coarse: Ring::new(60_000, 6 * 60 + 1),
            recent_ms: VecDeque::with_capacity(RECENT),
            consecutive_failures: 0,
            last_error: None,
            last_at_ms: None,
        }
    }

    pub fn bucket_of(&self, s: &Sample) -> Bucket {
        let good = |t: &Threshold| {
            s.success && s.latency_ms <= t.within.as_duration().as_secs_f64() * 1000.0
        };
        Bucket {
            start_ms: s.at_ms,
            total: 1,
            good_ok: u32::from(good(&self.rules.ok)),
            good_warn: u32::from(good(&self.rules.warn)),
            success: u32::from(s.success),
            latency_ms_sum: s.latency_ms,
        }
    }

    pub fn record(&mut self, s: &Sample, error: Option<String>) {
        let b = self.bucket_of(s);
        self.fine.merge(&b);
        self.coarse.merge(&b);
        if self.recent_ms.len() == RECENT {
            self.recent_ms.pop_front();
        }
        self.recent_ms.push_back(s.latency_ms as f32);
        if s.success {
            self.consecutive_failures = 0;
            self.last_error = None;
        } else {
            self.consecutive_failures += 1;
            self.last_error = error;
        }
        self.last_at_ms = Some(self.last_at_ms.map_or(s.at_ms, |t| t.max(s.at_ms)));
    }

    /// Restores a stored bucket into its ring, if it still has that ring's width.
    pub fn restore(&mut self, fine: bool, width_ms: i64, b: &Bucket) {
        let ring = if fine {
            &mut self.fine
        } else {
            &mut self.coarse
        };
        if width_ms == ring.width_ms {
            ring.merge(b);
        }
    }

    pub fn prune(&mut self, now_ms: i64) {
        self.fine.prune(now_ms);
        self.coarse.prune(now_ms);
    }

    /// Latency percentile over the recent probes, milliseconds.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        if self.recent_ms.is_empty() {
            return None;
        }
        let mut v: Vec<f32> = self.recent_ms.iter().copied().collect();
        v.sort_by(|a, b| a.total_cmp(b));
        let idx = ((v.len() as f64 - 1.0) * q).round() as usize;
        v.get(idx).map(|x| f64::from(*x))
    }
}

/// What a stored history was judged by. Its text is what the store keeps beside the counts (in
/// this exact form, so existing stores keep their history): a changed config discards counts
/// that were judged by other rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RulesFingerprint {
    pub ok: Threshold,
    pub warn: Threshold,
    pub window_ms: i64,
    pub interval_ms: i64,
}

impl Rules {
    pub fn fingerprint(&self) -> RulesFingerprint {
        RulesFingerprint {
            ok: self.ok,
            warn: self.warn,
            window_ms: self.window_ms,
            interval_ms: self.interval_ms,
        }
    }
}

impl fmt::Display for RulesFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}|{}|{}|{}",
            self.ok, self.warn, self.window_ms, self.interval_ms
        )
    }
}
