//! `uca health check`: one probe run against real servers (nginx with mutual TLS, the flaky
//! server, hostile and refusing endpoints), its plugin-style line, perfdata, JSON and exit
//! codes.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::health::*;
use crate::support::*;

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
        endpoint_of(d, "by-name")["color"] == "green"
            && endpoint_of(d, "by-path")["color"] == "green"
            && endpoint_of(d, "anonymous")["color"] == "red"
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
        assert_eq!(st["color"], "red", "{args:?}: {st}");
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
    assert_eq!(st["color"], "green");
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

/// Regression: `health check` waited for the CA lock another uca process held.
#[test]
fn check_does_not_wait_for_a_busy_ca() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let web = env.issue("web", &["--san", "127.0.0.1", "--profile", "server"]);
    // openssl s_server -www with the uca-issued server certificate.
    let server = OpensslServer::start(env.tmp.path(), &web, None, &[]);
    let port = server.port();

    // Hold the CA lock from another process: `flock -x LOCK sleep 20`, done as one process
    // (the shell takes the lock on fd 9, then becomes `sleep`), so killing it frees the lock and
    // leaves nothing behind.
    let lock = env.ca_dir().join(".lock");
    let _holder = KillOnDrop(
        Command::new("sh")
            .args([
                "-c",
                "exec 9>>\"$1\" && flock -x 9 && exec sleep 20",
                "sh",
                lock.utf8(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run sh/flock"),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let probe = run("flock", &["-n", "-x", lock.utf8(), "true"]);
        if !probe.status.success() {
            break; // held by the holder
        }
        assert!(Instant::now() < deadline, "flock never took the CA lock");
        std::thread::sleep(Duration::from_millis(20));
    }

    let url = format!("https://127.0.0.1:{port}/");
    let mut cmd = env.uca_std();
    cmd.args(["health", "check", &url]);
    let (out, took) = run_within(cmd, Duration::from_secs(10)).unwrap_or_else(|e| {
        panic!("uca health check {url} did not finish within 10 s while the CA was locked:\n{e}")
    });
    let all = expect(&out, 0);
    assert!(all.contains("UCA-HEALTH OK"), "{all}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// A TCP server answering every connection with `answer` (after the request head) and closing.
fn hostile_server(answer: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(mut sock) = sock else { continue };
            std::thread::spawn(move || {
                let _ = sock.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while let Ok(n) = sock.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let _ = sock.write_all(answer);
                let _ = sock.flush();
            });
        }
    });
    port
}

/// Regression: a server answering a chunk size or Content-Length near 2^64 killed the probe.
#[test]
fn check_survives_a_huge_chunk_size_or_content_length() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let answers: [&'static [u8]; 2] = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffe\r\nabc",
        b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nabc",
    ];
    for answer in answers {
        let port = hostile_server(answer);
        let url = format!("http://127.0.0.1:{port}/");
        let mut cmd = env.uca_std();
        cmd.args(["health", "check", &url]);
        let (out, _) = run_within(cmd, Duration::from_secs(30)).unwrap_or_else(|e| {
            panic!(
                "uca health check hung on {:?}:\n{e}",
                String::from_utf8_lossy(answer)
            )
        });
        let what = String::from_utf8_lossy(answer);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{what:?}:\n{}", text(&out));
        let code = out
            .status
            .code()
            .unwrap_or_else(|| panic!("{what:?}: killed by a signal:\n{}", text(&out)));
        assert_ne!(code, 101, "{what:?}:\n{}", text(&out));
        assert!(
            code == 0 || code == 2,
            "{what:?}: exit {code}:\n{}",
            text(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("UCA-HEALTH "),
            "{what:?}:\n{}",
            text(&out)
        );
    }
}

/// Certificate thresholds speak the duration grammar of `uca expiring`: a bare number counts
/// days and `1y` is a year (both were refused before), while a timeout still needs its unit.
#[test]
fn cert_thresholds_take_bare_days_and_years_like_expiring() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue(
        "localhost",
        &["--san", "127.0.0.1", "--profile", "server", "--days", "200"],
    );
    env.issue("prober", &["--profile", "client"]);
    let nginx = start_health_nginx(&env);
    let url = format!("https://127.0.0.1:{}/", nginx.port);
    let base = ["--count", "1", "--client-cert", "prober"];
    for (warn, crit, want, word) in [
        ("1y", "7", 1, "WARNING"),     // 200 days left is inside a year
        ("150", "7", 0, "OK"),         // a bare 150 is 150 days, not 150 seconds
        ("250", "210", 2, "CRITICAL"), // inside the crit days
        ("30d", "1w", 0, "OK"),
    ] {
        let mut args: Vec<&str> = vec![url.as_str()];
        args.extend(base);
        args.extend(["--cert-warn", warn, "--cert-crit", crit]);
        let c = health_check(&env, &args);
        assert_eq!(
            c.code,
            want,
            "--cert-warn {warn} --cert-crit {crit}: {}",
            c.all()
        );
        assert!(
            c.stdout.starts_with(&format!("UCA-HEALTH {word}")),
            "--cert-warn {warn}: {}",
            c.all()
        );
    }
    for (flag, value, fragment) in [
        ("--timeout", "5", "needs a unit"),
        ("--cert-warn", "30x", "unknown unit 'x'"),
        ("--cert-crit", "101y", "longer than 100 years"),
    ] {
        let mut args: Vec<&str> = vec![url.as_str()];
        args.extend(base);
        args.extend([flag, value]);
        let c = health_check(&env, &args);
        assert_eq!(c.code, 3, "{flag} {value}: {}", c.all());
        assert!(
            c.stderr.contains(&format!("{flag}: ")) && c.stderr.contains(fragment),
            "{flag} {value}: {}",
            c.all()
        );
    }
}
