//! `uca intermediate`: a complete child CA directory signed by this CA; and the parent's side
//! of `uca sign --profile intermediate` for CSRs from Vault, OpenBao and friends.

use std::path::PathBuf;

use time::OffsetDateTime;
use uca_pki::constraints::NameConstraints;
use uca_pki::csr::Csr;
use uca_pki::sign::{CaRequest, CaSigner, SignedCert};
use uca_pki::validity::Validity;
use uca_pki::{KeyType, Serial};
use zeroize::Zeroizing;

use crate::init::{CaDir, assemble, check_target};
use crate::layout::CaPaths;
use crate::ledger::{CertRecord, Durability, Source, Status};
use crate::{Ca, CaError};

/// The ledger profile of intermediate CA certificates.
pub const INTERMEDIATE: &str = "intermediate";

/// A child CA to create.
pub struct IntermediateOptions {
    pub name: String,
    pub dir: PathBuf,
    pub key_type: KeyType,
    pub days: u32,
    pub path_len: u8,
    pub constraints: NameConstraints,
    /// The child key's passphrase (`None`: unencrypted, asked for twice by the caller).
    pub passphrase: Option<Zeroizing<Vec<u8>>>,
}

impl Ca {
    /// The PEM chain above a certificate this CA signs: this CA's certificate and its issuers.
    pub fn issuer_chain_pem(&self) -> String {
        self.chain_pem().to_string()
    }

    /// The root at the top of this CA's chain (this CA itself for a root CA).
    pub fn root_pem(&self) -> Result<String, CaError> {
        let root = self.paths.root_cert();
        if root.exists() {
            std::fs::read_to_string(&root).map_err(crate::fsio::io_err("read", &root))
        } else {
            Ok(self.cert_pem().to_string())
        }
    }

    fn ca_request(
        &self,
        name: &str,
        days: u32,
        path_len: u8,
        constraints: NameConstraints,
        signer: &CaSigner,
        now: OffsetDateTime,
    ) -> Result<CaRequest, CaError> {
        if days == 0 {
            return Err(CaError::ZeroDays);
        }
        let subject = self.config.subject.with_common_name(Some(name)).checked()?;
        Ok(CaRequest {
            subject,
            validity: Validity::starting(now, days, Some(signer.window()))?,
            serial: Serial::random().map_err(|e| CaError::Rng(e.to_string()))?,
            path_len,
            constraints,
        })
    }

    /// Creates the child CA directory `opts.dir`, recorded in this CA's ledger.
    pub fn create_intermediate(
        &mut self,
        signer: &CaSigner,
        opts: IntermediateOptions,
        now: OffsetDateTime,
    ) -> Result<(CaPaths, SignedCert, bool), CaError> {
        check_target(&opts.dir)?;
        let req = self.ca_request(
            &opts.name,
            opts.days,
            opts.path_len,
            opts.constraints,
            signer,
            now,
        )?;
        let key = opts.key_type.generate()?;
        let cert = signer.sign_intermediate(&req, &key)?;
        let key_pem = match &opts.passphrase {
            Some(p) => key.to_encrypted_pem(p)?,
            None => key.to_pem()?,
        };
        let chain = format!("{}{}", cert.pem, self.chain_pem());
        let root = self.root_pem()?;
        let extra = [("ca-chain.pem", chain), ("root.crt", root)];
        let mut config = self.config.clone();
        config.key = self.config.key;
        // The child keeps its own ledger (ledger.sqlite in its directory): one ledger per CA.
        config.ledger = None;
        let dir = CaDir {
            name: &opts.name,
            key_type: opts.key_type,
            profile: INTERMEDIATE,
            config: &config,
            cert: &cert,
            key_pem: &key_pem,
            extra: &extra,
        };
        let record = CertRecord::new(
            &cert,
            &opts.name,
            INTERMEDIATE,
            opts.key_type.as_str(),
            &[],
            Source::Issue,
            Status::Pending,
            now,
        );
        // Recorded (pending, with where it goes) before any copy of it touches the disk; a crash
        // from here on is settled by the next open of this CA (see `Ca::repair`).
        let child = std::path::absolute(&opts.dir).unwrap_or_else(|_| opts.dir.clone());
        self.ledger
            .insert(std::slice::from_ref(&record), Durability::Now)?;
        self.ledger
            .set_meta(&child_dir_key(&cert.serial), &child.display().to_string())?;
        let built = assemble(&opts.dir, &dir, now, |_| Ok(()));
        let to = if built.is_ok() {
            Status::Issued
        } else {
            Status::Void
        };
        self.ledger.transition(
            &[crate::ledger::Transition {
                serial: cert.serial.clone(),
                to,
                superseded_by: None,
            }],
            now,
            Durability::Now,
        )?;
        built?;
        Ok((CaPaths::new(&opts.dir), cert, opts.passphrase.is_some()))
    }

    /// Signs a CA certificate for a CSR made elsewhere (Vault's `pki_int/intermediate/generate`).
    #[allow(
        clippy::too_many_arguments,
        reason = "the CSR, its naming and bounds, the clock and the delivery"
    )]
    pub fn sign_intermediate_csr(
        &mut self,
        signer: &CaSigner,
        csr: &Csr,
        name: &str,
        days: u32,
        path_len: u8,
        constraints: NameConstraints,
        now: OffsetDateTime,
        deliver: impl FnOnce(&SignedCert) -> Result<(), CaError>,
    ) -> Result<SignedCert, CaError> {
        let req = self.ca_request(name, days, path_len, constraints, signer, now)?;
        let cert = signer.sign_intermediate_for(&req, &csr.public_key)?;
        let record = CertRecord::new(
            &cert,
            name,
            INTERMEDIATE,
            csr.key_type.as_str(),
            &[],
            Source::Csr,
            Status::Pending,
            now,
        );
        self.record_and_deliver(&record, &cert, Vec::new(), now, deliver)?;
        Ok(cert)
    }
}

/// The ledger meta key that remembers where an intermediate's directory goes.
pub(crate) fn child_dir_key(serial: &Serial) -> String {
    format!("intermediate_dir:{}", serial.hex())
}
