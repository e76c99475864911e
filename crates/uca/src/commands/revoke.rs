//! `uca revoke`

use time::OffsetDateTime;
use uca_pki::crl::RevocationReason;

use crate::cli::ca::RevokeArgs;
use crate::commands::open_ca;
use crate::exit::CliError;
use crate::output::{note, when};
use crate::settings::Settings;

pub fn run(args: &RevokeArgs, settings: &Settings) -> Result<(), CliError> {
    let reason: RevocationReason = args.reason.parse()?;
    let mut ca = open_ca(settings)?;
    let done = ca.revoke(&args.target, reason, OffsetDateTime::now_utc())?;
    if settings.out.json {
        return settings.out.json(&done);
    }
    let r = &done.record;
    let since = r.revoked_at.map(when).unwrap_or_default();
    let why = r.revocation_reason.as_deref().unwrap_or("unspecified");
    if done.already {
        settings.out.line(format!(
            "{} (serial {}) was already revoked on {since} ({why}); nothing changed",
            r.name, r.serial
        ));
        return Ok(());
    }
    settings.out.line(format!(
        "revoked {} (serial {}) on {since} ({why})",
        r.name, r.serial
    ));
    if ca.sealed_at()?.is_some() {
        note(
            "the CA is sealed: its final CRL cannot list this revocation; the ledger and 'uca verify' know it",
        );
    } else {
        note(format!(
            "publish it: uca crl --dir {}",
            ca.paths.dir.display()
        ));
    }
    Ok(())
}
