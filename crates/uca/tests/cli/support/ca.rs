//! A temporary CA directory (`TempCa`), the certificates it issues (`Issued`), and the serial
//! of a certificate file as openssl reads it.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

use super::files::{PathUtf8, snapshot};
use super::openssl::openssl;
use super::process::{uca_bare, uca_std};

/// The passphrase of every encrypted test CA.
pub const PASS: &str = "correct horse battery staple";

/// A temp directory that holds (or will hold) one CA at `pki/`; everything a test writes goes
/// under it, and it is removed when the test ends.
pub struct TempCa {
    pub tmp: tempfile::TempDir,
}

/// The files `uca issue NAME` wrote, as `issued/NAME/*.pem`.
pub struct Issued {
    pub name: String,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub chain: PathBuf,
    pub fullchain: PathBuf,
}

impl TempCa {
    /// An empty temp directory: no CA yet (see [`TempCa::init`] and [`TempCa::init_plain`]).
    pub fn new() -> TempCa {
        TempCa {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A path under the temp directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    pub fn ca_dir(&self) -> PathBuf {
        self.path("pki")
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.ca_dir().join("ca.crt")
    }

    pub fn ca_key(&self) -> PathBuf {
        self.ca_dir().join("private/ca.key")
    }

    /// `issued/NAME/FILE` of this CA.
    pub fn issued(&self, name: &str, file: &str) -> PathBuf {
        self.ca_dir().join("issued").join(name).join(file)
    }

    /// `uca` with a clean environment, run in the temp dir, pointed at the CA.
    pub fn uca(&self) -> Command {
        self.uca_at(&self.ca_dir())
    }

    /// The same, pointed at another CA directory (an intermediate, a copy…).
    pub fn uca_at(&self, dir: &Path) -> Command {
        let mut c = uca_bare();
        c.current_dir(self.tmp.path()).arg("--dir").arg(dir);
        c
    }

    /// `uca` with the CA passphrase in UCA_PASSPHRASE.
    pub fn uca_pass(&self) -> Command {
        let mut c = self.uca();
        c.env("UCA_PASSPHRASE", PASS);
        c
    }

    /// `uca` as a std Command (for children that run on), in the temp dir, pointed at the CA.
    pub fn uca_std(&self) -> std::process::Command {
        let mut c = uca_std();
        c.current_dir(self.tmp.path())
            .arg("--dir")
            .arg(self.ca_dir());
        c
    }

    /// A CA with an encrypted key (passphrase [`PASS`]) and the given extra init args.
    pub fn init(&self, extra: &[&str]) -> &TempCa {
        self.init_with(true, self.test_ledger(), extra)
    }

    /// A CA with an unencrypted key (fast for tests that do not care).
    pub fn init_plain(&self, extra: &[&str]) -> &TempCa {
        self.init_with(false, self.test_ledger(), extra)
    }

    /// [`TempCa::init`], always with `ledger.sqlite`: for tests of the file itself, or of a
    /// copied CA directory whose ledger must be a snapshot (a database would be shared).
    pub fn init_sqlite(&self, extra: &[&str]) -> &TempCa {
        self.init_with(true, Vec::new(), extra)
    }

    /// [`TempCa::init_plain`], always with `ledger.sqlite`.
    pub fn init_plain_sqlite(&self, extra: &[&str]) -> &TempCa {
        self.init_with(false, Vec::new(), extra)
    }

    fn init_with(&self, encrypted: bool, ledger: Vec<String>, extra: &[&str]) -> &TempCa {
        let mut cmd = if encrypted {
            self.uca_pass()
        } else {
            self.uca()
        };
        cmd.args(ledger).arg("init");
        if !encrypted {
            cmd.arg("--no-passphrase");
        }
        cmd.args(extra).assert().success();
        self
    }

    /// `--ledger URL` of a fresh database when the suite runs against PostgreSQL
    /// (`UCA_TEST_PG_PORT`, set by scripts/test.sh's second pass of the CA tests); nothing
    /// otherwise.
    fn test_ledger(&self) -> Vec<String> {
        let Ok(port) = std::env::var("UCA_TEST_PG_PORT") else {
            return Vec::new();
        };
        let db: String = self
            .tmp
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let db = format!("t_{db}");
        let out = std::process::Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-X", "-q"])
            .args(["-c", &format!("CREATE DATABASE {db}")])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "CREATE DATABASE {db}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        vec![
            "--ledger".into(),
            format!("postgres://postgres@127.0.0.1:{port}/{db}"),
        ]
    }

    /// Runs `uca ARGS` (no passphrase) and returns its output, whatever the exit code.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.uca().args(args).output().expect("run uca")
    }

    /// Runs `uca --json ARGS` (passphrase set), asserting success, and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self
            .uca_pass()
            .arg("--json")
            .args(args)
            .output()
            .expect("run uca");
        assert!(
            out.status.success(),
            "uca {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("uca --json prints JSON")
    }

    /// `uca issue NAME ARGS` (passphrase set, for encrypted and plain CAs alike), asserting
    /// success; returns the files it wrote.
    pub fn issue(&self, name: &str, args: &[&str]) -> Issued {
        self.uca_pass()
            .arg("issue")
            .arg(name)
            .args(args)
            .assert()
            .success();
        self.files(name)
    }

    /// The files of NAME, as `uca issue` writes them.
    pub fn files(&self, name: &str) -> Issued {
        Issued {
            name: name.to_string(),
            cert: self.issued(name, "cert.pem"),
            key: self.issued(name, "key.pem"),
            chain: self.issued(name, "chain.pem"),
            fullchain: self.issued(name, "fullchain.pem"),
        }
    }

    /// `uca --json issue ARGS` → the `issued` array of the report.
    pub fn issue_json(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["issue"];
        all.extend_from_slice(args);
        let v = self.json(&all);
        v["issued"]
            .as_array()
            .unwrap_or_else(|| panic!("no issued[] in {v}"))
            .clone()
    }

    /// Runs `uca ARGS` (passphrase set) and asserts a refusal: exit `code`, `message` and a
    /// `hint:` on stderr, no panic, nothing on stdout, and nothing under the CA directory
    /// changed.
    pub fn refuses(&self, args: &[&str], code: i32, message: &str) {
        let before = snapshot(&self.ca_dir());
        let out = self.uca_pass().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(code),
            "uca {args:?}: wrong exit code; stderr:\n{stderr}"
        );
        assert!(
            stderr.contains(message),
            "uca {args:?}: expected '{message}' in:\n{stderr}"
        );
        assert!(
            stderr.contains("hint:"),
            "uca {args:?}: no hint in:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            out.stdout.is_empty(),
            "uca {args:?}: data on stdout for a failure"
        );
        assert_eq!(
            before,
            snapshot(&self.ca_dir()),
            "uca {args:?} changed the CA directory"
        );
    }

    /// Every ledger row, as `uca --json list` reports it.
    pub fn ledger(&self) -> Vec<Value> {
        self.json(&["list"])["certificates"]
            .as_array()
            .expect("certificates[]")
            .clone()
    }
}

/// The serial of a certificate file as `openssl x509 -serial` prints it: upper-case hex. The
/// ledger writes the same digits in lower case.
pub fn serial_of(cert: &Path) -> String {
    openssl(&["x509", "-in", cert.utf8(), "-noout", "-serial"])
        .trim()
        .strip_prefix("serial=")
        .expect("serial= line")
        .to_string()
}
