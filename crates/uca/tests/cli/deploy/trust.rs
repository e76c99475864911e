//! `uca trust`: the CA lands in (and leaves) the system store, an NSS database and a Java
//! keystore, and clients that use the system store trust uca certificates exactly while it is
//! installed. Runs as root (CI does); the system store is restored even when the test fails.

use crate::support::*;

/// Uninstalls from the system store on drop, so a failing test never leaves the CA trusted.
struct Installed<'a>(&'a TempCa);

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        let _ = self.0.uca().args(["trust", "uninstall"]).output();
    }
}

fn state(v: &serde_json::Value, target_prefix: &str) -> String {
    v["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"].as_str().unwrap().starts_with(target_prefix))
        .map(|t| t["state"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no target {target_prefix} in {v}"))
}

/// Install makes curl trust a uca server without --cacert; uninstall takes that back.
#[test]
fn system_store_install_and_uninstall() {
    let env = TempCa::new();
    env.init_plain(&["--name", "uca trust test"]);
    let web1 = env.issue("web1", &["--san", "127.0.0.1", "--profile", "server"]);
    let server = OpensslServer::start(env.tmp.path(), &web1, None, &[]);
    let port = server.port();
    let url = format!("https://127.0.0.1:{port}/");
    let curl = || {
        run(
            "curl",
            &[
                "-s",
                "-o",
                "/dev/null",
                "--max-time",
                "10",
                "-w",
                "%{http_code}",
                &url,
            ],
        )
    };

    assert_ne!(
        String::from_utf8_lossy(&curl().stdout),
        "200",
        "not trusted before install"
    );
    let _guard = Installed(&env);
    let v = env.json(&["trust", "install"]);
    assert_eq!(state(&v, "system"), "installed", "{v}");
    assert_eq!(state(&env.json(&["trust", "status"]), "system"), "present");
    assert_eq!(
        String::from_utf8_lossy(&curl().stdout),
        "200",
        "trusted after install"
    );
    // Installing twice is harmless.
    assert_eq!(
        state(&env.json(&["trust", "install"]), "system"),
        "installed"
    );

    let v = env.json(&["trust", "uninstall"]);
    assert_eq!(state(&v, "system"), "removed", "{v}");
    let after = curl();
    assert_eq!(
        after.status.code(),
        Some(60),
        "untrusted after uninstall: {}",
        String::from_utf8_lossy(&after.stdout)
    );
    assert_eq!(state(&env.json(&["trust", "status"]), "system"), "absent");
    drop(server);
}

/// A Java keystore and an NSS database get the CA as a trusted entry, and lose it again.
#[test]
fn java_keystore_and_nss_database() {
    let env = TempCa::new();
    env.init_plain(&["--name", "uca trust java nss"]);
    let ks = env.path("cacerts.p12");
    let nss = env.path("nssdb");
    std::fs::create_dir(&nss).unwrap();
    let db = format!("sql:{}", nss.display());
    let made = run("certutil", &["-N", "-d", &db, "--empty-password"]);
    assert!(
        made.status.success(),
        "certutil is needed (run the README's test command)"
    );
    let ks_s = ks.display().to_string();
    let nss_s = nss.display().to_string();
    let call = |action: &str| {
        env.json(&[
            "trust",
            action,
            "--target",
            "java",
            "--target",
            "nss",
            "--java-keystore",
            &ks_s,
            "--nss-db",
            &nss_s,
        ])
    };
    let v = call("install");
    assert!(
        v["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["target"] != "system"),
        "{v}"
    );
    assert_eq!(state(&v, "java"), "installed", "{v}");
    assert_eq!(state(&v, "nss"), "installed", "{v}");
    let list = run(
        "keytool",
        &[
            "-list",
            "-v",
            "-keystore",
            ks.utf8(),
            "-storepass",
            "changeit",
        ],
    );
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("trustedCertEntry") && text.contains("uca trust java nss"),
        "{text}"
    );
    let nss_list =
        String::from_utf8_lossy(&run("certutil", &["-L", "-d", &db]).stdout).into_owned();
    assert!(nss_list.contains("uca-uca-trust-java-nss"), "{nss_list}");
    assert!(
        nss_list
            .lines()
            .any(|l| l.contains("uca-uca-trust-java-nss") && l.trim_end().ends_with("C,,")),
        "{nss_list}"
    );

    let v = call("status");
    assert_eq!(state(&v, "java"), "present");
    assert_eq!(state(&v, "nss"), "present");
    let v = call("uninstall");
    assert_eq!(state(&v, "java"), "removed", "{v}");
    assert_eq!(state(&v, "nss"), "removed", "{v}");
    let v = call("status");
    assert_eq!(state(&v, "java"), "absent");
    assert_eq!(state(&v, "nss"), "absent");
}

/// Without a keystore or NSS database those targets say why they were skipped.
#[test]
fn targets_say_why_they_are_skipped() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let out = env
        .uca()
        .env("HOME", env.path("nohome"))
        .args(["trust", "status"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("no --java-keystore given"), "{text}");
    assert!(text.contains("no NSS database found"), "{text}");
}
