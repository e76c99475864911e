//! `uca trust`: install the CA certificate where clients look for trust anchors — the system
//! store, NSS databases (browsers), a Java keystore — and take it out again. Each target reports
//! what happened, or why it was skipped; one failing target does not stop the others.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::fsio::{self, PUBLIC_MODE, io_err};
use crate::{Ca, CaError};

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustAction {
    Install,
    Uninstall,
    Status,
}

/// Where and how.
#[derive(Debug, Clone, Default)]
pub struct TrustOptions {
    /// A Java keystore (PKCS#12 or JKS) to add the CA to with keytool.
    pub java_keystore: Option<PathBuf>,
    pub java_storepass: String,
    /// NSS databases to use instead of the discovered ones (`sql:DIR`).
    pub nss_dbs: Vec<PathBuf>,
    /// The user's home, where browsers keep NSS databases.
    pub home: Option<PathBuf>,
    /// Where to look for update-ca-certificates, certutil and keytool (the caller's PATH).
    pub search_path: Vec<PathBuf>,
    /// Only these targets (`system`, `nss`, `java`); empty means all.
    pub only: Vec<String>,
}

impl TrustOptions {
    fn wants(&self, target: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|t| t == target)
    }
}

/// One target's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct TrustResult {
    pub target: String,
    /// installed, removed, present, absent, skipped, failed
    pub state: &'static str,
    pub detail: String,
}

impl TrustResult {
    fn new(
        target: impl Into<String>,
        state: &'static str,
        detail: impl Into<String>,
    ) -> TrustResult {
        TrustResult {
            target: target.into(),
            state,
            detail: detail.into(),
        }
    }
}

/// The environment variable keytool reads the keystore password from (`-storepass:env`).
const STOREPASS_ENV: &str = "UCA_KEYTOOL_STOREPASS";

/// Runs a command, returning its combined output on failure.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    run_with(program, args, None)
}

/// Like [`run`], passing a secret through the environment rather than the argument list, which
/// every local user can read in /proc.
fn run_with(program: &str, args: &[&str], secret: Option<(&str, &str)>) -> Result<String, String> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some((k, v)) = secret {
        cmd.env(k, v);
    }
    match cmd.output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => Err(format!(
            "{program} failed: {}{}",
            String::from_utf8_lossy(&o.stdout).trim(),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run {program}: {e}")),
    }
}

fn which(search: &[PathBuf], program: &str) -> Option<PathBuf> {
    search
        .iter()
        .cloned()
        .chain([
            PathBuf::from("/usr/sbin"),
            PathBuf::from("/sbin"),
            PathBuf::from("/usr/bin"),
        ])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// A file name for the anchor: stable per CA, so install is idempotent and uninstall finds it.
fn anchor_name(ca: &Ca) -> String {
    let cn = ca
        .cert_info()
        .common_name
        .clone()
        .unwrap_or_else(|| "uca".into());
    let safe: String = cn
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let fp: String = ca
        .cert_info()
        .fingerprint_sha256
        .chars()
        .filter(|c| *c != ':')
        .take(12)
        .collect();
    format!("uca-{}-{}", safe.trim_matches('-'), fp.to_ascii_lowercase())
}

/// All `uca trust` needs of a CA: the anchor's PEM, a file name for it that is stable per CA,
/// and a directory for scratch files (the CA's own, so they never land in a shared /tmp).
#[derive(Debug, Clone)]
pub struct TrustAnchor {
    pub name: String,
    pub pem: String,
    pub scratch_dir: PathBuf,
}

impl TrustAnchor {
    /// The trust anchor of `ca`: its root (for an intermediate CA, the root above it).
    pub fn of(ca: &Ca) -> Result<TrustAnchor, CaError> {
        Ok(TrustAnchor {
            pem: ca.root_pem()?,
            name: anchor_name(ca),
            scratch_dir: ca.paths.dir.clone(),
        })
    }

    /// Installs, removes or reports the anchor in each target `opts` selects.
    pub fn trust(
        &self,
        action: TrustAction,
        opts: &TrustOptions,
    ) -> Result<Vec<TrustResult>, CaError> {
        let root = self.pem.as_str();
        let name = self.name.as_str();
        if let Some(bad) = opts
            .only
            .iter()
            .find(|t| !["system", "nss", "java"].contains(&t.as_str()))
        {
            return Err(CaError::UnknownTrustTarget { value: bad.clone() });
        }
        let mut out = Vec::new();
        if opts.wants("system") {
            out.push(self.trust_system(action, name, root, opts));
        }
        if opts.wants("nss") {
            out.extend(self.trust_nss(action, name, root, opts)?);
        }
        if opts.wants("java") {
            out.push(self.trust_java(action, name, root, opts)?);
        }
        Ok(out)
    }

    fn trust_system(
        &self,
        action: TrustAction,
        name: &str,
        root: &str,
        opts: &TrustOptions,
    ) -> TrustResult {
        // Debian/Ubuntu, then RHEL/Fedora.
        let flavors = [
            (
                "debian",
                "/usr/local/share/ca-certificates",
                "crt",
                "update-ca-certificates",
                &["--fresh"][..],
            ),
            (
                "rhel",
                "/etc/pki/ca-trust/source/anchors",
                "pem",
                "update-ca-trust",
                &["extract"][..],
            ),
        ];
        let Some((flavor, dir, ext, tool, args)) = flavors.iter().find(|(_, dir, _, tool, _)| {
            Path::new(dir).is_dir() && which(&opts.search_path, tool).is_some()
        }) else {
            return TrustResult::new(
                "system",
                "skipped",
                "no update-ca-certificates or update-ca-trust on this machine",
            );
        };
        let target = format!("system ({flavor})");
        let file = Path::new(dir).join(format!("{name}.{ext}"));
        let present = std::fs::read_to_string(&file).is_ok_and(|t| t == root);
        let update = || run(tool, args);
        match action {
            TrustAction::Status => TrustResult::new(
                target,
                if present { "present" } else { "absent" },
                file.display().to_string(),
            ),
            TrustAction::Install if present => TrustResult::new(
                target,
                "installed",
                format!("already in {}", file.display()),
            ),
            TrustAction::Install => match fsio::write_atomic(&file, root.as_bytes(), PUBLIC_MODE)
                .map_err(|e| e.to_string())
                .and_then(|()| update())
            {
                Ok(_) => TrustResult::new(
                    target,
                    "installed",
                    format!("{} (+ {tool})", file.display()),
                ),
                Err(e) => {
                    let _ = std::fs::remove_file(&file);
                    TrustResult::new(
                        target,
                        "failed",
                        format!("{e} (root is needed to change the system store)"),
                    )
                }
            },
            TrustAction::Uninstall if !file.exists() => {
                TrustResult::new(target, "absent", "not installed")
            }
            TrustAction::Uninstall => match std::fs::remove_file(&file)
                .map_err(|e| e.to_string())
                .and_then(|()| update())
            {
                Ok(_) => {
                    TrustResult::new(target, "removed", format!("{} (+ {tool})", file.display()))
                }
                Err(e) => TrustResult::new(target, "failed", e),
            },
        }
    }

    fn nss_databases(&self, opts: &TrustOptions) -> Vec<PathBuf> {
        if !opts.nss_dbs.is_empty() {
            return opts.nss_dbs.clone();
        }
        let Some(home) = &opts.home else {
            return Vec::new();
        };
        let mut dbs = Vec::new();
        let chrome = home.join(".pki/nssdb");
        if chrome.join("cert9.db").exists() {
            dbs.push(chrome);
        }
        for profiles in [
            home.join(".mozilla/firefox"),
            home.join("snap/firefox/common/.mozilla/firefox"),
        ] {
            if let Ok(entries) = std::fs::read_dir(&profiles) {
                dbs.extend(
                    entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.join("cert9.db").exists()),
                );
            }
        }
        dbs
    }

    fn trust_nss(
        &self,
        action: TrustAction,
        name: &str,
        root: &str,
        opts: &TrustOptions,
    ) -> Result<Vec<TrustResult>, CaError> {
        let dbs = self.nss_databases(opts);
        if dbs.is_empty() {
            return Ok(vec![TrustResult::new(
                "nss",
                "skipped",
                "no NSS database found (~/.pki/nssdb, Firefox profiles)",
            )]);
        }
        if which(&opts.search_path, "certutil").is_none() {
            return Ok(vec![TrustResult::new(
                "nss",
                "skipped",
                "certutil is not installed (Debian: libnss3-tools)",
            )]);
        }
        let tmp = self
            .scratch_dir
            .join(format!(".trust-{}.tmp-{}", name, fsio::random_suffix()));
        std::fs::write(&tmp, root).map_err(io_err("write", &tmp))?;
        let mut out = Vec::new();
        for db in dbs {
            let d = format!("sql:{}", db.display());
            let target = format!("nss {}", db.display());
            let present = run("certutil", &["-L", "-d", &d, "-n", name]).is_ok();
            out.push(match action {
                TrustAction::Status => {
                    TrustResult::new(target, if present { "present" } else { "absent" }, name)
                }
                TrustAction::Install if present => {
                    TrustResult::new(target, "installed", "already present")
                }
                TrustAction::Install => match run(
                    "certutil",
                    &[
                        "-A",
                        "-d",
                        &d,
                        "-t",
                        "C,,",
                        "-n",
                        name,
                        "-i",
                        &tmp.display().to_string(),
                    ],
                ) {
                    Ok(_) => TrustResult::new(target, "installed", name),
                    Err(e) => TrustResult::new(target, "failed", e),
                },
                TrustAction::Uninstall if !present => {
                    TrustResult::new(target, "absent", "not installed")
                }
                TrustAction::Uninstall => match run("certutil", &["-D", "-d", &d, "-n", name]) {
                    Ok(_) => TrustResult::new(target, "removed", name),
                    Err(e) => TrustResult::new(target, "failed", e),
                },
            });
        }
        let _ = std::fs::remove_file(&tmp);
        Ok(out)
    }

    fn trust_java(
        &self,
        action: TrustAction,
        name: &str,
        root: &str,
        opts: &TrustOptions,
    ) -> Result<TrustResult, CaError> {
        let Some(ks) = &opts.java_keystore else {
            return Ok(TrustResult::new(
                "java",
                "skipped",
                "no --java-keystore given",
            ));
        };
        if which(&opts.search_path, "keytool").is_none() {
            return Ok(TrustResult::new(
                "java",
                "skipped",
                "keytool is not installed (a JRE provides it)",
            ));
        }
        let target = format!("java {}", ks.display());
        let ks_s = ks.display().to_string();
        let pass = opts.java_storepass.as_str();
        let present = ks.exists()
            && run_with(
                "keytool",
                &[
                    "-list",
                    "-keystore",
                    &ks_s,
                    "-storepass:env",
                    STOREPASS_ENV,
                    "-alias",
                    name,
                ],
                Some((STOREPASS_ENV, pass)),
            )
            .is_ok();
        Ok(match action {
            TrustAction::Status => {
                TrustResult::new(target, if present { "present" } else { "absent" }, name)
            }
            TrustAction::Install if present => {
                TrustResult::new(target, "installed", "already present")
            }
            TrustAction::Install => {
                let tmp =
                    self.scratch_dir
                        .join(format!(".trust-{}.tmp-{}", name, fsio::random_suffix()));
                std::fs::write(&tmp, root).map_err(io_err("write", &tmp))?;
                let r = run_with(
                    "keytool",
                    &[
                        "-importcert",
                        "-noprompt",
                        "-alias",
                        name,
                        "-file",
                        &tmp.display().to_string(),
                        "-keystore",
                        &ks_s,
                        "-storepass:env",
                        STOREPASS_ENV,
                    ],
                    Some((STOREPASS_ENV, pass)),
                );
                let _ = std::fs::remove_file(&tmp);
                match r {
                    Ok(_) => TrustResult::new(target, "installed", name),
                    Err(e) => TrustResult::new(target, "failed", e),
                }
            }
            TrustAction::Uninstall if !present => {
                TrustResult::new(target, "absent", "not installed")
            }
            TrustAction::Uninstall => match run_with(
                "keytool",
                &[
                    "-delete",
                    "-alias",
                    name,
                    "-keystore",
                    &ks_s,
                    "-storepass:env",
                    STOREPASS_ENV,
                ],
                Some((STOREPASS_ENV, pass)),
            ) {
                Ok(_) => TrustResult::new(target, "removed", name),
                Err(e) => TrustResult::new(target, "failed", e),
            },
        })
    }
}
