// The uca-pki fuzz harnesses: each takes arbitrary bytes through the same library calls uca
// makes on a file or a request, ignoring every error. Included (`include!`) both by the fuzz
// targets (fuzz/fuzz_targets/*.rs) and by the replay test (crates/uca/tests/fuzz_corpus.rs).
// A panic here is a bug in uca-pki, never in the harness. Each returns whether the input was
// accepted, which the replay test uses to notice seeds that no longer reach the end.

/// The CA the CRL seeds are signed by: a root made by `uca init` (fuzz/seeds/make_seeds.py).
const FIXTURE_CA_PEM: &[u8] = include_bytes!("fixtures/ca.crt");

/// The passphrase of the encrypted PKCS#8 seeds (fuzz/seeds/make_seeds.py).
const FIXTURE_PASSPHRASE: &[u8] = b"uca fuzz passphrase";

/// The fixture CA's SubjectPublicKeyInfo, DER (read once).
fn fixture_ca_spki() -> &'static [u8] {
    static SPKI: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SPKI.get_or_init(|| {
        uca_pki::inspect::certificate_der(FIXTURE_CA_PEM)
            .and_then(|der| uca_pki::inspect::parse_certificate(&der))
            .map(|info| info.spki_der)
            .unwrap_or_default()
    })
}

/// A CSR file or a finalize request's CSR (PEM or DER): `parse_csr`.
pub fn csr(data: &[u8]) -> bool {
    uca_pki::csr::parse_csr(data).is_ok()
}

/// A certificate (PEM or DER): `certificate_der` then `parse_certificate`, as `uca inspect`
/// does; `parse_certificate` on the raw bytes, as the server does on DER; and every block of a
/// PEM chain.
pub fn certificate(data: &[u8]) -> bool {
    let accepted = uca_pki::inspect::certificate_der(data)
        .is_ok_and(|der| uca_pki::inspect::parse_certificate(&der).is_ok());
    let _ = uca_pki::inspect::parse_certificate(data);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(ders) = uca_pki::inspect::all_certificates_der(text)
    {
        for der in ders {
            let _ = uca_pki::inspect::parse_certificate(&der);
        }
    }
    accepted
}

/// A CRL file (PEM or DER), as `uca verify`, `uca artifact verify`, the health watcher and the
/// server read one: `parse_crl`, its signature checked with the fixture CA's key.
pub fn crl(data: &[u8]) -> bool {
    uca_pki::crl::parse_crl(data, fixture_ca_spki()).is_ok()
}

/// A private key file: `PrivateKey::from_pem_or_der` (PKCS#8, plain or PBES2-encrypted, PEM or
/// DER) without a passphrase and with the seeds' one, then what uca does with a loaded key.
pub fn pkcs8(data: &[u8]) -> bool {
    let _ = uca_pki::key::is_encrypted_pem(data);
    let _ = uca_pki::PrivateKey::from_pem_or_der(data, None);
    match uca_pki::PrivateKey::from_pem_or_der(data, Some(FIXTURE_PASSPHRASE)) {
        Ok(key) => {
            let _ = key.public_key_der();
            key.sign(b"uca fuzz").is_ok()
        }
        Err(_) => false,
    }
}

/// PEM text in every form uca reads it (junk around blocks, any wrapping, CRLF): `pem::blocks`,
/// `pem::first`, and the certificate readers built on them.
pub fn pem(data: &[u8]) -> bool {
    let _ = uca_pki::pem::looks_like_pem(data);
    let _ = uca_pki::verify::read_cert_file(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let _ = uca_pki::pem::first(text, &["CERTIFICATE", "X509 CRL"]);
    let _ = uca_pki::inspect::all_certificates_der(text);
    uca_pki::pem::blocks(text).is_ok()
}
