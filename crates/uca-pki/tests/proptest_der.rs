//! Property tests of the certificates uca writes: every profile (server, client, both,
//! code-signing leaves, the self-signed root, intermediates), with random names, addresses and
//! serials, read back by two X.509 implementations that share no code: x509-parser (what uca
//! itself reads with, through `inspect::parse_certificate`) and RustCrypto's `x509-cert` (a
//! strict DER decoder: it refuses non-minimal or negative INTEGERs); and, on fewer cases,
//! OpenSSL (`openssl x509 -inform DER -noout -text`).

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use der::{Decode, Encode};
use proptest::prelude::*;
use time::OffsetDateTime;
use uca_pki::constraints::NameConstraints;
use uca_pki::inspect::parse_certificate;
use uca_pki::sign::{CaRequest, CaSigner, LeafRequest, self_signed_root};
use uca_pki::validity::Validity;
use uca_pki::{KeyType, PrivateKey, Profile, San, Serial, Subject};

/// 2026-01-01T00:00:00Z.
fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
}

/// One root (P-256) and its signer, and one leaf key per type: made once, keys are slow.
struct Fixture {
    root_der: Vec<u8>,
    signer: CaSigner,
    leaf_keys: Vec<PrivateKey>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let key = KeyType::EcP256.generate().unwrap();
        let validity = Validity::between(t0(), t0() + time::Duration::days(3650), None).unwrap();
        let subject = Subject::parse("O=uca proptest,CN=uca proptest root").unwrap();
        let root = self_signed_root(&subject, &key, &validity, Serial::random().unwrap()).unwrap();
        let signer = CaSigner::new(&root.der, key).unwrap();
        let leaf_keys = [
            KeyType::EcP256,
            KeyType::EcP384,
            KeyType::Ed25519,
            KeyType::Rsa2048,
        ]
        .into_iter()
        .map(|k| k.generate().unwrap())
        .collect();
        Fixture {
            root_der: root.der,
            signer,
            leaf_keys,
        }
    })
}

/// An LDH label; never `xn--…`, which would claim to be an A-label and almost never be one.
fn label() -> impl Strategy<Value = String> {
    "[a-z]([a-z0-9-]{0,14}[a-z0-9])?".prop_filter("no false A-label", |l| !l.starts_with("xn--"))
}

/// A DNS name uca accepts: 1-4 labels, the last alphabetic.
fn dns() -> impl Strategy<Value = String> {
    (prop::collection::vec(label(), 0..3), "[a-z]{2,6}").prop_map(|(mut labels, tld)| {
        labels.push(tld);
        labels.join(".")
    })
}

fn san() -> impl Strategy<Value = San> {
    prop_oneof![
        3 => dns().prop_map(San::Dns),
        1 => any::<[u8; 4]>().prop_map(|a| San::Ip(IpAddr::from(a))),
        1 => any::<[u8; 16]>().prop_map(|a| San::Ip(IpAddr::from(a))),
        1 => ("[a-z0-9._+-]{0,10}[a-z0-9]", dns()).prop_map(|(l, d)| San::Email(format!("{l}@{d}"))),
        1 => (dns(), "[a-z0-9/]{0,12}").prop_map(|(d, p)| San::Uri(format!("spiffe://{d}/{p}"))),
    ]
}

/// A serial as the ledger may hold it: 1-20 bytes, positive or not, leading zeros or not.
fn serial() -> impl Strategy<Value = Serial> {
    prop::collection::vec(any::<u8>(), 1..=20)
        .prop_filter("not zero", |b| b.iter().any(|x| *x != 0))
        .prop_map(|b| Serial::from_der_content(&b))
}

fn profile() -> impl Strategy<Value = Profile> {
    prop_oneof![
        Just(Profile::Server),
        Just(Profile::Client),
        Just(Profile::Both),
        Just(Profile::CodeSigning),
    ]
}

/// What a certificate of ours must say, and what it is.
#[derive(Debug, Clone)]
enum Kind {
    Leaf {
        profile: Profile,
        key: usize,
        sans: Vec<San>,
    },
    Intermediate {
        path_len: u8,
        permit: Option<String>,
    },
    Root,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        6 => (profile(), 0usize..4, prop::collection::vec(san(), 1..6)).prop_map(|(profile, key, mut sans)| {
            sans.dedup();
            Kind::Leaf { profile, key, sans }
        }),
        1 => (0u8..3, prop::option::of(dns())).prop_map(|(path_len, permit)| Kind::Intermediate { path_len, permit }),
        1 => Just(Kind::Root),
    ]
}

/// Signs one certificate of `kind` with `serial` and common name `cn`.
fn make(kind: &Kind, serial: &Serial, cn: &str) -> Vec<u8> {
    let f = fixture();
    let validity = Validity::between(t0(), t0() + time::Duration::days(90), None).unwrap();
    let subject = Subject::parse(&format!("O=uca proptest,CN={cn}")).unwrap();
    match kind {
        Kind::Leaf { profile, key, sans } => {
            let req = LeafRequest {
                subject,
                sans: sans.clone(),
                profile: *profile,
                validity,
                serial: serial.clone(),
            };
            f.signer.sign_leaf(&req, &f.leaf_keys[*key]).unwrap().der
        }
        Kind::Intermediate { path_len, permit } => {
            let constraints = NameConstraints {
                permitted_dns: permit.iter().cloned().collect(),
                ..NameConstraints::default()
            };
            let req = CaRequest {
                subject,
                validity,
                serial: serial.clone(),
                path_len: *path_len,
                constraints,
            };
            f.signer
                .sign_intermediate(&req, &f.leaf_keys[0])
                .unwrap()
                .der
        }
        Kind::Root => {
            let key = &f.leaf_keys[2];
            // A root of its own: self-signed with the Ed25519 leaf key.
            let pem = key.to_pem().unwrap();
            let key = PrivateKey::from_pem_or_der(pem.as_bytes(), None).unwrap();
            self_signed_root(&subject, &key, &validity, serial.clone())
                .unwrap()
                .der
        }
    }
}

/// The DER content of the serial INTEGER, checked positive and minimal by hand.
fn check_integer(content: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(!content.is_empty());
    prop_assert!(content[0] & 0x80 == 0, "negative serial {content:02x?}");
    if content.len() > 1 {
        prop_assert!(
            !(content[0] == 0 && content[1] & 0x80 == 0),
            "non-minimal serial {content:02x?}"
        );
    }
    Ok(())
}

/// Both parsers read `der` and agree with what was asked.
fn check_both(der: &[u8], kind: &Kind, serial: &Serial, cn: &str) -> Result<(), TestCaseError> {
    // uca's reader (x509-parser)
    let info = parse_certificate(der).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&info.serial_value, serial);
    prop_assert_eq!(info.common_name.as_deref(), Some(cn));
    // RustCrypto x509-cert: strict DER, and its own view of the same fields
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| TestCaseError::fail(format!("x509-cert refuses it: {e}")))?;
    prop_assert_eq!(
        cert.to_der().unwrap(),
        der.to_vec(),
        "re-encodes byte for byte"
    );
    let tbs = cert.tbs_certificate();
    let content = tbs.serial_number().as_bytes();
    check_integer(content)?;
    prop_assert_eq!(Serial::from_der_content(content), serial.clone());
    prop_assert_eq!(tbs.subject().to_string().contains(cn), true);
    let bc = tbs
        .get_extension::<x509_cert::ext::pkix::BasicConstraints>()
        .unwrap();
    let san = tbs
        .get_extension::<x509_cert::ext::pkix::SubjectAltName>()
        .unwrap();
    match kind {
        Kind::Leaf { sans, .. } => {
            prop_assert!(!info.is_ca);
            prop_assert!(bc.is_none_or(|(_, b)| !b.ca));
            let (_, names) = san.expect("a leaf has a SAN extension");
            prop_assert_eq!(names.0.len(), sans.len());
            let ours: Vec<String> = sans.iter().map(ToString::to_string).collect();
            prop_assert_eq!(&info.sans, &ours, "x509-parser's SANs");
        }
        Kind::Intermediate { path_len, .. } => {
            prop_assert!(info.is_ca);
            let (_, b) = bc.expect("a CA has basicConstraints");
            prop_assert!(b.ca);
            prop_assert_eq!(b.path_len_constraint, Some(*path_len));
            prop_assert_eq!(info.path_len, Some(u32::from(*path_len)));
        }
        Kind::Root => {
            prop_assert!(info.is_ca);
            prop_assert!(bc.is_some_and(|(_, b)| b.ca));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_profile_reads_back_the_same_in_two_parsers(
        kind in kind(),
        serial in serial(),
        cn in "[a-zA-Z0-9][a-zA-Z0-9 .-]{0,30}",
    ) {
        let cn = cn.trim_end().to_string();
        let der = make(&kind, &serial, &cn);
        check_both(&der, &kind, &serial, &cn)?;
    }

    #[test]
    fn the_root_chains_and_parses(_x in 0u8..1) {
        let f = fixture();
        let info = parse_certificate(&f.root_der).unwrap();
        prop_assert!(info.is_ca);
        let cert = x509_cert::Certificate::from_der(&f.root_der).unwrap();
        check_integer(cert.tbs_certificate().serial_number().as_bytes())?;
    }
}

/// OpenSSL's text dump of a DER certificate.
fn openssl_text(der: &[u8]) -> String {
    let mut child = Command::new("openssl")
        .args([
            "x509", "-inform", "DER", "-noout", "-text", "-nameopt", "utf8",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child.stdin.take().unwrap().write_all(der).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl refuses the certificate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// How OpenSSL prints one SAN.
fn openssl_san(san: &San) -> String {
    match san {
        San::Dns(d) => format!("DNS:{d}"),
        San::Ip(IpAddr::V4(v4)) => format!("IP Address:{v4}"),
        // OpenSSL prints every group, uncompressed, in upper case.
        San::Ip(IpAddr::V6(v6)) => {
            let groups: Vec<String> = v6.segments().iter().map(|g| format!("{g:X}")).collect();
            format!("IP Address:{}", groups.join(":"))
        }
        San::Email(e) => format!("email:{e}"),
        San::Uri(u) => format!("URI:{u}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn openssl_reads_the_same_certificate(
        kind in kind(),
        serial in serial(),
        cn in "[a-zA-Z0-9][a-zA-Z0-9.-]{0,20}",
    ) {
        let der = make(&kind, &serial, &cn);
        let text = openssl_text(&der);
        prop_assert!(text.contains(&format!("CN = {cn}")) || text.contains(&format!("CN={cn}")), "{text}");
        let hex: Vec<String> = Serial::from_der_content(serial.as_bytes()).as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        // OpenSSL prints short serials as a decimal number, longer ones as hex pairs.
        let as_hex = hex.join(":");
        let as_decimal = (serial.as_bytes().len() <= 8).then(|| {
            serial.as_bytes().iter().fold(0u128, |n, b| n * 256 + u128::from(*b)).to_string()
        });
        prop_assert!(
            text.contains(&as_hex) || as_decimal.is_some_and(|d| text.contains(&d)),
            "serial {} not in {}", as_hex, text
        );
        match &kind {
            Kind::Leaf { sans, .. } => {
                let line = text
                    .lines()
                    .skip_while(|l| !l.contains("Subject Alternative Name"))
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let want: Vec<String> = sans.iter().map(openssl_san).collect();
                prop_assert_eq!(line, want.join(", "));
                prop_assert!(text.contains("CA:FALSE") || !text.contains("CA:TRUE"));
            }
            Kind::Intermediate { path_len, .. } => {
                prop_assert!(text.contains(&format!("CA:TRUE, pathlen:{path_len}")), "{}", text);
            }
            Kind::Root => prop_assert!(text.contains("CA:TRUE")),
        }
    }
}
