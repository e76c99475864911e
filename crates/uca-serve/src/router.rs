//! HTTP in front of the ACME core: one route per resource, problem documents for every
//! refusal, `Replay-Nonce` and the directory `Link` on every ACME response. `router(state)`
//! is a plain tower service, testable without a socket.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use time::OffsetDateTime;
use uca_acme::service::{ChallengeStep, FinalizeStep, paths};
use uca_acme::{Acme, Body, Post, Problem, ProblemType, Reply};

use crate::crl::CrlCache;
use crate::issuer::{Issuer, RevokeRefusal};
use crate::validate::Validator;

#[cfg(test)]
mod tests;

/// Request bodies larger than this are refused before they are read (413).
pub const MAX_BODY: usize = 64 * 1024;

/// Everything a request may touch.
pub struct AppState {
    pub acme: Acme,
    pub issuer: Issuer,
    pub validator: Validator,
    pub crl: CrlCache,
    /// The base URL when a request carries no usable Host.
    pub default_base: String,
    pub metrics: crate::metrics::Metrics,
    /// Threads for the work that waits on the disk (see [`crate::disk_pool`]).
    pub disk: crate::DiskPool,
}

type Shared = Arc<AppState>;

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// The routes.
pub fn router(state: Shared) -> Router {
    // Every route answers a wrong method with a 405 problem document naming the right ones.
    let p = |h: axum::routing::MethodRouter<Shared>| h.fallback(post_only);
    let g = |h: axum::routing::MethodRouter<Shared>| h.fallback(get_only);
    Router::new()
        .route(paths::DIRECTORY, g(get(directory)))
        .route(paths::NEW_NONCE, g(get(new_nonce).head(new_nonce)))
        .route(paths::NEW_ACCOUNT, p(post(new_account)))
        .route(paths::NEW_ORDER, p(post(new_order)))
        .route(paths::REVOKE_CERT, p(post(revoke_cert)))
        .route(paths::KEY_CHANGE, p(post(key_change)))
        .route("/acme/acct/{id}", p(post(account)))
        .route("/acme/acct/{id}/orders", p(post(orders)))
        .route("/acme/order/{id}", p(post(order)))
        .route("/acme/order/{id}/finalize", p(post(finalize)))
        .route("/acme/authz/{id}", p(post(authz)))
        .route("/acme/chall/{id}", p(post(challenge)))
        .route("/acme/cert/{id}", p(post(certificate)))
        .route("/acme/renewal-info/{id}", g(get(renewal_info)))
        .route("/ca.crt", g(get(ca_chain)))
        .route("/crl", g(get(crl)))
        .route("/healthz", g(get(healthz)))
        .route("/metrics", g(get(metrics)))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            read_body,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// `https://HOST` from the request's Host, if it is a plain host[:port].
fn base(state: &AppState, headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
        })
        .map(|h| format!("https://{}", h.to_ascii_lowercase()))
        .unwrap_or_else(|| state.default_base.clone())
}

/// Adds what every ACME response carries.
fn acme_headers(state: &AppState, base: &str, mut resp: Response) -> Response {
    let h = resp.headers_mut();
    if let Ok(nonce) = state.acme.nonce(now().unix_timestamp())
        && let Ok(v) = HeaderValue::from_str(&nonce)
    {
        h.insert("replay-nonce", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("<{base}{}>;rel=\"index\"", paths::DIRECTORY)) {
        h.append(header::LINK, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A JSON body, serialized straight into bytes (`to_string` goes through the formatter).
fn json_bytes(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn problem_response(p: &Problem) -> Response {
    let status = StatusCode::from_u16(p.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = (status, json_bytes(&p.to_json())).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if let Some(secs) = p.retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    if let Some(loc) = p
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp
}

fn reply_response(r: Reply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK);
    let mut resp = match r.body {
        Body::Json(v) => {
            let mut resp = (status, json_bytes(&v)).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Body::PemChain(pem) => {
            let mut resp = (status, pem).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pem-certificate-chain"),
            );
            resp
        }
        Body::Empty => status.into_response(),
    };
    let h = resp.headers_mut();
    if let Some(loc) = r
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        h.insert(header::LOCATION, loc);
    }
    for (url, rel) in &r.links {
        if let Ok(v) = HeaderValue::from_str(&format!("<{url}>;rel=\"{rel}\"")) {
            h.append(header::LINK, v);
        }
    }
    if let Some(secs) = r.retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        h.insert(header::RETRY_AFTER, v);
    }
    resp
}

fn finish(state: &AppState, base: &str, result: Result<Reply, Problem>) -> Response {
    let resp = match result {
        Ok(r) => reply_response(r),
        Err(p) => problem_response(&p),
    };
    acme_headers(state, base, resp)
}

/// [`finish`] for a POST, tagging the response with the account and order for the log line (a
/// new order's ID comes from its Location).
fn finish_post(
    state: &AppState,
    mut log: LogFields,
    base: &str,
    result: Result<Reply, Problem>,
) -> Response {
    if log.order.is_none()
        && let Ok(r) = &result
        && let Some(loc) = &r.location
    {
        log.order = order_in(loc);
    }
    if let Err(p) = &result {
        log.problem = Some(if p.http_status() >= 500 {
            format!("{} {:?}", p.kind.code(), p.detail)
        } else {
            p.kind.code().to_string()
        });
    }
    let mut resp = finish(state, base, result);
    resp.extensions_mut().insert(log);
    resp
}

/// The account and order a request concerned, for its log line (read from the request before it
/// is checked, so a refused request is still attributed).
#[derive(Debug, Clone, Default)]
pub struct LogFields {
    pub account: Option<String>,
    pub order: Option<String>,
    /// The problem answered: its type, and for the server's own failures (5xx) what went wrong,
    /// which the operator needs and the client cannot act on.
    pub problem: Option<String>,
}

/// The account ID at the end of the protected header's `kid`, if the body has one. Only the
/// two members it needs are decoded (no tree of the whole body: this runs on every request).
fn peek_account(body: &[u8]) -> Option<String> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    #[derive(serde::Deserialize)]
    struct Outer<'a> {
        #[serde(borrow)]
        protected: Option<std::borrow::Cow<'a, str>>,
    }
    #[derive(serde::Deserialize)]
    struct Header {
        kid: Option<String>,
    }
    let outer: Outer<'_> = serde_json::from_slice(body).ok()?;
    let protected = Base64UrlUnpadded::decode_vec(&outer.protected?).ok()?;
    let header: Header = serde_json::from_slice(&protected).ok()?;
    let kid = header.kid?;
    let id = kid.rsplit_once(paths::ACCOUNT)?.1;
    (!id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then(|| id.to_string())
}

fn order_in(path: &str) -> Option<String> {
    let rest = path.split_once(paths::ORDER)?.1;
    let id = rest.split(['/', '?']).next()?;
    (!id.is_empty()).then(|| id.to_string())
}

/// The client's address, put in the request by the server loop (never taken from a header a
/// client could set: the loop overwrites it).
fn headers_peer(headers: &HeaderMap) -> Option<std::net::IpAddr> {
    headers
        .get(PEER_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The internal header carrying the peer address from the server loop to the handlers.
pub const PEER_HEADER: &str = "x-uca-peer";

/// An owned POST, so the core can run on a blocking thread.
struct OwnedPost {
    peer: Option<std::net::IpAddr>,
    base: String,
    path: String,
    body: Bytes,
    content_type: Option<String>,
    log: LogFields,
}

impl OwnedPost {
    fn new(state: &AppState, uri: &Uri, headers: &HeaderMap, body: Bytes) -> OwnedPost {
        let log = LogFields {
            account: peek_account(&body),
            order: order_in(uri.path()),
            problem: None,
        };
        OwnedPost {
            peer: headers_peer(headers),
            log,
            base: base(state, headers),
            path: uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| uri.path().to_string()),
            body,
            content_type: headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        }
    }

    fn post(&self) -> Post<'_> {
        Post {
            peer: self.peer,
            base: &self.base,
            path: &self.path,
            body: &self.body,
            content_type: self.content_type.as_deref(),
        }
    }
}

/// Runs `f` on a request thread (the core's JWS checks, store reads and lazy writes).
async fn blocking<T: Send + 'static>(
    state: &Shared,
    f: impl FnOnce(&AppState) -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    let st = state.clone();
    handled(tokio::task::spawn_blocking(move || f(&st)).await)
}

/// Runs `f` on a disk thread: for work that waits for a sync (a durable store write, the
/// ledger's flush, a revocation), so it never holds one of the few request threads.
async fn on_disk<T: Send + 'static>(
    state: &Shared,
    f: impl FnOnce(&AppState) -> Result<T, Problem> + Send + 'static,
) -> Result<T, Problem> {
    let st = state.clone();
    handled(state.disk.run(move || f(&st)).await)
}

/// A handler's outcome, or a 500 if it panicked.
fn handled<T>(joined: Result<Result<T, Problem>, tokio::task::JoinError>) -> Result<T, Problem> {
    joined.unwrap_or_else(|e| {
        Err(Problem::internal(format!(
            "the request handler failed: {e}"
        )))
    })
}

macro_rules! simple_post {
    ($name:ident, $pool:ident, |$acme:ident, $post:ident, $now:ident $(, $id:ident)?| $call:expr) => {
        async fn $name(
            State(state): State<Shared>,
            $(Path($id): Path<String>,)?
            uri: Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> Response {
                        let owned = OwnedPost::new(&state, &uri, &headers, body);
            let base = owned.base.clone();
            let log = owned.log.clone();
            let result = $pool(&state, move |st| {
                let $acme = &st.acme;
                let $post = owned.post();
                let $now = now().unix_timestamp();
                $call
            })
            .await;
            finish_post(&state, log, &base, result)
        }
    };
}

// Account writes are durable (synced): they go to the disk threads.
simple_post!(new_account, on_disk, |acme, post, now| acme
    .new_account(&post, now));
simple_post!(new_order, blocking, |acme, post, now| acme
    .new_order(&post, now));
simple_post!(key_change, on_disk, |acme, post, now| acme
    .key_change(&post, now));
simple_post!(account, on_disk, |acme, post, now, id| acme
    .account(&post, &id, now));
simple_post!(orders, blocking, |acme, post, now, id| acme
    .orders_list(&post, &id, now));
simple_post!(order, blocking, |acme, post, now, id| acme
    .order(&post, &id, now));
simple_post!(authz, blocking, |acme, post, now, id| acme
    .authz(&post, &id, now));
simple_post!(certificate, blocking, |acme, post, now, id| acme
    .certificate(&post, &id, now));

async fn directory(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let base = base(&state, &headers);
    let reply = state.acme.directory(&base);
    finish(&state, &base, Ok(reply))
}

/// §7.2: HEAD answers 200, GET 204, both with a fresh nonce and `no-store`.
async fn new_nonce(State(state): State<Shared>, method: Method, headers: HeaderMap) -> Response {
    let base = base(&state, &headers);
    let status = if method == Method::HEAD {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    };
    acme_headers(&state, &base, status.into_response())
}

async fn challenge(
    State(state): State<Shared>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let owned = OwnedPost::new(&state, &uri, &headers, body);
    let base = owned.base.clone();
    let log = owned.log.clone();
    let step = blocking(&state, move |st| {
        st.acme
            .challenge(&owned.post(), &id, now().unix_timestamp())
    })
    .await;
    let result = match step {
        Err(p) => Err(p),
        Ok(ChallengeStep::Reply(r)) => Ok(r),
        Ok(ChallengeStep::Validate(job)) => {
            // Validated inside the POST: clients then see the final status at once instead of
            // polling (lego waits 5 s for a pending challenge without Retry-After).
            let started = Instant::now();
            let outcome = state.validator.validate(&job).await;
            state.metrics.validation(
                job.kind().as_str(),
                outcome.is_ok(),
                started.elapsed().as_secs_f64(),
            );
            if outcome.is_err() {
                state.metrics.order_final("invalid");
            }
            blocking(&state, move |st| {
                st.acme
                    .finish_validation(&job, outcome, now().unix_timestamp())
            })
            .await
        }
    };
    finish_post(&state, log, &base, result)
}

async fn finalize(
    State(state): State<Shared>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let owned = OwnedPost::new(&state, &uri, &headers, body);
    let base = owned.base.clone();
    let log = owned.log.clone();
    let result = on_disk(&state, move |st| {
        match st
            .acme
            .finalize(&owned.post(), &id, now().unix_timestamp())?
        {
            FinalizeStep::Reply(r) => Ok(r),
            FinalizeStep::Issue(job) => {
                let started = Instant::now();
                let outcome = st.issuer.issue_timed(&job, now());
                st.metrics.issuance(started.elapsed().as_secs_f64());
                let outcome = outcome.map(|(issued, commit)| {
                    st.metrics.ledger_commit(commit);
                    issued
                });
                let reply = st.acme.finish_issue(&job, outcome);
                if reply.is_ok() {
                    st.metrics.order_final("valid");
                }
                reply
            }
        }
    })
    .await;
    finish_post(&state, log, &base, result)
}

async fn revoke_cert(
    State(state): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let owned = OwnedPost::new(&state, &uri, &headers, body);
    let base = owned.base.clone();
    let log = owned.log.clone();
    let result = on_disk(&state, move |st| {
        let job = st.acme.revoke(&owned.post(), now().unix_timestamp())?;
        match st.issuer.revoke(
            &job.cert.serial_value,
            &job.cert.fingerprint_sha256,
            job.reason,
            now(),
        ) {
            Ok(()) => {}
            Err(RevokeRefusal::NotFound) => {
                return Err(
                    Problem::malformed("this CA did not issue that certificate").with_status(404)
                );
            }
            Err(RevokeRefusal::AlreadyRevoked) => {
                return Err(Problem::new(
                    ProblemType::AlreadyRevoked,
                    "the certificate is already revoked",
                ));
            }
            Err(RevokeRefusal::Failed(why)) => return Err(Problem::internal(why)),
        }
        // The CRL follows at once; a failure here is the next refresh's to retry.
        let _ = st.crl.refresh(&st.issuer, true, now());
        Ok(Reply {
            status: 200,
            location: None,
            links: Vec::new(),
            retry_after: None,
            body: Body::Empty,
        })
    })
    .await;
    finish_post(&state, log, &base, result)
}

/// GET /acme/renewal-info/{certID} (RFC 9773 §4): when to renew this certificate.
async fn renewal_info(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let base = base(&state, &headers);
    let result = on_disk(&state, move |st| {
        let cert_id = uca_acme::service::CertId::parse(&id)?;
        if st.issuer.ca_key_id() != Some(cert_id.key_id.as_slice()) {
            return Err(Problem::not_found());
        }
        let facts = st
            .issuer
            .renewal_facts(&cert_id.serial)
            .map_err(|e| Problem::internal(format!("the ledger could not be read: {e}")))?
            .ok_or_else(Problem::not_found)?;
        Ok(uca_acme::service::renewal_info(
            facts,
            now().unix_timestamp(),
        ))
    })
    .await;
    finish(&state, &base, result)
}

async fn ca_chain(State(state): State<Shared>) -> Response {
    let mut resp = state.issuer.chain_pem().to_string().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pem-certificate-chain"),
    );
    resp
}

async fn crl(State(state): State<Shared>) -> Response {
    match state.crl.der() {
        Some(der) => {
            let mut resp = der.into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pkix-crl"),
            );
            resp
        }
        None => (StatusCode::SERVICE_UNAVAILABLE, "no CRL yet\n").into_response(),
    }
}

/// How long a client has to send a request body once its head is in.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads a request's body before any handler runs: refused at once (413) when its
/// Content-Length is past [`MAX_BODY`], cut at the limit otherwise, and given up (408) when it
/// does not arrive within [`BODY_TIMEOUT`], so a slow or absent body cannot hold a connection.
async fn read_body(
    State(state): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let refuse = |p: Problem| {
        let base = base(&state, &parts.headers);
        let mut resp = finish(&state, &base, Err(p));
        // The rest of the body is not read: the connection cannot be reused.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        resp
    };
    let too_large = || {
        Problem::malformed(format!("the request body exceeds {MAX_BODY} bytes")).with_status(413)
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return refuse(too_large());
    }
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    let bytes =
        match tokio::time::timeout(BODY_TIMEOUT, http_body_util::BodyExt::collect(limited)).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e))
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                return refuse(too_large());
            }
            Ok(Err(_)) => return refuse(Problem::malformed("the request body could not be read")),
            Err(_) => {
                return refuse(
                    Problem::malformed(format!(
                        "the request body did not arrive within {} s",
                        BODY_TIMEOUT.as_secs()
                    ))
                    .with_status(408),
                );
            }
        };
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

/// Counts every request by resource and status (and 429s as rate-limit refusals).
async fn count_requests(
    State(state): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    state.metrics.request(&path, status);
    if status == 429 {
        state.metrics.rate_limited(&path);
    }
    resp
}

async fn metrics(State(state): State<Shared>) -> Response {
    let mut resp = state.metrics.render().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// 200 while this server can record certificates; 503 (with the reason) while its database
/// ledger is unreachable or read-only, so a load balancer sends clients to another replica.
async fn healthz(State(state): State<Shared>) -> Response {
    let st = state.clone();
    let ready = state
        .disk
        .run(move || st.issuer.ledger_ready())
        .await
        .unwrap_or_else(|e| Err(format!("the health check failed: {e}")));
    match ready {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
    }
}

/// An ACME resource asked with another method than POST (405; reads are POST-as-GET, §6.3).
async fn post_only(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let base = base(&state, &headers);
    let p = Problem::malformed("ACME resources take POST (reads are POST-as-GET, RFC 8555 §6.3)")
        .with_status(405);
    let mut resp = finish(&state, &base, Err(p));
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    resp
}

/// A read-only resource asked with another method than GET or HEAD (405).
async fn get_only() -> Response {
    let mut resp =
        problem_response(&Problem::malformed("this resource is read with GET").with_status(405));
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    resp
}

async fn not_found() -> Response {
    problem_response(&Problem::not_found())
}

/// One log line per request: time, method, path, status, account, order, the problem if one was
/// answered, milliseconds (never a body or a header value, so never a secret).
pub fn log_line(
    method: &Method,
    path: &str,
    status: StatusCode,
    fields: Option<&LogFields>,
    started: Instant,
) -> String {
    let dash = |v: Option<&String>| v.cloned().unwrap_or_else(|| "-".into());
    let problem = fields
        .and_then(|f| f.problem.as_ref())
        .map(|p| format!(" problem={p}"))
        .unwrap_or_default();
    format!(
        "{} {} {} {} acct={} order={}{problem} {:.1}ms",
        OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        method,
        path,
        status.as_u16(),
        dash(fields.and_then(|f| f.account.as_ref())),
        dash(fields.and_then(|f| f.order.as_ref())),
        started.elapsed().as_secs_f64() * 1000.0
    )
}
