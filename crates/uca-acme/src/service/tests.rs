//! The request handlers driven end to end, the way the server drives them: a real store in a
//! temporary directory, nonces from [`Acme::nonce`], JWSes signed by aws-lc-rs keys, CSRs and
//! certificates made by the `openssl` command.
//!
//! The rule the negative tests hold the service to: every refusal a MUST of RFC 8555 asks for
//! comes back as the right problem type with the right HTTP status, and leaves the store exactly
//! as it was (compared with [`Env::snapshot`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Value, json};
use uca_pki::crl::RevocationReason;

use super::{
    Acme, AcmeSettings, Body, ChallengeStep, EabMode, FinalizeStep, IssueJob, Issued, Post, Reply,
    RevokeJob, ValidationJob, id_after, paths,
};
use crate::jose::Alg;
use crate::jose::test_support::{TestKey, body, jws_with, merge};
use crate::model::{
    Account, AccountStatus, Authz, AuthzStatus, Challenge, ChallengeStatus, EabKey, Order,
    OrderStatus,
};
use crate::policy::{NamePattern as Pattern, NamePolicy};
use crate::problem::{Problem, ProblemType};
use crate::store::{Commit, Store};

const BASE: &str = "https://ca.test:8443";
const JOSE: &str = "application/jose+json";
/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600;
const DAY: i64 = 86_400;
const EAB_KEY: &[u8] = b"an external account MAC key, thirty-two octets or more";

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn post<'a>(path: &'a str, body: &'a [u8]) -> Post<'a> {
    Post {
        peer: None,
        base: BASE,
        path,
        body,
        content_type: Some(JOSE),
    }
}

/// The path of one of this server's URLs.
#[track_caller]
fn path_of(url: &str) -> &str {
    url.strip_prefix(BASE)
        .unwrap_or_else(|| panic!("{url} is not under {BASE}"))
}

#[track_caller]
fn json_of(reply: &Reply) -> &Value {
    match &reply.body {
        Body::Json(v) => v,
        other => panic!("expected a JSON body, got {other:?}"),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Asserts a refusal: its type, its HTTP status, and that the document says the same.
#[track_caller]
fn expect_problem<T: std::fmt::Debug>(
    r: Result<T, Problem>,
    kind: ProblemType,
    status: u16,
) -> Problem {
    match r {
        Ok(v) => panic!("expected {} ({status}), got {v:?}", kind.code()),
        Err(p) => {
            assert_eq!(p.kind, kind, "wrong problem type: {p}");
            assert_eq!(p.http_status(), status, "wrong HTTP status for {p}");
            let doc = p.to_json();
            assert_eq!(doc["type"], kind.urn());
            assert_eq!(doc["status"], status);
            p
        }
    }
}

#[track_caller]
fn validation_job(step: Result<ChallengeStep, Problem>) -> Box<ValidationJob> {
    match step {
        Ok(ChallengeStep::Validate(job)) => job,
        other => panic!("expected a validation job, got {other:?}"),
    }
}

#[track_caller]
fn issue_job(step: Result<FinalizeStep, Problem>) -> Box<IssueJob> {
    match step {
        Ok(FinalizeStep::Issue(job)) => job,
        other => panic!("expected an issue job, got {other:?}"),
    }
}

/// One ACME client: a key and, once registered, its account URL.
struct Client {
    key: TestKey,
    kid: Option<String>,
}

impl Client {
    fn new(key: TestKey) -> Client {
        Client { key, kid: None }
    }

    /// The account ID (after registration).
    fn id(&self) -> &str {
        let kid = self.kid.as_deref().expect("the client has no account");
        id_after(path_of(kid), paths::ACCOUNT).unwrap()
    }

    /// `{alg, nonce, url, kid|jwk}`.
    fn header(&self, nonce: &str, path: &str) -> Value {
        let mut h = json!({
            "alg": self.key.alg().as_str(),
            "nonce": nonce,
            "url": format!("{BASE}{path}"),
        });
        match &self.kid {
            Some(kid) => h["kid"] = json!(kid),
            None => h["jwk"] = self.key.jwk_json(),
        }
        h
    }

    /// A JWS over `payload` with `header`, signed with the client's own algorithm.
    fn sign_raw(&self, header: &Value, payload: &[u8]) -> Vec<u8> {
        body(&jws_with(header, payload, |input| {
            self.key.sign(self.key.alg(), input)
        }))
    }

    /// A request to `path` with a fresh nonce; `extra` is merged into the header (a null
    /// removes a member).
    fn sign_with(&self, env: &Env, path: &str, extra: Value, payload: &[u8]) -> Vec<u8> {
        let mut h = self.header(&env.nonce(), path);
        merge(&mut h, extra);
        self.sign_raw(&h, payload)
    }

    /// A request to `path` carrying a JSON payload.
    fn sign(&self, env: &Env, path: &str, payload: &Value) -> Vec<u8> {
        self.sign_with(env, path, json!({}), payload.to_string().as_bytes())
    }

    /// A POST-as-GET to `path`.
    fn get(&self, env: &Env, path: &str) -> Vec<u8> {
        self.sign_with(env, path, json!({}), b"")
    }
}

/// An ACME service over a fresh store.
struct Env {
    acme: Acme,
    _dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env::with(AcmeSettings {
            eab: EabMode::Off,
            ..AcmeSettings::default()
        })
    }

    fn with(settings: AcmeSettings) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Store::path_in(dir.path())).unwrap();
        Env {
            acme: Acme::new(settings, store).unwrap(),
            _dir: dir,
        }
    }

    /// As on a shared store: validations and finalizations are claimed in the store's rows.
    fn recording_claims() -> Env {
        let env = Env::new();
        Env {
            acme: env.acme.recording_claims(),
            _dir: env._dir,
        }
    }

    fn nonce(&self) -> String {
        self.acme.nonce(NOW).unwrap()
    }

    fn add_eab(&self, kid: &str, allow: &[&str]) {
        let key = EabKey {
            kid: kid.into(),
            hmac_key: EAB_KEY.to_vec(),
            allow: allow.iter().map(ToString::to_string).collect(),
            profiles: Vec::new(),
            created_at: NOW,
            accounts: 0,
        };
        self.acme
            .store()
            .write(Commit::Durable, |tx| tx.insert_eab(&key))
            .unwrap();
    }

    // ---- the store, read back

    /// Everything the store holds, as text: equal snapshots mean nothing changed.
    fn snapshot(&self) -> String {
        let store = self.acme.store();
        let tx = store.read();
        let mut out = format!("{:?}\n{:?}\n", tx.accounts().unwrap(), tx.eabs().unwrap());
        for o in tx.orders().unwrap() {
            out += &format!("{o:?}\n{:?}\n", tx.cert_of_order(&o.id).unwrap());
            for a in tx.authzs_of_order(&o.id).unwrap() {
                out += &format!("  {a:?}\n  {:?}\n", tx.challenges_of(&a.id).unwrap());
            }
        }
        out
    }

    fn accounts(&self) -> Vec<Account> {
        self.acme.store().read().accounts().unwrap()
    }

    fn stored_account(&self, id: &str) -> Account {
        self.acme.store().read().account(id).unwrap().unwrap()
    }

    fn orders(&self) -> Vec<Order> {
        self.acme.store().read().orders().unwrap()
    }

    fn stored_order(&self, id: &str) -> Order {
        self.acme.store().read().order(id).unwrap().unwrap()
    }

    fn stored_authzs(&self, order: &str) -> Vec<Authz> {
        self.acme.store().read().authzs_of_order(order).unwrap()
    }

    fn stored_authz(&self, id: &str) -> Authz {
        self.acme.store().read().authz(id).unwrap().unwrap()
    }

    fn stored_challenge(&self, id: &str) -> Challenge {
        self.acme.store().read().challenge(id).unwrap().unwrap()
    }

    // ---- requests

    fn new_account(&self, c: &Client, payload: &Value) -> Result<Reply, Problem> {
        let b = c.sign(self, paths::NEW_ACCOUNT, payload);
        self.acme.new_account(&post(paths::NEW_ACCOUNT, &b), NOW)
    }

    /// A registered client.
    fn register(&self, key: TestKey) -> Client {
        let mut c = Client::new(key);
        let r = self
            .new_account(&c, &json!({"termsOfServiceAgreed": true}))
            .unwrap();
        assert_eq!(r.status, 201);
        c.kid = Some(r.location.unwrap());
        c
    }

    fn account_req(&self, c: &Client, id: &str, payload: &Value) -> Result<Reply, Problem> {
        let path = format!("{}{id}", paths::ACCOUNT);
        let b = c.sign(self, &path, payload);
        self.acme.account(&post(&path, &b), id, NOW)
    }

    fn new_order(&self, c: &Client, payload: &Value) -> Result<Reply, Problem> {
        let b = c.sign(self, paths::NEW_ORDER, payload);
        self.acme.new_order(&post(paths::NEW_ORDER, &b), NOW)
    }

    /// A new order for DNS names: its ID and its JSON.
    fn order_names(&self, c: &Client, names: &[&str]) -> (String, Value) {
        let ids: Vec<Value> = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(_) => json!({"type": "ip", "value": n}),
                Err(_) => json!({"type": "dns", "value": n}),
            })
            .collect();
        let r = self.new_order(c, &json!({"identifiers": ids})).unwrap();
        assert_eq!(r.status, 201);
        let id = id_after(path_of(r.location.as_deref().unwrap()), paths::ORDER)
            .unwrap()
            .to_string();
        (id, json_of(&r).clone())
    }

    fn get_order(&self, c: &Client, id: &str) -> Result<Reply, Problem> {
        let path = format!("{}{id}", paths::ORDER);
        let b = c.get(self, &path);
        self.acme.order(&post(&path, &b), id, NOW)
    }

    fn orders_list(&self, c: &Client, id: &str, query: &str) -> Result<Reply, Problem> {
        let path = format!("{}{id}/orders{query}", paths::ACCOUNT);
        let b = c.get(self, &path);
        self.acme.orders_list(&post(&path, &b), id, NOW)
    }

    fn get_authz(&self, c: &Client, id: &str) -> Result<Reply, Problem> {
        let path = format!("{}{id}", paths::AUTHZ);
        let b = c.get(self, &path);
        self.acme.authz(&post(&path, &b), id, NOW)
    }

    fn deactivate_authz(&self, c: &Client, id: &str) -> Result<Reply, Problem> {
        let path = format!("{}{id}", paths::AUTHZ);
        let b = c.sign(self, &path, &json!({"status": "deactivated"}));
        self.acme.authz(&post(&path, &b), id, NOW)
    }

    /// POST to a challenge: `None` reads it, `Some(payload)` answers it.
    fn challenge(
        &self,
        c: &Client,
        id: &str,
        payload: Option<&Value>,
    ) -> Result<ChallengeStep, Problem> {
        let path = format!("{}{id}", paths::CHALLENGE);
        let b = match payload {
            Some(p) => c.sign(self, &path, p),
            None => c.get(self, &path),
        };
        self.acme.challenge(&post(&path, &b), id, NOW)
    }

    fn finalize_with(
        &self,
        c: &Client,
        id: &str,
        payload: &Value,
    ) -> Result<FinalizeStep, Problem> {
        let path = format!("{}{id}/finalize", paths::ORDER);
        let b = c.sign(self, &path, payload);
        self.acme.finalize(&post(&path, &b), id, NOW)
    }

    fn finalize(&self, c: &Client, id: &str, csr_der: &[u8]) -> Result<FinalizeStep, Problem> {
        self.finalize_with(c, id, &json!({"csr": b64(csr_der)}))
    }

    fn certificate(&self, c: &Client, id: &str) -> Result<Reply, Problem> {
        let path = format!("{}{id}", paths::CERT);
        let b = c.get(self, &path);
        self.acme.certificate(&post(&path, &b), id, NOW)
    }

    fn revoke(&self, c: &Client, payload: &Value) -> Result<RevokeJob, Problem> {
        let b = c.sign(self, paths::REVOKE_CERT, payload);
        self.acme.revoke(&post(paths::REVOKE_CERT, &b), NOW)
    }

    /// The authorization IDs an order lists, read as a client would.
    fn authz_ids(&self, c: &Client, order: &str) -> Vec<String> {
        let r = self.get_order(c, order).unwrap();
        strings(&json_of(&r)["authorizations"])
            .iter()
            .map(|u| id_after(path_of(u), paths::AUTHZ).unwrap().to_string())
            .collect()
    }

    /// The challenge of an authorization with type `kind`: (ID, token).
    /// Starts an order's first http-01 challenge and fails its validation (the target
    /// refused the connection); returns the order's authorization ID.
    fn fail_http01(&self, c: &Client, order: &str) -> String {
        let authz = self.authz_ids(c, order).remove(0);
        let (ch, _) = self.challenge_of(c, &authz, "http-01");
        let job = validation_job(self.challenge(c, &ch, Some(&json!({}))));
        self.acme
            .finish_validation(
                &job,
                Err(Problem::new(ProblemType::Connection, "refused")),
                NOW,
            )
            .unwrap();
        authz
    }

    fn challenge_of(&self, c: &Client, authz: &str, kind: &str) -> (String, String) {
        let r = self.get_authz(c, authz).unwrap();
        let ch = json_of(&r)["challenges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|ch| ch["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} challenge in {}", json_of(&r)))
            .clone();
        let id = id_after(path_of(ch["url"].as_str().unwrap()), paths::CHALLENGE)
            .unwrap()
            .to_string();
        (id, ch["token"].as_str().unwrap().to_string())
    }

    /// The first challenge an authorization offers: (ID, token).
    fn first_challenge(&self, c: &Client, authz: &str) -> (String, String) {
        let r = self.get_authz(c, authz).unwrap();
        let kind = json_of(&r)["challenges"][0]["type"]
            .as_str()
            .unwrap()
            .to_string();
        self.challenge_of(c, authz, &kind)
    }

    /// Answers one challenge of every authorization of the order and reports success.
    fn validate_all(&self, c: &Client, order: &str) {
        for authz in self.authz_ids(c, order) {
            let (ch, _) = self.first_challenge(c, &authz);
            let job = validation_job(self.challenge(c, &ch, Some(&json!({}))));
            self.acme.finish_validation(&job, Ok(()), NOW).unwrap();
        }
    }

    /// An order for `names` whose authorizations are all valid.
    fn ready_order(&self, c: &Client, names: &[&str]) -> String {
        let (id, _) = self.order_names(c, names);
        self.validate_all(c, &id);
        assert_eq!(self.stored_order(&id).status, OrderStatus::Ready);
        id
    }

    /// Finalizes a ready order with `csr`, signs it with the throwaway CA, records it: the
    /// leaf's DER and serial.
    fn issue(&self, c: &Client, order: &str, ossl: &Ossl, csr: &Csr) -> (Vec<u8>, String) {
        let job = issue_job(self.finalize(c, order, &csr.der));
        let (issued, leaf_der) = ossl.issued(csr);
        let serial = issued.serial.clone();
        let r = self.acme.finish_issue(&job, Ok(issued)).unwrap();
        assert_eq!(json_of(&r)["status"], "valid");
        (leaf_der, serial)
    }
}

// ---- OpenSSL: CSRs, keys a CSR and a JWS share, a throwaway CA

/// A CSR in both encodings.
struct Csr {
    pem: PathBuf,
    der: Vec<u8>,
}

/// A scratch directory with a throwaway CA in it.
struct Ossl {
    dir: tempfile::TempDir,
}

fn run(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

impl Ossl {
    fn new() -> Ossl {
        let o = Ossl {
            dir: tempfile::tempdir().unwrap(),
        };
        let (key, cert) = (o.path("ca.key"), o.path("ca.pem"));
        run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            s(&key),
            "-out",
            s(&cert),
            "-subj",
            "/CN=Throwaway Test CA",
            "-days",
            "2",
        ]);
        o
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn fresh(&self, stem: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        self.path(&format!("{stem}-{}", N.fetch_add(1, Ordering::Relaxed)))
    }

    /// A new P-256 private key (PEM).
    fn ec_key(&self) -> PathBuf {
        let key = self.fresh("key.pem");
        run(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            s(&key),
        ]);
        key
    }

    /// An RSA key of `bits` (PEM).
    fn rsa_key(&self, bits: u32) -> PathBuf {
        let key = self.fresh("rsa.pem");
        let bits = format!("rsa_keygen_bits:{bits}");
        run(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &bits,
            "-out",
            s(&key),
        ]);
        key
    }

    /// The OpenSSL key as a JWS signing key.
    fn test_key(&self, key: &Path) -> TestKey {
        let der = run(&[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            s(key),
            "-outform",
            "DER",
        ]);
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der).unwrap();
        TestKey::Ec(pair, Alg::Es256)
    }

    /// A CSR by `key` with subject CN `cn` (none if `None`) and SANs like `DNS:a.test`.
    fn csr_with(&self, key: &Path, cn: Option<&str>, sans: &[&str]) -> Csr {
        let pem = self.fresh("csr.pem");
        let subj = cn.map_or("/".to_string(), |cn| format!("/CN={cn}"));
        let san = format!("subjectAltName={}", sans.join(","));
        let mut args = vec![
            "req",
            "-new",
            "-key",
            s(key),
            "-subj",
            &subj,
            "-out",
            s(&pem),
        ];
        if !sans.is_empty() {
            args.extend_from_slice(&["-addext", &san]);
        }
        run(&args);
        let der = run(&["req", "-in", s(&pem), "-outform", "DER"]);
        Csr { pem, der }
    }

    /// A CSR with a fresh key, CN the first name, SANs all the names (`DNS:`/`IP:`).
    fn csr(&self, names: &[&str]) -> Csr {
        let sans: Vec<String> = names
            .iter()
            .map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(_) => format!("IP:{n}"),
                Err(_) => format!("DNS:{n}"),
            })
            .collect();
        let sans: Vec<&str> = sans.iter().map(String::as_str).collect();
        self.csr_with(&self.ec_key(), names.first().copied(), &sans)
    }

    /// Signs the CSR with the throwaway CA: what the caller reports to `finish_issue`, and
    /// the leaf's DER.
    fn issued(&self, csr: &Csr) -> (Issued, Vec<u8>) {
        let (chain_pem, leaf_der) = self.sign(&csr.pem);
        let leaf = uca_pki::inspect::parse_certificate(&leaf_der).unwrap();
        let issued = Issued {
            serial: leaf.serial,
            chain_pem,
            not_after: leaf.not_after.unix_timestamp(),
        };
        (issued, leaf_der)
    }

    /// Signs the CSR with the throwaway CA: (leaf + CA PEM, leaf DER).
    fn sign(&self, csr_pem: &Path) -> (String, Vec<u8>) {
        let leaf = self.fresh("leaf.pem");
        run(&[
            "x509",
            "-req",
            "-in",
            s(csr_pem),
            "-CA",
            s(&self.path("ca.pem")),
            "-CAkey",
            s(&self.path("ca.key")),
            "-CAcreateserial",
            "-days",
            "1",
            "-copy_extensions",
            "copy",
            "-out",
            s(&leaf),
        ]);
        let der = run(&["x509", "-in", s(&leaf), "-outform", "DER"]);
        let chain = std::fs::read_to_string(&leaf).unwrap()
            + &std::fs::read_to_string(self.path("ca.pem")).unwrap();
        (chain, der)
    }
}

// ======================================================================== 1. the happy path

#[test]
fn new_account_is_created_once_per_key() {
    let env = Env::new();
    let c = Client::new(TestKey::p256());
    let payload = json!({"termsOfServiceAgreed": true, "contact": ["mailto:ops@example.test"]});
    let r = env.new_account(&c, &payload).unwrap();
    assert_eq!(r.status, 201);
    let url = r.location.clone().unwrap();
    let id = id_after(path_of(&url), paths::ACCOUNT).unwrap().to_string();
    let doc = json_of(&r);
    assert_eq!(doc["status"], "valid");
    assert_eq!(doc["contact"], json!(["mailto:ops@example.test"]));
    assert_eq!(doc["orders"], format!("{url}/orders"));
    assert_eq!(doc["key"], c.key.jwk_json());
    let stored = env.stored_account(&id);
    assert_eq!(stored.thumbprint, c.key.jwk().thumbprint());
    assert_eq!(stored.status, AccountStatus::Valid);
    assert_eq!(stored.eab_kid, None);

    // §7.3.1: the same key again is the same account, 200, whatever the payload says.
    let before = env.snapshot();
    let again = env
        .new_account(&c, &json!({"contact": ["mailto:other@example.test"]}))
        .unwrap();
    assert_eq!(again.status, 200);
    assert_eq!(again.location.as_deref(), Some(url.as_str()));
    assert_eq!(
        json_of(&again)["contact"],
        json!(["mailto:ops@example.test"])
    );
    let existing = env
        .new_account(&c, &json!({"onlyReturnExisting": true}))
        .unwrap();
    assert_eq!(existing.status, 200);
    assert_eq!(existing.location.as_deref(), Some(url.as_str()));
    assert_eq!(env.snapshot(), before);

    // onlyReturnExisting for a key without an account.
    let stranger = Client::new(TestKey::p256());
    expect_problem(
        env.new_account(&stranger, &json!({"onlyReturnExisting": true})),
        ProblemType::AccountDoesNotExist,
        400,
    );
    assert_eq!(env.snapshot(), before);
    assert_eq!(env.accounts().len(), 1);
}

#[test]
fn new_account_refusals_create_nothing() {
    let env = Env::new();
    let c = Client::new(TestKey::p256());
    let before = env.snapshot();
    for (payload, kind) in [
        (
            json!({"contact": ["tel:+15555550100"]}),
            ProblemType::UnsupportedContact,
        ),
        (
            json!({"contact": ["mailto:nobody"]}),
            ProblemType::InvalidContact,
        ),
        (
            json!({"contact": "mailto:a@b.test"}),
            ProblemType::Malformed,
        ),
        (
            json!({"termsOfServiceAgreed": "yes"}),
            ProblemType::Malformed,
        ),
    ] {
        expect_problem(env.new_account(&c, &payload), kind, 400);
        assert_eq!(env.snapshot(), before, "{payload}");
    }
    // A payload that is not an object, and POST-as-GET.
    let b = c.sign_with(&env, paths::NEW_ACCOUNT, json!({}), b"[]");
    expect_problem(
        env.acme.new_account(&post(paths::NEW_ACCOUNT, &b), NOW),
        ProblemType::Malformed,
        400,
    );
    let b = c.get(&env, paths::NEW_ACCOUNT);
    expect_problem(
        env.acme.new_account(&post(paths::NEW_ACCOUNT, &b), NOW),
        ProblemType::Malformed,
        400,
    );
    assert_eq!(env.snapshot(), before);
}

#[test]
fn every_key_type_registers_and_gets_its_key_authorization() {
    for key in [
        TestKey::p256(),
        TestKey::p384(),
        TestKey::p521(),
        TestKey::rsa(),
        TestKey::ed25519(),
    ] {
        let env = Env::new();
        let alg = key.alg();
        let c = env.register(key);
        let (order, doc) = env.order_names(&c, &["app.test"]);
        assert_eq!(doc["status"], "pending", "{alg}");
        let authz = &env.authz_ids(&c, &order)[0];
        let (ch, token) = env.challenge_of(&c, authz, "http-01");
        let job = validation_job(env.challenge(&c, &ch, Some(&json!({}))));
        assert_eq!(
            job.key_authorization,
            format!("{token}.{}", c.key.jwk().thumbprint()),
            "{alg}"
        );
        assert_eq!(job.identifier().value(), "app.test");
        // Claimed in memory: the embedded store keeps it pending meanwhile.
        assert_eq!(env.stored_challenge(&ch).status, ChallengeStatus::Pending);
        env.acme.finish_validation(&job, Ok(()), NOW).unwrap();
        assert_eq!(env.stored_order(&order).status, OrderStatus::Ready, "{alg}");
    }
}

#[test]
fn new_order_offers_the_challenges_each_identifier_allows() {
    let env = Env::new();
    let c = env.register(TestKey::p256());
    let types = |authz: &str| -> (Value, Vec<String>) {
        let r = env.get_authz(&c, authz).unwrap();
        let doc = json_of(&r).clone();
        let kinds = doc["challenges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|ch| {
                assert_eq!(ch["status"], "pending");
                assert!(ch["token"].as_str().unwrap().len() >= 22);
                ch["type"].as_str().unwrap().to_string()
            })
            .collect();
        (doc, kinds)
    };

    let (order, doc) = env.order_names(&c, &["b.app.test", "a.app.test"]);
    assert_eq!(doc["status"], "pending");
    assert_eq!(
        doc["finalize"],
        format!("{BASE}/acme/order/{order}/finalize")
    );
    assert_eq!(doc["authorizations"].as_array().unwrap().len(), 2);
    assert!(doc.get("certificate").is_none());
    let mut names = Vec::new();
    for authz in env.authz_ids(&c, &order) {
        let (adoc, kinds) = types(&authz);
        assert_eq!(adoc["status"], "pending");
        assert!(adoc.get("wildcard").is_none());
        assert_eq!(kinds, ["http-01", "dns-01", "tls-alpn-01"]);
        names.push(adoc["identifier"]["value"].as_str().unwrap().to_string());
    }
    names.sort();
    assert_eq!(names, ["a.app.test", "b.app.test"]);

    // §7.1.3: a wildcard's authorization is for the base name, wildcard: true, dns-01 only.
    let (order, doc) = env.order_names(&c, &["*.wild.test"]);
    assert_eq!(
        doc["identifiers"],
        json!([{"type": "dns", "value": "*.wild.test"}])
    );
    let (adoc, kinds) = types(&env.authz_ids(&c, &order)[0]);
    assert_eq!(
        adoc["identifier"],
        json!({"type": "dns", "value": "wild.test"})
    );
    assert_eq!(adoc["wildcard"], true);
    assert_eq!(kinds, ["dns-01"]);

    // RFC 8738 §7: an IP address never by dns-01.
    let (order, _) = env.order_names(&c, &["10.0.0.7"]);
    let (adoc, kinds) = types(&env.authz_ids(&c, &order)[0]);
    assert_eq!(
        adoc["identifier"],
        json!({"type": "ip", "value": "10.0.0.7"})
    );
    assert_eq!(kinds, ["http-01", "tls-alpn-01"]);
}

#[test]
fn an_order_goes_from_pending_to_a_downloadable_certificate() {
    let env = Env::new();
    let ossl = Ossl::new();
    let c = env.register(TestKey::p256());
    let (order, _) = env.order_names(&c, &["www.app.test", "app.test"]);
    let authzs = env.authz_ids(&c, &order);

    // One authorization valid: still pending.
    let (ch, token) = env.challenge_of(&c, &authzs[0], "http-01");
    let job = validation_job(env.challenge(&c, &ch, Some(&json!({}))));
    assert_eq!(
        job.key_authorization,
        format!("{token}.{}", c.key.jwk().thumbprint())
    );
    let r = env.acme.finish_validation(&job, Ok(()), NOW).unwrap();
    assert_eq!(json_of(&r)["status"], "valid");
    assert!(json_of(&r)["validated"].is_string());
    assert_eq!(
        r.links,
        [(format!("{BASE}/acme/authz/{}", authzs[0]), "up")]
    );
    assert_eq!(env.stored_authz(&authzs[0]).status, AuthzStatus::Valid);
    assert_eq!(
        json_of(&env.get_order(&c, &order).unwrap())["status"],
        "pending"
    );

    // A request on a challenge that is no longer pending changes nothing (§7.5.1).
    let before = env.snapshot();
    match env.challenge(&c, &ch, Some(&json!({}))).unwrap() {
        ChallengeStep::Reply(r) => assert_eq!(json_of(&r)["status"], "valid"),
        other => panic!("a valid challenge was validated again: {other:?}"),
    }
    assert_eq!(env.snapshot(), before);

    // The other: ready.
    let (ch, _) = env.challenge_of(&c, &authzs[1], "tls-alpn-01");
    let job = validation_job(env.challenge(&c, &ch, Some(&json!({}))));
    env.acme.finish_validation(&job, Ok(()), NOW).unwrap();
    assert_eq!(
        json_of(&env.get_order(&c, &order).unwrap())["status"],
        "ready"
    );

    // Finalize: processing until the caller reports the certificate.
    let csr = ossl.csr(&["app.test", "www.app.test"]);
    let job = issue_job(env.finalize(&c, &order, &csr.der));
    assert_eq!(job.order.id, order);
    assert_eq!(job.not_before, NOW);
    assert_eq!(job.not_after, NOW + 90 * DAY);
    // The embedded store keeps it ready: the claim is in memory (see
    // on_the_embedded_store_validations_and_signings_are_claimed_in_memory).
    assert_eq!(env.stored_order(&order).status, OrderStatus::Ready);
    let r = env.get_order(&c, &order).unwrap();
    assert_eq!(json_of(&r)["status"], "processing");
    assert_eq!(r.retry_after, Some(1));

    let (issued, _) = ossl.issued(&csr);
    let (serial, chain_pem) = (issued.serial.clone(), issued.chain_pem.clone());
    let r = env.acme.finish_issue(&job, Ok(issued)).unwrap();
    let cert_url = format!("{BASE}/acme/cert/{order}");
    assert_eq!(json_of(&r)["status"], "valid");
    assert_eq!(json_of(&r)["certificate"], cert_url);
    let stored = env.stored_order(&order);
    assert_eq!(stored.status, OrderStatus::Valid);
    assert_eq!(stored.certificate.as_deref(), Some(serial.as_str()));
    assert_eq!(
        json_of(&env.get_order(&c, &order).unwrap())["certificate"],
        cert_url
    );

    let r = env
        .certificate(&c, id_after(path_of(&cert_url), paths::CERT).unwrap())
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, Body::PemChain(chain_pem));

    let r = env.orders_list(&c, c.id(), "").unwrap();
    assert_eq!(
        json_of(&r),
        &json!({"orders": [format!("{BASE}/acme/order/{order}")]})
    );
    assert!(r.links.is_empty());
}

#[test]
fn orders_list_pages_with_a_next_link_and_leaves_out_invalid_orders() {
    let env = Env::with(AcmeSettings {
        eab: EabMode::Off,
        orders_page: 2,
        ..AcmeSettings::default()
    });
    let c = env.register(TestKey::p256());
    let mut made: Vec<String> = ["a.test", "b.test", "c.test"]
        .iter()
        .map(|n| env.order_names(&c, &[n]).0)
        .collect();
    // An invalid order is not listed (§7.1.2.1).
    let (dead, _) = env.order_names(&c, &["dead.test"]);
    let authz = &env.authz_ids(&c, &dead)[0];
    env.deactivate_authz(&c, authz).unwrap();
    assert_eq!(env.stored_order(&dead).status, OrderStatus::Invalid);

    let first = env.orders_list(&c, c.id(), "").unwrap();
    let mut listed = strings(&json_of(&first)["orders"]);
    assert_eq!(listed.len(), 2);
    let next = format!("{BASE}/acme/acct/{}/orders?cursor=1", c.id());
    assert_eq!(first.links, [(next.clone(), "next")]);
    let query = path_of(&next)
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap();
    let second = env.orders_list(&c, c.id(), &query).unwrap();
    let rest = strings(&json_of(&second)["orders"]);
    assert_eq!(rest.len(), 1);
    assert!(second.links.is_empty());
    listed.extend(rest);
    listed.sort();
    made.sort();
    let want: Vec<String> = made
        .iter()
        .map(|id| format!("{BASE}/acme/order/{id}"))
        .collect();
    assert_eq!(listed, want);

    expect_problem(
        env.orders_list(&c, c.id(), "?page=2"),
        ProblemType::Malformed,
        400,
    );
}

// ======================================================================== 2. nonces

#[test]
fn nonces_are_single_use_and_must_be_ours() {
    let owned = Env::new();
    let env = &owned;
    let c = env.register(TestKey::p256());
    let payload = json!({"identifiers": [{"type": "dns", "value": "app.test"}]}).to_string();
    let with_nonce = |nonce: Value| {
        let b = c.sign_with(
            env,
            paths::NEW_ORDER,
            json!({"nonce": nonce}),
            payload.as_bytes(),
        );
        move |at: i64| env.acme.new_order(&post(paths::NEW_ORDER, &b), at)
    };

    let used = env.nonce();
    let send = with_nonce(json!(used));
    assert_eq!(send(NOW).unwrap().status, 201);
    let before = env.snapshot();
    // The very same request again: a replay.
    let p = expect_problem(send(NOW), ProblemType::BadNonce, 400);
    assert!(p.detail.contains("Replay-Nonce"), "{p}");
    assert_eq!(env.snapshot(), before);

    for nonce in [json!("AAAAAAAAAAAAAAAAAAAAAA"), json!("made-up"), json!("")] {
        expect_problem(with_nonce(nonce)(NOW), ProblemType::BadNonce, 400);
        assert_eq!(env.snapshot(), before);
    }
    // Missing.
    let b = c.sign_with(
        env,
        paths::NEW_ORDER,
        json!({"nonce": null}),
        payload.as_bytes(),
    );
    expect_problem(
        env.acme.new_order(&post(paths::NEW_ORDER, &b), NOW),
        ProblemType::BadNonce,
        400,
    );
    // Expired: issued at NOW, an hour and a bit later.
    let old = env.nonce();
    expect_problem(
        with_nonce(json!(old))(NOW + 3601),
        ProblemType::BadNonce,
        400,
    );
    assert_eq!(env.snapshot(), before);

    // newAccount too: a missing nonce registers nothing.
    let stranger = Client::new(TestKey::p256());
    let b = stranger.sign_with(env, paths::NEW_ACCOUNT, json!({"nonce": null}), b"{}");
    expect_problem(
        env.acme.new_account(&post(paths::NEW_ACCOUNT, &b), NOW),
        ProblemType::BadNonce,
        400,
    );
    assert_eq!(env.snapshot(), before);
}

// ======================================================================== 3. url

#[test]
fn the_signed_url_must_be_the_request_url() {
    let env = Env::new();
    let c = env.register(TestKey::p256());
    let payload = br#"{"identifiers":[{"type":"dns","value":"app.test"}]}"#;
    let before = env.snapshot();
    for url in [
        format!("{BASE}{}", paths::NEW_ACCOUNT),
        format!("https://ca.test{}", paths::NEW_ORDER),
        format!("{BASE}{}?x=1", paths::NEW_ORDER),
        format!("{BASE}{}/", paths::NEW_ORDER),
    ] {
        let b = c.sign_with(&env, paths::NEW_ORDER, json!({"url": url}), payload);
        expect_problem(
            env.acme.new_order(&post(paths::NEW_ORDER, &b), NOW),
            ProblemType::Unauthorized,
            403,
        );
    }
    let b = c.sign_with(&env, paths::NEW_ORDER, json!({"url": null}), payload);
    expect_problem(
        env.acme.new_order(&post(paths::NEW_ORDER, &b), NOW),
        ProblemType::Malformed,
        400,
    );
    // newAccount signed for another resource registers nothing.
    let stranger = Client::new(TestKey::p256());
    let b = stranger.sign_with(
        &env,
        paths::NEW_ACCOUNT,
        json!({"url": format!("{BASE}{}", paths::NEW_ORDER)}),
        b"{}",
    );
    expect_problem(
        env.acme.new_account(&post(paths::NEW_ACCOUNT, &b), NOW),
        ProblemType::Unauthorized,
        403,
    );
    assert_eq!(env.snapshot(), before);
}

// ======================================================================== 4. algorithms

#[track_caller]
fn bad_alg(r: Result<Reply, Problem>) {
    let p = expect_problem(r, ProblemType::BadSignatureAlgorithm, 400);
    let doc = p.to_json();
    let algs = strings(&doc["algorithms"]);
    assert!(algs.contains(&"ES256".to_string()), "{doc}");
    assert!(algs.contains(&"EdDSA".to_string()), "{doc}");
    assert!(
        !algs.iter().any(|a| a == "none" || a.starts_with("HS")),
        "{doc}"
    );
}

#[test]
fn refused_algorithms_are_bad_signature_algorithm_with_the_accepted_list() {
    let env = Env::new();
    let before = env.snapshot();
    let key = TestKey::p256();
    let new_account = |header: &Value, sig: &dyn Fn(&[u8]) -> Vec<u8>| {
        let b = body(&jws_with(header, b"{}", sig));
        env.acme.new_account(&post(paths::NEW_ACCOUNT, &b), NOW)
    };
    let header = |alg: &str, jwk: Value| json!({"alg": alg, "nonce": env.nonce(), "url": format!("{BASE}{}", paths::NEW_ACCOUNT), "jwk": jwk});
    bad_alg(new_account(&header("none", key.jwk_json()), &|_| {
        Vec::new()
    }));
    bad_alg(new_account(&header("HS256", key.jwk_json()), &|input| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"secret"), input)
            .as_ref()
            .to_vec()
    }));
    // Names are case-sensitive.
    bad_alg(new_account(&header("es256", key.jwk_json()), &|input| {
        key.sign(Alg::Es256, input)
    }));
    // ES256 named, a P-384 key (signing correctly for its own curve).
    let p384 = TestKey::p384();
    bad_alg(new_account(&header("ES256", p384.jwk_json()), &|input| {
        p384.sign(Alg::Es384, input)
    }));
    // RS256 named, an EC key.
    bad_alg(new_account(&header("RS256", key.jwk_json()), &|input| {
        key.sign(Alg::Es256, input)
    }));
    assert_eq!(env.snapshot(), before);

    // With a kid: the account's key decides.
    let c = env.register(TestKey::p256());
    let before = env.snapshot();
    let b = c.sign_with(&env, paths::NEW_ORDER, json!({"alg": "ES384"}), b"{}");
    bad_alg(env.acme.new_order(&post(paths::NEW_ORDER, &b), NOW));
    assert_eq!(env.snapshot(), before);
}

// ======================================================================== 5. jwk and kid

#[test]
fn jwk_and_kid_are_used_where_they_belong() {
    let env = Env::new();
    let a = env.register(TestKey::p256());
    let b = env.register(TestKey::p256());
    let ed = env.register(TestKey::ed25519());
    let order = br#"{"identifiers":[{"type":"dns","value":"app.test"}]}"#;
    let before = env.snapshot();
    let new_order = |body: Vec<u8>| env.acme.new_order(&post(paths::NEW_ORDER, &body), NOW);
    let new_account = |body: Vec<u8>| env.acme.new_account(&post(paths::NEW_ACCOUNT, &body), NOW);

    // Both, and neither (§6.2: exactly one).
    let both = a.sign_with(
        &env,
        paths::NEW_ORDER,
        json!({"jwk": a.key.jwk_json()}),
        order,
    );
    expect_problem(new_order(both), ProblemType::Malformed, 400);
    let neither = a.sign_with(&env, paths::NEW_ORDER, json!({"kid": null}), order);
    expect_problem(new_order(neither), ProblemType::Malformed, 400);
    let fresh = Client::new(TestKey::p256());
    let both = fresh.sign_with(&env, paths::NEW_ACCOUNT, json!({"kid": a.kid}), b"{}");
    expect_problem(new_account(both), ProblemType::Malformed, 400);
    let neither = fresh.sign_with(&env, paths::NEW_ACCOUNT, json!({"jwk": null}), b"{}");
    expect_problem(new_account(neither), ProblemType::Malformed, 400);

    // newAccount takes a jwk; a kid there is refused even for a real account.
    let kid_account = a.sign(&env, paths::NEW_ACCOUNT, &json!({}));
    expect_problem(new_account(kid_account), ProblemType::Malformed, 400);
    // newOrder takes a kid; the account's own key as a jwk is refused.
    let jwk_order = a.sign_with(
        &env,
        paths::NEW_ORDER,
        json!({"kid": null, "jwk": a.key.jwk_json()}),
        order,
    );
    expect_problem(new_order(jwk_order), ProblemType::Malformed, 400);

    // A's kid, B's signature: the signature does not verify with A's key.
    let forged = Client {
        key: TestKey::p256(),
        kid: a.kid.clone(),
    };
    expect_problem(
        new_order(forged.sign_with(&env, paths::NEW_ORDER, json!({}), order)),
        ProblemType::Malformed,
        400,
    );
    let header = a.header(&env.nonce(), paths::NEW_ORDER);
    let forged = body(&jws_with(&header, order, |input| {
        b.key.sign(Alg::Es256, input)
    }));
    expect_problem(new_order(forged), ProblemType::Malformed, 400);
    // An Ed25519 account's signature under A's kid: EdDSA does not fit A's P-256 key.
    let mut header = a.header(&env.nonce(), paths::NEW_ORDER);
    header["alg"] = json!("EdDSA");
    let forged = body(&jws_with(&header, order, |input| {
        ed.key.sign(Alg::EdDsa, input)
    }));
    expect_problem(new_order(forged), ProblemType::BadSignatureAlgorithm, 400);
    assert_eq!(env.snapshot(), before);

    // A kid that is not one of our account URLs, or an account that does not exist.
    for kid in [
        "https://elsewhere.test/acme/acct/x".to_string(),
        format!("{BASE}/acme/acct/"),
        format!("{BASE}/acme/acct/a/b"),
        format!("{BASE}/acme/acct/nonexistent"),
        format!("{BASE}/acme/order/{}", a.id()),
    ] {
        let c = Client {
            key: TestKey::p256(),
            kid: Some(kid.clone()),
        };
        expect_problem(
            new_order(c.sign_with(&env, paths::NEW_ORDER, json!({}), order)),
            ProblemType::AccountDoesNotExist,
            400,
        );
    }
    assert_eq!(env.snapshot(), before);
    assert!(env.orders().is_empty());
}

// ======================================================================== 6. content type

#[test]
fn the_content_type_must_be_application_jose_json() {
    let env = Env::new();
    let c = Client::new(TestKey::p256());
    let before = env.snapshot();
    for ct in [Some("application/json"), Some("text/plain"), Some(""), None] {
        let b = c.sign(&env, paths::NEW_ACCOUNT, &json!({}));
        let p = Post {
            content_type: ct,
            ..post(paths::NEW_ACCOUNT, &b)
        };
        expect_problem(env.acme.new_account(&p, NOW), ProblemType::Malformed, 415);
    }
    assert_eq!(env.snapshot(), before);
    // Parameters and case do not matter.
    let b = c.sign(&env, paths::NEW_ACCOUNT, &json!({}));
    let p = Post {
        content_type: Some("Application/JOSE+JSON; charset=utf-8"),
        ..post(paths::NEW_ACCOUNT, &b)
    };
    assert_eq!(env.acme.new_account(&p, NOW).unwrap().status, 201);
}

// ======================================================================== 7. CSRs

#[test]
fn finalize_refuses_bad_csrs_and_leaves_the_order_ready() {
    let env = Env::new();
    let ossl = Ossl::new();
    // An account whose key OpenSSL made, so a CSR can carry it.
    let account_key = ossl.ec_key();
    let c = env.register(ossl.test_key(&account_key));
    let other_key = ossl.ec_key();
    let _other = env.register(ossl.test_key(&other_key));
    let order = env.ready_order(&c, &["app.test", "www.app.test"]);
    let before = env.snapshot();
    let both = ["DNS:app.test", "DNS:www.app.test"];
    let fresh = ossl.ec_key();

    let cases: Vec<(&str, Csr)> = vec![
        (
            "this account's key",
            ossl.csr_with(&account_key, Some("app.test"), &both),
        ),
        (
            "another account's key",
            ossl.csr_with(&other_key, Some("app.test"), &both),
        ),
        (
            "an extra SAN",
            ossl.csr_with(
                &fresh,
                Some("app.test"),
                &["DNS:app.test", "DNS:www.app.test", "DNS:evil.test"],
            ),
        ),
        (
            "a missing name",
            ossl.csr_with(&fresh, Some("app.test"), &["DNS:app.test"]),
        ),
        (
            "a CN outside the order",
            ossl.csr_with(&fresh, Some("evil.test"), &both),
        ),
        (
            "an IP SAN not ordered",
            ossl.csr_with(
                &fresh,
                None,
                &["DNS:app.test", "DNS:www.app.test", "IP:10.0.0.1"],
            ),
        ),
        (
            "an email SAN",
            ossl.csr_with(
                &fresh,
                None,
                &["DNS:app.test", "DNS:www.app.test", "email:a@app.test"],
            ),
        ),
        (
            "a CN only, two names ordered",
            ossl.csr_with(&fresh, Some("app.test"), &[]),
        ),
        (
            "an RSA-1024 key",
            ossl.csr_with(&ossl.rsa_key(1024), Some("app.test"), &both),
        ),
    ];
    for (what, csr) in &cases {
        expect_problem(env.finalize(&c, &order, &csr.der), ProblemType::BadCsr, 400);
        assert_eq!(
            env.stored_order(&order).status,
            OrderStatus::Ready,
            "{what}"
        );
        assert_eq!(env.snapshot(), before, "{what}");
    }
    // Not a CSR at all.
    let good = ossl.csr(&["app.test", "www.app.test"]);
    let mut tampered = good.der.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    for (payload, kind) in [
        (json!({"csr": "!!not base64url"}), ProblemType::BadCsr),
        (json!({"csr": b64(&good.der) + "="}), ProblemType::BadCsr),
        (json!({"csr": b64(b"hello")}), ProblemType::BadCsr),
        (json!({"csr": b64(&tampered)}), ProblemType::BadCsr),
        (
            json!({"csr": b64(&good.der[..good.der.len() - 10])}),
            ProblemType::BadCsr,
        ),
        (json!({}), ProblemType::Malformed),
        (json!({"csr": 7}), ProblemType::Malformed),
    ] {
        expect_problem(env.finalize_with(&c, &order, &payload), kind, 400);
        assert_eq!(env.snapshot(), before, "{payload}");
    }
    // The order was never touched: a good CSR still finalizes it.
    let job = issue_job(env.finalize(&c, &order, &good.der));
    assert!(!job.csr.spki_der.is_empty());
}

#[test]
fn csr_names_may_differ_in_case_and_order_and_the_cn_is_optional() {
    let env = Env::new();
    let ossl = Ossl::new();
    let c = env.register(TestKey::p256());
    let key = ossl.ec_key();
    let order = env.ready_order(&c, &["app.test", "www.app.test", "10.0.0.7"]);
    let csr = ossl.csr_with(
        &key,
        None,
        &["DNS:WWW.App.Test", "IP:10.0.0.7", "DNS:app.test"],
    );
    issue_job(env.finalize(&c, &order, &csr.der));
    // One name, a CN only.
    let order = env.ready_order(&c, &["solo.test"]);
    let csr = ossl.csr_with(&key, Some("solo.test"), &[]);
    issue_job(env.finalize(&c, &order, &csr.der));
}

// ======================================================================== 8. finalize states

#[test]
fn only_a_ready_order_can_be_finalized() {
    let env = Env::new();
    let ossl = Ossl::new();
    let c = env.register(TestKey::p256());
    let csr = ossl.csr(&["app.test"]);

    // Pending: orderNotReady, 403 (§7.4).
    let (order, _) = env.order_names(&c, &["app.test"]);
    let before = env.snapshot();
    expect_problem(
        env.finalize(&c, &order, &csr.der),
        ProblemType::OrderNotReady,
        403,
    );
    assert_eq!(env.snapshot(), before);
    assert_eq!(env.stored_order(&order).status, OrderStatus::Pending);

    // Processing: a second finalize while the first is being signed.
    env.validate_all(&c, &order);
    let job = issue_job(env.finalize(&c, &order, &csr.der));
    let before = env.snapshot();
    expect_problem(
        env.finalize(&c, &order, &csr.der),
        ProblemType::OrderNotReady,
        403,
    );
    assert_eq!(env.snapshot(), before);

    // Signing failed: back to ready, with the problem for the caller.
    let failure = Problem::internal("the CA is locked");
    let p = env
        .acme
        .finish_issue(&job, Err(failure.clone()))
        .unwrap_err();
    assert_eq!(p, failure);
    assert_eq!(env.stored_order(&order).status, OrderStatus::Ready);

    // Valid: finalizing again is orderNotReady and changes nothing.
    env.issue(&c, &order, &ossl, &csr);
    let before = env.snapshot();
    expect_problem(
        env.finalize(&c, &order, &csr.der),
        ProblemType::OrderNotReady,
        403,
    );
    assert_eq!(env.snapshot(), before);
}

#[test]
fn an_expired_order_becomes_invalid_and_cannot_be_finalized() {
    let env = Env::new();
    let ossl = Ossl::new();
    let c = env.register(TestKey::p256());
    let order = env.ready_order(&c, &["app.test"]);
    let csr = ossl.csr(&["app.test"]);
    let later = NOW + DAY + 1;
    let path = format!("{}{order}/finalize", paths::ORDER);
    let payload = json!({"csr": b64(&csr.der)}).to_string();
    let nonce = env.acme.nonce(later).unwrap();
    let b = c.sign_with(&env, &path, json!({"nonce": nonce}), payload.as_bytes());
    expect_problem(
        env.acme.finalize(&post(&path, &b), &order, later),
        ProblemType::OrderNotReady,
        403,
    );
    let stored = env.stored_order(&order);
    assert_eq!(stored.status, OrderStatus::Invalid);
    assert!(stored.error.is_some());
}

// ======================================================================== 9. other accounts

#[test]
fn another_accounts_resources_are_not_found() {
    let env = Env::new();
    let ossl = Ossl::new();
    let owner = env.register(TestKey::p256());
    let other = env.register(TestKey::rsa());
    let (pending, _) = env.order_names(&owner, &["pending.test"]);
    let order = env.ready_order(&owner, &["app.test"]);
    env.issue(&owner, &order, &ossl, &ossl.csr(&["app.test"]));
    let authz = env.authz_ids(&owner, &pending).remove(0);
    let (chall, _) = env.challenge_of(&owner, &authz, "http-01");
    let before = env.snapshot();

    // §10.5: someone else's resource looks exactly like a nonexistent one.
    let nobody = "AAAAAAAAAAAAAAAAAAAAAA";
    let both = |f: &dyn Fn(&str) -> Result<String, Problem>, id: &str| {
        let theirs = expect_problem(f(id), ProblemType::Malformed, 404);
        let missing = expect_problem(f(nobody), ProblemType::Malformed, 404);
        assert_eq!(theirs.to_json(), missing.to_json());
    };
    let dbg = |r: Result<Reply, Problem>| r.map(|r| format!("{r:?}"));
    both(&|id| dbg(env.get_order(&other, id)), &order);
    both(&|id| dbg(env.get_authz(&other, id)), &authz);
    both(&|id| dbg(env.deactivate_authz(&other, id)), &authz);
    both(
        &|id| env.challenge(&other, id, None).map(|s| format!("{s:?}")),
        &chall,
    );
    both(
        &|id| {
            env.challenge(&other, id, Some(&json!({})))
                .map(|s| format!("{s:?}"))
        },
        &chall,
    );
    both(&|id| dbg(env.certificate(&other, id)), &order);
    let csr = ossl.csr(&["app.test"]);
    both(
        &|id| env.finalize(&other, id, &csr.der).map(|s| format!("{s:?}")),
        &order,
    );
    assert_eq!(env.snapshot(), before);
    assert_eq!(
        env.stored_challenge(&chall).status,
        ChallengeStatus::Pending
    );

    // Listing or changing another account is refused outright.
    expect_problem(
        env.orders_list(&other, owner.id(), ""),
        ProblemType::Unauthorized,
        403,
    );
    expect_problem(
        env.account_req(&other, owner.id(), &json!({"status": "deactivated"})),
        ProblemType::Unauthorized,
        403,
    );
    expect_problem(
        env.account_req(
            &other,
            owner.id(),
            &json!({"contact": ["mailto:x@evil.test"]}),
        ),
        ProblemType::Unauthorized,
        403,
    );
    assert_eq!(env.snapshot(), before);
    assert_eq!(env.stored_account(owner.id()).status, AccountStatus::Valid);
}

#[test]
fn reads_are_post_as_get() {
    let env = Env::new();
    let c = env.register(TestKey::p256());
    let (order, _) = env.order_names(&c, &["app.test"]);
    let authz = env.authz_ids(&c, &order).remove(0);
    let before = env.snapshot();
    let path = format!("{}{order}", paths::ORDER);
    let b = c.sign(&env, &path, &json!({}));
    expect_problem(
        env.acme.order(&post(&path, &b), &order, NOW),
        ProblemType::Malformed,
        400,
    );
    let path = format!("{}{}", paths::CERT, order);
    let b = c.sign(&env, &path, &json!({}));
    expect_problem(
        env.acme.certificate(&post(&path, &b), &order, NOW),
        ProblemType::Malformed,
        400,
    );
    let path = format!("{}{}/orders", paths::ACCOUNT, c.id());
    let b = c.sign(&env, &path, &json!({}));
    expect_problem(
        env.acme.orders_list(&post(&path, &b), c.id(), NOW),
        ProblemType::Malformed,
        400,
    );
    // An authorization takes only {"status": "deactivated"}; a challenge only {}.
    let path = format!("{}{authz}", paths::AUTHZ);
    let b = c.sign(&env, &path, &json!({"status": "valid"}));
    expect_problem(
        env.acme.authz(&post(&path, &b), &authz, NOW),
        ProblemType::Malformed,
        400,
    );
    let (chall, _) = env.challenge_of(&c, &authz, "http-01");
    expect_problem(
        env.challenge(&c, &chall, Some(&json!({"keyAuthorization": "x"}))),
        ProblemType::Malformed,
        400,
    );
    assert_eq!(env.snapshot(), before);
}

// ======================================================================== 10. newOrder

#[test]
fn new_order_refusals_create_nothing() {
    let env = Env::new();
    let c = env.register(TestKey::p256());
    let before = env.snapshot();
    let dns = |v: &str| json!({"type": "dns", "value": v});
    let cases = [
        (json!({"identifiers": []}), ProblemType::Malformed),
        (json!({}), ProblemType::Malformed),
        (
            json!({"identifiers": dns("app.test")}),
            ProblemType::Malformed,
        ),
        (
            json!({"identifiers": [{"type": "email", "value": "a@app.test"}]}),
            ProblemType::UnsupportedIdentifier,
        ),
        (
            json!({"identifiers": [dns("app.test"), {"type": "email", "value": "a@app.test"}]}),
            ProblemType::UnsupportedIdentifier,
        ),
        (
            json!({"identifiers": [dns("App.test")]}),
            ProblemType::RejectedIdentifier,
        ),
        (
            json!({"identifiers": [dns("app.test.")]}),
            ProblemType::RejectedIdentifier,
        ),
        (
            json!({"identifiers": [dns("bücher.test")]}),
            ProblemType::RejectedIdentifier,
        ),
        (
            json!({"identifiers": [dns("10.0.0.1")]}),
            ProblemType::RejectedIdentifier,
        ),
        (
            json!({"identifiers": [{"type": "ip", "value": "010.0.0.1"}]}),
            ProblemType::RejectedIdentifier,
        ),
        (
            json!({"identifiers": [dns("app.test")], "notAfter": "2027-02-03T00:00:00Z"}),
            ProblemType::Malformed,
        ),
        (
            json!({"identifiers": [dns("app.test")], "notAfter": "2025-12-31T00:00:00Z"}),
            ProblemType::Malformed,
        ),
        (
            json!({"identifiers": [dns("app.test")], "notBefore": "2025-12-01T00:00:00Z"}),
            ProblemType::Malformed,
        ),
        (
            json!({"identifiers": [dns("app.test")], "notAfter": "tomorrow"}),
            ProblemType::Malformed,
        ),
        (
            json!({"identifiers": [dns("app.test")], "profile": "tlsserver"}),
            ProblemType::InvalidProfile,
        ),
    ];
    for (payload, kind) in cases {
        expect_problem(env.new_order(&c, &payload), kind, 400);
        assert_eq!(env.snapshot(), before, "{payload}");
    }
    // Within max_days: accepted, and the validity is the job's.
    let not_after = "2026-12-31T00:00:00Z";
    let r = env
        .new_order(
            &c,
            &json!({"identifiers": [dns("app.test")], "notAfter": not_after}),
        )
        .unwrap();
    assert_eq!(json_of(&r)["notAfter"], not_after);
}

#[test]
fn too_many_identifiers_are_refused() {
    let env = Env::with(AcmeSettings {
        eab: EabMode::Off,
        max_identifiers: 2,
        ..AcmeSettings::default()
    });
    let c = env.register(TestKey::p256());
    let before = env.snapshot();
    let ids: Vec<Value> = ["a.test", "b.test", "c.test"]
        .iter()
        .map(|n| json!({"type": "dns", "value": n}))
        .collect();
    expect_problem(
        env.new_order(&c, &json!({"identifiers": ids})),
        ProblemType::RejectedIdentifier,
        400,
    );
    assert_eq!(env.snapshot(), before);
}

#[test]
fn policy_refusals_carry_one_subproblem_per_refused_identifier() {
    let env = Env::with(AcmeSettings {
        eab: EabMode::Off,
        policy: NamePolicy {
            allow: vec![
                Pattern::parse("*.corp.test").unwrap(),
                Pattern::parse("10.0.0.0/8").unwrap(),
            ],
            deny: vec![Pattern::parse("db.corp.test").unwrap()],
        },
        ..AcmeSettings::default()
    });
    let c = env.register(TestKey::p256());
    let before = env.snapshot();
    let payload = json!({"identifiers": [
        {"type": "dns", "value": "web.corp.test"},
        {"type": "dns", "value": "db.corp.test"},
        {"type": "dns", "value": "example.org"},
        {"type": "ip", "value": "10.1.2.3"},
        {"type": "ip", "value": "192.0.2.1"},
    ]});
    let p = expect_problem(
        env.new_order(&c, &payload),
        ProblemType::RejectedIdentifier,
        400,
    );
    let mut refused: Vec<String> = p
        .subproblems
        .iter()
        .map(|s| {
            assert_eq!(s.kind, ProblemType::RejectedIdentifier);
            s.identifier.value()
        })
        .collect();
    refused.sort();
    assert_eq!(refused, ["192.0.2.1", "db.corp.test", "example.org"]);
    let doc = p.to_json();
    assert_eq!(doc["subproblems"].as_array().unwrap().len(), 3);
    assert_eq!(env.snapshot(), before);
    // What the policy allows goes through.
    env.order_names(&c, &["web.corp.test", "10.1.2.3"]);
}

#[test]
fn an_external_keys_allow_list_limits_the_names_of_its_accounts() {
    let env = Env::with(AcmeSettings {
        eab: EabMode::Optional,
        ..AcmeSettings::default()
    });
    env.add_eab("team", &["*.team.test"]);
    let mut c = Client::new(TestKey::p256());
    let binding = eab_binding("team", EAB_KEY, &c.key.jwk_json());
    let r = env
        .new_account(&c, &json!({"externalAccountBinding": binding}))
        .unwrap();
    c.kid = r.location;
    let before = env.snapshot();
    let payload = json!({"identifiers": [
        {"type": "dns", "value": "web.team.test"},
        {"type": "dns", "value": "web.other.test"},
    ]});
    let p = expect_problem(
        env.new_order(&c, &payload),
        ProblemType::RejectedIdentifier,
        400,
    );
    assert_eq!(p.subproblems.len(), 1);
    assert_eq!(p.subproblems[0].identifier.value(), "web.other.test");
    assert_eq!(env.snapshot(), before);
    env.order_names(&c, &["web.team.test", "*.team.test"]);
    // An account without a binding is not limited by it.
    let free = env.register(TestKey::p256());
    env.order_names(&free, &["web.other.test"]);
}

#[test]
fn names_outside_the_cas_name_constraints_are_rejected() {
    let env = Env::with(AcmeSettings {
        eab: EabMode::Off,
        constraints: Some(uca_pki::constraints::NameConstraints {
            permitted_dns: vec!["corp.test".into()],
            permitted_ip: vec![uca_pki::constraints::IpNet::parse("10.0.0.0/8").unwrap()],
            excluded_dns: vec!["secret.corp.test".into()],
            excluded_ip: Vec::new(),
        }),
        ..AcmeSettings::default()
    });
    let c = env.register(TestKey::p256());
    let before = env.snapshot();
    let payload = json!({"identifiers": [
        {"type": "dns", "value": "www.corp.test"},
        {"type": "dns", "value": "www.example.test"},
        {"type": "dns", "value": "db.secret.corp.test"},
        // A wildcard whose names would reach into the excluded subtree.
        {"type": "dns", "value": "*.corp.test"},
        {"type": "ip", "value": "192.0.2.1"},
    ]});
    let p = expect_problem(
        env.new_order(&c, &payload),
        ProblemType::RejectedIdentifier,
        400,
    );
    let mut refused: Vec<String> = p.subproblems.iter().map(|s| s.identifier.value()).collect();
    refused.sort();
    assert_eq!(
        refused,
        [
            "*.corp.test",
            "192.0.2.1",
            "db.secret.corp.test",
            "www.example.test"
        ]
    );
    assert_eq!(env.snapshot(), before);
    env.order_names(&c, &["www.corp.test", "*.www.corp.test", "10.0.0.7"]);
}

#[test]
fn an_account_whose_external_key_was_removed_cannot_order() {
    let env = Env::with(AcmeSettings {
        eab: EabMode::Required,
        ..AcmeSettings::default()
    });
    env.add_eab("gone", &[]);
    let mut c = Client::new(TestKey::p256());
    let binding = eab_binding("gone", EAB_KEY, &c.key.jwk_json());
    c.kid = env
        .new_account(&c, &json!({"externalAccountBinding": binding}))
        .unwrap()
        .location;
    env.acme
        .store()
        .write(Commit::Durable, |tx| tx.remove_eab("gone"))
        .unwrap();
    let before = env.snapshot();
    expect_problem(
        env.new_order(
            &c,
            &json!({"identifiers": [{"type": "dns", "value": "app.test"}]}),
        ),
        ProblemType::Unauthorized,
        403,
    );
    assert_eq!(env.snapshot(), before);
}

#[test]
fn the_directory_names_every_resource() {
    let env = Env::with(AcmeSettings::default());
    let r = env.acme.directory(BASE);
    assert_eq!(r.status, 200);
    let doc = json_of(&r);
    for (field, path) in [
        ("newNonce", paths::NEW_NONCE),
        ("newAccount", paths::NEW_ACCOUNT),
        ("newOrder", paths::NEW_ORDER),
        ("revokeCert", paths::REVOKE_CERT),
        ("keyChange", paths::KEY_CHANGE),
        ("renewalInfo", paths::RENEWAL_INFO),
    ] {
        assert_eq!(doc[field], format!("{BASE}{path}"), "{field}");
    }
    assert_eq!(doc["meta"]["externalAccountRequired"], true);
    assert_eq!(
        json_of(&Env::new().acme.directory(BASE))["meta"]["externalAccountRequired"],
        false
    );
}

// ======================================================================== 11. EAB

/// An external account binding of `jwk` (§7.3.4), MACed with HS256.
fn eab_binding(kid: &str, mac_key: &[u8], jwk: &Value) -> Value {
    let header = json!({
        "alg": "HS256",
        "kid": kid,
        "url": format!("{BASE}{}", paths::NEW_ACCOUNT),
    });
    jws_with(&header, jwk.to_string().as_bytes(), |input| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, mac_key), input)
            .as_ref()
            .to_vec()
    })
}

#[test]
fn external_account_binding() {
    let env = Env::with(AcmeSettings {
        eab: EabMode::Required,
        ..AcmeSettings::default()
    });
    env.add_eab("kid-1", &[]);
    let c = Client::new(TestKey::p256());
    let before = env.snapshot();

    // Required, none given.
    expect_problem(
        env.new_account(&c, &json!({"termsOfServiceAgreed": true})),
        ProblemType::ExternalAccountRequired,
        400,
    );
    // An unknown key ID, the wrong MAC key, another key bound, a binding for another URL.
    let jwk = c.key.jwk_json();
    let other = TestKey::p256().jwk_json();
    let wrong_url = jws_with(
        &json!({"alg": "HS256", "kid": "kid-1", "url": format!("{BASE}{}", paths::NEW_ORDER)}),
        jwk.to_string().as_bytes(),
        |input| {
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, EAB_KEY), input)
                .as_ref()
                .to_vec()
        },
    );
    for binding in [
        eab_binding("kid-2", EAB_KEY, &jwk),
        eab_binding("kid-1", b"not the key the operator handed out", &jwk),
        eab_binding("kid-1", EAB_KEY, &other),
        wrong_url,
    ] {
        expect_problem(
            env.new_account(&c, &json!({"externalAccountBinding": binding})),
            ProblemType::Unauthorized,
            403,
        );
        assert_eq!(env.snapshot(), before);
    }
    // Not a binding at all.
    expect_problem(
        env.new_account(&c, &json!({"externalAccountBinding": "kid-1"})),
        ProblemType::Malformed,
        400,
    );
    assert_eq!(env.snapshot(), before);

    // A good one: bound.
    let r = env
        .new_account(
            &c,
            &json!({"externalAccountBinding": eab_binding("kid-1", EAB_KEY, &jwk)}),
        )
        .unwrap();
    assert_eq!(r.status, 201);
    let id = id_after(path_of(r.location.as_deref().unwrap()), paths::ACCOUNT).unwrap();
    assert_eq!(env.stored_account(id).eab_kid.as_deref(), Some("kid-1"));
    assert_eq!(
        env.acme
            .store()
            .read()
            .eab("kid-1")
            .unwrap()
            .unwrap()
            .accounts,
        1
    );

    // Off: a binding is refused, not ignored.
    let off = Env::new();
    off.add_eab("kid-1", &[]);
    let before = off.snapshot();
    expect_problem(
        off.new_account(
            &c,
            &json!({"externalAccountBinding": eab_binding("kid-1", EAB_KEY, &jwk)}),
        ),
        ProblemType::Malformed,
        400,
    );
    assert_eq!(off.snapshot(), before);
}

#[test]
fn the_new_account_reply_reflects_the_external_account_binding() {
    let env = Env::with(AcmeSettings {
        eab: EabMode::Required,
        ..AcmeSettings::default()
    });
    env.add_eab("kid-1", &[]);
    let c = Client::new(TestKey::p256());
    let binding = eab_binding("kid-1", EAB_KEY, &c.key.jwk_json());
    let r = env
        .new_account(&c, &json!({"externalAccountBinding": binding.clone()}))
        .unwrap();
    assert_eq!(r.status, 201);
    // §7.3.4: "The account object the CA returns MUST include an "externalAccountBinding"
    // field with the same value as the field in the request."
    assert_eq!(json_of(&r)["externalAccountBinding"], binding);
}

// ======================================================================== 12. account updates

#[test]
fn account_contact_updates() {
    let env = Env::new();
    let c = env.register(TestKey::ed25519());
    let r = env
        .account_req(&c, c.id(), &json!({"contact": ["mailto:new@example.test"]}))
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.location.as_deref(), c.kid.as_deref());
    assert_eq!(json_of(&r)["contact"], json!(["mailto:new@example.test"]));
    assert_eq!(
        env.stored_account(c.id()).contact,
        ["mailto:new@example.test"]
    );
    // POST-as-GET reads it.
    let path = format!("{}{}", paths::ACCOUNT, c.id());
    let b = c.get(&env, &path);
    let r = env.acme.account(&post(&path, &b), c.id(), NOW).unwrap();
    assert_eq!(json_of(&r)["contact"], json!(["mailto:new@example.test"]));

    let before = env.snapshot();
    for (payload, kind) in [
        (
            json!({"contact": ["tel:+15555550100"]}),
            ProblemType::UnsupportedContact,
        ),
        (
            json!({"contact": ["mailto:a@b.test", "tel:+15555550100"]}),
            ProblemType::UnsupportedContact,
        ),
        (
            json!({"contact": ["mailto:not an address"]}),
            ProblemType::InvalidContact,
        ),
        (json!({"status": "valid"}), ProblemType::Malformed),
        (json!({"status": "revoked"}), ProblemType::Malformed),
        (
            json!({"key": TestKey::p256().jwk_json()}),
            ProblemType::Malformed,
        ),
        (
            json!({"contact": ["mailto:a@b.test"], "orders": "x"}),
            ProblemType::Malformed,
        ),
    ] {
        expect_problem(env.account_req(&c, c.id(), &payload), kind, 400);
        assert_eq!(env.snapshot(), before, "{payload}");
    }
}

/// An account with a pending order, then deactivated.
fn deactivated_account(env: &Env) -> (Client, String) {
    let c = env.register(TestKey::p256());
    let (order, _) = env.order_names(&c, &["app.test", "www.app.test"]);
    let r = env
        .account_req(&c, c.id(), &json!({"status": "deactivated"}))
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(json_of(&r)["status"], "deactivated");
    (c, order)
}

#[test]
fn account_deactivation() {
    let env = Env::new();
    let (c, order) = deactivated_account(&env);
    assert_eq!(
        env.stored_account(c.id()).status,
        AccountStatus::Deactivated
    );
    for a in env.stored_authzs(&order) {
        assert_eq!(a.status, AuthzStatus::Deactivated);
    }
    // Nothing signed by it is accepted any more.
    // (The type; the status RFC 8555 asks for is a_deactivated_accounts_requests_are_401.)
    let before = env.snapshot();
    let p = env
        .new_order(
            &c,
            &json!({"identifiers": [{"type": "dns", "value": "app.test"}]}),
        )
        .unwrap_err();
    assert_eq!(p.kind, ProblemType::Unauthorized);
    let p = env.get_order(&c, &order).unwrap_err();
    assert_eq!(p.kind, ProblemType::Unauthorized);
    let p = env
        .account_req(&c, c.id(), &json!({"contact": ["mailto:a@b.test"]}))
        .unwrap_err();
    assert_eq!(p.kind, ProblemType::Unauthorized);
    assert_eq!(env.snapshot(), before);
    assert_eq!(env.orders().len(), 1);
}

#[test]
fn a_deactivated_accounts_requests_are_401() {
    let env = Env::new();
    let (c, order) = deactivated_account(&env);
    // §7.3.6: "If a server receives a POST or POST-as-GET from a deactivated account, it MUST
    // return an error response with status code 401 (Unauthorized) and type
    // urn:ietf:params:acme:error:unauthorized."
    expect_problem(
        env.new_order(
            &c,
            &json!({"identifiers": [{"type": "dns", "value": "app.test"}]}),
        ),
        ProblemType::Unauthorized,
        401,
    );
    expect_problem(env.get_order(&c, &order), ProblemType::Unauthorized, 401);
}

#[test]
fn new_account_with_a_deactivated_key_is_refused() {
    let env = Env::new();
    let (c, _) = deactivated_account(&env);
    let fresh = Client::new(c.key);
    let before = env.snapshot();
    expect_problem(
        env.new_account(&fresh, &json!({"termsOfServiceAgreed": true})),
        ProblemType::Unauthorized,
        401,
    );
    assert_eq!(env.snapshot(), before);
}

#[test]
fn account_deactivation_invalidates_pending_orders() {
    let env = Env::new();
    let (_, order) = deactivated_account(&env);
    assert_eq!(env.stored_order(&order).status, OrderStatus::Invalid);
}

// ======================================================================== 13. key change

/// The body of a keyChange by `c` to `new`, the inner header and payload adjustable.
fn key_change_body(
    env: &Env,
    c: &Client,
    new: &TestKey,
    inner_extra: Value,
    inner_payload: Value,
) -> Vec<u8> {
    let mut header = json!({
        "alg": new.alg().as_str(),
        "jwk": new.jwk_json(),
        "url": format!("{BASE}{}", paths::KEY_CHANGE),
    });
    merge(&mut header, inner_extra);
    let inner = jws_with(&header, inner_payload.to_string().as_bytes(), |input| {
        new.sign(new.alg(), input)
    });
    c.sign(env, paths::KEY_CHANGE, &inner)
}

fn key_change_payload(c: &Client) -> Value {
    json!({"account": c.kid, "oldKey": c.key.jwk_json()})
}

#[test]
fn key_rollover_moves_the_account_to_the_new_key() {
    let env = Env::new();
    let old = env.register(TestKey::rsa());
    let new_key = TestKey::ed25519();
    let b = key_change_body(&env, &old, &new_key, json!({}), key_change_payload(&old));
    let r = env
        .acme
        .key_change(&post(paths::KEY_CHANGE, &b), NOW)
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.location.as_deref(), old.kid.as_deref());
    assert_eq!(json_of(&r)["key"], new_key.jwk_json());
    assert_eq!(
        env.stored_account(old.id()).thumbprint,
        new_key.jwk().thumbprint()
    );

    // The old key no longer signs for the account.
    let before = env.snapshot();
    let order = json!({"identifiers": [{"type": "dns", "value": "app.test"}]});
    expect_problem(
        env.new_order(&old, &order),
        ProblemType::BadSignatureAlgorithm,
        400,
    );
    assert_eq!(env.snapshot(), before);
    // The new one does.
    let new = Client {
        key: new_key,
        kid: old.kid.clone(),
    };
    assert_eq!(env.new_order(&new, &order).unwrap().status, 201);
    // And its jwk finds the account.
    let lookup = Client::new(new.key);
    let r = env
        .new_account(&lookup, &json!({"onlyReturnExisting": true}))
        .unwrap();
    assert_eq!(r.location, old.kid);
}

#[test]
fn key_rollover_to_another_ec_key_refuses_the_old_signature() {
    let env = Env::new();
    let old = env.register(TestKey::p256());
    let new_key = TestKey::p256();
    let b = key_change_body(&env, &old, &new_key, json!({}), key_change_payload(&old));
    env.acme
        .key_change(&post(paths::KEY_CHANGE, &b), NOW)
        .unwrap();
    // Same algorithm, different key: a bad signature, malformed.
    let before = env.snapshot();
    let order = json!({"identifiers": [{"type": "dns", "value": "app.test"}]});
    expect_problem(env.new_order(&old, &order), ProblemType::Malformed, 400);
    assert_eq!(env.snapshot(), before);
}

#[test]
fn key_change_refusals_keep_the_old_key() {
    let env = Env::new();
    let a = env.register(TestKey::p256());
    let b = env.register(TestKey::p384());
    let new_key = TestKey::p256();
    let before = env.snapshot();
    let key_change = |body: Vec<u8>| env.acme.key_change(&post(paths::KEY_CHANGE, &body), NOW);

    let malformed = [
        // Inner url not the outer one.
        key_change_body(
            &env,
            &a,
            &new_key,
            json!({"url": format!("{BASE}{}", paths::NEW_ACCOUNT)}),
            key_change_payload(&a),
        ),
        key_change_body(
            &env,
            &a,
            &new_key,
            json!({"url": null}),
            key_change_payload(&a),
        ),
        // oldKey not the account's key.
        key_change_body(
            &env,
            &a,
            &new_key,
            json!({}),
            json!({"account": a.kid, "oldKey": TestKey::p256().jwk_json()}),
        ),
        key_change_body(&env, &a, &new_key, json!({}), json!({"account": a.kid})),
        // account not the signer.
        key_change_body(
            &env,
            &a,
            &new_key,
            json!({}),
            json!({"account": b.kid, "oldKey": a.key.jwk_json()}),
        ),
        // The inner JWS names its key by kid.
        key_change_body(
            &env,
            &a,
            &new_key,
            json!({"jwk": null, "kid": a.kid}),
            key_change_payload(&a),
        ),
        // The new key is the current one.
        key_change_body(&env, &a, &a.key, json!({}), key_change_payload(&a)),
        // Not a JWS.
        a.sign(&env, paths::KEY_CHANGE, &json!({"account": a.kid})),
    ];
    for body in malformed {
        expect_problem(key_change(body), ProblemType::Malformed, 400);
        assert_eq!(env.snapshot(), before);
    }
    // The inner JWS not signed by the key it carries.
    let header = json!({"alg": "ES256", "jwk": new_key.jwk_json(), "url": format!("{BASE}{}", paths::KEY_CHANGE)});
    let liar = TestKey::p256();
    let inner = jws_with(
        &header,
        key_change_payload(&a).to_string().as_bytes(),
        |input| liar.sign(Alg::Es256, input),
    );
    expect_problem(
        key_change(a.sign(&env, paths::KEY_CHANGE, &inner)),
        ProblemType::Malformed,
        400,
    );
    assert_eq!(env.snapshot(), before);

    // The new key belongs to B: 409.
    let p = expect_problem(
        key_change(key_change_body(
            &env,
            &a,
            &b.key,
            json!({}),
            key_change_payload(&a),
        )),
        ProblemType::Malformed,
        409,
    );
    assert_eq!(p.location.as_deref(), b.kid.as_deref(), "{p}");
    assert_eq!(env.snapshot(), before);
    // Signed by a jwk rather than the account: refused.
    let outer = a.sign_with(
        &env,
        paths::KEY_CHANGE,
        json!({"kid": null, "jwk": a.key.jwk_json()}),
        b"{}",
    );
    expect_problem(key_change(outer), ProblemType::Malformed, 400);
    assert_eq!(env.snapshot(), before);
}

// ======================================================================== 14. authz deactivation

#[test]
fn deactivating_an_authorization_invalidates_its_order() {
    let env = Env::new();
    let c = env.register(TestKey::p256());
    let (order, _) = env.order_names(&c, &["app.test", "www.app.test"]);
    let authzs = env.authz_ids(&c, &order);
    let r = env.deactivate_authz(&c, &authzs[0]).unwrap();
    assert_eq!(json_of(&r)["status"], "deactivated");
    assert_eq!(
        env.stored_authz(&authzs[0]).status,
        AuthzStatus::Deactivated
    );
    assert_eq!(env.stored_authz(&authzs[1]).status, AuthzStatus::Pending);
    let doc = json_of(&env.get_order(&c, &order).unwrap()).clone();
    assert_eq!(doc["status"], "invalid");
    assert!(doc["error"]["type"].is_string(), "{doc}");

    // Deactivated is final: again is refused, and its challenges cannot be started.
    let before = env.snapshot();
    expect_problem(
        env.deactivate_authz(&c, &authzs[0]),
        ProblemType::Malformed,
        400,
    );
    let (chall, _) = env.challenge_of(&c, &authzs[0], "http-01");
    match env.challenge(&c, &chall, Some(&json!({}))) {
        Ok(ChallengeStep::Reply(r)) => assert_eq!(json_of(&r)["status"], "pending"),
        Err(_) => {}
        Ok(other) => panic!("a deactivated authorization's challenge was started: {other:?}"),
    }
    assert_eq!(env.snapshot(), before);
}

#[test]
fn deactivating_a_valid_authorization_of_a_ready_order_invalidates_it() {
    let env = Env::new();
    let c = env.register(TestKey::p256());
    let order = env.ready_order(&c, &["app.test"]);
    let authz = env.authz_ids(&c, &order).remove(0);
    env.deactivate_authz(&c, &authz).unwrap();
    assert_eq!(env.stored_order(&order).status, OrderStatus::Invalid);
}

#[test]
fn a_validation_finishing_after_deactivation_does_not_revive_the_authorization() {
    let env = Env::new();
    let c = env.register(TestKey::p256());
    let (order, _) = env.order_names(&c, &["app.test"]);
    let authz = env.authz_ids(&c, &order).remove(0);
    let (chall, _) = env.challenge_of(&c, &authz, "http-01");
    let job = validation_job(env.challenge(&c, &chall, Some(&json!({}))));
    // While the validator runs, the client gives the authorization up.
    env.deactivate_authz(&c, &authz).unwrap();
    let _ = env.acme.finish_validation(&job, Ok(()), NOW);
    // §7.1.6: deactivated is final.
    assert_eq!(env.stored_authz(&authz).status, AuthzStatus::Deactivated);
    assert_eq!(env.stored_order(&order).status, OrderStatus::Invalid);
    // A valid authorization would let this account revoke certificates for the name (§7.6).
    assert!(
        !env.acme
            .store()
            .read()
            .holds_valid_authz(c.id(), &crate::Identifier::Dns("app.test".into()), NOW)
            .unwrap()
    );
}

#[test]
fn a_failed_authorization_stays_invalid() {
    let env = Env::new();
    let c = env.register(TestKey::p256());
    let (order, _) = env.order_names(&c, &["app.test"]);
    let authz = env.authz_ids(&c, &order).remove(0);
    let (http, _) = env.challenge_of(&c, &authz, "http-01");
    let (dns, _) = env.challenge_of(&c, &authz, "dns-01");
    // Two challenges of one authorization started together; the first fails, the second passes.
    let first = validation_job(env.challenge(&c, &http, Some(&json!({}))));
    let second = validation_job(env.challenge(&c, &dns, Some(&json!({}))));
    env.acme
        .finish_validation(
            &first,
            Err(Problem::new(ProblemType::Connection, "refused")),
            NOW,
        )
        .unwrap();
    let _ = env.acme.finish_validation(&second, Ok(()), NOW);
    assert_eq!(env.stored_authz(&authz).status, AuthzStatus::Invalid);
}

// ======================================================================== 15. failed validation

#[test]
fn a_failed_validation_invalidates_challenge_authorization_and_order() {
    let env = Env::new();
    let c = env.register(TestKey::p256());
    let (order, _) = env.order_names(&c, &["app.test", "www.app.test"]);
    let authzs = env.authz_ids(&c, &order);
    let (chall, _) = env.challenge_of(&c, &authzs[0], "http-01");
    let job = validation_job(env.challenge(&c, &chall, Some(&json!({}))));
    let why = Problem::new(
        ProblemType::IncorrectResponse,
        "the key authorization served was not the expected one",
    );
    let r = env.acme.finish_validation(&job, Err(why), NOW).unwrap();
    let doc = json_of(&r);
    assert_eq!(doc["status"], "invalid");
    assert_eq!(doc["error"]["type"], ProblemType::IncorrectResponse.urn());
    assert!(doc.get("validated").is_none());

    let stored = env.stored_challenge(&chall);
    assert_eq!(stored.status, ChallengeStatus::Invalid);
    assert!(
        stored
            .error
            .as_deref()
            .unwrap()
            .contains("incorrectResponse")
    );
    assert_eq!(env.stored_authz(&authzs[0]).status, AuthzStatus::Invalid);
    let odoc = json_of(&env.get_order(&c, &order).unwrap()).clone();
    assert_eq!(odoc["status"], "invalid");
    assert_eq!(odoc["error"]["type"], ProblemType::IncorrectResponse.urn());
    let adoc = json_of(&env.get_authz(&c, &authzs[0]).unwrap()).clone();
    assert_eq!(adoc["status"], "invalid");

    // Answering it again does not restart it.
    let before = env.snapshot();
    match env.challenge(&c, &chall, Some(&json!({}))).unwrap() {
        ChallengeStep::Reply(r) => assert_eq!(json_of(&r)["status"], "invalid"),
        other => panic!("an invalid challenge was restarted: {other:?}"),
    }
    // Nor does another challenge of the now invalid authorization.
    let (other, _) = env.challenge_of(&c, &authzs[0], "dns-01");
    match env.challenge(&c, &other, Some(&json!({}))).unwrap() {
        ChallengeStep::Reply(r) => assert_eq!(json_of(&r)["status"], "pending"),
        step => panic!("a challenge of an invalid authorization was started: {step:?}"),
    }
    assert_eq!(env.snapshot(), before);
    // And the order cannot be finalized.
    let ossl = Ossl::new();
    let csr = ossl.csr(&["app.test", "www.app.test"]);
    expect_problem(
        env.finalize(&c, &order, &csr.der),
        ProblemType::OrderNotReady,
        403,
    );
    assert_eq!(env.snapshot(), before);
}

#[test]
fn an_expired_authorization_cannot_be_validated() {
    let env = Env::new();
    let c = env.register(TestKey::p256());
    let (order, _) = env.order_names(&c, &["app.test"]);
    let authz = env.authz_ids(&c, &order).remove(0);
    let (chall, _) = env.challenge_of(&c, &authz, "http-01");
    let path = format!("{}{chall}", paths::CHALLENGE);
    let later = NOW + DAY + 1;
    let nonce = env.acme.nonce(later).unwrap();
    let b = c.sign_with(&env, &path, json!({"nonce": nonce}), b"{}");
    let before = env.snapshot();
    expect_problem(
        env.acme.challenge(&post(&path, &b), &chall, later),
        ProblemType::Malformed,
        400,
    );
    assert_eq!(env.snapshot(), before);
    assert_eq!(
        env.stored_challenge(&chall).status,
        ChallengeStatus::Pending
    );
}

// ======================================================================== 16. revocation

/// An account with a certificate: the account, the certificate's key, the leaf DER, its serial.
fn issued(env: &Env, ossl: &Ossl, names: &[&str]) -> (Client, TestKey, Vec<u8>, String) {
    let c = env.register(TestKey::p256());
    let order = env.ready_order(&c, names);
    let key = ossl.ec_key();
    let sans: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
    let sans: Vec<&str> = sans.iter().map(String::as_str).collect();
    let csr = ossl.csr_with(&key, Some(names[0]), &sans);
    let (der, serial) = env.issue(&c, &order, ossl, &csr);
    (c, ossl.test_key(&key), der, serial)
}

#[test]
fn who_may_revoke() {
    let env = Env::new();
    let ossl = Ossl::new();
    let (owner, cert_key, der, serial) = issued(&env, &ossl, &["app.test", "www.app.test"]);
    let payload = json!({"certificate": b64(&der)});
    let before = env.snapshot();

    // The account that obtained it.
    let job = env.revoke(&owner, &payload).unwrap();
    assert_eq!(job.cert.serial, serial);
    assert_eq!(job.reason, RevocationReason::Unspecified);
    assert_eq!(job.cert.spki_der, cert_key.jwk().spki_der());

    // The certificate's own key, as a jwk.
    let by_key = Client::new(cert_key);
    let job = env
        .revoke(&by_key, &json!({"certificate": b64(&der), "reason": 1}))
        .unwrap();
    assert_eq!(job.cert.serial, serial);
    assert_eq!(job.reason, RevocationReason::KeyCompromise);
    assert_eq!(env.snapshot(), before);

    // An unrelated account, an unrelated key.
    let stranger = env.register(TestKey::rsa());
    let before = env.snapshot();
    expect_problem(
        env.revoke(&stranger, &payload),
        ProblemType::Unauthorized,
        403,
    );
    expect_problem(
        env.revoke(&Client::new(TestKey::p256()), &payload),
        ProblemType::Unauthorized,
        403,
    );
    assert_eq!(env.snapshot(), before);
    // An account holding valid authorizations for only some of its names.
    let partial = env.register(TestKey::p256());
    env.ready_order(&partial, &["app.test"]);
    expect_problem(
        env.revoke(&partial, &payload),
        ProblemType::Unauthorized,
        403,
    );
    // One that holds them all may (§7.6).
    let holder = env.register(TestKey::ed25519());
    env.ready_order(&holder, &["www.app.test", "app.test"]);
    assert_eq!(env.revoke(&holder, &payload).unwrap().cert.serial, serial);
}

#[test]
fn revocation_refusals() {
    let env = Env::new();
    let ossl = Ossl::new();
    let (owner, _, der, _) = issued(&env, &ossl, &["app.test"]);
    let before = env.snapshot();
    for reason in [2, 6, 7, 8, 9, 10, -1, 11] {
        let p = expect_problem(
            env.revoke(&owner, &json!({"certificate": b64(&der), "reason": reason})),
            ProblemType::BadRevocationReason,
            400,
        );
        assert!(p.detail.contains(&reason.to_string()), "{p}");
    }
    for payload in [
        json!({"certificate": b64(&der), "reason": "1"}),
        json!({"certificate": b64(&der), "reason": 1.5}),
    ] {
        expect_problem(
            env.revoke(&owner, &payload),
            ProblemType::BadRevocationReason,
            400,
        );
    }
    for payload in [
        json!({}),
        json!({"certificate": 5}),
        json!({"certificate": "!!"}),
        json!({"certificate": b64(b"not DER")}),
        json!({"certificate": b64(&der[..der.len() / 2])}),
    ] {
        expect_problem(env.revoke(&owner, &payload), ProblemType::Malformed, 400);
    }
    assert_eq!(env.snapshot(), before);
}

// ======================================================================== crash repair

#[test]
fn orders_a_crash_left_processing_end_valid_from_the_ledger_or_ready_again() {
    // Claims recorded in the store, as a shared store does (the embedded one keeps them in
    // memory, so a crash leaves its orders ready, which repair asks the ledger about too).
    let env = Env::recording_claims();
    let ossl = Ossl::new();
    let c = env.register(TestKey::p256());
    // Two orders claimed for signing; the process "dies" before either outcome is recorded.
    let recorded = env.ready_order(&c, &["recorded.test"]);
    let lost = env.ready_order(&c, &["lost.test"]);
    let recorded_csr = ossl.csr(&["recorded.test"]);
    let job = issue_job(env.finalize(&c, &recorded, &recorded_csr.der));
    let lost_job = issue_job(env.finalize(&c, &lost, &ossl.csr(&["lost.test"]).der));
    assert_eq!(
        env.stored_order(&lost_job.order.id).status,
        OrderStatus::Processing
    );
    let (chain_pem, _) = ossl.sign(&recorded_csr.pem);
    // The ledger has the certificate of the first order only.
    let (finished, reopened) = env
        .acme
        .repair(NOW, |orders| {
            let issued = orders
                .iter()
                .filter(|o| o.id == job.order.id)
                .map(|o| {
                    (
                        o.id.clone(),
                        Issued {
                            serial: "0a0b".into(),
                            chain_pem: chain_pem.clone(),
                            not_after: NOW + DAY,
                        },
                    )
                })
                .collect();
            Ok(super::LedgerView {
                issued,
                ..Default::default()
            })
        })
        .unwrap();
    assert_eq!((finished, reopened), (1, 1));
    let done = env.stored_order(&recorded);
    assert_eq!(done.status, OrderStatus::Valid);
    assert_eq!(done.certificate.as_deref(), Some("0a0b"));
    match env.certificate(&c, &recorded).unwrap().body {
        Body::PemChain(pem) => assert_eq!(pem, chain_pem),
        other => panic!("{other:?}"),
    }
    // The other can be finalized again, and nothing is left to repair.
    assert_eq!(env.stored_order(&lost).status, OrderStatus::Ready);
    issue_job(env.finalize(&c, &lost, &ossl.csr(&["lost.test"]).der));
    env.acme
        .finish_issue(&lost_job, Err(Problem::internal("signing failed")))
        .unwrap_err();
    assert_eq!(
        env.acme.repair(NOW, |_| Ok(Default::default())).unwrap(),
        (0, 0)
    );
    // A ledger that cannot answer changes nothing.
    let again = env.ready_order(&c, &["again.test"]);
    issue_job(env.finalize(&c, &again, &ossl.csr(&["again.test"]).der));
    env.acme
        .repair(NOW, |_| Err("database unreachable".into()))
        .unwrap_err();
    assert_eq!(env.stored_order(&again).status, OrderStatus::Processing);
}

/// A failed finalization gives up only its own claim, and repair only a claim it may: when
/// another server has claimed the order since (the stalled one's claim expired, the order was
/// reopened, the client finalized again there), that claim is left to it until it is stale.
#[test]
fn a_failure_or_a_repair_releases_only_the_claim_it_gave_up() {
    let env = Env::recording_claims();
    let ossl = Ossl::new();
    let c = env.register(TestKey::p256());
    let id = env.ready_order(&c, &["claimed.test"]);
    let job = issue_job(env.finalize(&c, &id, &ossl.csr(&["claimed.test"]).der));
    // The order is reopened and claimed by another server.
    env.acme
        .store()
        .write(Commit::Durable, |tx| {
            assert!(tx.release_claim(&id, Some(&env.acme.settings.node), i64::MIN)?);
            tx.claim_order(&id, "other-server", NOW)
        })
        .unwrap();
    env.acme
        .finish_issue(&job, Err(Problem::internal("this server stalled")))
        .unwrap_err();
    assert_eq!(env.stored_order(&id).status, OrderStatus::Processing);
    assert_eq!(
        env.acme.repair(NOW, |_| Ok(Default::default())).unwrap(),
        (0, 0)
    );
    assert_eq!(env.stored_order(&id).status, OrderStatus::Processing);
    // Once that claim is stale, repair releases it; not while the ledger says a server is
    // signing it.
    let later = NOW + env.acme.settings.abandoned_after + 1;
    let signing = super::LedgerView {
        signing: [id.clone()].into(),
        ..Default::default()
    };
    assert_eq!(env.acme.repair(later, |_| Ok(signing)).unwrap(), (0, 0));
    assert_eq!(env.stored_order(&id).status, OrderStatus::Processing);
    assert_eq!(
        env.acme.repair(later, |_| Ok(Default::default())).unwrap(),
        (0, 1)
    );
    assert_eq!(env.stored_order(&id).status, OrderStatus::Ready);
}

/// On the embedded store a validation and a signing are claimed in memory: the store keeps
/// the step before (pending, ready) while clients are shown `processing`, a second request is
/// refused as if it were recorded, and the claim ends with its job, so a crash or a failure
/// leaves nothing to repair.
#[test]
fn on_the_embedded_store_validations_and_signings_are_claimed_in_memory() {
    let env = Env::new();
    let ossl = Ossl::new();
    let c = env.register(TestKey::p256());
    let (order, _) = env.order_names(&c, &["mem.test"]);
    let authz = env.authz_ids(&c, &order).remove(0);
    let (ch, _) = env.challenge_of(&c, &authz, "http-01");
    let job = validation_job(env.challenge(&c, &ch, Some(&json!({}))));
    assert_eq!(env.stored_challenge(&ch).status, ChallengeStatus::Pending);
    let reply = env.get_authz(&c, &authz).unwrap();
    let shown = json_of(&reply);
    let listed = shown["challenges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["type"] == "http-01")
        .unwrap()
        .clone();
    assert_eq!(listed["status"], "processing", "{shown}");
    match env.challenge(&c, &ch, Some(&json!({}))).unwrap() {
        ChallengeStep::Reply(r) => {
            assert_eq!(json_of(&r)["status"], "processing");
            assert_eq!(r.retry_after, Some(1));
        }
        other => panic!("validated twice: {other:?}"),
    }
    // The validating task ended without a word (a crash would too): the client may ask again.
    drop(job);
    assert_eq!(env.stored_challenge(&ch).status, ChallengeStatus::Pending);
    let job = validation_job(env.challenge(&c, &ch, Some(&json!({}))));
    env.acme.finish_validation(&job, Ok(()), NOW).unwrap();
    drop(job);
    assert_eq!(env.stored_challenge(&ch).status, ChallengeStatus::Valid);
    assert_eq!(env.stored_order(&order).status, OrderStatus::Ready);

    let csr = ossl.csr(&["mem.test"]);
    let job = issue_job(env.finalize(&c, &order, &csr.der));
    assert_eq!(env.stored_order(&order).status, OrderStatus::Ready);
    let shown = env.get_order(&c, &order).unwrap();
    assert_eq!(json_of(&shown)["status"], "processing");
    assert_eq!(shown.retry_after, Some(1));
    let again = env.finalize(&c, &order, &csr.der).unwrap_err();
    assert_eq!(again.kind, ProblemType::OrderNotReady, "{again:?}");
    // A failed signing changes nothing in the store, and the order may be finalized again.
    env.acme
        .finish_issue(&job, Err(Problem::internal("the CA was busy")))
        .unwrap_err();
    drop(job);
    assert_eq!(env.stored_order(&order).status, OrderStatus::Ready);
    assert_eq!(
        json_of(&env.get_order(&c, &order).unwrap())["status"],
        "ready"
    );
    env.issue(&c, &order, &ossl, &csr);
    assert_eq!(env.stored_order(&order).status, OrderStatus::Valid);

    // An order being signed is not failed under it (its authorization deactivated meanwhile):
    // it finishes valid, without an error, as a recorded `processing` one would.
    let other = env.ready_order(&c, &["busy.test"]);
    let authz = env.authz_ids(&c, &other).remove(0);
    let csr = ossl.csr(&["busy.test"]);
    let job = issue_job(env.finalize(&c, &other, &csr.der));
    env.deactivate_authz(&c, &authz).unwrap();
    assert_eq!(env.stored_order(&other).status, OrderStatus::Ready);
    env.acme
        .finish_issue(&job, Ok(ossl.issued(&csr).0))
        .unwrap();
    let done = env.stored_order(&other);
    assert_eq!((done.status, done.error), (OrderStatus::Valid, None));
}

// ======================================================================== ARI (RFC 9773)

/// The ARI ID of a certificate issued by `ossl`'s throwaway CA: its AKI and serial.
fn cert_id(leaf_der: &[u8]) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let info = uca_pki::inspect::parse_certificate(leaf_der).unwrap();
    let aki = info
        .authority_key_id
        .expect("the throwaway CA writes an AKI");
    let mut serial = hex::decode(&info.serial).unwrap();
    if serial[0] & 0x80 != 0 {
        serial.insert(0, 0);
    }
    format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(&aki),
        Base64UrlUnpadded::encode_string(&serial)
    )
}

#[test]
fn an_order_may_replace_a_certificate_of_its_account_once() {
    let env = Env::new();
    let ossl = Ossl::new();
    let c = env.register(TestKey::p256());
    let first = env.ready_order(&c, &["app.test"]);
    let (leaf, _) = env.issue(&c, &first, &ossl, &ossl.csr(&["app.test"]));
    let id = cert_id(&leaf);
    let order = |c: &Client, replaces: Value| {
        env.new_order(
            c,
            &json!({"identifiers": [{"type": "dns", "value": "app.test"}], "replaces": replaces}),
        )
    };
    let r = order(&c, json!(id)).unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(json_of(&r)["replaces"], json!(id));
    let renewal = r.location.unwrap().rsplit('/').next().unwrap().to_string();
    assert_eq!(
        env.stored_order(&renewal).replaces.as_deref(),
        Some(id.as_str())
    );
    let other = env.register(TestKey::p256());
    // A second renewal of the same certificate while the first is open.
    let before = env.snapshot();
    expect_problem(order(&c, json!(id)), ProblemType::AlreadyReplaced, 409);
    // Another account cannot name it; nor can anyone name what does not exist or garbage.
    expect_problem(order(&other, json!(id)), ProblemType::Malformed, 404);
    let unknown = format!("{}.AQID", id.split('.').next().unwrap());
    expect_problem(order(&c, json!(unknown)), ProblemType::Malformed, 404);
    expect_problem(order(&c, json!("no-dot")), ProblemType::Malformed, 400);
    expect_problem(order(&c, json!(42)), ProblemType::Malformed, 400);
    assert_eq!(env.snapshot(), before);
}

#[test]
fn replaces_names_only_certificates_of_this_issuer() {
    let env = Env::with(AcmeSettings {
        eab: EabMode::Off,
        ca_key_id: Some(vec![1, 2, 3]),
        ..AcmeSettings::default()
    });
    let ossl = Ossl::new();
    let c = env.register(TestKey::p256());
    let first = env.ready_order(&c, &["app.test"]);
    let (leaf, _) = env.issue(&c, &first, &ossl, &ossl.csr(&["app.test"]));
    let p = expect_problem(
        env.new_order(
            &c,
            &json!({"identifiers": [{"type": "dns", "value": "app.test"}], "replaces": cert_id(&leaf)}),
        ),
        ProblemType::Malformed,
        400,
    );
    assert!(p.detail.contains("another issuer"), "{p}");
}

// ======================================================================== profiles

#[test]
fn orders_pick_an_offered_profile_within_their_external_keys_limits() {
    let env = Env::with(AcmeSettings {
        eab: EabMode::Optional,
        profiles: vec![
            ("both".into(), "mutual TLS".into()),
            ("server".into(), "TLS server".into()),
        ],
        ..AcmeSettings::default()
    });
    let directory = env.acme.directory(BASE);
    let doc = json_of(&directory);
    assert_eq!(doc["meta"]["profiles"]["server"], "TLS server");
    assert_eq!(doc["meta"]["profiles"].as_object().unwrap().len(), 2);
    let c = env.register(TestKey::p256());
    let order = |c: &Client, profile: Value| {
        env.new_order(
            c,
            &json!({"identifiers": [{"type": "dns", "value": "app.test"}], "profile": profile}),
        )
    };
    let r = order(&c, json!("server")).unwrap();
    assert_eq!(json_of(&r)["profile"], "server");
    let id = r.location.unwrap().rsplit('/').next().unwrap().to_string();
    assert_eq!(env.stored_order(&id).profile.as_deref(), Some("server"));
    let before = env.snapshot();
    expect_problem(order(&c, json!("client")), ProblemType::InvalidProfile, 400);
    expect_problem(
        order(&c, json!("code-signing")),
        ProblemType::InvalidProfile,
        400,
    );
    expect_problem(order(&c, json!(7)), ProblemType::Malformed, 400);
    assert_eq!(env.snapshot(), before);
    // An account bound with a key limited to "both" cannot pick "server".
    let key = EabKey {
        kid: "limited".into(),
        hmac_key: EAB_KEY.to_vec(),
        allow: Vec::new(),
        profiles: vec!["both".into()],
        created_at: NOW,
        accounts: 0,
    };
    env.acme
        .store()
        .write(Commit::Durable, |tx| tx.insert_eab(&key))
        .unwrap();
    let bound = Client::new(TestKey::p256());
    let binding = eab_binding("limited", EAB_KEY, &bound.key.jwk_json());
    let r = env
        .new_account(&bound, &json!({"externalAccountBinding": binding}))
        .unwrap();
    let bound = Client {
        kid: r.location.clone(),
        ..bound
    };
    let p = expect_problem(
        order(&bound, json!("server")),
        ProblemType::InvalidProfile,
        400,
    );
    assert!(p.detail.contains("external key"), "{p}");
    assert_eq!(
        json_of(&order(&bound, json!("both")).unwrap())["profile"],
        "both"
    );
}

// ======================================================================== retention

#[test]
fn prune_removes_dead_orders_with_their_authorizations_and_keeps_valid_ones() {
    let env = Env::new();
    let ossl = Ossl::new();
    let c = env.register(TestKey::p256());
    // A valid order (its certificate is downloaded through it), a failed one, a forgotten one.
    let valid = env.ready_order(&c, &["valid.test"]);
    env.issue(&c, &valid, &ossl, &ossl.csr(&["valid.test"]));
    let (failed, _) = env.order_names(&c, &["failed.test"]);
    env.fail_http01(&c, &failed);
    let (forgotten, _) = env.order_names(&c, &["forgotten.test"]);
    let keep = |at| crate::store::Retention::at(at, DAY, 30 * DAY);
    // Within the grace period nothing goes.
    assert_eq!(
        env.acme.prune(&keep(NOW)).unwrap(),
        crate::store::Pruned::default()
    );
    // Three days on (the pending order expired after one, plus a day's grace): the failed and
    // the expired order go, with their 2 authorizations and 3 + 3 challenges.
    let later = NOW + 3 * DAY;
    let pruned = env.acme.prune(&keep(later)).unwrap();
    assert_eq!(
        (
            pruned.orders,
            pruned.authzs,
            pruned.challenges,
            pruned.certificates
        ),
        (2, 2, 6, 0)
    );
    let left: Vec<String> = env.orders().into_iter().map(|o| o.id).collect();
    assert_eq!(left, vec![valid.clone()]);
    assert!(env.acme.store().read().order(&failed).unwrap().is_none());
    assert!(env.acme.store().read().order(&forgotten).unwrap().is_none());
    assert_eq!(env.stored_authzs(&valid).len(), 1);
    match env.certificate(&c, &valid).unwrap().body {
        Body::PemChain(_) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_valid_order_goes_with_its_certificates_record_once_that_expired_long_enough_ago() {
    let env = Env::new();
    let ossl = Ossl::new();
    let c = env.register(TestKey::p256());
    let order = env.ready_order(&c, &["old.test"]);
    let (_, serial) = env.issue(&c, &order, &ossl, &ossl.csr(&["old.test"]));
    let not_after = env
        .acme
        .store()
        .read()
        .cert_of_order(&order)
        .unwrap()
        .unwrap()
        .not_after
        .expect("recorded at issuance");
    // A certificate recorded before the store kept expiries gets it from its PEM.
    env.acme
        .store()
        .write(crate::store::Commit::Lazy, |tx| {
            tx.rows("UPDATE certificates SET not_after = NULL", &[])
        })
        .unwrap();
    let keep = |at| crate::store::Retention::at(at, DAY, 30 * DAY);
    // Expired, but not 30 days ago: it stays, and its expiry is back.
    let pruned = env.acme.prune(&keep(not_after + 29 * DAY)).unwrap();
    assert_eq!(pruned, crate::store::Pruned::default());
    let cert = env.acme.store().read().cert_by_serial(&serial).unwrap();
    assert_eq!(cert.and_then(|c| c.not_after), Some(not_after));
    // Thirty days after it expired: the order, its authorization, its three challenges and
    // the certificate's record go; its URL is gone.
    let pruned = env.acme.prune(&keep(not_after + 30 * DAY + 1)).unwrap();
    assert_eq!(
        (
            pruned.orders,
            pruned.authzs,
            pruned.challenges,
            pruned.certificates
        ),
        (1, 1, 3, 1)
    );
    assert!(env.acme.store().read().order(&order).unwrap().is_none());
    assert!(env.stored_authzs(&order).is_empty());
    assert!(
        env.acme
            .store()
            .read()
            .cert_by_serial(&serial)
            .unwrap()
            .is_none()
    );
    assert_eq!(env.certificate(&c, &order).unwrap_err().status, Some(404));
}

// ======================================================================== rate limits

#[test]
fn rate_limits_refuse_with_429_and_retry_after_and_change_nothing() {
    use crate::ratelimit::Rate;
    use crate::service::RateLimits;
    let per = |count| {
        Some(Rate {
            count,
            period_secs: 3600.0,
        })
    };
    let env = Env::with(AcmeSettings {
        eab: EabMode::Off,
        limits: RateLimits {
            new_accounts_per_ip: per(2),
            new_orders_per_account: per(2),
            failed_validations_per_identifier: per(1),
        },
        ..AcmeSettings::default()
    });
    let from = |ip: &str, c: &Client| {
        let body = c.sign(
            &env,
            paths::NEW_ACCOUNT,
            &json!({"termsOfServiceAgreed": true}),
        );
        env.acme.new_account(
            &Post {
                peer: Some(ip.parse().unwrap()),
                base: BASE,
                path: paths::NEW_ACCOUNT,
                body: &body,
                content_type: Some("application/jose+json"),
            },
            NOW,
        )
    };
    let a = Client::new(TestKey::p256());
    assert_eq!(from("10.0.0.1", &a).unwrap().status, 201);
    assert_eq!(
        from("10.0.0.1", &a).unwrap().status,
        200,
        "an existing account is not minted"
    );
    assert_eq!(
        from("10.0.0.1", &Client::new(TestKey::p256()))
            .unwrap()
            .status,
        201
    );
    let before = env.snapshot();
    let p = expect_problem(
        from("10.0.0.1", &Client::new(TestKey::p256())),
        ProblemType::RateLimited,
        429,
    );
    assert!(p.retry_after.is_some_and(|s| s > 0 && s <= 1800), "{p:?}");
    assert_eq!(env.snapshot(), before);
    assert_eq!(
        from("10.0.0.2", &Client::new(TestKey::p256()))
            .unwrap()
            .status,
        201
    );

    // Orders per account.
    let c = env.register(TestKey::p256());
    env.order_names(&c, &["one.test"]);
    env.order_names(&c, &["two.test"]);
    let before = env.snapshot();
    expect_problem(
        env.new_order(
            &c,
            &json!({"identifiers": [{"type": "dns", "value": "three.test"}]}),
        ),
        ProblemType::RateLimited,
        429,
    );
    assert_eq!(env.snapshot(), before);

    // A target whose validation failed is not tried again within the limit.
    let d = env.register(TestKey::p256());
    let (first, _) = env.order_names(&d, &["flaky.test"]);
    env.fail_http01(&d, &first);
    let (second, _) = env.order_names(&d, &["flaky.test"]);
    let authz = env.authz_ids(&d, &second).remove(0);
    let (ch, _) = env.challenge_of(&d, &authz, "http-01");
    let before = env.snapshot();
    expect_problem(
        env.challenge(&d, &ch, Some(&json!({}))),
        ProblemType::RateLimited,
        429,
    );
    assert_eq!(env.snapshot(), before);
}

/// The log is copied off the serving connection once it passes SQLite's own threshold (which
/// the serving connection no longer acts on by itself), and starts over once copied.
#[test]
fn checkpoints_copy_the_log_and_let_it_start_over() {
    let env = Env::new();
    let c = env.register(TestKey::p256());
    env.order_names(&c, &["app.test"]);
    assert_eq!(
        env.acme.checkpoint().unwrap(),
        None,
        "a short log is left alone"
    );
    let mut orders = 1;
    let first = loop {
        env.order_names(&c, &["app.test"]);
        orders += 1;
        assert!(orders < 1000, "the log never reached the threshold");
        if let Some(found) = env.acme.checkpoint().unwrap() {
            break found;
        }
    };
    // Past SQLite's default of 1,000 pages: the serving connection did not checkpoint by itself.
    assert!(first.log >= super::CHECKPOINT_PAST_PAGES, "{first:?}");
    assert_eq!(
        first.copied, first.log,
        "no write came in meanwhile: {first:?}"
    );
    assert_eq!(
        env.acme.checkpoint().unwrap(),
        None,
        "nothing written since"
    );
    // The next commit started the log over: it holds that order's pages only.
    env.order_names(&c, &["app.test"]);
    let pages = env
        .acme
        .store()
        .log_pages()
        .unwrap()
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        pages > 0 && pages < 100,
        "{pages} pages after one more order"
    );
    assert_eq!(env.acme.checkpoint().unwrap(), None);
}
