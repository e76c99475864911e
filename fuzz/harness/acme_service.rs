// The ACME request handlers driven the way the server drives them (uca-acme's `Acme` over a
// real store), one harness per resource: each fuzz input is a request's payload, which the
// harness signs into a valid JWS (fresh nonce, right URL, the right key) so that the bytes reach
// the handler's own parsing. Every call starts from a copy of one template store, built once per
// process through the same handlers: an account, a pending order (its authorization and
// challenges) and a ready order whose authorizations are valid. Included (`include!`) both by
// the fuzz targets (fuzz/fuzz_targets/acme_*.rs) and by the replay test
// (crates/uca/tests/fuzz_corpus.rs). A panic here is a bug in uca-acme, never in the harness.
// Each returns whether the handler accepted the request, for the replay test's seed counts.
//
// The keys are fixed Ed25519 seeds, so fuzz/seeds/make_seeds.py can sign what the seeds need
// (EAB bindings, keyChange's old key). Object IDs are random per process: a payload's
// `@ACCOUNT@` stands for the account URL (the only ID a payload names).

use std::path::Path;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Value, json};
use uca_acme::model::EabKey;
use uca_acme::service::{ChallengeStep, FinalizeStep, paths};
use uca_acme::store::Commit;
use uca_acme::{Acme, AcmeSettings, Body, EabMode, Post, Reply, Store};

/// The scheme and authority requests are made to.
pub const BASE: &str = "https://ca.fuzz.example:8443";
/// 2026-01-01T00:00:00Z, the server's clock for every request.
pub const NOW: i64 = 1_767_225_600;
/// The account's key, the key keyChange rolls over to, and a key with no account.
const ACCOUNT_SEED: [u8; 32] = [0x11; 32];
const NEW_KEY_SEED: [u8; 32] = [0x22; 32];
const STRANGER_SEED: [u8; 32] = [0x33; 32];
/// The external account key the template store holds (EAB is optional).
pub const EAB_KID: &str = "fuzz-eab";
pub const EAB_KEY: &[u8] = b"uca fuzz external account MAC key, thirty-two bytes or more";
/// In a payload, stands for the account's URL.
const ACCOUNT_PLACEHOLDER: &[u8] = b"@ACCOUNT@";
/// The ready order's identifiers (valid authorizations), and the pending order's name.
const READY_DNS: [&str; 2] = ["fuzz.example.org", "www.fuzz.example.org"];
const READY_IP: &str = "192.0.2.1";
const PENDING_DNS: &str = "pending.fuzz.example.org";

pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// An Ed25519 key with its JWK.
pub struct Key(aws_lc_rs::signature::Ed25519KeyPair);

impl Key {
    fn from_seed(seed: &[u8; 32]) -> Option<Key> {
        aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(seed)
            .ok()
            .map(Key)
    }

    pub fn jwk(&self) -> Value {
        use aws_lc_rs::signature::KeyPair;
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(self.0.public_key().as_ref())})
    }

    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.0.sign(msg).as_ref().to_vec()
    }

    /// The key as unencrypted PKCS#8 v1 DER (RFC 8410), for building CSRs with it.
    pub fn pkcs8(seed: &[u8; 32]) -> Vec<u8> {
        let mut der = vec![
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        der.extend_from_slice(seed);
        der
    }
}

pub struct Keys {
    pub account: Key,
    pub new_key: Key,
    pub stranger: Key,
}

pub fn keys() -> Option<&'static Keys> {
    static KEYS: std::sync::OnceLock<Option<Keys>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        Some(Keys {
            account: Key::from_seed(&ACCOUNT_SEED)?,
            new_key: Key::from_seed(&NEW_KEY_SEED)?,
            stranger: Key::from_seed(&STRANGER_SEED)?,
        })
    })
    .as_ref()
}

/// A flattened JWS of `payload` under `header`.
pub fn flattened(header: &Value, payload: &[u8], sign: impl FnOnce(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let protected = b64(header.to_string().as_bytes());
    let payload = b64(payload);
    let signature = sign(format!("{protected}.{payload}").as_bytes());
    json!({"protected": protected, "payload": payload, "signature": b64(&signature)})
        .to_string()
        .into_bytes()
}

pub fn post<'a>(path: &'a str, body: &'a [u8]) -> Post<'a> {
    Post {
        peer: None,
        base: BASE,
        path,
        body,
        content_type: Some("application/jose+json"),
    }
}

pub fn account_url(id: &str) -> String {
    format!("{BASE}{}{id}", paths::ACCOUNT)
}

/// The IDs of the template's objects.
#[derive(Debug, Clone, Default)]
pub struct Ids {
    pub account: String,
    pub pending_order: String,
    pub pending_authz: String,
    pub pending_challenge: String,
    pub ready_order: String,
}

fn settings() -> AcmeSettings {
    AcmeSettings {
        eab: EabMode::Optional,
        ..AcmeSettings::default()
    }
}

/// A fresh directory for a store: in memory (/dev/shm) where there is one, as fsync is costly.
fn scratch_dir() -> Option<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix("uca-fuzz-acme-");
        b
    };
    if shm.is_dir()
        && let Ok(dir) = builder.tempdir_in(shm)
    {
        return Some(dir);
    }
    builder.tempdir().ok()
}

/// An ACME service over its own copy of the template store.
pub struct Env {
    pub acme: Acme,
    pub ids: Ids,
    _dir: tempfile::TempDir,
}

struct Template {
    files: Vec<(String, Vec<u8>)>,
    ids: Ids,
}

fn template() -> Option<&'static Template> {
    static TEMPLATE: std::sync::OnceLock<Option<Template>> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(build_template).as_ref()
}

fn json_of(reply: &Reply) -> Option<&Value> {
    match &reply.body {
        Body::Json(v) => Some(v),
        _ => None,
    }
}

/// The path of one of the server's URLs, and the ID at its end.
fn path_and_id(url: &str) -> Option<(String, String)> {
    let path = url.strip_prefix(BASE)?.to_string();
    let id = path.rsplit('/').next()?.to_string();
    Some((path, id))
}

impl Env {
    /// A service over a fresh copy of the template.
    pub fn new() -> Option<Env> {
        let t = template()?;
        let dir = scratch_dir()?;
        for (name, bytes) in &t.files {
            std::fs::write(dir.path().join(name), bytes).ok()?;
        }
        let store = Store::open(&Store::path_in(dir.path())).ok()?;
        Some(Env {
            acme: Acme::new(settings(), store).ok()?,
            ids: t.ids.clone(),
            _dir: dir,
        })
    }

    pub fn nonce(&self) -> String {
        self.acme.nonce(NOW).unwrap_or_default()
    }

    /// A request to `path` signed by `key`: as the account (`kid`) or with its `jwk`.
    pub fn request(&self, key: &Key, kid: bool, path: &str, payload: &[u8]) -> Vec<u8> {
        let mut header =
            json!({"alg": "EdDSA", "nonce": self.nonce(), "url": format!("{BASE}{path}")});
        if kid {
            header["kid"] = json!(account_url(&self.ids.account));
        } else {
            header["jwk"] = key.jwk();
        }
        flattened(&header, payload, |m| key.sign(m))
    }

    /// newOrder for `names` (DNS, or IP when they parse as one) by the account: the order's ID
    /// and its authorizations' paths and IDs.
    fn order(&self, key: &Key, names: &[&str]) -> Option<(String, Vec<(String, String)>)> {
        let ids: Vec<Value> = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(_) => json!({"type": "ip", "value": n}),
                Err(_) => json!({"type": "dns", "value": n}),
            })
            .collect();
        let payload = json!({ "identifiers": ids }).to_string();
        let body = self.request(key, true, paths::NEW_ORDER, payload.as_bytes());
        let reply = self
            .acme
            .new_order(&post(paths::NEW_ORDER, &body), NOW)
            .ok()?;
        let (_, order) = path_and_id(reply.location.as_deref()?)?;
        let authzs = json_of(&reply)?["authorizations"]
            .as_array()?
            .iter()
            .filter_map(|u| path_and_id(u.as_str()?))
            .collect();
        Some((order, authzs))
    }

    /// The http-01 challenge of an authorization: its path and ID.
    fn http01(&self, key: &Key, authz: &(String, String)) -> Option<(String, String)> {
        let body = self.request(key, true, &authz.0, b"");
        let reply = self
            .acme
            .authz(&post(&authz.0, &body), &authz.1, NOW)
            .ok()?;
        json_of(&reply)?["challenges"]
            .as_array()?
            .iter()
            .find(|c| c["type"] == "http-01")
            .and_then(|c| path_and_id(c["url"].as_str()?))
    }
}

/// The template store: the EAB key, an account, a pending order and a ready one, each made
/// through the handlers (the ready order's challenges validated as the server records them).
fn build_template() -> Option<Template> {
    let keys = keys()?;
    let dir = scratch_dir()?;
    let path = Store::path_in(dir.path());
    let mut store = Store::open(&path).ok()?;
    store
        .write(Commit::Durable, |tx| {
            tx.insert_eab(&EabKey {
                kid: EAB_KID.to_string(),
                hmac_key: EAB_KEY.to_vec(),
                allow: Vec::new(),
                profiles: Vec::new(),
                created_at: NOW,
                accounts: 0,
            })
        })
        .ok()?;
    let mut env = Env {
        acme: Acme::new(settings(), store).ok()?,
        ids: Ids::default(),
        _dir: dir,
    };
    let body = env.request(
        &keys.account,
        false,
        paths::NEW_ACCOUNT,
        br#"{"termsOfServiceAgreed":true,"contact":["mailto:ops@fuzz.example.org"]}"#,
    );
    let reply = env
        .acme
        .new_account(&post(paths::NEW_ACCOUNT, &body), NOW)
        .ok()?;
    env.ids.account = path_and_id(reply.location.as_deref()?)?.1;
    let (pending_order, authzs) = env.order(&keys.account, &[PENDING_DNS])?;
    let pending_authz = authzs.first()?.clone();
    env.ids.pending_challenge = env.http01(&keys.account, &pending_authz)?.1;
    env.ids.pending_order = pending_order;
    env.ids.pending_authz = pending_authz.1;
    let (ready_order, authzs) =
        env.order(&keys.account, &[READY_DNS[0], READY_DNS[1], READY_IP])?;
    for authz in &authzs {
        let (path, id) = env.http01(&keys.account, authz)?;
        let body = env.request(&keys.account, true, &path, b"{}");
        let ChallengeStep::Validate(job) =
            env.acme.challenge(&post(&path, &body), &id, NOW).ok()?
        else {
            return None;
        };
        env.acme.finish_validation(&job, Ok(()), NOW).ok()?;
    }
    env.ids.ready_order = ready_order;
    let Env {
        acme,
        ids,
        _dir: dir,
    } = env;
    drop(acme);
    let mut files = Vec::new();
    for suffix in ["", "-wal"] {
        let name = format!("acme.sqlite{suffix}");
        if let Ok(bytes) = std::fs::read(dir.path().join(&name)) {
            files.push((name, bytes));
        }
    }
    Some(Template { files, ids })
}

/// `payload` with every `@ACCOUNT@` replaced by the account's URL.
fn with_account(payload: &[u8], ids: &Ids) -> Vec<u8> {
    let url = account_url(&ids.account);
    let mut out = Vec::with_capacity(payload.len());
    let mut rest = payload;
    while !rest.is_empty() {
        if rest.starts_with(ACCOUNT_PLACEHOLDER) {
            out.extend_from_slice(url.as_bytes());
            rest = &rest[ACCOUNT_PLACEHOLDER.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// Runs `f` on a fresh service with the fixed keys.
fn with_env(f: impl FnOnce(&Env, &Keys) -> bool) -> bool {
    match (Env::new(), keys()) {
        (Some(env), Some(keys)) => f(&env, keys),
        _ => false,
    }
}

/// newAccount (§7.3) signed with the `jwk` of a key that has no account yet.
pub fn acme_new_account(data: &[u8]) -> bool {
    with_env(|env, keys| {
        let payload = with_account(data, &env.ids);
        let body = env.request(&keys.stranger, false, paths::NEW_ACCOUNT, &payload);
        env.acme
            .new_account(&post(paths::NEW_ACCOUNT, &body), NOW)
            .is_ok()
    })
}

/// An account update or deactivation (§7.3.2, §7.3.6), by the account.
pub fn acme_account(data: &[u8]) -> bool {
    with_env(|env, keys| {
        let path = format!("{}{}", paths::ACCOUNT, env.ids.account);
        let body = env.request(&keys.account, true, &path, &with_account(data, &env.ids));
        env.acme
            .account(&post(&path, &body), &env.ids.account, NOW)
            .is_ok()
    })
}

/// keyChange (§7.3.5): the input is the inner JWS's payload, signed (with the new key's `jwk`
/// and the right url) into the inner JWS that the account's request carries.
pub fn acme_key_change(data: &[u8]) -> bool {
    with_env(|env, keys| {
        let inner_header = json!({
            "alg": "EdDSA",
            "jwk": keys.new_key.jwk(),
            "url": format!("{BASE}{}", paths::KEY_CHANGE),
        });
        let inner = flattened(&inner_header, &with_account(data, &env.ids), |m| {
            keys.new_key.sign(m)
        });
        let body = env.request(&keys.account, true, paths::KEY_CHANGE, &inner);
        env.acme
            .key_change(&post(paths::KEY_CHANGE, &body), NOW)
            .is_ok()
    })
}

/// newOrder (§7.4), by the account.
pub fn acme_new_order(data: &[u8]) -> bool {
    with_env(|env, keys| {
        let body = env.request(
            &keys.account,
            true,
            paths::NEW_ORDER,
            &with_account(data, &env.ids),
        );
        env.acme
            .new_order(&post(paths::NEW_ORDER, &body), NOW)
            .is_ok()
    })
}

/// finalize (§7.4) of the ready order: the CSR checked against the order and the account.
/// Accepted when the order goes to signing.
pub fn acme_finalize(data: &[u8]) -> bool {
    with_env(|env, keys| {
        let path = format!("{}{}/finalize", paths::ORDER, env.ids.ready_order);
        let body = env.request(&keys.account, true, &path, &with_account(data, &env.ids));
        matches!(
            env.acme
                .finalize(&post(&path, &body), &env.ids.ready_order, NOW),
            Ok(FinalizeStep::Issue(_))
        )
    })
}

/// revokeCert (§7.6), by the account (which holds valid authorizations for the ready order's
/// names).
pub fn acme_revoke(data: &[u8]) -> bool {
    with_env(|env, keys| {
        let body = env.request(
            &keys.account,
            true,
            paths::REVOKE_CERT,
            &with_account(data, &env.ids),
        );
        env.acme
            .revoke(&post(paths::REVOKE_CERT, &body), NOW)
            .is_ok()
    })
}

/// An authorization read or deactivation (§7.5.2), on the pending order's authorization.
pub fn acme_authz(data: &[u8]) -> bool {
    with_env(|env, keys| {
        let path = format!("{}{}", paths::AUTHZ, env.ids.pending_authz);
        let body = env.request(&keys.account, true, &path, &with_account(data, &env.ids));
        env.acme
            .authz(&post(&path, &body), &env.ids.pending_authz, NOW)
            .is_ok()
    })
}

/// A challenge response (§7.5.1) on the pending authorization's http-01 challenge. Accepted
/// when it reads the challenge or hands back a validation job.
pub fn acme_challenge(data: &[u8]) -> bool {
    with_env(|env, keys| {
        let path = format!("{}{}", paths::CHALLENGE, env.ids.pending_challenge);
        let body = env.request(&keys.account, true, &path, &with_account(data, &env.ids));
        env.acme
            .challenge(&post(&path, &body), &env.ids.pending_challenge, NOW)
            .is_ok()
    })
}
