//! Real ACME clients (lego, certbot, uacme, dehydrated, Caddy) obtain, renew and revoke
//! certificates from `uca serve` on loopback. Every certificate is judged the same way:
//! `openssl verify` against DIR/ca.crt only, its SANs exactly the names ordered, a real TLS
//! server presenting it to curl (trusting only the CA), and a ledger row with `source: acme`
//! naming the account and the order. Revocations are judged on the server's own `/crl`.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;

/// One lego account obtains two certificates: http-01 (two names), and dns-01 for a wildcard
/// with its base name (two TXT values on one name, set through challtestsrv by lego's exec
/// provider). Each is judged, served, in the ledger.
#[test]
fn lego_obtains_with_http01_and_dns01_wildcard() {
    let lab = AcmeLab::start(&[]);
    let http = format!("127.0.0.1:{}", lab.http01);
    let ca = lab.ca_cert();
    let mut accounts = Vec::new();

    // http-01, two names on one order.
    let out = lab.lego(
        "lego",
        &["--domains", "app.test", "--domains", "www.app.test"]
            .into_iter()
            .chain(["--http", "--http.port", &http, "run"])
            .collect::<Vec<_>>(),
        &[],
    );
    assert_ok(&out, &lab.server, "lego http-01");
    let (cert, key) = lab.lego_files("lego", "app.test");
    let serial = judge_cert(&ca, &cert, &["DNS:app.test", "DNS:www.app.test"]);
    served_by_openssl(lab.env.tmp.path(), &cert, &key, "www.app.test", &ca);
    accounts.push(lab.acme_row(&serial)["acme"]["account"].clone());

    // dns-01: a wildcard and its base name put two TXT values on _acme-challenge.wild.test;
    // lego presents them one after the other (EXEC_SEQUENCE_INTERVAL=1 instead of 60 s).
    let script = lab.lego_dns_exec();
    let resolver = lab.dns.resolver();
    let started = Instant::now();
    let out = lab.lego(
        "lego",
        &[
            "--domains",
            "*.wild.test",
            "--domains",
            "wild.test",
            "--dns",
            "exec",
            "--dns.resolvers",
            &resolver,
            "--dns.disable-cp",
            "run",
        ],
        &[
            ("EXEC_PATH", script.as_str()),
            ("EXEC_SEQUENCE_INTERVAL", "1"),
            ("EXEC_PROPAGATION_TIMEOUT", "10"),
            ("EXEC_POLLING_INTERVAL", "1"),
        ],
    );
    assert_ok(&out, &lab.server, "lego dns-01 wildcard");
    let (cert, key) = lab.lego_files("lego", "*.wild.test");
    let serial = judge_cert(&ca, &cert, &["DNS:*.wild.test", "DNS:wild.test"]);
    served_by_openssl(lab.env.tmp.path(), &cert, &key, "any.wild.test", &ca);
    served_by_openssl(lab.env.tmp.path(), &cert, &key, "wild.test", &ca);
    accounts.push(lab.acme_row(&serial)["acme"]["account"].clone());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "dns-01 took {:?}",
        started.elapsed()
    );

    // One lego account (its key under lego/accounts) ordered both.
    assert!(
        accounts.iter().all(|a| *a == accounts[0]),
        "two orders of one lego account name different accounts: {accounts:?}"
    );
}

/// lego answers tls-alpn-01 itself (`--tls --tls.port`) and obtains a certificate.
///
/// tls-alpn-01 (RFC 8737): a regression test for the validator refusing the critical
/// acmeIdentifier extension every tls-alpn-01 certificate carries (webpki parsed the certificate
/// to check the handshake signature).
#[test]
fn lego_obtains_with_tlsalpn01() {
    let lab = AcmeLab::start(&[]);
    let tls = format!("127.0.0.1:{}", lab.tlsalpn01);
    let ca = lab.ca_cert();
    // tls-alpn-01.
    let out = lab.lego(
        "lego",
        &["--domains", "alpn.test", "--tls", "--tls.port", &tls, "run"],
        &[],
    );
    assert_ok(&out, &lab.server, "lego tls-alpn-01");
    let (cert, key) = lab.lego_files("lego", "alpn.test");
    let serial = judge_cert(&ca, &cert, &["DNS:alpn.test"]);
    served_by_openssl(lab.env.tmp.path(), &cert, &key, "alpn.test", &ca);
    lab.acme_row(&serial);
}

/// lego renews (a new certificate, a new serial, both in the ledger) and revokes; the
/// server's /crl lists the revoked serial right away and not the other one.
#[test]
fn lego_renews_then_revokes_and_the_crl_lists_the_serial() {
    let lab = AcmeLab::start(&[]);
    let http = format!("127.0.0.1:{}", lab.http01);
    let ca = lab.ca_cert();
    let base = [
        "--domains",
        "renew.test",
        "--http",
        "--http.port",
        http.as_str(),
    ];

    let out = lab.lego("lego", &[&base[..], &["run"]].concat(), &[]);
    assert_ok(&out, &lab.server, "lego run");
    let (cert, key) = lab.lego_files("lego", "renew.test");
    let first = judge_cert(&ca, &cert, &["DNS:renew.test"]);
    let first_row = lab.acme_row(&first);

    // 90-day certificates renew when fewer than 1000 days are left: always.
    let out = lab.lego(
        "lego",
        &[&base[..], &["renew", "--days", "1000", "--no-random-sleep"]].concat(),
        &[],
    );
    assert_ok(&out, &lab.server, "lego renew");
    let second = judge_cert(&ca, &cert, &["DNS:renew.test"]);
    assert_ne!(first, second, "lego renew kept the serial");
    let second_row = lab.acme_row(&second);
    assert_eq!(
        first_row["acme"]["account"], second_row["acme"]["account"],
        "the renewal came from another account"
    );
    assert_ne!(
        first_row["acme"]["order"], second_row["acme"]["order"],
        "the renewal reused the order"
    );
    served_by_openssl(lab.env.tmp.path(), &cert, &key, "renew.test", &ca);
    assert!(
        !lab.served_crl_serials().contains(&second),
        "listed before revocation"
    );

    let out = lab.lego("lego", &["--domains", "renew.test", "revoke"], &[]);
    assert_ok(&out, &lab.server, "lego revoke");
    // The server re-signs its CRL on revocation: no waiting for the 5 s upkeep.
    let serials = lab.served_crl_serials();
    assert!(
        serials.contains(&second),
        "/crl does not list the revoked {second}: {serials:?}\n{}",
        lab.server.log()
    );
    assert!(
        !serials.contains(&first),
        "/crl lists {first}, which was never revoked"
    );
    let row = lab.acme_row(&second);
    assert_eq!(
        row["status"], "revoked",
        "ledger row after revocation: {row:#}"
    );
}

/// With `--eab required`, lego without a binding stops (the directory requires EAB) and a
/// newAccount without one is refused with externalAccountRequired (python3-acme on the wire);
/// with the KID and HMAC key from `uca acme eab add --allow '*.eab.test'` it registers and
/// obtains a name the key allows, while a name outside the allow list is a rejectedIdentifier.
#[test]
fn lego_with_eab_obtains_only_the_names_its_key_allows() {
    let lab = AcmeLab::start(&["--eab", "required"]);
    let keyfile = lab.path("lego.eab");
    lab.env
        .uca()
        .args(["acme", "eab", "add", "lego-kid", "--allow", "*.eab.test"])
        .args(["--out", keyfile.utf8()])
        .assert()
        .success();
    let hmac = read_text(&keyfile).trim().to_string();
    let http = format!("127.0.0.1:{}", lab.http01);
    let ca = lab.ca_cert();

    let out = lab.lego(
        "lego-no-eab",
        &[
            "--domains",
            "a.eab.test",
            "--http",
            "--http.port",
            &http,
            "run",
        ],
        &[],
    );
    assert!(
        !out.status.success(),
        "registered without EAB:\n{}",
        out.all()
    );
    // lego reads meta.externalAccountRequired from the directory and stops before sending
    // newAccount (so do certbot, dehydrated and uacme); what lego proves is that the
    // directory says so.
    assert!(
        out.stderr
            .contains("Server requires External Account Binding"),
        "lego without EAB:\n{}",
        out.all()
    );
    let dir = curl(&lab.server.directory(), &ca, None, &[]);
    let dir: serde_json::Value = serde_json::from_str(&dir.stdout).expect("directory JSON");
    assert_eq!(dir["meta"]["externalAccountRequired"], true, "{dir:#}");
    // On the wire (python3-acme sends newAccount regardless): the server's own refusal.
    let problem = lab
        .register_without_eab()
        .expect_err("newAccount without EAB was accepted");
    assert_eq!(
        problem["type"], "urn:ietf:params:acme:error:externalAccountRequired",
        "{problem:#}"
    );
    let accounts = lab.env.json(&["acme", "accounts"]);
    assert_eq!(accounts["accounts"], serde_json::json!([]), "{accounts:#}");

    let eab = ["--eab", "--kid", "lego-kid", "--hmac", hmac.as_str()];
    let out = lab.lego(
        "lego",
        &[
            &eab[..],
            &[
                "--domains",
                "a.eab.test",
                "--http",
                "--http.port",
                &http,
                "run",
            ],
        ]
        .concat(),
        &[],
    );
    assert_ok(&out, &lab.server, "lego with EAB");
    let (cert, key) = lab.lego_files("lego", "a.eab.test");
    let serial = judge_cert(&ca, &cert, &["DNS:a.eab.test"]);
    served_by_openssl(lab.env.tmp.path(), &cert, &key, "a.eab.test", &ca);
    let account = lab.acme_row(&serial)["acme"]["account"].clone();
    let accounts = lab.env.json(&["acme", "accounts"]);
    let found = &accounts["accounts"][0];
    assert_eq!(found["id"], account, "{accounts:#}");
    assert_eq!(found["eab_kid"], "lego-kid", "{accounts:#}");

    let out = lab.lego(
        "lego",
        &[
            &eab[..],
            &[
                "--domains",
                "other.test",
                "--http",
                "--http.port",
                &http,
                "run",
            ],
        ]
        .concat(),
        &[],
    );
    assert!(
        !out.status.success(),
        "issued a name outside the allow list:\n{}",
        out.all()
    );
    assert!(
        out.stderr.contains("rejectedIdentifier"),
        "lego for a name outside the allow list:\n{}",
        out.all()
    );
    assert!(
        !lab.path("lego/certificates/other.test.crt").exists(),
        "a certificate for other.test was written"
    );
}

/// certbot against `--eab required`: registration without a binding is refused; `certonly
/// --standalone` with `--eab-kid/--eab-hmac-key` answers http-01 itself and obtains two names;
/// `certbot revoke` (by the account key) puts the serial on /crl.
#[test]
fn certbot_standalone_with_eab_then_revoke() {
    let lab = AcmeLab::start(&["--eab", "required"]);
    let keyfile = lab.path("certbot.eab");
    lab.env
        .uca()
        .args(["acme", "eab", "add", "certbot-kid", "--out", keyfile.utf8()])
        .assert()
        .success();
    let hmac = read_text(&keyfile).trim().to_string();
    let ca = lab.ca_cert();
    let port = lab.http01.to_string();
    let common = ["--agree-tos", "-m", EMAIL, "--no-eff-email"];

    // Like lego, certbot reads meta.externalAccountRequired and stops before newAccount.
    let out = lab.certbot("cb-no-eab", "register", &common);
    assert!(
        !out.status.success(),
        "certbot registered without EAB:\n{}",
        out.all()
    );
    assert!(
        out.all()
            .contains("Server requires external account binding"),
        "certbot register without EAB:\n{}",
        out.all()
    );

    let eab_hmac = format!("--eab-hmac-key={hmac}");
    let out = lab.certbot(
        "cb",
        "certonly",
        &[
            &common[..],
            // `--flag=VALUE`: a base64url key may start with '-', which argparse would read
            // as an option.
            &["--eab-kid=certbot-kid", eab_hmac.as_str()],
            &[
                "--standalone",
                "--http-01-port",
                &port,
                "--http-01-address",
                "127.0.0.1",
            ],
            &["-d", "web.test", "-d", "www.web.test"],
        ]
        .concat(),
    );
    assert_ok(&out, &lab.server, "certbot certonly --standalone");
    let live = lab.path("cb/conf/live/web.test");
    let cert = live.join("cert.pem");
    let serial = judge_cert(&ca, &cert, &["DNS:web.test", "DNS:www.web.test"]);
    served_by_openssl(
        lab.env.tmp.path(),
        &live.join("fullchain.pem"),
        &live.join("privkey.pem"),
        "www.web.test",
        &ca,
    );
    lab.acme_row(&serial);

    let out = lab.certbot(
        "cb",
        "revoke",
        &[
            "--cert-path",
            cert.utf8(),
            "--reason",
            "superseded",
            "--no-delete-after-revoke",
        ],
    );
    assert_ok(&out, &lab.server, "certbot revoke");
    let text = lab.served_crl_text();
    assert_eq!(
        crl_reason(&text, &serial).as_deref(),
        Some("Superseded"),
        "/crl does not list {serial} as superseded:\n{text}"
    );
    assert_eq!(lab.acme_row(&serial)["status"], "revoked");
}

/// uacme, the one Debian client that sends RFC 8738 IP identifiers: an account, a certificate
/// for 127.0.0.1 (http-01 through a hook writing into a webroot), account key rollover
/// (`newkey`; the old key no longer finds the account, the new one orders), revocation by the
/// certificate's own key and by the account key, and account deactivation (no more orders).
#[test]
fn uacme_ip_identifier_rollover_revoke_by_cert_key_and_deactivate() {
    let lab = AcmeLab::start(&[]);
    let ca = lab.ca_cert();
    let bundle = lab.system_bundle();
    let _www = Webroot::start(&lab.path("www"), lab.http01);
    let hook = lab.path("uacme-hook.sh");
    write_script(
        &hook,
        &format!(
            "#!/bin/sh\n\
             # METHOD TYPE IDENT TOKEN AUTH: only http-01 is accepted.\n\
             dir={}/.well-known/acme-challenge\n\
             [ \"$2\" = http-01 ] || exit 1\n\
             case \"$1\" in\n\
             \x20 begin) printf %s \"$5\" > \"$dir/$4\" ;;\n\
             \x20 *) rm -f \"$dir/$4\" ;;\n\
             esac\n",
            lab.path("www").display()
        ),
    );
    let conf = lab.path("ua");
    let c = conf.utf8();
    let h = hook.utf8();

    let out = lab.uacme(&bundle, &["-y", "-c", c, "new", EMAIL]);
    assert_ok(&out, &lab.server, "uacme new");

    let out = lab.uacme(&bundle, &["-c", c, "-h", h, "issue", "127.0.0.1"]);
    assert_ok(&out, &lab.server, "uacme issue 127.0.0.1");
    let cert = conf.join("127.0.0.1/cert.pem");
    let cert_key = conf.join("private/127.0.0.1/key.pem");
    let first = judge_cert(&ca, &cert, &["IP Address:127.0.0.1"]);
    served_by_openssl(lab.env.tmp.path(), &cert, &cert_key, "127.0.0.1", &ca);
    let account = lab.acme_row(&first)["acme"]["account"].clone();
    let first_cert = lab.path("ua-first.pem");
    std::fs::copy(&cert, &first_cert).unwrap();

    // Key rollover; a copy of the configuration keeps the old key.
    let old = lab.path("ua-old");
    std::fs::create_dir_all(old.join("private")).unwrap();
    std::fs::copy(conf.join("private/key.pem"), old.join("private/key.pem")).unwrap();
    let out = lab.uacme(&bundle, &["-c", c, "newkey"]);
    assert_ok(&out, &lab.server, "uacme newkey");
    assert_ne!(
        read_bytes(&conf.join("private/key.pem")),
        read_bytes(&old.join("private/key.pem")),
        "uacme newkey did not replace the account key"
    );
    // The old key no longer names an account (uacme looks it up with onlyReturnExisting).
    let out = lab.uacme(&bundle, &["-c", old.utf8(), "-h", h, "issue", "127.0.0.1"]);
    assert!(
        !out.status.success(),
        "the old account key still orders:\n{}",
        out.all()
    );
    assert!(
        out.stderr.contains("no account associated with"),
        "uacme with the old key:\n{}",
        out.all()
    );
    // The new key orders, as the same account.
    let out = lab.uacme(&bundle, &["-f", "-c", c, "-h", h, "issue", "127.0.0.1"]);
    assert_ok(&out, &lab.server, "uacme issue with the new key");
    let second = judge_cert(&ca, &cert, &["IP Address:127.0.0.1"]);
    assert_ne!(first, second);
    assert_eq!(
        lab.acme_row(&second)["acme"]["account"],
        account,
        "after rollover the order belongs to another account"
    );

    // Revocation signed by the certificate's key (no account involved), then by the account.
    let out = lab.uacme(
        &bundle,
        &["-c", c, "revoke", first_cert.utf8(), cert_key.utf8()],
    );
    assert_ok(&out, &lab.server, "uacme revoke CERT CERTKEY");
    let out = lab.uacme(&bundle, &["-c", c, "-r", "4", "revoke", cert.utf8()]);
    assert_ok(&out, &lab.server, "uacme revoke CERT (account key)");
    let serials = lab.served_crl_serials();
    for s in [&first, &second] {
        assert!(serials.contains(s), "/crl does not list {s}: {serials:?}");
        assert_eq!(lab.acme_row(s)["status"], "revoked");
    }

    // Deactivation: the account can no longer order.
    let out = lab.uacme(&bundle, &["-y", "-c", c, "deactivate"]);
    assert_ok(&out, &lab.server, "uacme deactivate");
    let out = lab.uacme(
        &bundle,
        &["-n", "-f", "-c", c, "-h", h, "issue", "127.0.0.1"],
    );
    assert!(
        !out.status.success(),
        "a deactivated account ordered:\n{}",
        out.all()
    );
    assert!(
        out.stderr
            .contains("urn:ietf:params:acme:error:unauthorized")
            && out.stderr.contains("deactivated"),
        "uacme with a deactivated account:\n{}",
        out.all()
    );
    let acme_rows = lab
        .ledger()
        .iter()
        .filter(|r| r["source"] == "acme")
        .count();
    assert_eq!(
        acme_rows, 2,
        "the deactivated account obtained a certificate"
    );
    let accounts = lab.env.json(&["acme", "accounts"]);
    let found = accounts["accounts"]
        .as_array()
        .expect("accounts[]")
        .iter()
        .find(|a| a["id"] == account)
        .unwrap_or_else(|| panic!("{account} is not listed: {accounts:#}"));
    assert_eq!(found["status"], "deactivated", "{found:#}");
}

/// dehydrated with http-01 through a webroot served on the validation port (account key RSA
/// 2048 instead of its default 4096, which alone takes seconds), then `dehydrated --revoke`.
#[test]
fn dehydrated_http01_webroot() {
    let lab = AcmeLab::start(&[]);
    let ca = lab.ca_cert();
    let www = Webroot::start(&lab.path("www"), lab.http01);
    let config = lab.path("dehydrated.conf");
    write(
        &config,
        format!(
            "CA=\"{}\"\n\
             CHALLENGETYPE=\"http-01\"\n\
             WELLKNOWN=\"{}/.well-known/acme-challenge\"\n\
             BASEDIR=\"{}\"\n\
             CONTACT_EMAIL=\"{EMAIL}\"\n\
             KEYSIZE=\"2048\"\n\
             KEY_ALGO=\"prime256v1\"\n\
             CURL_OPTS=\"--cacert {} --noproxy *\"\n",
            lab.server.directory(),
            www.root.display(),
            lab.path("dh").display(),
            ca.display()
        )
        .as_bytes(),
    );
    std::fs::create_dir_all(lab.path("dh")).unwrap();
    let dehydrated = |args: &[&str]| {
        let mut c = client_cmd("dehydrated", lab.env.tmp.path());
        c.args(["-f", config.utf8()]).args(args);
        finish(c, "dehydrated", ACME_CLIENT_TIMEOUT)
    };
    let out = dehydrated(&["--register", "--accept-terms"]);
    assert_ok(&out, &lab.server, "dehydrated --register");
    let out = dehydrated(&["-c", "-d", "dh.test", "-d", "www.dh.test"]);
    assert_ok(&out, &lab.server, "dehydrated -c");
    let dir = lab.path("dh/certs/dh.test");
    let serial = judge_cert(
        &ca,
        &dir.join("cert.pem"),
        &["DNS:dh.test", "DNS:www.dh.test"],
    );
    served_by_openssl(
        lab.env.tmp.path(),
        &dir.join("fullchain.pem"),
        &dir.join("privkey.pem"),
        "dh.test",
        &ca,
    );
    lab.acme_row(&serial);

    let out = dehydrated(&["--revoke", dir.join("cert.pem").utf8()]);
    assert_ok(&out, &lab.server, "dehydrated --revoke");
    let serials = lab.served_crl_serials();
    assert!(
        serials.contains(&serial),
        "/crl does not list {serial}: {serials:?}"
    );
}

/// Caddy as an ACME client: `acme_ca` pointing at uca serve and `acme_ca_root` at the CA; it
/// obtains a certificate for its site on its own (http-01 or tls-alpn-01 on the ports the
/// server validates) and serves it: curl trusting only the CA gets the site's answer.
///
/// Caddy 2.6.2 tries tls-alpn-01 first. Where the server rejects the critical acmeIdentifier
/// extension (see `lego_obtains_with_tlsalpn01`) that attempt fails and Caddy falls back to
/// http-01 within the same second, so this test passes either way.
#[test]
fn caddy_obtains_and_serves_its_certificate() {
    let lab = AcmeLab::start(&[]);
    let ca = lab.ca_cert();
    let data = lab.path("caddy-data");
    let caddyfile = lab.path("Caddyfile");
    write(
        &caddyfile,
        format!(
            "{{\n\
             \x20   admin off\n\
             \x20   skip_install_trust\n\
             \x20   http_port {}\n\
             \x20   https_port {}\n\
             \x20   default_bind 127.0.0.1\n\
             \x20   acme_ca {}\n\
             \x20   acme_ca_root {}\n\
             \x20   email {EMAIL}\n\
             \x20   storage file_system {{\n\
             \x20       root {}\n\
             \x20   }}\n\
             }}\n\
             cl.test {{\n\
             \x20   respond \"hi\"\n\
             }}\n",
            lab.http01,
            lab.tlsalpn01,
            lab.server.directory(),
            ca.display(),
            data.display()
        )
        .as_bytes(),
    );
    let log = lab.path("caddy.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut cmd = client_cmd("caddy", lab.env.tmp.path());
    cmd.env("XDG_CONFIG_HOME", lab.path("xdg-config"))
        .env("XDG_DATA_HOME", lab.path("xdg-data"))
        .args([
            "run",
            "--adapter",
            "caddyfile",
            "--config",
            caddyfile.utf8(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file);
    let _caddy = KillOnDrop(cmd.spawn().expect("cannot run caddy (is it installed?)"));

    let url = format!("https://cl.test:{}/", lab.tlsalpn01);
    let resolve = format!("cl.test:{}:127.0.0.1", lab.tlsalpn01);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = curl(&url, &ca, None, &["--resolve", &resolve]);
        if out.status.success() && out.stdout.trim() == "hi" {
            break;
        }
        if Instant::now() > deadline {
            panic!(
                "Caddy never served cl.test with a certificate from uca:\n{}\n--- caddy log:\n{}\n--- uca serve log:\n{}",
                out.all(),
                read_text(&log),
                lab.server.log()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }

    // The certificate Caddy stored: judged, and in the ledger.
    let cert = find_file(&data, "cl.test.crt")
        .unwrap_or_else(|| panic!("no cl.test.crt under {}", data.display()));
    let serial = judge_cert(&ca, &cert, &["DNS:cl.test"]);
    lab.acme_row(&serial);
}

/// The first file named `name` under `dir` (depth-first).
fn find_file(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let p = entry.ok()?.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}
