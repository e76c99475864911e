//! `uca health check` and `uca health watch` against real servers: nginx with mutual TLS, a
//! scriptable flaky HTTP(S) server (tests/cli/support/flaky_server.py: failure share, latency,
//! slow ramps, hanging and garbage modes), expired / foreign / soon-expiring certificates, this
//! CA's ledger (revoked, superseded), and the watcher's views judged by independent parsers:
//! Prometheus' own `prometheus_client` parser for /metrics and headless Chromium for the page.
//!
//! Every server binds 127.0.0.1 on a kernel-chosen or free port and is killed on drop, so a
//! failing assertion never leaves a process behind. Waits poll with deadlines, never bare sleeps.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::health::*;
use crate::support::*;
use serde_json::Value;

/// A tiny HTTP server recording the bodies POSTed to it (the webhook receiver).
struct Hook {
    port: u16,
    bodies: Arc<Mutex<Vec<(String, String)>>>,
}

impl Hook {
    fn start() -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let b = bodies.clone();
        std::thread::spawn(move || {
            for sock in listener.incoming() {
                let Ok(mut sock) = sock else { continue };
                let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(n) = sock.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let head = &text[..end];
                        let request_line = head.lines().next().unwrap_or("").to_string();
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            let body =
                                String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                            b.lock().unwrap().push((request_line, body));
                            break;
                        }
                    }
                }
                let _ = sock.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                let _ = sock.shutdown(std::net::Shutdown::Both);
            }
        });
        Hook { port, bodies }
    }

    fn bodies(&self) -> Vec<(String, String)> {
        self.bodies.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------------------------------------
// 1. nginx with mutual TLS.

/// nginx serving `localhost`'s certificate and requiring client certificates from this CA.
fn start_health_nginx(env: &TempCa) -> Server {
    let ssl = [
        format!(
            "ssl_certificate {};",
            env.issued("localhost", "fullchain.pem").display()
        ),
        format!(
            "ssl_certificate_key {};",
            env.issued("localhost", "key.pem").display()
        ),
        format!("ssl_client_certificate {};", env.ca_cert().display()),
        "ssl_verify_client on;".to_string(),
    ];
    start_nginx(env.tmp.path(), &ssl, "ok")
}

/// Real nginx with `ssl_verify_client on`: the check with `--client-cert prober` is OK (exit 0);
/// without a client certificate it is CRITICAL (exit 2) with a reason naming the problem.
#[test]
fn nginx_mutual_tls_check_needs_the_client_certificate() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("localhost", &["--san", "127.0.0.1", "--profile", "server"]);
    env.issue("prober", &["--profile", "client"]);
    let nginx = start_health_nginx(&env);
    let url = format!("https://127.0.0.1:{}/", nginx.port);
    let ctx = |c: &HealthCheck| format!("{}\n--- nginx:\n{}", c.all(), nginx.log());

    let ok = health_check(&env, &[&url, "--client-cert", "prober", "--body", "ok"]);
    assert_eq!(ok.code, 0, "{}", ctx(&ok));
    assert!(
        ok.stdout.starts_with(&format!("UCA-HEALTH OK - {url}: ")),
        "{}",
        ctx(&ok)
    );
    assert!(ok.stdout.contains("cert_days="), "{}", ctx(&ok));

    // The name the certificate carries, sent and verified instead of the IP.
    let named = health_check(
        &env,
        &[
            &url,
            "--client-cert",
            "prober",
            "--server-name",
            "localhost",
        ],
    );
    assert_eq!(named.code, 0, "{}", ctx(&named));

    // A name the certificate does not carry.
    let wrong = health_check(
        &env,
        &[
            &url,
            "--client-cert",
            "prober",
            "--server-name",
            "other.example",
            "--count",
            "3",
        ],
    );
    assert_eq!(wrong.code, 2, "{}", ctx(&wrong));
    assert!(
        wrong
            .stdout
            .contains("TLS: the server's certificate does not name this host"),
        "{}",
        ctx(&wrong)
    );

    // The client certificate as PEM files instead of a NAME.
    let cert = env.issued("prober", "fullchain.pem");
    let key = env.issued("prober", "key.pem");
    let by_path = health_check(
        &env,
        &[
            &url,
            "--client-cert",
            cert.utf8(),
            "--client-key",
            key.utf8(),
            "--count",
            "2",
        ],
    );
    assert_eq!(by_path.code, 0, "{}", ctx(&by_path));

    let anon = health_check(&env, &[&url]);
    assert_eq!(anon.code, 2, "{}", ctx(&anon));
    assert!(
        anon.stdout.starts_with("UCA-HEALTH CRITICAL - "),
        "{}",
        ctx(&anon)
    );
    // TLS 1.3: nginx either answers 400 "No required SSL certificate was sent" or the
    // handshake fails with certificate_required.
    assert!(
        anon.stdout
            .contains("TLS: the server requires a client certificate and none was given")
            || anon.stdout.contains("HTTP 400"),
        "{}",
        ctx(&anon)
    );

    // The same from a targets file: client_cert by NAME and by path (relative to the file),
    // ca relative to the file, server_name, method and expect_status.
    let conf = env.path("conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::copy(env.ca_cert(), conf.join("ca-copy.pem")).unwrap();
    std::fs::copy(&cert, conf.join("prober.pem")).unwrap();
    std::fs::copy(&key, conf.join("prober.key")).unwrap();
    let file = targets_file(
        &env,
        "conf/targets.toml",
        &format!(
            "{}\n[[target]]\nname = \"by-name\"\nurl = \"{url}\"\nclient_cert = \"prober\"\n\
             body = \"ok\"\n\n\
             [[target]]\nname = \"by-path\"\nurl = \"https://127.0.0.1:{port}/x\"\n\
             client_cert = \"prober.pem\"\nclient_key = \"prober.key\"\nca = \"ca-copy.pem\"\n\
             server_name = \"localhost\"\nmethod = \"HEAD\"\nexpect_status = [200]\n\n\
             [[target]]\nname = \"anonymous\"\nurl = \"{url}\"\n",
            defaults("4s"),
            port = nginx.port
        ),
    );
    let w = Watch::start(&env, &[], &file, &[]);
    let doc = w.wait_until(15, "nginx targets at their colors", |d| {
        endpoint_of(d, "by-name")["color"] == "Green"
            && endpoint_of(d, "by-path")["color"] == "Green"
            && endpoint_of(d, "anonymous")["color"] == "Red"
    });
    let a = endpoint_of(&doc, "anonymous");
    assert!(
        a["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("client certificate") || e.contains("HTTP 400")),
        "{a}\n--- nginx:\n{}",
        nginx.log()
    );
    let n = endpoint_of(&doc, "by-name");
    assert_eq!(n["cert"]["subject"], "CN=localhost", "{n}");
}

/// The same with the flaky server's own client-certificate check (Python's ssl, TLS 1.3).
#[test]
fn check_client_certificate_required_by_the_test_server() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("svc", &["--san", "127.0.0.1", "--profile", "server"]);
    env.issue("prober", &["--profile", "client"]);
    let server = FlakyServer::tls(&env.files("svc"), &["--ca", env.ca_cert().utf8()]);
    let url = server.url("https");
    let ok = health_check(&env, &[&url, "--client-cert", "prober", "--count", "3"]);
    assert_eq!(ok.code, 0, "{}", ok.all());
    let anon = health_check(&env, &[&url, "--count", "3"]);
    assert_eq!(anon.code, 2, "{}", anon.all());
    assert!(
        anon.stdout.contains(
            "TLS: the server requires a client certificate and none was given (client_cert)"
        ),
        "{}",
        anon.all()
    );
}

// ---------------------------------------------------------------------------------------------
// 2. The watcher follows a flaky server Green → Yellow → Red → Green, and latency.

#[test]
fn watch_follows_a_flaky_server_and_announces_every_change() {
    let env = TempCa::new();
    let flaky = FlakyServer::start(&["--even"]);
    let hook = Hook::start();
    let changes = env.path("changes.log");
    let url = flaky.url("http");
    let file = targets_file(
        &env,
        "targets.toml",
        &format!(
            "{}\n[[target]]\nname = \"flaky\"\nurl = \"{url}\"\nbody = \"ok\"\nexpect_status = [200]\n\n\
             [watch]\non_change = '''printf '%s|%s|%s|%s|%s\\n' \"$UCA_HEALTH_NAME\" \"$UCA_HEALTH_URL\" \"$UCA_HEALTH_FROM\" \"$UCA_HEALTH_TO\" \"$UCA_HEALTH_REASON\" >> \"{log}\"'''\n\
             webhook = \"http://127.0.0.1:{hp}/hook\"\n",
            defaults("4s"),
            log = changes.display(),
            hp = hook.port,
        ),
    );
    let w = Watch::start(&env, &[], &file, &[]);

    // Healthy.
    let st = w.wait_color("flaky", "Green", 15);
    assert!(st["probe"]["samples"].as_u64().unwrap() >= 5, "{st}");
    assert!(reasons(&st).contains("within 300ms"), "{st}");

    // 20% failures: below 90% good but above 70% → Yellow.
    flaky.control("fail=0.2&even=1");
    let st = w.wait_color("flaky", "Yellow", 15);
    assert!(reasons(&st).contains("(needs 90%)"), "{st}");

    // 60% failures → Red.
    flaky.control("fail=0.6");
    let st = w.wait_color("flaky", "Red", 15);
    let share_warn = st["probe"]["share_warn"].as_f64().unwrap();
    assert!(share_warn < 0.7, "{st}");

    // Healed → Green again once the failures leave the window.
    flaky.control("fail=0");
    w.wait_color("flaky", "Green", 20);

    // Slow answers (500 ms: not within 300 ms, but within 1 s) → Yellow, never Red.
    flaky.control("delay_ms=500");
    let doc = w.wait_until(20, "flaky to become Yellow from latency", |d| {
        let e = endpoint_of(d, "flaky");
        assert_ne!(
            e["color"], "Red",
            "slow but correct answers made it Red: {e}"
        );
        e["color"] == "Yellow"
    });
    let st = endpoint_of(&doc, "flaky");
    assert!(reasons(&st).contains("within 300ms (needs 90%)"), "{st}");
    assert!(st["latency_ms_max"].as_f64().unwrap() >= 450.0, "{st}");
    assert_eq!(st["probe"]["share_warn"].as_f64(), Some(1.0), "{st}");

    // Every change: one stdout line (in order), one on_change run, one webhook POST.
    let lines: Vec<(String, String)> = w
        .stdout()
        .lines()
        .map(|l| {
            let parts: Vec<&str> = l.split("  ").collect();
            assert!(parts.len() >= 3, "change line {l:?}");
            assert_eq!(parts[1], "flaky", "{l:?}");
            let (from, to) = parts[2]
                .split_once(" -> ")
                .unwrap_or_else(|| panic!("no FROM -> TO in {l:?}"));
            (from.to_string(), to.to_string())
        })
        .collect();
    let tos: Vec<&str> = lines.iter().map(|l| l.1.as_str()).collect();
    let want = ["Green", "Yellow", "Red", "Green", "Yellow"];
    let mut it = tos.iter();
    for c in want {
        assert!(
            it.any(|t| *t == c),
            "changes {tos:?} do not go {want:?} in order:\n{}",
            w.stdout()
        );
    }
    assert_eq!(lines[0], ("Unknown".into(), "Green".into()), "{lines:?}");

    let mut expect: Vec<(String, String)> = lines.clone();
    expect.sort();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut logged, mut posted);
    loop {
        logged = std::fs::read_to_string(&changes)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let p: Vec<&str> = l.splitn(5, '|').collect();
                assert_eq!(p.len(), 5, "on_change line {l:?}");
                assert_eq!(p[1], url, "UCA_HEALTH_URL in {l:?}");
                let p = [p[0], p[2], p[3], p[4]];
                assert_eq!(p[0], "flaky");
                assert!(!p[3].is_empty(), "empty UCA_HEALTH_REASON in {l:?}");
                (p[1].to_string(), p[2].to_string())
            })
            .collect::<Vec<_>>();
        logged.sort();
        posted = hook
            .bodies()
            .iter()
            .map(|(req, body)| {
                assert!(req.starts_with("POST /hook "), "{req}");
                let v: Value = serde_json::from_str(body)
                    .unwrap_or_else(|e| panic!("webhook body is not JSON ({e}): {body}"));
                assert_eq!(v["name"], "flaky", "{v}");
                assert_eq!(v["url"], url.as_str(), "{v}");
                assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
                assert!(v["reasons"].is_array(), "{v}");
                assert!(v.get("forecast").is_some(), "{v}");
                assert!(v["at"].as_str().is_some_and(|a| a.contains('T')), "{v}");
                (
                    v["from"].as_str().unwrap().to_string(),
                    v["to"].as_str().unwrap().to_string(),
                )
            })
            .collect::<Vec<_>>();
        posted.sort();
        if (logged == expect && posted == expect) || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(logged, expect, "on_change runs vs stdout changes");
    assert_eq!(posted, expect, "webhook POSTs vs stdout changes");
}

/// Three failures in a row are Red at once, long before a 60 s window's share would say so;
/// the first success ends it.
#[test]
fn watch_outage_is_red_at_once() {
    let env = TempCa::new();
    let flaky = FlakyServer::start(&["--even"]);
    let file = targets_file(
        &env,
        "targets.toml",
        &format!(
            "{}\n[[target]]\nname = \"svc\"\nurl = \"{}\"\n",
            defaults("60s"),
            flaky.url("http")
        ),
    );
    let w = Watch::start(&env, &[], &file, &[]);
    w.wait_until(15, "Green with 30 samples", |d| {
        let e = endpoint_of(d, "svc");
        e["color"] == "Green" && e["probe"]["samples"].as_u64().unwrap_or(0) >= 30
    });
    flaky.control("fail=1");
    let down = Instant::now();
    let st = w.wait_color("svc", "Red", 10);
    let took = down.elapsed();
    let r = st["reasons"][0].as_str().unwrap();
    assert!(
        r.starts_with("down: the last ")
            && r.contains("probes failed (HTTP 500 (expected 200-399))"),
        "{st}"
    );
    assert!(
        took < Duration::from_millis(2500),
        "Red only after {took:?}: {st}"
    );
    assert_eq!(st["last_error"], "HTTP 500 (expected 200-399)", "{st}");
    // Back up: no longer "down"; the window still remembers the failures.
    flaky.control("fail=0");
    let doc = w.wait_until(10, "svc no longer down", |d| {
        !reasons(&endpoint_of(d, "svc")).contains("down: ")
    });
    let st = endpoint_of(&doc, "svc");
    assert!(st["last_error"].is_null(), "{st}");
}

/// A 1 s window with a probe every 100 ms holds ~10 probes at any moment, so with
/// min_samples = 8 it always has a color. The watcher is started just after a wall-clock second
/// begins, which puts its once-a-second refresh early in each second.
#[test]
fn watch_short_window_counts_every_probe_in_it() {
    let env = TempCa::new();
    let flaky = FlakyServer::start(&[]);
    let file = targets_file(
        &env,
        "targets.toml",
        &format!(
            "[defaults]\ninterval = \"100ms\"\nwindow = \"1s\"\nmin_samples = 8\n\
             ok = \"90% within 300ms\"\nwarn = \"70% within 1s\"\n\n\
             [[target]]\nname = \"quick\"\nurl = \"{}\"\n",
            flaky.url("http")
        ),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    std::thread::sleep(Duration::from_nanos(
        1_000_000_000 - u64::from(now.subsec_nanos()) + 20_000_000,
    ));
    let w = Watch::start(&env, &[], &file, &[]);
    std::thread::sleep(Duration::from_millis(2500));
    let mut seen = Vec::new();
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let st = w.endpoint("quick");
        seen.push((
            st["probe"]["samples"].as_u64().unwrap(),
            st["color"].as_str().unwrap().to_string(),
            st["probe"]["reason"].as_str().unwrap().to_string(),
        ));
        std::thread::sleep(Duration::from_millis(300));
    }
    let (_, m) = w.get("/metrics");
    let rate = m
        .lines()
        .find(|l| l.starts_with("uca_health_probes_total{target=\"quick\"}"))
        .unwrap_or_default()
        .to_string();
    println!("(samples, color, reason) over 3 s: {seen:?}; {rate}");
    for (n, color, reason) in &seen {
        assert!(
            *n >= 8 && color == "Green",
            "a 1s window at one probe per 100 ms reported {n} samples, {color} ({reason}); \
             all: {seen:?}; {rate}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Slow degradation is forecast before the window crosses the threshold.

#[test]
fn watch_forecasts_a_slow_degradation_before_it_turns_yellow() {
    let env = TempCa::new();
    let flaky = FlakyServer::start(&["--even"]);
    let file = targets_file(
        &env,
        "targets.toml",
        &format!(
            "[defaults]\ninterval = \"100ms\"\nwindow = \"10s\"\nmin_samples = 5\ntimeout = \"2s\"\n\
             ok = \"90% within 1s\"\nwarn = \"70% within 2s\"\nhorizon = \"10m\"\n\n\
             [[target]]\nname = \"ramp\"\nurl = \"{}\"\n",
            flaky.url("http")
        ),
    );
    let w = Watch::start(&env, &[], &file, &[]);
    w.wait_color("ramp", "Green", 15);
    // A steady, perfect endpoint forecasts nothing.
    let steady_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < steady_until {
        let st = w.endpoint("ramp");
        assert_eq!(st["color"], "Green", "{st}");
        assert!(
            st["prediction"].is_null(),
            "forecast for a perfect endpoint: {st}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Failures grow by 1 percentage point per second from 0.
    flaky.control("fail=0&ramp=0.01&even=1");
    let ramp_start = Instant::now();
    let mut predicted: Option<(Duration, Value)> = None;
    let crossed: (Duration, Value);
    loop {
        let elapsed = ramp_start.elapsed();
        assert!(
            elapsed < Duration::from_secs(45),
            "never left Green within 45 s of the ramp; last {}\n{}",
            w.endpoint("ramp"),
            w.stderr()
        );
        let st = w.endpoint("ramp");
        let color = st["color"].as_str().unwrap().to_string();
        if color == "Yellow" || color == "Red" {
            crossed = (elapsed, st);
            break;
        }
        assert_eq!(color, "Green", "{st}");
        let forecast_yellow = st["prediction"]["to"] == "Yellow"
            || st["forecast"]
                .as_str()
                .is_some_and(|f| f.contains("Yellow"));
        if forecast_yellow && predicted.is_none() {
            predicted = Some((elapsed, st));
            // The same forecast in /metrics.
            let (_, m) = w.get("/metrics");
            assert!(
                m.contains("uca_health_predicted_change_seconds{target=\"ramp\",to=\"Yellow\"} ")
                    || w.endpoint("ramp")["prediction"].is_null(),
                "forecast not in /metrics:\n{m}"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (at, first) = predicted.unwrap_or_else(|| {
        panic!(
            "turned {} after {:?} with no forecast before it:\n{}",
            crossed.1["color"], crossed.0, crossed.1
        )
    });
    let lead = crossed.0 - at;
    println!(
        "forecast of Yellow {at:?} into the ramp, {lead:?} before the color changed (at {:?}); \
         forecast: {}; prediction: {}",
        crossed.0, first["forecast"], first["prediction"]
    );
    assert!(lead > Duration::ZERO);
    let p = &first["prediction"];
    assert_eq!(p["to"], "Yellow", "{first}");
    assert!(p["in_seconds"].as_i64().unwrap() >= 0, "{first}");
    assert!(p["in_seconds"].as_i64().unwrap() <= 600, "{first}");
    assert!(
        first["forecast"]
            .as_str()
            .is_some_and(|f| f.starts_with("at the current trend: Yellow in ")),
        "{first}"
    );
    // The change is to Yellow (ok threshold), with 10% of answers failing: not Red.
    assert_eq!(crossed.1["color"], "Yellow", "{}", crossed.1);
}

// ---------------------------------------------------------------------------------------------
// 4. Broken endpoints: refused, hanging, garbage, HTTP 500.

#[test]
fn check_broken_endpoints_are_critical_with_the_reason() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let hang = FlakyServer::start(&["--mode", "hang"]);
    let garbage = FlakyServer::start(&["--mode", "garbage"]);
    let failing = FlakyServer::start(&["--fail", "1"]);
    let closed = free_port();

    let hang_http = format!("http://127.0.0.1:{}/", hang.port);
    let hang_tls = format!("tls://127.0.0.1:{}", hang.port);
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec![format!("http://127.0.0.1:{closed}/")],
            vec!["connection refused", "down: the last 5 probes failed"],
        ),
        (
            vec![format!("tcp://127.0.0.1:{closed}")],
            vec!["connection refused"],
        ),
        (
            vec![
                hang_http,
                "--timeout".into(),
                "1s".into(),
                "--count".into(),
                "3".into(),
            ],
            vec!["timed out after 1s waiting for the response"],
        ),
        (
            vec![
                hang_tls,
                "--timeout".into(),
                "1s".into(),
                "--count".into(),
                "3".into(),
            ],
            vec!["timed out after 1s during the TLS handshake"],
        ),
        (
            vec![format!("http://127.0.0.1:{}/", garbage.port)],
            vec!["garbage instead of an HTTP"],
        ),
        (
            vec![format!("https://127.0.0.1:{}/", garbage.port)],
            vec!["TLS"],
        ),
        (
            vec![format!("http://127.0.0.1:{}/", failing.port)],
            vec!["HTTP 500 (expected 200-399)"],
        ),
        (
            vec![
                format!("http://127.0.0.1:{}/", failing.port),
                "--expect-status".into(),
                "200,204".into(),
            ],
            vec!["HTTP 500 (expected 200, 204)"],
        ),
    ];
    // The slow cases run side by side.
    let results: Vec<HealthCheck> = std::thread::scope(|sc| {
        let handles: Vec<_> = cases
            .iter()
            .map(|(args, _)| {
                let env = &env;
                sc.spawn(move || {
                    let a: Vec<&str> = args.iter().map(String::as_str).collect();
                    health_check_json(env, &a)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for ((args, wants), c) in cases.iter().zip(&results) {
        assert_eq!(c.code, 2, "{args:?}: {}", c.all());
        let st = c.json();
        assert_eq!(st["color"], "Red", "{args:?}: {st}");
        let all = format!("{} | {}", reasons(&st), st["last_error"]);
        for want in wants {
            assert!(all.contains(want), "{args:?}: no {want:?} in {st}");
        }
        assert!(
            st["reasons"][0]
                .as_str()
                .unwrap()
                .starts_with("down: the last "),
            "{st}"
        );
    }
    // A 500 that is expected is fine.
    let expected = health_check(
        &env,
        &[
            &format!("http://127.0.0.1:{}/", failing.port),
            "--count",
            "2",
            "--expect-status",
            "500",
        ],
    );
    assert_eq!(expected.code, 0, "{}", expected.all());

    // The text form says the same.
    let text = health_check(
        &env,
        &[
            &format!("http://127.0.0.1:{}/", failing.port),
            "--count",
            "3",
        ],
    );
    assert_eq!(text.code, 2, "{}", text.all());
    assert!(
        text.stdout.starts_with(&format!(
            "UCA-HEALTH CRITICAL - http://127.0.0.1:{}/: 0/3 probes answered within 300ms; down: the last 3 probes failed (HTTP 500 (expected 200-399))",
            failing.port
        )),
        "{}",
        text.all()
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Certificates: expired, from another CA, expiring soon.

/// A server certificate for 127.0.0.1 signed with this CA's key behind uca's back, by
/// `openssl ca` (which takes -startdate / -enddate, also in the past); uca's ledger never saw it.
fn openssl_ca_cert(env: &TempCa, cn: &str, start: &str, end: &str) -> (PathBuf, PathBuf) {
    OpensslCa::new(env, &format!("openssl-ca-{cn}")).issue(cn, "ext_server", start, end)
}

/// A server certificate for 127.0.0.1 from this CA's key that expired in 2021.
fn expired_cert(env: &TempCa) -> (PathBuf, PathBuf) {
    let (cert, key) = openssl_ca_cert(env, "expired", "20200101000000Z", "20210101000000Z");
    // Sanity: OpenSSL itself calls it expired, and otherwise fine.
    let v = run(
        "openssl",
        &["verify", "-CAfile", env.ca_cert().utf8(), cert.utf8()],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    assert!(text.contains("certificate has expired"), "{text}");
    (cert, key)
}

#[test]
fn check_expired_server_certificate_is_critical() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let (cert, key) = expired_cert(&env);
    let server = FlakyServer::tls_files(&cert, &key, &[]);
    for url in [
        server.url("https"),
        format!("tls://127.0.0.1:{}", server.port),
    ] {
        let c = health_check_json(&env, &[&url, "--count", "3"]);
        assert_eq!(c.code, 2, "{url}: {}", c.all());
        let st = c.json();
        assert_eq!(st["color"], "Red", "{st}");
        assert!(reasons(&st).contains("expired"), "{url}: {st}");
        assert!(
            reasons(&st).contains("TLS: the server's certificate"),
            "{st}"
        );
    }
}

#[test]
fn check_certificate_from_another_ca_is_critical() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let other = env.path("other");
    uca_bare()
        .current_dir(env.tmp.path())
        .args(["--dir", other.utf8(), "init", "--no-passphrase"])
        .assert()
        .success();
    uca_bare()
        .current_dir(env.tmp.path())
        .args([
            "--dir",
            other.utf8(),
            "issue",
            "foreign",
            "--san",
            "127.0.0.1",
        ])
        .assert()
        .success();
    let issued = other.join("issued/foreign");
    let server =
        FlakyServer::tls_files(&issued.join("fullchain.pem"), &issued.join("key.pem"), &[]);
    let url = server.url("https");
    let c = health_check(&env, &[&url, "--count", "3"]);
    assert_eq!(c.code, 2, "{}", c.all());
    assert!(
        c.stdout
            .contains("TLS: the server's certificate is not from a trusted CA (unknown issuer)"),
        "{}",
        c.all()
    );
    // With --ca naming the other CA it is fine: it is the trust, not the server.
    let ok = health_check(
        &env,
        &[&url, "--count", "3", "--ca", other.join("ca.crt").utf8()],
    );
    assert_eq!(ok.code, 0, "{}", ok.all());
}

#[test]
fn check_certificate_expiring_soon_is_critical_or_warning_by_thresholds() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("soon", &["--days", "5", "--san", "127.0.0.1"]);
    let server = FlakyServer::tls(&env.files("soon"), &[]);
    let url = server.url("https");

    // Default cert_crit 7d: Red.
    let c = health_check(&env, &[&url, "--count", "3"]);
    assert_eq!(c.code, 2, "{}", c.all());
    assert!(
        c.stdout.starts_with("UCA-HEALTH CRITICAL - "),
        "{}",
        c.all()
    );
    // 5 days minus the seconds since the issue: "4 days", or "5 days" within the same second.
    assert!(
        c.stdout.contains("certificate CN=soon expires in 4 days")
            || c.stdout.contains("certificate CN=soon expires in 5 days"),
        "{}",
        c.all()
    );
    let days: f64 = c
        .stdout
        .split(" cert_days=")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no cert_days perfdata: {}", c.all()));
    assert!(days > 4.0 && days <= 5.0, "{}", c.all());
    assert!(c.stdout.trim_end().ends_with(";30:;7:"), "{}", c.all());

    // Within cert_warn but not cert_crit: Yellow, exit 1.
    let c = health_check_json(
        &env,
        &[
            &url,
            "--count",
            "3",
            "--cert-crit",
            "1d",
            "--cert-warn",
            "10d",
        ],
    );
    assert_eq!(c.code, 1, "{}", c.all());
    let st = c.json();
    assert_eq!(st["color"], "Yellow", "{st}");
    assert_eq!(st["probe"]["color"], "Green", "{st}");
    assert_eq!(st["cert"]["color"], "Yellow", "{st}");
    assert_eq!(st["cert"]["subject"], "CN=soon", "{st}");
    assert!(
        same_serial(
            st["cert"]["serial"].as_str().unwrap(),
            &serial_of(&env.issued("soon", "cert.pem"))
        ),
        "{st}"
    );
    let left = st["cert"]["seconds_left"].as_i64().unwrap();
    assert!((4 * 86_400..=5 * 86_400).contains(&left), "{st}");
    assert!(
        reasons(&st).contains(&format!("expires in {} days", left / 86_400)),
        "{st}"
    );
    let text = health_check(
        &env,
        &[
            &url,
            "--count",
            "3",
            "--cert-crit",
            "1d",
            "--cert-warn",
            "10d",
        ],
    );
    assert_eq!(text.code, 1, "{}", text.all());
    assert!(
        text.stdout.starts_with("UCA-HEALTH WARNING - "),
        "{}",
        text.all()
    );
    assert!(text.stdout.contains(";10:;1:"), "{}", text.all());

    // tls:// (a handshake, no HTTP) judges the same certificate.
    let tls = health_check_json(
        &env,
        &[&format!("tls://127.0.0.1:{}", server.port), "--count", "2"],
    );
    assert_eq!(tls.code, 2, "{}", tls.all());
    let st = tls.json();
    assert_eq!(st["probe"]["color"], "Green", "{st}");
    assert_eq!(st["cert"]["color"], "Red", "{st}");

    // Green today, Yellow within the (24 h) horizon: a certificate forecast.
    let c = health_check_json(
        &env,
        &[
            &url,
            "--count",
            "2",
            "--cert-warn",
            "4.5d",
            "--cert-crit",
            "1d",
        ],
    );
    assert_eq!(c.code, 0, "{}", c.all());
    let st = c.json();
    assert_eq!(st["color"], "Green", "{st}");
    let p = &st["prediction"];
    assert_eq!(p["to"], "Yellow", "{st}");
    let secs = p["in_seconds"].as_i64().unwrap();
    assert!((11 * 3600..=12 * 3600 + 60).contains(&secs), "{st}");
    assert!(
        p["basis"]
            .as_str()
            .is_some_and(|b| b.starts_with("the certificate's notAfter")),
        "{st}"
    );
    assert!(
        st["forecast"]
            .as_str()
            .is_some_and(|f| f.starts_with("certificate: Yellow in ~12 h")
                || f.starts_with("certificate: Yellow in ~11 h")),
        "{st}"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. The served certificate checked against this CA's ledger.

#[test]
fn check_cross_checks_the_served_certificate_with_the_ledger() {
    let env = TempCa::new();
    env.init_plain(&[]);

    // Revoked while still served → Red.
    env.issue("web", &["--san", "127.0.0.1", "--profile", "server"]);
    let web = FlakyServer::tls(&env.files("web"), &[]);
    let url = web.url("https");
    let serial = serial_of(&env.issued("web", "cert.pem"));
    let before = health_check_json(&env, &[&url, "--count", "2"]);
    assert_eq!(before.code, 0, "{}", before.all());
    assert!(before.json()["ca_findings"].as_array().unwrap().is_empty());
    env.uca().args(["revoke", "web"]).assert().success();
    let c = health_check_json(&env, &[&url, "--count", "2"]);
    assert_eq!(c.code, 2, "{}", c.all());
    let st = c.json();
    assert_eq!(st["color"], "Red", "{st}");
    assert_eq!(st["probe"]["color"], "Green", "{st}");
    let finding = st["ca_findings"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(finding.starts_with("serving serial "), "{st}");
    assert!(finding.contains(", revoked on "), "{st}");
    assert!(finding.ends_with(": replace the certificate"), "{st}");
    let shown = finding
        .trim_start_matches("serving serial ")
        .split(',')
        .next()
        .unwrap();
    assert!(same_serial(shown, &serial), "{shown} vs {serial}: {st}");
    assert_eq!(st["reasons"][0].as_str(), Some(finding.as_str()), "{st}");
    let text = health_check(&env, &[&url, "--count", "2"]);
    assert_eq!(text.code, 2, "{}", text.all());
    assert!(text.stdout.contains("revoked"), "{}", text.all());

    // Renewed while the old certificate is still served → Yellow: reload the service.
    for (name, how) in [
        ("api", vec!["renew", "api"]),
        ("db", vec!["issue", "db", "--force", "--san", "127.0.0.1"]),
    ] {
        env.issue(name, &["--san", "127.0.0.1", "--profile", "server"]);
        let server = FlakyServer::tls(&env.files(name), &[]);
        let url = server.url("https");
        let old = serial_of(&env.issued(name, "cert.pem"));
        env.uca().args(&how).assert().success();
        let new = serial_of(&env.issued(name, "cert.pem"));
        assert!(!same_serial(&old, &new), "{how:?} kept the serial");
        let c = health_check_json(&env, &[&url, "--count", "2"]);
        assert_eq!(c.code, 1, "{how:?}: {}", c.all());
        let st = c.json();
        assert_eq!(st["color"], "Yellow", "{how:?}: {st}");
        let finding = st["ca_findings"][0]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(finding.contains(", superseded by "), "{how:?}: {st}");
        assert!(finding.ends_with(": reload the service"), "{how:?}: {st}");
        let shown = finding
            .trim_start_matches("serving serial ")
            .split(',')
            .next()
            .unwrap();
        assert!(same_serial(shown, &old), "{how:?}: {shown} vs {old}: {st}");
        let by = finding
            .split(", superseded by ")
            .nth(1)
            .and_then(|r| r.split(" on ").next())
            .unwrap();
        assert!(
            same_serial(by, &new),
            "{how:?}: superseded by {by}, new is {new}: {st}"
        );
        let text = health_check(&env, &[&url, "--count", "2"]);
        assert_eq!(text.code, 1, "{}", text.all());
        assert!(
            text.stdout.starts_with("UCA-HEALTH WARNING - "),
            "{}",
            text.all()
        );
        assert!(text.stdout.contains("reload the service"), "{}", text.all());
    }
}

/// A certificate signed with this CA's key but missing from its ledger: Yellow.
#[test]
fn check_flags_a_certificate_this_ca_signed_but_never_recorded() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let (cert, key) = openssl_ca_cert(&env, "rogue", "20240101000000Z", "20990101000000Z");
    let server = FlakyServer::tls_files(&cert, &key, &[]);
    let c = health_check_json(&env, &[&server.url("https"), "--count", "2"]);
    assert_eq!(c.code, 1, "{}", c.all());
    let st = c.json();
    assert_eq!(st["probe"]["color"], "Green", "{st}");
    assert_eq!(st["color"], "Yellow", "{st}");
    let f = st["ca_findings"][0].as_str().unwrap_or_default();
    assert!(
        f.contains("signed by this CA but not in its ledger"),
        "{st}"
    );
    assert!(f.to_ascii_lowercase().contains("7e57e0"), "{st}");
}

/// This CA's CRL is watched like an expiry: a CRL past its nextUpdate is Red for every endpoint
/// serving one of this CA's certificates.
#[test]
fn check_flags_a_stale_crl_of_this_ca() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("web", &["--san", "127.0.0.1", "--profile", "server"]);
    let server = FlakyServer::tls(&env.files("web"), &[]);
    // A CRL signed by this CA's key whose nextUpdate passed in 2020 (openssl ca can backdate).
    OpensslCa::new(&env, "old-crl").crl(
        "20200101000000Z",
        "20200108000000Z",
        &env.ca_dir().join("crl.pem"),
    );
    let c = health_check_json(&env, &[&server.url("https"), "--count", "2"]);
    assert_eq!(c.code, 2, "{}", c.all());
    let st = c.json();
    assert_eq!(st["probe"]["color"], "Green", "{st}");
    assert!(
        reasons(&st).contains("the CA's CRL is past its nextUpdate (2020-01-08"),
        "{st}"
    );
    assert!(reasons(&st).contains("run uca crl"), "{st}");
}

/// Right after `uca crl` (default lifetime 7 days, "publish it again daily") a healthy endpoint
/// serving one of this CA's certificates is still OK.
#[test]
fn check_fresh_crl_is_not_a_problem() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("web", &["--san", "127.0.0.1", "--profile", "server"]);
    let server = FlakyServer::tls(&env.files("web"), &[]);
    let url = server.url("https");
    let before = health_check(&env, &[&url, "--count", "2"]);
    assert_eq!(before.code, 0, "{}", before.all());
    env.uca().arg("crl").assert().success();
    let after = health_check(&env, &[&url, "--count", "2"]);
    assert_eq!(
        after.code,
        0,
        "a CRL published a moment ago with uca's default lifetime:\n{}",
        after.all()
    );
    assert!(!after.stdout.contains("CRL"), "{}", after.all());
}

/// The watcher cross-checks the served certificates with the ledger too (first look ~2 s in).
#[test]
fn watch_reports_revoked_and_superseded_certificates() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let mut servers = Vec::new();
    for name in ["revoked", "renewed", "fine"] {
        env.issue(name, &["--san", "127.0.0.1", "--profile", "server"]);
        servers.push(FlakyServer::tls(&env.files(name), &[]));
    }
    env.uca().args(["revoke", "revoked"]).assert().success();
    env.uca().args(["renew", "renewed"]).assert().success();
    let mut text = defaults("4s");
    for (name, server) in ["revoked", "renewed", "fine"].iter().zip(&servers) {
        text.push_str(&format!(
            "\n[[target]]\nname = \"{name}\"\nurl = \"{}\"\n",
            server.url("https")
        ));
    }
    let file = targets_file(&env, "targets.toml", &text);
    let w = Watch::start(&env, &[], &file, &[]);
    let doc = w.wait_until(15, "ledger findings", |d| {
        endpoint_of(d, "revoked")["color"] == "Red"
            && endpoint_of(d, "renewed")["color"] == "Yellow"
            && endpoint_of(d, "fine")["color"] == "Green"
    });
    let r = endpoint_of(&doc, "revoked");
    assert_eq!(r["probe"]["color"], "Green", "{r}");
    assert!(reasons(&r).contains(", revoked on "), "{r}");
    assert!(reasons(&r).contains("replace the certificate"), "{r}");
    let y = endpoint_of(&doc, "renewed");
    assert!(reasons(&y).contains(", superseded by "), "{y}");
    assert!(reasons(&y).contains("reload the service"), "{y}");
    let g = endpoint_of(&doc, "fine");
    assert!(g["ca_findings"].as_array().unwrap().is_empty(), "{g}");
    assert_eq!(doc["summary"]["red"], 1, "{doc}");
    assert_eq!(doc["summary"]["yellow"], 1, "{doc}");
    assert_eq!(doc["summary"]["green"], 1, "{doc}");
}

// ---------------------------------------------------------------------------------------------
// 7. /metrics judged by the Prometheus client library's parser.

const PARSE_METRICS: &str = r#"
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(sys.stdin.read()):
    out[f.name] = {"type": f.type, "samples": [
        [s.name, s.labels, s.value if math.isfinite(s.value) else str(s.value)] for s in f.samples]}
print(json.dumps(out))
"#;

fn parse_metrics(text: &str) -> Value {
    let out = run_timeout("python3", &["-c", PARSE_METRICS], text.as_bytes());
    assert!(
        out.status.success(),
        "prometheus_client rejected /metrics (is prometheus_client installed?):\n{}\n--- metrics:\n{text}",
        out.all()
    );
    serde_json::from_str(&out.stdout).unwrap()
}

fn samples<'a>(m: &'a Value, family: &str) -> &'a Vec<Value> {
    m[family]["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no family {family} in {m}"))
}

/// The value of the sample `name` with labels `labels` (all of them).
fn sample(m: &Value, family: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(m, family)
        .iter()
        .find(|s| {
            s[0] == name
                && s[1].as_object().unwrap().len() == labels.len()
                && labels.iter().all(|(k, v)| s[1][*k] == *v)
        })
        .and_then(|s| s[2].as_f64())
}

#[test]
fn watch_metrics_parse_with_prometheus_client_and_match_the_status() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("tlsweb", &["--san", "127.0.0.1", "--profile", "server"]);
    let good = FlakyServer::start(&[]);
    let slow = FlakyServer::start(&["--delay-ms", "500"]);
    let tls = FlakyServer::tls(&env.files("tlsweb"), &[]);
    let closed = free_port();
    let file = targets_file(
        &env,
        "targets.toml",
        &format!(
            "{}\n[[target]]\nname = \"good\"\nurl = \"{}\"\n\n\
             [[target]]\nname = \"slow\"\nurl = \"{}\"\n\n\
             [[target]]\nname = \"down\"\nurl = \"http://127.0.0.1:{closed}/\"\n\n\
             [[target]]\nname = \"tls\"\nurl = \"{}\"\n",
            defaults("4s"),
            good.url("http"),
            slow.url("http"),
            tls.url("https"),
        ),
    );
    let w = Watch::start(&env, &["--json"], &file, &[]);
    let want = [
        ("good", "Green"),
        ("slow", "Yellow"),
        ("down", "Red"),
        ("tls", "Green"),
    ];
    w.wait_until(20, "every target at its color", |d| {
        want.iter().all(|(n, c)| endpoint_of(d, n)["color"] == *c)
    });

    // /metrics and /status.json of the same refresh (statuses refresh every second).
    let (mut m, mut doc) = (Value::Null, Value::Null);
    for _ in 0..10 {
        let before = w.status();
        let (code, text) = w.get("/metrics");
        assert_eq!(code, 200);
        let after = w.status();
        m = parse_metrics(&text);
        doc = after.clone();
        if want
            .iter()
            .all(|(n, _)| endpoint_of(&before, n)["color"] == endpoint_of(&after, n)["color"])
        {
            break;
        }
    }
    let families = [
        ("uca_health_probes", "counter"),
        ("uca_health_probe_failures", "counter"),
        ("uca_health_probe_duration_seconds", "histogram"),
        ("uca_health_status", "gauge"),
        ("uca_health_good_share", "gauge"),
        ("uca_health_predicted_change_seconds", "gauge"),
        ("uca_health_cert_not_after_seconds", "gauge"),
        ("uca_health_schedule_lag_seconds", "histogram"),
        ("uca_health_probes_late", "counter"),
    ];
    for (f, t) in families {
        assert_eq!(m[f]["type"], t, "family {f}: {}", m[f]);
    }
    for (name, color) in want {
        let st = endpoint_of(&doc, name);
        let gauge = match st["color"].as_str().unwrap() {
            "Green" => 0.0,
            "Yellow" => 1.0,
            "Red" => 2.0,
            "Unknown" => 3.0,
            other => panic!("color {other}"),
        };
        assert_eq!(st["color"], color, "{st}");
        let l = [("target", name)];
        assert_eq!(
            sample(&m, "uca_health_status", "uca_health_status", &l),
            Some(gauge),
            "{name}: {st}"
        );
        let probes = sample(&m, "uca_health_probes", "uca_health_probes_total", &l).unwrap();
        let failures = sample(
            &m,
            "uca_health_probe_failures",
            "uca_health_probe_failures_total",
            &l,
        )
        .unwrap();
        assert!(
            probes >= 3.0 && failures <= probes,
            "{name}: {probes} {failures}"
        );
        let h = "uca_health_probe_duration_seconds";
        let count = sample(&m, h, &format!("{h}_count"), &l).unwrap();
        assert_eq!(count, probes, "{name}: histogram count vs probes_total");
        let inf = sample(
            &m,
            h,
            &format!("{h}_bucket"),
            &[("target", name), ("le", "+Inf")],
        );
        assert_eq!(inf, Some(count), "{name}");
        // Buckets are cumulative.
        let mut prev = 0.0;
        let mut buckets: Vec<(f64, f64)> = samples(&m, h)
            .iter()
            .filter(|s| s[0] == format!("{h}_bucket") && s[1]["target"] == name)
            .map(|s| {
                (
                    s[1]["le"].as_str().unwrap().parse::<f64>().unwrap(),
                    s[2].as_f64().unwrap(),
                )
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(buckets.len() >= 10, "{name}: {buckets:?}");
        for (_, v) in &buckets {
            assert!(*v >= prev, "{name}: buckets not cumulative {buckets:?}");
            prev = *v;
        }
        for (th, key) in [("ok", "share_ok"), ("warn", "share_warn")] {
            let g = sample(
                &m,
                "uca_health_good_share",
                "uca_health_good_share",
                &[("target", name), ("threshold", th)],
            );
            if let Some(want) = st["probe"][key].as_f64() {
                let g = g.unwrap_or_else(|| panic!("{name}: no good_share {th}"));
                assert!((g - want).abs() < 0.2, "{name} {th}: {g} vs {want}");
            }
        }
    }
    // The down target failed every probe; the slow one answered every probe in ~0.5 s.
    let l = [("target", "down")];
    assert_eq!(
        sample(&m, "uca_health_probes", "uca_health_probes_total", &l),
        sample(
            &m,
            "uca_health_probe_failures",
            "uca_health_probe_failures_total",
            &l
        )
    );
    let h = "uca_health_probe_duration_seconds";
    let slow_fast = sample(
        &m,
        h,
        &format!("{h}_bucket"),
        &[("target", "slow"), ("le", "0.25")],
    );
    assert_eq!(slow_fast, Some(0.0), "slow answered within 250 ms?");
    // The TLS target's certificate expiry, as Unix time.
    let not_after = sample(
        &m,
        "uca_health_cert_not_after_seconds",
        "uca_health_cert_not_after_seconds",
        &[("target", "tls")],
    )
    .expect("cert_not_after for the TLS target");
    let st = endpoint_of(&doc, "tls");
    assert!(
        st["cert"]["seconds_left"].as_i64().unwrap() > 300 * 86_400,
        "{st}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let left = st["cert"]["seconds_left"].as_f64().unwrap();
    assert!((not_after - now - left).abs() < 30.0, "{not_after} vs {st}");
    for n in ["good", "slow", "down"] {
        assert!(
            sample(
                &m,
                "uca_health_cert_not_after_seconds",
                "uca_health_cert_not_after_seconds",
                &[("target", n)]
            )
            .is_none(),
            "{n} has no certificate"
        );
    }
    // Scheduler metrics exist and add up.
    let lag = "uca_health_schedule_lag_seconds";
    let lag_count = sample(&m, lag, &format!("{lag}_count"), &[]).unwrap();
    assert_eq!(
        sample(&m, lag, &format!("{lag}_bucket"), &[("le", "+Inf")]),
        Some(lag_count)
    );
    assert!(lag_count >= 4.0);

    // With --json every color change is one JSON object per line on stdout.
    let mut last_to = std::collections::BTreeMap::new();
    for line in w.stdout().lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("--json change line is not JSON ({e}): {line:?}"));
        for k in ["at", "name", "from", "to", "reason", "forecast"] {
            assert!(v.get(k).is_some(), "no {k} in {v}");
        }
        assert!(v["at"].as_i64().is_some_and(|a| a > 1_600_000_000), "{v}");
        assert_ne!(v["from"], v["to"], "{v}");
        last_to.insert(
            v["name"].as_str().unwrap().to_string(),
            v["to"].as_str().unwrap().to_string(),
        );
    }
    for (name, color) in want {
        assert_eq!(
            last_to.get(name).map(String::as_str),
            Some(color),
            "last change of {name}:\n{}",
            w.stdout()
        );
    }
    assert!(
        sample(
            &m,
            "uca_health_probes_late",
            "uca_health_probes_late_total",
            &[]
        )
        .is_some()
    );
}

// ---------------------------------------------------------------------------------------------
// 8. The history survives a restart.

#[test]
fn watch_restart_keeps_the_window() {
    let env = TempCa::new();
    let good = FlakyServer::start(&[]);
    let file = targets_file(
        &env,
        "targets.toml",
        &format!(
            "{}\n[[target]]\nname = \"good\"\nurl = \"{}\"\n",
            defaults("60s"),
            good.url("http")
        ),
    );
    let mut first = Watch::start(
        &env,
        &[],
        &file,
        &["--duration", "3s", "--store", "s.sqlite"],
    );
    let mut seen = 0;
    while first.child.0.try_wait().unwrap().is_none() {
        if let Ok(mut sock) = TcpStream::connect(("127.0.0.1", first.port)) {
            // The watcher may stop between the connect and the answer: tolerate that.
            let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = sock.write_all(b"GET /status.json HTTP/1.0\r\n\r\n");
            let mut buf = String::new();
            let _ = sock.read_to_string(&mut buf);
            if let Some((_, body)) = buf.split_once("\r\n\r\n")
                && let Ok(doc) = serde_json::from_str::<Value>(body)
            {
                let n = endpoint_of(&doc, "good")["probe"]["samples"]
                    .as_u64()
                    .unwrap_or(0);
                seen = seen.max(n);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let st = first.wait_exit(10);
    assert!(st.success(), "first run: {st}\n{}", first.stderr());
    assert!(
        seen >= 5,
        "the first run saw {seen} samples:\n{}",
        first.stderr()
    );
    assert!(env.path("s.sqlite").is_file());
    assert!(
        first.stderr().contains("s.sqlite"),
        "stderr names the store:\n{}",
        first.stderr()
    );

    let mut second = Watch::start(
        &env,
        &[],
        &file,
        &["--duration", "2s", "--store", "s.sqlite"],
    );
    let st = second.endpoint("good");
    let samples = st["probe"]["samples"].as_u64().unwrap();
    assert!(
        samples >= seen,
        "right after the restart: {samples} samples, the first run had {seen}: {st}"
    );
    assert_ne!(st["color"], "Unknown", "{st}");
    assert_eq!(st["color"], "Green", "{st}");
    assert!(!reasons(&st).contains("collecting"), "{st}");
    assert!(second.wait_exit(10).success(), "{}", second.stderr());

    // SIGTERM stops it cleanly too, keeping the history.
    let mut term = Watch::start(&env, &[], &file, &["--store", "s.sqlite"]);
    let before = term.endpoint("good")["probe"]["samples"].as_u64().unwrap();
    assert!(before >= seen, "{before} < {seen}");
    let pid = term.child.0.id().to_string();
    let killed = run("kill", &["-TERM", &pid]);
    assert!(killed.status.success());
    let st = term.wait_exit(10);
    assert!(st.success(), "SIGTERM: {st}\n{}", term.stderr());
    let again = Watch::start(
        &env,
        &[],
        &file,
        &["--duration", "1s", "--store", "s.sqlite"],
    );
    let n = again.endpoint("good")["probe"]["samples"].as_u64().unwrap();
    assert!(n >= before, "after SIGTERM and a restart: {n} < {before}");
    drop(again);

    // Other thresholds: the old counts were judged by other rules and are not reused.
    let changed = targets_file(
        &env,
        "targets.toml",
        &format!(
            "{}\n[[target]]\nname = \"good\"\nurl = \"{}\"\nok = \"95% within 300ms\"\n",
            defaults("60s"),
            good.url("http")
        ),
    );
    let mut third = Watch::start(
        &env,
        &[],
        &changed,
        &["--duration", "1s", "--store", "s.sqlite"],
    );
    let st = third.endpoint("good");
    assert!(
        st["probe"]["samples"].as_u64().unwrap() < 5,
        "history kept across a threshold change: {st}"
    );
    assert_eq!(st["color"], "Unknown", "{st}");
    assert!(reasons(&st).contains("collecting"), "{st}");
    assert!(third.wait_exit(10).success(), "{}", third.stderr());
}

/// SIGTERM stops the watcher even when it arrives while the history is being written. The
/// store is held locked by another process so the write (busy_timeout 5 s) is in progress when
/// the signal comes: that is just a way to widen a window that exists at every flush and refresh.
#[test]
fn watch_sigterm_during_a_flush_still_stops_it() {
    let env = TempCa::new();
    let good = FlakyServer::start(&[]);
    let file = targets_file(
        &env,
        "targets.toml",
        &format!(
            "{}\n[[target]]\nname = \"good\"\nurl = \"{}\"\n",
            defaults("60s"),
            good.url("http")
        ),
    );
    let mut w = Watch::start(&env, &[], &file, &["--store", "lk.sqlite"]);
    let mut locker = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             c.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\ntime.sleep(60)\n",
            env.path("lk.sqlite").utf8(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(locker.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    let locker = KillOnDrop(locker);
    // The first flush comes ~6 s in; while it waits for the lock, statuses stop refreshing.
    let deadline = Instant::now() + Duration::from_secs(15);
    let (mut last, mut since) = (0, Instant::now());
    loop {
        let n = w.endpoint("good")["probe"]["samples"].as_u64().unwrap();
        if n != last {
            (last, since) = (n, Instant::now());
        } else if since.elapsed() > Duration::from_millis(1500) {
            break;
        }
        assert!(Instant::now() < deadline, "the flush never blocked");
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = w.child.0.id().to_string();
    assert!(run("kill", &["-TERM", &pid]).status.success());
    std::thread::sleep(Duration::from_millis(300));
    drop(locker);
    let deadline = Instant::now() + Duration::from_secs(8);
    while w.child.0.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "still running 8 s after SIGTERM (and the store is free again):\n{}",
            w.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(w.wait_exit(1).success(), "{}", w.stderr());
}

// ---------------------------------------------------------------------------------------------
// 9. The status page in headless Chromium.

#[test]
fn status_page_renders_in_headless_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    else {
        println!("SKIPPED: chromium is not installed (apt-get install chromium)");
        return;
    };
    let env = TempCa::new();
    let good = FlakyServer::start(&[]);
    let slow = FlakyServer::start(&["--delay-ms", "500"]);
    let closed = free_port();
    let file = targets_file(
        &env,
        "targets.toml",
        &format!(
            "{}\n[[target]]\nname = \"web <front>\"\nurl = \"{}\"\n\n\
             [[target]]\nname = \"slow\"\nurl = \"{}\"\n\n\
             [[target]]\nname = \"down\"\nurl = \"http://127.0.0.1:{closed}/\"\n",
            defaults("4s"),
            good.url("http"),
            slow.url("http"),
        ),
    );
    let w = Watch::start(&env, &[], &file, &[]);
    let want = [
        ("web <front>", "Green"),
        ("slow", "Yellow"),
        ("down", "Red"),
    ];
    w.wait_until(20, "every target at its color", |d| {
        want.iter().all(|(n, c)| endpoint_of(d, n)["color"] == *c)
    });

    // The raw page: auto-refresh, self-contained.
    let (code, html) = w.get("/");
    assert_eq!(code, 200);
    assert!(html.contains("<meta http-equiv=\"refresh\""), "{html}");
    for external in [
        "src=\"http",
        "href=\"http",
        "<script src",
        "<link ",
        "@import",
        "url(",
    ] {
        assert!(
            !html.contains(external),
            "external asset {external:?}:\n{html}"
        );
    }

    let url = format!("http://127.0.0.1:{}/", w.port);
    let profile = env.path("chromium-profile");
    let common_args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
    ];
    let profile_arg = format!("--user-data-dir={}", profile.display());
    let mut args: Vec<&str> = common_args.to_vec();
    args.extend([profile_arg.as_str(), "--dump-dom", &url]);
    let dom = run_timeout(chromium, &args, b"");
    assert!(dom.status.success(), "{}", dom.all());
    let rows: Vec<(String, String, String)> = dom
        .stdout
        .match_indices("<tr class=\"endpoint ")
        .map(|(i, _)| {
            let tag = &dom.stdout[i..i + dom.stdout[i..].find('>').unwrap()];
            let attr = |a: &str| {
                let start = tag.find(&format!("{a}=\"")).unwrap() + a.len() + 2;
                tag[start..start + tag[start..].find('"').unwrap()].to_string()
            };
            (attr("data-name"), attr("data-color"), attr("class"))
        })
        .collect();
    assert_eq!(rows.len(), want.len(), "rows {rows:?} in:\n{}", dom.stdout);
    let doc = w.status();
    for (name, color) in want {
        // The DOM escapes < and > in attribute values as &lt; / &gt;; either way is one name.
        let row = rows
            .iter()
            .find(|r| r.0.replace("&lt;", "<").replace("&gt;", ">") == name)
            .unwrap_or_else(|| panic!("no row for {name} in {rows:?}"));
        assert_eq!(row.1, color, "{row:?}");
        assert_eq!(
            row.2,
            format!("endpoint {}", color.to_ascii_lowercase()),
            "{row:?}"
        );
        assert_eq!(endpoint_of(&doc, name)["color"], color);
    }

    // A screenshot, kept for people to look at.
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")))
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("health-status.png");
    let _ = std::fs::remove_file(&png);
    let shot = format!("--screenshot={}", png.display());
    let mut args: Vec<&str> = common_args.to_vec();
    args.extend([profile_arg.as_str(), &shot, "--window-size=1200,800", &url]);
    let out = run_timeout(chromium, &args, b"");
    assert!(out.status.success(), "{}", out.all());
    let bytes =
        std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}\n{}", png.display(), out.all()));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // Width and height from the IHDR chunk.
    let wh = |o: usize| u32::from_be_bytes(bytes[o..o + 4].try_into().unwrap());
    assert_eq!((wh(16), wh(20)), (1200, 800));
    assert!(
        bytes.len() > 10_000,
        "a {}-byte screenshot is suspiciously empty",
        bytes.len()
    );
    println!("status page screenshot: {}", png.display());
}

// ---------------------------------------------------------------------------------------------
// 10. Bad targets files.

#[test]
fn bad_targets_files_are_refused_with_a_location_and_nothing_listens() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let head = "[[target]]\nname = \"a\"\n";
    let cases = [
        (
            "unknown-key",
            format!("{head}url = \"http://127.0.0.1:9/\"\nbogus = 1\n"),
            "targets.toml:4:1:",
            "bogus",
        ),
        (
            "bad-threshold",
            format!("{head}url = \"http://127.0.0.1:9/\"\nok = \"99 within\"\n"),
            "targets.toml:4:6:",
            "is not a threshold",
        ),
        (
            "over-100",
            format!("{head}url = \"http://127.0.0.1:9/\"\nok = \"101% within 1s\"\n"),
            "targets.toml:4:6:",
            "at most 100%",
        ),
        (
            "duplicate",
            format!(
                "{head}url = \"http://127.0.0.1:9/\"\n\n[[target]]\nname = \"a\"\nurl = \"http://127.0.0.1:10/\"\n"
            ),
            "targets.toml:6:8:",
            "duplicate target name 'a'",
        ),
        (
            "missing-ca",
            format!("{head}url = \"https://127.0.0.1:9/\"\nca = \"missing.pem\"\n"),
            "targets.toml:4:6:",
            "missing.pem",
        ),
    ];
    for (dir, text, at, words) in cases {
        let rel = format!("{dir}/targets.toml");
        targets_file(&env, &rel, &text);
        let out = env
            .uca()
            .args([
                "health",
                "watch",
                &rel,
                "--listen",
                "127.0.0.1:0",
                "--duration",
                "3s",
            ])
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{dir}: {stderr}");
        assert!(stderr.contains(at), "{dir}: no {at:?} in:\n{stderr}");
        assert!(stderr.contains(words), "{dir}: no {words:?} in:\n{stderr}");
        assert!(
            !stderr.contains("serving http://"),
            "{dir}: it listened:\n{stderr}"
        );
        assert!(
            out.stdout.is_empty(),
            "{dir}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            !env.path(dir).join("targets.health.sqlite").exists(),
            "{dir}: a store was created for a refused file"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 11. `check`: output line, perfdata, JSON, exit codes.

#[test]
fn check_output_format_and_exit_codes() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let good = FlakyServer::start(&[]);
    let url = good.url("http");

    let ok = health_check(&env, &[&url, "--body", "ok"]);
    assert_eq!(ok.code, 0, "{}", ok.all());
    let line = ok.stdout.trim_end();
    assert_eq!(ok.stdout.lines().count(), 1, "{}", ok.all());
    assert!(
        line.starts_with(&format!(
            "UCA-HEALTH OK - {url}: 5/5 probes answered within 300ms"
        )),
        "{line}"
    );
    let (_, perf) = line
        .split_once(" | ")
        .unwrap_or_else(|| panic!("no perfdata: {line}"));
    assert!(perf.starts_with("good_share=100%;99:;95:;0;100 "), "{perf}");
    assert!(perf.contains(" latency_p50="), "{perf}");
    assert!(perf.contains(";0.3;1"), "{perf}");
    assert!(perf.contains(" latency_max="), "{perf}");
    assert!(
        !perf.contains("cert_days"),
        "plain HTTP has no certificate: {perf}"
    );
    for p in perf.split(' ') {
        let (label, value) = p
            .split_once('=')
            .unwrap_or_else(|| panic!("perfdata {p:?}"));
        assert!(!label.is_empty() && !value.is_empty(), "{p:?}");
    }

    // tcp:// only connects.
    let tcp = health_check(
        &env,
        &[&format!("tcp://127.0.0.1:{}", good.port), "--count", "2"],
    );
    assert_eq!(tcp.code, 0, "{}", tcp.all());
    assert!(
        tcp.stdout.starts_with("UCA-HEALTH OK - tcp://"),
        "{}",
        tcp.all()
    );

    // JSON: the status object.
    let j = health_check_json(&env, &[&url, "--count", "4"]);
    assert_eq!(j.code, 0, "{}", j.all());
    let st = j.json();
    for key in [
        "name",
        "url",
        "color",
        "reasons",
        "probe",
        "cert",
        "ca_findings",
        "latency_ms_p50",
        "latency_ms_p95",
        "latency_ms_max",
        "last_error",
        "forecast",
        "prediction",
        "trend",
        "ok",
        "warn",
        "window",
    ] {
        assert!(st.get(key).is_some(), "no {key} in {st}");
    }
    assert_eq!(st["color"], "Green");
    assert_eq!(st["url"], url.as_str());
    assert_eq!(st["probe"]["samples"], 4);
    assert_eq!(st["probe"]["share_ok"], 1.0);
    for k in ["m5", "m30", "h1", "h6", "fast", "slow"] {
        assert!(st["probe"]["burn"].get(k).is_some(), "no burn.{k} in {st}");
    }
    assert!(st["cert"].is_null());
    assert_eq!(st["ok"], "99% within 300ms");
    assert_eq!(st["warn"], "95% within 1s");

    // Slower than --ok but within --warn: WARNING, exit 1.
    let slow = FlakyServer::start(&["--delay-ms", "150"]);
    let w = health_check(
        &env,
        &[&slow.url("http"), "--count", "3", "--ok", "99% within 50ms"],
    );
    assert_eq!(w.code, 1, "{}", w.all());
    assert!(w.stdout.starts_with("UCA-HEALTH WARNING - "), "{}", w.all());
    assert!(
        w.stdout.contains("good_share=0%;99:;95:;0;100"),
        "{}",
        w.all()
    );

    // The body must contain the text.
    let b = health_check(&env, &[&url, "--count", "3", "--body", "no such text"]);
    assert_eq!(b.code, 2, "{}", b.all());
    assert!(
        b.stdout
            .contains("HTTP 200 but the body does not contain 'no such text'"),
        "{}",
        b.all()
    );

    // Bad arguments are UNKNOWN (3), not a usage error.
    for args in [
        vec![url.as_str(), "--ok", "99 within"],
        vec![url.as_str(), "--warn", "101% within 1s"],
        vec![url.as_str(), "--timeout", "5"],
        vec![url.as_str(), "--count", "0"],
        vec!["ftp://127.0.0.1/"],
    ] {
        let c = health_check(&env, &args);
        assert_eq!(c.code, 3, "{args:?}: {}", c.all());
        assert!(!c.stderr.is_empty(), "{args:?}: no message");
    }
    let c = health_check(&env, &[&url, "--ok", "99 within"]);
    assert!(c.stderr.contains("--ok"), "{}", c.all());
}
