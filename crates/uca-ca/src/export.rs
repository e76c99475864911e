//! `uca export`: a certificate and its key in the form the consuming software eats.
//!
//! Every file is written atomically with its final mode (and owner, for `volume`) set before it
//! appears under its name, so a key is never more readable than asked, even for an instant.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use zeroize::Zeroizing;

use crate::fsio::{self, KEY_MODE, PRIVATE_DIR_MODE, PUBLIC_MODE, io_err};
use crate::ledger::{Source, Status};
use crate::{Ca, CaError};

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    PemDir,
    Haproxy,
    Nginx,
    Pkcs12,
    JavaTruststore,
    K8sSecret,
    Volume,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 7] = [
        ExportFormat::PemDir,
        ExportFormat::Haproxy,
        ExportFormat::Nginx,
        ExportFormat::Pkcs12,
        ExportFormat::JavaTruststore,
        ExportFormat::K8sSecret,
        ExportFormat::Volume,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::PemDir => "pem-dir",
            ExportFormat::Haproxy => "haproxy",
            ExportFormat::Nginx => "nginx",
            ExportFormat::Pkcs12 => "pkcs12",
            ExportFormat::JavaTruststore => "java-truststore",
            ExportFormat::K8sSecret => "k8s-secret",
            ExportFormat::Volume => "volume",
        }
    }

    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether `--out` names a directory (else a file).
    pub fn writes_directory(self) -> bool {
        matches!(
            self,
            ExportFormat::PemDir
                | ExportFormat::Haproxy
                | ExportFormat::Nginx
                | ExportFormat::Volume
        )
    }

    /// Whether the format needs a password (PKCS#12 files).
    pub fn needs_password(self) -> bool {
        matches!(self, ExportFormat::Pkcs12 | ExportFormat::JavaTruststore)
    }

    /// Whether the format carries a private key (the truststore does not: NAME is optional).
    pub fn needs_name(self) -> bool {
        self != ExportFormat::JavaTruststore
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExportFormat {
    type Err = CaError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == norm || (norm == "p12" && *f == ExportFormat::Pkcs12))
            .ok_or_else(|| {
                CaError::Invalid(format!(
                    "unknown export format '{s}' (one of {})",
                    Self::names()
                ))
            })
    }
}

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub format: ExportFormat,
    pub out: PathBuf,
    /// The PKCS#12 password.
    pub password: Option<Zeroizing<String>>,
    /// (uid, gid) for every file and directory written (`volume`).
    pub owner: Option<(u32, u32)>,
    /// Mode of the private key file.
    pub key_mode: u32,
    /// Mode of certificate files.
    pub cert_mode: u32,
    /// Mode of the directory (`volume`).
    pub dir_mode: u32,
    /// metadata.name and namespace of the Kubernetes Secret.
    pub k8s_name: Option<String>,
    pub k8s_namespace: Option<String>,
}

impl ExportOptions {
    pub fn new(format: ExportFormat, out: PathBuf) -> ExportOptions {
        ExportOptions {
            format,
            out,
            password: None,
            owner: None,
            key_mode: KEY_MODE,
            cert_mode: PUBLIC_MODE,
            dir_mode: PRIVATE_DIR_MODE,
            k8s_name: None,
            k8s_namespace: None,
        }
    }
}

/// One file written.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedFile {
    pub path: PathBuf,
    /// What it is: certificate, key, chain, fullchain, ca, bundle, pkcs12, truststore, secret.
    pub role: &'static str,
    pub mode: String,
}

/// What an export wrote, and the configuration lines that use it.
#[derive(Debug, Clone, Serialize)]
pub struct Exported {
    pub name: Option<String>,
    pub format: String,
    pub files: Vec<ExportedFile>,
    /// Lines for the consumer's configuration (nginx, HAProxy, Java, kubectl).
    pub hints: Vec<String>,
}

/// The PEM material of one issued certificate.
struct Material {
    cert: String,
    key: Zeroizing<String>,
    chain: String,
    fullchain: String,
    /// The trust anchor for peers: the root.
    ca: String,
}

impl Ca {
    fn material(&self, name: &str) -> Result<Material, CaError> {
        let records = self.find(name)?;
        let current = records
            .iter()
            .find(|r| r.status == Status::Issued && r.source == Source::Issue)
            .ok_or_else(|| {
                CaError::Invalid(format!(
                    "'{name}' has no current certificate with its key here (only 'uca issue' keeps keys; CSR-signed certificates are exported by their owners)"
                ))
            })?;
        let dir = self.paths.issued_dir(&current.name);
        let read = |f: &str| {
            let p = dir.join(f);
            std::fs::read_to_string(&p).map_err(io_err("read", &p))
        };
        Ok(Material {
            cert: read("cert.pem")?,
            key: Zeroizing::new(read("key.pem")?),
            chain: read("chain.pem")?,
            fullchain: read("fullchain.pem")?,
            ca: self.root_pem()?,
        })
    }

    /// Exports NAME (or, for `java-truststore`, just the CA) as `opts.format` at `opts.out`.
    pub fn export(&self, name: Option<&str>, opts: &ExportOptions) -> Result<Exported, CaError> {
        let (pending, exported) = self.render_export(name, opts)?;
        fsio::write_files(&pending)?;
        Ok(exported)
    }

    /// What [`Ca::export`] would write, without writing it (output directories are created):
    /// `uca apply` writes thousands of these with one sync.
    pub fn render_export(
        &self,
        name: Option<&str>,
        opts: &ExportOptions,
    ) -> Result<(Vec<fsio::PendingFile>, Exported), CaError> {
        let format = opts.format;
        let mut files = Vec::new();
        let mut pending = Vec::new();
        let mut hints = Vec::new();
        let material = match (name, format.needs_name()) {
            (Some(n), _) => Some(self.material(n)?),
            (None, false) => None,
            (None, true) => {
                return Err(CaError::Invalid(format!(
                    "the {format} export needs a NAME"
                )));
            }
        };
        if format.writes_directory() {
            ensure_dir(&opts.out, opts.dir_mode, opts.owner)?;
        } else {
            let parent = fsio::parent_of(&opts.out);
            if !parent.is_dir() {
                ensure_dir(&parent, opts.dir_mode, opts.owner)?;
            }
        }
        let mut put =
            |path: PathBuf, data: &[u8], mode: u32, role: &'static str| -> Result<(), CaError> {
                pending.push(fsio::PendingFile {
                    path: path.clone(),
                    data: Zeroizing::new(data.to_vec()),
                    mode,
                    owner: opts.owner,
                });
                files.push(ExportedFile {
                    path,
                    role,
                    mode: format!("{mode:04o}"),
                });
                Ok(())
            };
        let out = &opts.out;
        match (format, &material) {
            (ExportFormat::PemDir | ExportFormat::Volume, Some(m)) => {
                put(
                    out.join("cert.pem"),
                    m.cert.as_bytes(),
                    opts.cert_mode,
                    "certificate",
                )?;
                put(out.join("key.pem"), m.key.as_bytes(), opts.key_mode, "key")?;
                put(
                    out.join("chain.pem"),
                    m.chain.as_bytes(),
                    opts.cert_mode,
                    "chain",
                )?;
                put(
                    out.join("fullchain.pem"),
                    m.fullchain.as_bytes(),
                    opts.cert_mode,
                    "fullchain",
                )?;
                put(out.join("ca.pem"), m.ca.as_bytes(), opts.cert_mode, "ca")?;
            }
            (ExportFormat::Haproxy, Some(m)) => {
                let base = name.unwrap_or("cert");
                // HAProxy's `crt` wants the certificate, its chain, then the key, in one file.
                let bundle = Zeroizing::new(format!("{}{}", m.fullchain, m.key.as_str()));
                let crt = out.join(format!("{base}.pem"));
                put(crt.clone(), bundle.as_bytes(), opts.key_mode, "bundle")?;
                let ca = out.join("ca.pem");
                put(ca.clone(), m.ca.as_bytes(), opts.cert_mode, "ca")?;
                hints.push(format!(
                    "bind :443 ssl crt {} ca-file {} verify required",
                    crt.display(),
                    ca.display()
                ));
                hints.push(format!(
                    "server app 10.0.0.1:443 ssl crt {} ca-file {} verify required",
                    crt.display(),
                    ca.display()
                ));
            }
            (ExportFormat::Nginx, Some(m)) => {
                let full = out.join("fullchain.pem");
                let key = out.join("key.pem");
                let ca = out.join("client-ca.pem");
                put(
                    full.clone(),
                    m.fullchain.as_bytes(),
                    opts.cert_mode,
                    "fullchain",
                )?;
                put(key.clone(), m.key.as_bytes(), opts.key_mode, "key")?;
                put(ca.clone(), m.ca.as_bytes(), opts.cert_mode, "ca")?;
                hints.push(format!("ssl_certificate {};", full.display()));
                hints.push(format!("ssl_certificate_key {};", key.display()));
                hints.push(format!("ssl_client_certificate {};", ca.display()));
                hints.push("ssl_verify_client on;".into());
                if self.paths.root_cert().exists() {
                    hints.push("ssl_verify_depth 2;".into());
                }
            }
            (ExportFormat::Pkcs12, Some(m)) => {
                let password = opts
                    .password
                    .as_ref()
                    .ok_or_else(|| password_missing(format))?;
                let der = pkcs12(name.unwrap_or("uca"), m, password)?;
                put(out.clone(), &der, opts.key_mode, "pkcs12")?;
                hints.push(format!(
                    "-Djavax.net.ssl.keyStore={} -Djavax.net.ssl.keyStoreType=PKCS12 -Djavax.net.ssl.keyStorePassword=…",
                    out.display()
                ));
            }
            (ExportFormat::JavaTruststore, _) => {
                let password = opts
                    .password
                    .as_ref()
                    .ok_or_else(|| password_missing(format))?;
                let der = truststore(&self.root_pem()?, password)?;
                put(out.clone(), &der, opts.cert_mode, "truststore")?;
                hints.push(format!(
                    "-Djavax.net.ssl.trustStore={} -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=…",
                    out.display()
                ));
            }
            (ExportFormat::K8sSecret, Some(m)) => {
                let secret_name = opts
                    .k8s_name
                    .clone()
                    .unwrap_or_else(|| k8s_name(name.unwrap_or("uca")));
                let yaml =
                    Zeroizing::new(k8s_secret(&secret_name, opts.k8s_namespace.as_deref(), m));
                put(out.clone(), yaml.as_bytes(), opts.key_mode, "secret")?;
                hints.push(format!("kubectl apply -f {}", out.display()));
            }
            (_, None) => {
                return Err(CaError::Invalid(format!(
                    "the {format} export needs a NAME"
                )));
            }
        }
        Ok((
            pending,
            Exported {
                name: name.map(str::to_string),
                format: format.to_string(),
                files,
                hints,
            },
        ))
    }
}

fn password_missing(format: ExportFormat) -> CaError {
    CaError::Invalid(format!(
        "the {format} export needs a password (--password, --password-file or UCA_EXPORT_PASSWORD)"
    ))
}

fn ensure_dir(dir: &Path, mode: u32, owner: Option<(u32, u32)>) -> Result<(), CaError> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        fsio::chmod(dir, mode)?;
    } else if !dir.is_dir() {
        return Err(CaError::Invalid(format!(
            "{} exists and is not a directory",
            dir.display()
        )));
    }
    if let Some((uid, gid)) = owner {
        fsio::chown(dir, uid, gid)?;
        fsio::chmod(dir, mode)?;
    }
    Ok(())
}

fn p12_err(e: p12_keystore::error::Error) -> CaError {
    CaError::Invalid(format!("PKCS#12: {e}"))
}

fn pem_certs(pem: &str) -> Result<Vec<p12_keystore::Certificate>, CaError> {
    uca_pki::inspect::all_certificates_der(pem)?
        .iter()
        .map(|der| p12_keystore::Certificate::from_der(der).map_err(p12_err))
        .collect()
}

/// PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) PKCS#12 with the key, its certificate and chain under
/// the friendly name NAME: what OpenSSL 3 reads without `-legacy` and Java's keytool loads.
fn pkcs12(name: &str, m: &Material, password: &str) -> Result<Vec<u8>, CaError> {
    let key_der = uca_pki::pem::first(m.key.as_str(), &["PRIVATE KEY"])
        .map_err(|e| CaError::Invalid(format!("key.pem: {e}")))?
        .ok_or_else(|| CaError::Invalid("key.pem holds no PRIVATE KEY".into()))?
        .der;
    let key_der = Zeroizing::new(key_der);
    let key = p12_keystore::PrivateKey::from_der(&key_der).map_err(p12_err)?;
    let certs = pem_certs(&m.fullchain)?;
    let local_key_id =
        uca_pki::Fingerprint::of_der(certs.first().map(|c| c.as_der()).unwrap_or_default());
    let id: Vec<u8> = local_key_id.to_string().bytes().take(20).collect();
    let chain = p12_keystore::PrivateKeyChain::new(id, key, certs);
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(name, p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    store.writer(password).write().map_err(p12_err)
}

/// A PKCS#12 truststore: the CA certificate as a trusted entry (Java's `trustedCertEntry`).
fn truststore(ca_pem: &str, password: &str) -> Result<Vec<u8>, CaError> {
    let mut store = p12_keystore::KeyStore::new();
    for (i, cert) in pem_certs(ca_pem)?.into_iter().enumerate() {
        let alias = if i == 0 {
            "uca-ca".to_string()
        } else {
            format!("uca-ca-{i}")
        };
        store.add_entry(&alias, p12_keystore::KeyStoreEntry::Certificate(cert));
    }
    store.writer(password).write().map_err(p12_err)
}

/// A DNS-1123 subdomain from NAME: lowercase alphanumerics, '-' and '.', at most 253.
fn k8s_name(name: &str) -> String {
    let mut s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    s = s.trim_matches(|c: char| c == '-' || c == '.').to_string();
    s.truncate(249);
    if s.is_empty() {
        "uca-tls".into()
    } else {
        format!("{s}-tls")
    }
}

fn k8s_secret(name: &str, namespace: Option<&str>, m: &Material) -> String {
    use base64ct::{Base64, Encoding};
    let b64 = |s: &str| Base64::encode_string(s.as_bytes());
    let ns = namespace
        .map(|n| format!("  namespace: {n}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n{ns}  labels:\n    app.kubernetes.io/managed-by: uca\ntype: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {}\n  ca.crt: {}\n",
        b64(&m.fullchain),
        b64(m.key.as_str()),
        b64(&m.ca)
    )
}
