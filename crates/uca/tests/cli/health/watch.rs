//! `uca health watch`: colors that follow a flaky server (Green → Yellow → Red → Green), every
//! change announced on stdout, to on_change and to a webhook, outages at once, forecasts before
//! a slow degradation turns a color, the history kept across restarts and SIGTERM, and the live
//! table on a terminal.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::health::*;
use crate::support::*;

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

/// A targets file `targets.toml` with the [`defaults`] for `window` and one target.
fn one_target(env: &TempCa, window: &str, name: &str, url: &str) -> PathBuf {
    let text = format!(
        "{}\n[[target]]\nname = \"{name}\"\nurl = \"{url}\"\n",
        defaults(window)
    );
    targets_file(env, "targets.toml", &text)
}

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
    let st = w.wait_color("flaky", "green", 15);
    assert!(st["probe"]["samples"].as_u64().unwrap() >= 5, "{st}");
    assert!(reasons(&st).contains("within 300ms"), "{st}");

    // 20% failures: below 90% good but above 70% → Yellow.
    flaky.control("fail=0.2&even=1");
    let st = w.wait_color("flaky", "yellow", 15);
    assert!(reasons(&st).contains("(needs 90%)"), "{st}");

    // 60% failures → Red.
    flaky.control("fail=0.6");
    let st = w.wait_color("flaky", "red", 15);
    let share_warn = st["probe"]["share_warn"].as_f64().unwrap();
    assert!(share_warn < 0.7, "{st}");

    // Healed → Green again once the failures leave the window.
    flaky.control("fail=0");
    w.wait_color("flaky", "green", 20);

    // Slow answers (500 ms: not within 300 ms, but within 1 s) → Yellow, never Red.
    flaky.control("delay_ms=500");
    let doc = w.wait_until(20, "flaky to become Yellow from latency", |d| {
        let e = endpoint_of(d, "flaky");
        assert_ne!(
            e["color"], "red",
            "slow but correct answers made it Red: {e}"
        );
        e["color"] == "yellow"
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
        let posted_title: Vec<(String, String)> =
            posted.iter().map(|(f, t)| (title(f), title(t))).collect();
        if (logged == expect && posted_title == expect) || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(logged, expect, "on_change runs vs stdout changes");
    // The webhook body is JSON, so its colors are lowercase; stdout shows the title form.
    let expect_json: Vec<(String, String)> = expect
        .iter()
        .map(|(f, t)| (f.to_ascii_lowercase(), t.to_ascii_lowercase()))
        .collect();
    assert_eq!(posted, expect_json, "webhook POSTs vs stdout changes");
}

/// Three failures in a row are Red at once, long before a 60 s window's share would say so;
/// the first success ends it.
#[test]
fn watch_outage_is_red_at_once() {
    let env = TempCa::new();
    let flaky = FlakyServer::start(&["--even"]);
    let file = one_target(&env, "60s", "svc", &flaky.url("http"));
    let w = Watch::start(&env, &[], &file, &[]);
    w.wait_until(15, "Green with 30 samples", |d| {
        let e = endpoint_of(d, "svc");
        e["color"] == "green" && e["probe"]["samples"].as_u64().unwrap_or(0) >= 30
    });
    flaky.control("fail=1");
    let down = Instant::now();
    let st = w.wait_color("svc", "red", 10);
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
            *n >= 8 && color == "green",
            "a 1s window at one probe per 100 ms reported {n} samples, {color} ({reason}); \
             all: {seen:?}; {rate}"
        );
    }
}

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
    w.wait_color("ramp", "green", 15);
    // A steady, perfect endpoint forecasts nothing.
    let steady_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < steady_until {
        let st = w.endpoint("ramp");
        assert_eq!(st["color"], "green", "{st}");
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
        if color == "yellow" || color == "red" {
            crossed = (elapsed, st);
            break;
        }
        assert_eq!(color, "green", "{st}");
        let forecast_yellow = st["prediction"]["to"] == "yellow"
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
    assert_eq!(p["to"], "yellow", "{first}");
    assert!(p["in_seconds"].as_i64().unwrap() >= 0, "{first}");
    assert!(p["in_seconds"].as_i64().unwrap() <= 600, "{first}");
    assert!(
        first["forecast"]
            .as_str()
            .is_some_and(|f| f.starts_with("at the current trend: Yellow in ")),
        "{first}"
    );
    // The change is to Yellow (ok threshold), with 10% of answers failing: not Red.
    assert_eq!(crossed.1["color"], "yellow", "{}", crossed.1);
}

#[test]
fn watch_restart_keeps_the_window() {
    let env = TempCa::new();
    let good = FlakyServer::start(&[]);
    let file = one_target(&env, "60s", "good", &good.url("http"));
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
    assert_ne!(st["color"], "unknown", "{st}");
    assert_eq!(st["color"], "green", "{st}");
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
    assert_eq!(st["color"], "unknown", "{st}");
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
    let file = one_target(&env, "60s", "good", &good.url("http"));
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

/// `uca health watch` on a terminal draws a live table (colored) of every endpoint, and stops by
/// itself with --duration.
#[test]
fn health_watch_shows_a_live_table_on_a_terminal() {
    let env = TempCa::new();
    env.init_plain(&[]);
    // One endpoint that answers (a listener uca connects to) and one that refuses.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = free_port();
    std::fs::write(
        env.path("targets.toml"),
        format!(
            "[defaults]\ninterval = \"100ms\"\nwindow = \"2s\"\nmin_samples = 3\n\
             [[target]]\nname = \"up-tcp\"\nurl = \"tcp://127.0.0.1:{open}\"\n\
             [[target]]\nname = \"down-tcp\"\nurl = \"tcp://127.0.0.1:{closed}\"\n"
        ),
    )
    .unwrap();
    let listen = free_port();
    let (code, text) = on_terminal(
        &env,
        &format!("health watch targets.toml --listen 127.0.0.1:{listen} --duration 4s"),
        &[],
        &[],
    );
    drop(listener);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("STATUS") && text.contains("ENDPOINT"),
        "{text}"
    );
    assert!(
        text.contains("up-tcp") && text.contains("down-tcp"),
        "{text}"
    );
    assert!(text.contains("connection refused"), "{text}");
    // Colors on a terminal: Green and Red rows are painted.
    assert!(
        text.contains("\u{1b}[32mGreen") && text.contains("\u{1b}[31mRed"),
        "{text}"
    );
    assert!(text.contains("recent changes:"), "{text}");
}

/// A JSON color (`green`) in the form people read (`Green`).
fn title(color: &str) -> String {
    let mut c = color.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}
