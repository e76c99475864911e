//! `uca init`: a new CA directory, assembled aside and moved into place in one rename.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use uca_pki::sign::{SignedCert, self_signed_root};
use uca_pki::validity::Validity;
use uca_pki::{KeyType, Serial, Subject};
use zeroize::Zeroizing;

use crate::fsio::{self, KEY_MODE, PUBLIC_MODE, io_err};
use crate::layout::CaPaths;
use crate::ledger::{
    CertRecord, Durability, Ledger, LedgerAccess, LedgerError, LedgerLocation, Source,
    SqliteLedger, Status,
};
use crate::{CaError, Config};

/// What to create.
pub struct InitOptions {
    pub dir: PathBuf,
    /// The root's CN.
    pub name: String,
    /// Subject fields for the root and defaults for every certificate.
    pub subject: Subject,
    pub key_type: KeyType,
    pub days: u32,
    /// `None` writes the key unencrypted (the caller has asked twice).
    pub passphrase: Option<Zeroizing<Vec<u8>>>,
    /// `config.ledger` set: the ledger goes to that PostgreSQL database (which must hold none
    /// yet) instead of `ledger.sqlite`.
    pub config: Config,
    /// The database password, when it is not in the URL.
    pub ledger_access: LedgerAccess,
}

/// What was created.
#[derive(Debug, Clone)]
pub struct InitResult {
    pub paths: CaPaths,
    pub cert: SignedCert,
    pub encrypted: bool,
}

/// Creates the CA. Nothing appears at `dir` unless everything succeeded: the directory is
/// built under a temporary sibling name, synced, then renamed onto `dir` (which may be
/// absent or an empty directory, e.g. a freshly mounted volume).
pub fn init(opts: InitOptions, now: OffsetDateTime) -> Result<InitResult, CaError> {
    check_target(&opts.dir)?;
    if let Some(setting) = &opts.config.ledger
        && !crate::ledger::postgres::target::is_postgres_url(setting)
    {
        return Err(LedgerError::BadSetting {
            setting: setting.clone(),
            reason: "a new CA's ledger is ledger.sqlite in its directory (leave --ledger out) or a postgres:// URL".into(),
        }
        .into());
    }
    let subject = opts
        .config
        .subject
        .overlay(&opts.subject)
        .with_common_name(Some(&opts.name));
    let subject = subject.checked()?;

    let key = opts.key_type.generate()?;
    let serial = Serial::random().map_err(|e| CaError::Rng(e.to_string()))?;
    let validity = Validity::starting(now, opts.days, None)?;
    let cert = self_signed_root(&subject, &key, &validity, serial)?;
    let key_pem = match &opts.passphrase {
        Some(p) => key.to_encrypted_pem(p)?,
        None => key.to_pem()?,
    };
    let mut config = opts.config.clone();
    config.subject = Subject {
        common_name: None,
        ..subject.clone()
    };
    let dir = CaDir {
        name: &opts.name,
        key_type: opts.key_type,
        profile: "root",
        config: &config,
        cert: &cert,
        key_pem: &key_pem,
        extra: &[],
    };
    match &config.ledger {
        None => assemble(&opts.dir, &dir, now, |_| Ok(()))?,
        Some(url) => {
            let location = LedgerLocation::parse(url, &opts.ledger_access)?;
            let paths = CaPaths::new(&opts.dir);
            let mut ledger = location.open(&crate::ledger::node_name(&paths))?;
            let count = ledger.summaries()?.len();
            if count > 0 || ledger.meta(crate::CA_FINGERPRINT_KEY)?.is_some() {
                return Err(LedgerError::NotEmpty {
                    ledger: location.to_string(),
                    count,
                }
                .into());
            }
            let own = own_record(&dir, now);
            // Recorded once the directory is complete on disk and before it appears: a failed
            // rename takes the row back out, so the database can be used again.
            let built = assemble(&opts.dir, &dir, now, |_| {
                ledger.insert(std::slice::from_ref(&own), Durability::Now)?;
                ledger.set_meta(crate::CA_FINGERPRINT_KEY, &own.fingerprint_sha256)
            });
            if let Err(e) = built {
                let _ = ledger.transition(
                    &[crate::ledger::Transition {
                        serial: own.serial.clone(),
                        to: Status::Void,
                        superseded_by: None,
                    }],
                    now,
                    Durability::Now,
                );
                return Err(e);
            }
        }
    }
    Ok(InitResult {
        paths: CaPaths::new(&opts.dir),
        cert,
        encrypted: opts.passphrase.is_some(),
    })
}

/// Refuses an existing CA or a non-empty directory.
pub(crate) fn check_target(dir: &Path) -> Result<(), CaError> {
    if CaPaths::is_ca(dir) {
        return Err(CaError::AlreadyExists {
            dir: dir.to_path_buf(),
        });
    }
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(io_err("read", dir))?;
        if entries.next().is_some() {
            return Err(CaError::NotEmpty {
                dir: dir.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// Everything a new CA directory holds.
pub(crate) struct CaDir<'a> {
    pub name: &'a str,
    pub key_type: KeyType,
    /// Ledger profile of the CA's own row: `root` or `intermediate`.
    pub profile: &'a str,
    pub config: &'a Config,
    pub cert: &'a SignedCert,
    pub key_pem: &'a str,
    /// Extra public files (relative path, contents): an intermediate's chain and root.
    pub extra: &'a [(&'a str, String)],
}

/// Builds the directory under a temporary sibling name, syncs it, then renames it onto `dir`.
/// `before_rename` runs after the sync and before the rename (an intermediate records itself in
/// its parent's ledger there: from then on, no copy of its certificate exists unrecorded).
pub(crate) fn assemble(
    dir: &Path,
    ca: &CaDir<'_>,
    now: OffsetDateTime,
    before_rename: impl FnOnce(&Path) -> Result<(), CaError>,
) -> Result<(), CaError> {
    let parent = fsio::parent_of(dir);
    std::fs::create_dir_all(&parent).map_err(io_err("create directory", &parent))?;
    let base = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ca".into());
    let staging = parent.join(format!(".{base}.uca-init-{}", fsio::random_suffix()));
    let result = build(&staging, ca, now).and_then(|()| {
        fsio::sync_filesystem(&staging)?;
        before_rename(&staging)?;
        std::fs::rename(&staging, dir).map_err(|e| match e.raw_os_error() {
            Some(39) | Some(17) => CaError::NotEmpty {
                dir: dir.to_path_buf(),
            },
            _ => CaError::Io {
                op: "rename",
                path: dir.to_path_buf(),
                source: e,
            },
        })?;
        fsio::fsync_dir(&parent)
    });
    if let Err(e) = result {
        let _ = fsio::remove_tree(&staging);
        return Err(e);
    }
    Ok(())
}

fn build(staging: &Path, ca: &CaDir<'_>, now: OffsetDateTime) -> Result<(), CaError> {
    let paths = CaPaths::new(staging);
    fsio::create_private_dir(staging)?;
    fsio::create_private_dir(&paths.private_dir())?;
    fsio::create_private_dir(&paths.issued())?;
    fsio::create_private_dir(&paths.staging())?;
    fsio::write_new(&paths.ca_key(), ca.key_pem.as_bytes(), KEY_MODE)?;
    fsio::write_new(&paths.ca_cert(), ca.cert.pem.as_bytes(), PUBLIC_MODE)?;
    for (rel, contents) in ca.extra {
        fsio::write_new(&staging.join(rel), contents.as_bytes(), PUBLIC_MODE)?;
    }
    // A database URL may carry its password: then only the CA's owner may read the config.
    let config_mode = match &ca.config.ledger {
        Some(url) if crate::ledger::postgres::target::has_password(url) => KEY_MODE,
        _ => PUBLIC_MODE,
    };
    fsio::write_new(
        &paths.config(),
        ca.config.render(ca.name, ca.key_type).as_bytes(),
        config_mode,
    )?;
    fsio::write_new(&paths.lock(), b"", PUBLIC_MODE)?;
    if ca.config.ledger.is_some() {
        return Ok(());
    }
    let mut ledger = SqliteLedger::open(&paths.ledger())?;
    let own = own_record(ca, now);
    ledger.insert(std::slice::from_ref(&own), Durability::WithNextSync)?;
    ledger.set_meta(crate::CA_FINGERPRINT_KEY, &own.fingerprint_sha256)?;
    // Leave no WAL behind: the rename must carry a self-contained database.
    ledger.checkpoint()?;
    drop(ledger);
    Ok(())
}

/// The CA's own row in its ledger.
fn own_record(ca: &CaDir<'_>, now: OffsetDateTime) -> CertRecord {
    CertRecord::new(
        ca.cert,
        ca.name,
        ca.profile,
        ca.key_type.as_str(),
        &[],
        Source::Root,
        Status::Issued,
        now,
    )
}
