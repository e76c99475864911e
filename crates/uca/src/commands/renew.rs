//! `uca renew`

use time::OffsetDateTime;
use uca_ca::RenewRequest;

use crate::cli::ca::RenewArgs;
use crate::commands::{ask_passphrase, open_ca};
use crate::exit::CliError;
use crate::output::day;
use crate::settings::Settings;

pub fn run(args: &RenewArgs, settings: &Settings) -> Result<(), CliError> {
    if args.days == Some(0) {
        return Err(CliError::usage(
            "--days must be at least 1",
            Some("give a positive number of days, e.g. --days 90".to_string()),
        ));
    }
    let pass = ask_passphrase(&args.passphrase, settings)?;
    let mut ca = open_ca(settings)?;
    let signer = pass.unlock(&ca)?;
    let req = RenewRequest {
        name: args.name.clone(),
        rekey: args.rekey,
        days: args.days.unwrap_or(ca.config.days),
        revoke_old: args.revoke_old,
    };
    let renewed = ca.renew(&signer, req, OffsetDateTime::now_utc())?;
    if settings.out.json {
        return settings.out.json(&renewed);
    }
    let r = &renewed.issued.record;
    settings.out.line(format!(
        "renewed {}: serial {} until {} ({}), replacing {}{}",
        r.name,
        r.serial,
        day(r.not_after),
        if renewed.rekeyed {
            "new key"
        } else {
            "same key"
        },
        renewed.old_serial,
        if renewed.old_revoked.is_some() {
            " (revoked)"
        } else {
            " (superseded)"
        }
    ));
    settings.out.line(format!(
        "  files {}/{{cert,key,chain,fullchain}}.pem",
        renewed.issued.files.dir.display()
    ));
    Ok(())
}
