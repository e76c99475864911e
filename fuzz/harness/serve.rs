// The fuzz harnesses of what a challenge validation judges (uca-serve): the body an http-01
// target answered and where it redirected, and the certificate a tls-alpn-01 target
// presented. Included (`include!`) both by the fuzz targets (fuzz/fuzz_targets/*.rs) and by
// the replay test (crates/uca/tests/fuzz_corpus.rs). A panic here is a bug in uca-serve, never
// in the harness. Each returns whether the response passed, for the replay test's seed counts.

/// The key authorization the seeds answer (fuzz/seeds/make_seeds.py): token.thumbprint.
const KEY_AUTHORIZATION: &str =
    "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

/// One validator for every input (its resolver is never used: nothing is fetched).
fn validator() -> Option<&'static uca_serve::Validator> {
    static V: std::sync::OnceLock<Option<uca_serve::Validator>> = std::sync::OnceLock::new();
    V.get_or_init(|| uca_serve::Validator::new(uca_serve::ValidationSettings::default()).ok())
        .as_ref()
}

/// An http-01 response: `body_matches` on the body, and `redirect_target` on the same bytes
/// as a `Location` header. Accepted when either the body or the redirect passes.
pub fn http01(data: &[u8]) -> bool {
    let body = uca_serve::validate::body_matches(data, KEY_AUTHORIZATION);
    let redirect = match (std::str::from_utf8(data), validator()) {
        (Ok(location), Some(v)) => uca_serve::validate::redirect_target(v, location).is_ok(),
        _ => false,
    };
    body || redirect
}

/// A tls-alpn-01 certificate (DER): `check_certificate` for a DNS and an IP identifier.
pub fn tlsalpn01(data: &[u8]) -> bool {
    use uca_acme::Identifier;
    let dns = Identifier::Dns("alpn.example.org".to_string());
    let ip = Identifier::Ip(std::net::IpAddr::from([192, 0, 2, 7]));
    let by_name = uca_serve::validate::check_certificate(&dns, data, KEY_AUTHORIZATION).is_ok();
    let by_ip = uca_serve::validate::check_certificate(&ip, data, KEY_AUTHORIZATION).is_ok();
    by_name || by_ip
}
