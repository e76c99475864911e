//! The listening loop: TLS on every connection, HTTP/1.1, one log line per request, background
//! upkeep (CRL, the server's own certificate, nonces), and a drain on SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower_layer_free::log_requests;

use uca_acme::store::Retention;

use crate::router::AppState;
use crate::tls::{CertSource, ServerCert};

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client has to send a request's headers (and how long an idle kept-alive
/// connection may wait for the next request).
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more wait in the listen backlog, so slow or idle clients cannot
/// take every file descriptor.
pub const MAX_CONNECTIONS: usize = 1024;
/// Connections one source address may hold at once; more are closed as they arrive, so one
/// misbehaving host cannot take the slots every other client needs.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 256;
/// A connection with no request in progress and no bytes moving for this long is closed (a
/// client that completed TLS and then fell silent, or an idle kept-alive connection).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests get after SIGTERM.
const DRAIN: Duration = Duration::from_secs(10);
/// How often the CRL and the server's certificate are looked after.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// How often the embedded store's log is copied into its database file: a tenth of a second
/// of writes (about 6 MB at a thousand orders per second) per checkpoint.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// How often a checkpoint failure that persists is logged again.
const CHECKPOINT_FAILURE_LOG_EVERY: Duration = Duration::from_secs(60);
/// How often dead orders are pruned, and how long after they ended.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
pub const PRUNE_GRACE_SECS: i64 = 86_400;
/// How long after its certificate expired a valid order is pruned with the certificate's
/// record: long past any renewal (ARI asks for one in the last third of the lifetime), so a
/// client that names it in `replaces` has long since renewed or is starting over.
pub const EXPIRED_GRACE_SECS: i64 = 30 * 86_400;

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsError),
}

/// Raises the open-file limit to its hard maximum: every connection is a descriptor, and the
/// default soft limit (often 1024) is below what the connection cap allows with the databases
/// and validation sockets on top. Returns the limit now in force.
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(max) = limit.maximum {
        limit.current = Some(max);
        let _ = setrlimit(Resource::Nofile, limit);
    }
    getrlimit(Resource::Nofile).current
}

/// Serves until SIGTERM or SIGINT, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    cert: Arc<ServerCert>,
    cert_source: CertSource,
    on_log: Arc<dyn Fn(String) + Send + Sync>,
) -> Result<(), ServeError> {
    let fds = raise_fd_limit();
    if fds.is_some_and(|n| n < MAX_CONNECTIONS as u64 + 128) {
        on_log(format!(
            "warning: the open-file limit is {}; raise it (ulimit -n) to serve {MAX_CONNECTIONS} connections",
            fds.unwrap_or(0)
        ));
    }
    let acceptor = TlsAcceptor::from(Arc::new(cert.server_config()?));
    let app = crate::router::router(state.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let upkeep = tokio::spawn(upkeep(
        state.clone(),
        cert.clone(),
        cert_source,
        on_log.clone(),
        stop_rx.clone(),
    ));
    let checkpoints = tokio::spawn(checkpoints(state.clone(), on_log.clone(), stop_rx.clone()));
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = Box::pin(shutdown_signal());
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let per_address = Arc::new(PerAddress::default());
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = async {
                let permit = slots.clone().acquire_owned().await;
                (permit, listener.accept().await)
            } => {
                let (permit, (tcp, peer)) = match accepted {
                    (Ok(permit), Ok(conn)) => (permit, conn),
                    // Out of descriptors or similar: back off instead of spinning.
                    (_, Err(_)) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    (Err(_), _) => continue,
                };
                let Some(address_slot) = per_address.take(peer.ip()) else {
                    drop(tcp);
                    continue;
                };
                let acceptor = acceptor.clone();
                let app = app.clone();
                let log = on_log.clone();
                let mut stop = stop_rx.clone();
                connections.spawn(async move {
                    let _permit = permit;
                    let _address_slot = address_slot;
                    let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await else {
                        return;
                    };
                    let activity = Arc::new(Activity::default());
                    let io = Watched { inner: tls, activity: activity.clone() };
                    let service = TowerToHyperService::new(log_requests(app, log, peer, activity.clone()));
                    // HTTP/1.1 only (the ALPN offer), so the header timeout starts with the
                    // connection: no wait for bytes that would tell HTTP/1.1 from HTTP/2.
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .max_buf_size(64 * 1024)
                        .serve_connection(TokioIo::new(io), service);
                    tokio::pin!(conn);
                    let mut tick = tokio::time::interval(Duration::from_secs(1));
                    loop {
                        tokio::select! {
                            _ = conn.as_mut() => break,
                            _ = stop.changed() => {
                                conn.as_mut().graceful_shutdown();
                                let _ = conn.await;
                                break;
                            }
                            _ = tick.tick() => {
                                if activity.idle_for() >= IDLE_TIMEOUT {
                                    // Dropping the connection closes it.
                                    break;
                                }
                            }
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    on_log("stopping: draining in-flight requests".into());
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    upkeep.abort();
    checkpoints.abort();
    Ok(())
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// The embedded store's checkpoints, off the requests' path ([`uca_acme::Acme::checkpoint`]).
async fn checkpoints(
    state: Arc<AppState>,
    log: Arc<dyn Fn(String) + Send + Sync>,
    mut stop: watch::Receiver<bool>,
) {
    if state.acme.is_shared() {
        return;
    }
    let mut failures = RepeatedFailure::default();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CHECKPOINT_EVERY) => {}
            _ = stop.changed() => return,
        }
        let st = state.clone();
        let failure = match state.disk.run(move || st.acme.checkpoint()).await {
            Ok(Ok(_)) => None,
            // The serving connection checkpoints by itself past its backstop meanwhile.
            Ok(Err(p)) => Some(p.detail),
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = failures.worth_logging(failure, Instant::now()) {
            log(format!(
                "checkpoint of acme.sqlite failed, will retry: {why}"
            ));
        }
    }
}

/// A failure that persists (a full disk) is logged when it starts, when it changes, and once a
/// minute ([`CHECKPOINT_FAILURE_LOG_EVERY`]), not at every retry.
#[derive(Default)]
struct RepeatedFailure {
    last: Option<(String, Instant)>,
}

impl RepeatedFailure {
    /// The outcome of one try (`None`: it worked); the failure, if it should be logged now.
    fn worth_logging(&mut self, failure: Option<String>, now: Instant) -> Option<String> {
        let Some(why) = failure else {
            self.last = None;
            return None;
        };
        let repeated = self.last.as_ref().is_some_and(|(last, at)| {
            *last == why && now.duration_since(*at) < CHECKPOINT_FAILURE_LOG_EVERY
        });
        if repeated {
            return None;
        }
        self.last = Some((why.clone(), now));
        Some(why)
    }
}

/// CRL re-signing, the server certificate's renewal, expired nonces.
async fn upkeep(
    state: Arc<AppState>,
    cert: Arc<ServerCert>,
    source: CertSource,
    log: Arc<dyn Fn(String) + Send + Sync>,
    mut stop: watch::Receiver<bool>,
) {
    let mut last_prune: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(UPKEEP_EVERY) => {}
            _ = stop.changed() => return,
        }
        let st = state.clone();
        let c = cert.clone();
        let src = source.clone();
        let prune = last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY);
        if prune {
            last_prune = Some(Instant::now());
        }
        let log_prune = log.clone();
        let result = state.disk.run(move || {
            let now = time::OffsetDateTime::now_utc();
            st.acme.sweep_nonces(now.unix_timestamp());
            if st.acme.is_shared() {
                // Finalizations a stopped replica left: one replica at a time settles them.
                let claimed_before =
                    now - time::Duration::seconds(st.acme.settings.abandoned_after);
                match st.acme.sweep_abandoned(now.unix_timestamp(), |orders| {
                    st.issuer
                        .issued_of(orders, Some(claimed_before))
                        .map_err(|e| e.to_string())
                }) {
                    Ok(Some((finished, reopened))) if finished + reopened > 0 => log_prune(format!(
                        "settled finalizations a stopped replica left: {finished} completed from the ledger, {reopened} ready to finalize again"
                    )),
                    Ok(_) => {}
                    Err(e) => log_prune(format!("settling abandoned finalizations failed, will retry: {e}")),
                }
            }
            if prune {
                let keep = Retention::at(now.unix_timestamp(), PRUNE_GRACE_SECS, EXPIRED_GRACE_SECS);
                match st.acme.prune(&keep) {
                    Ok(p) if p.orders + p.nonces > 0 => log_prune(format!(
                        "pruned {} order(s) ({} of certificates expired over {} days ago), {} authorization(s), {} challenge(s), {} expired nonce(s)",
                        p.orders, p.certificates, EXPIRED_GRACE_SECS / 86_400, p.authzs, p.challenges, p.nonces
                    )),
                    Ok(_) => {}
                    Err(e) => log_prune(format!("pruning failed, will retry: {e}")),
                }
            }
            let crl = st
                .crl
                .refresh(&st.issuer, false, now)
                .map_err(|e| format!("CRL: {e}"))?;
            let renewed = c
                .renew_if_due(&src, &st.issuer, now)
                .map_err(|e| format!("server certificate: {e}"))?;
            Ok::<_, String>((crl, renewed))
        })
        .await;
        match result {
            Ok(Ok((crl, renewed))) => {
                if crl {
                    log("published a new CRL".into());
                }
                if renewed {
                    log(format!(
                        "renewed the server certificate (valid until {})",
                        cert.not_after()
                    ));
                }
            }
            Ok(Err(why)) => log(format!("upkeep failed, will retry: {why}")),
            Err(e) => log(format!("upkeep failed, will retry: {e}")),
        }
    }
}

/// Connections per source address.
#[derive(Debug, Default)]
struct PerAddress {
    open: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
}

/// One connection's place in [`PerAddress`], given back when the connection ends.
struct AddressSlot {
    owner: Arc<PerAddress>,
    ip: std::net::IpAddr,
}

impl PerAddress {
    fn take(self: &Arc<Self>, ip: std::net::IpAddr) -> Option<AddressSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_default();
        if *n >= MAX_CONNECTIONS_PER_ADDRESS {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            owner: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.owner.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// When a connection last moved a byte, and how many requests it has in progress.
#[derive(Debug)]
struct Activity {
    since: Instant,
    last_ms: std::sync::atomic::AtomicU64,
    in_flight: std::sync::atomic::AtomicUsize,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            since: Instant::now(),
            last_ms: std::sync::atomic::AtomicU64::new(0),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// How long nothing has happened; zero while a request is being handled (a validation
    /// may legitimately take seconds without a byte on this connection).
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            return Duration::ZERO;
        }
        let last = self.last_ms.load(std::sync::atomic::Ordering::Relaxed);
        self.since
            .elapsed()
            .saturating_sub(Duration::from_millis(last))
    }
}

/// A stream that records when bytes move.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Watched<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Request logging without extra middleware crates.
mod tower_layer_free {
    use super::*;
    use std::convert::Infallible;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    #[derive(Clone)]
    pub struct Logged {
        app: Router,
        log: Arc<dyn Fn(String) + Send + Sync>,
        peer: SocketAddr,
        activity: Arc<super::Activity>,
    }

    pub(super) fn log_requests(
        app: Router,
        log: Arc<dyn Fn(String) + Send + Sync>,
        peer: SocketAddr,
        activity: Arc<super::Activity>,
    ) -> Logged {
        Logged {
            app,
            log,
            peer,
            activity,
        }
    }

    /// Counts a request in progress until it is dropped.
    struct InFlight(Arc<super::Activity>);

    impl Drop for InFlight {
        fn drop(&mut self) {
            self.0
                .in_flight
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            self.0.touch();
        }
    }

    impl tower_service::Service<Request<hyper::body::Incoming>> for Logged {
        type Response = axum::response::Response;
        type Error = Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: Request<hyper::body::Incoming>) -> Self::Future {
            self.activity
                .in_flight
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let in_flight = InFlight(self.activity.clone());
            let started = Instant::now();
            let method = req.method().clone();
            let path = req.uri().path().to_string();
            let log = self.log.clone();
            let peer = self.peer;
            let mut req = req.map(Body::new);
            // Whatever a client sent under this name is replaced by the address it came from.
            if let Ok(v) = axum::http::HeaderValue::from_str(&peer.ip().to_string()) {
                req.headers_mut().insert(crate::router::PEER_HEADER, v);
            }
            let mut app = self.app.clone();
            Box::pin(async move {
                let _in_flight = in_flight;
                let resp = match tower_service::Service::call(&mut app, req).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                };
                log(format!(
                    "{} {}",
                    peer.ip(),
                    crate::router::log_line(
                        &method,
                        &path,
                        resp.status(),
                        resp.extensions().get::<crate::router::LogFields>(),
                        started
                    )
                ));
                Ok(resp)
            })
        }
    }
}

#[cfg(test)]
mod repeated_failure_tests {
    use super::{CHECKPOINT_FAILURE_LOG_EVERY, RepeatedFailure};
    use std::time::{Duration, Instant};

    #[test]
    fn a_persisting_failure_is_logged_when_it_starts_changes_and_once_a_minute() {
        let mut f = RepeatedFailure::default();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let full = || Some("disk full".to_string());
        assert_eq!(f.worth_logging(None, at(0)), None);
        assert_eq!(
            f.worth_logging(full(), at(100)).as_deref(),
            Some("disk full")
        );
        assert_eq!(f.worth_logging(full(), at(200)), None);
        assert_eq!(f.worth_logging(full(), at(30_000)), None);
        let other = f.worth_logging(Some("I/O error".into()), at(30_100));
        assert_eq!(other.as_deref(), Some("I/O error"));
        let later = at(30_100) + CHECKPOINT_FAILURE_LOG_EVERY;
        let again = f.worth_logging(Some("I/O error".into()), later);
        assert_eq!(again.as_deref(), Some("I/O error"));
        // Once it works again, the next failure is news.
        assert_eq!(f.worth_logging(None, later), None);
        let news = f.worth_logging(Some("I/O error".into()), later);
        assert_eq!(news.as_deref(), Some("I/O error"));
    }
}
