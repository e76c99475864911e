//! uca-loadgen: a concurrent ACME (RFC 8555) load generator, for benchmarking `uca serve` (and any
//! other ACME server) from the client side.
//!
//! C workers each create their account(s) (a fresh P-256 key and newAccount), wait for all the
//! others, then run their share of the N orders one after the other: newOrder, the authorization,
//! the http-01 answer published on the generator's own responder and the challenge POST, the order
//! polled until ready, finalize with a fresh P-256 key's CSR, the order polled until valid, and
//! the certificate download. An order's latency runs from newOrder to the certificate in hand; the
//! rate is the orders completed over the wall time of the order phase (account creation is timed
//! on its own). Every worker has its own HTTP/1.1 connection pool (one kept-alive TLS connection
//! in practice), as independent clients would.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clap::Parser;
use hyper::body::Bytes;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use instant_acme::{
    Account, AuthorizationStatus, BodyWrapper, ChallengeType, ExternalAccountKey, Identifier,
    NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::net::TcpListener;
use tokio::sync::Barrier;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};

mod http01;
mod report;

use http01::{Answers, Published};
use report::{Proc, Report};

/// How many error messages a run keeps (the rest are only counted).
const KEPT_ERRORS: usize = 5;

#[derive(Parser, Debug)]
#[command(
    name = "uca-loadgen",
    version,
    about = "Concurrent ACME load generator: N orders (http-01) from C workers, with latency percentiles",
    long_about = None
)]
struct Args {
    /// The ACME directory URL, e.g. https://127.0.0.1:8443/acme/directory
    #[arg(long, value_name = "URL")]
    directory: String,
    /// PEM file with the trust anchor(s) for the server's TLS certificate
    #[arg(long, value_name = "FILE")]
    ca_cert: PathBuf,
    /// Concurrent workers (each one account, one connection, orders one after the other)
    #[arg(long, value_name = "C", default_value_t = 32)]
    concurrency: usize,
    /// Orders in total, shared among the workers
    #[arg(long, value_name = "N", default_value_t = 500)]
    orders: usize,
    /// The identifier ordered (a DNS name, or an IP address)
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    identifier: String,
    /// Where the generator answers http-01 (the server validates on port 80 of the identifier)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:80")]
    http01_listen: std::net::SocketAddr,
    /// External account binding: key identifier
    #[arg(long, value_name = "KID", requires = "eab_hmac")]
    eab_kid: Option<String>,
    /// External account binding: HMAC key, base64url
    #[arg(long, value_name = "B64", requires = "eab_kid")]
    eab_hmac: Option<String>,
    /// Accounts per worker; a worker's orders go round-robin over its accounts
    #[arg(long, value_name = "A", default_value_t = 1)]
    accounts_per_worker: usize,
    /// Seconds for the whole run (account creation included); unfinished orders count as failed
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    timeout: u64,
    /// Runtime threads of the generator (default: one per CPU)
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
    /// The server's process id: report its CPU time over the order phase and its peak RSS
    /// (VmHWM, reset at the start of the order phase where /proc/PID/clear_refs allows)
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Print one JSON document instead of the table
    #[arg(long)]
    json: bool,
    /// Also write every completed order's latency to FILE, milliseconds, one a line (for pooling
    /// percentiles over several runs)
    #[arg(long, value_name = "FILE")]
    latencies_out: Option<PathBuf>,
    /// Order for this many seconds instead of a fixed number (--orders is then ignored); a
    /// worker waits a quarter second after a failed order. For runs across an outage.
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
    /// Write the serial (hex) of every certificate received to FILE, one a line: what the
    /// server acknowledged, to be found in its records afterwards
    #[arg(long, value_name = "FILE")]
    serials_out: Option<PathBuf>,
    /// Write every order's end to FILE: milliseconds into the order phase, then `ok` or `failed`
    #[arg(long, value_name = "FILE")]
    timeline_out: Option<PathBuf>,
}

type HttpClient = HyperClient<HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>;

/// What every worker shares.
struct Ctx {
    directory: String,
    identifier: Identifier,
    identifier_text: String,
    tls: rustls::ClientConfig,
    eab: Option<ExternalAccountKey>,
    accounts_per_worker: usize,
    poll: RetryPolicy,
    answers: Answers,
    results: Mutex<Results>,
    /// `--duration`: workers order until then.
    until: Mutex<Option<Instant>>,
}

#[derive(Default)]
pub(crate) struct Results {
    pub(crate) latencies: Vec<Duration>,
    /// When each order ended, and whether it got its certificate.
    pub(crate) ends: Vec<(Instant, bool)>,
    /// The serials of the certificates received, hex.
    pub(crate) serials: Vec<String>,
    pub(crate) failed: usize,
    pub(crate) errors: Vec<String>,
    pub(crate) accounts: usize,
}

impl Ctx {
    fn results(&self) -> std::sync::MutexGuard<'_, Results> {
        self.results.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fail(&self, orders: usize, message: String) {
        let mut r = self.results();
        r.failed += orders;
        if r.errors.len() < KEPT_ERRORS {
            r.errors.push(message);
        }
    }

    /// A worker's own connection pool over the shared TLS configuration.
    fn http_client(&self) -> HttpClient {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(self.tls.clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        HyperClient::builder(TokioExecutor::new()).build(connector)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let problem = if args.concurrency == 0 {
        Some("--concurrency must be at least 1")
    } else if args.orders == 0 {
        Some("--orders must be at least 1")
    } else if args.accounts_per_worker == 0 {
        Some("--accounts-per-worker must be at least 1")
    } else if args.timeout == 0 {
        Some("--timeout must be at least 1 second")
    } else if args.threads == Some(0) {
        Some("--threads must be at least 1")
    } else {
        None
    };
    if let Some(p) = problem {
        eprintln!("uca-loadgen: {p}");
        return ExitCode::from(2);
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(t) = args.threads {
        rt.worker_threads(t);
    }
    let rt = match rt.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("uca-loadgen: tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let json = args.json;
    let latencies_out = args.latencies_out.clone();
    match rt.block_on(run(args)) {
        Ok(report) => {
            if let Some(path) = latencies_out {
                let text: String = report
                    .results
                    .latencies
                    .iter()
                    .map(|d| format!("{:.3}\n", d.as_secs_f64() * 1e3))
                    .collect();
                if let Err(e) = std::fs::write(&path, text) {
                    eprintln!("uca-loadgen: {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("uca-loadgen: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<Report, String> {
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let tls = tls_config(&args.ca_cert)?;
    let eab = match (&args.eab_kid, &args.eab_hmac) {
        (Some(kid), Some(hmac)) => {
            Some(ExternalAccountKey::new(kid.clone(), &decode_b64url(hmac)?))
        }
        _ => None,
    };
    let identifier = match args.identifier.parse::<IpAddr>() {
        Ok(ip) => Identifier::Ip(ip),
        Err(_) => Identifier::Dns(args.identifier.clone()),
    };
    let answers = Answers::default();
    let listener = TcpListener::bind(args.http01_listen)
        .await
        .map_err(|e| format!("cannot listen on {} for http-01: {e}", args.http01_listen))?;
    let responder = tokio::spawn(http01::serve(listener, answers.clone()));

    let workers = if args.duration.is_some() {
        args.concurrency
    } else {
        args.concurrency.min(args.orders)
    };
    let ctx = Arc::new(Ctx {
        directory: args.directory.clone(),
        identifier,
        identifier_text: args.identifier.clone(),
        tls,
        eab,
        accounts_per_worker: args.accounts_per_worker,
        poll: RetryPolicy::new()
            .initial_delay(Duration::from_millis(10))
            .backoff(1.5)
            .timeout(Duration::from_secs(args.timeout)),
        answers: answers.clone(),
        results: Mutex::new(Results::default()),
        until: Mutex::new(None),
    });

    let setup_start = Instant::now();
    let barrier = Arc::new(Barrier::new(workers + 1));
    let mut set = JoinSet::new();
    for w in 0..workers {
        let share = args.orders / workers + usize::from(w < args.orders % workers);
        set.spawn(worker(ctx.clone(), share, barrier.clone()));
    }
    // The workers read their end as they pass the barrier, which this call opens.
    if let Some(secs) = args.duration {
        *ctx.until.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Instant::now() + Duration::from_secs(secs));
    }
    let mut timed_out = timeout_at(deadline, barrier.wait()).await.is_err();
    let setup = setup_start.elapsed();

    let server = args.server_pid.map(Proc::new);
    let server_hwm_reset = server.as_ref().is_some_and(Proc::reset_hwm);
    let server_before = server.as_ref().and_then(Proc::cpu_seconds);
    let own_before = report::own_cpu();
    let start = Instant::now();
    while !timed_out {
        match timeout_at(deadline, set.join_next()).await {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(e))) => ctx.fail(0, format!("a worker died: {e}")),
            Ok(None) => break,
            Err(_) => timed_out = true,
        }
    }
    let wall = start.elapsed();
    let own_after = report::own_cpu();
    let server_after = server.as_ref().and_then(Proc::cpu_seconds);
    let server_hwm_kb = server.as_ref().and_then(|p| p.status_kb("VmHWM"));
    let server_rss_kb = server.as_ref().and_then(|p| p.status_kb("VmRSS"));
    set.abort_all();
    responder.abort();

    let mut results = std::mem::take(&mut *ctx.results());
    let orders = if args.duration.is_some() {
        results.latencies.len() + results.failed
    } else {
        args.orders
    };
    let unfinished = orders.saturating_sub(results.latencies.len() + results.failed);
    if unfinished > 0 {
        results.failed += unfinished;
        results.errors.push(format!(
            "{unfinished} orders unfinished when the {} s timeout struck",
            args.timeout
        ));
    }
    let longest_gap = report::longest_gap(start, start + wall, &results.ends);
    if let Some(path) = &args.serials_out {
        write_lines(path, results.serials.iter().cloned())?;
    }
    if let Some(path) = &args.timeline_out {
        write_lines(
            path,
            results.ends.iter().map(|(t, ok)| {
                format!(
                    "{} {}",
                    t.saturating_duration_since(start).as_millis(),
                    if *ok { "ok" } else { "failed" }
                )
            }),
        )?;
    }
    Ok(Report {
        directory: args.directory,
        identifier: args.identifier,
        orders,
        longest_gap,
        concurrency: workers,
        accounts_per_worker: args.accounts_per_worker,
        accounts: results.accounts,
        setup,
        wall,
        timed_out,
        results,
        own_cpu: own_before
            .zip(own_after)
            .map(|(a, b)| (b.0 - a.0, b.1 - a.1)),
        server_pid: args.server_pid,
        server_cpu: server_before.zip(server_after).map(|(a, b)| b - a),
        server_hwm_kb,
        server_rss_kb,
        server_hwm_reset,
        http01: answers.counts(),
    })
}

/// One worker: its accounts, the barrier, then its share of the orders in sequence.
async fn worker(ctx: Arc<Ctx>, share: usize, barrier: Arc<Barrier>) {
    let http = ctx.http_client();
    let mut accounts = Vec::with_capacity(ctx.accounts_per_worker);
    let mut setup_error = None;
    for _ in 0..ctx.accounts_per_worker {
        match new_account(&ctx, http.clone()).await {
            Ok(a) => accounts.push(a),
            Err(e) => {
                setup_error = Some(e);
                break;
            }
        }
    }
    ctx.results().accounts += accounts.len();
    barrier.wait().await;
    if let Some(e) = setup_error {
        ctx.fail(share, format!("newAccount: {e}"));
        return;
    }
    let until = *ctx.until.lock().unwrap_or_else(PoisonError::into_inner);
    let mut i = 0;
    loop {
        match until {
            Some(t) if Instant::now() >= t => break,
            None if i >= share => break,
            _ => {}
        }
        let account = &accounts[i % accounts.len()];
        i += 1;
        let t0 = Instant::now();
        match one_order(&ctx, account).await {
            Ok(serial) => {
                let mut r = ctx.results();
                r.latencies.push(t0.elapsed());
                r.ends.push((Instant::now(), true));
                r.serials.push(serial);
            }
            Err(e) => {
                ctx.results().ends.push((Instant::now(), false));
                ctx.fail(1, e);
                if until.is_some() {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }
}

/// Writes `lines` to `path`, one a line.
fn write_lines(path: &Path, lines: impl Iterator<Item = String>) -> Result<(), String> {
    let mut text = String::new();
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The serial of the first certificate of a PEM chain, hex (the DER INTEGER's bytes).
fn leaf_serial(pem: &str) -> Result<String, String> {
    let der = CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .ok_or("certificate: no PEM certificate")?
        .map_err(|e| format!("certificate: {e}"))?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(&der).map_err(|e| format!("certificate: {e}"))?;
    Ok(cert
        .tbs_certificate
        .raw_serial()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

async fn new_account(ctx: &Ctx, http: HttpClient) -> Result<Account, String> {
    let (account, _credentials) = Account::builder_with_http(Box::new(http))
        .create(
            &NewAccount {
                contact: &[],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            ctx.directory.clone(),
            ctx.eab.as_ref(),
        )
        .await
        .map_err(|e| chain(&e))?;
    Ok(account)
}

/// One order, newOrder to the certificate in hand; its serial.
async fn one_order(ctx: &Ctx, account: &Account) -> Result<String, String> {
    let identifiers = [ctx.identifier.clone()];
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(step("newOrder"))?;

    let mut published = Published::new(&ctx.answers);
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(step("authorization"))?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => return Err(format!("authorization: status {other:?}")),
        }
        let mut challenge = authz
            .challenge(ChallengeType::Http01)
            .ok_or("authorization: no http-01 challenge")?;
        published.add(
            challenge.token.clone(),
            challenge.key_authorization().as_str().to_owned(),
        );
        challenge.set_ready().await.map_err(step("challenge"))?;
    }

    // uca validates inside the challenge POST, so one look usually finds the order ready; other
    // servers validate in the background: then poll, 10 ms and up, honouring Retry-After.
    let state = order.refresh().await.map_err(step("order"))?;
    let status = match state.status {
        OrderStatus::Pending | OrderStatus::Processing => order
            .poll_ready(&ctx.poll)
            .await
            .map_err(step("order (polling for ready)"))?,
        other => other,
    };
    if status != OrderStatus::Ready {
        let detail = order
            .state()
            .error
            .as_ref()
            .map(|p| format!(": {p}"))
            .unwrap_or_default();
        return Err(format!("order: status {status:?}{detail}"));
    }
    drop(published);

    let csr = csr(&ctx.identifier_text)?;
    order.finalize_csr(&csr).await.map_err(step("finalize"))?;
    let pem = match order.state().status {
        OrderStatus::Valid => order
            .certificate()
            .await
            .map_err(step("certificate"))?
            .ok_or("certificate: none")?,
        OrderStatus::Processing | OrderStatus::Ready => order
            .poll_certificate(&ctx.poll)
            .await
            .map_err(step("order (polling for valid)"))?,
        other => return Err(format!("finalize: order status {other:?}")),
    };
    leaf_serial(&pem)
}

/// Maps an instant-acme error to a message naming the step that failed.
fn step(what: &'static str) -> impl Fn(instant_acme::Error) -> String {
    move |e| format!("{what}: {}", chain(&e))
}

/// A fresh P-256 key and a CSR for the identifier, DER.
fn csr(identifier: &str) -> Result<Vec<u8>, String> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("CSR key: {e}"))?;
    let mut params = rcgen::CertificateParams::new(vec![identifier.to_owned()])
        .map_err(|e| format!("CSR: {e}"))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params
        .serialize_request(&key)
        .map_err(|e| format!("CSR: {e}"))?;
    Ok(csr.der().to_vec())
}

/// rustls on aws-lc-rs, trusting exactly the certificates in FILE.
fn tls_config(path: &Path) -> Result<rustls::ClientConfig, String> {
    let shown = path.display();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| format!("{shown}: {e}"))? {
        let cert = cert.map_err(|e| format!("{shown}: {e}"))?;
        roots.add(cert).map_err(|e| format!("{shown}: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("{shown}: no certificate"));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn decode_b64url(text: &str) -> Result<Vec<u8>, String> {
    use base64ct::{Base64Url, Base64UrlUnpadded, Encoding};
    let text = text.trim();
    Base64UrlUnpadded::decode_vec(text)
        .or_else(|_| Base64Url::decode_vec(text))
        .map_err(|_| "--eab-hmac: not base64url".to_owned())
}

/// An error and its sources, one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eab_keys_decode_padded_or_not() {
        assert_eq!(decode_b64url("_-8").ok(), Some(vec![0xff, 0xef]));
        assert_eq!(decode_b64url("_-8=").ok(), Some(vec![0xff, 0xef]));
        assert!(decode_b64url("not base64!").is_err());
    }

    #[test]
    fn a_csr_names_the_identifier() {
        let der = csr("localhost").expect("a CSR");
        assert!(der.windows(9).any(|w| w == b"localhost"));
        assert!(csr("127.0.0.1").is_ok());
    }

    #[test]
    fn the_trust_anchor_file_must_hold_a_certificate() {
        let dir = std::env::temp_dir().join(format!("uca-loadgen-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").expect("write");
        assert!(tls_config(&empty).is_err());
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let ca = rcgen::CertificateParams::new(vec!["test CA".to_owned()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let pem = dir.join("ca.pem");
        std::fs::write(&pem, ca.pem()).expect("write");
        assert!(tls_config(&pem).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
