//! `uca seal`

use std::io::{BufRead, IsTerminal};

use serde::Serialize;
use time::OffsetDateTime;

use crate::cli::ca::SealArgs;
use crate::commands::{ask_passphrase, open_ca};
use crate::exit::CliError;
use crate::output::{note, when};
use crate::settings::Settings;

#[derive(Serialize)]
struct SealReport {
    dir: String,
    key_destroyed: String,
    crl: String,
    crl_number: u64,
    #[serde(with = "time::serde::rfc3339")]
    crl_next_update: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    sealed_at: OffsetDateTime,
}

pub fn run(args: &SealArgs, settings: &Settings) -> Result<(), CliError> {
    let mut ca = open_ca(settings)?;
    if ca.finish_seal()? {
        settings.out.line(format!(
            "finished an interrupted seal of {}: the key file is destroyed",
            ca.paths.dir.display()
        ));
        return Ok(());
    }
    ca.ensure_can_sign()?;
    let name = ca.cert_info().common_name.clone().unwrap_or_default();
    let key_display = ca.paths.ca_key().display().to_string();
    // The confirmation and the passphrase are asked with the CA closed (its lock is what
    // `uca serve` needs for its next write).
    drop(ca);
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::usage(
                "sealing destroys the CA key for good and needs confirmation",
                Some("add --yes to confirm from a script".to_string()),
            ));
        }
        eprintln!(
            "This destroys {key_display} for good: nothing can be signed by '{name}' afterwards."
        );
        eprintln!("Type the CA's name to confirm:");
        let mut typed = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut typed)
            .map_err(|e| CliError::failure(format!("cannot read: {e}"), None))?;
        if typed.trim() != name {
            return Err(CliError::usage(
                "the name did not match; nothing was changed",
                None,
            ));
        }
    }
    let pass = ask_passphrase(&args.passphrase, settings)?;
    let mut ca = open_ca(settings)?;
    let now = OffsetDateTime::now_utc();
    let ca_end = ca.cert_info().not_after;
    let until = match args.crl_days {
        Some(0) => return Err(CliError::usage("--crl-days must be at least 1", None)),
        Some(d) => now
            .checked_add(time::Duration::days(i64::from(d)))
            .unwrap_or(ca_end)
            .min(ca_end),
        None => ca_end,
    };
    let signer = pass.unlock(&ca)?;
    let key_path = ca.paths.ca_key();
    let crl = ca.seal(signer, until, now)?;
    let report = SealReport {
        dir: ca.paths.dir.display().to_string(),
        key_destroyed: key_path.display().to_string(),
        crl: ca.paths.crl().display().to_string(),
        crl_number: crl.number,
        crl_next_update: crl.next_update,
        sealed_at: now,
    };
    if settings.out.json {
        return settings.out.json(&report);
    }
    settings.out.line(format!(
        "sealed {}: the CA key was overwritten and deleted",
        report.dir
    ));
    settings.out.line(format!(
        "  final CRL #{} in {} (next update {}: publish it where peers fetch CRLs)",
        crl.number,
        report.crl,
        when(crl.next_update)
    ));
    note(
        "the CA still lists, shows and verifies; to issue more, use an intermediate made before sealing or a new CA",
    );
    Ok(())
}
