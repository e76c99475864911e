//! High availability, judged by failures: two `uca serve` replicas behind HAProxy, over a
//! PostgreSQL ledger run by Patroni (etcd, two nodes, synchronous mode, HAProxy on `/primary`),
//! while ACME clients (the instant-acme load generator and lego) order certificates through both
//! replicas. A replica is killed, the database leader is killed, the new leader is frozen and
//! thawed; every certificate a client received must be in the ledger afterwards, once.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::patroni::Patroni;
use crate::support::postgres::Forwarder;
use crate::support::*;

/// Stops the client loops when the test ends, passed or not.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// lego orders `domain` again and again through `directory` until `stop`; the serials of the
/// certificates it received, and when.
fn lego_loop(
    lab: &AcmeLab,
    directory: String,
    domain: &str,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<(Instant, String)>> {
    let ca = lab.ca_cert();
    let cwd = lab.env.tmp.path().to_path_buf();
    let state = lab.path(&format!("lego-{domain}"));
    // The load generator answers http-01 on the lab's port: lego proves itself by tls-alpn-01.
    let tls = format!("127.0.0.1:{}", lab.tlsalpn01);
    let domain = domain.to_string();
    std::thread::spawn(move || {
        let mut got = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            let mut c = client_cmd("lego", &cwd);
            c.env("LEGO_CA_CERTIFICATES", &ca)
                .args(["--server", &directory, "--accept-tos"])
                .args(["--email", "ops@example.test", "--path", state.utf8()])
                .args(["--domains", &domain, "--tls", "--tls.port", &tls, "run"]);
            let out = finish(c, "lego", Duration::from_secs(90));
            if out.status.success() {
                let cert = state.join("certificates").join(format!("{domain}.crt"));
                got.push((Instant::now(), serial_of(&cert).to_lowercase()));
            } else {
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        got
    })
}

/// The ledger's view of `serials`: how many are recorded as issued ACME certificates.
fn recorded(cluster: &Patroni, serials: &[String]) -> usize {
    if serials.is_empty() {
        return 0;
    }
    let list: Vec<String> = serials.iter().map(|s| format!("'{s}'")).collect();
    cluster
        .sql(&format!(
            "SELECT count(DISTINCT serial) FROM certificates WHERE source = 'acme' AND status = 'issued' \
             AND serial IN ({})",
            list.join(",")
        ))
        .parse()
        .expect("count")
}

fn crl_number(cluster: &Patroni) -> u64 {
    cluster
        .sql("SELECT value FROM meta WHERE key = 'crl_number'")
        .parse()
        .unwrap_or(0)
}

#[test]
fn replicas_survive_a_replica_kill_a_leader_kill_and_a_frozen_primary_losing_nothing() {
    let mut cluster = Patroni::start();
    let url = cluster.url();
    let env = TempCa::new();
    env.uca()
        .args([
            "--ledger",
            &url,
            "init",
            "--no-passphrase",
            "--name",
            "HA Root",
        ])
        .assert()
        .success();
    let config = env.ca_dir().join("uca.toml");
    let mut text = read_text(&config);
    // A killed replica's finalizations are settled after 5 s, not the default 2 minutes.
    text.push_str("\n[acme]\nfinalize_timeout = \"5s\"\nnew_orders_per_account = \"off\"\n");
    write(&config, text.as_bytes());
    env.issue("lb", &["--san", "127.0.0.1", "--profile", "server"]);
    let lb_dir = env.path("lb");
    env.uca()
        .args([
            "export",
            "lb",
            "--format",
            "haproxy",
            "--out",
            lb_dir.utf8(),
        ])
        .assert()
        .success();
    let env_b = TempCa::new();
    let copied = Command::new("cp")
        .args(["-a", env.ca_dir().utf8(), env_b.ca_dir().utf8()])
        .status()
        .expect("cp");
    assert!(copied.success());
    let lab = AcmeLab::start_on(env, &[]);
    let mut b = lab.start_replica(&env_b);
    let ca = lab.ca_cert();
    let proxy = acme_proxy(
        lab.env.tmp.path(),
        &lb_dir.join("lb.pem"),
        &ca,
        &[lab.server.port, b.port],
    );
    let directory = format!("https://127.0.0.1:{}/acme/directory", proxy.port);
    let b_log = Arc::new(std::sync::Mutex::new(String::new()));
    let ctx = |cluster: &Patroni| {
        format!(
            "{}\n--- acme proxy:\n{}\n--- A:\n{}\n--- B:\n{}",
            cluster.logs(),
            proxy.log(),
            lab.server.log(),
            b_log.lock().map(|l| l.clone()).unwrap_or_default()
        )
    };
    // /healthz follows the database a replica reaches: a third replica's ledger address is a
    // forwarder, first to the leader (200), then to the standby (503: read-only), then back.
    let leader = cluster.leader().expect("a leader");
    let forward = Forwarder::start(cluster.pg_port(leader));
    let env_c = TempCa::new();
    let copied = Command::new("cp")
        .args(["-a", env_b.ca_dir().utf8(), env_c.ca_dir().utf8()])
        .status()
        .expect("cp");
    assert!(copied.success());
    let health_of = |server: &AcmeServer| {
        let out = curl(&server.url("healthz"), &ca, None, &["-w", "\n%{http_code}"]);
        out.stdout.trim().to_string()
    };
    {
        let via = format!("postgres://postgres@127.0.0.1:{}/postgres", forward.port);
        let c = AcmeServer::start(&env_c, "127.0.0.1:0", &["--ledger".to_string(), via]);
        assert!(health_of(&c).ends_with("200"), "{}", health_of(&c));
        forward.retarget(cluster.pg_port(1 - leader));
        let standby = health_of(&c);
        assert!(
            standby.ends_with("503") && standby.contains("read-only"),
            "{standby}\n{}",
            c.log()
        );
        forward.retarget(cluster.pg_port(leader));
        assert!(health_of(&c).ends_with("200"));
    }

    // A first CRL, so its number has a before.
    lab.env.uca().args(["crl"]).assert().success();
    let crl_before = crl_number(&cluster);

    // Clients through the proxy: the load generator for 60 s, lego until the end.
    let serials = lab.path("serials.txt");
    let timeline = lab.path("timeline.txt");
    let started = Instant::now();
    let report_path = lab.path("loadgen.json");
    let mut generator = Command::new(loadgen());
    generator
        .args(["--directory", &directory, "--ca-cert", ca.utf8()])
        .args(["--concurrency", "3", "--duration", "60", "--timeout", "150"])
        .args(["--identifier", "127.0.0.1"])
        .args(["--http01-listen", &format!("127.0.0.1:{}", lab.http01)])
        .args([
            "--serials-out",
            serials.utf8(),
            "--timeline-out",
            timeline.utf8(),
        ])
        .arg("--json")
        .stdout(std::fs::File::create(&report_path).expect("report file"))
        .stderr(std::fs::File::create(lab.path("loadgen.err")).expect("stderr file"));
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_on_drop = StopOnDrop(stop.clone());
    let mut generator = KillOnDrop(generator.spawn().expect("uca-loadgen"));
    let lego = lego_loop(&lab, directory.clone(), "ha.test", stop.clone());

    // 1. Replica B stalls (SIGSTOP) for longer than finalize_timeout: A's sweeper gives up
    //    B's finalizations (their reservations voided, the orders ready to finalize again); B,
    //    thawed, finds them void and delivers nothing it signed for them. Then kill -9 B: A
    //    goes on (the proxy's /healthz check takes B out).
    std::thread::sleep(Duration::from_secs(5));
    let stall = |signal: &str| {
        let ok = Command::new("kill")
            .args([format!("-{signal}"), b.pid().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success(), "kill -{signal} replica B");
    };
    stall("STOP");
    std::thread::sleep(Duration::from_secs(12));
    stall("CONT");
    std::thread::sleep(Duration::from_secs(2));
    let (_, log) = b.signal_and_wait("KILL", Duration::from_secs(10));
    // B's reservations the sweeper voided (a refused late completion is logged only when its
    // client is still connected: the proxy cuts sessions to a replica it marks down).
    let b_node = std::fs::canonicalize(env_b.ca_dir()).expect("B's directory");
    let voided_of_b = cluster.sql(&format!(
        "SELECT count(*) FROM certificates WHERE source = 'acme' AND status = 'void' AND node LIKE '%:{}'",
        b_node.display()
    ));
    let refused_late = log.matches("stalled while signing").count();
    *b_log.lock().expect("log") = log;

    // 2. kill -9 the database leader: Patroni promotes the synchronous standby.
    std::thread::sleep(Duration::from_secs(5));
    let first = cluster.leader().expect("a leader");
    let killed_at = started.elapsed();
    cluster.kill(first);
    let second = cluster.wait_leader(Some(first));
    let promoted_at = started.elapsed();

    generator.0.wait().expect("uca-loadgen");
    let out = read_text(&report_path);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| {
        panic!(
            "uca-loadgen: {e}\n{out}{}\n{}",
            read_text(&lab.path("loadgen.err")),
            ctx(&cluster)
        )
    });
    let received: Vec<String> = read_text(&serials).lines().map(str::to_string).collect();
    let after_failover = read_text(&timeline)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(ms, ok)| *ok == "ok" && ms.parse::<u128>().unwrap_or(0) > promoted_at.as_millis())
        .count();
    eprintln!(
        "replica B stalled 12 s ({voided_of_b} of its reservations voided, {refused_late} late \
         completions refused in its log), then killed; \
         leader {first} killed at {:.1} s, node {second} promoted at {:.1} s; the load generator: \
         {} certificates, {} failed orders, longest gap {} s",
        killed_at.as_secs_f64(),
        promoted_at.as_secs_f64(),
        report["completed"],
        report["failed"],
        report["longest_gap_s"]
    );
    assert!(!received.is_empty(), "{report}\n{}", ctx(&cluster));
    assert!(
        after_failover > 0,
        "issuance did not resume after the failover: {report}\n{}",
        ctx(&cluster)
    );
    assert_eq!(
        recorded(&cluster, &received),
        received.len(),
        "a certificate the load generator received is missing from the ledger\n{}",
        ctx(&cluster)
    );
    assert!(
        report["longest_gap_s"].as_f64().unwrap_or(f64::MAX) < 60.0,
        "{report}"
    );

    // CRL numbers only increase across the failover.
    lab.env.uca().args(["crl"]).assert().success();
    let crl_after = crl_number(&cluster);
    assert!(crl_after > crl_before, "{crl_before} → {crl_after}");

    // 3. The old leader comes back as the synchronous standby; then the new leader freezes
    //    (SIGSTOP), Patroni promotes the other, and the frozen one is thawed: it must come back
    //    as a standby, with nothing written to it while it was cut off.
    cluster.start_node(first);
    cluster.wait_sync_standby();
    let frozen = cluster.leader().expect("a leader");
    cluster.freeze(frozen);
    let third = cluster.wait_leader(Some(frozen));
    let second_promotion = Instant::now();
    // Issuance goes on against the promoted node while the old one is frozen.
    let deadline = Instant::now() + Duration::from_secs(60);
    while cluster
        .sql("SELECT count(*) FROM certificates WHERE source = 'acme' AND created_at > now() - interval '5 seconds'")
        == "0"
    {
        assert!(Instant::now() < deadline, "no issuance after the second failover\n{}", ctx(&cluster));
        std::thread::sleep(Duration::from_millis(500));
    }
    cluster.thaw(frozen);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if cluster
            .try_sql_on(frozen, "SELECT pg_is_in_recovery()")
            .as_deref()
            == Some("t")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the thawed node did not become a standby\n{}",
            ctx(&cluster)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, Ordering::SeqCst);
    let lego_got = lego.join().expect("lego loop");
    assert!(
        lego_got.iter().any(|(t, _)| *t > second_promotion),
        "lego got no certificate after the second failover ({} before)\n{}",
        lego_got.len(),
        ctx(&cluster)
    );
    let lego_serials: Vec<String> = lego_got.into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        recorded(&cluster, &lego_serials),
        lego_serials.len(),
        "a certificate lego received is missing from the ledger\n{}",
        ctx(&cluster)
    );
    // The thawed node followed the new primary: it holds every acknowledged certificate too.
    let all: Vec<String> = received.iter().chain(&lego_serials).cloned().collect();
    let list: Vec<String> = all.iter().map(|s| format!("'{s}'")).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n: usize = cluster
            .try_sql_on(
                frozen,
                &format!(
                    "SELECT count(*) FROM certificates WHERE serial IN ({})",
                    list.join(",")
                ),
            )
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if n == all.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rejoined node lacks {} of {} certificates",
            all.len() - n,
            all.len()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(third, first, "the other node took over");

    // No serial twice (the primary key), no certificate twice, no order with two live rows,
    // nothing left pending, no order stuck in processing once the sweeper has run (B was
    // killed mid-run; its reservations are voided, never completed later).
    assert_eq!(
        cluster.sql("SELECT count(fingerprint) - count(DISTINCT fingerprint) FROM certificates"),
        "0"
    );
    assert_eq!(
        cluster.sql(
            "SELECT count(*) FROM (SELECT acme_order FROM certificates WHERE acme_order IS NOT NULL \
             AND status <> 'void' GROUP BY acme_order HAVING count(*) > 1) twice"
        ),
        "0"
    );
    assert_eq!(
        cluster.sql(
            "SELECT count(*) FROM certificates WHERE status = 'void' AND fingerprint IS NOT NULL AND source = 'acme'"
        ),
        "0",
        "an ACME certificate was signed and recorded but voided"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.sql("SELECT count(*) FROM uca_acme.orders WHERE status = 'processing'") != "0" {
        assert!(
            Instant::now() < deadline,
            "orders stuck in processing\n{}",
            ctx(&cluster)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        cluster.sql("SELECT count(*) FROM certificates WHERE status = 'pending'"),
        "0"
    );
}
