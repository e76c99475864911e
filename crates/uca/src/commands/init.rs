//! `uca init`

use serde::Serialize;
use time::OffsetDateTime;
use uca_ca::{Config, InitOptions};
use uca_pki::{KeyType, Subject};

use crate::cli::ca::InitArgs;
use crate::exit::CliError;
use crate::output::{day, note, warn};
use crate::secrets;
use crate::settings::Settings;

#[derive(Serialize)]
struct InitReport {
    dir: String,
    ca_cert: String,
    ca_key: String,
    config: String,
    ledger: String,
    subject: String,
    serial: String,
    key_type: String,
    #[serde(with = "time::serde::rfc3339")]
    not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    not_after: OffsetDateTime,
    fingerprint_sha256: String,
    key_encrypted: bool,
    key_encryption: Option<&'static str>,
    passphrase_file: Option<String>,
}

pub fn run(args: &InitArgs, settings: &Settings) -> Result<(), CliError> {
    let key_type: KeyType = args.key.parse()?;
    let subject = match &args.subject {
        Some(s) => Subject::parse(s)?,
        None => Subject::default(),
    };
    let name = match subject.common_name.clone().or_else(|| args.name.clone()) {
        Some(n) => n,
        None => default_ca_name()?,
    };
    if args.days == 0 {
        return Err(CliError::usage(
            "--days must be at least 1",
            Some("give a positive number of days, e.g. --days 90".to_string()),
        ));
    }
    if uca_ca::CaPaths::is_ca(&settings.dir) {
        return Err(uca_ca::CaError::AlreadyExists {
            dir: settings.dir.clone(),
        }
        .into());
    }
    let chosen = secrets::new_passphrase(
        args.passphrase_file.as_deref(),
        settings.env_passphrase.as_ref(),
        args.new_passphrase.generate_passphrase,
        args.no_passphrase,
        "the CA key",
        "use --passphrase-file FILE, set UCA_PASSPHRASE, or add --generate-passphrase --passphrase-out FILE",
    )?;
    // The passphrase file is written first: a CA whose generated passphrase was lost is useless.
    let saved = secrets::save_generated(&chosen, args.new_passphrase.passphrase_out.as_deref())?;
    let passphrase_file = saved.as_ref().map(|p| p.display().to_string());
    let generated = chosen.generated.clone();
    let passphrase = chosen.value.clone();
    let result = uca_ca::init(
        InitOptions {
            dir: settings.dir.clone(),
            name,
            subject: Subject {
                common_name: None,
                ..subject
            },
            key_type,
            days: args.days,
            passphrase,
            config: Config {
                ledger: settings.ledger.url.clone(),
                ..Config::default()
            },
            ledger_access: settings.ledger.clone(),
        },
        OffsetDateTime::now_utc(),
    );
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            if let Some(out) = &saved {
                let _ = std::fs::remove_file(out);
            }
            return Err(e.into());
        }
    };

    let paths = &result.paths;
    if !result.encrypted {
        warn(format!(
            "the CA key {} is NOT encrypted: anyone who can read it can issue certificates trusted by every peer",
            paths.ca_key().display()
        ));
    }
    if let (Some(p), None) = (&generated, &args.new_passphrase.passphrase_out) {
        note(format!(
            "CA passphrase (shown once, store it now; it is needed for every issue and sign):\n\n    {}\n",
            p.as_str()
        ));
    }
    let info = uca_pki::inspect::parse_certificate(&result.cert.der)?;
    if settings.out.json {
        return settings.out.json(&InitReport {
            dir: paths.dir.display().to_string(),
            ca_cert: paths.ca_cert().display().to_string(),
            ca_key: paths.ca_key().display().to_string(),
            config: paths.config().display().to_string(),
            ledger: paths.ledger().display().to_string(),
            subject: info.subject.clone(),
            serial: result.cert.serial.hex(),
            key_type: key_type.to_string(),
            not_before: result.cert.not_before,
            not_after: result.cert.not_after,
            fingerprint_sha256: result.cert.fingerprint.to_string(),
            key_encrypted: result.encrypted,
            key_encryption: result.encrypted.then_some(uca_pki::key::KDF_DESCRIPTION),
            passphrase_file,
        });
    }
    let out = &settings.out;
    out.line(format!("created CA in {}", paths.dir.display()));
    out.line(format!("  subject      {}", info.subject));
    out.line(format!(
        "  key          {key_type}, {}",
        if result.encrypted {
            uca_pki::key::KDF_DESCRIPTION
        } else {
            "NOT encrypted"
        }
    ));
    out.line(format!("  valid until  {}", day(result.cert.not_after)));
    out.line(format!("  sha256       {}", result.cert.fingerprint));
    out.line(format!(
        "  certificate  {}   (give this to every peer as the trust anchor)",
        paths.ca_cert().display()
    ));
    out.line(format!("  key          {}", paths.ca_key().display()));
    out.line(format!(
        "  config       {}   (subject defaults, SAN rules)",
        paths.config().display()
    ));
    if let Some(f) = &passphrase_file {
        out.line(format!("  passphrase   {f}   (mode 0400)"));
    }
    note(format!(
        "next: uca issue NAME --dir {}",
        paths.dir.display()
    ));
    Ok(())
}

/// `uca Root CA 1a2b3c4d`: unique, because TLS peers pick and match issuers by name and two CAs
/// with one name confuse them (a server's list of acceptable client CAs, issuer lookup).
pub(crate) fn default_ca_name() -> Result<String, CliError> {
    let id = uca_pki::Serial::random().map_err(|e| {
        CliError::failure(
            format!("the operating system's random generator failed: {e}"),
            None,
        )
    })?;
    Ok(format!("uca Root CA {}", &id.hex()[..8]))
}
