//! `uca ledger copy --to URL|FILE`: the CA's ledger into an empty one (SQLite to PostgreSQL or
//! back), verified before it is reported.

use uca_ca::LedgerLocation;

use crate::cli::ca::LedgerCopyArgs;
use crate::commands::open_ca;
use crate::exit::CliError;
use crate::output::note;
use crate::settings::Settings;

pub fn copy(args: &LedgerCopyArgs, settings: &Settings) -> Result<(), CliError> {
    let to = LedgerLocation::parse(&args.to, &settings.ledger).map_err(uca_ca::CaError::from)?;
    let ca = open_ca(settings)?;
    let from = ca.ledger_location.to_string();
    if from == to.to_string() || same_file(&ca.ledger_location, &to) {
        return Err(CliError::usage(
            format!("{from} is this CA's ledger already"),
            Some("--to names the new, empty ledger".into()),
        ));
    }
    let mut dest = to.open(&uca_ca::ledger::node_name(&ca.paths))?;
    let report = uca_ca::ledger::copy::copy(ca.ledger(), dest.as_mut(), &to.to_string())?;
    if settings.out.json {
        return settings.out.json(&serde_json::json!({
            "from": from,
            "to": to.to_string(),
            "copied": report,
            "verified": true,
        }));
    }
    settings.out.line(format!(
        "copied {} certificate(s) ({} revoked), {} CA fact(s) and {} export record(s) from {from} to {to}; read back and verified",
        report.certificates, report.revoked, report.meta, report.exports
    ));
    note(match &to {
        LedgerLocation::Postgres(_) => {
            "to use it: set ledger = \"URL\" in uca.toml (top, before any [section]), then start uca serve".to_string()
        }
        LedgerLocation::Sqlite(_)
            if same_file(&to, &LedgerLocation::Sqlite(ca.paths.ledger())) =>
        {
            "to use it: remove `ledger` from uca.toml".to_string()
        }
        LedgerLocation::Sqlite(path) => format!(
            "to use it: remove `ledger` from uca.toml and move {} into the CA directory as ledger.sqlite",
            path.display()
        ),
    });
    Ok(())
}

/// Two SQLite paths naming one file.
fn same_file(a: &LedgerLocation, b: &LedgerLocation) -> bool {
    match (a, b) {
        (LedgerLocation::Sqlite(a), LedgerLocation::Sqlite(b)) => {
            matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
        }
        _ => false,
    }
}
