//! The server's own TLS certificate: issued by the same CA (recorded in the ledger like any
//! other, renewed by the server when a third of its life is left) or given as files.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use time::OffsetDateTime;
use uca_ca::{IssueRequest, IssuedPaths};
use uca_pki::{KeyType, Profile, San};

use crate::issuer::Issuer;

/// Lifetime of the certificate the server issues itself.
pub const SELF_CERT_DAYS: u32 = 30;

/// Why the server's certificate could not be had.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    #[error("issuing the server's certificate failed: {0}")]
    Issue(#[from] uca_ca::CaError),
    /// The NAME the server's certificate would take holds another certificate.
    #[error(
        "the server's certificate would be the CA's NAME '{name}', which already holds a certificate for {sans} (profile {profile}) that the server did not make"
    )]
    NameTaken {
        name: String,
        sans: String,
        profile: String,
    },
}

/// Where the server's certificate comes from.
#[derive(Debug, Clone)]
pub enum CertSource {
    /// Issued by this CA for these names; the first is its ledger NAME.
    ThisCa { names: Vec<San>, key_type: KeyType },
    /// `--tls-cert` / `--tls-key`.
    Files { cert: PathBuf, key: PathBuf },
}

/// A certificate that can be replaced while the server runs.
#[derive(Debug)]
pub struct ServerCert {
    current: RwLock<(Arc<CertifiedKey>, OffsetDateTime, OffsetDateTime)>,
}

impl ResolvesServerCert for ServerCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let guard = self.current.read().unwrap_or_else(|p| p.into_inner());
        Some(guard.0.clone())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn load(
    cert: &Path,
    key: &Path,
) -> Result<(Arc<CertifiedKey>, OffsetDateTime, OffsetDateTime), TlsError> {
    let read_err = |path: &Path, reason: String| TlsError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| read_err(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| read_err(cert, e.to_string()))?;
    let first = certs
        .first()
        .ok_or_else(|| read_err(cert, "no CERTIFICATE block".into()))?;
    let info = uca_pki::inspect::parse_certificate(first.as_ref())
        .map_err(|e| read_err(cert, e.to_string()))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| read_err(key, e.to_string()))?;
    let certified = CertifiedKey::from_der(certs, key_der, &provider())?;
    Ok((Arc::new(certified), info.not_before, info.not_after))
}

impl ServerCert {
    /// Loads (or first issues) the certificate.
    pub fn obtain(
        source: &CertSource,
        issuer: &Issuer,
        now: OffsetDateTime,
    ) -> Result<ServerCert, TlsError> {
        let loaded = match source {
            CertSource::Files { cert, key } => load(cert, key)?,
            CertSource::ThisCa { names, key_type } => {
                check_name_is_ours(issuer, names)?;
                let paths = self_cert_paths(issuer, names);
                match load(&paths.fullchain, &paths.key) {
                    Ok(l) if !renewal_due(l.1, l.2, now) && covers(&paths.cert, names) => l,
                    _ => issue_self(issuer, names, *key_type, now)?,
                }
            }
        };
        Ok(ServerCert {
            current: RwLock::new(loaded),
        })
    }

    /// Renews a certificate of this CA once a third of its life is left.
    pub fn renew_if_due(
        &self,
        source: &CertSource,
        issuer: &Issuer,
        now: OffsetDateTime,
    ) -> Result<bool, TlsError> {
        let CertSource::ThisCa { names, key_type } = source else {
            return Ok(false);
        };
        let (nb, na) = {
            let g = self.current.read().unwrap_or_else(|p| p.into_inner());
            (g.1, g.2)
        };
        if !renewal_due(nb, na, now) {
            return Ok(false);
        }
        let fresh = issue_self(issuer, names, *key_type, now)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(true)
    }

    pub fn not_after(&self) -> OffsetDateTime {
        self.current.read().unwrap_or_else(|p| p.into_inner()).2
    }

    /// A rustls server configuration presenting this certificate.
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// The server's certificate lives under its first name in the CA's `issued/` tree; an active
/// certificate there with other names or another profile belongs to someone else, and the
/// server must not supersede it (or overwrite its files).
fn check_name_is_ours(issuer: &Issuer, names: &[San]) -> Result<(), TlsError> {
    let name = names
        .first()
        .map(San::value)
        .unwrap_or_else(|| "localhost".into());
    let mut want: Vec<String> = names.iter().map(ToString::to_string).collect();
    want.sort();
    let current = issuer.visit(|ca| {
        Ok(ca
            .ledger()
            .by_name(&name)?
            .into_iter()
            .find(|r| r.status == uca_ca::Status::Issued))
    })?;
    if let Some(rec) = current {
        let mut have = rec.sans.clone();
        have.sort();
        if have != want
            || rec.profile != Profile::Server.as_str()
            || rec.source != uca_ca::Source::Issue
        {
            return Err(TlsError::NameTaken {
                name,
                sans: rec.sans.join(", "),
                profile: rec.profile,
            });
        }
    }
    Ok(())
}

fn renewal_due(not_before: OffsetDateTime, not_after: OffsetDateTime, now: OffsetDateTime) -> bool {
    let life = not_after - not_before;
    not_after - now < life / 3
}

fn self_cert_paths(issuer: &Issuer, names: &[San]) -> IssuedPaths {
    let name = names
        .first()
        .map(San::value)
        .unwrap_or_else(|| "localhost".into());
    IssuedPaths::of(&uca_ca::CaPaths::new(issuer.dir()), &name)
}

/// Whether the certificate on disk names exactly what the server was asked to answer as.
fn covers(cert: &Path, names: &[San]) -> bool {
    let Ok(pem) = std::fs::read(cert) else {
        return false;
    };
    let Ok(der) = uca_pki::inspect::certificate_der(&pem) else {
        return false;
    };
    let Ok(info) = uca_pki::inspect::parse_certificate(&der) else {
        return false;
    };
    let mut want: Vec<String> = names
        .iter()
        .map(|s| match s {
            San::Dns(n) => format!("DNS:{n}"),
            San::Ip(ip) => format!("IP:{ip}"),
            other => other.to_string(),
        })
        .collect();
    let mut have = info.sans.clone();
    want.sort();
    have.sort();
    want == have
}

fn issue_self(
    issuer: &Issuer,
    names: &[San],
    key_type: KeyType,
    now: OffsetDateTime,
) -> Result<(Arc<CertifiedKey>, OffsetDateTime, OffsetDateTime), TlsError> {
    let name = names
        .first()
        .map(San::value)
        .unwrap_or_else(|| "localhost".into());
    let request = IssueRequest {
        name: name.clone(),
        extra_sans: Vec::new(),
        profile: Profile::Server,
        key_type,
        days: SELF_CERT_DAYS,
        no_rules: true,
        force: true,
        reuse_key: None,
        sans_override: Some(names.to_vec()),
    };
    issuer.visit(|ca| {
        ca.ensure_not_sealed()?;
        ca.issue(issuer.signer(), vec![request], now)
    })?;
    let paths = self_cert_paths(issuer, names);
    load(&paths.fullchain, &paths.key)
}
