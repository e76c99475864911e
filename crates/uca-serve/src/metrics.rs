//! Prometheus metrics of the server (`GET /metrics`, text exposition format 0.0.4): requests,
//! orders, validations, issuance and ledger latency, rate-limit refusals. Counters in memory,
//! labels from fixed sets only (never a client-chosen string), so the page stays small.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Latency buckets in seconds, for every histogram here.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(&'static str, u16), u64>,
    orders: BTreeMap<&'static str, u64>,
    validations: BTreeMap<(&'static str, &'static str), u64>,
    validation_seconds: BTreeMap<&'static str, Histogram>,
    issuance_seconds: Histogram,
    ledger_commit_seconds: Histogram,
    rate_limited: BTreeMap<&'static str, u64>,
}

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// The resource a request path names, from a fixed set (IDs never become labels).
pub fn resource(path: &str) -> &'static str {
    let p = path.split('?').next().unwrap_or(path);
    match p {
        "/acme/directory" => "directory",
        "/acme/new-nonce" => "new-nonce",
        "/acme/new-account" => "new-account",
        "/acme/new-order" => "new-order",
        "/acme/revoke-cert" => "revoke-cert",
        "/acme/key-change" => "key-change",
        "/ca.crt" => "ca.crt",
        "/crl" => "crl",
        "/healthz" => "healthz",
        "/metrics" => "metrics",
        _ if p.starts_with("/acme/acct/") && p.ends_with("/orders") => "orders",
        _ if p.starts_with("/acme/acct/") => "account",
        _ if p.starts_with("/acme/order/") && p.ends_with("/finalize") => "finalize",
        _ if p.starts_with("/acme/order/") => "order",
        _ if p.starts_with("/acme/authz/") => "authz",
        _ if p.starts_with("/acme/chall/") => "challenge",
        _ if p.starts_with("/acme/cert/") => "cert",
        _ if p.starts_with("/acme/renewal-info/") => "renewal-info",
        _ => "other",
    }
}

impl Metrics {
    fn with(&self, f: impl FnOnce(&mut Inner)) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut inner);
    }

    pub fn request(&self, path: &str, status: u16) {
        let r = resource(path);
        self.with(|m| *m.requests.entry((r, status)).or_default() += 1);
    }

    /// An order reached a final status (`valid` or `invalid`).
    pub fn order_final(&self, status: &'static str) {
        self.with(|m| *m.orders.entry(status).or_default() += 1);
    }

    pub fn validation(&self, kind: &'static str, ok: bool, secs: f64) {
        let outcome = if ok { "valid" } else { "invalid" };
        self.with(|m| {
            *m.validations.entry((kind, outcome)).or_default() += 1;
            m.validation_seconds.entry(kind).or_default().observe(secs);
        });
    }

    pub fn issuance(&self, secs: f64) {
        self.with(|m| m.issuance_seconds.observe(secs));
    }

    pub fn ledger_commit(&self, secs: f64) {
        self.with(|m| m.ledger_commit_seconds.observe(secs));
    }

    pub fn rate_limited(&self, path: &str) {
        let r = resource(path);
        self.with(|m| *m.rate_limited.entry(r).or_default() += 1);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP uca_acme_requests_total ACME server requests by resource and status."
        );
        let _ = writeln!(out, "# TYPE uca_acme_requests_total counter");
        for ((r, s), n) in &m.requests {
            let _ = writeln!(
                out,
                "uca_acme_requests_total{{resource=\"{r}\",status=\"{s}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP uca_acme_orders_total Orders that reached a final status."
        );
        let _ = writeln!(out, "# TYPE uca_acme_orders_total counter");
        for status in ["valid", "invalid"] {
            let n = m.orders.get(status).copied().unwrap_or(0);
            let _ = writeln!(out, "uca_acme_orders_total{{status=\"{status}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP uca_acme_validations_total Challenge validations by type and outcome."
        );
        let _ = writeln!(out, "# TYPE uca_acme_validations_total counter");
        for ((k, o), n) in &m.validations {
            let _ = writeln!(
                out,
                "uca_acme_validations_total{{type=\"{k}\",outcome=\"{o}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP uca_acme_validation_seconds How long validations took, by type."
        );
        let _ = writeln!(out, "# TYPE uca_acme_validation_seconds histogram");
        for (k, h) in &m.validation_seconds {
            histogram(
                &mut out,
                "uca_acme_validation_seconds",
                &format!("type=\"{k}\","),
                h,
            );
        }
        let _ = writeln!(
            out,
            "# HELP uca_acme_issuance_seconds Finalize to certificate: signing and recording."
        );
        let _ = writeln!(out, "# TYPE uca_acme_issuance_seconds histogram");
        histogram(
            &mut out,
            "uca_acme_issuance_seconds",
            "",
            &m.issuance_seconds,
        );
        let _ = writeln!(
            out,
            "# HELP uca_acme_ledger_commit_seconds One durable ledger write (CA lock included)."
        );
        let _ = writeln!(out, "# TYPE uca_acme_ledger_commit_seconds histogram");
        histogram(
            &mut out,
            "uca_acme_ledger_commit_seconds",
            "",
            &m.ledger_commit_seconds,
        );
        let _ = writeln!(
            out,
            "# HELP uca_acme_rate_limited_total Requests refused by a rate limit, by resource."
        );
        let _ = writeln!(out, "# TYPE uca_acme_rate_limited_total counter");
        for (r, n) in &m.rate_limited {
            let _ = writeln!(out, "uca_acme_rate_limited_total{{resource=\"{r}\"}} {n}");
        }
        out
    }
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    for (le, n) in BUCKETS.iter().zip(h.counts.iter()) {
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{le}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", h.count);
    let bare = labels.trim_end_matches(',');
    if bare.is_empty() {
        let _ = writeln!(out, "{name}_sum {}", h.sum);
        let _ = writeln!(out, "{name}_count {}", h.count);
    } else {
        let _ = writeln!(out, "{name}_sum{{{bare}}} {}", h.sum);
        let _ = writeln!(out, "{name}_count{{{bare}}} {}", h.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_a_fixed_set_and_histograms_are_cumulative() {
        assert_eq!(resource("/acme/order/abc/finalize"), "finalize");
        assert_eq!(resource("/acme/acct/x/orders?cursor=2"), "orders");
        assert_eq!(resource("/acme/whatever/../x"), "other");
        let m = Metrics::default();
        m.request("/acme/new-order", 201);
        m.validation("http-01", true, 0.003);
        m.issuance(0.02);
        let text = m.render();
        assert!(text.contains("uca_acme_requests_total{resource=\"new-order\",status=\"201\"} 1"));
        assert!(
            text.contains("uca_acme_validation_seconds_bucket{type=\"http-01\",le=\"0.0025\"} 0")
        );
        assert!(
            text.contains("uca_acme_validation_seconds_bucket{type=\"http-01\",le=\"0.005\"} 1")
        );
        assert!(text.contains("uca_acme_validation_seconds_count{type=\"http-01\"} 1"));
        assert!(text.contains("uca_acme_issuance_seconds_bucket{le=\"+Inf\"} 1"));
        assert!(text.contains("uca_acme_orders_total{status=\"valid\"} 0"));
    }
}
