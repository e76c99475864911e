//! One endpoint's whole state and its status: the probe window's color, the presented
//! certificates' expiry, and what this CA's ledger and CRL say — the worst of them, with every
//! reason in words.

use serde::Serialize;
use time::OffsetDateTime;

use crate::probe::{Outcome, SeenCert};
use crate::targets::Target;
use crate::window::{History, Prediction, ProbeVerdict, Rules, Sample, evaluate};
use uca_pki::Color;
use uca_pki::Span;

/// What this CA knows about the certificate an endpoint serves (filled in by the watcher).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaFinding {
    pub color: Color,
    pub reason: String,
}

/// Everything the watcher keeps for one target.
#[derive(Debug)]
pub struct Endpoint {
    pub target: Target,
    pub history: History,
    /// The chain from the latest successful TLS handshake.
    pub chain: Option<Vec<SeenCert>>,
    /// Ledger and CRL findings for the served certificate, refreshed periodically.
    pub ca_findings: Vec<CaFinding>,
    pub last_status: Option<u16>,
    pub probes: u64,
    pub failures: u64,
    /// Latency histogram counts, by [`LATENCY_BUCKETS`] upper bounds (+Inf last).
    pub latency_counts: [u64; LATENCY_BUCKETS.len() + 1],
    pub latency_sum: f64,
    /// The color last reported, to detect changes.
    pub color: Color,
    pub color_since_ms: i64,
}

/// Upper bounds (seconds) of the probe latency histogram.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

pub fn rules_of(t: &Target) -> Rules {
    Rules {
        ok: t.ok,
        warn: t.warn,
        window_ms: t.window.as_duration().as_millis() as i64,
        interval_ms: t.interval.as_duration().as_millis() as i64,
        min_samples: t.min_samples,
        horizon_ms: t.horizon.as_duration().as_millis() as i64,
    }
}

impl Endpoint {
    pub fn new(target: Target) -> Endpoint {
        let history = History::new(rules_of(&target));
        Endpoint {
            target,
            history,
            chain: None,
            ca_findings: Vec::new(),
            last_status: None,
            probes: 0,
            failures: 0,
            latency_counts: [0; LATENCY_BUCKETS.len() + 1],
            latency_sum: 0.0,
            color: Color::Unknown,
            color_since_ms: 0,
        }
    }

    pub fn record(&mut self, at_ms: i64, o: &Outcome) {
        let latency_ms = o.latency.as_secs_f64() * 1000.0;
        self.history.record(
            &Sample {
                at_ms,
                success: o.success,
                latency_ms,
            },
            o.error.clone(),
        );
        self.probes += 1;
        if !o.success {
            self.failures += 1;
        }
        let secs = o.latency.as_secs_f64();
        let idx = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.latency_counts[idx] += 1;
        self.latency_sum += secs;
        self.last_status = o.status;
        if let Some(chain) = &o.chain
            && self.chain.as_ref() != Some(chain)
        {
            self.chain = Some(chain.clone());
            // Findings were about the previous certificate.
            self.ca_findings.clear();
        }
    }
}

impl Endpoint {
    /// Counts `n` schedule slots that a failed probe used up as failures in the window (not as
    /// probes run): the endpoint did not answer in any of them.
    pub fn record_missed_slots(&mut self, at_ms: i64, n: u32, o: &Outcome) {
        let s = Sample {
            at_ms,
            success: false,
            latency_ms: o.latency.as_secs_f64() * 1000.0,
        };
        for _ in 0..n {
            self.history.record(&s, o.error.clone());
        }
    }
}

/// The expiry finding of a presented chain: the earliest notAfter wins.
#[derive(Debug, Clone, Serialize)]
pub struct CertView {
    pub subject: String,
    pub serial: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub seconds_left: i64,
    pub color: Color,
    pub reason: String,
}

/// An endpoint's status, as every view shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub name: String,
    pub url: String,
    pub color: Color,
    /// Every reason, worst first.
    pub reasons: Vec<String>,
    pub probe: ProbeVerdict,
    pub cert: Option<CertView>,
    pub ca_findings: Vec<String>,
    pub latency_ms_p50: Option<f64>,
    pub latency_ms_p95: Option<f64>,
    pub latency_ms_max: Option<f64>,
    pub last_error: Option<String>,
    /// The next expected color change within the horizon, in words.
    pub forecast: Option<String>,
    pub prediction: Option<Prediction>,
    /// Good share (ok criterion) per fine bucket over the window, oldest first; for sparklines.
    pub trend: Vec<Option<f64>>,
    pub ok: String,
    pub warn: String,
    pub window: String,
}

/// Human duration: `~2 h`, `~35 min`, `3 d`.
pub fn about(seconds: i64) -> String {
    let s = seconds.max(0);
    if s < 90 {
        format!("~{s} s")
    } else if s < 90 * 60 {
        format!("~{} min", (s + 30) / 60)
    } else if s < 36 * 3600 {
        format!("~{} h", (s + 1800) / 3600)
    } else {
        format!("~{} d", (s + 43_200) / 86_400)
    }
}

fn clock(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ms / 1000)
        .map(uca_pki::validity::display_time)
        .unwrap_or_default()
}

fn cert_view(chain: &[SeenCert], warn: Span, crit: Span, now_s: i64) -> Option<CertView> {
    let c = chain.iter().min_by_key(|c| c.not_after_unix)?;
    let left = c.not_after_unix - now_s;
    let days = left as f64 / 86_400.0;
    let whose = if chain.first().is_some_and(|l| l.serial_hex == c.serial_hex) {
        format!("certificate {}", c.subject)
    } else {
        format!("chain certificate {}", c.subject)
    };
    let (color, reason) = if left <= 0 {
        (Color::Red, format!("{whose} has expired"))
    } else if left <= crit.as_duration().as_secs() as i64 {
        (
            Color::Red,
            format!("{whose} expires in {}", about_days(days)),
        )
    } else if left <= warn.as_duration().as_secs() as i64 {
        (
            Color::Yellow,
            format!("{whose} expires in {}", about_days(days)),
        )
    } else {
        (
            Color::Green,
            format!("{whose} expires in {}", about_days(days)),
        )
    };
    Some(CertView {
        subject: c.subject.clone(),
        serial: c.serial_hex.clone(),
        not_after: OffsetDateTime::from_unix_timestamp(c.not_after_unix).ok()?,
        seconds_left: left,
        color,
        reason,
    })
}

fn about_days(d: f64) -> String {
    if d >= 2.0 {
        format!("{} days", d.floor() as i64)
    } else {
        format!("{} hours", (d * 24.0).floor() as i64)
    }
}

/// The status of `e` at `now_ms`.
pub fn status(e: &Endpoint, now_ms: i64) -> Status {
    let t = &e.target;
    let v = evaluate(&e.history, now_ms);
    let cert = e
        .chain
        .as_deref()
        .and_then(|c| cert_view(c, t.cert_warn, t.cert_crit, now_ms / 1000));
    let mut parts: Vec<(Color, String)> = vec![(v.color, v.reason.clone())];
    if let Some(c) = &cert {
        parts.push((c.color, c.reason.clone()));
    }
    for f in &e.ca_findings {
        parts.push((f.color, f.reason.clone()));
    }
    let color = parts.iter().map(|p| p.0).max().unwrap_or(Color::Unknown);
    parts.sort_by_key(|p| std::cmp::Reverse(p.0));
    // The next change: the window's forecast, or the certificate's thresholds.
    let mut prediction = v.prediction.clone().filter(|p| p.to > color);
    if let Some(c) = &cert {
        let not_after_ms = c.not_after.unix_timestamp() * 1000;
        for (to, before) in [(Color::Yellow, t.cert_warn), (Color::Red, t.cert_crit)] {
            let at = not_after_ms - before.as_duration().as_millis() as i64;
            if to > color
                && at > now_ms
                && at - now_ms <= t.horizon.as_duration().as_millis() as i64
                && prediction.as_ref().is_none_or(|p| at < p.at_ms)
            {
                prediction = Some(Prediction {
                    to,
                    at_ms: at,
                    in_seconds: (at - now_ms) / 1000,
                    basis: format!("the certificate's notAfter ({})", clock(not_after_ms)),
                });
                break;
            }
        }
    }
    let forecast = prediction.as_ref().map(|p| {
        let lead = if p.basis.starts_with("the certificate") {
            "certificate"
        } else {
            "at the current trend"
        };
        format!(
            "{lead}: {} in {}, at {}",
            p.to.title(),
            about(p.in_seconds),
            clock(p.at_ms)
        )
    });
    let since = now_ms - t.window.as_duration().as_millis() as i64;
    let trend = e
        .history
        .fine
        .buckets()
        .filter(|b| b.start_ms >= since)
        .map(|b| (b.total > 0).then(|| f64::from(b.good_ok) / f64::from(b.total)))
        .collect();
    Status {
        name: t.name.clone(),
        url: t.url.clone(),
        color,
        reasons: parts.into_iter().map(|p| p.1).collect(),
        cert,
        ca_findings: e.ca_findings.iter().map(|f| f.reason.clone()).collect(),
        latency_ms_p50: e.history.percentile(0.5),
        latency_ms_p95: e.history.percentile(0.95),
        latency_ms_max: e.history.percentile(1.0),
        last_error: e.history.last_error.clone(),
        forecast,
        prediction,
        trend,
        ok: t.ok.to_string(),
        warn: t.warn.to_string(),
        window: t.window.to_string(),
        probe: v,
    }
}
