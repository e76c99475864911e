// The uca-pki fuzz harnesses: each takes arbitrary bytes through the same library calls uca
// makes on a file or a request, ignoring every error. Included (`include!`) both by the fuzz
// targets (fuzz/fuzz_targets/*.rs) and by the replay test (crates/uca-pki/tests/fuzz_corpus.rs).
// A panic here is a bug in uca-pki, never in the harness. Each returns whether the input was
// accepted, which the replay test uses to notice seeds that no longer reach the end.

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
