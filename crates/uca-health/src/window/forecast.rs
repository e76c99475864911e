//! When an endpoint's color will next change: the recent level and significant trend of the
//! good share, played forward through the sliding window.

use serde::Serialize;

use uca_pki::Color;

use crate::window::history::History;
use crate::window::ring::{Bucket, Ring};
use crate::window::verdict::share;

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

/// Probe counts of a run of buckets.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    total: u64,
    good: u64,
}

/// A color change the forecast found: to what, how far ahead, on what trend.
struct Change {
    to: Color,
    in_ms: i64,
    /// The trend it rests on; 0 when it rests on the current rate alone.
    slope: f64,
}

/// One fine bucket as the trend fit sees it.
struct Point {
    /// Bucket start, ms.
    at: f64,
    /// Its good share.
    share: f64,
    /// Its probe count: busier buckets weigh more.
    weight: f64,
}

/// Weighted least-squares slope of the good share over the window's fine buckets, per ms, kept
/// only when it is distinguishable from noise (|t| > 2).
fn trend(ring: &Ring, since_ms: i64, pick: impl Fn(&Bucket) -> u32) -> f64 {
    let pts: Vec<Point> = ring
        .buckets()
        .filter(|b| b.start_ms >= since_ms && b.total > 0)
        .map(|b| Point {
            at: b.start_ms as f64,
            share: f64::from(pick(b)) / f64::from(b.total),
            weight: f64::from(b.total),
        })
        .collect();
    if pts.len() < 5 {
        return 0.0;
    }
    let sw: f64 = pts.iter().map(|p| p.weight).sum();
    let mx = pts.iter().map(|p| p.at * p.weight).sum::<f64>() / sw;
    let my = pts.iter().map(|p| p.share * p.weight).sum::<f64>() / sw;
    let sxx: f64 = pts.iter().map(|p| p.weight * (p.at - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return 0.0;
    }
    let sxy: f64 = pts
        .iter()
        .map(|p| p.weight * (p.at - mx) * (p.share - my))
        .sum();
    let slope = sxy / sxx;
    let resid: f64 = pts
        .iter()
        .map(|p| p.weight * (p.share - (my + slope * (p.at - mx))).powi(2))
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
    let mut suffix = vec![Counts::default(); starts.len() + 1];
    let buckets: Vec<&Bucket> = h.fine.buckets().collect();
    for (i, b) in buckets.iter().enumerate().rev() {
        suffix[i] = Counts {
            total: suffix[i + 1].total + u64::from(b.total),
            good: suffix[i + 1].good + u64::from(pick(b)),
        };
    }
    let share_at = |t: i64| -> f64 {
        let idx = starts.partition_point(|s| *s < now_ms + t - w);
        let Counts {
            total: old_total,
            good: old_good,
        } = suffix[idx];
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

/// The next worse color and when, from the recent level and trend of the good shares.
pub(crate) fn predict(h: &History, now_ms: i64, now: Color) -> Option<Prediction> {
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
            candidates.push(Change {
                to: Color::Yellow,
                in_ms: t,
                slope,
            });
        }
    }
    if now == Color::Green || now == Color::Yellow {
        let level = share(recent.good_warn, recent.total)?;
        let slope = trend(&h.fine, since, |b| b.good_warn);
        if let Some(t) = crossing(h, now_ms, r.warn.share, level, slope, |b| b.good_warn) {
            candidates.push(Change {
                to: Color::Red,
                in_ms: t,
                slope,
            });
        }
    }
    let Change {
        to,
        in_ms: t,
        slope,
    } = candidates.into_iter().min_by_key(|c| c.in_ms)?;
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
