//! `uca serve` under attack: slow and silent connections, slow headers, oversized bodies,
//! floods of garbage, badly signed JWSes and nonce requests, validation targets that hang or
//! stream without end, and account minting. Every attack is bounded (it stops by itself within
//! 15 s, its threads joined and its sockets closed) and judged on four things: what the attacker
//! got, that a legitimate lego order still completes meanwhile within
//! [`LEGIT_ORDER_LIMIT`] (measured), that the server's memory stays bounded (VmRSS and VmHWM
//! from /proc), and that the attack wrote nothing to the CA (ledger, ACME accounts and orders
//! compared before and after, apart from the legitimate order).
//!
//! A weakness found here is fixed in the server; its test stays as the regression test.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::abuse::*;
use crate::support::*;

/// Asserts that the server still answers, and that it never answered 5xx: its log has a line
/// per request, `IP TIME METHOD PATH STATUS acct=... order=... [problem=...] MS`.
fn assert_alive_and_no_500(lab: &AcmeLab) {
    let mut https = Https::connect(lab.server.port, &tls_config(&lab.ca_cert()))
        .expect("connect after the attack");
    let resp = https
        .request("GET", "/healthz", &[], None)
        .expect("GET /healthz");
    assert_eq!(resp.status, 200, "{}", resp.text());
    // The server logs a request before answering it; the test reads its stderr on a thread.
    let waited = Instant::now();
    while !lab.server.log().contains(" /healthz 200 ") && waited.elapsed() < Duration::from_secs(2)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = lab.server.log();
    let statuses: Vec<(u16, &str)> = log
        .lines()
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            let method = t.get(2)?;
            (method.bytes().all(|b| b.is_ascii_uppercase()) && t.get(3)?.starts_with('/'))
                .then_some(())?;
            Some((t.get(4)?.parse().ok()?, l))
        })
        .collect();
    assert!(
        statuses.iter().any(|(_, l)| l.contains(" /healthz 200 ")),
        "no request lines in the server log:\n{log}"
    );
    let errors: Vec<&str> = statuses
        .iter()
        .filter(|(s, _)| *s >= 500)
        .map(|(_, l)| *l)
        .take(5)
        .collect();
    assert!(
        errors.is_empty(),
        "the server answered 5xx:\n{}",
        errors.join("\n")
    );
}

/// Sleeps until `at`.
fn sleep_until(at: Instant) {
    if let Some(d) = at.checked_duration_since(Instant::now()) {
        std::thread::sleep(d);
    }
}

/// How many of `socks` the server has not closed.
fn count_open(socks: &mut [TcpStream]) -> usize {
    socks
        .iter_mut()
        .map(|s| usize::from(tcp_closed(s, Duration::ZERO).is_none()))
        .sum()
}

/// 250 TCP connections (under the per-address cap of 256, so lego from the same address still
/// gets in) that send nothing (half of them) or half a ClientHello (the other half) and hold
/// on. A lego order completes while they hold; the server closes every one of them at its TLS
/// handshake timeout (5 s), which the attacker sees as EOF or a reset.
#[test]
fn silent_and_half_hello_connections_are_closed_at_the_handshake_timeout() {
    const CONNECTIONS: usize = 250;
    let lab = AcmeLab::start(&[]);
    let config = tls_config(&lab.ca_cert());
    let hello = client_hello(&config);
    let before = CaState::of(&lab);
    let mem0 = Memory::of(lab.server.pid());

    let started = Instant::now();
    let mut socks: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|i| {
            let mut s = tcp_from(Ipv4Addr::LOCALHOST, lab.server.port).expect("connect");
            if i % 2 == 1 {
                s.write_all(&hello[..hello.len() / 2])
                    .expect("half a ClientHello");
            }
            s
        })
        .collect();
    let connected = started.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let open = count_open(&mut socks);
    assert_eq!(
        open, CONNECTIONS,
        "the attack did not hold before lego started"
    );

    let (took, serial) = timed_lego_http01(&lab, "slow-conn.test");
    let open_after_lego = count_open(&mut socks);

    // Watch them close: from 3 s after the first connect, every 100 ms, until 13 s after the
    // last.
    sleep_until(started + Duration::from_secs(3));
    let mut closed_at: Vec<Option<(Duration, String)>> = vec![None; CONNECTIONS];
    let watch_until = started + connected + Duration::from_secs(13);
    while Instant::now() < watch_until && closed_at.iter().any(Option::is_none) {
        for (s, at) in socks.iter_mut().zip(closed_at.iter_mut()) {
            if at.is_none()
                && let Some(how) = tcp_closed(s, Duration::ZERO)
            {
                *at = Some((started.elapsed(), how));
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(socks);
    let still_open = closed_at.iter().filter(|c| c.is_none()).count();
    let times: Vec<Duration> = closed_at.iter().flatten().map(|(t, _)| *t).collect();
    let hows: BTreeMap<String, usize> =
        closed_at
            .iter()
            .flatten()
            .fold(BTreeMap::new(), |mut m, (_, h)| {
                *m.entry(h.clone()).or_default() += 1;
                m
            });
    eprintln!(
        "{CONNECTIONS} connections made in {connected:?}; lego took {took:?}, {open_after_lego} still open after it; closed between {:?} and {:?} ({hows:?})",
        times.iter().min(),
        times.iter().max()
    );
    assert_eq!(
        still_open, 0,
        "{still_open} of {CONNECTIONS} silent or half-hello connections were still open 13 s after they connected (the last at {connected:?})"
    );

    Memory::assert_bounded(mem0, Memory::of(lab.server.pid()), "slow connections");
    before.assert_only(&CaState::of(&lab), &lab, &serial, true);
    assert_alive_and_no_500(&lab);
}

/// One slow-headers attacker connection: when its TLS handshake ended, and what became of it
/// (and when).
struct Slow {
    ready: Instant,
    /// When its first byte went out, from its handshake.
    first_byte: Option<Duration>,
    seen: Option<(Duration, String)>,
    sent: usize,
}

/// `n` connections that complete TLS, then send `request` `per_tick` bytes at a time, a tick
/// every `tick` (none when `per_tick` is 0), watching every 50 ms for the server to close them
/// or answer, until all are cut or the attack expires (not when the legitimate client is done).
fn trickle(
    lab: &AcmeLab,
    n: usize,
    request: &[u8],
    per_tick: usize,
    tick: Duration,
    established: &AtomicUsize,
    stop: &Stop,
) -> Vec<Slow> {
    let config = tls_config(&lab.ca_cert());
    let mut conns: Vec<(Https, Slow)> = (0..n)
        .map(|_| {
            let c = Https::connect(lab.server.port, &config).expect("TLS handshake");
            established.fetch_add(1, Ordering::SeqCst);
            (
                c,
                Slow {
                    ready: Instant::now(),
                    first_byte: None,
                    seen: None,
                    sent: 0,
                },
            )
        })
        .collect();
    let mut next_tick = Instant::now();
    while !stop.expired() && conns.iter().any(|(_, s)| s.seen.is_none()) {
        let send = per_tick > 0 && Instant::now() >= next_tick;
        if send {
            next_tick += tick;
        }
        for (c, s) in conns.iter_mut().filter(|(_, s)| s.seen.is_none()) {
            if send && s.sent < request.len() {
                let end = (s.sent + per_tick).min(request.len());
                if let Err(e) = c.send(&request[s.sent..end]) {
                    s.seen = Some((s.ready.elapsed(), format!("write: {}", e.kind())));
                    continue;
                }
                s.sent = end;
                s.first_byte.get_or_insert(s.ready.elapsed());
            }
            match c.peer(Duration::ZERO) {
                Peer::Open => {}
                Peer::Answered(text) => {
                    let first = text.lines().next().unwrap_or_default().to_string();
                    s.seen = Some((s.ready.elapsed(), format!("answered {first}")));
                }
                Peer::Closed(how) => s.seen = Some((s.ready.elapsed(), how)),
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    conns.into_iter().map(|(_, s)| s).collect()
}

/// Prints how trickled connections ended: how many were cut, when, how.
fn report_cut(what: &str, slow: &[Slow]) {
    let cut: Vec<&(Duration, String)> = slow.iter().filter_map(|s| s.seen.as_ref()).collect();
    let hows: BTreeMap<&str, usize> = cut.iter().fold(BTreeMap::new(), |mut m, (_, h)| {
        *m.entry(h.as_str()).or_default() += 1;
        m
    });
    eprintln!(
        "{what}: {} of {} cut, between {:?} and {:?} after their handshake ({hows:?}); first bytes {:?}..{:?} after it; bytes sent: {:?}..{:?}",
        cut.len(),
        slow.len(),
        cut.iter().map(|c| c.0).min(),
        cut.iter().map(|c| c.0).max(),
        slow.iter().filter_map(|s| s.first_byte).min(),
        slow.iter().filter_map(|s| s.first_byte).max(),
        slow.iter().map(|s| s.sent).min(),
        slow.iter().map(|s| s.sent).max(),
    );
}

/// Judges trickled connections: every one cut (closed, or answered) within `limit` of its
/// handshake.
fn assert_all_cut(what: &str, slow: &[Slow], limit: Duration) {
    report_cut(what, slow);
    let cut: Vec<&(Duration, String)> = slow.iter().filter_map(|s| s.seen.as_ref()).collect();
    assert_eq!(
        cut.len(),
        slow.len(),
        "{what}: connections the server never cut"
    );
    let late: Vec<_> = cut.iter().filter(|c| c.0 > limit).collect();
    assert!(
        late.is_empty(),
        "{what}: cut later than {limit:?}: {late:?}"
    );
}

/// The request a slow client trickles: a newAccount whose headers never end in time.
fn slow_request(port: u16) -> Vec<u8> {
    format!(
        "POST /acme/new-account HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/jose+json\r\nX-Slow: {}\r\n\r\n",
        "a".repeat(200)
    )
    .into_bytes()
}

/// 100 connections that complete TLS and then send a request's headers one byte a second.
/// hyper's header read timeout (10 s, after the first bytes tell HTTP/1.1 from HTTP/2) cuts
/// every one within 13 s of its handshake; lego gets its certificate meanwhile.
#[test]
fn slow_headers_are_cut_at_the_header_timeout() {
    let lab = AcmeLab::start(&[]);
    let before = CaState::of(&lab);
    let mem0 = Memory::of(lab.server.pid());
    let established = AtomicUsize::new(0);
    let request = slow_request(lab.server.port);
    let ((took, serial), results) = under_attack(
        1,
        ATTACK_LIMIT,
        |_, stop| {
            trickle(
                &lab,
                100,
                &request,
                1,
                Duration::from_secs(1),
                &established,
                stop,
            )
        },
        |stop| {
            while established.load(Ordering::SeqCst) < 100 && !stop.stopped() {
                std::thread::sleep(Duration::from_millis(20));
            }
            timed_lego_http01(&lab, "slow-headers.test")
        },
    );
    eprintln!("slow headers: lego took {took:?}");
    assert_all_cut("slow headers", &results[0], Duration::from_secs(13));
    Memory::assert_bounded(mem0, Memory::of(lab.server.pid()), "slow headers");
    before.assert_only(&CaState::of(&lab), &lab, &serial, true);
    assert_alive_and_no_500(&lab);
}

/// 100 connections that complete TLS and then send nothing at all, and 20 that trickle the
/// HTTP/2 connection preface (a byte every 2 s, never complete): the header read timeout
/// should cut them like slow headers, or each holds a connection slot (of 512) for ever.
#[test]
fn connections_silent_after_the_tls_handshake_are_cut() {
    let lab = AcmeLab::start(&[]);
    let mem0 = Memory::of(lab.server.pid());
    let established = AtomicUsize::new(0);
    let before = CaState::of(&lab);
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let ((took, serial), results) = under_attack(
        2,
        ATTACK_LIMIT,
        |i, stop| match i {
            0 => trickle(
                &lab,
                100,
                b"",
                0,
                Duration::from_secs(1),
                &established,
                stop,
            ),
            _ => trickle(
                &lab,
                20,
                &preface[..23],
                1,
                Duration::from_secs(2),
                &established,
                stop,
            ),
        },
        |stop| {
            while established.load(Ordering::SeqCst) < 120 && !stop.stopped() {
                std::thread::sleep(Duration::from_millis(20));
            }
            timed_lego_http01(&lab, "silent-tls.test")
        },
    );
    eprintln!("silent after TLS: lego took {took:?}");
    report_cut("HTTP/2 preface trickled", &results[1]);
    assert_all_cut("silent after TLS", &results[0], Duration::from_secs(13));
    assert_all_cut(
        "HTTP/2 preface trickled",
        &results[1],
        Duration::from_secs(13),
    );
    Memory::assert_bounded(mem0, Memory::of(lab.server.pid()), "silent after TLS");
    before.assert_only(&CaState::of(&lab), &lab, &serial, true);
}

/// 50 connections that send a complete newAccount head (Content-Length: 100) and then not a
/// byte of the body: the server should give up on them as it does on slow headers.
#[test]
fn a_body_that_never_comes_is_cut() {
    let lab = AcmeLab::start(&[]);
    let established = AtomicUsize::new(0);
    let before = CaState::of(&lab);
    let head = format!(
        "POST /acme/new-account HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/jose+json\r\nContent-Length: 100\r\n\r\n",
        lab.server.port
    )
    .into_bytes();
    let ((took, serial), results) = under_attack(
        1,
        ATTACK_LIMIT,
        |_, stop| {
            trickle(
                &lab,
                50,
                &head,
                head.len(),
                Duration::from_secs(1),
                &established,
                stop,
            )
        },
        |stop| {
            while established.load(Ordering::SeqCst) < 50 && !stop.stopped() {
                std::thread::sleep(Duration::from_millis(20));
            }
            timed_lego_http01(&lab, "no-body.test")
        },
    );
    eprintln!("bodies that never come: lego took {took:?}");
    assert_all_cut(
        "bodies that never come",
        &results[0],
        Duration::from_secs(13),
    );
    before.assert_only(&CaState::of(&lab), &lab, &serial, true);
}

/// As many connections as the server serves at once (512), each through TLS and then silent,
/// held while lego tries to order: new clients should not wait on idle ones.
#[test]
fn idle_connections_do_not_lock_out_new_clients() {
    const CONNECTIONS: usize = 512;
    let lab = AcmeLab::start(&[]);
    let done = AtomicUsize::new(0);
    let before = CaState::of(&lab);
    let ((took, serial), held) = under_attack(
        1,
        ATTACK_LIMIT,
        |_, stop| {
            // Another host: one address may hold at most 256 connections, the rest are closed.
            let config = tls_config(&lab.ca_cert());
            let attacker = Ipv4Addr::new(127, 0, 0, 2);
            let mut conns = Vec::new();
            let mut refused = 0;
            while conns.len() + refused < CONNECTIONS && !stop.stopped() {
                match Https::connect_from(attacker, lab.server.port, &config) {
                    Ok(c) => conns.push(c),
                    Err(_) => refused += 1,
                }
            }
            done.store(1, Ordering::SeqCst);
            while !stop.stopped() {
                std::thread::sleep(Duration::from_millis(20));
            }
            (conns.len(), refused)
        },
        |stop| {
            while done.load(Ordering::SeqCst) == 0 && !stop.stopped() {
                std::thread::sleep(Duration::from_millis(20));
            }
            timed_lego_http01(&lab, "locked-out.test")
        },
    );
    let (kept, refused) = held[0];
    eprintln!("{kept} idle connections held, {refused} refused; lego took {took:?}");
    assert!(kept <= 256, "one address held {kept} connections");
    assert!(refused > 0, "the per-address cap refused nothing");
    before.assert_only(&CaState::of(&lab), &lab, &serial, true);
}

/// What a client trickling a body got: how long after its head the server answered, and what.
struct Trickled {
    answer: Option<(Duration, Result<Response, String>)>,
    sent: usize,
}

/// 20 clients POST newAccount declaring Content-Length: 10000000 and trickle the body (a byte
/// every 200 ms): each gets a 413 problem document (malformed) within 2 s, without the server
/// waiting for the body; lego orders meanwhile.
#[test]
fn a_declared_oversized_body_is_refused_before_it_is_read() {
    const CONNECTIONS: usize = 20;
    let lab = AcmeLab::start(&[]);
    let before = CaState::of(&lab);
    let mem0 = Memory::of(lab.server.pid());
    let established = AtomicUsize::new(0);
    let ((took, serial), results) = under_attack(
        1,
        ATTACK_LIMIT,
        |_, stop| {
            let config = tls_config(&lab.ca_cert());
            let mut conns: Vec<(Https, Instant, Trickled)> = (0..CONNECTIONS)
                .map(|_| {
                    let mut c = Https::connect(lab.server.port, &config).expect("TLS handshake");
                    let mut req = c.head(
                        "POST",
                        "/acme/new-account",
                        &[
                            ("Content-Type", "application/jose+json"),
                            ("Content-Length", "10000000"),
                        ],
                    );
                    req.extend_from_slice(b"{\"protected\":\"");
                    c.send(&req).expect("send the head");
                    established.fetch_add(1, Ordering::SeqCst);
                    (
                        c,
                        Instant::now(),
                        Trickled {
                            answer: None,
                            sent: 14,
                        },
                    )
                })
                .collect();
            let mut next_tick = Instant::now();
            while !stop.expired() && conns.iter().any(|(_, _, t)| t.answer.is_none()) {
                let tick = Instant::now() >= next_tick;
                if tick {
                    next_tick += Duration::from_millis(200);
                }
                for (c, at, t) in conns.iter_mut().filter(|(_, _, t)| t.answer.is_none()) {
                    if tick {
                        if let Err(e) = c.send(b"A") {
                            t.answer = Some((at.elapsed(), Err(format!("write: {e}"))));
                            continue;
                        }
                        t.sent += 1;
                    }
                    match c.peer(Duration::ZERO) {
                        Peer::Open => {}
                        Peer::Answered(_) => {
                            let resp = c.response(false).map_err(|e| e.to_string());
                            t.answer = Some((at.elapsed(), resp));
                        }
                        Peer::Closed(how) => {
                            t.answer = Some((at.elapsed(), Err(format!("closed: {how}"))));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            conns.into_iter().map(|(_, _, t)| t).collect::<Vec<_>>()
        },
        |stop| {
            while established.load(Ordering::SeqCst) < CONNECTIONS && !stop.stopped() {
                std::thread::sleep(Duration::from_millis(20));
            }
            timed_lego_http01(&lab, "big-body.test")
        },
    );
    eprintln!("declared oversized bodies: lego took {took:?}");
    let results = &results[0];
    let unanswered = results.iter().filter(|t| t.answer.is_none()).count();
    let max_sent = results.iter().map(|t| t.sent).max();
    assert_eq!(
        unanswered, 0,
        "{unanswered} of {CONNECTIONS} clients declaring a 10 MB body got no answer within the attack ({max_sent:?} body bytes sent)"
    );
    for t in results {
        let (after, resp) = t.answer.as_ref().expect("answered");
        let resp = resp
            .as_ref()
            .unwrap_or_else(|e| panic!("no 413 after {after:?}: {e}"));
        resp.assert_problem(413, "malformed");
        assert!(
            *after < Duration::from_secs(2),
            "the 413 came {after:?} after the head ({} body bytes sent)",
            t.sent
        );
    }
    Memory::assert_bounded(
        mem0,
        Memory::of(lab.server.pid()),
        "declared oversized bodies",
    );
    before.assert_only(&CaState::of(&lab), &lab, &serial, true);
    assert_alive_and_no_500(&lab);
}

/// Three clients POST newAccount with 1 MiB chunked bodies (16 KiB chunks, as fast as the socket
/// takes them, never the final empty chunk) over and over for 3 s: each gets a 413 problem
/// document (malformed) within 2 s, so the server refused the body without waiting for its end;
/// lego orders meanwhile.
#[test]
fn chunked_bodies_past_64_kib_get_413() {
    let lab = AcmeLab::start(&[]);
    let before = CaState::of(&lab);
    let mem0 = Memory::of(lab.server.pid());
    let chunk = format!("4000\r\n{}\r\n", "A".repeat(0x4000)).into_bytes();
    let ((took, serial), results) = under_attack(
        3,
        Duration::from_secs(10),
        |_, stop| {
            let config = tls_config(&lab.ca_cert());
            let mut tries: Vec<(Duration, usize, Result<Response, String>)> = Vec::new();
            while !stop.stopped() {
                let mut c = Https::connect(lab.server.port, &config).expect("TLS handshake");
                let head = c.head(
                    "POST",
                    "/acme/new-account",
                    &[
                        ("Content-Type", "application/jose+json"),
                        ("Transfer-Encoding", "chunked"),
                    ],
                );
                let started = Instant::now();
                c.send(&head).expect("send the head");
                let mut sent = 0;
                while sent < 1 << 20 {
                    if c.send(&chunk).is_err() {
                        break;
                    }
                    sent += 0x4000;
                    if c.peer(Duration::ZERO) != Peer::Open {
                        break;
                    }
                }
                // Never the last chunk: a server that waited for the whole body would not answer.
                let _ = c.tls.sock.set_read_timeout(Some(Duration::from_secs(2)));
                let resp = c.response(false).map_err(|e| e.to_string());
                tries.push((started.elapsed(), sent, resp));
            }
            tries
        },
        |stop| {
            stop.sleep(Duration::from_millis(300));
            let r = timed_lego_http01(&lab, "chunked.test");
            sleep_until(stop.started + Duration::from_secs(3));
            r
        },
    );
    let tries: Vec<_> = results.into_iter().flatten().collect();
    eprintln!(
        "chunked 1 MiB bodies: {} tries, {:?}..{:?} bytes written (into the socket) before the answer, answered within {:?}; lego took {took:?}",
        tries.len(),
        tries.iter().map(|t| t.1).min(),
        tries.iter().map(|t| t.1).max(),
        tries.iter().map(|t| t.0).max()
    );
    assert!(tries.len() >= 3, "only {} tries", tries.len());
    for (after, sent, resp) in &tries {
        let resp = resp
            .as_ref()
            .unwrap_or_else(|e| panic!("no answer after {sent} bytes: {e}"));
        resp.assert_problem(413, "malformed");
        assert!(
            *after < Duration::from_secs(2),
            "the 413 came after {after:?} ({sent} bytes sent)"
        );
    }
    Memory::assert_bounded(mem0, Memory::of(lab.server.pid()), "chunked bodies");
    before.assert_only(&CaState::of(&lab), &lab, &serial, true);
    assert_alive_and_no_500(&lab);
}

/// The flood's kinds of garbage: name, and the status and ACME problem type each must get.
const GARBAGE: &[(&str, u16, &str)] = &[
    ("random bytes", 400, "malformed"),
    ("truncated JSON", 400, "malformed"),
    ("deeply nested JSON", 400, "malformed"),
    ("bad signature", 400, "malformed"),
    ("alg none", 400, "badSignatureAlgorithm"),
    ("unknown nonce", 400, "badNonce"),
    ("unknown account", 400, "accountDoesNotExist"),
    ("url of another resource", 403, "unauthorized"),
    ("onlyReturnExisting", 400, "accountDoesNotExist"),
    ("jwk where a kid is required", 400, "malformed"),
    ("wrong content type", 415, "malformed"),
    ("GET on a POST resource", 405, "malformed"),
    ("unknown path", 404, "malformed"),
];

/// xorshift64: the flood's bytes, reproducible per thread.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// The request of garbage kind `k` (an index into [`GARBAGE`]) with a fresh `nonce`:
/// (method, path, Content-Type, body).
fn garbage(
    k: usize,
    key: &JwsKey,
    nonce: &str,
    base: &str,
    rng: &mut u64,
) -> (&'static str, String, Option<&'static str>, Vec<u8>) {
    const JOSE: Option<&str> = Some("application/jose+json");
    let new_account = format!("{base}/acme/new-account");
    let protected =
        |url: &str| json!({"alg": "EdDSA", "nonce": nonce, "url": url, "jwk": key.jwk()});
    let terms = json!({"termsOfServiceAgreed": true}).to_string();
    let signed = |p: &Value, payload: &str| key.sign(p, payload).to_string().into_bytes();
    let post = |body: Vec<u8>| ("POST", "/acme/new-account".to_string(), JOSE, body);
    match GARBAGE[k].0 {
        "random bytes" => {
            let len = (xorshift(rng) % 2000 + 1) as usize;
            post((0..len).map(|_| xorshift(rng) as u8).collect())
        }
        "truncated JSON" => {
            let mut body = signed(&protected(&new_account), &terms);
            let cut = (xorshift(rng) as usize) % (body.len() - 1) + 1;
            body.truncate(cut);
            post(body)
        }
        "deeply nested JSON" => {
            post(format!("{}{}", "[".repeat(30_000), "]".repeat(30_000)).into_bytes())
        }
        "bad signature" => {
            let mut jws = key.sign(&protected(&new_account), &terms);
            let sig = jws["signature"].as_str().expect("signature").to_string();
            let flipped = if sig.starts_with('A') { "B" } else { "A" };
            jws["signature"] = json!(format!("{flipped}{}", &sig[1..]));
            post(jws.to_string().into_bytes())
        }
        "alg none" => {
            let mut p = protected(&new_account);
            p["alg"] = json!("none");
            let mut jws = key.sign(&p, &terms);
            jws["signature"] = json!("");
            post(jws.to_string().into_bytes())
        }
        "unknown nonce" => {
            let mut p = protected(&new_account);
            p["nonce"] = json!(b64(xorshift(rng).to_be_bytes().repeat(2)));
            post(signed(&p, &terms))
        }
        "unknown account" => {
            let url = format!("{base}/acme/new-order");
            let p = json!({"alg": "EdDSA", "nonce": nonce, "url": url, "kid": format!("{base}/acme/acct/nobody{}", xorshift(rng))});
            let order =
                json!({"identifiers": [{"type": "dns", "value": "flood.test"}]}).to_string();
            ("POST", "/acme/new-order".into(), JOSE, signed(&p, &order))
        }
        "url of another resource" => post(signed(
            &protected(&format!("{base}/acme/new-order")),
            &terms,
        )),
        "onlyReturnExisting" => post(signed(
            &protected(&new_account),
            &json!({"onlyReturnExisting": true}).to_string(),
        )),
        "jwk where a kid is required" => {
            let order =
                json!({"identifiers": [{"type": "dns", "value": "flood.test"}]}).to_string();
            let body = signed(&protected(&format!("{base}/acme/new-order")), &order);
            ("POST", "/acme/new-order".into(), JOSE, body)
        }
        "wrong content type" => {
            let body = signed(&protected(&new_account), &terms);
            (
                "POST",
                "/acme/new-account".into(),
                Some("application/json"),
                body,
            )
        }
        "GET on a POST resource" => ("GET", "/acme/new-order".into(), None, Vec::new()),
        "unknown path" => (
            "POST",
            format!("/acme/nothing-{}", xorshift(rng) % 1000),
            JOSE,
            b"{}".to_vec(),
        ),
        other => unreachable!("{other}"),
    }
}

/// What one flooding thread saw.
#[derive(Default)]
struct Flood {
    /// Answers per kind of garbage.
    answered: Vec<usize>,
    /// Answers that were not the expected problem (the first 20).
    wrong: Vec<String>,
    /// Requests that got no answer at all (the first 20), and how many.
    transport: Vec<String>,
    lost: usize,
}

/// Four keep-alive clients send garbage for 5 s: random bytes, truncated and deeply nested
/// JSON, JWSes with bad signatures, alg none, unknown nonces, unknown accounts, the URL of
/// another resource, onlyReturnExisting, a jwk where a kid is required, the wrong content type,
/// GET on a POST resource, unknown paths. Every request gets the problem document its kind
/// deserves (never a 500), the server stays up, lego orders meanwhile, and no account, order or
/// certificate appears but lego's.
#[test]
fn a_flood_of_garbage_and_badly_signed_requests_gets_problem_documents() {
    let lab = AcmeLab::start(&[]);
    let before = CaState::of(&lab);
    let mem0 = Memory::of(lab.server.pid());
    let base = format!("https://127.0.0.1:{}", lab.server.port);
    let ((took, serial), floods) = under_attack(
        4,
        Duration::from_secs(10),
        |i, stop| {
            let config = tls_config(&lab.ca_cert());
            let key = JwsKey::new();
            let mut rng = 0x9E37_79B9_7F4A_7C15_u64 ^ (i as u64 + 1);
            let mut f = Flood {
                answered: vec![0; GARBAGE.len()],
                ..Flood::default()
            };
            let mut https = Https::connect(lab.server.port, &config).expect("connect");
            let mut nonce: Option<String> = None;
            let mut n = i;
            while !stop.stopped() {
                let k = n % GARBAGE.len();
                n += 1;
                let fresh = match nonce.take() {
                    Some(x) => x,
                    None => match https.request("HEAD", "/acme/new-nonce", &[], None) {
                        Ok(r) => r.header("replay-nonce").unwrap_or_default().to_string(),
                        Err(e) => {
                            f.lost += 1;
                            f.transport.push(format!("HEAD new-nonce: {e}"));
                            https = Https::connect(lab.server.port, &config).expect("reconnect");
                            continue;
                        }
                    },
                };
                let (method, path, ct, body) = garbage(k, &key, &fresh, &base, &mut rng);
                let headers: Vec<(&str, &str)> =
                    ct.map(|c| ("Content-Type", c)).into_iter().collect();
                let body = (method != "GET").then_some(&body[..]);
                let (name, status, kind) = GARBAGE[k];
                match https.request(method, &path, &headers, body) {
                    Ok(resp) => {
                        nonce = resp.header("replay-nonce").map(str::to_string);
                        f.answered[k] += 1;
                        let got = resp.problem_type();
                        if (resp.status, got.as_deref()) != (status, Ok(kind)) && f.wrong.len() < 20
                        {
                            f.wrong.push(format!("{name}: {got:?}: {}", resp.text()));
                        }
                    }
                    Err(e) => {
                        f.lost += 1;
                        if f.transport.len() < 20 {
                            f.transport.push(format!("{name}: {e}"));
                        }
                        https = Https::connect(lab.server.port, &config).expect("reconnect");
                    }
                }
            }
            f
        },
        |stop| {
            stop.sleep(Duration::from_millis(500));
            let r = timed_lego_http01(&lab, "flood.test");
            sleep_until(stop.started + Duration::from_secs(5));
            r
        },
    );
    let mem1 = Memory::of(lab.server.pid());
    let per_kind: Vec<(&str, usize)> = GARBAGE
        .iter()
        .enumerate()
        .map(|(k, g)| (g.0, floods.iter().map(|f| f.answered[k]).sum()))
        .collect();
    let total: usize = per_kind.iter().map(|p| p.1).sum();
    eprintln!("garbage flood: {total} answers in 5 s {per_kind:?}; lego took {took:?}");
    let wrong: Vec<&String> = floods.iter().flat_map(|f| &f.wrong).collect();
    assert!(
        wrong.is_empty(),
        "answers other than the expected problem:\n{wrong:#?}"
    );
    let lost: usize = floods.iter().map(|f| f.lost).sum();
    let transport: Vec<&String> = floods.iter().flat_map(|f| &f.transport).collect();
    assert_eq!(lost, 0, "requests without an answer: {transport:#?}");
    assert!(total >= 2000, "only {total} requests answered in 5 s");
    for (name, count) in &per_kind {
        assert!(*count > 0, "no '{name}' was answered");
    }
    Memory::assert_bounded(mem0, mem1, "garbage flood");
    before.assert_only(&CaState::of(&lab), &lab, &serial, true);
    assert_alive_and_no_500(&lab);
}

/// Four keep-alive clients pipeline HEAD /acme/new-nonce (50 at a time) for 3 s: every answer
/// is 200 with a fresh nonce (43 base64url characters: issue time, counter, MAC, none seen twice), lego orders
/// meanwhile, and the server's memory stays bounded (issuing a nonce stores nothing; only redeemed ones are remembered).
#[test]
fn a_new_nonce_flood_gets_fresh_nonces_in_bounded_memory() {
    const BATCH: usize = 50;
    let lab = AcmeLab::start(&[]);
    let before = CaState::of(&lab);
    let mem0 = Memory::of(lab.server.pid());
    let ((took, serial), results) = under_attack(
        4,
        Duration::from_secs(10),
        |_, stop| {
            let config = tls_config(&lab.ca_cert());
            let mut https = Https::connect(lab.server.port, &config).expect("connect");
            let one = https.head("HEAD", "/acme/new-nonce", &[]);
            let batch = one.repeat(BATCH);
            let mut nonces: Vec<String> = Vec::new();
            let mut bad: Vec<String> = Vec::new();
            while !stop.stopped() && bad.len() < 20 {
                if let Err(e) = https.send(&batch) {
                    bad.push(format!("send: {e}"));
                    break;
                }
                for _ in 0..BATCH {
                    match https.response(true) {
                        Ok(r) => match r.header("replay-nonce") {
                            Some(n)
                                if r.status == 200
                                    && n.len() == 43
                                    && n.bytes().all(|b| {
                                        b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
                                    }) =>
                            {
                                nonces.push(n.to_string())
                            }
                            _ => bad.push(r.text()),
                        },
                        Err(e) => {
                            bad.push(format!("read: {e}"));
                            break;
                        }
                    }
                }
            }
            (nonces, bad)
        },
        |stop| {
            stop.sleep(Duration::from_millis(300));
            let r = timed_lego_http01(&lab, "nonce-flood.test");
            sleep_until(stop.started + Duration::from_secs(3));
            r
        },
    );
    let mem1 = Memory::of(lab.server.pid());
    let bad: Vec<&String> = results.iter().flat_map(|r| &r.1).collect();
    assert!(
        bad.is_empty(),
        "newNonce answers without a fresh nonce: {bad:#?}"
    );
    let all: Vec<&String> = results.iter().flat_map(|r| &r.0).collect();
    let unique: std::collections::HashSet<&&String> = all.iter().collect();
    eprintln!(
        "nonce flood: {} nonces in 3 s; lego took {took:?}",
        all.len()
    );
    assert_eq!(unique.len(), all.len(), "a nonce was handed out twice");
    assert!(all.len() >= 3000, "only {} nonces in 3 s", all.len());
    Memory::assert_bounded(mem0, mem1, "nonce flood");
    before.assert_only(&CaState::of(&lab), &lab, &serial, true);
    assert_alive_and_no_500(&lab);
}

/// What a hostile http-01 target did with one connection.
#[derive(Debug, Clone)]
struct Visit {
    host: String,
    /// "hung" (never answered), "streamed" (an endless body), "served" (from the webroot).
    role: &'static str,
    /// Body bytes written.
    bytes: usize,
    /// How it ended: "closed by the validator: ...", or "still ... when the attack ended".
    end: String,
    /// When it ended, from the start of the attack.
    at: Duration,
}

/// An http-01 target on `listener` for every name: `hang.*` reads the request and never
/// answers, `stream.*` answers 200 and streams a body without end, anything else is served from
/// `webroot` (where lego puts its answers). Each connection on its own thread; all return once
/// the attack stops.
fn hostile_target(listener: &TcpListener, webroot: &Path, stop: &Stop) -> Vec<Visit> {
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let visits = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        while !stop.stopped() {
            match listener.accept() {
                Ok((sock, _)) => {
                    let visits = &visits;
                    s.spawn(move || {
                        if let Some(v) = visit(sock, webroot, stop) {
                            visits.lock().unwrap().push(v);
                        }
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    });
    visits.into_inner().unwrap()
}

/// One connection to [`hostile_target`].
fn visit(mut sock: TcpStream, webroot: &Path, stop: &Stop) -> Option<Visit> {
    use std::io::Read;
    sock.set_nonblocking(false).ok()?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .ok()?;
    sock.set_write_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if stop.stopped() {
            return None;
        }
        match sock.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return None,
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let host = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("Host: ")
                .or_else(|| l.strip_prefix("host: "))
        })
        .unwrap_or_default()
        .trim()
        .to_string();
    let ended = |role, bytes, end: String| {
        Some(Visit {
            host: host.clone(),
            role,
            bytes,
            end,
            at: stop.started.elapsed(),
        })
    };
    if host.starts_with("hang.") {
        loop {
            if stop.stopped() {
                return ended("hung", 0, "still hanging when the attack ended".into());
            }
            match sock.read(&mut buf) {
                Ok(0) => return ended("hung", 0, "closed by the validator: EOF".into()),
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => {
                    return ended("hung", 0, format!("closed by the validator: {}", e.kind()));
                }
            }
        }
    } else if host.starts_with("stream.") {
        let chunk = vec![b'x'; 64 * 1024];
        let mut bytes = 0;
        if sock
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
            .is_err()
        {
            return ended("streamed", 0, "closed before the head".into());
        }
        loop {
            if stop.stopped() {
                return ended(
                    "streamed",
                    bytes,
                    "still streaming when the attack ended".into(),
                );
            }
            match sock.write(&chunk) {
                Ok(n) => bytes += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => {
                    return ended(
                        "streamed",
                        bytes,
                        format!("closed by the validator: {}", e.kind()),
                    );
                }
            }
        }
    } else {
        let file = webroot.join(path.trim_start_matches('/'));
        let resp = match std::fs::read(&file) {
            Ok(body) if path.starts_with("/.well-known/acme-challenge/") => {
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend_from_slice(&body);
                r
            }
            _ => {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            }
        };
        let _ = sock.write_all(&resp);
        ended("served", resp.len(), "answered".into())
    }
}

/// An account and an order for `name` by the bare client: (the client, the http-01 challenge URL).
fn order_for(lab: &AcmeLab, name: &str) -> (Wire, String) {
    let mut wire = Wire::new(lab);
    let resp = wire.new_account();
    assert_eq!(resp.status, 201, "newAccount: {}", resp.text());
    let (_, order) = wire.new_order(&[name]);
    let authz = order["authorizations"][0]
        .as_str()
        .expect("authorization URL")
        .to_string();
    let (challenge, _token) = wire.http01(&authz);
    (wire, challenge)
}

/// What the test's threads did: the hostile target's visits, or a challenge POST's answer.
enum Role {
    Target(Vec<Visit>),
    Challenge(String, Duration, Response),
}

/// Two orders whose http-01 target is hostile (the bare client asks for validation and serves
/// nothing itself; the target on the http-01 port does the rest): `hang.*` accepts and never
/// answers, `stream.*` streams a body without end. Each challenge POST returns with the
/// challenge invalid, the hanging one at the validation timeout (10 s, a `connection` error)
/// and the streaming one at once (the body cut at 1 KiB is not the key authorization:
/// `unauthorized`); the validator hangs up on both, the stream stops there, the server's memory
/// does not grow with it, and lego (answering through the same target's webroot) gets its
/// certificate meanwhile.
#[test]
fn hanging_and_endless_http01_targets_fail_validation_in_bounded_time() {
    let lab = AcmeLab::start(&[]);
    let webroot = lab.path("webroot");
    std::fs::create_dir_all(webroot.join(".well-known/acme-challenge")).unwrap();
    let listener = TcpListener::bind(("127.0.0.1", lab.http01)).expect("bind the http-01 port");
    let clients: Vec<Mutex<Option<(String, Wire, String)>>> =
        ["hang.hostile.test", "stream.hostile.test"]
            .into_iter()
            .map(|name| {
                let (wire, challenge) = order_for(&lab, name);
                Mutex::new(Some((name.to_string(), wire, challenge)))
            })
            .collect();
    let before = CaState::of(&lab);
    let mem0 = Memory::of(lab.server.pid());
    let answered = AtomicUsize::new(0);
    let ((took, serial), roles) = under_attack(
        3,
        ATTACK_LIMIT,
        |i, stop| {
            if i == 0 {
                return Role::Target(hostile_target(&listener, &webroot, stop));
            }
            let (name, mut wire, challenge) =
                clients[i - 1].lock().unwrap().take().expect("client");
            let started = Instant::now();
            let resp = wire.post(&challenge, Some(&json!({})));
            let took = started.elapsed();
            answered.fetch_add(1, Ordering::SeqCst);
            Role::Challenge(name, took, resp)
        },
        |stop| {
            stop.sleep(Duration::from_millis(300));
            let r = timed_lego(
                &lab,
                "lego",
                "legit.hostile.test",
                &["--http", "--http.webroot", webroot.utf8()],
            );
            while answered.load(Ordering::SeqCst) < 2 && !stop.expired() {
                std::thread::sleep(Duration::from_millis(20));
            }
            // Give the target a moment to see the validator hang up.
            std::thread::sleep(Duration::from_millis(500));
            r
        },
    );
    let mem1 = Memory::of(lab.server.pid());
    let mut visits = Vec::new();
    let mut challenges = BTreeMap::new();
    for role in roles {
        match role {
            Role::Target(v) => visits = v,
            Role::Challenge(name, took, resp) => {
                challenges.insert(name, (took, resp));
            }
        }
    }
    eprintln!("hostile targets: lego took {took:?}; visits: {visits:#?}");
    for (name, (took, resp)) in &challenges {
        eprintln!(
            "challenge of {name}: answered after {took:?}: {}",
            resp.text()
        );
    }

    let judge = |name: &str, kind: &str, limit: Duration| -> Duration {
        let (took, resp) = &challenges[name];
        assert_eq!(resp.status, 200, "{name}: {}", resp.text());
        let ch = resp.json();
        assert_eq!(ch["status"], "invalid", "{name}: {ch:#}");
        assert_eq!(
            ch["error"]["type"],
            format!("urn:ietf:params:acme:error:{kind}"),
            "{name}: {ch:#}"
        );
        assert!(*took < limit, "{name}: the challenge POST took {took:?}");
        *took
    };
    let hang_took = judge("hang.hostile.test", "connection", Duration::from_secs(12));
    let stream_took = judge(
        "stream.hostile.test",
        "unauthorized",
        Duration::from_secs(3),
    );

    let role_of =
        |role: &str| -> Vec<&Visit> { visits.iter().filter(|v| v.role == role).collect() };
    let hung = role_of("hung");
    assert!(
        !hung.is_empty(),
        "the validator never reached the hanging target: {visits:#?}"
    );
    for v in &hung {
        assert!(v.host.starts_with("hang.hostile.test"), "{v:?}");
        assert!(
            v.end.starts_with("closed by the validator"),
            "the validator did not hang up: {v:?}"
        );
        assert!(
            v.at < hang_took + Duration::from_secs(1),
            "the validator hung up on the hanging target only {:?} after the start, its answer came after {hang_took:?}",
            v.at
        );
    }
    assert!(
        hang_took >= Duration::from_secs(9),
        "the hanging target failed before the timeout ({hang_took:?}): was it reached?"
    );
    let streamed = role_of("streamed");
    assert!(
        !streamed.is_empty(),
        "the validator never reached the streaming target: {visits:#?}"
    );
    for v in &streamed {
        assert!(
            v.end.starts_with("closed by the validator"),
            "the stream was not cut: {v:?}"
        );
        assert!(
            v.bytes < 64 << 20,
            "the validator took {} bytes of the stream before hanging up",
            v.bytes
        );
    }
    eprintln!("hang answered after {hang_took:?}, stream after {stream_took:?}");
    Memory::assert_bounded(mem0, mem1, "hostile http-01 targets");
    before.assert_only(&CaState::of(&lab), &lab, &serial, true);
    assert_alive_and_no_500(&lab);
}

/// With `[acme] new_accounts_per_ip = "5/1h"`, a client minting accounts with fresh keys from
/// 127.0.0.2 (python3-acme, then the bare client to see the headers) gets 5, then `rateLimited`
/// (429) with a Retry-After, and keeps getting it while it goes on; the CA holds exactly its 5
/// accounts; lego, from 127.0.0.1, registers and orders meanwhile.
#[test]
fn account_minting_is_rate_limited_per_source_address() {
    const MINTER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
    let env = TempCa::new();
    env.init_plain(&["--name", "ACME Test Root"]);
    let config = env.ca_dir().join("uca.toml");
    let mut text = read_text(&config);
    text.push_str("\n[acme]\nnew_accounts_per_ip = \"5/1h\"\n");
    write(&config, text.as_bytes());
    let lab = AcmeLab::start_on(env, &[]);
    let minter = MINTER.to_string();

    let mut minted: Vec<String> = (0..5)
        .map(|i| {
            let url = lab
                .register_without_eab_from(Some(&minter))
                .unwrap_or_else(|p| panic!("account {} of 5 refused: {p:#}", i + 1));
            url.rsplit('/').next().unwrap_or_default().to_string()
        })
        .collect();
    for _ in 0..3 {
        let resp = Wire::new_from(&lab, MINTER).new_account();
        resp.assert_problem(429, "rateLimited");
        let retry: u64 = resp
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("429 without a Retry-After in seconds: {}", resp.text()));
        assert!((1..=3600).contains(&retry), "Retry-After: {retry}");
    }
    let problem = lab
        .register_without_eab_from(Some(&minter))
        .expect_err("python3-acme registered a 6th account");
    assert_eq!(
        problem["type"], "urn:ietf:params:acme:error:rateLimited",
        "{problem:#}"
    );
    let state = CaState::of(&lab);
    let mut ids: Vec<&str> = state
        .accounts
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    ids.sort_unstable();
    minted.sort();
    assert_eq!(ids, minted, "the accounts in the CA are not the 5 minted");

    let mem0 = Memory::of(lab.server.pid());
    let ((took, serial), refused) = under_attack(
        1,
        Duration::from_secs(10),
        |_, stop| {
            let mut statuses = Vec::new();
            while !stop.stopped() && statuses.len() < 200 {
                statuses.push(Wire::new_from(&lab, MINTER).new_account().status);
                std::thread::sleep(Duration::from_millis(20));
            }
            statuses
        },
        |stop| {
            stop.sleep(Duration::from_millis(300));
            let r = timed_lego_http01(&lab, "after-minting.test");
            sleep_until(stop.started + Duration::from_secs(1));
            r
        },
    );
    eprintln!(
        "account minting: {:?} while lego ran ({took:?})",
        refused[0].len()
    );
    assert!(!refused[0].is_empty());
    assert!(
        refused[0].iter().all(|s| *s == 429),
        "the minter got {:?}",
        refused[0]
    );
    Memory::assert_bounded(mem0, Memory::of(lab.server.pid()), "account minting");
    state.assert_only(&CaState::of(&lab), &lab, &serial, true);
    assert_alive_and_no_500(&lab);
}
