//! The HTTP layer without a socket: what every ACME response carries, and the refusals that
//! happen before the protocol core (content type, size, method, unknown paths).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use uca_acme::{Acme, AcmeSettings, EabMode, Store};

use super::{AppState, MAX_BODY, router};
use crate::issuer::Issuer;
use crate::validate::{ValidationSettings, Validator};

struct TestServer {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    state: Arc<AppState>,
}

fn server() -> TestServer {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let now = time::OffsetDateTime::now_utc();
    uca_ca::init(
        uca_ca::InitOptions {
            dir: dir.clone(),
            name: "router test CA".into(),
            subject: uca_pki::Subject::default(),
            key_type: uca_pki::KeyType::EcP256,
            days: 30,
            passphrase: None,
            config: uca_ca::Config {
                ledger: test_ledger(),
                ..uca_ca::Config::default()
            },
            ledger_access: Default::default(),
        },
        now,
    )
    .unwrap();
    let (ca, _) = uca_ca::Ca::open(&dir, &Default::default(), &mut || {}).unwrap();
    let signer = ca.unlock(None).unwrap();
    let store = Store::open(&Store::path_in(&dir)).unwrap();
    let acme = Acme::new(
        AcmeSettings {
            eab: EabMode::Off,
            ..AcmeSettings::default()
        },
        store,
    )
    .unwrap();
    let issuer = Issuer::new(&ca, signer, uca_pki::Profile::Both);
    drop(ca);
    let state = Arc::new(AppState {
        acme,
        issuer,
        validator: Validator::new(ValidationSettings::default()).unwrap(),
        crl: Default::default(),
        default_base: "https://ca.test:8443".into(),
        metrics: Default::default(),
        disk: crate::DiskPool::new(4).unwrap(),
    });
    state.crl.refresh(&state.issuer, true, now).unwrap();
    TestServer {
        _tmp: tmp,
        dir,
        state,
    }
}

/// A fresh PostgreSQL database for the CA's ledger when the tests run against PostgreSQL
/// (`UCA_TEST_PG_PORT`, scripts/test.sh's second pass); `None`: `ledger.sqlite`.
fn test_ledger() -> Option<String> {
    let port = std::env::var("UCA_TEST_PG_PORT").ok()?;
    let db = format!("r_{}", uca_pki::Serial::random().unwrap().hex());
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
    Some(format!("postgres://postgres@127.0.0.1:{port}/{db}"))
}

async fn send(s: &TestServer, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = router(s.state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, "ca.test:8443")
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, content_type: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut b = Request::post(path).header(header::HOST, "ca.test:8443");
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    b.body(Body::from(body)).unwrap()
}

fn problem(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}

#[tokio::test]
async fn the_directory_and_nonces_carry_what_every_acme_response_carries() {
    let s = server();
    let (status, h, body) = send(&s, get("/acme/directory")).await;
    assert_eq!(status, StatusCode::OK);
    let dir: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(dir["newNonce"], "https://ca.test:8443/acme/new-nonce");
    assert_eq!(dir["meta"]["externalAccountRequired"], false);
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(
        h["link"],
        "<https://ca.test:8443/acme/directory>;rel=\"index\""
    );
    let head = Request::head("/acme/new-nonce")
        .header(header::HOST, "ca.test:8443")
        .body(Body::empty())
        .unwrap();
    let (status, h1, _) = send(&s, head).await;
    assert_eq!(status, StatusCode::OK);
    let (status, h2, _) = send(&s, get("/acme/new-nonce")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(h2["cache-control"], "no-store");
    let (n1, n2) = (&h1["replay-nonce"], &h2["replay-nonce"]);
    assert_ne!(n1, n2);
    assert_eq!(n1.len(), 43);
}

#[tokio::test]
async fn refusals_before_the_core_are_problem_documents_with_a_fresh_nonce() {
    let s = server();
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            post(
                "/acme/new-account",
                Some("application/json"),
                b"{}".to_vec(),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "malformed",
        ),
        (
            post("/acme/new-account", None, b"{}".to_vec()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "malformed",
        ),
        (
            post(
                "/acme/new-order",
                Some("application/jose+json"),
                vec![b'x'; MAX_BODY + 1],
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "malformed",
        ),
        (
            post(
                "/acme/new-account",
                Some("application/jose+json"),
                b"not json".to_vec(),
            ),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            get("/acme/order/abc"),
            StatusCode::METHOD_NOT_ALLOWED,
            "malformed",
        ),
        // A Content-Length past the limit is refused before the body is read.
        (
            Request::post("/acme/new-order")
                .header(header::HOST, "ca.test:8443")
                .header(header::CONTENT_TYPE, "application/jose+json")
                .header(header::CONTENT_LENGTH, "1000000000")
                .body(Body::empty())
                .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "malformed",
        ),
    ];
    for (req, want, kind) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (status, h, body) = send(&s, req).await;
        assert_eq!(status, want, "{what}");
        assert_eq!(h["content-type"], "application/problem+json", "{what}");
        assert!(h.contains_key("replay-nonce"), "{what}");
        let doc = problem(&body);
        assert_eq!(
            doc["type"],
            format!("urn:ietf:params:acme:error:{kind}"),
            "{what}"
        );
        assert_eq!(doc["status"], want.as_u16(), "{what}");
    }
    let (status, h, _) = send(&s, get("/acme/chall/abc")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h["allow"], "POST");
    let (status, h, _) = send(&s, get("/nowhere")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(h["content-type"], "application/problem+json");
    // Nothing was created by any of it.
    let store = Store::open(&Store::path_in(&s.dir)).unwrap();
    assert!(store.read().accounts().unwrap().is_empty());
    assert!(store.read().orders().unwrap().is_empty());
}

#[tokio::test]
async fn chain_crl_and_health_are_plain_resources() {
    let s = server();
    let (status, h, body) = send(&s, get("/ca.crt")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["content-type"], "application/pem-certificate-chain");
    assert_eq!(String::from_utf8(body).unwrap(), s.state.issuer.chain_pem());
    let (status, h, body) = send(&s, get("/crl")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["content-type"], "application/pkix-crl");
    let info = uca_pki::crl::parse_crl(&body, s.state.issuer.ca_spki()).unwrap();
    assert!(info.revoked.is_empty());
    assert!(info.number.is_some());
    let (status, _, body) = send(&s, get("/healthz")).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, b"ok\n".as_slice())
    );
    let req = Request::builder()
        .method(Method::DELETE)
        .uri("/acme/new-order")
        .header(header::HOST, "ca.test:8443")
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = send(&s, req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

/// Issues a certificate for `name` through the server's issuer, as a finalize would; returns
/// its serial and ARI certificate ID.
fn issue_for(s: &TestServer, name: &str, replaces: Option<String>) -> (uca_pki::Serial, String) {
    static ORDERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = ORDERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let job = issue_job(name, &format!("order-{name}-{n}"), replaces);
    let issued = s
        .state
        .issuer
        .issue(&job, time::OffsetDateTime::now_utc())
        .unwrap();
    let serial = uca_pki::Serial::parse(&issued.serial).unwrap();
    let id = ari_id(s, &serial);
    (serial, id)
}

/// What a finalize of order `id` for `name` hands the issuer.
fn issue_job(name: &str, id: &str, replaces: Option<String>) -> uca_acme::service::IssueJob {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
    let csr_der = params.serialize_request(&key).unwrap().der().to_vec();
    let now = time::OffsetDateTime::now_utc();
    let order = uca_acme::model::Order {
        id: id.to_string(),
        account: "acct".into(),
        status: uca_acme::model::OrderStatus::Processing,
        identifiers: vec![uca_acme::Identifier::Dns(name.into())],
        not_before: None,
        not_after: None,
        expires: now.unix_timestamp() + 3600,
        error: None,
        certificate: None,
        created_at: now.unix_timestamp(),
        replaces,
        profile: None,
    };
    uca_acme::service::IssueJob {
        order,
        csr: uca_pki::csr::parse_csr(&csr_der).unwrap(),
        not_before: now.unix_timestamp(),
        not_after: now.unix_timestamp() + 30 * 86_400,
        base: "https://ca.test:8443".into(),
        claim: None,
    }
}

/// RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial INTEGER content).
fn ari_id(s: &TestServer, serial: &uca_pki::Serial) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let mut bytes = hex::decode(serial.hex()).unwrap();
    if bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    format!(
        "{}.{}",
        Base64UrlUnpadded::encode_string(s.state.issuer.ca_key_id().unwrap()),
        Base64UrlUnpadded::encode_string(&bytes)
    )
}

#[tokio::test]
async fn renewal_info_suggests_the_last_third_and_replaces_supersedes() {
    let s = server();
    let (old, id) = issue_for(&s, "app.test", None);
    let (status, h, body) = send(&s, get(&format!("/acme/renewal-info/{id}"))).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(h["retry-after"], "21600");
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let at = |k: &str| {
        time::OffsetDateTime::parse(
            doc["suggestedWindow"][k].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let now = time::OffsetDateTime::now_utc();
    // 30 days (plus the backdate): the window opens after about 20 days.
    assert!(at("start") > now + time::Duration::days(19), "{doc}");
    assert!(
        at("end") > at("start") && at("end") < now + time::Duration::days(30),
        "{doc}"
    );
    // A renewal that names it supersedes it in the ledger, as `uca renew` would.
    let (new, _) = issue_for(&s, "app.test", Some(id.clone()));
    let (ca, _) = uca_ca::Ca::open(&s.dir, &Default::default(), &mut || {}).unwrap();
    let rec = ca.ledger().by_serial(&old).unwrap().unwrap();
    assert_eq!(rec.status, uca_ca::Status::Superseded);
    assert_eq!(rec.superseded_by.as_deref(), Some(new.hex().as_str()));
    // Revoked: renew at once.
    let mut ca = ca;
    ca.revoke(
        &new.hex(),
        uca_pki::crl::RevocationReason::KeyCompromise,
        now,
    )
    .unwrap();
    drop(ca);
    let new_id = ari_id(&s, &new);
    let (status, _, body) = send(&s, get(&format!("/acme/renewal-info/{new_id}"))).await;
    assert_eq!(status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let end = time::OffsetDateTime::parse(
        doc["suggestedWindow"]["end"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(
        end <= time::OffsetDateTime::now_utc() + time::Duration::seconds(5),
        "{doc}"
    );
    // Unknown serial, another issuer's key identifier: 404; not an ID at all: 400.
    let unknown = format!("{}.AQID", id.split('.').next().unwrap());
    let other_issuer = format!("AQID.{}", id.split('.').nth(1).unwrap());
    for (path, want) in [
        (
            format!("/acme/renewal-info/{unknown}"),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/acme/renewal-info/{other_issuer}"),
            StatusCode::NOT_FOUND,
        ),
        (
            "/acme/renewal-info/garbage".to_string(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (status, h, _) = send(&s, get(&path)).await;
        assert_eq!(status, want, "{path}");
        assert_eq!(h["content-type"], "application/problem+json");
    }
}

/// Group commit: finalizations on many threads at once each return only once their own row
/// is in the ledger, and every one is there.
#[test]
fn concurrent_issuance_records_every_certificate() {
    let s = server();
    let serials: Vec<uca_pki::Serial> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let s = &s;
                scope.spawn(move || {
                    (0..3)
                        .map(|j| issue_for(s, &format!("c{i}-{j}.test"), None).0)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(serials.len(), 24);
    let (ca, _) = uca_ca::Ca::open(&s.dir, &Default::default(), &mut || {}).unwrap();
    for serial in &serials {
        let rec = ca.ledger().by_serial(serial).unwrap().expect("recorded");
        assert_eq!(rec.status, uca_ca::Status::Issued);
        assert_eq!(rec.source, uca_ca::Source::Acme);
    }
}

/// One order, one certificate: the row is reserved before signing, so a second finalization of
/// an order that has its certificate gets that one, and signs nothing.
#[test]
fn an_order_gets_one_certificate() {
    let s = server();
    let first = s
        .state
        .issuer
        .issue(
            &issue_job("one.test", "order-one", None),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
    // The order's certificate is already in the ledger (the store lost its record of it):
    // the same certificate again, nothing new signed.
    let again = s
        .state
        .issuer
        .issue(
            &issue_job("one.test", "order-one", None),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
    assert_eq!(again.serial, first.serial);
    assert_eq!(again.chain_pem, first.chain_pem);
    let (ca, _) = uca_ca::Ca::open(&s.dir, &Default::default(), &mut || {}).unwrap();
    let rows: Vec<_> = ca
        .ledger()
        .all()
        .unwrap()
        .into_iter()
        .filter(|r| r.acme.as_ref().is_some_and(|a| a.order == "order-one"))
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].serial.hex(), first.serial);
    assert_eq!(rows[0].status, uca_ca::Status::Issued);
}

/// `AcmeStep::Record` (sign first, record once) on whichever ledger this pass runs, SQLite or
/// PostgreSQL: the row is issued at once and supersedes the certificate it replaces, and an
/// order that already has its row refuses a second. (The server records this way on an
/// embedded ledger only; a shared one reserves first.)
#[test]
fn a_recorded_certificate_is_issued_at_once_on_either_ledger() {
    use uca_ca::{AcmeStep, Status};
    let s = server();
    let now = time::OffsetDateTime::now_utc();
    let first = s
        .state
        .issuer
        .issue(&issue_job("rec.test", "order-rec-1", None), now)
        .unwrap();
    let (mut ca, _) = uca_ca::Ca::open(&s.dir, &Default::default(), &mut || {}).unwrap();
    let first_serial = uca_pki::Serial::parse(&first.serial).unwrap();
    let row = ca.ledger().by_serial(&first_serial).unwrap().unwrap();
    let signed_for = |order: &str| {
        let mut r = row.clone();
        r.serial = uca_pki::Serial::random().unwrap();
        r.fingerprint_sha256 = format!("CC:{}", r.serial.hex());
        r.acme.as_mut().unwrap().order = order.into();
        r
    };
    let twice = signed_for("order-rec-1");
    let renewal = signed_for("order-rec-2");
    let (took, owed) = ca
        .record_acme_owing_sync(
            &[
                AcmeStep::Record {
                    record: twice.clone(),
                    replaces: None,
                },
                AcmeStep::Record {
                    record: renewal.clone(),
                    replaces: Some(first_serial.clone()),
                },
            ],
            now,
        )
        .unwrap();
    assert_eq!(took, vec![false, true], "order-rec-1 already has its row");
    if let Some(owed) = owed {
        owed.finish().unwrap();
    }
    let ledger = ca.ledger();
    let new = ledger.by_serial(&renewal.serial).unwrap().unwrap();
    assert_eq!(new.status, Status::Issued);
    let old = ledger.by_serial(&first_serial).unwrap().unwrap();
    assert_eq!(old.status, Status::Superseded);
    assert_eq!(old.superseded_by, Some(renewal.serial.hex()));
    assert!(ledger.by_serial(&twice.serial).unwrap().is_none());
}

/// A reservation whose server stalled: the sweeper voids it when it gives the order up, the
/// stalled server's late completion then does not take (so its certificate is never
/// delivered), and the order can be finalized again. A completion that won the race is the
/// order's certificate instead.
#[test]
fn a_stalled_reservation_is_voided_and_its_late_completion_refused() {
    use uca_ca::{AcmeStep, CertRecord};
    let s = server();
    let now = time::OffsetDateTime::now_utc();
    let reserve = |order: &str| reservation("late.test", order, now);
    let completed = |r: &CertRecord| {
        let mut done = r.clone();
        done.fingerprint_sha256 = format!("{}:AA", r.serial.hex());
        done.cert_pem = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n".into();
        done.status = uca_ca::Status::Issued;
        done
    };
    let stalled = reserve("order-stalled");
    let won = reserve("order-won");
    let (mut ca, _) = uca_ca::Ca::open(&s.dir, &Default::default(), &mut || {}).unwrap();
    let took = ca
        .record_acme(
            &[
                AcmeStep::Reserve(stalled.clone()),
                AcmeStep::Reserve(won.clone()),
                AcmeStep::Complete {
                    record: completed(&won),
                    replaces: None,
                },
            ],
            now,
        )
        .unwrap();
    assert_eq!(took, vec![true, true, true]);
    // A fresh reservation is not repair's business: the next visit leaves it pending.
    drop(ca);
    let (ca, repair) = uca_ca::Ca::open(&s.dir, &Default::default(), &mut || {}).unwrap();
    assert!(repair.voided.is_empty(), "{repair:?}");
    drop(ca);

    // While the reservation is live, another finalization of the order signs nothing.
    let busy = s
        .state
        .issuer
        .issue(
            &issue_job("late.test", "order-stalled", None),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap_err();
    assert_eq!(busy.kind, uca_acme::ProblemType::OrderNotReady, "{busy:?}");

    let given_up = |id: &str| {
        let mut order = issue_job("late.test", id, None).order;
        order.status = uca_acme::model::OrderStatus::Processing;
        order
    };
    // A sweep whose claims were taken before this reservation was made (the order was
    // claimed again since it read them) leaves it to the server signing it.
    let swept = s
        .state
        .issuer
        .issued_of(
            &[given_up("order-stalled")],
            Some(now - time::Duration::seconds(5)),
        )
        .unwrap();
    assert!(swept.signing.contains("order-stalled"), "{swept:?}");
    assert!(swept.issued.is_empty());
    let found = s
        .state
        .issuer
        .issued_of(&[given_up("order-stalled"), given_up("order-won")], None)
        .unwrap();
    assert!(!found.issued.contains_key("order-stalled"));
    assert!(found.signing.is_empty());
    assert_eq!(found.issued["order-won"].serial, won.serial.hex());

    let (mut ca, _) = uca_ca::Ca::open(&s.dir, &Default::default(), &mut || {}).unwrap();
    let row = ca.ledger().by_serial(&stalled.serial).unwrap().unwrap();
    assert_eq!(row.status, uca_ca::Status::Void);
    let late = ca
        .record_acme(
            &[AcmeStep::Complete {
                record: completed(&stalled),
                replaces: None,
            }],
            now,
        )
        .unwrap();
    assert_eq!(
        late,
        vec![false],
        "a voided reservation cannot be completed"
    );
    let row = ca.ledger().by_serial(&stalled.serial).unwrap().unwrap();
    assert_eq!(row.status, uca_ca::Status::Void);
    assert!(!row.is_signed());
    drop(ca);
    // The order is free again.
    let again = s
        .state
        .issuer
        .issue(
            &issue_job("late.test", "order-stalled", None),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
    assert_ne!(again.serial, stalled.serial.hex());
}

/// A reservation older than the abandonment age is voided by the repair any visit runs.
#[test]
fn an_old_reservation_is_voided_by_repair() {
    use uca_ca::AcmeStep;
    let s = server();
    let long_ago = time::OffsetDateTime::now_utc() - time::Duration::seconds(600);
    let old = reservation("old.test", "order-old", long_ago);
    let (mut ca, _) = uca_ca::Ca::open(&s.dir, &Default::default(), &mut || {}).unwrap();
    assert_eq!(
        ca.record_acme(&[AcmeStep::Reserve(old.clone())], long_ago)
            .unwrap(),
        vec![true]
    );
    drop(ca);
    let (ca, repair) = uca_ca::Ca::open(&s.dir, &Default::default(), &mut || {}).unwrap();
    assert_eq!(repair.voided, vec![old.serial.hex()]);
    let row = ca.ledger().by_serial(&old.serial).unwrap().unwrap();
    assert_eq!(row.status, uca_ca::Status::Void);
}

/// A reservation of `name` for ACME order `order`, made `at`, valid a day.
fn reservation(name: &str, order: &str, at: time::OffsetDateTime) -> uca_ca::CertRecord {
    let validity =
        uca_pki::validity::Validity::between(at, at + time::Duration::days(1), None).unwrap();
    uca_ca::CertRecord::reserved(
        uca_pki::Serial::random().unwrap(),
        name,
        "server",
        "ecdsa-p256",
        &[uca_pki::San::parse(name).unwrap()],
        &validity,
        uca_ca::AcmeOrigin {
            account: "acct".into(),
            order: order.into(),
        },
        at,
    )
}

#[test]
fn the_log_names_the_account_of_a_kid_and_nothing_of_anything_else() {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let body = |header: &str| {
        let protected = Base64UrlUnpadded::encode_string(header.as_bytes());
        format!(r#"{{"protected":"{protected}","payload":"","signature":"AA"}}"#).into_bytes()
    };
    let kid = r#"{"alg":"ES256","kid":"https://ca.test/acme/acct/Ab-9_z","nonce":"n","url":"u"}"#;
    assert_eq!(super::peek_account(&body(kid)).as_deref(), Some("Ab-9_z"));
    // A JSON escape in the protected member is still read.
    let escaped =
        String::from_utf8(body(kid))
            .unwrap()
            .replacen("\"protected\"", "\"prot\\u0065cted\"", 1);
    assert_eq!(
        super::peek_account(escaped.as_bytes()).as_deref(),
        Some("Ab-9_z")
    );
    let refused = [
        body(r#"{"alg":"ES256","jwk":{"kty":"EC"}}"#),
        body(r#"{"kid":"https://ca.test/acme/acct/a/b c"}"#),
        body(r#"{"kid":"https://ca.test/elsewhere"}"#),
        body(r#"{"kid":7}"#),
        b"not json".to_vec(),
        br#"{"protected":"%%%"}"#.to_vec(),
        br#"{"payload":""}"#.to_vec(),
    ];
    for b in refused {
        assert_eq!(
            super::peek_account(&b),
            None,
            "{}",
            String::from_utf8_lossy(&b)
        );
    }
}
