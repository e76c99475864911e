// Structure-aware harnesses: the input is not bytes but a value `arbitrary` builds from them
// (`#[derive(Arbitrary)]`), which the harness turns into a request that gets past the outer
// layers: an ACME request whose JWS is signed by a real key (so its header fields and payload
// reach the handlers), and a CSR built with rcgen and signed by its key (so its names and
// extensions reach `parse_csr` and the order check). Every field has a "right" first variant,
// so short and all-zero inputs make well-formed requests, and each can be made wrong.
// Included together with fuzz/harness/acme_service.rs (which it builds on) by the fuzz targets
// and by the replay test (crates/uca/tests/fuzz_corpus.rs), which decodes the corpus files with
// `arbitrary::Unstructured` as libFuzzer does.

use arbitrary::Arbitrary;

/// The resource a request goes to.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Endpoint {
    NewOrder,
    NewAccount,
    Account,
    KeyChange,
    Finalize,
    Revoke,
    Authz,
    Challenge,
    Order,
}

/// Who signs: the key the resource expects (the account, or for newAccount a new key), or
/// another one.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Signer {
    Right,
    Account,
    NewKey,
    Stranger,
}

/// How the protected header names the key.
#[derive(Debug, Clone, Arbitrary)]
pub enum KeyField {
    Right,
    Kid,
    Jwk,
    KidText(String),
    JwkJson(Json),
    Both,
    Neither,
}

#[derive(Debug, Clone, Arbitrary)]
pub enum AlgField {
    Right,
    Text(String),
    Missing,
    Json(Json),
}

#[derive(Debug, Clone, Arbitrary)]
pub enum NonceField {
    Fresh,
    Text(String),
    Missing,
    Json(Json),
}

#[derive(Debug, Clone, Arbitrary)]
pub enum UrlField {
    Right,
    Path(String),
    Text(String),
    Missing,
}

#[derive(Debug, Clone, Arbitrary)]
pub enum SignatureField {
    Valid,
    FlipBit(u16),
    Empty,
    Text(String),
}

#[derive(Debug, Clone, Arbitrary)]
pub enum ContentType {
    Jose,
    Text(String),
    Missing,
}

/// Any JSON value.
#[derive(Debug, Clone, Arbitrary)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn value(&self) -> serde_json::Value {
        use serde_json::Value as V;
        match self {
            Json::Null => V::Null,
            Json::Bool(b) => V::Bool(*b),
            Json::Int(i) => V::from(*i),
            Json::Float(f) => serde_json::Number::from_f64(*f).map_or(V::Null, V::Number),
            Json::Text(s) => V::String(s.clone()),
            Json::Array(a) => V::Array(a.iter().map(Json::value).collect()),
            Json::Object(o) => V::Object(o.iter().map(|(k, v)| (k.clone(), v.value())).collect()),
        }
    }
}

/// A name: one the template's orders hold, or anything.
#[derive(Debug, Clone, Arbitrary)]
pub enum NameField {
    Ready(bool),
    ReadyIp,
    Pending,
    Text(String),
    Ipv4([u8; 4]),
    Ipv6([u8; 16]),
}

impl NameField {
    pub fn text(&self) -> String {
        match self {
            NameField::Ready(second) => READY_DNS[usize::from(*second)].to_string(),
            NameField::ReadyIp => READY_IP.to_string(),
            NameField::Pending => PENDING_DNS.to_string(),
            NameField::Text(s) => s.clone(),
            NameField::Ipv4(a) => std::net::Ipv4Addr::from(*a).to_string(),
            NameField::Ipv6(a) => std::net::Ipv6Addr::from(*a).to_string(),
        }
    }
}

#[derive(Debug, Clone, Arbitrary)]
pub enum IdKind {
    Right,
    Dns,
    Ip,
    Text(String),
    Missing,
}

#[derive(Debug, Clone, Arbitrary)]
pub struct IdentifierField {
    pub kind: IdKind,
    pub name: NameField,
}

impl IdentifierField {
    fn value(&self) -> serde_json::Value {
        let value = self.name.text();
        let kind = match &self.kind {
            IdKind::Right if value.parse::<std::net::IpAddr>().is_ok() => "ip".to_string(),
            IdKind::Right | IdKind::Dns => "dns".to_string(),
            IdKind::Ip => "ip".to_string(),
            IdKind::Text(t) => t.clone(),
            IdKind::Missing => return serde_json::json!({ "value": value }),
        };
        serde_json::json!({ "type": kind, "value": value })
    }
}

/// A time: seconds from the server's now, as RFC 3339, or any text.
#[derive(Debug, Clone, Arbitrary)]
pub enum TimeField {
    FromNow(i32),
    Text(String),
}

impl TimeField {
    fn value(&self) -> serde_json::Value {
        use time::format_description::well_known::Rfc3339;
        match self {
            TimeField::FromNow(s) => time::OffsetDateTime::from_unix_timestamp(NOW + i64::from(*s))
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok())
                .map_or(serde_json::Value::Null, serde_json::Value::String),
            TimeField::Text(s) => serde_json::Value::String(s.clone()),
        }
    }
}

#[derive(Debug, Clone, Arbitrary)]
pub enum ContactField {
    Mailto(String),
    Text(String),
}

/// An external account binding of `binds`'s key, MACed with the server's EAB key unless
/// `wrong_mac`.
#[derive(Debug, Clone, Arbitrary)]
pub struct EabField {
    pub binds: Signer,
    pub wrong_mac: bool,
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub url: UrlField,
}

/// The inner JWS of a keyChange.
#[derive(Debug, Clone, Arbitrary)]
pub struct InnerField {
    pub signer: Signer,
    pub url: UrlField,
    pub account: Option<String>,
    pub old_key: Option<Signer>,
    pub extra: Vec<(String, Json)>,
}

/// A payload: the members the handlers read, or any JSON, or POST-as-GET, or bytes.
#[derive(Debug, Clone, Arbitrary)]
pub enum Payload {
    Fields(Box<Fields>),
    PostAsGet,
    Json(Json),
    Raw(Vec<u8>),
}

#[derive(Debug, Clone, Arbitrary)]
pub struct Fields {
    pub identifiers: Option<Vec<IdentifierField>>,
    pub csr: Option<CsrSpec>,
    pub certificate: Option<CsrSpec>,
    pub reason: Option<i64>,
    pub status: Option<String>,
    pub terms: Option<bool>,
    pub only_return_existing: Option<bool>,
    pub contact: Option<Vec<ContactField>>,
    pub eab: Option<EabField>,
    pub not_before: Option<TimeField>,
    pub not_after: Option<TimeField>,
    pub replaces: Option<String>,
    pub profile: Option<String>,
    pub inner: Option<InnerField>,
    pub extra: Vec<(String, Json)>,
}

/// One ACME request, field by field.
#[derive(Debug, Clone, Arbitrary)]
pub struct AcmeRequest {
    pub endpoint: Endpoint,
    pub signer: Signer,
    pub key: KeyField,
    pub alg: AlgField,
    pub nonce: NonceField,
    pub url: UrlField,
    pub signature: SignatureField,
    pub content_type: ContentType,
    pub extra_header: Vec<(String, Json)>,
    pub payload: Payload,
}

/// The key a CSR is made with.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum CsrKey {
    EcP256,
    EcP384,
    Ed25519,
    /// The ACME account's own key (finalize must refuse it).
    AccountKey,
}

#[derive(Debug, Clone, Arbitrary)]
pub enum SanField {
    Dns(NameField),
    Ip(NameField),
    Email(String),
    Uri(String),
}

/// A CSR, field by field.
#[derive(Debug, Clone, Arbitrary)]
pub struct CsrSpec {
    pub key: CsrKey,
    pub sans: Vec<SanField>,
    pub common_name: Option<NameField>,
    pub organization: Option<String>,
    pub ca: Option<bool>,
    pub extension: Option<(u16, bool, Vec<u8>)>,
    pub corrupt: Option<u16>,
}

impl CsrSpec {
    fn key_pair(&self) -> Option<rcgen::KeyPair> {
        match self.key {
            CsrKey::EcP256 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).ok(),
            CsrKey::EcP384 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).ok(),
            CsrKey::Ed25519 => rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).ok(),
            CsrKey::AccountKey => {
                let der = Key::pkcs8(&ACCOUNT_SEED);
                rcgen::KeyPair::try_from(der.as_slice()).ok()
            }
        }
    }

    fn params(&self) -> Option<rcgen::CertificateParams> {
        let mut params = rcgen::CertificateParams::default();
        for san in &self.sans {
            let ia5 = |s: String| rcgen::string::Ia5String::try_from(s).ok();
            let entry = match san {
                SanField::Dns(n) => ia5(n.text()).map(rcgen::SanType::DnsName),
                SanField::Ip(n) => n.text().parse().ok().map(rcgen::SanType::IpAddress),
                SanField::Email(s) => ia5(s.clone()).map(rcgen::SanType::Rfc822Name),
                SanField::Uri(s) => ia5(s.clone()).map(rcgen::SanType::URI),
            };
            params.subject_alt_names.extend(entry);
        }
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = &self.common_name {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn.text());
        }
        if let Some(o) = &self.organization {
            params
                .distinguished_name
                .push(rcgen::DnType::OrganizationName, o.clone());
        }
        params.is_ca = match self.ca {
            None => rcgen::IsCa::NoCa,
            Some(false) => rcgen::IsCa::ExplicitNoCa,
            Some(true) => rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained),
        };
        if let Some((arc, critical, content)) = &self.extension {
            let oid = [1, 3, 6, 1, 4, 1, 99999, u64::from(*arc)];
            let mut ext = rcgen::CustomExtension::from_oid_content(&oid, content.clone());
            ext.set_criticality(*critical);
            params.custom_extensions.push(ext);
        }
        Some(params)
    }

    /// The CSR's DER, signed by its key (then one byte changed if `corrupt`).
    pub fn csr_der(&self) -> Option<Vec<u8>> {
        let key = self.key_pair()?;
        let csr = self.params()?.serialize_request(&key).ok()?;
        let mut der: Vec<u8> = csr.der().as_ref().to_vec();
        self.corrupt_in(&mut der);
        Some(der)
    }

    /// A self-signed certificate with the same names and key kind (for revokeCert).
    pub fn certificate_der(&self) -> Option<Vec<u8>> {
        let key = self.key_pair()?;
        let cert = self.params()?.self_signed(&key).ok()?;
        let mut der: Vec<u8> = cert.der().as_ref().to_vec();
        self.corrupt_in(&mut der);
        Some(der)
    }

    fn corrupt_in(&self, der: &mut [u8]) {
        if let Some(at) = self.corrupt
            && !der.is_empty()
        {
            let i = usize::from(at) % der.len();
            der[i] ^= 0x01;
        }
    }
}

fn signer_key<'k>(keys: &'k Keys, signer: Signer, right: &'k Key) -> &'k Key {
    match signer {
        Signer::Right => right,
        Signer::Account => &keys.account,
        Signer::NewKey => &keys.new_key,
        Signer::Stranger => &keys.stranger,
    }
}

fn url_value(field: &UrlField, right_path: &str) -> Option<serde_json::Value> {
    match field {
        UrlField::Right => Some(serde_json::Value::String(format!("{BASE}{right_path}"))),
        UrlField::Path(p) => Some(serde_json::Value::String(format!("{BASE}{p}"))),
        UrlField::Text(t) => Some(serde_json::Value::String(t.clone())),
        UrlField::Missing => None,
    }
}

fn eab_value(eab: &EabField, keys: &Keys, right: &Key) -> serde_json::Value {
    use aws_lc_rs::hmac;
    let mut header = serde_json::json!({
        "alg": eab.alg.clone().unwrap_or_else(|| "HS256".to_string()),
        "kid": eab.kid.clone().unwrap_or_else(|| EAB_KID.to_string()),
    });
    if let Some(url) = url_value(&eab.url, paths::NEW_ACCOUNT) {
        header["url"] = url;
    }
    let jwk = signer_key(keys, eab.binds, right).jwk().to_string();
    let mac_key: &[u8] = if eab.wrong_mac {
        b"not the key"
    } else {
        EAB_KEY
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, mac_key);
    let jws = flattened(&header, jwk.as_bytes(), |m| {
        hmac::sign(&key, m).as_ref().to_vec()
    });
    serde_json::from_slice(&jws).unwrap_or(serde_json::Value::Null)
}

fn inner_value(inner: &InnerField, env: &Env, keys: &Keys) -> Vec<u8> {
    let key = signer_key(keys, inner.signer, &keys.new_key);
    let mut header = serde_json::json!({"alg": "EdDSA", "jwk": key.jwk()});
    if let Some(url) = url_value(&inner.url, paths::KEY_CHANGE) {
        header["url"] = url;
    }
    let mut payload = serde_json::json!({
        "account": inner.account.clone().unwrap_or_else(|| account_url(&env.ids.account)),
        "oldKey": signer_key(keys, inner.old_key.unwrap_or(Signer::Account), &keys.account).jwk(),
    });
    for (k, v) in &inner.extra {
        payload[k.as_str()] = v.value();
    }
    flattened(&header, payload.to_string().as_bytes(), |m| key.sign(m))
}

fn payload_bytes(p: &Payload, env: &Env, keys: &Keys, right: &Key) -> Vec<u8> {
    let f = match p {
        Payload::Fields(f) => f,
        Payload::PostAsGet => return Vec::new(),
        Payload::Json(j) => return j.value().to_string().into_bytes(),
        Payload::Raw(b) => return b.clone(),
    };
    if let Some(inner) = &f.inner {
        return inner_value(inner, env, keys);
    }
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: serde_json::Value| {
        m.insert(k.to_string(), v);
    };
    if let Some(ids) = &f.identifiers {
        put(
            "identifiers",
            serde_json::Value::Array(ids.iter().map(IdentifierField::value).collect()),
        );
    }
    if let Some(der) = f.csr.as_ref().and_then(CsrSpec::csr_der) {
        put("csr", serde_json::Value::String(b64(&der)));
    }
    if let Some(der) = f.certificate.as_ref().and_then(CsrSpec::certificate_der) {
        put("certificate", serde_json::Value::String(b64(&der)));
    }
    if let Some(r) = f.reason {
        put("reason", serde_json::Value::from(r));
    }
    if let Some(s) = &f.status {
        put("status", serde_json::Value::String(s.clone()));
    }
    if let Some(t) = f.terms {
        put("termsOfServiceAgreed", serde_json::Value::Bool(t));
    }
    if let Some(o) = f.only_return_existing {
        put("onlyReturnExisting", serde_json::Value::Bool(o));
    }
    if let Some(c) = &f.contact {
        let list = c
            .iter()
            .map(|c| match c {
                ContactField::Mailto(a) => format!("mailto:{a}"),
                ContactField::Text(t) => t.clone(),
            })
            .map(serde_json::Value::String)
            .collect();
        put("contact", serde_json::Value::Array(list));
    }
    if let Some(e) = &f.eab {
        put("externalAccountBinding", eab_value(e, keys, right));
    }
    if let Some(t) = &f.not_before {
        put("notBefore", t.value());
    }
    if let Some(t) = &f.not_after {
        put("notAfter", t.value());
    }
    if let Some(r) = &f.replaces {
        put("replaces", serde_json::Value::String(r.clone()));
    }
    if let Some(p) = &f.profile {
        put("profile", serde_json::Value::String(p.clone()));
    }
    for (k, v) in &f.extra {
        put(k, v.value());
    }
    serde_json::Value::Object(m).to_string().into_bytes()
}

/// An ACME request built from `req`, sent to its resource on a fresh copy of the template
/// service. Accepted when the handler accepts it.
pub fn acme_request(req: &AcmeRequest) -> bool {
    let (Some(env), Some(keys)) = (Env::new(), keys()) else {
        return false;
    };
    let ids = env.ids.clone();
    let (path, jwk_resource) = match req.endpoint {
        Endpoint::NewOrder => (paths::NEW_ORDER.to_string(), false),
        Endpoint::NewAccount => (paths::NEW_ACCOUNT.to_string(), true),
        Endpoint::Account => (format!("{}{}", paths::ACCOUNT, ids.account), false),
        Endpoint::KeyChange => (paths::KEY_CHANGE.to_string(), false),
        Endpoint::Finalize => (
            format!("{}{}/finalize", paths::ORDER, ids.ready_order),
            false,
        ),
        Endpoint::Revoke => (paths::REVOKE_CERT.to_string(), false),
        Endpoint::Authz => (format!("{}{}", paths::AUTHZ, ids.pending_authz), false),
        Endpoint::Challenge => (
            format!("{}{}", paths::CHALLENGE, ids.pending_challenge),
            false,
        ),
        Endpoint::Order => (format!("{}{}", paths::ORDER, ids.pending_order), false),
    };
    let right = if jwk_resource {
        &keys.stranger
    } else {
        &keys.account
    };
    let key = signer_key(keys, req.signer, right);
    let mut header = serde_json::json!({});
    match &req.alg {
        AlgField::Right => header["alg"] = "EdDSA".into(),
        AlgField::Text(t) => header["alg"] = t.clone().into(),
        AlgField::Missing => {}
        AlgField::Json(j) => header["alg"] = j.value(),
    }
    match &req.nonce {
        NonceField::Fresh => header["nonce"] = env.nonce().into(),
        NonceField::Text(t) => header["nonce"] = t.clone().into(),
        NonceField::Missing => {}
        NonceField::Json(j) => header["nonce"] = j.value(),
    }
    if let Some(url) = url_value(&req.url, &path) {
        header["url"] = url;
    }
    let kid = serde_json::Value::String(account_url(&ids.account));
    match &req.key {
        KeyField::Right if jwk_resource => header["jwk"] = key.jwk(),
        KeyField::Right | KeyField::Kid => header["kid"] = kid,
        KeyField::Jwk => header["jwk"] = key.jwk(),
        KeyField::KidText(t) => header["kid"] = t.clone().into(),
        KeyField::JwkJson(j) => header["jwk"] = j.value(),
        KeyField::Both => {
            header["kid"] = kid;
            header["jwk"] = key.jwk();
        }
        KeyField::Neither => {}
    }
    for (k, v) in &req.extra_header {
        header[k.as_str()] = v.value();
    }
    let payload = payload_bytes(&req.payload, &env, keys, right);
    let mut body = flattened(&header, &payload, |m| match &req.signature {
        SignatureField::Valid | SignatureField::FlipBit(_) => key.sign(m),
        SignatureField::Empty => Vec::new(),
        SignatureField::Text(t) => t.clone().into_bytes(),
    });
    if let SignatureField::FlipBit(at) = req.signature
        && let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body)
        && let Some(sig) = v["signature"].as_str()
        && let Ok(mut raw) = Base64UrlUnpadded::decode_vec(sig)
        && !raw.is_empty()
    {
        let i = usize::from(at) % raw.len();
        raw[i] ^= 0x01;
        v["signature"] = b64(&raw).into();
        body = v.to_string().into_bytes();
    }
    let content_type = match &req.content_type {
        ContentType::Jose => Some("application/jose+json"),
        ContentType::Text(t) => Some(t.as_str()),
        ContentType::Missing => None,
    };
    let post = Post {
        peer: None,
        base: BASE,
        path: &path,
        body: &body,
        content_type,
    };
    let a = &env.acme;
    match req.endpoint {
        Endpoint::NewOrder => a.new_order(&post, NOW).is_ok(),
        Endpoint::NewAccount => a.new_account(&post, NOW).is_ok(),
        Endpoint::Account => a.account(&post, &ids.account, NOW).is_ok(),
        Endpoint::KeyChange => a.key_change(&post, NOW).is_ok(),
        Endpoint::Finalize => matches!(
            a.finalize(&post, &ids.ready_order, NOW),
            Ok(FinalizeStep::Issue(_))
        ),
        Endpoint::Revoke => a.revoke(&post, NOW).is_ok(),
        Endpoint::Authz => a.authz(&post, &ids.pending_authz, NOW).is_ok(),
        Endpoint::Challenge => a.challenge(&post, &ids.pending_challenge, NOW).is_ok(),
        Endpoint::Order => a.order(&post, &ids.pending_order, NOW).is_ok(),
    }
}

/// The ready order's identifiers, as finalize sees them.
fn ready_identifiers() -> Vec<uca_acme::Identifier> {
    let mut ids: Vec<uca_acme::Identifier> = READY_DNS
        .iter()
        .map(|n| uca_acme::Identifier::Dns((*n).to_string()))
        .collect();
    if let Ok(ip) = READY_IP.parse() {
        ids.push(uca_acme::Identifier::Ip(ip));
    }
    ids
}

/// A CSR built from `spec` (rcgen, signed by its key): `parse_csr`, then `check_csr_names`
/// against the ready order. Accepted when the CSR fits the order.
pub fn csr_fields(spec: &CsrSpec) -> bool {
    let Some(der) = spec.csr_der() else {
        return false;
    };
    let Ok(csr) = uca_pki::csr::parse_csr(&der) else {
        return false;
    };
    let _ = csr.public_key.key_type();
    uca_acme::service::check_csr_names(&csr, &ready_identifiers()).is_ok()
}
