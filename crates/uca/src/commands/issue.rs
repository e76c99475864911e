//! `uca issue`

use serde::Serialize;
use time::OffsetDateTime;
use uca_ca::{IssueRequest, Issued};
use uca_pki::{KeyType, Profile};

use crate::cli::ca::IssueArgs;
use crate::commands::{ask_passphrase, open_ca, parse_sans};
use crate::exit::CliError;
use crate::output::{day, note, warn};
use crate::settings::Settings;

#[derive(Serialize)]
struct IssueReport<'a> {
    issued: &'a [Issued],
}

pub fn run(args: &IssueArgs, settings: &Settings) -> Result<(), CliError> {
    // Everything the user typed is checked before the CA is even opened.
    let profile: Option<Profile> = args.profile.as_deref().map(str::parse).transpose()?;
    let key_type: Option<KeyType> = args.key.as_deref().map(str::parse).transpose()?;
    let extra_sans = parse_sans(&args.sans)?;
    if args.days == Some(0) {
        return Err(CliError::usage(
            "--days must be at least 1",
            Some("give a positive number of days, e.g. --days 90".to_string()),
        ));
    }

    let pass = ask_passphrase(&args.passphrase, settings)?;
    let mut ca = open_ca(settings)?;
    let requests: Vec<IssueRequest> = args
        .names
        .iter()
        .map(|name| IssueRequest {
            name: name.clone(),
            extra_sans: extra_sans.clone(),
            profile: profile.unwrap_or(ca.config.profile),
            key_type: key_type.unwrap_or(ca.config.key),
            days: args.days.unwrap_or(ca.config.days),
            no_rules: args.no_rules,
            force: args.force,
            reuse_key: None,
            sans_override: None,
        })
        .collect();
    // Fail on names and conflicts before asking for a passphrase.
    ca.check_issue(&requests)?;
    let signer = pass.unlock(&ca)?;
    let issued = ca.issue(&signer, requests, OffsetDateTime::now_utc())?;

    if let Some(first) = issued.iter().find(|i| i.clamped) {
        warn(format!(
            "validity cut back to the CA's own expiry ({}): a certificate cannot outlive its issuer",
            day(first.record.not_after)
        ));
    }
    for i in issued.iter().filter(|i| i.record.name.chars().count() > 64) {
        note(format!(
            "note: '{}' is longer than the 64 characters a CN may hold; the certificate has no CN and carries the name in its SAN",
            i.record.name
        ));
    }
    if settings.out.json {
        return settings.out.json(&IssueReport { issued: &issued });
    }
    let out = &settings.out;
    for i in &issued {
        let replaced = i
            .replaced
            .as_ref()
            .map(|s| format!(", replaces {s}"))
            .unwrap_or_default();
        out.line(format!(
            "issued {}  serial {}  {}  {}  until {}{}",
            i.record.name,
            i.record.serial,
            i.record.profile,
            i.record.key_type,
            day(i.record.not_after),
            replaced
        ));
        out.line(format!("  SANs  {}", i.record.sans.join(", ")));
        out.line(format!(
            "  files {}/{{cert,key,chain,fullchain}}.pem",
            i.files.dir.display()
        ));
    }
    if let Some(first) = issued.first() {
        let root = ca.paths.root_cert();
        if root.exists() {
            note(format!(
                "check: openssl verify -CAfile {} -untrusted {} {}",
                root.display(),
                first.files.chain.display(),
                first.files.cert.display()
            ));
        } else {
            note(format!(
                "check: openssl verify -CAfile {} {}",
                ca.paths.ca_cert().display(),
                first.files.cert.display()
            ));
        }
    }
    Ok(())
}
