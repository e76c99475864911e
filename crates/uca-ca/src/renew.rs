//! `uca renew`: a new certificate with a new serial for the same NAME and names, on the same
//! key unless asked to rekey. It goes through the issue flow, so the files are swapped
//! atomically and the ledger marks the old certificate superseded.

use time::OffsetDateTime;
use uca_pki::crl::RevocationReason;
use uca_pki::sign::CaSigner;
use uca_pki::{KeyType, Profile, San};

use crate::fsio::io_err;
use crate::ledger::{LedgerError, Source, Status};
use crate::{Ca, CaError, IssueRequest, Issued, IssuedPaths, Revoked};

/// How to renew.
#[derive(Debug, Clone)]
pub struct RenewRequest {
    pub name: String,
    /// A new key instead of the current one.
    pub rekey: bool,
    pub days: u32,
    /// Revoke the old certificate (reason superseded) instead of only marking it superseded.
    pub revoke_old: bool,
}

/// What `renew` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Renewed {
    #[serde(flatten)]
    pub issued: Issued,
    pub rekeyed: bool,
    pub old_serial: String,
    pub old_revoked: Option<Revoked>,
}

/// Reads a ledger SAN (`DNS:rmq1`, `IP:10.0.0.7`, `email:…`, `URI:…`) back into a value.
fn san_from_ledger(s: &str) -> Result<San, CaError> {
    let (kind, value) = s.split_once(':').ok_or_else(|| LedgerError::BadSan {
        value: s.to_string(),
    })?;
    let typed = match kind {
        "DNS" => format!("dns:{value}"),
        "IP" => format!("ip:{value}"),
        "email" => format!("email:{value}"),
        "URI" => format!("uri:{value}"),
        _ => {
            return Err(LedgerError::BadSan {
                value: s.to_string(),
            }
            .into());
        }
    };
    Ok(San::parse(&typed)?)
}

impl Ca {
    pub fn renew(
        &mut self,
        signer: &CaSigner,
        req: RenewRequest,
        now: OffsetDateTime,
    ) -> Result<Renewed, CaError> {
        let records = self.find(&req.name)?;
        let refuse = |reason: String| CaError::NotRenewable {
            name: req.name.clone(),
            reason,
            hint: format!(
                "issue a new certificate instead: 'uca issue {} --force'",
                req.name
            ),
        };
        let Some(current) = records.iter().find(|r| r.status == Status::Issued).cloned() else {
            let latest = records.first().map(|r| r.status).unwrap_or(Status::Void);
            return Err(refuse(match latest {
                Status::Revoked => "its certificate is revoked; a revoked identity gets a new certificate, not a renewal".into(),
                other => format!("it has no current certificate (the latest is {other})"),
            }));
        };
        match current.source {
            Source::Root => {
                return Err(CaError::NotRenewable {
                    name: req.name.clone(),
                    reason: "it is the CA's own certificate".into(),
                    hint: "a CA is replaced, not renewed: create a new one with 'uca init --dir NEW_DIR'".into(),
                });
            }
            Source::Csr => {
                return Err(CaError::NotRenewable {
                    name: req.name.clone(),
                    reason: "it was signed from a CSR and its key is not here".into(),
                    hint: format!(
                        "have its owner make a fresh CSR, then 'uca sign CSR --name {} --force'",
                        req.name
                    ),
                });
            }
            Source::Acme => {
                return Err(CaError::NotRenewable {
                    name: req.name.clone(),
                    reason: "it was obtained over ACME and its key is with the client".into(),
                    hint: "the client renews it itself (certbot renew, lego renew, ...)".into(),
                });
            }
            Source::Issue => {}
        }
        if current.profile == crate::INTERMEDIATE {
            return Err(CaError::NotRenewable {
                name: req.name.clone(),
                reason: "it is an intermediate CA".into(),
                hint: "make a new intermediate with 'uca intermediate NAME --dir NEW_DIR', move issuance there, then revoke this one".into(),
            });
        }
        let profile: Profile = current.profile.parse()?;
        let key_type: KeyType = current.key_type.parse()?;
        let sans = current
            .sans
            .iter()
            .map(|s| san_from_ledger(s))
            .collect::<Result<Vec<_>, _>>()?;
        let reuse_key = if req.rekey {
            None
        } else {
            let path = IssuedPaths::of(&self.paths, &current.name).key;
            let pem = std::fs::read_to_string(&path).map_err(io_err("read", &path))?;
            Some(zeroize::Zeroizing::new(pem))
        };
        let issued = self
            .issue(
                signer,
                vec![IssueRequest {
                    name: current.name.clone(),
                    extra_sans: Vec::new(),
                    profile,
                    key_type,
                    days: req.days,
                    no_rules: true,
                    force: true,
                    reuse_key,
                    sans_override: Some(sans),
                }],
                now,
            )?
            .into_iter()
            .next()
            .ok_or(LedgerError::NothingIssued)?;
        let old_revoked = if req.revoke_old {
            Some(self.revoke(&current.serial.hex(), RevocationReason::Superseded, now)?)
        } else {
            None
        };
        let _ = self.ledger.maintain();
        Ok(Renewed {
            issued,
            rekeyed: req.rekey,
            old_serial: current.serial.hex(),
            old_revoked,
        })
    }
}
