//! Where things live inside a CA directory.

use std::path::{Path, PathBuf};

/// The files of one CA directory.
#[derive(Debug, Clone)]
pub struct CaPaths {
    pub dir: PathBuf,
}

/// Name of the config file inside a CA directory.
pub const CONFIG_FILE: &str = "uca.toml";

impl CaPaths {
    pub fn new(dir: impl Into<PathBuf>) -> CaPaths {
        CaPaths { dir: dir.into() }
    }
    pub fn config(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }
    /// The CA certificate, the trust anchor to hand to peers.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    /// The CA's private key (encrypted PKCS#8 unless created with --no-passphrase).
    pub fn ca_key(&self) -> PathBuf {
        self.dir.join("private").join("ca.key")
    }
    /// The CRL `uca crl` writes by default.
    pub fn crl(&self) -> PathBuf {
        self.dir.join("crl.pem")
    }
    /// For an intermediate CA: its certificate followed by its issuers' (what leaves' chain.pem
    /// holds). Absent for a root CA, whose chain is `ca.crt` alone.
    pub fn ca_chain(&self) -> PathBuf {
        self.dir.join("ca-chain.pem")
    }
    /// For an intermediate CA: the root at the top of its chain, the trust anchor for peers.
    pub fn root_cert(&self) -> PathBuf {
        self.dir.join("root.crt")
    }
    pub fn private_dir(&self) -> PathBuf {
        self.dir.join("private")
    }
    pub fn ledger(&self) -> PathBuf {
        self.dir.join("ledger.sqlite")
    }
    pub fn lock(&self) -> PathBuf {
        self.dir.join(".lock")
    }
    pub fn issued(&self) -> PathBuf {
        self.dir.join("issued")
    }
    pub fn issued_dir(&self, name: &str) -> PathBuf {
        self.issued().join(name)
    }
    /// Where certificates' files are assembled before they are moved into `issued/`: a
    /// directory of its own on the same filesystem, so that looking for leftovers never means
    /// listing `issued/`, which grows with the CA.
    pub fn staging(&self) -> PathBuf {
        self.dir.join(".staging")
    }
    /// The staging directory of one certificate.
    pub fn staging_dir(&self, serial_hex: &str) -> PathBuf {
        self.staging().join(serial_hex)
    }
    /// True when `dir` looks like a CA directory.
    pub fn is_ca(dir: &Path) -> bool {
        dir.join(CONFIG_FILE).exists() || dir.join("ca.crt").exists()
    }
}

/// The files written for one issued NAME.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedPaths {
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub chain: PathBuf,
    pub fullchain: PathBuf,
}

impl IssuedPaths {
    pub fn in_dir(dir: PathBuf) -> IssuedPaths {
        IssuedPaths {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            chain: dir.join("chain.pem"),
            fullchain: dir.join("fullchain.pem"),
            dir,
        }
    }
}

impl IssuedPaths {
    /// The files of NAME in the CA at `ca`.
    pub fn of(ca: &CaPaths, name: &str) -> IssuedPaths {
        IssuedPaths::in_dir(ca.issued_dir(name))
    }
}

/// A certificate and its key named the way operators name them: the NAME of a certificate this
/// CA issued, or the path of a PEM file (with its key given separately).
#[derive(Debug, Clone)]
pub struct CertAndKey {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The CA's files for NAME when it was a NAME (for its chain and fullchain).
    pub issued: Option<IssuedPaths>,
}

/// Why a certificate reference names nothing usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertRefError {
    /// The value is a file, so its key cannot be guessed.
    KeyRequired { cert: PathBuf },
    /// Neither a file nor a NAME of the CA at `ca_dir`.
    Unknown {
        value: String,
        ca_dir: Option<PathBuf>,
    },
}

impl CertAndKey {
    /// Resolves `value` as a file relative to `base` first, then as a NAME issued by the CA at
    /// `ca_dir`; `key` (relative to `base`) overrides the NAME's own key.
    pub fn resolve(
        value: &str,
        key: Option<&Path>,
        base: &Path,
        ca_dir: Option<&Path>,
    ) -> Result<CertAndKey, CertRefError> {
        let as_path = base.join(value);
        if as_path.is_file() {
            let key = key.ok_or_else(|| CertRefError::KeyRequired {
                cert: as_path.clone(),
            })?;
            return Ok(CertAndKey {
                cert: as_path,
                key: base.join(key),
                issued: None,
            });
        }
        if let Some(dir) = ca_dir {
            let issued = IssuedPaths::of(&CaPaths::new(dir), value);
            if issued.cert.is_file() {
                return Ok(CertAndKey {
                    cert: issued.cert.clone(),
                    key: key
                        .map(|k| base.join(k))
                        .unwrap_or_else(|| issued.key.clone()),
                    issued: Some(issued),
                });
            }
        }
        Err(CertRefError::Unknown {
            value: value.to_string(),
            ca_dir: ca_dir.map(Path::to_path_buf),
        })
    }
}
