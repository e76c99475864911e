//! `uca ledger copy`: every fact of one ledger into another (SQLite to PostgreSQL or back),
//! then the destination read back and compared, row by row, before anyone relies on it.

use serde::Serialize;

use super::{Ledger, LedgerError};
use crate::CaError;

/// What a copy moved (and then found again in the destination).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CopyReport {
    pub certificates: usize,
    pub revoked: usize,
    pub meta: usize,
    pub exports: usize,
}

/// Keys that describe one store, not the CA: never copied.
const STORE_KEYS: &[&str] = &["schema_version"];

/// Copies `from` into `to`, which must hold no certificate yet, all in one transaction per
/// table, then verifies counts, fingerprints, statuses and certificates.
pub fn copy(from: &dyn Ledger, to: &mut dyn Ledger, to_name: &str) -> Result<CopyReport, CaError> {
    let already = to.summaries()?.len();
    if already > 0 {
        return Err(LedgerError::NotEmpty {
            ledger: to_name.to_string(),
            count: already,
        }
        .into());
    }
    let records = from.all()?;
    let meta: Vec<(String, String)> = from
        .meta_all()?
        .into_iter()
        .filter(|(k, _)| !STORE_KEYS.contains(&k.as_str()))
        .collect();
    let exports = from.export_stamps()?;
    to.insert(&records, super::Durability::Now)?;
    for (k, v) in &meta {
        to.set_meta(k, v)?;
    }
    to.record_exports(&exports)?;

    let mismatch = |what: String| -> CaError {
        LedgerError::CopyMismatch {
            ledger: to_name.to_string(),
            what,
        }
        .into()
    };
    let copied = to.all()?;
    if copied.len() != records.len() {
        return Err(mismatch(format!(
            "{} certificates instead of {}",
            copied.len(),
            records.len()
        )));
    }
    for (a, b) in records.iter().zip(&copied) {
        let same = a.serial == b.serial
            && a.fingerprint_sha256 == b.fingerprint_sha256
            && a.status == b.status
            && a.cert_pem == b.cert_pem
            && a.name == b.name
            && a.sans == b.sans
            && a.not_after == b.not_after
            && a.revoked_at == b.revoked_at
            && a.superseded_by == b.superseded_by
            && a.acme == b.acme;
        if !same {
            return Err(mismatch(format!("serial {} differs", a.serial.hex())));
        }
    }
    for (k, v) in &meta {
        if to.meta(k)?.as_deref() != Some(v.as_str()) {
            return Err(mismatch(format!("meta '{k}' differs")));
        }
    }
    let copied_exports = to.export_stamps()?.len();
    if copied_exports != exports.len() {
        return Err(mismatch(format!(
            "{copied_exports} export stamps instead of {}",
            exports.len()
        )));
    }
    Ok(CopyReport {
        certificates: records.len(),
        revoked: records
            .iter()
            .filter(|r| r.status == super::Status::Revoked)
            .count(),
        meta: meta.len(),
        exports: exports.len(),
    })
}
