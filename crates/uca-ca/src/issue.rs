//! `uca issue`: keys and certificates for NAMEs, many at once.
//!
//! Order of events (each step durable before the next): sign everything in memory (all
//! cores) → record every certificate `pending` in one transaction → write each NAME's files
//! into a staging directory → one filesystem sync → move each staging directory into place
//! (an atomic swap when replacing) → mark everything `issued` in one transaction. A crash
//! anywhere leaves `pending` rows that [`Ca::open`] completes or voids.

use std::collections::HashSet;

use time::OffsetDateTime;
use uca_pki::sign::{CaSigner, LeafRequest, SignedCert};
use uca_pki::validity::Validity;
use uca_pki::{KeyType, Profile, San, Serial};

use crate::fsio::{self, KEY_MODE, PUBLIC_MODE};
use crate::layout::IssuedPaths;
use crate::ledger::{CertRecord, Durability, Source, Status, Transition};
use crate::{Ca, CaError, parallel};

/// One NAME to issue.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// The NAME as typed.
    pub name: String,
    /// Extra SANs from `--san`.
    pub extra_sans: Vec<San>,
    pub profile: Profile,
    pub key_type: KeyType,
    pub days: u32,
    /// Skip the config's SAN rules.
    pub no_rules: bool,
    /// Replace an existing certificate for NAME.
    pub force: bool,
    /// Certify this existing key (PKCS#8 PEM) instead of making a new one (renewal).
    pub reuse_key: Option<zeroize::Zeroizing<String>>,
    /// Exactly these SANs instead of NAME + rules + extra (renewal keeps the names).
    pub sans_override: Option<Vec<San>>,
}

/// One issued certificate: its ledger row, and what the caller should know besides.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Issued {
    #[serde(flatten)]
    pub record: CertRecord,
    /// notAfter was cut back to the CA's own notAfter.
    pub clamped: bool,
    /// Serial of the certificate this one replaced (`--force`).
    pub replaced: Option<String>,
    pub files: IssuedPaths,
}

/// A NAME after validation: the directory name and its SANs.
#[derive(Clone)]
struct Planned {
    name: String,
    sans: Vec<San>,
    req: IssueRequest,
    replaces: Option<Serial>,
}

/// Validates a NAME: it must be a SAN value that is also a safe directory name.
pub(crate) fn parse_name(name: &str) -> Result<San, CaError> {
    let bad = |reason: &str| CaError::BadName {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    if name.starts_with('.') || name.contains('/') || name.contains('\0') {
        return Err(bad("it cannot start with '.' or contain '/'"));
    }
    let san = San::parse(name).map_err(|e| CaError::BadName {
        name: name.to_string(),
        reason: e.reason,
    })?;
    if matches!(san, San::Uri(_)) {
        return Err(bad(
            "a URI cannot be a NAME (it is not a file name); give it with --san",
        ));
    }
    Ok(san)
}

impl Ca {
    /// Issues every request, all or nothing: any invalid NAME, SAN or conflict is reported
    /// before a single key is made.
    pub fn issue(
        &mut self,
        signer: &CaSigner,
        requests: Vec<IssueRequest>,
        now: OffsetDateTime,
    ) -> Result<Vec<Issued>, CaError> {
        let planned = self.plan_requests(requests)?;
        let window = signer.window();

        // 1. Keys and certificates, in memory, on every core.
        let made: Vec<(Planned, SignedCert, zeroize::Zeroizing<String>, bool)> =
            parallel::map(&planned, |p| {
                let key = match &p.req.reuse_key {
                    Some(pem) => uca_pki::PrivateKey::from_pem_or_der(pem.as_bytes(), None)?,
                    None => p.req.key_type.generate()?,
                };
                let validity = Validity::starting(now, p.req.days, Some(window))?;
                let leaf = LeafRequest {
                    subject: self.config.subject.with_common_name(Some(&p.name)),
                    sans: p.sans.clone(),
                    profile: p.req.profile,
                    validity,
                    serial: Serial::random().map_err(|e| CaError::Rng(e.to_string()))?,
                };
                let cert = signer.sign_leaf(&leaf, &key)?;
                let key_pem = key.to_pem()?;
                Ok::<_, CaError>((p.clone(), cert, key_pem, validity.clamped))
            })?;

        // 2. Staging directories first (empty: no certificate exists yet), so an unwritable
        //    CA directory fails here with nothing recorded and nothing left behind.
        if !self.paths.staging().exists() {
            fsio::create_private_dir(&self.paths.staging())?;
        }
        // The moves at the end need issued/ writable: find out now, before anything is recorded.
        fsio::probe_writable(&self.paths.issued())?;
        let paths = &self.paths;
        let attempts: Vec<Result<std::path::PathBuf, CaError>> =
            parallel::map(&made, |(_, cert, _, _)| {
                let dir = paths.staging_dir(&cert.serial.hex());
                Ok::<_, CaError>(fsio::create_private_dir(&dir).map(|()| dir))
            })?;
        let mut created = Vec::with_capacity(made.len());
        let mut failed = None;
        for a in attempts {
            match a {
                Ok(dir) => created.push(dir),
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        if let Some(e) = failed {
            remove_empty_dirs(&created);
            return Err(e);
        }

        // 3. The ledger learns about every certificate before any file exists.
        let records: Vec<CertRecord> = made
            .iter()
            .map(|(p, cert, _, _)| {
                CertRecord::new(
                    cert,
                    &p.name,
                    p.req.profile.as_str(),
                    p.req.key_type.as_str(),
                    &p.sans,
                    Source::Issue,
                    Status::Pending,
                    now,
                )
            })
            .collect();
        if let Err(e) = self.ledger.insert(&records, Durability::WithNextSync) {
            remove_empty_dirs(&created);
            return Err(e);
        }

        // 4. Files, staged; then ONE sync makes the pending rows and every staged file durable
        //    together, before anything is moved where a reader (or a crash) could find it.
        let chain = self.chain_pem().to_string();
        let paths = &self.paths;
        let staged = parallel::map(&made, |(_, cert, key_pem, _)| {
            let dir = paths.staging_dir(&cert.serial.hex());
            let files = IssuedPaths::in_dir(dir);
            fsio::write_new(&files.key, key_pem.as_bytes(), KEY_MODE)?;
            fsio::write_new(&files.cert, cert.pem.as_bytes(), PUBLIC_MODE)?;
            fsio::write_new(&files.chain, chain.as_bytes(), PUBLIC_MODE)?;
            fsio::write_new(
                &files.fullchain,
                format!("{}{}", cert.pem, chain).as_bytes(),
                PUBLIC_MODE,
            )?;
            Ok::<_, CaError>(())
        });
        if let Err(e) = staged.and_then(|_| fsio::sync_filesystem(&self.paths.staging())) {
            self.abandon(&made, now);
            return Err(e);
        }
        let mut swapped = Vec::new();
        for (p, cert, _, _) in &made {
            let staging = self.paths.staging_dir(&cert.serial.hex());
            match fsio::move_into_place(&staging, &self.paths.issued_dir(&p.name)) {
                Ok(true) => swapped.push(staging),
                Ok(false) => {}
                Err(e) => {
                    // Earlier NAMEs are in place and stay pending; the next run completes them.
                    return Err(e);
                }
            }
        }

        // 5. Done: issued, and what they replace superseded. Not synced on its own: if this
        //    commit is lost, the next open re-derives it from the files in place, and if a
        //    move is lost while this commit survives, the next open finishes the move (see
        //    `Ca::repair`).
        let mut changes = Vec::new();
        for (rec, (p, _, _, _)) in records.iter().zip(&made) {
            if p.replaces.is_some() {
                changes.extend(self.supersede_older(rec)?);
            }
            changes.push(Transition {
                serial: rec.serial.clone(),
                to: Status::Issued,
                superseded_by: None,
            });
        }
        self.ledger
            .transition(&changes, now, Durability::WithNextSync)?;
        for old in swapped {
            fsio::remove_tree(&old)?;
        }
        self.ledger.maintain()?;

        Ok(records
            .into_iter()
            .zip(made)
            .map(|(mut record, (p, _, _, clamped))| {
                record.status = Status::Issued;
                Issued {
                    files: IssuedPaths::in_dir(self.paths.issued_dir(&p.name)),
                    record,
                    clamped,
                    replaced: p.replaces.map(|s| s.hex()),
                }
            })
            .collect())
    }

    /// Checks NAMEs, SANs and conflicts without issuing anything (so a caller can fail before
    /// asking for the passphrase).
    pub fn check_issue(&self, requests: &[IssueRequest]) -> Result<(), CaError> {
        self.plan_requests(requests.to_vec()).map(|_| ())
    }

    /// Validates every request against the ledger and the rules, before any work.
    fn plan_requests(&self, requests: Vec<IssueRequest>) -> Result<Vec<Planned>, CaError> {
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(requests.len());
        for req in requests {
            let name_san = parse_name(&req.name)?;
            let name = name_san.value();
            if !seen.insert(name.clone()) {
                return Err(CaError::DuplicateName(name));
            }
            let rules = if req.no_rules {
                uca_pki::SanRules::none()
            } else {
                self.config.san_rules.clone()
            };
            let sans = match &req.sans_override {
                Some(sans) => sans.clone(),
                None => rules.sans_for(&name_san, &req.extra_sans)?,
            };
            let current = self
                .ledger
                .by_name(&name)?
                .into_iter()
                .find(|r| r.source != Source::Root && r.status == Status::Issued);
            if current
                .as_ref()
                .is_some_and(|r| r.profile == crate::INTERMEDIATE)
            {
                return Err(CaError::NameIsIntermediate { name });
            }
            let dir_exists = self.paths.issued_dir(&name).exists();
            if (current.is_some() || dir_exists) && !req.force {
                let serial = current
                    .map(|r| r.serial.hex())
                    .unwrap_or_else(|| "unknown: files without a ledger row".into());
                return Err(CaError::AlreadyIssued { name, serial });
            }
            if req.days == 0 {
                return Err(CaError::ZeroDays);
            }
            out.push(Planned {
                replaces: current.map(|r| r.serial),
                name,
                sans,
                req,
            });
        }
        Ok(out)
    }

    /// Best effort after a failed write: void the rows and remove staging directories, so the
    /// ledger says plainly that these certificates never went anywhere.
    fn abandon(
        &mut self,
        made: &[(Planned, SignedCert, zeroize::Zeroizing<String>, bool)],
        now: OffsetDateTime,
    ) {
        let changes: Vec<Transition> = made
            .iter()
            .map(|(_, c, _, _)| Transition {
                serial: c.serial.clone(),
                to: Status::Void,
                superseded_by: None,
            })
            .collect();
        let _ = self
            .ledger
            .transition(&changes, now, Durability::WithNextSync);
        for (_, c, _, _) in made {
            let _ = fsio::remove_tree(&self.paths.staging_dir(&c.serial.hex()));
        }
    }
}

/// Best effort: removes staging directories made before a failure (they are still empty).
fn remove_empty_dirs(dirs: &[std::path::PathBuf]) {
    for d in dirs {
        let _ = std::fs::remove_dir(d);
    }
}
