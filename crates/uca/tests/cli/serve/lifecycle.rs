//! The life of `uca serve`: SIGTERM stops it cleanly, `kill -9` and a restart on the same CA
//! lose nothing a client relies on, and a sealed CA refuses to serve.

use std::time::Duration;

use crate::support::*;

/// SIGTERM: the server says it is stopping, drains and exits 0.
#[test]
fn sigterm_stops_the_server_with_status_0() {
    let mut lab = AcmeLab::start(&[]);
    let out = curl(&lab.server.url("healthz"), &lab.ca_cert(), None, &[]);
    assert_eq!(out.stdout.trim(), "ok", "{}", out.all());
    let (status, log) = lab.server.signal_and_wait("TERM", Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM:\n{log}");
    assert!(log.contains("stopping"), "no 'stopping' on stderr:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// `kill -9` right after an issuance, then a restart on the same port: the ledger row, the
/// ACME account and the order are still there, and lego (whose account lives on the server)
/// renews with the same account.
#[test]
fn kill_9_then_restart_keeps_accounts_orders_and_ledger() {
    let mut lab = AcmeLab::start(&[]);
    let ca = lab.ca_cert();
    let http = format!("127.0.0.1:{}", lab.http01);
    let base = [
        "--domains",
        "crash.test",
        "--http",
        "--http.port",
        http.as_str(),
    ];
    let out = lab.lego("lego", &[&base[..], &["run"]].concat(), &[]);
    assert_ok(&out, &lab.server, "lego run");
    let (cert, key) = lab.lego_files("lego", "crash.test");
    let first = judge_cert(&ca, &cert, &["DNS:crash.test"]);
    let row = lab.acme_row(&first);

    let (status, _) = lab.server.signal_and_wait("KILL", Duration::from_secs(10));
    assert_eq!(
        status.code(),
        None,
        "uca serve was not killed by the signal"
    );
    lab.restart();
    assert!(
        !lab.server.log().contains("repaired"),
        "a finished order needed repair after kill -9:\n{}",
        lab.server.log()
    );

    // The CLI reads the same ledger and ACME store.
    assert_eq!(lab.acme_row(&first)["acme"], row["acme"]);
    let orders = lab.env.json(&["acme", "orders"]);
    let order = row["acme"]["order"].as_str().unwrap();
    assert!(
        orders.to_string().contains(order),
        "order {order} lost: {orders:#}"
    );

    // The order and its certificate are still served to the account (POST-as-GET with lego's
    // account key, by python3-acme): valid, and the same certificate lego saved.
    let account = row["acme"]["account"].as_str().unwrap();
    let account_key = lab.path(&format!(
        "lego/accounts/127.0.0.1_{}/{EMAIL}/keys/{EMAIL}.key",
        lab.server.port
    ));
    let (fetched, content_type, chain) = lab.download_order(&account_key, account, order);
    assert_eq!(fetched["status"], "valid", "{fetched:#}");
    assert_eq!(content_type, "application/pem-certificate-chain");
    let leaf = chain
        .split_inclusive("-----END CERTIFICATE-----\n")
        .next()
        .unwrap_or_default();
    let saved = read_text(&cert);
    assert!(
        !leaf.is_empty() && saved.starts_with(leaf),
        "the certificate served after the restart differs from the one lego saved:\n{chain}"
    );

    // lego's account still exists on the server: renew signs with it (kid), and the renewed
    // certificate belongs to the same account.
    let out = lab.lego(
        "lego",
        &[&base[..], &["renew", "--days", "1000", "--no-random-sleep"]].concat(),
        &[],
    );
    assert_ok(&out, &lab.server, "lego renew after kill -9 and restart");
    let second = judge_cert(&ca, &cert, &["DNS:crash.test"]);
    assert_ne!(first, second);
    assert_eq!(
        lab.acme_row(&second)["acme"]["account"],
        row["acme"]["account"],
        "after the restart lego's renewal came from another account"
    );
    served_by_openssl(lab.env.tmp.path(), &cert, &key, "crash.test", &ca);
}

/// A sealed CA signs nothing, so `uca serve` refuses to start: exit 8 with a hint.
#[test]
fn sealed_ca_refuses_to_serve() {
    let env = TempCa::new();
    env.init_plain(&[]);
    expect(&env.uca().args(["seal", "--yes"]).output().unwrap(), 0);
    let mut cmd = env.uca_std();
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    let (out, _) = run_within(cmd, Duration::from_secs(20))
        .unwrap_or_else(|printed| panic!("uca serve on a sealed CA kept running:\n{printed}"));
    let err = stderr(&out);
    assert_eq!(code(&out), 8, "{err}");
    assert!(err.contains("sealed"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert!(!err.contains("listening on"), "{err}");
}

/// A mistyped flag is a usage error (exit 2 with a hint) before the CA is looked for or a
/// passphrase asked for: here there is no CA at all, which would be exit 4.
#[test]
fn bad_serve_flags_are_refused_before_the_ca_is_opened() {
    let env = TempCa::new();
    for (flag, value, said) in [
        ("--listen", "not-an-address", "is not ADDRESS:PORT"),
        ("--eab", "sometimes", "is not a mode"),
        ("--profile", "everything", "is not a profile"),
    ] {
        let out = env.uca().args(["serve", flag, value]).output().unwrap();
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{flag} {value}: {err}");
        assert!(err.contains(said) && err.contains("hint:"), "{err}");
    }
}

/// The server's certificate takes the NAME of its first server name; an operator's certificate
/// already under that NAME is neither superseded nor overwritten: the server refuses to start.
#[test]
fn the_server_does_not_take_over_an_operators_certificate_name() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let issued = env.issue("localhost", &[]);
    let cert_before = read_bytes(&issued.cert);
    let rows = |env: &TempCa| -> Vec<(String, String, String)> {
        env.ledger()
            .iter()
            .map(|r| {
                let f = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                (f("serial"), f("name"), f("status"))
            })
            .collect()
    };
    let ledger_before = rows(&env);
    let mut cmd = env.uca_std();
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--server-name",
        "localhost",
    ]);
    let (out, _) = run_within(cmd, Duration::from_secs(20))
        .unwrap_or_else(|printed| panic!("uca serve kept running:\n{printed}"));
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{err}");
    assert!(
        err.contains("'localhost'") && err.contains("did not make"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    assert_eq!(
        read_bytes(&issued.cert),
        cert_before,
        "the operator's files were touched"
    );
    assert_eq!(rows(&env), ledger_before);
}
