//! The three views of the same statuses: Prometheus text exposition, JSON, and a
//! self-contained HTML page (no external assets, auto-refresh, a sparkline per endpoint).

use std::fmt::Write as _;

use serde::Serialize;

use crate::endpoint::{Endpoint, LATENCY_BUCKETS, Status};
use uca_pki::Color;

/// Scheduler figures of the watcher itself.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SchedulerStats {
    pub scheduled: u64,
    /// Probes that started more than 100 ms after their scheduled time.
    pub late: u64,
    /// Lag histogram counts by [`LAG_BUCKETS`] (+Inf last).
    pub lag_counts: Vec<u64>,
    pub lag_sum: f64,
}

/// Upper bounds (seconds) of the scheduling-lag histogram.
pub const LAG_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

/// The JSON document of `/status.json` and `uca health check --json`.
#[derive(Serialize)]
pub struct StatusDoc<'a> {
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: time::OffsetDateTime,
    pub summary: Summary,
    pub endpoints: &'a [Status],
}

#[derive(Serialize, Default)]
pub struct Summary {
    pub green: usize,
    pub yellow: usize,
    pub red: usize,
    pub unknown: usize,
}

pub fn summary(statuses: &[Status]) -> Summary {
    let mut s = Summary::default();
    for st in statuses {
        match st.color {
            Color::Green => s.green += 1,
            Color::Yellow => s.yellow += 1,
            Color::Red => s.red += 1,
            Color::Unknown => s.unknown += 1,
        }
    }
    s
}

fn le(v: f64) -> String {
    format!("{v}")
}

/// Prometheus text format 0.0.4.
pub fn metrics(endpoints: &[&Endpoint], statuses: &[Status], sched: &SchedulerStats) -> String {
    let mut m = String::with_capacity(endpoints.len() * 1600 + 2048);
    let _ = writeln!(
        m,
        "# HELP uca_health_probes_total Probes run per target.\n# TYPE uca_health_probes_total counter"
    );
    for e in endpoints {
        let _ = writeln!(
            m,
            "uca_health_probes_total{{target=\"{}\"}} {}",
            e.target.name, e.probes
        );
    }
    let _ = writeln!(
        m,
        "# HELP uca_health_probe_failures_total Probes that did not answer correctly.\n# TYPE uca_health_probe_failures_total counter"
    );
    for e in endpoints {
        let _ = writeln!(
            m,
            "uca_health_probe_failures_total{{target=\"{}\"}} {}",
            e.target.name, e.failures
        );
    }
    let _ = writeln!(
        m,
        "# HELP uca_health_probe_duration_seconds Probe latency, connect to answer.\n# TYPE uca_health_probe_duration_seconds histogram"
    );
    for e in endpoints {
        let mut cum = 0;
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            cum += e.latency_counts[i];
            let _ = writeln!(
                m,
                "uca_health_probe_duration_seconds_bucket{{target=\"{}\",le=\"{}\"}} {cum}",
                e.target.name,
                le(*b)
            );
        }
        cum += e.latency_counts[LATENCY_BUCKETS.len()];
        let _ = writeln!(
            m,
            "uca_health_probe_duration_seconds_bucket{{target=\"{}\",le=\"+Inf\"}} {cum}",
            e.target.name
        );
        let _ = writeln!(
            m,
            "uca_health_probe_duration_seconds_sum{{target=\"{}\"}} {}",
            e.target.name, e.latency_sum
        );
        let _ = writeln!(
            m,
            "uca_health_probe_duration_seconds_count{{target=\"{}\"}} {cum}",
            e.target.name
        );
    }
    let _ = writeln!(
        m,
        "# HELP uca_health_status Endpoint status: 0 green, 1 yellow, 2 red, 3 unknown.\n# TYPE uca_health_status gauge"
    );
    for s in statuses {
        let _ = writeln!(
            m,
            "uca_health_status{{target=\"{}\"}} {}",
            s.name,
            s.color.gauge()
        );
    }
    let _ = writeln!(
        m,
        "# HELP uca_health_good_share Share of probes in the window that answered correctly within the ok (or warn) latency.\n# TYPE uca_health_good_share gauge"
    );
    for s in statuses {
        if let Some(v) = s.probe.share_ok {
            let _ = writeln!(
                m,
                "uca_health_good_share{{target=\"{}\",threshold=\"ok\"}} {v}",
                s.name
            );
        }
        if let Some(v) = s.probe.share_warn {
            let _ = writeln!(
                m,
                "uca_health_good_share{{target=\"{}\",threshold=\"warn\"}} {v}",
                s.name
            );
        }
    }
    let _ = writeln!(
        m,
        "# HELP uca_health_predicted_change_seconds Seconds until the predicted change to a worse color (absent without a prediction).\n# TYPE uca_health_predicted_change_seconds gauge"
    );
    for s in statuses {
        if let Some(p) = &s.prediction {
            let _ = writeln!(
                m,
                "uca_health_predicted_change_seconds{{target=\"{}\",to=\"{}\"}} {}",
                s.name,
                p.to.title(),
                p.in_seconds
            );
        }
    }
    let _ = writeln!(
        m,
        "# HELP uca_health_cert_not_after_seconds Earliest notAfter of the presented chain, Unix time.\n# TYPE uca_health_cert_not_after_seconds gauge"
    );
    for s in statuses {
        if let Some(c) = &s.cert {
            let _ = writeln!(
                m,
                "uca_health_cert_not_after_seconds{{target=\"{}\"}} {}",
                s.name,
                c.not_after.unix_timestamp()
            );
        }
    }
    let _ = writeln!(
        m,
        "# HELP uca_health_schedule_lag_seconds How late probes started against their schedule.\n# TYPE uca_health_schedule_lag_seconds histogram"
    );
    let mut cum = 0;
    for (i, b) in LAG_BUCKETS.iter().enumerate() {
        cum += sched.lag_counts.get(i).copied().unwrap_or(0);
        let _ = writeln!(
            m,
            "uca_health_schedule_lag_seconds_bucket{{le=\"{}\"}} {cum}",
            le(*b)
        );
    }
    cum += sched
        .lag_counts
        .get(LAG_BUCKETS.len())
        .copied()
        .unwrap_or(0);
    let _ = writeln!(
        m,
        "uca_health_schedule_lag_seconds_bucket{{le=\"+Inf\"}} {cum}"
    );
    let _ = writeln!(m, "uca_health_schedule_lag_seconds_sum {}", sched.lag_sum);
    let _ = writeln!(m, "uca_health_schedule_lag_seconds_count {cum}");
    let _ = writeln!(
        m,
        "# HELP uca_health_probes_late_total Probes that started more than 100 ms late.\n# TYPE uca_health_probes_late_total counter"
    );
    let _ = writeln!(m, "uca_health_probes_late_total {}", sched.late);
    m
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An inline SVG line of the good share over the window (gaps where no probe ran).
fn sparkline(points: &[Option<f64>], ok_share: f64) -> String {
    let (w, h) = (160.0, 28.0);
    let n = points.len().max(2) as f64 - 1.0;
    // Scale so the ok threshold sits at mid-height: small dips stay visible.
    let floor = (1.0 - 2.0 * (1.0 - ok_share)).clamp(0.0, 0.98);
    let y = |v: f64| h - ((v - floor) / (1.0 - floor)).clamp(0.0, 1.0) * (h - 2.0) - 1.0;
    let mut path = String::new();
    let mut pen_down = false;
    for (i, p) in points.iter().enumerate() {
        match p {
            Some(v) => {
                let _ = write!(
                    path,
                    "{}{:.1},{:.1} ",
                    if pen_down { "L" } else { "M" },
                    i as f64 / n * w,
                    y(*v)
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    format!(
        "<svg class=\"spark\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"good share over the window\"><line x1=\"0\" x2=\"{w}\" y1=\"{t:.1}\" y2=\"{t:.1}\" class=\"thr\"/><path d=\"{path}\"/></svg>",
        t = y(ok_share)
    )
}

fn ms(v: Option<f64>) -> String {
    v.map(|v| {
        if v < 10.0 {
            format!("{v:.1} ms")
        } else {
            format!("{v:.0} ms")
        }
    })
    .unwrap_or_else(|| "–".into())
}

/// The status page. Refreshes itself every `refresh` seconds.
pub fn html(statuses: &[Status], refresh: u32, generated: &str) -> String {
    let s = summary(statuses);
    let mut rows = String::new();
    for st in statuses {
        let class = st.color.as_str();
        let ok_share = st
            .ok
            .split('%')
            .next()
            .and_then(|p| p.trim().parse::<f64>().ok())
            .unwrap_or(99.0)
            / 100.0;
        let _ = writeln!(
            rows,
            "<tr class=\"endpoint {class}\" data-name=\"{name}\" data-color=\"{color}\"><td><span class=\"dot\"></span><span class=\"color\">{color}</span></td><td class=\"name\">{name}<div class=\"url\">{url}</div></td><td class=\"reason\">{reasons}</td><td class=\"num\">{p50}<div class=\"sub\">p95 {p95}</div></td><td>{spark}<div class=\"sub\">{ok} · window {window}</div></td><td class=\"forecast\">{forecast}</td></tr>",
            name = esc(&st.name),
            url = esc(&st.url),
            color = st.color.title(),
            reasons = st
                .reasons
                .iter()
                .map(|r| esc(r))
                .collect::<Vec<_>>()
                .join("<br>"),
            p50 = ms(st.latency_ms_p50),
            p95 = ms(st.latency_ms_p95),
            spark = sparkline(&st.trend, ok_share),
            ok = esc(&st.ok),
            window = esc(&st.window),
            forecast = st
                .forecast
                .as_deref()
                .map(esc)
                .unwrap_or_else(|| "–".into()),
        );
    }
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{refresh}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>uca health: {red} red, {yellow} yellow, {green} green</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}}
h1{{font-size:1.3em;margin:0 0 .3em}} .meta{{color:#666;margin-bottom:1em}}
table{{border-collapse:collapse;width:100%;background:#fff}} th,td{{padding:.45em .6em;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}}
th{{font-weight:600;color:#555;background:#f2f2f2}} .url,.sub{{color:#777;font-size:.85em}} .num{{white-space:nowrap}}
.dot{{display:inline-block;width:.9em;height:.9em;border-radius:50%;margin-right:.4em;vertical-align:-.1em}}
tr.green .dot{{background:#2e9d46}} tr.yellow .dot{{background:#e0a800}} tr.red .dot{{background:#d62f2f}} tr.unknown .dot{{background:#999}}
tr.red{{background:#fdf0f0}} tr.yellow{{background:#fffaea}}
.spark path{{fill:none;stroke:#3367d6;stroke-width:1.5}} .spark .thr{{stroke:#d62f2f;stroke-dasharray:3 3;stroke-width:1}}
.pill{{display:inline-block;padding:.1em .6em;border-radius:1em;margin-right:.4em;color:#fff}} .pg{{background:#2e9d46}} .py{{background:#e0a800}} .pr{{background:#d62f2f}} .pu{{background:#999}}
</style></head><body>
<h1>Endpoint health</h1>
<div class="meta"><span class="pill pr">{red} red</span><span class="pill py">{yellow} yellow</span><span class="pill pg">{green} green</span><span class="pill pu">{unknown} unknown</span> · generated {generated} · refreshes every {refresh} s · <a href="status.json">status.json</a> · <a href="metrics">metrics</a></div>
<table id="endpoints"><thead><tr><th>Status</th><th>Endpoint</th><th>Why</th><th>Latency p50</th><th>Good share</th><th>Forecast</th></tr></thead>
<tbody>
{rows}</tbody></table>
</body></html>
"#,
        red = s.red,
        yellow = s.yellow,
        green = s.green,
        unknown = s.unknown,
    )
}
