//! `uca health watch`: every target probed on its own jittered schedule (bounded concurrency, a
//! new connection per probe), statuses recomputed every second, the history flushed to the store,
//! color changes announced (event sink, `on_change` command, webhook), and the views served.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::ClientConfig;
use tokio::net::TcpListener;
use tokio::time::Instant;

use crate::HealthError;
use crate::cawatch::{CaWatch, Question};
use crate::endpoint::{Endpoint, Status, rules_of, status};
use crate::probe::{client_config, probe};
use crate::store::{RingId, Store};
use crate::targets::{CaSource, ClientCert, Kind, Targets};
use crate::views::{LAG_BUCKETS, SchedulerStats, StatusDoc, html, metrics, summary};
use uca_pki::Color;

/// How far back the store keeps history: the longest burn-rate window.
const KEEP_MS: i64 = 6 * 3_600_000 + 60_000;
/// How often the ledger and CRL are consulted.
const CA_REFRESH: Duration = Duration::from_secs(30);
/// A probe later than this against its schedule counts as late.
const LATE: Duration = Duration::from_millis(100);

/// What the caller (the binary) is told while the watcher runs.
pub trait Events: Send + Sync + 'static {
    fn listening(&self, addr: SocketAddr);
    fn changed(&self, status: &Status, from: Color);
    fn tick(&self, statuses: &[Status]);
    fn problem(&self, message: &str);
}

pub struct WatchOptions {
    pub targets: Targets,
    pub listen: SocketAddr,
    pub store: PathBuf,
    pub ca: Option<CaWatch>,
    /// Probes in flight at once.
    pub concurrency: usize,
    /// Stop after this long (tests, benchmarks); None runs until SIGINT/SIGTERM.
    pub run_for: Option<Duration>,
}

/// What a TLS client configuration depends on: targets that agree on it share one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TlsKey {
    ca: Option<CaSource>,
    client_cert: Option<ClientCert>,
    /// HTTPS targets offer ALPN `http/1.1`; plain TLS targets offer nothing.
    alpn_http: bool,
}

struct Shared {
    endpoints: Vec<Mutex<Endpoint>>,
    statuses: RwLock<Vec<Status>>,
    sched: Mutex<SchedulerStats>,
    stop: AtomicBool,
    /// The longest probe timeout of any target, milliseconds.
    max_timeout_ms: i64,
}

/// Unix time in milliseconds, the clock of every bucket.
pub(crate) fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn random_fraction() -> f64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// Runs the watcher until stopped. Builds its own runtime.
pub fn run(opts: WatchOptions, events: Arc<dyn Events>) -> Result<(), HealthError> {
    // Everything that can fail on configuration fails here, before any probe runs.
    let mut configs: HashMap<TlsKey, Arc<ClientConfig>> = HashMap::new();
    let mut tls_for = Vec::new();
    for t in &opts.targets.targets {
        if !t.kind.uses_tls() {
            tls_for.push(None);
            continue;
        }
        let key = TlsKey {
            ca: t.ca.clone(),
            client_cert: t.client_cert.clone(),
            alpn_http: t.kind == Kind::Https,
        };
        let cfg = match configs.get(&key) {
            Some(c) => c.clone(),
            None => {
                let c = client_config(t.ca.as_ref(), t.client_cert.as_ref(), t.kind == Kind::Https)
                    .map_err(|error| HealthError::Tls {
                        target: Some(t.name.clone()),
                        error,
                    })?;
                configs.insert(key, c.clone());
                c
            }
        };
        tls_for.push(Some(cfg));
    }
    let mut store = Store::open(&opts.store)?;
    let now = now_ms();
    let mut endpoints = Vec::new();
    for t in &opts.targets.targets {
        let mut e = Endpoint::new(t.clone());
        let saved = store.load(
            &t.name,
            &rules_of(t).fingerprint().to_string(),
            now - KEEP_MS,
        )?;
        for (ring, width, b) in &saved.buckets {
            e.history.restore(*ring == RingId::Fine, *width, b);
        }
        if let Some((c, since)) = saved.color {
            e.color = c;
            e.color_since_ms = since;
        }
        endpoints.push(Mutex::new(e));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(HealthError::Runtime)?;
    let shared = Arc::new(Shared {
        endpoints,
        statuses: RwLock::new(Vec::new()),
        sched: Mutex::new(SchedulerStats {
            lag_counts: vec![0; LAG_BUCKETS.len() + 1],
            ..SchedulerStats::default()
        }),
        stop: AtomicBool::new(false),
        max_timeout_ms: opts
            .targets
            .targets
            .iter()
            .map(|t| t.timeout.as_duration().as_millis() as i64)
            .max()
            .unwrap_or(0),
    });
    let result = runtime.block_on(async move {
        let listener =
            TcpListener::bind(opts.listen)
                .await
                .map_err(|source| HealthError::Listen {
                    addr: opts.listen,
                    source,
                })?;
        if let Ok(a) = listener.local_addr() {
            events.listening(a);
        }
        refresh_statuses(&shared, &events, &opts.targets.actions, true);
        tokio::spawn(serve(listener, shared.clone()));
        let sem = Arc::new(tokio::sync::Semaphore::new(opts.concurrency.max(1)));
        for (i, tls) in tls_for.into_iter().enumerate() {
            tokio::spawn(probe_loop(i, shared.clone(), tls, sem.clone()));
        }
        if let Some(ca) = opts.ca.clone() {
            tokio::spawn(ca_loop(ca, shared.clone(), events.clone()));
        }
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut flushed_ms = now_ms() - KEEP_MS;
        let mut store = Some(store);
        let mut last_flush = Instant::now();
        // One listener for the whole run: a signal that arrives while a flush or a refresh
        // runs is kept until the loop looks again.
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = &mut shutdown => break,
            }
            refresh_statuses(&shared, &events, &opts.targets.actions, false);
            if last_flush.elapsed() >= Duration::from_secs(5) {
                last_flush = Instant::now();
                flushed_ms = flush(&shared, &mut store, flushed_ms, &events).await;
            }
            if opts.run_for.is_some_and(|d| started.elapsed() >= d) {
                break;
            }
        }
        shared.stop.store(true, Ordering::Relaxed);
        flush(&shared, &mut store, flushed_ms, &events).await;
        Ok(())
    });
    // Probes in flight or a blocked helper thread must not hold up the exit.
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called (not when
/// first polled), so no signal between two polls is lost.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    async move {
        let t = async {
            match term.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let i = async {
            match int.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = t => {}
            _ = i => {}
        }
    }
}

async fn probe_loop(
    idx: usize,
    shared: Arc<Shared>,
    tls: Option<Arc<ClientConfig>>,
    sem: Arc<tokio::sync::Semaphore>,
) {
    let target = Arc::new(match shared.endpoints[idx].lock() {
        Ok(e) => e.target.clone(),
        Err(p) => p.into_inner().target.clone(),
    });
    let interval = target.interval.as_duration();
    // Spread the first probes over one interval, then keep the schedule with ±5% jitter.
    let mut next = Instant::now() + interval.mul_f64(random_fraction());
    loop {
        tokio::time::sleep_until(next).await;
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(_permit) = sem.acquire().await else {
            return;
        };
        let started = Instant::now();
        record_lag(&shared, started.saturating_duration_since(next), 1);
        let at = now_ms();
        let outcome = probe_isolated(target.clone(), tls.clone()).await;
        next += interval.mul_f64(0.95 + 0.1 * random_fraction());
        let now = Instant::now();
        // Slots that passed while this probe ran: a probe slower than the interval delays the
        // next one. A failed probe stands for every slot it used up (a hanging endpoint would
        // otherwise be sampled once per timeout and look healthier than it is), and the missed
        // slots count as late in the watcher's own figures.
        let missed = if next < now {
            let m = (now - next).as_secs_f64() / interval.as_secs_f64().max(1e-3);
            next = now + interval.mul_f64(random_fraction() * 0.1);
            m.ceil() as u32
        } else {
            0
        };
        {
            let mut e = shared.endpoints[idx]
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            e.record(at, &outcome);
            if !outcome.success {
                e.record_missed_slots(at, missed.min(1000), &outcome);
            }
        }
        if missed > 0 {
            record_lag(&shared, LATE * 2, missed);
        }
    }
}

/// Counts `n` scheduled probes that started `lag` after their slot.
fn record_lag(shared: &Shared, lag: Duration, n: u32) {
    let mut s = shared.sched.lock().unwrap_or_else(|p| p.into_inner());
    let n = u64::from(n);
    s.scheduled += n;
    if lag > LATE {
        s.late += n;
    }
    let secs = lag.as_secs_f64();
    let i = LAG_BUCKETS
        .iter()
        .position(|b| secs <= *b)
        .unwrap_or(LAG_BUCKETS.len());
    s.lag_counts[i] += n;
    s.lag_sum += secs * n as f64;
}

/// Runs one probe in its own task, so that a bug tripped by a hostile server costs one failed
/// probe, not the target's whole schedule.
async fn probe_isolated(
    target: Arc<crate::targets::Target>,
    tls: Option<Arc<ClientConfig>>,
) -> crate::probe::Outcome {
    let t = target.clone();
    match tokio::spawn(async move { probe(&t, tls.as_ref()).await }).await {
        Ok(o) => o,
        Err(e) => crate::probe::Outcome {
            success: false,
            latency: Duration::ZERO,
            error: Some(format!(
                "internal error while probing (please report it): {e}"
            )),
            status: None,
            chain: None,
        },
    }
}

fn refresh_statuses(
    shared: &Shared,
    events: &Arc<dyn Events>,
    actions: &crate::targets::WatchActions,
    first: bool,
) {
    let now = now_ms();
    let mut out = Vec::with_capacity(shared.endpoints.len());
    for m in &shared.endpoints {
        let mut e = m.lock().unwrap_or_else(|p| p.into_inner());
        if now % 60_000 < 1000 {
            e.history.prune(now);
        }
        let st = status(&e, now);
        if st.color != e.color {
            let from = e.color;
            e.color = st.color;
            e.color_since_ms = now;
            if !first {
                events.changed(&st, from);
                announce(actions, &st, from, events.clone());
            }
        }
        out.push(st);
    }
    events.tick(&out);
    *shared.statuses.write().unwrap_or_else(|p| p.into_inner()) = out;
}

fn announce(
    actions: &crate::targets::WatchActions,
    st: &Status,
    from: Color,
    events: Arc<dyn Events>,
) {
    let reason = st.reasons.first().cloned().unwrap_or_default();
    if let Some(cmd) = &actions.on_change {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c")
            .arg(cmd)
            .env("UCA_HEALTH_NAME", &st.name)
            .env("UCA_HEALTH_URL", &st.url)
            .env("UCA_HEALTH_FROM", from.title())
            .env("UCA_HEALTH_TO", st.color.title())
            .env("UCA_HEALTH_REASON", &reason)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let ev = events.clone();
        tokio::spawn(async move {
            match c.spawn() {
                Ok(mut child) => {
                    match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
                        Ok(Ok(s)) if s.success() => {}
                        Ok(Ok(s)) => ev.problem(&format!("on_change command exited with {s}")),
                        Ok(Err(e)) => ev.problem(&format!("on_change command: {e}")),
                        Err(_) => ev.problem("on_change command took longer than 30 s; killed"),
                    }
                }
                Err(e) => ev.problem(&format!("on_change command could not start: {e}")),
            }
        });
    }
    if let Some(url) = &actions.webhook {
        let body = serde_json::json!({
            "name": st.name, "url": st.url, "from": from.as_str(), "to": st.color.as_str(),
            "reason": reason, "reasons": st.reasons, "forecast": st.forecast,
            "at": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        })
        .to_string();
        let url = url.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::probe::post_json(&url, &body).await {
                events.problem(&format!("webhook {url}: {e}"));
            }
        });
    }
}

async fn ca_loop(ca: CaWatch, shared: Arc<Shared>, events: Arc<dyn Events>) {
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        // The served leaves and their thresholds, deduplicated by certificate.
        let mut asks: Vec<(usize, crate::probe::SeenCert, uca_pki::Span, uca_pki::Span)> =
            Vec::new();
        for (i, m) in shared.endpoints.iter().enumerate() {
            let e = m.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(leaf) = e.chain.as_ref().and_then(|c| c.first()) {
                asks.push((i, leaf.clone(), e.target.cert_warn, e.target.cert_crit));
            }
        }
        if !asks.is_empty() {
            let ca2 = ca.clone();
            let result = tokio::task::spawn_blocking(move || {
                let qs: Vec<Question<'_>> = asks
                    .iter()
                    .map(|(_, leaf, warn, crit)| Question {
                        leaf,
                        warn: *warn,
                        crit: *crit,
                    })
                    .collect();
                ca2.findings(&qs, time::OffsetDateTime::now_utc()).map(|f| {
                    f.map(|f| {
                        asks.iter()
                            .map(|a| (a.0, a.1.der.clone()))
                            .zip(f)
                            .collect::<Vec<_>>()
                    })
                })
            })
            .await;
            match result {
                // The CA was busy: keep the last findings, look again next round.
                Ok(Ok(None)) => {}
                Ok(Ok(Some(found))) => {
                    for ((i, der), f) in found {
                        let mut e = shared.endpoints[i]
                            .lock()
                            .unwrap_or_else(|p| p.into_inner());
                        // Only if the endpoint still serves the certificate that was looked up.
                        if e.chain
                            .as_ref()
                            .and_then(|c| c.first())
                            .is_some_and(|l| l.der == der)
                        {
                            e.ca_findings = f;
                        }
                    }
                }
                Ok(Err(e)) => events.problem(&e.to_string()),
                Err(e) => events.problem(&format!("ledger check: {e}")),
            }
        }
        tokio::time::sleep(CA_REFRESH.saturating_sub(Duration::from_secs(2))).await;
    }
}

async fn flush(
    shared: &Arc<Shared>,
    store: &mut Option<Store>,
    since_ms: i64,
    events: &Arc<dyn Events>,
) -> i64 {
    let now = now_ms();
    // A probe lands in the bucket of its start, up to a timeout after it started: rewrite the
    // buckets a still-running probe may yet change.
    let since_ms = since_ms - shared.max_timeout_ms - 1000;
    let mut rows: Vec<(String, RingId, i64, crate::window::Bucket)> = Vec::new();
    let mut colors = Vec::new();
    for m in &shared.endpoints {
        let e = m.lock().unwrap_or_else(|p| p.into_inner());
        for (id, ring) in [
            (RingId::Fine, &e.history.fine),
            (RingId::Coarse, &e.history.coarse),
        ] {
            for b in ring
                .buckets()
                .filter(|b| b.start_ms + ring.width_ms >= since_ms)
            {
                rows.push((e.target.name.clone(), id, ring.width_ms, *b));
            }
        }
        colors.push((e.target.name.clone(), e.color, e.color_since_ms));
    }
    let Some(mut s) = store.take() else {
        return since_ms;
    };
    let (s, result) = tokio::task::spawn_blocking(move || {
        let b: Vec<(&str, RingId, i64, crate::window::Bucket)> =
            rows.iter().map(|r| (r.0.as_str(), r.1, r.2, r.3)).collect();
        let c: Vec<(&str, Color, i64)> = colors.iter().map(|c| (c.0.as_str(), c.1, c.2)).collect();
        let r = s.save(&b, &c, now - KEEP_MS);
        (s, r)
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    *store = Some(s);
    match result {
        Ok(()) => now,
        Err(e) => {
            events.problem(&e.to_string());
            since_ms + shared.max_timeout_ms + 1000
        }
    }
}

/// Connections the status server handles at once; more wait in the listen backlog, so a flood
/// of idle clients cannot take the file descriptors the probes need.
const MAX_VIEWERS: usize = 64;
/// The longest one request/response exchange may take (slow readers and writers included).
const VIEW_TIMEOUT: Duration = Duration::from_secs(10);

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let app = status_router(shared);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_VIEWERS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((sock, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .keep_alive(false)
                .serve_connection(hyper_util::rt::TokioIo::new(sock), service);
            let _ = tokio::time::timeout(VIEW_TIMEOUT, conn).await;
        });
    }
}

/// The status server's routes (GET, and HEAD through it): the page, status.json, metrics.
fn status_router(shared: Arc<Shared>) -> axum::Router {
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    let view = |shared: Arc<Shared>, path: &'static str| {
        move || {
            let shared = shared.clone();
            async move {
                let (code, ctype, body) = respond(&shared, path);
                let status = if code.starts_with("200") {
                    StatusCode::OK
                } else {
                    StatusCode::NOT_FOUND
                };
                let mut resp: Response = (status, body).into_response();
                resp.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
                resp.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                resp
            }
        }
    };
    let get = axum::routing::get;
    axum::Router::new()
        .route("/", get(view(shared.clone(), "/")))
        .route("/index.html", get(view(shared.clone(), "/")))
        .route("/status.json", get(view(shared.clone(), "/status.json")))
        .route("/metrics", get(view(shared.clone(), "/metrics")))
        .route("/healthz", get(view(shared.clone(), "/healthz")))
        .fallback(
            get(view(shared, "404")).fallback(|| async {
                (StatusCode::METHOD_NOT_ALLOWED, "GET only\n").into_response()
            }),
        )
}

fn respond(shared: &Shared, path: &str) -> (&'static str, &'static str, String) {
    let statuses = shared
        .statuses
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let now = time::OffsetDateTime::now_utc();
    match path {
        "/" | "/index.html" => (
            "200 OK",
            "text/html; charset=utf-8",
            html(&statuses, 5, &uca_pki::validity::display_time(now)),
        ),
        "/status.json" => (
            "200 OK",
            "application/json",
            serde_json::to_string_pretty(&StatusDoc {
                generated_at: now,
                summary: summary(&statuses),
                endpoints: &statuses,
            })
            .unwrap_or_default(),
        ),
        "/metrics" => {
            let guards: Vec<_> = shared
                .endpoints
                .iter()
                .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()))
                .collect();
            let refs: Vec<&Endpoint> = guards.iter().map(|g| &**g).collect();
            let sched = shared
                .sched
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            (
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                metrics(&refs, &statuses, &sched),
            )
        }
        "/healthz" => ("200 OK", "text/plain", "ok\n".into()),
        _ => (
            "404 Not Found",
            "text/plain",
            "not found: try /, /status.json or /metrics\n".into(),
        ),
    }
}
