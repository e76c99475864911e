//! OpenSSL as the independent judge: running it, reading what it prints (extensions, dates,
//! public keys), and making what uca should refuse or accept (CSRs, certificates forged behind
//! uca's back by `openssl req -x509` or `openssl ca`, CMS signatures).

use std::path::{Path, PathBuf};

use time::{OffsetDateTime, PrimitiveDateTime};

use super::ca::TempCa;
use super::files::{PathUtf8, write};
use super::process::{TextOutput, run, stderr, stdout};

/// `-newkey` arguments for an EC P-256 key.
pub const EC_P256: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// `openssl ARGS`, asserting success; returns stdout as text.
pub fn openssl(args: &[&str]) -> String {
    let out = run("openssl", args);
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// `openssl ARGS` without asserting: (success, stdout + stderr).
pub fn openssl_try(args: &[&str]) -> (bool, String) {
    let out = run("openssl", args);
    (
        out.status.success(),
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

/// `openssl verify -no-CApath -no-CAstore -CAfile CA EXTRA CERT` (only `ca` is trusted):
/// (success, stdout + stderr).
pub fn openssl_verify(ca: &Path, extra: &[&str], cert: &Path) -> (bool, String) {
    let mut args = vec!["verify", "-no-CApath", "-no-CAstore", "-CAfile", ca.utf8()];
    args.extend_from_slice(extra);
    args.push(cert.utf8());
    openssl_try(&args)
}

/// `openssl crl -verify` of a CRL file (PEM, or DER when `der`) against `ca`, without asserting.
pub fn openssl_crl_verify(crl: &Path, ca: &Path, der: bool) -> TextOutput {
    let form = if der { "DER" } else { "PEM" };
    let args = [
        "crl",
        "-inform",
        form,
        "-in",
        crl.utf8(),
        "-CAfile",
        ca.utf8(),
        "-noout",
        "-verify",
    ];
    TextOutput::from(&run("openssl", &args))
}

/// `openssl x509 -text` of a certificate file.
pub fn x509_text(cert: &Path) -> String {
    openssl(&["x509", "-in", cert.utf8(), "-noout", "-text"])
}

/// The text between `header` and the next extension header in `openssl x509 -text` output,
/// e.g. extension(text, "X509v3 Key Usage") → (critical, "Digital Signature").
pub fn extension(text: &str, header: &str) -> Option<(bool, String)> {
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        let t = l.trim();
        if t.starts_with(header) {
            let critical = t.contains("critical");
            let value = lines
                .next()
                .map(|v| v.trim().to_string())
                .unwrap_or_default();
            return Some((critical, value));
        }
    }
    None
}

/// The headers of the extension block of `openssl x509 -text` (indented exactly 12 spaces,
/// without `critical`), in order, so an unexpected extension cannot hide.
pub fn extension_headers(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.trim().starts_with("X509v3 extensions:"))
        .skip(1)
        .take_while(|l| !l.trim().starts_with("Signature Algorithm:"))
        .filter(|l| l.len() > 12 && l.starts_with("            ") && !l[12..].starts_with(' '))
        .map(|l| {
            l.trim()
                .trim_end_matches("critical")
                .trim()
                .trim_end_matches(':')
                .to_string()
        })
        .collect()
}

/// The Extended Key Usage openssl prints for a uca profile.
pub fn eku_of(profile: &str) -> &'static str {
    match profile {
        "server" => "TLS Web Server Authentication",
        "client" => "TLS Web Client Authentication",
        "both" => "TLS Web Server Authentication, TLS Web Client Authentication",
        "code-signing" => "Code Signing",
        other => panic!("unknown profile {other}"),
    }
}

/// The public key (PEM) in a certificate, per OpenSSL.
pub fn cert_pubkey(cert: &Path) -> String {
    openssl(&["x509", "-in", cert.utf8(), "-noout", "-pubkey"])
}

/// The public key (PEM) of a private key file, per OpenSSL.
pub fn key_pubkey(key: &Path) -> String {
    openssl(&["pkey", "-in", key.utf8(), "-pubout"])
}

/// The SHA-256 fingerprint line `openssl x509 -fingerprint -sha256` prints for a certificate.
pub fn fingerprint(cert: &Path) -> String {
    openssl(&[
        "x509",
        "-in",
        cert.utf8(),
        "-noout",
        "-fingerprint",
        "-sha256",
    ])
}

/// `openssl req -new` with a fresh unencrypted key (`newkey`: `-newkey` arguments such as
/// [`EC_P256`]), subject `subj` and `extra` req arguments: writes the CSR to `csr` and its key
/// beside it (`app.csr` → `app.key`). Returns the CSR's path.
pub fn make_csr(csr: &Path, newkey: &[&str], subj: &str, extra: &[&str]) -> PathBuf {
    let key = csr.with_extension("key");
    let mut args = vec![
        "req",
        "-new",
        "-nodes",
        "-subj",
        subj,
        "-keyout",
        key.utf8(),
        "-out",
        csr.utf8(),
    ];
    args.extend_from_slice(newkey);
    args.extend_from_slice(extra);
    openssl(&args);
    csr.to_path_buf()
}

/// A certificate made by openssl alone (`req -x509 -CA`), bypassing every check uca makes: a
/// fresh P-256 key at `DIR/STEM.key` and the certificate at `DIR/STEM.crt`, with the given
/// extension lines, signed by `issuer` (certificate, key, and the key's passphrase if any).
/// Returns (certificate, key).
pub fn forge(
    dir: &Path,
    stem: &str,
    subj: &str,
    ext: &str,
    issuer: (&Path, &Path),
    passin: Option<&str>,
) -> (PathBuf, PathBuf) {
    let cfg = dir.join(format!("{stem}.cnf"));
    write(
        &cfg,
        format!(
            "[req]\ndistinguished_name=dn\n[dn]\n[ext]\n{ext}\n\
             subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n"
        )
        .as_bytes(),
    );
    let key = dir.join(format!("{stem}.key"));
    let crt = dir.join(format!("{stem}.crt"));
    let pass = passin.map(|p| format!("pass:{p}"));
    let mut args = vec![
        "req",
        "-x509",
        "-new",
        "-config",
        cfg.utf8(),
        "-extensions",
        "ext",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key.utf8(),
        "-subj",
        subj,
        "-days",
        "30",
        "-CA",
        issuer.0.utf8(),
        "-CAkey",
        issuer.1.utf8(),
        "-out",
        crt.utf8(),
    ];
    if let Some(p) = &pass {
        args.extend(["-passin", p.as_str()]);
    }
    openssl(&args);
    (crt, key)
}

/// `openssl cms -sign -binary -outform DER` (detached) of `content` into `out`.
pub fn cms_sign(
    cert: &Path,
    key: &Path,
    chain: Option<&Path>,
    content: &Path,
    out: &Path,
    extra: &[&str],
) {
    let mut args = vec![
        "cms",
        "-sign",
        "-binary",
        "-outform",
        "DER",
        "-signer",
        cert.utf8(),
        "-inkey",
        key.utf8(),
    ];
    if let Some(c) = chain {
        args.extend(["-certfile", c.utf8()]);
    }
    args.extend(["-in", content.utf8(), "-out", out.utf8()]);
    args.extend_from_slice(extra);
    openssl(&args);
}

/// An OpenSSL date such as `Dec  4 22:08:20 2026 GMT` (what `-enddate`, `-nextupdate` and
/// friends print after the `=`).
pub fn openssl_time(text: &str) -> OffsetDateTime {
    let fmt = time::macros::format_description!(
        "[month repr:short] [day padding:space] [hour]:[minute]:[second] [year] GMT"
    );
    PrimitiveDateTime::parse(text.trim(), &fmt)
        .unwrap_or_else(|e| panic!("cannot read openssl date {text:?}: {e}"))
        .assume_utc()
}

/// `openssl CMD -in FILE -noout OPTION` (e.g. `x509 … -enddate`, `crl … -nextupdate`) → the
/// date after `FIELD=`.
pub fn openssl_date(cmd: &str, file: &Path, option: &str, field: &str) -> OffsetDateTime {
    let out = openssl(&[cmd, "-in", file.utf8(), "-noout", option]);
    let value = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}=")))
        .unwrap_or_else(|| panic!("no {field}= in {out}"));
    openssl_time(value)
}

/// Seconds since the epoch, now.
pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// `openssl ca` signing with a plain TempCa's key, for what uca never makes: backdated or
/// expired certificates, certificates its ledger never saw, and CRLs with any dates. Its
/// files live in `DIR`; serials start at 7E57E0.
pub struct OpensslCa {
    dir: PathBuf,
    cnf: PathBuf,
}

impl OpensslCa {
    pub fn new(env: &TempCa, dir: &str) -> OpensslCa {
        let dir = env.path(dir);
        std::fs::create_dir_all(dir.join("newcerts")).unwrap();
        write(&dir.join("index.txt"), b"");
        write(&dir.join("serial"), b"7E57E0\n");
        write(&dir.join("crlnumber"), b"1000\n");
        let cnf = dir.join("ca.cnf");
        write(
            &cnf,
            format!(
                "[ca]
default_ca = CA_default
[CA_default]
database = {d}/index.txt
new_certs_dir = {d}/newcerts
certificate = {ca}
private_key = {key}
serial = {d}/serial
crlnumber = {d}/crlnumber
default_md = sha256
policy = policy_any
email_in_dn = no
unique_subject = no
copy_extensions = none
default_crl_days = 1
[policy_any]
commonName = supplied
[ext_codesign]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ext_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
",
                d = dir.utf8(),
                ca = env.ca_cert().utf8(),
                key = env.ca_key().utf8(),
            )
            .as_bytes(),
        );
        OpensslCa { dir, cnf }
    }

    /// A fresh P-256 key and a certificate for CN `cn` with the config section `extensions`
    /// (`ext_codesign`, `ext_server`), valid from `start` to `end` (`YYYYMMDDHHMMSSZ`).
    /// Returns (certificate, key).
    pub fn issue(&self, cn: &str, extensions: &str, start: &str, end: &str) -> (PathBuf, PathBuf) {
        let csr = make_csr(
            &self.dir.join(format!("{cn}.csr")),
            EC_P256,
            &format!("/CN={cn}"),
            &[],
        );
        let cert = self.dir.join(format!("{cn}.crt"));
        openssl(&[
            "ca",
            "-batch",
            "-notext",
            "-config",
            self.cnf.utf8(),
            "-in",
            csr.utf8(),
            "-out",
            cert.utf8(),
            "-startdate",
            start,
            "-enddate",
            end,
            "-extensions",
            extensions,
        ]);
        (cert, csr.with_extension("key"))
    }

    /// A CRL with the given thisUpdate and nextUpdate (`YYYYMMDDHHMMSSZ`), written to `out`.
    pub fn crl(&self, last: &str, next: &str, out: &Path) {
        openssl(&[
            "ca",
            "-gencrl",
            "-config",
            self.cnf.utf8(),
            "-crl_lastupdate",
            last,
            "-crl_nextupdate",
            next,
            "-out",
            out.utf8(),
        ]);
    }
}
