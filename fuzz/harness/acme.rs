// The uca-acme fuzz harnesses: each takes arbitrary bytes through the same library calls the
// server makes on a request body, ignoring every error. Included (`include!`) both by the fuzz
// targets (fuzz/fuzz_targets/*.rs) and by the replay test (crates/uca-acme/tests/fuzz_corpus.rs),
// so the two cannot drift apart. A panic here is a bug in uca-acme, never in the harness.
// Each returns whether the input went all the way through (parsed and, where the harness checks
// one, verified), which the replay test uses to notice seeds that no longer reach the end.

/// A request body: `Jws::parse`, then what the server does with a parsed JWS: the payload as
/// JSON, and the signature checked against the embedded `jwk` (the newAccount case).
pub fn jws(data: &[u8]) -> bool {
    let Ok(jws) = uca_acme::jose::Jws::parse(data) else {
        return false;
    };
    let _ = jws.is_post_as_get();
    let _ = jws.payload_json();
    let _ = jws.kid();
    let _ = jws.alg();
    match jws.jwk() {
        Some(jwk) => jws.verify(jwk).is_ok(),
        None => true,
    }
}

/// A JWK as JSON: `Jwk::from_json`, then its RFC 7638 thumbprint, its SPKI and its JSON form.
pub fn jwk(data: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return false;
    };
    let Ok(jwk) = uca_acme::jose::Jwk::from_json(&v) else {
        return false;
    };
    let _ = jwk.thumbprint();
    let _ = jwk.spki_der();
    let _ = jwk.to_json();
    let _ = jwk.kty();
    let _ = jwk.curve();
    true
}

/// An `externalAccountBinding` value: `parse_eab`, then `verify` with a fixed MAC key, the
/// binding's own key as the outer key and its own `url` (so the MAC check is reached).
pub fn eab(data: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return false;
    };
    let Ok(eab) = uca_acme::jose::parse_eab(&v) else {
        return false;
    };
    let _ = eab.kid();
    let _ = eab.alg().as_str();
    let url = eab.url().to_owned();
    let Some(outer) = outer_jwk(&v) else {
        return false;
    };
    let _ = eab.verify(b"", &outer, &url);
    eab.verify(b"uca fuzz mac key", &outer, &url).is_ok()
}

/// The JWK an EAB binds (its payload), decoded the way a client would send it as the outer key.
fn outer_jwk(v: &serde_json::Value) -> Option<uca_acme::jose::Jwk> {
    let payload = v.get("payload")?.as_str()?;
    let bytes = b64url_decode(payload)?;
    let json = serde_json::from_slice::<serde_json::Value>(&bytes).ok()?;
    uca_acme::jose::Jwk::from_json(&json).ok()
}

/// Unpadded base64url, lenient (the harness's own, only to build an outer key).
fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let d = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(d);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// An order's identifier: `Identifier::from_json`, then every view the server takes of one.
pub fn identifier(data: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return false;
    };
    let Ok(id) = uca_acme::Identifier::from_json(&v) else {
        return false;
    };
    let _ = id.kind();
    let _ = id.value();
    let _ = id.to_json();
    let _ = id.is_wildcard();
    let _ = id.authorization_target();
    let _ = id.san();
    let stored = id.to_stored();
    let _ = uca_acme::Identifier::from_stored(&stored);
    true
}

/// The identifiers of the order a CSR is checked against (the same as the ready order of
/// fuzz/harness/acme_service.rs, and the names the seed CSRs ask for).
fn fixture_order() -> [uca_acme::Identifier; 3] {
    use uca_acme::Identifier;
    [
        Identifier::Dns("fuzz.example.org".to_string()),
        Identifier::Dns("www.fuzz.example.org".to_string()),
        Identifier::Ip(std::net::IpAddr::from([192, 0, 2, 1])),
    ]
}

/// A finalize request's CSR (DER) against an order: `parse_csr`, then `check_csr_names`, the
/// check finalize makes before anything is signed. Accepted when the CSR fits the order.
pub fn csr_order(data: &[u8]) -> bool {
    let Ok(csr) = uca_pki::csr::parse_csr(data) else {
        return false;
    };
    uca_acme::service::check_csr_names(&csr, &fixture_order()).is_ok()
}
