//! The ledger on PostgreSQL: every CA command against a real PostgreSQL 15 server, psql as the
//! judge of what landed; `uca ledger copy` both ways; TLS verified against a CA file; and the
//! refusals (weak TLS modes, an unreachable server, a database of another CA, a newer schema).

use crate::support::postgres::{CommitCutter, Postgres};
use crate::support::*;

/// `uca --ledger URL ARGS` on this CA (passphrase set).
fn on(env: &TempCa, url: &str, args: &[&str]) -> std::process::Output {
    env.uca_pass()
        .arg("--ledger")
        .arg(url)
        .args(args)
        .output()
        .expect("run uca")
}

/// A refusal: exit `want`, `needle` and a hint on stderr, no panic.
fn refused(out: &std::process::Output, want: i32, needle: &str) {
    let all = expect(out, want);
    for must in [needle, "hint:"] {
        assert!(stderr(out).contains(must), "expected '{must}' in:\n{all}");
    }
    assert!(!all.contains("panicked"), "{all}");
}

/// Appends `text` to the CA's uca.toml.
fn add_to_config(env: &TempCa, text: &str) {
    let config = env.ca_dir().join("uca.toml");
    let mut all = read_text(&config);
    all.push_str(text);
    write(&config, all.as_bytes());
}

/// A replica's CA directory: a copy of `env`'s, taken after init (uca.toml names the database).
fn replica_of(env: &TempCa) -> TempCa {
    let replica = TempCa::new();
    let copied = std::process::Command::new("cp")
        .args(["-a", env.ca_dir().utf8(), replica.ca_dir().utf8()])
        .status()
        .expect("cp");
    assert!(copied.success());
    replica
}

fn rows_by_serial(rows: &[serde_json::Value]) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r["serial"].as_str().unwrap_or_default().to_string(),
                r["status"].as_str().unwrap_or_default().to_string(),
                r["fingerprint_sha256"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn every_ca_command_records_in_postgres_and_psql_sees_it() {
    let pg = Postgres::start();
    let url = pg.create_db("uca");
    let env = TempCa::new();
    env.uca_pass()
        .args(["--ledger", &url, "init"])
        .assert()
        .success();
    assert!(!env.ca_dir().join("ledger.sqlite").exists());
    let config = std::fs::read_to_string(env.ca_dir().join("uca.toml")).unwrap();
    assert!(config.contains(&format!("ledger = \"{url}\"")), "{config}");

    // From here on the CA directory's uca.toml says where the ledger is.
    let rmq1 = env.issue("rmq1", &[]);
    env.issue("rmq2", &[]);
    let csr = make_csr(&env.path("ext.csr"), EC_P256, "/CN=ext1", &[]);
    env.uca_pass()
        .args(["sign", csr.utf8(), "--out", env.path("ext.pem").utf8()])
        .assert()
        .success();
    env.uca_pass().args(["renew", "rmq2"]).assert().success();
    env.uca_pass()
        .args(["revoke", "rmq1", "--reason", "keyCompromise"])
        .assert()
        .success();
    env.uca_pass()
        .args(["crl", "--out", env.path("a.crl").utf8()])
        .assert()
        .success();
    env.uca_pass()
        .args(["crl", "--out", env.path("b.crl").utf8()])
        .assert()
        .success();
    let number = |p: &str| {
        let t = openssl(&["crl", "-in", env.path(p).utf8(), "-noout", "-crlnumber"]);
        u64::from_str_radix(t.trim().trim_start_matches("crlNumber=0x"), 16).unwrap()
    };
    assert!(number("b.crl") > number("a.crl"));
    let crl = openssl(&["crl", "-in", env.path("b.crl").utf8(), "-noout", "-text"]);
    let revoked_serial = pg.sql(
        "uca",
        "SELECT serial FROM certificates WHERE status = 'revoked'",
    );
    assert!(
        crl.to_lowercase().contains(&revoked_serial.to_lowercase()),
        "CRL lacks {revoked_serial}:\n{crl}"
    );

    // psql, not uca, says what the database holds.
    assert_eq!(
        pg.sql(
            "uca",
            "SELECT count(*), count(DISTINCT serial) FROM certificates"
        ),
        "5|5"
    );
    assert_eq!(
        pg.sql("uca", "SELECT string_agg(name || ':' || status || ':' || source, ',' ORDER BY seq) FROM certificates"),
        format!(
            "{}:issued:root,rmq1:revoked:issue,rmq2:superseded:issue,ext1:issued:csr,rmq2:issued:issue",
            env.json(&["list"])["certificates"][0]["name"].as_str().unwrap()
        )
    );
    let fp = fingerprint(&rmq1.cert);
    let stored = pg.sql(
        "uca",
        "SELECT fingerprint FROM certificates WHERE name = 'rmq1'",
    );
    assert!(fp.contains(&stored), "{fp} vs {stored}");
    assert_eq!(
        pg.sql("uca", "SELECT value FROM meta WHERE key = 'crl_number'"),
        number("b.crl").to_string()
    );
    assert_eq!(
        pg.sql("uca", "SELECT max(version) FROM uca_schema_migrations"),
        "3"
    );
    // Every CRL signed is also stored for the issuers sharing the ledger.
    assert_eq!(
        pg.sql("uca", "SELECT max(number) FROM crls"),
        number("b.crl").to_string()
    );

    // Reading commands go through the same ledger.
    let rows = env.ledger();
    assert_eq!(rows.len(), 5);
    let show = env.uca().args(["show", "rmq1"]).output().unwrap();
    assert!(stdout(&show).contains("revoked"), "{}", stdout(&show));
    let verify = env
        .uca()
        .args(["verify", rmq1.cert.utf8()])
        .output()
        .unwrap();
    assert_ne!(
        code(&verify),
        0,
        "a revoked certificate verified: {}",
        text(&verify)
    );
    let rmq2 = env.files("rmq2");
    env.uca()
        .args(["verify", rmq2.cert.utf8()])
        .assert()
        .success();
    let expiring = env.uca().args(["expiring"]).output().unwrap();
    assert_eq!(code(&expiring), 0, "{}", text(&expiring));
}

#[test]
fn ledger_copy_moves_a_sqlite_ledger_to_postgres_and_back() {
    let pg = Postgres::start();
    let url = pg.create_db("moved");
    let env = TempCa::new();
    env.init_plain_sqlite(&[]);
    env.issue("a", &[]);
    env.issue("b", &[]);
    env.uca().args(["revoke", "a"]).assert().success();
    env.uca()
        .args(["crl", "--out", env.path("c.crl").utf8()])
        .assert()
        .success();
    let before = env.ledger();

    let out = env
        .uca()
        .args(["ledger", "copy", "--to", &url])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        stdout(&out).contains("3 certificate(s) (1 revoked)"),
        "{}",
        text(&out)
    );
    assert_eq!(pg.sql("moved", "SELECT count(*) FROM certificates"), "3");
    assert_eq!(
        pg.sql("moved", "SELECT value FROM meta WHERE key = 'crl_number'"),
        "1"
    );

    // The same rows, read by uca through the other backend.
    let on_pg = on(&env, &url, &["--json", "list"]);
    let on_pg: serde_json::Value = serde_json::from_slice(&on_pg.stdout).unwrap();
    assert_eq!(
        rows_by_serial(on_pg["certificates"].as_array().unwrap()),
        rows_by_serial(&before)
    );
    // The next CRL from PostgreSQL continues the numbering.
    let out = on(&env, &url, &["crl", "--out", env.path("d.crl").utf8()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let n = openssl(&[
        "crl",
        "-in",
        env.path("d.crl").utf8(),
        "-noout",
        "-crlnumber",
    ]);
    assert!(n.contains("0x02"), "{n}");

    // A second copy into a ledger that has certificates is refused.
    let again = env
        .uca()
        .args(["ledger", "copy", "--to", &url])
        .output()
        .unwrap();
    refused(&again, 2, "already holds 3");

    // And back: PostgreSQL into a new SQLite file.
    let back = env.path("back.sqlite");
    let out = on(&env, &url, &["ledger", "copy", "--to", back.utf8()]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let on_file = on(&env, back.utf8(), &["--json", "list"]);
    let on_file: serde_json::Value = serde_json::from_slice(&on_file.stdout).unwrap();
    assert_eq!(
        rows_by_serial(on_file["certificates"].as_array().unwrap()),
        rows_by_serial(&before)
    );
    let crl_number = std::process::Command::new("sqlite3")
        .arg(&back)
        .arg("SELECT value FROM meta WHERE key = 'crl_number'")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Ok(n) = crl_number
        && !n.is_empty()
    {
        assert_eq!(n, "2");
    }
}

#[test]
fn bad_settings_foreign_databases_and_newer_schemas_are_refused_with_a_hint() {
    let pg = Postgres::start();
    let url = pg.create_db("one");
    let env = TempCa::new();
    env.uca()
        .args(["--ledger", &url, "init", "--no-passphrase"])
        .assert()
        .success();

    // libpq's unchecked TLS modes: a usage error that names the fix.
    let weak = env.run(&[
        "--ledger",
        "postgres://u@db.example/x?sslmode=require",
        "list",
    ]);
    refused(&weak, 2, "verify-full");
    // A password given in the URL never shows.
    let shown = env.run(&[
        "--ledger",
        "postgres://u:hunter2@db.example/x?sslmode=prefer",
        "list",
    ]);
    assert!(!text(&shown).contains("hunter2"), "{}", text(&shown));

    // A new CA's ledger is its own ledger.sqlite or a database, never a file elsewhere.
    let elsewhere = TempCa::new();
    let out = elsewhere.run(&["--ledger", "/tmp/shared.sqlite", "init", "--no-passphrase"]);
    refused(&out, 2, "postgres:// URL");
    assert!(!elsewhere.ca_dir().exists());

    // Nothing listening.
    let dead = format!("postgres://postgres@127.0.0.1:{}/one", free_port());
    let out = env.run(&["--ledger", &dead, "list"]);
    refused(&out, 1, "cannot connect");

    // A second CA may not share the database, neither at init nor pointed at it later.
    let other = TempCa::new();
    let out = other.run(&["--ledger", &url, "init", "--no-passphrase"]);
    refused(&out, 2, "already holds 1");
    assert!(
        !other.ca_dir().exists(),
        "a refused init left a directory behind"
    );
    other.init_plain_sqlite(&[]);
    let out = other.run(&["--ledger", &url, "issue", "x"]);
    refused(&out, 2, "belongs to another CA");
    assert_eq!(pg.sql("one", "SELECT count(*) FROM certificates"), "1");

    // A database a newer uca has migrated.
    pg.sql(
        "one",
        "INSERT INTO uca_schema_migrations(version) VALUES (99)",
    );
    let out = env.run(&["issue", "y"]);
    refused(&out, 1, "newer than this uca");
    assert_eq!(pg.sql("one", "SELECT count(*) FROM certificates"), "1");

    // A typo in uca.toml's ledger is reported with its line.
    let bad = TempCa::new();
    bad.init_plain_sqlite(&[]);
    let cfg = bad.ca_dir().join("uca.toml");
    let text_cfg = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("ledger = \"mysql://x@y/z\"\n{text_cfg}")).unwrap();
    let out = bad.run(&["list"]);
    refused(&out, 2, "uca.toml:1:");
}

#[test]
fn tls_to_postgres_is_verified_against_the_named_ca_file() {
    // The database server's certificate comes from a uca CA of its own.
    let db_ca = TempCa::new();
    db_ca.init_plain_sqlite(&[]);
    let server = db_ca.issue(
        "db",
        &["--san", "127.0.0.1", "--profile", "server", "--no-rules"],
    );
    let pg = Postgres::start();
    pg.put_private("server.crt", &server.fullchain);
    pg.put_private("server.key", &server.key);
    pg.reconfigure("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'");
    pg.create_db("tls");
    let base = format!("postgres://postgres@127.0.0.1:{}/tls", pg.port);

    let env = TempCa::new();
    let good = format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        db_ca.ca_cert().display()
    );
    env.uca()
        .args(["--ledger", &good, "init", "--no-passphrase"])
        .assert()
        .success();
    env.issue("over-tls", &[]);
    assert_eq!(
        pg.sql(
            "tls",
            "SELECT count(*) FROM certificates WHERE name = 'over-tls'"
        ),
        "1"
    );
    // The connection really was TLS (the server's own view).
    assert!(pg.sql("postgres", "SHOW ssl").contains("on"));

    // Another CA's certificate as the root: refused, nothing written.
    let stranger = TempCa::new();
    stranger.init_plain_sqlite(&[]);
    let wrong = format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        stranger.ca_cert().display()
    );
    let out = env.run(&["--ledger", &wrong, "issue", "never"]);
    refused(&out, 1, "cannot connect");
    assert_eq!(
        pg.sql(
            "tls",
            "SELECT count(*) FROM certificates WHERE name = 'never'"
        ),
        "0"
    );
}

/// `uca serve` over a PostgreSQL ledger: lego obtains, renews and revokes; every certificate it
/// received is a row psql sees (source acme), and the served CRL lists the revoked serial.
#[test]
fn uca_serve_issues_into_postgres_and_lego_is_served() {
    let pg = Postgres::start();
    let url = pg.create_db("acme");
    let env = TempCa::new();
    env.uca()
        .args([
            "--ledger",
            &url,
            "init",
            "--no-passphrase",
            "--name",
            "ACME Test Root",
        ])
        .assert()
        .success();
    let lab = AcmeLab::start_on(env, &[]);
    let http = format!("127.0.0.1:{}", lab.http01);
    let ca = lab.ca_cert();
    let base = [
        "--domains",
        "pg.test",
        "--http",
        "--http.port",
        http.as_str(),
    ];
    let out = lab.lego("lego", &[&base[..], &["run"]].concat(), &[]);
    assert_ok(&out, &lab.server, "lego run");
    let (cert, _key) = lab.lego_files("lego", "pg.test");
    let first = judge_cert(&ca, &cert, &["DNS:pg.test"]);
    let out = lab.lego(
        "lego",
        &[&base[..], &["renew", "--days", "1000", "--no-random-sleep"]].concat(),
        &[],
    );
    assert_ok(&out, &lab.server, "lego renew");
    let second = judge_cert(&ca, &cert, &["DNS:pg.test"]);
    assert_ne!(first, second);
    let status = |serial: &str| {
        pg.sql(
            "acme",
            &format!(
                "SELECT status || ':' || source FROM certificates WHERE serial = '{}'",
                serial.to_lowercase()
            ),
        )
    };
    // lego renews without ARI's `replaces`: the first certificate stays valid beside the new one.
    assert_eq!(status(&first), "issued:acme", "{}", lab.server.log());
    assert_eq!(status(&second), "issued:acme");
    let out = lab.lego("lego", &["--domains", "pg.test", "revoke"], &[]);
    assert_ok(&out, &lab.server, "lego revoke");
    assert_eq!(status(&second), "revoked:acme");
    let served = lab.served_crl_serials();
    assert!(served.contains(&second), "{served:?}\n{}", lab.server.log());
    assert_eq!(
        pg.sql(
            "acme",
            "SELECT count(*) FROM certificates WHERE status = 'pending'"
        ),
        "0"
    );

    // Retention on PostgreSQL: records from before the store kept expiries get theirs from the
    // PEM; a valid order goes once its certificate has been expired long enough, and the
    // ledger keeps the certificate.
    pg.sql("acme", "UPDATE uca_acme.certificates SET not_after = NULL");
    let prune = || {
        lab.env
            .json(&["acme", "prune", "--older-than", "0", "--expired-for", "0"])
    };
    assert_eq!(prune()["orders"], 0);
    assert_eq!(
        pg.sql(
            "acme",
            "SELECT count(*) FROM uca_acme.certificates WHERE not_after IS NULL OR not_after < 1000000000"
        ),
        "0"
    );
    pg.sql(
        "acme",
        &format!(
            "UPDATE uca_acme.certificates SET not_after = 1 WHERE serial = '{}'",
            first.to_lowercase()
        ),
    );
    let pruned = prune();
    assert_eq!(
        (&pruned["orders"], &pruned["certificates"]),
        (&serde_json::json!(1), &serde_json::json!(1)),
        "{pruned:#}"
    );
    assert_eq!(status(&first), "issued:acme");

    // /healthz follows the database: 503 while it is down, 200 once it is back.
    let health = || {
        curl(
            &lab.server.url("healthz"),
            &ca,
            None,
            &["-o", "/dev/null", "-w", "%{http_code}"],
        )
        .stdout
    };
    assert_eq!(health(), "200");
    pg.stop();
    assert_eq!(health(), "503");
    pg.restart();
    assert_eq!(health(), "200");
    // The server's ledger connection died with the database: the next order reconnects at
    // once instead of failing on it.
    let out = lab.lego("lego", &[&base[..], &["run"]].concat(), &[]);
    assert_ok(&out, &lab.server, "lego run after the database restarted");
}

/// A serial as `openssl crl -text` prints it: upper-case hex.
fn serial_of_upper(serial: &str) -> String {
    serial.to_uppercase()
}

/// Two `uca serve` replicas over one PostgreSQL database, each on its own copy of the CA
/// directory (as on two machines), behind HAProxy balancing every request round robin (TLS
/// ended at the proxy, re-encrypted to the replicas): there is no stickiness, yet
/// - a nonce one replica handed out is good on the other, once (python3-acme: spent on B, then
///   `badNonce` when replayed on A);
/// - the new-account limit per address is one budget for both (`3/1h`: the fourth account is
///   `rateLimited` whichever replica it reaches);
/// - lego obtains and renews through the proxy, so its orders, authorizations, challenges and
///   finalizations go to both; psql sees each certificate once in the ledger and every order
///   in the shared ACME schema;
/// - after lego revokes through the proxy, both replicas serve one CRL (built by one under the
///   lease, taken from the database by the other) that lists the serial.
#[test]
fn replicas_behind_haproxy_share_nonces_limits_and_orders() {
    let pg = Postgres::start();
    let url = pg.create_db("replicas");
    let env = TempCa::new();
    env.uca()
        .args([
            "--ledger",
            &url,
            "init",
            "--no-passphrase",
            "--name",
            "Replica Root",
        ])
        .assert()
        .success();
    add_to_config(&env, "\n[acme]\nnew_accounts_per_ip = \"3/1h\"\n");
    // The load balancer's own certificate, from the same CA.
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
    let env_b = replica_of(&env);

    let lab = AcmeLab::start_on(env, &[]);
    let b = lab.start_replica(&env_b);
    let ca = lab.ca_cert();

    // Nonces cross replicas, once.
    let seen = lab.replica_check(&b);
    assert!(
        seen["spent_elsewhere"]
            .as_str()
            .is_some_and(|u| u.contains("/acme/acct/")),
        "B refused A's nonce: {seen}\n--- A:\n{}\n--- B:\n{}",
        lab.server.log(),
        b.log()
    );
    assert_eq!(
        seen["replayed"], "urn:ietf:params:acme:error:badNonce",
        "{seen}"
    );
    assert_eq!(
        pg.sql("replicas", "SELECT count(*) FROM uca_acme.used_nonces"),
        "1"
    );

    // HAProxy in front of both, per request.
    let proxy = acme_proxy(
        lab.env.tmp.path(),
        &lb_dir.join("lb.pem"),
        &ca,
        &[lab.server.port, b.port],
    );
    let directory = format!("https://127.0.0.1:{}/acme/directory", proxy.port);
    let ctx = || {
        format!(
            "--- haproxy:\n{}\n--- A:\n{}\n--- B:\n{}",
            proxy.log(),
            lab.server.log(),
            b.log()
        )
    };

    // lego through the proxy: its requests alternate between the replicas.
    let http = format!("127.0.0.1:{}", lab.http01);
    let lego = |args: &[&str]| {
        let mut c = client_cmd("lego", lab.env.tmp.path());
        c.env("LEGO_CA_CERTIFICATES", &ca)
            .args(["--server", &directory, "--accept-tos"])
            .args([
                "--email",
                "ops@example.test",
                "--path",
                lab.path("lego").utf8(),
            ])
            .args(["--domains", "replica.test", "--http", "--http.port", &http])
            .args(args);
        finish(c, "lego", std::time::Duration::from_secs(120))
    };
    let out = lego(&["run"]);
    assert!(out.status.success(), "lego run:\n{}\n{}", out.all(), ctx());
    let cert = lab.path("lego/certificates/replica.test.crt");
    let first = judge_cert(&ca, &cert, &["DNS:replica.test"]);
    let out = lego(&["renew", "--days", "1000", "--no-random-sleep"]);
    assert!(
        out.status.success(),
        "lego renew:\n{}\n{}",
        out.all(),
        ctx()
    );
    let second = judge_cert(&ca, &cert, &["DNS:replica.test"]);
    assert_ne!(first, second);
    let log = proxy.log();
    for server in ["replicas/a", "replicas/b"] {
        assert!(
            log.lines()
                .filter(|l| l.contains(server) && l.contains("POST /acme/"))
                .count()
                >= 3,
            "HAProxy sent too few of lego's requests to {server}:\n{}",
            ctx()
        );
    }
    for serial in [&first, &second] {
        assert_eq!(
            pg.sql(
                "replicas",
                &format!(
                    "SELECT count(*) || ':' || min(status) || ':' || min(source) FROM certificates WHERE serial = '{}'",
                    serial.to_lowercase()
                )
            ),
            "1:issued:acme"
        );
    }
    assert_eq!(
        pg.sql(
            "replicas",
            "SELECT count(*) FROM uca_acme.orders WHERE status = 'valid' AND certificate IS NOT NULL"
        ),
        "2"
    );
    assert_eq!(
        pg.sql(
            "replicas",
            "SELECT count(*) FROM certificates WHERE status = 'pending'"
        ),
        "0"
    );

    // One CRL for all: lego revokes through the proxy; one replica builds the CRL under the
    // lease, the other serves the same bytes from the database, and it lists the serial.
    let out = lego(&["revoke"]);
    assert!(
        out.status.success(),
        "lego revoke:\n{}\n{}",
        out.all(),
        ctx()
    );
    let crl_of = |port: u16, name: &str| {
        let file = lab.path(name);
        let got = curl(
            &format!("https://127.0.0.1:{port}/crl"),
            &ca,
            None,
            &["-o", file.utf8()],
        );
        assert!(got.status.success(), "{}", got.all());
        std::fs::read(&file).expect("crl")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (a, b_crl) = (crl_of(lab.server.port, "a.crl"), crl_of(b.port, "b.crl"));
        let revoked = serial_of_upper(&second);
        if a == b_crl && crl_serials(&lab.path("a.crl")).contains(&revoked) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the replicas do not serve one CRL listing {revoked}\n{}",
            ctx()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_eq!(
        pg.sql(
            "replicas",
            "SELECT count(*) - count(DISTINCT number) FROM crls"
        ),
        "0"
    );

    // One account budget per address for both replicas: lego's account and the one python3-acme
    // made count; one more on A is the third; the fourth is refused on B as on A.
    lab.register_without_eab()
        .unwrap_or_else(|p| panic!("third account refused: {p}"));
    let mut refused = 0;
    for directory in [b.directory(), lab.server.directory()] {
        let out = std::process::Command::new("/usr/bin/python3")
            .current_dir(lab.env.tmp.path())
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/cli/support/acme_client.py"
            ))
            .args(["register", &directory, ca.utf8()])
            .output()
            .expect("python3");
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.code() == Some(3) && stdout.contains("rateLimited") {
            refused += 1;
        }
    }
    assert_eq!(refused, 2, "{}", ctx());
    assert_eq!(
        pg.sql("replicas", "SELECT count(*) FROM uca_acme.accounts"),
        "3"
    );
}

/// The connection breaks during the COMMIT that records a certificate. When the server got the
/// COMMIT, uca connects again, reads the row back by serial and fingerprint, and goes on: the
/// certificate is issued once. When it did not, the read-back finds nothing and `uca issue`
/// fails with its hint, leaving no row behind: never a success or a failure on a guess.
#[test]
fn a_connection_lost_during_commit_is_read_back_by_key() {
    let pg = Postgres::start();
    let url = pg.create_db("cut");
    let env = TempCa::new();
    env.uca()
        .args([
            "--ledger",
            &url,
            "init",
            "--no-passphrase",
            "--name",
            "Cut Root",
        ])
        .assert()
        .success();
    let via = |proxy: &CommitCutter| format!("postgres://postgres@127.0.0.1:{}/cut", proxy.port);

    let delivered = CommitCutter::start(&pg, true);
    let out = env
        .uca()
        .args(["--ledger", &via(&delivered), "issue", "landed"])
        .output()
        .expect("uca");
    assert!(delivered.cut(), "the proxy never saw the commit");
    expect(&out, 0);
    assert_eq!(
        pg.sql(
            "cut",
            "SELECT count(*) || ':' || min(status) FROM certificates WHERE name = 'landed'"
        ),
        "1:issued"
    );
    let recorded = pg.sql(
        "cut",
        "SELECT fingerprint FROM certificates WHERE name = 'landed'",
    );
    let openssl = fingerprint(&env.issued("landed", "cert.pem"));
    assert!(
        !recorded.is_empty() && openssl.contains(&recorded),
        "{recorded} vs {openssl}"
    );

    let dropped = CommitCutter::start(&pg, false);
    let out = env
        .uca()
        .args(["--ledger", &via(&dropped), "issue", "lost"])
        .output()
        .expect("uca");
    assert!(dropped.cut(), "the proxy never saw the commit");
    refused(&out, 1, "run the command again");
    assert_eq!(
        pg.sql(
            "cut",
            "SELECT count(*) FROM certificates WHERE name = 'lost'"
        ),
        "0"
    );
    // Nothing half-done: the next run issues it.
    env.uca()
        .args(["--ledger", &url, "issue", "lost"])
        .assert()
        .success();
}

/// Migration 3 (one pending-or-issued row per ACME order) refuses a ledger where an earlier uca
/// recorded two issued certificates for one order, naming them and what to do, and leaves the
/// database as it was.
#[test]
fn two_certificates_for_one_acme_order_stop_the_migration_with_the_serials() {
    let pg = Postgres::start();
    let url = pg.create_db("twice");
    let env = TempCa::new();
    env.uca()
        .args(["--ledger", &url, "init", "--no-passphrase"])
        .assert()
        .success();
    // Back to migration 2, with the state an earlier uca could leave.
    pg.sql(
        "twice",
        "DROP INDEX certificates_live_acme_order; DELETE FROM uca_schema_migrations WHERE version = 3",
    );
    for (serial, fp) in [("0a", "AA:01"), ("0b", "AA:02")] {
        pg.sql(
            "twice",
            &format!(
                "INSERT INTO certificates (serial, name, profile, key_type, sans, not_before, not_after, \
                 fingerprint, status, source, created_at, updated_at, cert_pem, acme_account, acme_order) \
                 VALUES ('{serial}', 'web', 'server', 'ecdsa-p256', '[\"DNS:web\"]', now(), now() + interval '1 day', \
                 '{fp}', 'issued', 'acme', now(), now(), 'PEM', 'acct', 'order-1')"
            ),
        );
    }
    let out = env.run(&["list"]);
    refused(&out, 1, "two issued certificates");
    let err = stderr(&out);
    assert!(
        err.contains("order-1: 0a, 0b") && err.contains("uca revoke SERIAL"),
        "{err}"
    );
    assert_eq!(
        pg.sql("twice", "SELECT max(version) FROM uca_schema_migrations"),
        "2"
    );
    // Once one is revoked, the migration goes through.
    pg.sql(
        "twice",
        "UPDATE certificates SET status = 'revoked', revoked_at = now(), revocation_reason = 'superseded' WHERE serial = '0b'",
    );
    env.uca().args(["list"]).assert().success();
    assert_eq!(
        pg.sql("twice", "SELECT max(version) FROM uca_schema_migrations"),
        "3"
    );
}

/// A replica that stalls between signing and completing its row (a debug-build hook holds it
/// there, as a freeze at that moment would): the other replica's sweeper gives the finalization
/// up and voids the reservation; the stalled replica's completion then does not take, so the
/// certificate it signed is never delivered nor recorded as issued, and the order is ready to
/// be finalized again.
#[test]
fn a_replica_stalled_while_signing_delivers_nothing_and_its_order_reopens() {
    let pg = Postgres::start();
    let url = pg.create_db("stall");
    let env = TempCa::new();
    env.uca()
        .args(["--ledger", &url, "init", "--no-passphrase"])
        .assert()
        .success();
    add_to_config(&env, "\n[acme]\nfinalize_timeout = \"2s\"\n");
    let env_b = replica_of(&env);
    let lab = AcmeLab::start_on(env, &[]);
    let b = lab.start_replica_with_env(&env_b, &[("UCA_TEST_STALL_BEFORE_COMPLETE_MS", "9000")]);

    // One order through B, which stalls after signing; A sweeps every 5 s.
    let out = std::process::Command::new(loadgen())
        .args([
            "--directory",
            &b.directory(),
            "--ca-cert",
            lab.ca_cert().utf8(),
        ])
        .args(["--concurrency", "1", "--orders", "1", "--timeout", "60"])
        .args(["--identifier", "127.0.0.1"])
        .args(["--http01-listen", &format!("127.0.0.1:{}", lab.http01)])
        .arg("--json")
        .output()
        .expect("uca-loadgen");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "uca-loadgen: {e}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let ctx = || {
        format!(
            "{report}\n--- A:\n{}\n--- B:\n{}",
            lab.server.log(),
            b.log()
        )
    };
    assert_eq!(report["completed"], 0, "{}", ctx());
    assert_eq!(report["failed"], 1, "{}", ctx());
    assert!(b.log().contains("stalled while signing"), "{}", ctx());
    assert!(
        lab.server
            .log()
            .contains("settled finalizations a stopped replica left"),
        "{}",
        ctx()
    );
    // The ledger: the order's one row is B's voided reservation, without a certificate.
    assert_eq!(
        pg.sql(
            "stall",
            "SELECT string_agg(status || ' ' || (fingerprint IS NULL) || ' ' || (cert_pem IS NULL), ',') \
             FROM certificates WHERE source = 'acme'"
        ),
        "void true true",
        "{}",
        ctx()
    );
    let b_node = std::fs::canonicalize(env_b.ca_dir()).expect("B's directory");
    assert!(
        pg.sql(
            "stall",
            "SELECT node FROM certificates WHERE source = 'acme'"
        )
        .ends_with(&format!(":{}", b_node.display())),
        "{}",
        ctx()
    );
    assert_eq!(
        pg.sql("stall", "SELECT status FROM uca_acme.orders"),
        "ready",
        "{}",
        ctx()
    );
}
