//! What an endpoint's history says now: its color with a reason in words, and the error-budget
//! burn rates.

use serde::Serialize;

use uca_pki::Color;

use crate::spec::{Threshold, percent};
use crate::window::forecast::{Prediction, predict};
use crate::window::history::History;

/// How many consecutive failed probes make an endpoint Red at once, whatever the window says:
/// a sudden outage is Red now, not a forecast.
pub const DOWN_AFTER: u32 = 3;

/// A multiwindow burn-rate alert: both the long and the short window burn faster than `factor`
/// (the short one shows the burn is still going on).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnWindow {
    pub long_ms: i64,
    pub short_ms: i64,
    pub factor: f64,
}

/// Burn-rate windows and factors (SRE workbook, chapter 5: multiwindow, multi-burn-rate alerts).
pub const FAST_BURN: BurnWindow = BurnWindow {
    long_ms: 3_600_000,
    short_ms: 300_000,
    factor: 14.4,
};
pub const SLOW_BURN: BurnWindow = BurnWindow {
    long_ms: 21_600_000,
    short_ms: 1_800_000,
    factor: 6.0,
};

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

pub(crate) fn share(good: u32, total: u32) -> Option<f64> {
    (total > 0).then(|| f64::from(good) / f64::from(total))
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
        m5: burn_over(FAST_BURN.short_ms),
        m30: burn_over(SLOW_BURN.short_ms),
        h1: burn_over(FAST_BURN.long_ms),
        h6: burn_over(SLOW_BURN.long_ms),
        ..Burn::default()
    };
    burn.fast = burn
        .h1
        .zip(burn.m5)
        .is_some_and(|(a, b)| a > FAST_BURN.factor && b > FAST_BURN.factor);
    burn.slow = burn
        .h6
        .zip(burn.m30)
        .is_some_and(|(a, b)| a > SLOW_BURN.factor && b > SLOW_BURN.factor);
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

/// A share as a percentage with one decimal, never rounding up to a misleading 100.
pub fn percent_1(s: f64) -> String {
    let p = (s * 1000.0).floor() / 10.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}", p.round() as i64)
    } else {
        format!("{p:.1}")
    }
}
