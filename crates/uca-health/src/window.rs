//! The probe history of one endpoint, kept as counts per time bucket (never raw probes), and what
//! it says: the color now, the error-budget burn rates, and when the color will next change.
//!
//! Two rings per endpoint: fine buckets (window/60 wide, two windows deep) for the status and the
//! trend, and one-minute buckets six hours deep for the burn rates. At one probe a second that is
//! about 10 KB per endpoint, whatever the probe rate.

use std::collections::VecDeque;

use serde::Serialize;

use uca_pki::Color;

use crate::spec::{Threshold, percent};

/// How many consecutive failed probes make an endpoint Red at once, whatever the window says:
/// a sudden outage is Red now, not a forecast.
pub const DOWN_AFTER: u32 = 3;

/// Burn-rate windows and factors (SRE workbook, chapter 5: multiwindow, multi-burn-rate alerts).
pub const FAST_BURN: (i64, i64, f64) = (3_600_000, 300_000, 14.4);
pub const SLOW_BURN: (i64, i64, f64) = (21_600_000, 1_800_000, 6.0);

/// One probe's outcome, as the window needs it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Unix time of the probe's start, milliseconds.
    pub at_ms: i64,
    pub success: bool,
    pub latency_ms: f64,
}

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
    fn add(&mut self, other: &Bucket) {
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
        let good = |t: &Threshold| s.success && s.latency_ms <= t.within.as_duration().as_secs_f64() * 1000.0;
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

/// Error-budget burn rates: how many times faster than sustainable the budget (1 − ok share) is
/// being spent, over each window.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Burn {
    pub m5: Option<f64>,
    pub m30: Option<f64>,
    pub h1: Option<f64>,
    pub h6: Option<f64>,
    /// 1h and 5m both above 14.4×.
    pub fast: bool,
    /// 6h and 30m both above 6×.
    pub slow: bool,
}

/// When the color is expected to change, and to what.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub to: Color,
    /// Unix milliseconds.
    pub at_ms: i64,
    pub in_seconds: i64,
    /// What the guess rests on, in words.
    pub basis: String,
}

/// What the probes say now.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeVerdict {
    pub color: Color,
    pub reason: String,
    pub samples: u32,
    /// Share of probes in the window that succeeded within the ok latency.
    pub share_ok: Option<f64>,
    pub share_warn: Option<f64>,
    pub burn: Burn,
    pub prediction: Option<Prediction>,
}

fn share(good: u32, total: u32) -> Option<f64> {
    (total > 0).then(|| f64::from(good) / f64::from(total))
}

/// Weighted least-squares slope of the good share over the window's fine buckets, per ms, kept
/// only when it is distinguishable from noise (|t| > 2).
fn trend(ring: &Ring, since_ms: i64, pick: impl Fn(&Bucket) -> u32) -> f64 {
    let pts: Vec<(f64, f64, f64)> = ring
        .buckets()
        .filter(|b| b.start_ms >= since_ms && b.total > 0)
        .map(|b| {
            (
                b.start_ms as f64,
                f64::from(pick(b)) / f64::from(b.total),
                f64::from(b.total),
            )
        })
        .collect();
    if pts.len() < 5 {
        return 0.0;
    }
    let sw: f64 = pts.iter().map(|p| p.2).sum();
    let mx = pts.iter().map(|p| p.0 * p.2).sum::<f64>() / sw;
    let my = pts.iter().map(|p| p.1 * p.2).sum::<f64>() / sw;
    let sxx: f64 = pts.iter().map(|p| p.2 * (p.0 - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return 0.0;
    }
    let sxy: f64 = pts.iter().map(|p| p.2 * (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let resid: f64 = pts
        .iter()
        .map(|p| p.2 * (p.1 - (my + slope * (p.0 - mx))).powi(2))
        .sum();
    let dof = (sw - 2.0).max(1.0);
    // Floor the noise at the binomial variance of the mean share, so a perfectly steady series
    // of all-good buckets does not make any wobble "significant".
    let var = (resid / dof).max(my * (1.0 - my) / sw.max(1.0));
    let se = (var / sxx).sqrt();
    if se > 0.0 && (slope / se).abs() > 2.0 {
        slope
    } else {
        0.0
    }
}

/// The first time (ms from now, within the horizon) the window share drops below `threshold`,
/// if the per-probe good rate follows `level + slope·t`.
fn crossing(
    h: &History,
    now_ms: i64,
    threshold: f64,
    level: f64,
    slope: f64,
    pick: fn(&Bucket) -> u32,
) -> Option<i64> {
    // At a steady or improving rate at or above the threshold, nothing crosses.
    if level >= threshold && slope >= 0.0 {
        return None;
    }
    let r = &h.rules;
    let w = r.window_ms;
    let rate = 1.0 / r.interval_ms.max(1) as f64;
    let p = |t: f64| (level + slope * t).clamp(0.0, 1.0);
    // Suffix sums of (total, good) over the fine buckets: the part of today's window still
    // inside the window at a future time is a suffix.
    let starts: Vec<i64> = h.fine.buckets().map(|b| b.start_ms).collect();
    let mut suffix = vec![(0u64, 0u64); starts.len() + 1];
    let buckets: Vec<&Bucket> = h.fine.buckets().collect();
    for (i, b) in buckets.iter().enumerate().rev() {
        suffix[i] = (
            suffix[i + 1].0 + u64::from(b.total),
            suffix[i + 1].1 + u64::from(pick(b)),
        );
    }
    let share_at = |t: i64| -> f64 {
        let idx = starts.partition_point(|s| *s < now_ms + t - w);
        let (old_total, old_good) = suffix[idx];
        let from = (t - w).max(0) as f64;
        let to = t as f64;
        let n_new = rate * (to - from);
        let steps = 8;
        let dt = (to - from) / steps as f64;
        let good_new: f64 = (0..steps)
            .map(|i| p(from + (i as f64 + 0.5) * dt) * rate * dt)
            .sum();
        let total = old_total as f64 + n_new;
        if total <= 0.0 {
            return 1.0;
        }
        (old_good as f64 + good_new) / total
    };
    let step = (r.horizon_ms / 240).max(w / 30).max(1000);
    let mut prev = 0i64;
    let mut t = step;
    while t <= r.horizon_ms {
        if share_at(t) < threshold {
            let (mut lo, mut hi) = (prev, t);
            for _ in 0..12 {
                let mid = (lo + hi) / 2;
                if share_at(mid) < threshold {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            return Some(hi);
        }
        prev = t;
        t += step;
    }
    None
}

/// Judges the history at `now_ms`.
pub fn evaluate(h: &History, now_ms: i64) -> ProbeVerdict {
    let r = &h.rules;
    let in_window = h.fine.since(now_ms - r.window_ms);
    let share_ok = share(in_window.good_ok, in_window.total);
    let share_warn = share(in_window.good_warn, in_window.total);
    let budget = (1.0 - r.ok.share).max(1e-9);
    let burn_over = |ms: i64| {
        let b = h.coarse.since(now_ms - ms);
        share(b.good_ok, b.total).map(|s| (1.0 - s) / budget)
    };
    let mut burn = Burn {
        m5: burn_over(FAST_BURN.1),
        m30: burn_over(SLOW_BURN.1),
        h1: burn_over(FAST_BURN.0),
        h6: burn_over(SLOW_BURN.0),
        ..Burn::default()
    };
    burn.fast = burn
        .h1
        .zip(burn.m5)
        .is_some_and(|(a, b)| a > FAST_BURN.2 && b > FAST_BURN.2);
    burn.slow = burn
        .h6
        .zip(burn.m30)
        .is_some_and(|(a, b)| a > SLOW_BURN.2 && b > SLOW_BURN.2);
    let mut v = ProbeVerdict {
        color: Color::Unknown,
        reason: String::new(),
        samples: in_window.total,
        share_ok,
        share_warn,
        burn,
        prediction: None,
    };
    let describe = |s: f64, t: &Threshold| {
        format!(
            "{}% within {} (needs {}%)",
            percent_1(s),
            t.within,
            percent(t.share)
        )
    };
    if h.consecutive_failures >= DOWN_AFTER {
        v.color = Color::Red;
        v.reason = format!(
            "down: the last {} probes failed ({})",
            h.consecutive_failures,
            h.last_error.as_deref().unwrap_or("no answer")
        );
        return v;
    }
    if in_window.total < r.min_samples {
        v.reason = format!(
            "collecting: {} of {} probes needed in the window",
            in_window.total, r.min_samples
        );
        return v;
    }
    let (so, sw) = (share_ok.unwrap_or(0.0), share_warn.unwrap_or(0.0));
    if so >= r.ok.share {
        v.color = Color::Green;
        v.reason = format!("{}% within {}", percent_1(so), r.ok.within);
    } else if sw >= r.warn.share {
        v.color = Color::Yellow;
        v.reason = describe(so, &r.ok);
    } else {
        v.color = Color::Red;
        v.reason = describe(sw, &r.warn);
    }
    if v.color == Color::Red
        && h.last_error.is_some()
        && h.consecutive_failures > 0
        && let Some(e) = &h.last_error
    {
        v.reason.push_str(&format!("; last error: {e}"));
    }
    v.prediction = predict(h, now_ms, v.color);
    v
}

/// The next worse color and when, from the recent level and trend of the good shares.
fn predict(h: &History, now_ms: i64, now: Color) -> Option<Prediction> {
    let r = &h.rules;
    let since = now_ms - r.window_ms;
    // The level is the share over the most recent quarter of the window (at least 3 buckets).
    let recent_ms = (r.window_ms / 4).max(3 * h.fine.width_ms);
    let recent = h.fine.since(now_ms - recent_ms);
    let mut candidates = Vec::new();
    if now == Color::Green {
        let level = share(recent.good_ok, recent.total)?;
        let slope = trend(&h.fine, since, |b| b.good_ok);
        if let Some(t) = crossing(h, now_ms, r.ok.share, level, slope, |b| b.good_ok) {
            candidates.push((Color::Yellow, t, slope));
        }
    }
    if now == Color::Green || now == Color::Yellow {
        let level = share(recent.good_warn, recent.total)?;
        let slope = trend(&h.fine, since, |b| b.good_warn);
        if let Some(t) = crossing(h, now_ms, r.warn.share, level, slope, |b| b.good_warn) {
            candidates.push((Color::Red, t, slope));
        }
    }
    let (to, t, slope) = candidates.into_iter().min_by_key(|c| c.1)?;
    Some(Prediction {
        to,
        at_ms: now_ms + t,
        in_seconds: t / 1000,
        basis: if slope != 0.0 {
            "the good share's trend over the window".into()
        } else {
            "the current error rate".into()
        },
    })
}

/// A share as a percentage with one decimal, never rounding up to a misleading 100.
pub fn percent_1(s: f64) -> String {
    let p = (s * 1000.0).floor() / 10.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}", p.round() as i64)
    } else {
        format!("{p:.1}")
    }
}

/// `Threshold` as stored with the history, so a changed config discards stale counts.
pub fn rules_fingerprint(r: &Rules) -> String {
    format!("{}|{}|{}|{}", r.ok, r.warn, r.window_ms, r.interval_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            ok: "90% within 100ms".parse().unwrap(),
            warn: "70% within 500ms".parse().unwrap(),
            window_ms: 60_000,
            interval_ms: 100,
            min_samples: 10,
            horizon_ms: 3_600_000,
        }
    }

    fn feed(h: &mut History, from_ms: i64, to_ms: i64, good: impl Fn(i64) -> bool) {
        let mut t = from_ms;
        while t < to_ms {
            let ok = good(t);
            h.record(
                &Sample {
                    at_ms: t,
                    success: ok,
                    latency_ms: 10.0,
                },
                (!ok).then(|| "boom".to_string()),
            );
            t += 100;
        }
    }

    #[test]
    fn colors_follow_the_window() {
        let mut h = History::new(rules());
        assert_eq!(evaluate(&h, 0).color, Color::Unknown);
        feed(&mut h, 0, 60_000, |t| t % 1000 != 0); // 99% good
        let v = evaluate(&h, 60_000);
        assert_eq!(v.color, Color::Green, "{v:?}");
        feed(&mut h, 60_000, 120_000, |t| t % 500 != 0 && t % 700 != 0); // ~65% .. mixed
        let v = evaluate(&h, 120_000);
        assert_ne!(v.color, Color::Green, "{v:?}");
        assert!(v.reason.contains("needs"), "{}", v.reason);
    }

    #[test]
    fn outage_is_red_now() {
        let mut h = History::new(rules());
        feed(&mut h, 0, 60_000, |_| true);
        feed(&mut h, 60_000, 60_300, |_| false);
        let v = evaluate(&h, 60_300);
        assert_eq!(v.color, Color::Red);
        assert!(v.reason.starts_with("down"), "{}", v.reason);
    }

    #[test]
    fn slow_degradation_is_predicted_before_it_happens() {
        let mut h = History::new(rules());
        // Failure share grows from 0 to 8% over two minutes; the 90% line is not crossed yet.
        let fail_share = |t: i64| (t as f64 / 120_000.0) * 0.08;
        let mut acc = 0.0;
        let mut t = 0;
        while t < 120_000 {
            acc += fail_share(t);
            let fail = acc >= 1.0;
            if fail {
                acc -= 1.0;
            }
            h.record(
                &Sample {
                    at_ms: t,
                    success: !fail,
                    latency_ms: 10.0,
                },
                None,
            );
            t += 100;
        }
        let v = evaluate(&h, 120_000);
        assert_eq!(v.color, Color::Green, "{v:?}");
        let p = v.prediction.expect("a prediction");
        assert_eq!(p.to, Color::Yellow);
        assert!(p.in_seconds > 0 && p.in_seconds < 600, "{p:?}");
    }

    #[test]
    fn steady_state_predicts_nothing() {
        let mut h = History::new(rules());
        feed(&mut h, 0, 120_000, |t| t % 2000 != 0);
        let v = evaluate(&h, 120_000);
        assert_eq!(v.color, Color::Green);
        assert!(v.prediction.is_none(), "{:?}", v.prediction);
    }
}
