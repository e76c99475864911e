//! `uca crl`

use serde::Serialize;
use time::OffsetDateTime;

use crate::cli::ca::CrlArgs;
use crate::commands::{ask_passphrase, open_ca};
use crate::exit::CliError;
use crate::output::{note, when};
use crate::settings::Settings;

#[derive(Serialize)]
pub(crate) struct CrlReport {
    pub out: String,
    pub number: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub this_update: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub next_update: OffsetDateTime,
    pub revoked: usize,
    pub der: bool,
}

pub fn run(args: &CrlArgs, settings: &Settings) -> Result<(), CliError> {
    if args.days == 0 {
        return Err(CliError::usage(
            "--days must be at least 1: a CRL must not be born expired",
            Some("e.g. --days 7, and publish again before then".to_string()),
        ));
    }
    let pass = ask_passphrase(&args.passphrase, settings)?;
    let mut ca = open_ca(settings)?;
    let signer = pass.unlock(&ca)?;
    let out = args.out.clone().unwrap_or_else(|| ca.paths.crl());
    let crl = ca.publish_crl(
        &signer,
        args.days,
        &out,
        args.der,
        OffsetDateTime::now_utc(),
    )?;
    let report = CrlReport {
        out: out.display().to_string(),
        number: crl.number,
        this_update: crl.this_update,
        next_update: crl.next_update,
        revoked: crl.entries,
        der: args.der,
    };
    if settings.out.json {
        return settings.out.json(&report);
    }
    settings.out.line(format!(
        "wrote CRL #{} to {} ({} revoked; next update {})",
        crl.number,
        report.out,
        crl.entries,
        when(crl.next_update)
    ));
    note(format!(
        "check: openssl crl -in {} -CAfile {} -noout -verify{}",
        report.out,
        ca.paths.ca_cert().display(),
        if args.der { " -inform DER" } else { "" }
    ));
    Ok(())
}
