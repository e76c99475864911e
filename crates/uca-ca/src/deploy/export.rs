//! `uca export`: a certificate and its key in the form the consuming software eats.
//!
//! Every file is written atomically with its final mode (and owner, for `volume`) set before it
//! appears under its name, so a key is never more readable than asked, even for an instant.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use zeroize::Zeroizing;

use super::perms::{FileMode, Owner};
use crate::fsio::{self, io_err};
use crate::layout::IssuedPaths;
use crate::ledger::{Source, Status};
use crate::{Ca, CaError};

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

    /// The files this format writes at `out` for NAME, in the order they are written: the one
    /// list that both exporting and the plan's check of what is on disk use.
    pub fn files(self, out: &Path, name: Option<&str>) -> Vec<FormatFile> {
        let file = |path: PathBuf, role| FormatFile { path, role };
        let issued = IssuedPaths::in_dir(out.to_path_buf());
        match self {
            ExportFormat::PemDir | ExportFormat::Volume => vec![
                file(issued.cert, FileRole::Certificate),
                file(issued.key, FileRole::Key),
                file(issued.chain, FileRole::Chain),
                file(issued.fullchain, FileRole::Fullchain),
                file(out.join("ca.pem"), FileRole::Ca),
            ],
            ExportFormat::Haproxy => vec![
                file(
                    out.join(format!("{}.pem", name.unwrap_or("cert"))),
                    FileRole::Bundle,
                ),
                file(out.join("ca.pem"), FileRole::Ca),
            ],
            ExportFormat::Nginx => vec![
                file(issued.fullchain, FileRole::Fullchain),
                file(issued.key, FileRole::Key),
                file(out.join("client-ca.pem"), FileRole::Ca),
            ],
            ExportFormat::Pkcs12 => vec![file(out.to_path_buf(), FileRole::Pkcs12)],
            ExportFormat::JavaTruststore => vec![file(out.to_path_buf(), FileRole::Truststore)],
            ExportFormat::K8sSecret => vec![file(out.to_path_buf(), FileRole::Secret)],
        }
    }
}

/// What one exported file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    Certificate,
    Key,
    Chain,
    Fullchain,
    Ca,
    /// HAProxy's `crt`: the full chain, then the key.
    Bundle,
    Pkcs12,
    Truststore,
    Secret,
}

impl FileRole {
    pub fn as_str(self) -> &'static str {
        match self {
            FileRole::Certificate => "certificate",
            FileRole::Key => "key",
            FileRole::Chain => "chain",
            FileRole::Fullchain => "fullchain",
            FileRole::Ca => "ca",
            FileRole::Bundle => "bundle",
            FileRole::Pkcs12 => "pkcs12",
            FileRole::Truststore => "truststore",
            FileRole::Secret => "secret",
        }
    }

    /// Whether the file holds the private key, and so takes the key mode (else the
    /// certificate mode).
    pub fn holds_key(self) -> bool {
        matches!(
            self,
            FileRole::Key | FileRole::Bundle | FileRole::Pkcs12 | FileRole::Secret
        )
    }

    /// The mode the file gets unless told otherwise.
    pub fn default_mode(self) -> FileMode {
        if self.holds_key() {
            FileMode::KEY
        } else {
            FileMode::PUBLIC
        }
    }
}

/// One file an export format writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatFile {
    pub path: PathBuf,
    pub role: FileRole,
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
            .ok_or_else(|| CaError::UnknownExportFormat {
                value: s.to_string(),
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
    /// The owner of every file and directory written (`volume`).
    pub owner: Option<Owner>,
    /// Mode of the private key file.
    pub key_mode: FileMode,
    /// Mode of certificate files.
    pub cert_mode: FileMode,
    /// Mode of the directory (`volume`).
    pub dir_mode: FileMode,
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
            key_mode: FileMode::KEY,
            cert_mode: FileMode::PUBLIC,
            dir_mode: FileMode::PRIVATE_DIR,
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
            .ok_or_else(|| CaError::NoKeyHere {
                name: name.to_string(),
            })?;
        let issued = IssuedPaths::of(&self.paths, &current.name);
        let read = |p: &Path| std::fs::read_to_string(p).map_err(io_err("read", p));
        Ok(Material {
            cert: read(&issued.cert)?,
            key: Zeroizing::new(read(&issued.key)?),
            chain: read(&issued.chain)?,
            fullchain: read(&issued.fullchain)?,
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
        let material = match (name, format.needs_name()) {
            (Some(n), _) => Some(self.material(n)?),
            (None, false) => None,
            (None, true) => return Err(CaError::ExportNeedsName { format }),
        };
        if format.writes_directory() {
            ensure_dir(&opts.out, opts.dir_mode, opts.owner)?;
        } else {
            let parent = fsio::parent_of(&opts.out);
            if !parent.is_dir() {
                ensure_dir(&parent, opts.dir_mode, opts.owner)?;
            }
        }
        let password = || {
            opts.password
                .as_ref()
                .ok_or(CaError::ExportNeedsPassword { format })
        };
        let mut pending = Vec::new();
        let mut files = Vec::new();
        let targets = format.files(&opts.out, name);
        for target in &targets {
            let data: Zeroizing<Vec<u8>> = match (target.role, &material) {
                (FileRole::Truststore, _) => {
                    let password = password()?;
                    Zeroizing::new(truststore(&self.root_pem()?, password)?)
                }
                (_, None) => return Err(CaError::ExportNeedsName { format }),
                (FileRole::Certificate, Some(m)) => bytes(&m.cert),
                (FileRole::Key, Some(m)) => bytes(&m.key),
                (FileRole::Chain, Some(m)) => bytes(&m.chain),
                (FileRole::Fullchain, Some(m)) => bytes(&m.fullchain),
                (FileRole::Ca, Some(m)) => bytes(&m.ca),
                // HAProxy's `crt` wants the certificate, its chain, then the key, in one file.
                (FileRole::Bundle, Some(m)) => bytes(&Zeroizing::new(format!(
                    "{}{}",
                    m.fullchain,
                    m.key.as_str()
                ))),
                (FileRole::Pkcs12, Some(m)) => {
                    Zeroizing::new(pkcs12(name.unwrap_or("uca"), m, password()?)?)
                }
                (FileRole::Secret, Some(m)) => {
                    let secret_name = opts
                        .k8s_name
                        .clone()
                        .unwrap_or_else(|| k8s_name(name.unwrap_or("uca")));
                    bytes(&Zeroizing::new(k8s_secret(
                        &secret_name,
                        opts.k8s_namespace.as_deref(),
                        m,
                    )))
                }
            };
            let mode = if target.role.holds_key() {
                opts.key_mode
            } else {
                opts.cert_mode
            };
            pending.push(fsio::PendingFile {
                path: target.path.clone(),
                data,
                mode: mode.bits(),
                owner: opts.owner.map(|o| (o.uid, o.gid)),
            });
            files.push(ExportedFile {
                path: target.path.clone(),
                role: target.role.as_str(),
                mode: mode.to_string(),
            });
        }
        let path_of = |role: FileRole| {
            targets
                .iter()
                .find(|t| t.role == role)
                .map(|t| t.path.display().to_string())
                .unwrap_or_default()
        };
        let mut hints = Vec::new();
        let out = opts.out.display();
        match format {
            ExportFormat::Haproxy => {
                let (crt, ca) = (path_of(FileRole::Bundle), path_of(FileRole::Ca));
                hints.push(format!("bind :443 ssl crt {crt} ca-file {ca} verify required"));
                hints.push(format!(
                    "server app 10.0.0.1:443 ssl crt {crt} ca-file {ca} verify required"
                ));
            }
            ExportFormat::Nginx => {
                hints.push(format!("ssl_certificate {};", path_of(FileRole::Fullchain)));
                hints.push(format!("ssl_certificate_key {};", path_of(FileRole::Key)));
                hints.push(format!("ssl_client_certificate {};", path_of(FileRole::Ca)));
                hints.push("ssl_verify_client on;".into());
                if self.paths.root_cert().exists() {
                    hints.push("ssl_verify_depth 2;".into());
                }
            }
            ExportFormat::Pkcs12 => hints.push(format!(
                "-Djavax.net.ssl.keyStore={out} -Djavax.net.ssl.keyStoreType=PKCS12 -Djavax.net.ssl.keyStorePassword=…"
            )),
            ExportFormat::JavaTruststore => hints.push(format!(
                "-Djavax.net.ssl.trustStore={out} -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=…"
            )),
            ExportFormat::K8sSecret => hints.push(format!("kubectl apply -f {out}")),
            ExportFormat::PemDir | ExportFormat::Volume => {}
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

fn bytes(text: &str) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(text.as_bytes().to_vec())
}

fn ensure_dir(dir: &Path, mode: FileMode, owner: Option<Owner>) -> Result<(), CaError> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        fsio::chmod(dir, mode.bits())?;
    } else if !dir.is_dir() {
        return Err(CaError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    if let Some(o) = owner {
        fsio::chown(dir, o.uid, o.gid)?;
        fsio::chmod(dir, mode.bits())?;
    }
    Ok(())
}

fn p12_err(e: p12_keystore::error::Error) -> CaError {
    CaError::Pkcs12(e)
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
        .map_err(CaError::IssuedKeyPem)?
        .ok_or(CaError::IssuedKeyMissing)?
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_lists_the_files_it_writes() {
        let out = Path::new("/srv/out");
        let names = |f: ExportFormat| -> Vec<(String, &'static str, FileMode)> {
            f.files(out, Some("web"))
                .into_iter()
                .map(|f| {
                    (
                        f.path.display().to_string(),
                        f.role.as_str(),
                        f.role.default_mode(),
                    )
                })
                .collect()
        };
        let (k, p) = (FileMode::KEY, FileMode::PUBLIC);
        assert_eq!(
            names(ExportFormat::PemDir),
            [
                ("/srv/out/cert.pem".to_string(), "certificate", p),
                ("/srv/out/key.pem".to_string(), "key", k),
                ("/srv/out/chain.pem".to_string(), "chain", p),
                ("/srv/out/fullchain.pem".to_string(), "fullchain", p),
                ("/srv/out/ca.pem".to_string(), "ca", p),
            ]
        );
        assert_eq!(names(ExportFormat::Volume), names(ExportFormat::PemDir));
        assert_eq!(
            names(ExportFormat::Haproxy),
            [
                ("/srv/out/web.pem".to_string(), "bundle", k),
                ("/srv/out/ca.pem".to_string(), "ca", p),
            ]
        );
        assert_eq!(
            names(ExportFormat::Nginx),
            [
                ("/srv/out/fullchain.pem".to_string(), "fullchain", p),
                ("/srv/out/key.pem".to_string(), "key", k),
                ("/srv/out/client-ca.pem".to_string(), "ca", p),
            ]
        );
        assert_eq!(
            names(ExportFormat::Pkcs12),
            [("/srv/out".to_string(), "pkcs12", k)]
        );
        assert_eq!(
            names(ExportFormat::JavaTruststore),
            [("/srv/out".to_string(), "truststore", p)]
        );
        assert_eq!(
            names(ExportFormat::K8sSecret),
            [("/srv/out".to_string(), "secret", k)]
        );
    }
}
