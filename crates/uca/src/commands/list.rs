//! `uca list`

use serde::Serialize;
use time::OffsetDateTime;
use uca_ca::{CertRecord, Status};

use crate::cli::ca::ListArgs;
use crate::commands::open_ca;
use crate::exit::CliError;
use crate::output::{Style, day, expiry_style, time_left};
use crate::settings::Settings;

#[derive(Serialize)]
struct ListReport<'a> {
    ca: String,
    certificates: Vec<Row<'a>>,
}

#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    record: &'a CertRecord,
    seconds_left: i64,
}

pub fn run(args: &ListArgs, settings: &Settings) -> Result<(), CliError> {
    let status: Option<Status> = match &args.status {
        Some(s) => Some(s.parse().map_err(|_| {
            CliError::usage(
                format!("unknown status '{s}'"),
                Some("use one of: issued, superseded, revoked, void, pending".to_string()),
            )
        })?),
        None => None,
    };
    let ca = open_ca(settings)?;
    let records: Vec<CertRecord> = ca
        .ledger()
        .all()?
        .into_iter()
        .filter(|r| status.is_none_or(|s| r.status == s))
        .collect();
    let now = OffsetDateTime::now_utc();
    if settings.out.json {
        let rows = records
            .iter()
            .map(|r| Row {
                record: r,
                seconds_left: (r.not_after - now).whole_seconds(),
            })
            .collect();
        return settings.out.json(&ListReport {
            ca: ca.paths.dir.display().to_string(),
            certificates: rows,
        });
    }
    let out = &settings.out;
    if records.is_empty() {
        out.line("no certificates");
        return Ok(());
    }
    let width = |f: &dyn Fn(&CertRecord) -> usize, title: &str| {
        records.iter().map(f).max().unwrap_or(0).max(title.len())
    };
    let wn = width(&|r| r.name.chars().count(), "NAME");
    let wp = width(&|r| r.profile.len(), "PROFILE");
    let ws = width(&|r| r.status.as_str().len(), "STATUS");
    let wo = width(&|r| r.source.as_str().len(), "SOURCE");
    out.line(out.paint(
        &format!(
            "{:wn$}  {:32}  {:wp$}  {:wo$}  {:ws$}  {:10}  {:>14}  SANS",
            "NAME", "SERIAL", "PROFILE", "SOURCE", "STATUS", "EXPIRES", "LEFT"
        ),
        Style::Bold,
    ));
    for r in &records {
        let left = time_left(r.not_after, now);
        let active = matches!(r.status, Status::Issued);
        let left = if active {
            out.paint(&format!("{left:>14}"), expiry_style(r.not_after, now))
        } else {
            format!("{left:>14}")
        };
        let line = format!(
            "{:wn$}  {:32}  {:wp$}  {:wo$}  {:ws$}  {:10}  {}  {}",
            r.name,
            r.serial.hex(),
            r.profile,
            r.source.as_str(),
            r.status.as_str(),
            day(r.not_after),
            left,
            r.sans.join(", ")
        );
        out.line(if active {
            line
        } else {
            out.paint(&line, Style::Dim)
        });
    }
    Ok(())
}
