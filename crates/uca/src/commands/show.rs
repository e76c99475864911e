//! `uca show`

use serde::Serialize;
use time::OffsetDateTime;
use uca_ca::CertRecord;
use uca_pki::inspect::{CertInfo, certificate_der, parse_certificate};

use crate::cli::ca::ShowArgs;
use crate::commands::open_ca;
use crate::exit::CliError;
use crate::output::{Style, expiry_style, time_left, when};
use crate::settings::Settings;

#[derive(Serialize)]
struct ShowReport<'a> {
    record: &'a CertRecord,
    certificate: &'a CertInfo,
    certificate_pem: &'a str,
    /// Other ledger records for the same NAME, newest first.
    history: &'a [CertRecord],
}

pub fn run(args: &ShowArgs, settings: &Settings) -> Result<(), CliError> {
    let ca = open_ca(settings)?;
    let mut records = ca.find(&args.target)?;
    // The newest row that holds a certificate: an ACME reservation that was never completed
    // (void, or still being signed) has none to show, and stays in the history.
    let Some(at) = records.iter().position(CertRecord::is_signed) else {
        return Err(CliError::failure(
            format!(
                "{} has no certificate in the ledger yet: only a reservation made before signing (an ACME finalization still under way, or one that never completed)",
                args.target
            ),
            Some(
                "`uca list` shows every row; a finalization under way completes within seconds"
                    .to_string(),
            ),
        ));
    };
    let record = records.remove(at);
    let (record, history) = (&record, records.as_slice());
    let der = certificate_der(record.cert_pem.as_bytes())?;
    let info = parse_certificate(&der)?;
    if settings.out.json {
        return settings.out.json(&ShowReport {
            record,
            certificate: &info,
            certificate_pem: &record.cert_pem,
            history,
        });
    }
    let out = &settings.out;
    let now = OffsetDateTime::now_utc();
    let row = |k: &str, v: &str| out.line(format!("{k:<20}{v}"));
    row("name", &record.name);
    row(
        "status",
        &format!(
            "{} ({}, since {})",
            record.status,
            record.source.as_str(),
            when(record.updated_at)
        ),
    );
    if let Some(by) = &record.superseded_by {
        row("superseded by", by);
    }
    if let Some(at) = record.revoked_at {
        row(
            "revoked",
            &format!(
                "{} ({})",
                when(at),
                record.revocation_reason.as_deref().unwrap_or("unspecified")
            ),
        );
    }
    row("serial", &info.serial);
    row("subject", &info.subject);
    row("issuer", &info.issuer);
    row("profile", &record.profile);
    row("key", &info.key_type);
    row("signature", &info.signature_algorithm);
    row("not before", &when(info.not_before));
    let left = out.paint(
        &time_left(info.not_after, now),
        expiry_style(info.not_after, now),
    );
    row("not after", &format!("{}  ({left})", when(info.not_after)));
    row("sha256", &info.fingerprint_sha256);
    out.line(out.paint("extensions", Style::Bold));
    for e in &info.extensions {
        let crit = if e.critical { " [critical]" } else { "" };
        out.line(format!("  {}{crit}", e.name));
        if !e.value.is_empty() {
            out.line(format!("      {}", e.value));
        }
    }
    if !history.is_empty() {
        out.line(out.paint("earlier certificates for this name", Style::Bold));
        for h in history {
            out.line(format!(
                "  {}  {}  until {}",
                h.serial,
                h.status,
                when(h.not_after)
            ));
        }
    }
    Ok(())
}
