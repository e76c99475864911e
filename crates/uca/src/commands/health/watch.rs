//! `uca health watch TARGETS`: the long-running watcher, with a live table on a terminal and
//! one line per color change.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use uca_health::cawatch::CaWatch;
use uca_health::endpoint::Status;
use uca_health::targets::Targets;
use uca_health::watch::{Events, WatchOptions, run as run_watch};
use uca_pki::Color;
use uca_pki::Span;

use crate::cli::health::HealthWatchArgs;
use crate::exit::CliError;
use crate::output::{Output, Style, note, warn};
use crate::settings::Settings;

/// Prints what the watcher reports.
struct Printer {
    out: Output,
    live: bool,
    last_draw: Mutex<Option<Instant>>,
    changes: Mutex<Vec<String>>,
}

impl Events for Printer {
    fn listening(&self, addr: SocketAddr) {
        note(format!(
            "serving http://{addr}/ (status page), /status.json and /metrics"
        ));
    }

    fn changed(&self, st: &Status, from: Color) {
        let now = uca_pki::validity::display_time(time::OffsetDateTime::now_utc());
        let reason = st.reasons.first().cloned().unwrap_or_default();
        if self.out.json {
            let line = serde_json::json!({
                "at": time::OffsetDateTime::now_utc().unix_timestamp(),
                "name": st.name, "from": from.as_str(), "to": st.color.as_str(),
                "reason": reason, "forecast": st.forecast,
            });
            self.out.line(line.to_string());
            return;
        }
        let text = format!(
            "{now}  {}  {} -> {}  {reason}",
            st.name,
            from.title(),
            self.out.paint(st.color.title(), Style::of(st.color))
        );
        if self.live {
            let mut c = self.changes.lock().unwrap_or_else(|p| p.into_inner());
            c.push(text);
            let n = c.len();
            if n > 8 {
                c.drain(..n - 8);
            }
        } else {
            self.out.line(text);
        }
    }

    fn tick(&self, statuses: &[Status]) {
        if !self.live {
            return;
        }
        let mut last = self.last_draw.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| t.elapsed().as_millis() < 1900) {
            return;
        }
        *last = Some(Instant::now());
        let mut screen = String::from("\x1b[H\x1b[2J");
        screen.push_str(&format!(
            "{:<8} {:<24} {:>9} {:>9}  {}\n",
            "STATUS", "ENDPOINT", "GOOD", "P50", "WHY / FORECAST"
        ));
        for st in statuses.iter().take(60) {
            let good = st
                .probe
                .share_ok
                .map(|s| format!("{}%", uca_health::window::percent_1(s)))
                .unwrap_or_else(|| "-".into());
            let p50 = st
                .latency_ms_p50
                .map(|v| format!("{v:.1}ms"))
                .unwrap_or_else(|| "-".into());
            let color = format!("{:<8}", st.color.title());
            screen.push_str(&format!(
                "{} {:<24} {:>9} {:>9}  {}{}\n",
                self.out.paint(&color, Style::of(st.color)),
                st.name,
                good,
                p50,
                st.reasons.first().cloned().unwrap_or_default(),
                st.forecast
                    .as_deref()
                    .map(|f| format!("  [{f}]"))
                    .unwrap_or_default()
            ));
        }
        if statuses.len() > 60 {
            screen.push_str(&format!(
                "… and {} more (see the status page)\n",
                statuses.len() - 60
            ));
        }
        let changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        if !changes.is_empty() {
            screen.push_str("\nrecent changes:\n");
            for c in changes.iter() {
                screen.push_str(c);
                screen.push('\n');
            }
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(screen.as_bytes());
        let _ = out.flush();
    }

    fn problem(&self, message: &str) {
        warn(message);
    }
}

fn default_store(targets: &std::path::Path) -> PathBuf {
    targets.with_extension("health.sqlite")
}

pub fn run(args: &HealthWatchArgs, settings: &Settings) -> Result<(), CliError> {
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        CliError::usage(
            format!("--listen '{}' is not ADDRESS:PORT", args.listen),
            Some("e.g. --listen 127.0.0.1:9480".to_string()),
        )
    })?;
    let run_for = args
        .duration
        .as_deref()
        .map(|d| {
            d.parse::<Span>()
                .map(Span::as_duration)
                .map_err(|e| CliError::usage(format!("--duration: {e}"), None))
        })
        .transpose()?;
    let targets = Targets::load(&args.targets, Some(&settings.dir))?;
    let count = targets.targets.len();
    let store = args
        .store
        .clone()
        .unwrap_or_else(|| default_store(&args.targets));
    let live = !settings.out.json && std::io::stdout().is_terminal();
    note(format!(
        "watching {count} endpoint(s) from {}; history in {}",
        args.targets.display(),
        store.display()
    ));
    let printer = Arc::new(Printer {
        out: settings.out,
        live,
        last_draw: Mutex::new(None),
        changes: Mutex::new(Vec::new()),
    });
    run_watch(
        WatchOptions {
            targets,
            listen,
            store,
            ca: CaWatch::at(&settings.dir, &settings.ledger),
            concurrency: args.concurrency,
            run_for,
        },
        printer,
    )?;
    Ok(())
}
