//! `uca revoke` and `uca crl`, judged by `openssl crl`, `openssl verify` and `openssl s_server -CRL`.

use crate::support::*;

use std::path::{Path, PathBuf};
use std::process::Output;

/// `uca revoke TARGET ARGS` without any passphrase in the environment.
fn revoke(env: &TempCa, target: &str, args: &[&str]) -> Output {
    env.uca()
        .arg("revoke")
        .arg(target)
        .args(args)
        .output()
        .expect("run uca revoke")
}

/// `uca revoke`, asserting exit 0.
fn revoke_ok(env: &TempCa, target: &str, args: &[&str]) -> String {
    let out = revoke(env, target, args);
    assert!(out.status.success(), "revoke {target}: {}", text(&out));
    stdout(&out)
}

/// `uca crl ARGS` with the passphrase, asserting success; returns the --json report.
fn crl_json(env: &TempCa, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["crl"];
    a.extend_from_slice(args);
    env.json(&a)
}

/// `openssl crl -text` of a CRL file (PEM unless `der`).
fn crl_text(crl: &Path, der: bool) -> String {
    let form = if der { "DER" } else { "PEM" };
    openssl(&["crl", "-inform", form, "-in", crl.utf8(), "-noout", "-text"])
}

/// The revoked entries of `openssl crl -text`: (uppercase serial, entry text).
fn crl_entries(text: &str) -> Vec<(String, String)> {
    let Some(start) = text.find("Revoked Certificates:") else {
        return Vec::new();
    };
    let section = &text[start..];
    let section = section
        .find("Signature Algorithm")
        .map_or(section, |end| &section[..end]);
    section
        .split("Serial Number:")
        .skip(1)
        .map(|e| {
            let serial = e.split_whitespace().next().unwrap_or_default().to_string();
            (serial, e.to_string())
        })
        .collect()
}

/// Seconds since the epoch of an OpenSSL date.
fn secs(date: &str) -> i64 {
    openssl_time(date).unix_timestamp()
}

/// The value of a `-field` line printed by `openssl crl -lastupdate -nextupdate -crlnumber`.
fn crl_field(crl: &Path, der: bool, flag: &str, key: &str) -> String {
    let form = if der { "DER" } else { "PEM" };
    let out = openssl(&["crl", "-inform", form, "-in", crl.utf8(), "-noout", flag]);
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {out}"))
        .trim()
        .to_string()
}

/// The CA certificate followed by the CRL, as `openssl verify -CAfile` takes both.
fn bundle(env: &TempCa, crl: &Path) -> PathBuf {
    let mut b = std::fs::read(env.ca_cert()).unwrap();
    b.extend(std::fs::read(crl).unwrap());
    let path = env.path("ca+crl.pem");
    std::fs::write(&path, b).unwrap();
    path
}

/// The value line of `openssl x509 -ext subjectKeyIdentifier` for the CA.
fn ca_ski(env: &TempCa) -> String {
    let out = openssl(&[
        "x509",
        "-in",
        env.ca_cert().utf8(),
        "-noout",
        "-ext",
        "subjectKeyIdentifier",
    ]);
    out.lines().nth(1).expect("SKI value").trim().to_string()
}

/// The CA's own ledger row (profile root).
fn ca_record(env: &TempCa) -> serde_json::Value {
    let list = env.json(&["list"]);
    list["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["profile"] == "root")
        .expect("root row")
        .clone()
}

/// OpenSSL verifies the CRL: v2, CRL number, AKI = CA SKI, now..+days dates, right reason codes.
#[test]
fn crl_is_signed_v2_with_number_aki_dates_and_reasons() {
    let env = TempCa::new();
    env.init(&[]);
    let bad = env.issue("rmq1", &[]).cert;
    let plain = env.issue("rmq2", &[]).cert;
    let good = env.issue("rmq3", &[]).cert;
    let out = revoke_ok(&env, "rmq1", &["--reason", "keyCompromise"]);
    assert!(
        out.contains("revoked rmq1") && out.contains("keyCompromise"),
        "{out}"
    );
    let rec = env.json(&["revoke", "rmq2"]);
    assert_eq!(rec["already"], false, "{rec}");
    assert_eq!(rec["record"]["status"], "revoked", "{rec}");
    assert_eq!(rec["record"]["revocation_reason"], "unspecified", "{rec}");
    assert_eq!(
        rec["record"]["serial"].as_str().unwrap(),
        serial_of(&plain).to_lowercase()
    );

    let before = now_unix();
    let report = crl_json(&env, &["--days", "10"]);
    let after = now_unix();
    let crl = env.ca_dir().join("crl.pem");
    assert_eq!(report["number"], 1, "{report}");
    assert_eq!(report["revoked"], 2, "{report}");
    assert_eq!(report["der"], false, "{report}");
    assert_eq!(Path::new(report["out"].as_str().unwrap()), crl, "{report}");
    assert!(
        std::fs::read_to_string(&crl)
            .unwrap()
            .starts_with("-----BEGIN X509 CRL-----")
    );

    // The signature verifies with the CA certificate.
    let v = openssl_crl_verify(&crl, &env.ca_cert(), false);
    assert!(
        v.status.success() && v.all().contains("verify OK"),
        "{}",
        v.all()
    );

    let t = crl_text(&crl, false);
    assert!(t.contains("Version 2 (0x1)"), "{t}");
    let (_, number) = extension(&t, "X509v3 CRL Number").expect("CRL number");
    assert_eq!(number, "1", "{t}");
    let (_, aki) = extension(&t, "X509v3 Authority Key Identifier").expect("AKI");
    let aki = aki.trim_start_matches("keyid:").to_string();
    assert_eq!(aki, ca_ski(&env), "AKI must be the CA's SKI:\n{t}");
    let issuer = crl_field(&crl, false, "-issuer", "issuer");
    let subject = openssl(&["x509", "-in", env.ca_cert().utf8(), "-noout", "-subject"]);
    assert_eq!(
        format!("subject={issuer}"),
        subject.trim(),
        "CRL issuer = CA subject"
    );

    // thisUpdate is now, nextUpdate exactly --days later.
    let last = secs(&crl_field(&crl, false, "-lastupdate", "lastUpdate"));
    let next = secs(&crl_field(&crl, false, "-nextupdate", "nextUpdate"));
    assert!(
        last >= before - 1 && last <= after + 1,
        "lastUpdate {last} not now ({before}..{after})"
    );
    assert_eq!(
        next - last,
        10 * 86_400,
        "nextUpdate = lastUpdate + 10 days"
    );
    assert!(next > now_unix());

    let entries = crl_entries(&t);
    assert_eq!(entries.len(), 2, "{t}");
    let e_bad = entries
        .iter()
        .find(|(sn, _)| *sn == serial_of(&bad))
        .expect("rmq1 listed");
    assert!(e_bad.1.contains("X509v3 CRL Reason Code"), "{}", e_bad.1);
    assert!(e_bad.1.contains("Key Compromise"), "{}", e_bad.1);
    let e_plain = entries
        .iter()
        .find(|(sn, _)| *sn == serial_of(&plain))
        .expect("rmq2 listed");
    assert!(
        !e_plain.1.contains("Reason Code"),
        "unspecified must carry no reasonCode extension (RFC 5280 5.3.1):\n{}",
        e_plain.1
    );
    assert!(
        !t.contains(&serial_of(&good)),
        "the good certificate is not listed:\n{t}"
    );

    // OpenSSL's verifier agrees on the validity window: fine just before nextUpdate, "CRL has
    // expired" just after it, "CRL is not yet valid" before thisUpdate.
    let b = bundle(&env, &crl);
    for (at, expect) in [
        (next - 60, None),
        (next + 60, Some("CRL has expired")),
        (last - 3600, Some("CRL is not yet valid")),
    ] {
        let attime = at.to_string();
        let (ok, v) = openssl_verify(&b, &["-crl_check", "-attime", &attime], &good);
        match expect {
            None => assert!(ok, "at {at}: {v}"),
            Some(msg) => assert!(!ok && v.contains(msg), "at {at}: {v}"),
        }
    }
}

/// Every CA key type (EC P-256/P-384, Ed25519, RSA) signs CRLs that OpenSSL verifies and enforces.
#[test]
fn crl_signature_verifies_for_every_ca_key_type() {
    for key in ["ec-p256", "ec-p384", "ed25519", "rsa-2048"] {
        let env = TempCa::new();
        env.init_plain(&["--key", key]);
        let cert = env.issue("app", &[]).cert;
        revoke_ok(&env, "app", &["--reason", "keyCompromise"]);
        env.uca().arg("crl").assert().success();
        let crl = env.ca_dir().join("crl.pem");
        let v = openssl_crl_verify(&crl, &env.ca_cert(), false);
        assert!(
            v.status.success() && v.all().contains("verify OK"),
            "{key}: {}",
            v.all()
        );
        let t = crl_text(&crl, false);
        let (_, aki) = extension(&t, "X509v3 Authority Key Identifier").expect("AKI");
        assert_eq!(aki.trim_start_matches("keyid:"), ca_ski(&env), "{key}");
        let (ok, v) = openssl_verify(&bundle(&env, &crl), &["-crl_check"], &cert);
        assert!(!ok && v.contains("certificate revoked"), "{key}: {v}");
    }
}

/// `openssl verify -crl_check`/`-crl_check_all` rejects the revoked cert and accepts a good one.
#[test]
fn openssl_verify_crl_check_rejects_revoked_accepts_good() {
    let env = TempCa::new();
    env.init(&[]);
    let bad = env.issue("web1", &["--profile", "server"]).cert;
    let good = env.issue("web2", &["--profile", "server"]).cert;
    let old = env.path("before.pem");
    crl_json(&env, &["--out", old.utf8()]);
    revoke_ok(&env, "web1", &["--reason", "keyCompromise"]);
    crl_json(&env, &[]);
    let crl = env.ca_dir().join("crl.pem");
    let b = bundle(&env, &crl);
    for flag in ["-crl_check", "-crl_check_all"] {
        let (ok, v) = openssl_verify(&b, &[flag], &bad);
        assert!(!ok, "{flag}: revoked certificate accepted: {v}");
        assert!(v.contains("certificate revoked"), "{flag}: {v}");
        assert!(v.contains("error 23"), "{flag}: {v}");
        let (ok, v) = openssl_verify(&b, &[flag], &good);
        assert!(
            ok && v.contains(": OK"),
            "{flag}: good certificate refused: {v}"
        );
        // Also with the CRL given separately.
        let (ok, v) = openssl_try(&[
            "verify",
            "-no-CApath",
            "-no-CAstore",
            "-CAfile",
            env.ca_cert().utf8(),
            "-CRLfile",
            crl.utf8(),
            flag,
            bad.utf8(),
        ]);
        assert!(!ok && v.contains("certificate revoked"), "{flag}: {v}");
    }
    // Without any CRL, -crl_check fails closed ("unable to get certificate CRL"), so the
    // results above really come from uca's CRL.
    let (ok, v) = openssl_verify(&env.ca_cert(), &["-crl_check"], &good);
    assert!(!ok && v.contains("unable to get certificate CRL"), "{v}");
    // The CRL from before the revocation does not list it.
    let b_old = bundle(&env, &old);
    let (ok, v) = openssl_verify(&b_old, &["-crl_check"], &bad);
    assert!(ok, "{v}");
}

// ---------------------------------------------------------------------------------------------
// A real TLS server that checks client certificates against the CRL.

/// `openssl s_server -www` as `rmq1`, requiring a client certificate from `ca` checked against
/// `crl` (`-CRL FILE -crl_check`).
fn crl_server(env: &TempCa, rmq1: &Issued, ca: &Path, crl: &Path) -> OpensslServer {
    OpensslServer::start(
        env.tmp.path(),
        rmq1,
        Some(ca),
        &["-CRL", crl.utf8(), "-crl_check"],
    )
}

/// `openssl s_server -CRL -crl_check` refuses a revoked client cert and serves a good one.
#[test]
fn tls_server_with_crl_refuses_revoked_client() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let rmq1 = env.issue("rmq1", &["--profile", "server"]);
    let agent = env.issue("agent", &["--profile", "client"]);
    let thief = env.issue("thief", &["--profile", "client"]);
    let ca = env.ca_cert();
    let before = env.path("before.pem");
    env.uca()
        .args(["crl", "--out", before.utf8()])
        .assert()
        .success();
    revoke_ok(&env, "thief", &["--reason", "keyCompromise"]);
    env.uca().arg("crl").assert().success();
    let crl = env.ca_dir().join("crl.pem");

    let server = crl_server(&env, &rmq1, &ca, &crl);
    for version in ["-tls1_3", "-tls1_2"] {
        let ok = server.s_client(&agent, &ca, "rmq1", version, &[]);
        let ctx = || format!("{}\n--- server log:\n{}", ok.all(), server.log());
        assert!(ok.status.success(), "{}", ctx());
        let page = ok
            .www_page()
            .unwrap_or_else(|| panic!("no page for the good client: {}", ctx()));
        assert!(page.contains("Subject: CN=agent"), "{}", ctx());
        assert!(page.contains("Verify return code: 0 (ok)"), "{}", ctx());

        let no = server.s_client(&thief, &ca, "rmq1", version, &[]);
        let ctx = || format!("{}\n--- server log:\n{}", no.all(), server.log());
        assert!(!no.status.success(), "revoked client accepted: {}", ctx());
        assert!(no.www_page().is_none(), "revoked client served: {}", ctx());
        server.wait_log(&no, "verify error:num=23:certificate revoked");
        assert!(
            no.stderr.contains("alert certificate revoked"),
            "client did not get the certificate_revoked alert: {}",
            ctx()
        );
    }
    drop(server);

    // Control: with the CRL from before the revocation, the same client is served.
    let old = crl_server(&env, &rmq1, &ca, &before);
    let out = old.s_client(&thief, &ca, "rmq1", "-tls1_3", &[]);
    assert!(
        out.status.success() && out.www_page().is_some_and(|p| p.contains("CN=thief")),
        "{}\n--- server log:\n{}",
        out.all(),
        old.log()
    );
}

/// CRL numbers grow 1, 2, 3, 4; `--der --out FILE` writes a DER CRL that OpenSSL verifies.
#[test]
fn crl_numbers_grow_and_der_out_parses() {
    let env = TempCa::new();
    env.init(&[]);
    let cert = env.issue("app", &[]).cert;
    revoke_ok(&env, "app", &["--reason", "superseded"]);
    let crl = env.ca_dir().join("crl.pem");
    for n in 1..=2 {
        let r = crl_json(&env, &[]);
        assert_eq!(r["number"], n, "{r}");
        assert_eq!(
            crl_field(&crl, false, "-crlnumber", "crlNumber"),
            format!("0x{n:02X}")
        );
    }
    let pem_before = std::fs::read(&crl).unwrap();
    let der = env.path("out/ca.crl");
    std::fs::create_dir(env.path("out")).unwrap();
    let r = crl_json(&env, &["--der", "--out", der.utf8(), "--days", "30"]);
    assert_eq!(r["number"], 3, "{r}");
    assert_eq!(r["der"], true, "{r}");
    assert_eq!(r["revoked"], 1, "{r}");
    assert_eq!(Path::new(r["out"].as_str().unwrap()), der);
    assert_eq!(
        std::fs::read(&crl).unwrap(),
        pem_before,
        "--out must not touch DIR/crl.pem"
    );
    let bytes = std::fs::read(&der).unwrap();
    assert_eq!(bytes[0], 0x30, "DER starts with a SEQUENCE");
    assert!(!bytes.starts_with(b"-----"), "not PEM");
    assert_eq!(crl_field(&der, true, "-crlnumber", "crlNumber"), "0x03");
    let v = openssl_crl_verify(&der, &env.ca_cert(), true);
    assert!(
        v.status.success() && v.all().contains("verify OK"),
        "{}",
        v.all()
    );
    let t = crl_text(&der, true);
    let entries = crl_entries(&t);
    assert_eq!(entries.len(), 1, "{t}");
    assert_eq!(entries[0].0, serial_of(&cert));
    assert!(entries[0].1.contains("Superseded"), "{t}");
    let last = secs(&crl_field(&der, true, "-lastupdate", "lastUpdate"));
    let next = secs(&crl_field(&der, true, "-nextupdate", "nextUpdate"));
    assert_eq!(next - last, 30 * 86_400);
    // A fourth run keeps counting, whatever the output.
    assert_eq!(crl_json(&env, &[])["number"], 4);
    assert_eq!(crl_field(&crl, false, "-crlnumber", "crlNumber"), "0x04");
}

/// Revoking twice is an exit-0 no-op listed once in the CRL; serials work in OpenSSL's colon forms.
#[test]
fn revoke_twice_is_a_noop_and_serials_in_openssl_forms() {
    let env = TempCa::new();
    env.init(&[]);
    let a = env.issue("alpha", &[]).cert;
    let b = env.issue("beta", &[]).cert;
    let c = env.issue("gamma", &[]).cert;
    revoke_ok(&env, "alpha", &["--reason", "keyCompromise"]);
    let snap = snapshot(&env.ca_dir());
    let out = revoke(&env, "alpha", &["--reason", "affiliationChanged"]);
    assert!(out.status.success(), "{}", text(&out));
    let o = stdout(&out);
    assert!(
        o.contains("was already revoked") && o.contains("nothing changed"),
        "{}",
        text(&out)
    );
    assert!(o.contains("keyCompromise"), "first reason kept: {o}");
    let j = env.json(&["revoke", "alpha"]);
    assert_eq!(j["already"], true, "{j}");
    assert_eq!(j["record"]["revocation_reason"], "keyCompromise", "{j}");
    assert!(
        snapshot(&env.ca_dir()) == snap,
        "a repeated revoke changed the CA directory"
    );

    // Uppercase with colons, as built from `openssl x509 -serial`.
    let sb = serial_of(&b);
    let colon_upper: String = sb
        .as_bytes()
        .chunks(2)
        .map(|p| std::str::from_utf8(p).unwrap())
        .collect::<Vec<_>>()
        .join(":");
    let out = revoke_ok(&env, &colon_upper, &["--reason", "cessationOfOperation"]);
    assert!(out.contains("revoked beta"), "{out}");
    // Lowercase with colons, as `openssl x509 -text` prints it.
    let xt = x509_text(&c);
    let colon_lower = xt
        .lines()
        .skip_while(|l| !l.contains("Serial Number:"))
        .nth(1)
        .expect("serial line")
        .trim()
        .to_string();
    assert!(colon_lower.contains(':'), "{colon_lower}");
    let out = revoke_ok(&env, &colon_lower, &[]);
    assert!(out.contains("revoked gamma"), "{out}");
    // And the plain uppercase form names the same, already revoked, certificate.
    let out = revoke_ok(&env, &sb, &[]);
    assert!(out.contains("already revoked"), "{out}");

    crl_json(&env, &[]);
    let t = crl_text(&env.ca_dir().join("crl.pem"), false);
    let entries = crl_entries(&t);
    assert_eq!(entries.len(), 3, "{t}");
    for (cert, reason) in [
        (&a, Some("Key Compromise")),
        (&b, Some("Cessation Of Operation")),
        (&c, None),
    ] {
        let sn = serial_of(cert);
        assert_eq!(
            entries.iter().filter(|(x, _)| *x == sn).count(),
            1,
            "{sn} listed once:\n{t}"
        );
        let e = &entries.iter().find(|(x, _)| *x == sn).unwrap().1;
        match reason {
            Some(r) => assert!(e.contains(r), "{sn}: {r}:\n{e}"),
            None => assert!(!e.contains("Reason Code"), "{e}"),
        }
    }
}

/// Bad revoke/crl input exits 2 (with hint) or 6 (wrong passphrase) and changes nothing.
#[test]
fn bad_revoke_and_crl_input_changes_nothing() {
    let env = TempCa::new();
    env.init(&[]);
    env.issue("rmq1", &[]);
    crl_json(&env, &[]);
    let ca_row = ca_record(&env);
    let ca_name = ca_row["name"].as_str().unwrap().to_string();
    let ca_serial = ca_row["serial"].as_str().unwrap().to_string();
    let snap = snapshot(&env.ca_dir());

    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["rmq1".into(), "--reason".into(), "stolen".into()],
            "unknown revocation reason",
        ),
        (
            vec!["rmq1".into(), "--reason".into(), "KEYCOMPROMISE!".into()],
            "keyCompromise",
        ),
        (vec!["nosuch".into()], "nosuch"),
        (
            vec!["0123456789abcdef0123456789abcdef".into()],
            "0123456789abcdef",
        ),
        (vec![ca_name.clone()], "CA's own certificate"),
        (vec![ca_serial.clone()], "CA's own certificate"),
    ];
    for (args, needle) in cases {
        let out = env
            .uca()
            .arg("revoke")
            .args(&args)
            .output()
            .expect("run uca");
        assert_eq!(
            out.status.code(),
            Some(2),
            "revoke {args:?}: {}",
            text(&out)
        );
        let e = stderr(&out);
        assert!(e.contains("error:"), "revoke {args:?}: {}", text(&out));
        assert!(e.contains("hint:"), "revoke {args:?}: {}", text(&out));
        assert!(e.contains(needle), "revoke {args:?}: {}", text(&out));
        assert!(
            snapshot(&env.ca_dir()) == snap,
            "revoke {args:?} changed the CA directory"
        );
    }

    let out = env
        .uca_pass()
        .args(["crl", "--days", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("--days"), "{}", text(&out));
    assert!(
        snapshot(&env.ca_dir()) == snap,
        "crl --days 0 changed the CA"
    );

    let out = env
        .uca()
        .env("UCA_PASSPHRASE", "not the passphrase at all")
        .arg("crl")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        snapshot(&env.ca_dir()) == snap,
        "crl with a wrong passphrase changed the CA"
    );

    let pf = env.path("wrong.pass");
    std::fs::write(&pf, "wrong wrong wrong\n").unwrap();
    let out = env
        .uca()
        .args(["crl", "--passphrase-file", pf.utf8()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        snapshot(&env.ca_dir()) == snap,
        "crl --passphrase-file wrong changed the CA"
    );

    // The next good CRL is number 2: nothing above consumed a number.
    assert_eq!(crl_json(&env, &[])["number"], 2);
}
