//! The run's figures: latency percentiles, rates, CPU times (the generator's own from
//! /proc/self/stat, the server's from /proc/PID/stat) and the server's peak RSS; as a table or as
//! one JSON document.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::Results;

pub(crate) struct Report {
    pub(crate) directory: String,
    pub(crate) identifier: String,
    pub(crate) orders: usize,
    /// The longest stretch of the order phase with no certificate received (an outage, as the
    /// clients saw it): between two completions, or from the start or to the end.
    pub(crate) longest_gap: Duration,
    pub(crate) concurrency: usize,
    pub(crate) accounts_per_worker: usize,
    pub(crate) accounts: usize,
    /// Account creation, up to the moment every worker was ready.
    pub(crate) setup: Duration,
    /// The order phase.
    pub(crate) wall: Duration,
    pub(crate) timed_out: bool,
    pub(crate) results: Results,
    /// The generator's own (user, sys) seconds over the order phase.
    pub(crate) own_cpu: Option<(f64, f64)>,
    pub(crate) server_pid: Option<u32>,
    /// The server's user+sys seconds over the order phase.
    pub(crate) server_cpu: Option<f64>,
    pub(crate) server_hwm_kb: Option<u64>,
    pub(crate) server_rss_kb: Option<u64>,
    /// Whether VmHWM was reset at the start of the order phase (else it is the process's peak).
    pub(crate) server_hwm_reset: bool,
    /// http-01 answers served, and requests for unknown tokens.
    pub(crate) http01: (u64, u64),
}

/// The longest time in `start..end` without a successful order end.
pub(crate) fn longest_gap(
    start: tokio::time::Instant,
    end: tokio::time::Instant,
    ends: &[(tokio::time::Instant, bool)],
) -> Duration {
    let mut ok: Vec<tokio::time::Instant> = ends.iter().filter(|e| e.1).map(|e| e.0).collect();
    ok.sort();
    let mut last = start;
    let mut gap = Duration::ZERO;
    for t in ok.into_iter().chain(std::iter::once(end)) {
        gap = gap.max(t.saturating_duration_since(last));
        last = last.max(t);
    }
    gap
}

struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

impl Report {
    pub(crate) fn completed(&self) -> usize {
        self.results.latencies.len()
    }

    pub(crate) fn ok(&self) -> bool {
        self.results.failed == 0 && self.completed() == self.orders && !self.timed_out
    }

    fn rate(&self) -> f64 {
        self.completed() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Milliseconds, nearest rank.
    fn latency(&self) -> Option<Latency> {
        let mut ms: Vec<f64> = self
            .results
            .latencies
            .iter()
            .map(|d| d.as_secs_f64() * 1e3)
            .collect();
        if ms.is_empty() {
            return None;
        }
        ms.sort_by(f64::total_cmp);
        Some(Latency {
            p50: nearest_rank(&ms, 50.0),
            p90: nearest_rank(&ms, 90.0),
            p99: nearest_rank(&ms, 99.0),
            max: ms[ms.len() - 1],
            mean: ms.iter().sum::<f64>() / ms.len() as f64,
        })
    }

    /// Milliseconds of CPU per completed order.
    fn per_order(&self, seconds: f64) -> Option<f64> {
        (self.completed() > 0).then(|| 1e3 * seconds / self.completed() as f64)
    }

    pub(crate) fn to_json(&self) -> Value {
        let lat = self.latency();
        let own = self.own_cpu.map(|(u, s)| {
            json!({
                "user_s": round(u, 3), "sys_s": round(s, 3), "total_s": round(u + s, 3),
                "ms_per_order": self.per_order(u + s).map(|v| round(v, 3)),
            })
        });
        let server = self.server_pid.map(|pid| {
            json!({
                "pid": pid,
                "cpu_s": self.server_cpu.map(|v| round(v, 3)),
                "cpu_ms_per_order": self.server_cpu.and_then(|v| self.per_order(v)).map(|v| round(v, 3)),
                "peak_rss_kb": self.server_hwm_kb,
                "peak_rss_reset_at_start": self.server_hwm_reset,
                "rss_kb": self.server_rss_kb,
            })
        });
        json!({
            "directory": self.directory,
            "identifier": self.identifier,
            "orders": self.orders,
            "concurrency": self.concurrency,
            "accounts_per_worker": self.accounts_per_worker,
            "accounts": self.accounts,
            "account_setup_s": round(self.setup.as_secs_f64(), 3),
            "completed": self.completed(),
            "failed": self.results.failed,
            "errors": self.results.errors,
            "timed_out": self.timed_out,
            "longest_gap_s": round(self.longest_gap.as_secs_f64(), 3),
            "wall_s": round(self.wall.as_secs_f64(), 3),
            "orders_per_s": round(self.rate(), 2),
            "latency_ms": lat.map(|l| json!({
                "p50": round(l.p50, 2), "p90": round(l.p90, 2), "p99": round(l.p99, 2),
                "max": round(l.max, 2), "mean": round(l.mean, 2),
            })),
            "generator_cpu": own,
            "server": server,
            "http01_answers": self.http01.0,
            "http01_unknown_tokens": self.http01.1,
        })
    }

    pub(crate) fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "uca-loadgen: {} orders for {} from {} workers x {} account(s) -> {}",
            self.orders,
            self.identifier,
            self.concurrency,
            self.accounts_per_worker,
            self.directory
        );
        let _ = writeln!(
            s,
            "  accounts      {} created in {:.2} s",
            self.accounts,
            self.setup.as_secs_f64()
        );
        let _ = writeln!(
            s,
            "  orders        {} completed, {} failed{}",
            self.completed(),
            self.results.failed,
            if self.timed_out { " (timed out)" } else { "" }
        );
        let _ = writeln!(
            s,
            "  wall          {:.3} s (order phase)",
            self.wall.as_secs_f64()
        );
        let _ = writeln!(s, "  rate          {:.1} orders/s", self.rate());
        let _ = writeln!(
            s,
            "  longest gap   {:.2} s without a certificate",
            self.longest_gap.as_secs_f64()
        );
        if let Some(l) = self.latency() {
            let _ = writeln!(
                s,
                "  latency ms    p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  mean {:.1}",
                l.p50, l.p90, l.p99, l.max, l.mean
            );
        }
        if let Some((u, sy)) = self.own_cpu {
            let _ = writeln!(
                s,
                "  client CPU    {:.2} s (user {:.2} + sys {:.2}){}",
                u + sy,
                u,
                sy,
                self.per_order(u + sy)
                    .map(|v| format!(", {v:.2} ms/order"))
                    .unwrap_or_default()
            );
        }
        if let Some(pid) = self.server_pid {
            let cpu = match self.server_cpu {
                Some(c) => format!(
                    "{c:.2} s{}",
                    self.per_order(c)
                        .map(|v| format!(", {v:.2} ms/order"))
                        .unwrap_or_default()
                ),
                None => "unreadable".into(),
            };
            let _ = writeln!(s, "  server CPU    {cpu} (pid {pid})");
            let mb = |kb: Option<u64>| {
                kb.map(|k| format!("{:.1} MB", k as f64 / 1024.0))
                    .unwrap_or("?".into())
            };
            let _ = writeln!(
                s,
                "  server RSS    peak {}{}, now {}",
                mb(self.server_hwm_kb),
                if self.server_hwm_reset {
                    " (this phase)"
                } else {
                    " (process lifetime)"
                },
                mb(self.server_rss_kb)
            );
        }
        let _ = writeln!(
            s,
            "  http-01       {} answers served, {} unknown tokens",
            self.http01.0, self.http01.1
        );
        if !self.results.errors.is_empty() {
            let _ = writeln!(s, "  errors (first {}):", self.results.errors.len());
            for e in &self.results.errors {
                let _ = writeln!(s, "    {e}");
            }
        }
        s
    }
}

/// The P-th percentile of sorted, non-empty values: the smallest with at least P% at or below it.
fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
}

/// The generator's own (user, sys) CPU seconds, all threads.
pub(crate) fn own_cpu() -> Option<(f64, f64)> {
    let (u, s) = stat_ticks("/proc/self/stat")?;
    let hz = rustix::param::clock_ticks_per_second() as f64;
    Some((u as f64 / hz, s as f64 / hz))
}

/// utime and stime (fields 14 and 15) of a /proc/PID/stat, in clock ticks.
fn stat_ticks(path: &str) -> Option<(u64, u64)> {
    parse_stat(&std::fs::read_to_string(path).ok()?)
}

fn parse_stat(text: &str) -> Option<(u64, u64)> {
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    let rest = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?))
}

/// Another process (the server under load), read through /proc.
pub(crate) struct Proc {
    pid: u32,
}

impl Proc {
    pub(crate) fn new(pid: u32) -> Self {
        Self { pid }
    }

    /// user+sys seconds of all its threads.
    pub(crate) fn cpu_seconds(&self) -> Option<f64> {
        let (u, s) = stat_ticks(&format!("/proc/{}/stat", self.pid))?;
        Some((u + s) as f64 / rustix::param::clock_ticks_per_second() as f64)
    }

    /// A line of /proc/PID/status such as `VmHWM:  12345 kB`, in kB.
    pub(crate) fn status_kb(&self, key: &str) -> Option<u64> {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    /// Resets VmHWM to the current RSS (writing 5 to clear_refs; needs the right to ptrace it).
    pub(crate) fn reset_hwm(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 50.0), 50.0);
        assert_eq!(nearest_rank(&v, 99.0), 99.0);
        assert_eq!(nearest_rank(&v, 100.0), 100.0);
        assert_eq!(nearest_rank(&[7.0], 99.0), 7.0);
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0], 50.0), 2.0);
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0], 0.0), 1.0);
    }

    #[test]
    fn stat_fields_follow_the_last_parenthesis() {
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 731 52 0 0 20 0 3 0 9 0\n";
        assert_eq!(parse_stat(line), Some((731, 52)));
        assert_eq!(parse_stat("4242 (x) S 1"), None);
    }

    #[test]
    fn own_cpu_is_readable() {
        assert!(own_cpu().is_some());
    }
}
