//! `uca verify`: exit 0 when valid, 7 when not, with the reasons.

use time::OffsetDateTime;

use crate::cli::monitor::VerifyArgs;
use crate::commands::open_ca;
use crate::exit::{CliError, Exit};
use crate::output::{Style, when};
use crate::settings::Settings;

fn read(path: &std::path::Path, what: &str) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| {
        CliError::usage(
            format!("cannot read {what} {}: {e}", path.display()),
            Some("check the path".to_string()),
        )
    })
}

pub fn run(args: &VerifyArgs, settings: &Settings) -> Result<Exit, CliError> {
    let cert = read(&args.cert, "certificate")?;
    let crl = args.crl.as_deref().map(|p| read(p, "CRL")).transpose()?;
    let ca = open_ca(settings)?;
    let v = ca.verify(&cert, crl.as_deref(), OffsetDateTime::now_utc())?;
    let code = if v.valid { Exit::Ok } else { Exit::NotValid };
    if settings.out.json {
        settings.out.json(&v)?;
        return Ok(code);
    }
    let out = &settings.out;
    let verdict = if v.valid {
        out.paint("valid", Style::Green)
    } else {
        out.paint("NOT valid", Style::Red)
    };
    out.line(format!("{}: {verdict}", args.cert.display()));
    out.line(format!("  subject  {}", v.subject));
    out.line(format!(
        "  serial   {}  (ledger: {})",
        v.serial,
        v.ledger_status.as_deref().unwrap_or("unknown")
    ));
    out.line(format!("  expires  {}", when(v.not_after)));
    out.line(format!("  chain    {}", v.path.join("  <-  ")));
    for p in v.problems.iter() {
        out.line(format!("  why not: {p}"));
    }
    for n in &v.notes {
        out.line(format!("  note: {n}"));
    }
    Ok(code)
}
