//! `uca plan`: what `uca apply` would change, as a diff.

use serde::Serialize;
use time::OffsetDateTime;
use uca_ca::deploy::plan::{Change, Plan, PlanReport};

use crate::cli::deploy::PlanArgs;
use crate::commands::open_ca;
use crate::exit::CliError;
use crate::output::{Output, Style};
use crate::settings::Settings;

/// How many items of a plan each kind of change has (JSON `counts`).
#[derive(Serialize)]
pub(super) struct Counts {
    issue: usize,
    renew: usize,
    reissue: usize,
    re_export: usize,
    remove: usize,
    unchanged: usize,
}

pub(super) fn counts(r: &PlanReport) -> Counts {
    Counts {
        issue: r.count(Change::Issue),
        renew: r.count(Change::Renew),
        reissue: r.count(Change::Reissue),
        re_export: r.count(Change::ReExport),
        remove: r.count(Change::Remove),
        unchanged: r.count(Change::Unchanged),
    }
}

/// One line per change, then the counts; `prune` says whether removed components get revoked.
pub(super) fn print_diff(out: &Output, report: &PlanReport, prune: bool) {
    for item in report
        .items
        .iter()
        .filter(|i| i.change != Change::Unchanged)
    {
        let (mark, color) = match item.change {
            Change::Issue => ("+", Style::Green),
            Change::Renew => ("↻", Style::Yellow),
            Change::Reissue => ("~", Style::Yellow),
            Change::ReExport => ("→", Style::Dim),
            Change::Remove => ("-", Style::Red),
            Change::Unchanged => ("=", Style::Dim),
        };
        let why = if item.change == Change::Remove && !prune {
            format!("{}; --prune revokes it", item.why)
        } else {
            item.why.clone()
        };
        out.line(format!(
            "{} {:10} {}  ({why})",
            out.paint(mark, color),
            item.change.as_str(),
            item.name
        ));
    }
    let c = counts(report);
    out.line(format!(
        "{} to issue, {} to renew, {} to reissue, {} to re-export, {} removed, {} unchanged",
        c.issue, c.renew, c.reissue, c.re_export, c.remove, c.unchanged
    ));
}

pub fn show(args: &PlanArgs, settings: &Settings) -> Result<(), CliError> {
    let plan = Plan::load(&args.file)?;
    let ca = open_ca(settings)?;
    let report = ca.plan(&plan, OffsetDateTime::now_utc())?;
    if settings.out.json {
        return settings
            .out
            .json(&serde_json::json!({ "counts": counts(&report), "items": report.items }));
    }
    print_diff(&settings.out, &report, false);
    Ok(())
}
