//! An opened CA directory: locked, config loaded, ledger open and repaired.

use std::path::Path;

use time::OffsetDateTime;
use uca_pki::inspect::{CertInfo, certificate_der, parse_certificate};
use uca_pki::sign::CaSigner;
use uca_pki::{PrivateKey, Serial};

use crate::fsio::{self, io_err};
use crate::layout::{CaPaths, IssuedPaths};
use crate::ledger::{
    AcmeStep, CertRecord, Durability, Ledger, LedgerAccess, LedgerError, LedgerLocation, Source,
    Status, Transition,
};
use crate::lock::CaLock;
use crate::{CaError, Config};

/// An open CA. Holding it holds the CA directory's lock (a [`crate::HeldCa`] keeps one open
/// between visits and holds the lock only during each).
pub struct Ca {
    pub paths: CaPaths,
    pub config: Config,
    pub(crate) ledger: Box<dyn Ledger + Send>,
    /// Where the ledger lives (for messages).
    pub ledger_location: LedgerLocation,
    /// How it was reached (to open the CA again the same way).
    pub ledger_access: LedgerAccess,
    pub(crate) cert_pem: String,
    pub(crate) cert_der: Vec<u8>,
    pub(crate) cert_info: CertInfo,
    chain_pem: Option<String>,
    pub(crate) lock: Option<CaLock>,
}

/// The ledger fact that binds it to one CA: the SHA-256 fingerprint of the CA certificate.
/// Opening a ledger that records another fingerprint is refused (two CAs pointed at one
/// database would mix their serials, revocations and CRL numbers).
pub const CA_FINGERPRINT_KEY: &str = "ca_fingerprint";

/// What [`Ca::open`] fixed after an interrupted run.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Repair {
    /// Pending certificates whose files were found in place: now `issued`.
    pub completed: Vec<String>,
    /// Pending certificates whose files never landed: now `void`.
    pub voided: Vec<String>,
    /// Leftover staging directories and temp files removed.
    pub cleaned: usize,
}

impl Repair {
    pub fn is_empty(&self) -> bool {
        self.completed.is_empty() && self.voided.is_empty() && self.cleaned == 0
    }
}

impl Ca {
    /// Opens the CA at `dir`, waiting for other uca processes (`on_wait` is called once if it
    /// has to wait), then repairs what an interrupted run left behind.
    /// `access` says how to reach a ledger that is not the CA directory's own file.
    pub fn open(
        dir: &Path,
        access: &LedgerAccess,
        on_wait: &mut dyn FnMut(),
    ) -> Result<(Ca, Repair), CaError> {
        Self::open_with(dir, access, &mut |p| CaLock::acquire(p, on_wait).map(Some))?
            .ok_or(CaError::Ledger(LedgerError::Unlocked))
    }

    /// Opens the CA only if no other uca process holds it right now (`None` if one does): for
    /// watchers that must never wait behind, say, an `uca issue` at its passphrase prompt.
    pub fn open_if_free(
        dir: &Path,
        access: &LedgerAccess,
    ) -> Result<Option<(Ca, Repair)>, CaError> {
        Self::open_with(dir, access, &mut |p| CaLock::try_acquire(p))
    }

    /// Opens the CA at `dir` under a lock the caller already holds (see [`crate::HeldCa`]).
    pub(crate) fn open_locked(
        dir: &Path,
        access: &LedgerAccess,
        lock: CaLock,
    ) -> Result<(Ca, Repair), CaError> {
        let mut lock = Some(lock);
        Self::open_with(dir, access, &mut |_| Ok(lock.take()))?
            .ok_or(CaError::Ledger(LedgerError::Unlocked))
    }

    /// Where the CA in `dir` keeps its ledger (`--ledger`, else uca.toml, else
    /// `ledger.sqlite`), without opening it.
    pub fn ledger_location_of(
        dir: &Path,
        access: &LedgerAccess,
    ) -> Result<LedgerLocation, CaError> {
        let paths = CaPaths::new(dir);
        if !paths.config().exists() || !paths.ca_cert().exists() {
            return Err(CaError::NotFound {
                dir: dir.to_path_buf(),
            });
        }
        let config = Config::load(&paths.config())?;
        Ok(LedgerLocation::resolve(
            &paths,
            config.ledger.as_deref(),
            access,
        )?)
    }

    fn open_with(
        dir: &Path,
        access: &LedgerAccess,
        lock: &mut dyn FnMut(&Path) -> Result<Option<CaLock>, CaError>,
    ) -> Result<Option<(Ca, Repair)>, CaError> {
        let paths = CaPaths::new(dir);
        if !paths.config().exists() || !paths.ca_cert().exists() {
            return Err(CaError::NotFound {
                dir: dir.to_path_buf(),
            });
        }
        let config = Config::load(&paths.config())?;
        let location = LedgerLocation::resolve(&paths, config.ledger.as_deref(), access)?;
        if let LedgerLocation::Sqlite(file) = &location
            && !file.exists()
        {
            return Err(LedgerError::Missing { path: file.clone() }.into());
        }
        let Some(lock) = lock(&paths.lock())? else {
            return Ok(None);
        };
        let cert_pem =
            std::fs::read_to_string(paths.ca_cert()).map_err(io_err("read", &paths.ca_cert()))?;
        let bad_cert = |reason: String| CaError::BadCaCert {
            path: paths.ca_cert(),
            reason,
        };
        let cert_der = certificate_der(cert_pem.as_bytes()).map_err(|e| bad_cert(e.to_string()))?;
        let cert_info = parse_certificate(&cert_der).map_err(|e| bad_cert(e.to_string()))?;
        let chain_path = paths.ca_chain();
        let chain_pem = if chain_path.exists() {
            Some(std::fs::read_to_string(&chain_path).map_err(io_err("read", &chain_path))?)
        } else {
            None
        };
        let ledger = location.open(&crate::ledger::node_name(&paths))?;
        let own = uca_pki::Fingerprint::of_der(&cert_der).to_string();
        if let Some(found) = ledger.meta(CA_FINGERPRINT_KEY)?
            && found != own
        {
            return Err(LedgerError::ForeignCa {
                ledger: location.to_string(),
                found,
            }
            .into());
        }
        let mut ca = Ca {
            paths,
            config,
            ledger,
            ledger_location: location,
            ledger_access: access.clone(),
            cert_pem,
            cert_der,
            cert_info,
            chain_pem,
            lock: Some(lock),
        };
        let repair = ca.repair(OffsetDateTime::now_utc())?;
        Ok(Some((ca, repair)))
    }

    /// The CA certificate as PEM (what peers trust).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_info(&self) -> &CertInfo {
        &self.cert_info
    }

    /// The issuer chain handed out with every leaf (`chain.pem`): this CA's certificate and, for
    /// an intermediate, the certificates above it.
    pub fn chain_pem(&self) -> &str {
        self.chain_pem.as_deref().unwrap_or(&self.cert_pem)
    }

    /// Whether unlocking needs a passphrase.
    pub fn key_is_encrypted(&self) -> Result<bool, CaError> {
        let data =
            std::fs::read(self.paths.ca_key()).map_err(io_err("read", &self.paths.ca_key()))?;
        Ok(uca_pki::key::is_encrypted_pem(&data))
    }

    /// Decrypts the CA key and pairs it with the CA certificate.
    pub fn unlock(&self, passphrase: Option<&[u8]>) -> Result<CaSigner, CaError> {
        let path = self.paths.ca_key();
        let data = zeroize::Zeroizing::new(std::fs::read(&path).map_err(io_err("read", &path))?);
        let key = PrivateKey::from_pem_or_der(&data, passphrase)?;
        Ok(CaSigner::new(&self.cert_der, key)?)
    }

    pub fn ledger(&self) -> &dyn Ledger {
        &*self.ledger
    }

    /// Finds records by NAME (newest first) or, failing that, by serial.
    pub fn find(&self, name_or_serial: &str) -> Result<Vec<CertRecord>, CaError> {
        let by_name = self.ledger.by_name(name_or_serial)?;
        if !by_name.is_empty() {
            return Ok(by_name);
        }
        if let Ok(uca_pki::San::Dns(normalized)) = uca_pki::San::parse(name_or_serial) {
            let by_name = self.ledger.by_name(&normalized)?;
            if !by_name.is_empty() {
                return Ok(by_name);
            }
        }
        if let Some(serial) = Serial::parse(name_or_serial)
            && let Some(r) = self.ledger.by_serial(&serial)?
        {
            return Ok(vec![r]);
        }
        Err(CaError::NotInLedger(name_or_serial.to_string()))
    }

    /// Brings the directory and the ledger back in line after an interrupted run:
    /// 1. a staged directory whose certificate the ledger already calls `issued` (its move was
    ///    lost in a power failure while the ledger commit survived) is moved into place;
    /// 2. `pending` certificates whose files are in place become `issued`, the others `void`;
    /// 3. staging directories and temp files left behind are removed.
    pub(crate) fn repair(&mut self, now: OffsetDateTime) -> Result<Repair, CaError> {
        let mut report = Repair::default();
        self.finish_lost_moves(&mut report)?;
        let pending = self.ledger.interrupted()?;
        let mut changes = Vec::new();
        let mut abandoned = Vec::new();
        for rec in &pending {
            // An ACME reservation its server never completed: the certificate was never
            // delivered (delivery waits for the completion). Voided only while still pending,
            // so a stalled server's late completion and this cannot both take.
            if rec.source == Source::Acme && !rec.is_signed() {
                abandoned.push(AcmeStep::Abandon(rec.serial.clone()));
                continue;
            }
            let in_place = match rec.source {
                Source::Issue if rec.profile == crate::INTERMEDIATE => {
                    self.settle_intermediate(rec)?
                }
                Source::Issue => {
                    let cert = IssuedPaths::of(&self.paths, &rec.name).cert;
                    fingerprint_of(&cert).as_deref() == Some(rec.fingerprint_sha256.as_str())
                }
                // A signed CSR may have reached stdout (or an ACME client) before the crash:
                // count it as issued, which is the safe side for revocation.
                Source::Csr | Source::Acme | Source::Root => true,
            };
            if in_place {
                changes.extend(self.supersede_older(rec)?);
                changes.push(Transition {
                    serial: rec.serial.clone(),
                    to: Status::Issued,
                    superseded_by: None,
                });
                report.completed.push(rec.serial.hex());
            } else {
                changes.push(Transition {
                    serial: rec.serial.clone(),
                    to: Status::Void,
                    superseded_by: None,
                });
                report.voided.push(rec.serial.hex());
            }
        }
        if !changes.is_empty() {
            self.ledger.transition(&changes, now, Durability::Now)?;
        }
        if !abandoned.is_empty() {
            let took = self.ledger.acme_steps(&abandoned, now)?;
            for (step, took) in abandoned.iter().zip(took) {
                if let (AcmeStep::Abandon(serial), true) = (step, took) {
                    report.voided.push(serial.hex());
                }
            }
        }
        report.cleaned += self.clean_leftovers()?;
        Ok(report)
    }

    /// A pending intermediate: issued if its directory is in place with this certificate;
    /// otherwise its half-built staging directory (which holds its key) is removed.
    fn settle_intermediate(&self, rec: &CertRecord) -> Result<bool, CaError> {
        let Some(dir) = self
            .ledger
            .meta(&crate::intermediate::child_dir_key(&rec.serial))?
        else {
            return Ok(false);
        };
        let dir = std::path::PathBuf::from(dir);
        if fingerprint_of(&dir.join("ca.crt")).as_deref() == Some(rec.fingerprint_sha256.as_str()) {
            return Ok(true);
        }
        let base = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Ok(entries) = std::fs::read_dir(fsio::parent_of(&dir)) {
            for e in entries.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with(&format!(".{base}.uca-init-"))
                    && fingerprint_of(&e.path().join("ca.crt")).as_deref()
                        == Some(rec.fingerprint_sha256.as_str())
                {
                    fsio::remove_tree(&e.path())?;
                }
            }
        }
        Ok(false)
    }

    fn finish_lost_moves(&mut self, report: &mut Repair) -> Result<(), CaError> {
        let Ok(entries) = std::fs::read_dir(self.paths.staging()) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let dir_name = entry.file_name().to_string_lossy().into_owned();
            let Some(serial) = Serial::parse(&dir_name) else {
                continue;
            };
            let Some(rec) = self.ledger.by_serial(&serial)? else {
                continue;
            };
            if rec.status != Status::Issued || rec.source != Source::Issue {
                continue;
            }
            let staged = fingerprint_of(&IssuedPaths::in_dir(entry.path()).cert);
            let placed = fingerprint_of(&IssuedPaths::of(&self.paths, &rec.name).cert);
            let fp = Some(rec.fingerprint_sha256.clone());
            if staged == fp && placed != fp {
                fsio::move_into_place(&entry.path(), &self.paths.issued_dir(&rec.name))?;
                report.completed.push(rec.serial.hex());
            }
        }
        Ok(())
    }

    /// Transitions that mark the older `issued` certificates of the same NAME (from `issue` or
    /// `sign`) as superseded by `newer`.
    pub(crate) fn supersede_older(&self, newer: &CertRecord) -> Result<Vec<Transition>, CaError> {
        if newer.source == Source::Root {
            return Ok(Vec::new());
        }
        Ok(self
            .ledger
            .by_name(&newer.name)?
            .into_iter()
            .filter(|r| {
                r.source != Source::Root && r.status == Status::Issued && r.serial != newer.serial
            })
            .map(|r| Transition {
                serial: r.serial,
                to: Status::Superseded,
                superseded_by: Some(newer.serial.clone()),
            })
            .collect())
    }

    fn clean_leftovers(&self) -> Result<usize, CaError> {
        let mut n = 0;
        if let Ok(entries) = std::fs::read_dir(self.paths.staging()) {
            for entry in entries.flatten() {
                fsio::remove_tree(&entry.path())?;
                n += 1;
            }
        }
        for dir in [self.paths.dir.clone(), self.paths.private_dir()] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = entry.path();
                if name.starts_with('.') && name.contains(".tmp-") {
                    std::fs::remove_file(&path).map_err(io_err("remove", &path))?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

/// SHA-256 fingerprint of the certificate in a PEM file, if it is there and readable.
fn fingerprint_of(path: &Path) -> Option<String> {
    let data = std::fs::read(path).ok()?;
    let der = certificate_der(&data).ok()?;
    Some(uca_pki::Fingerprint::of_der(&der).to_string())
}
