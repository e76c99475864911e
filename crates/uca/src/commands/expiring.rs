//! `uca expiring`: Green / Yellow / Red by time left; the verdict is the exit code.

use serde::Serialize;
use time::OffsetDateTime;
use uca_ca::expiry::{ExpiryRow, classify};
use uca_pki::{Bare, Color, Span};

use crate::cli::monitor::ExpiringArgs;
use crate::commands::open_ca;
use crate::exit::{CliError, Verdict};
use crate::output::{self, day, time_left, when};
use crate::settings::Settings;

#[derive(Serialize)]
struct ExpiringReport<'a> {
    status: &'static str,
    warn: String,
    crit: String,
    green: usize,
    yellow: usize,
    red: usize,
    certificates: &'a [ExpiryRow],
}

fn span(value: &str, flag: &str) -> Result<Span, CliError> {
    Span::parse(value, Bare::Days).map_err(|e| {
        CliError::usage(
            format!("{flag}: {e}"),
            Some("spans look like 30d, 12h, 2w, 90m, 1y; a bare number counts days".to_string()),
        )
    })
}

pub fn run(args: &ExpiringArgs, settings: &Settings) -> Result<Verdict, CliError> {
    check(args, settings).map_err(|mut e| {
        // Anything that stops the check is UNKNOWN to a monitoring system.
        if args.summary {
            println!("UCA EXPIRY UNKNOWN - {}", e.message);
        } else if settings.out.json {
            let _ = settings
                .out
                .json(&serde_json::json!({ "status": "UNKNOWN", "error": e.message }));
        }
        e.code = Verdict::Unknown.into();
        e
    })
}

fn check(args: &ExpiringArgs, settings: &Settings) -> Result<Verdict, CliError> {
    let warn = span(&args.warn, "--warn")?;
    let crit = span(&args.crit, "--crit")?;
    let within = args
        .within
        .as_deref()
        .map(|w| span(w, "--within"))
        .transpose()?;
    if crit > warn {
        return Err(CliError::usage(
            "--crit is longer than --warn",
            Some("red comes after yellow: e.g. --warn 30d --crit 7d".to_string()),
        ));
    }
    let ca = open_ca(settings)?;
    let now = OffsetDateTime::now_utc();
    let rows = classify(&ca.ledger().summaries()?, now, warn, crit, within);
    let count = |c: Color| rows.iter().filter(|r| r.color == c).count();
    let (green, yellow, red) = (count(Color::Green), count(Color::Yellow), count(Color::Red));
    let worst = rows.iter().map(|r| r.color).max().unwrap_or(Color::Green);
    let (status, verdict) = match worst {
        Color::Green => ("OK", Verdict::Ok),
        Color::Yellow => ("WARNING", Verdict::Warning),
        Color::Red => ("CRITICAL", Verdict::Critical),
        // Expiry always has something to judge (the CA certificate is a row); kept exhaustive.
        Color::Unknown => ("UNKNOWN", Verdict::Unknown),
    };
    if settings.out.json {
        settings.out.json(&ExpiringReport {
            status,
            warn: warn.to_string(),
            crit: crit.to_string(),
            green,
            yellow,
            red,
            certificates: &rows,
        })?;
        return Ok(verdict);
    }
    if args.summary {
        let soonest = rows
            .first()
            .map(|r| {
                format!(
                    "; soonest: {} {} ({})",
                    r.name,
                    if r.expired {
                        "expired".to_string()
                    } else {
                        format!("expires in {}", time_left(r.not_after, now))
                    },
                    day(r.not_after)
                )
            })
            .unwrap_or_default();
        settings.out.line(format!(
            "UCA EXPIRY {status} - {red} red, {yellow} yellow, {green} green{soonest} | red={red} yellow={yellow} green={green}"
        ));
        return Ok(verdict);
    }
    let out = &settings.out;
    if rows.is_empty() {
        out.line("nothing to watch");
        return Ok(verdict);
    }
    let wn = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    out.line(out.paint(
        &format!(
            "{:6}  {:wn$}  {:>14}  {:20}  {:20}  {:20}",
            "COLOR", "NAME", "LEFT", "EXPIRES", "YELLOW FROM", "RED FROM"
        ),
        output::Style::Bold,
    ));
    for r in &rows {
        let color = out.paint(
            &format!("{:6}", r.color.as_str()),
            output::Style::of(r.color),
        );
        out.line(format!(
            "{color}  {:wn$}  {:>14}  {:20}  {:20}  {:20}",
            r.name,
            time_left(r.not_after, now),
            when(r.not_after),
            when(r.yellow_at),
            when(r.red_at)
        ));
    }
    Ok(verdict)
}
