//! `uca plan` and `uca apply`: declarative plans diffed against the ledger and the output files, converged, judged by openssl and by the bytes on disk.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::*;

const P12_PASS: &str = "p12 secret";

/// Two `rmq` instances (HAProxy's shared directory plus one PEM directory each) and a `web`
/// server behind nginx.
const BASE: &str = r#"
[[component]]
name = "rmq"
count = 2
sans = ["rmq.svc.internal"]
  [[component.output]]
  format = "haproxy"
  path = "out/haproxy"
  [[component.output]]
  format = "pem-dir"
  path = "out/pem/{name}"

[[component]]
name = "web"
profile = "server"
sans = ["web.example.org"]
  [[component.output]]
  format = "nginx"
  path = "out/nginx"
"#;

/// Bytes a command printed, as text.
fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A CA in `pki/` and a plan file in `conf/` (so relative output paths land in `conf/out/`,
/// not in the working directory).
struct Setup {
    env: TempCa,
    plan: PathBuf,
}

impl Setup {
    /// An empty temp dir with the plan written, and no CA yet.
    fn bare(plan: &str) -> Setup {
        let env = TempCa::new();
        std::fs::create_dir_all(env.path("conf")).unwrap();
        let plan_path = env.path("conf/uca.plan.toml");
        let s = Setup {
            env,
            plan: plan_path,
        };
        s.write(plan);
        s
    }

    /// Same, with an unencrypted CA (fast).
    fn new(plan: &str) -> Setup {
        let s = Setup::bare(plan);
        s.env.init_plain(&[]);
        s
    }

    fn write(&self, plan: &str) {
        std::fs::write(&self.plan, plan).unwrap();
    }

    /// A path under `conf/out/`.
    fn out(&self, rel: &str) -> PathBuf {
        self.env.path("conf/out").join(rel)
    }

    /// `uca plan FILE` as normalized diff lines ("+ issue rmq1 (no certificate yet)").
    fn plan_lines(&self) -> Vec<String> {
        let out = self.env.uca().arg("plan").arg(&self.plan).output().unwrap();
        assert!(
            out.status.success(),
            "uca plan failed: {}",
            lossy(&out.stderr)
        );
        lines(&lossy(&out.stdout))
    }

    /// `uca --json plan FILE`.
    fn plan_json(&self) -> serde_json::Value {
        self.env.json(&["plan", self.plan.utf8()])
    }

    /// `uca apply FILE --yes ARGS`, asserting success.
    fn apply(&self, extra: &[&str]) -> Output {
        let out = self
            .env
            .uca()
            .arg("apply")
            .arg(&self.plan)
            .arg("--yes")
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "uca apply {extra:?} failed ({}):\n{}\n{}",
            out.status,
            lossy(&out.stdout),
            lossy(&out.stderr)
        );
        out
    }

    /// The current (issued, from `uca issue`/apply) ledger row of every NAME.
    fn current(&self) -> BTreeMap<String, serde_json::Value> {
        self.env
            .ledger()
            .into_iter()
            .filter(|r| r["status"] == "issued" && r["source"] == "issue")
            .map(|r| (r["name"].as_str().unwrap().to_string(), r))
            .collect()
    }

    /// NAME → serial of the current certificate.
    fn serials(&self) -> BTreeMap<String, String> {
        self.current()
            .into_iter()
            .map(|(n, r)| (n, r["serial"].as_str().unwrap().to_string()))
            .collect()
    }

    fn serial(&self, name: &str) -> String {
        self.current()[name]["serial"].as_str().unwrap().to_string()
    }
}

/// Diff output with runs of spaces collapsed, so the column padding does not matter.
fn lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

fn summary(
    issue: usize,
    renew: usize,
    reissue: usize,
    re_export: usize,
    removed: usize,
    unchanged: usize,
) -> String {
    format!(
        "{issue} to issue, {renew} to renew, {reissue} to reissue, {re_export} to re-export, {removed} removed, {unchanged} unchanged"
    )
}

/// The inode of every file under `dir`: `write_files` renames a fresh file into place, so a
/// rewritten file gets a new inode even when its bytes are the same.
fn inodes(dir: &Path) -> BTreeMap<PathBuf, u64> {
    snapshot(dir)
        .into_keys()
        .filter(|p| p.is_file())
        .map(|p| {
            let ino = std::fs::metadata(&p).unwrap().ino();
            (p, ino)
        })
        .collect()
}

/// Paths whose inode changed (or that appeared) between two `inodes` calls.
fn rewritten(before: &BTreeMap<PathBuf, u64>, after: &BTreeMap<PathBuf, u64>) -> Vec<PathBuf> {
    after
        .iter()
        .filter(|(p, ino)| before.get(*p) != Some(*ino))
        .map(|(p, _)| p.clone())
        .collect()
}

/// The PEM blocks of a file, as (label, whole block).
fn pem_blocks(data: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur: Option<(String, String)> = None;
    for l in data.lines() {
        if let Some(label) = l
            .strip_prefix("-----BEGIN ")
            .and_then(|r| r.strip_suffix("-----"))
        {
            cur = Some((label.to_string(), format!("{l}\n")));
        } else if let Some((label, mut block)) = cur.take() {
            block.push_str(l);
            block.push('\n');
            if l.starts_with("-----END ") {
                out.push((label, block));
            } else {
                cur = Some((label, block));
            }
        }
    }
    out
}

/// The certificate's serial in the ledger's form (lower-case hex).
fn ledger_serial(cert: &Path) -> String {
    serial_of(cert).to_lowercase()
}

/// openssl's subjectAltName line of a certificate.
fn san_text(cert: &Path) -> String {
    openssl(&[
        "x509",
        "-in",
        cert.utf8(),
        "-noout",
        "-ext",
        "subjectAltName",
    ])
}

/// `openssl verify -CAfile ca cert` says OK.
fn assert_verifies(ca: &Path, cert: &Path) {
    let out = openssl(&["verify", "-CAfile", ca.utf8(), cert.utf8()]);
    assert!(out.trim().ends_with(": OK"), "{out}");
}

/// A PEM directory holds the five files, with the key matching the certificate that chains to
/// the CA and is the ledger's current one for NAME.
fn assert_pem_dir(st: &Setup, dir: &Path, name: &str) {
    for f in [
        "cert.pem",
        "key.pem",
        "chain.pem",
        "fullchain.pem",
        "ca.pem",
    ] {
        assert!(dir.join(f).is_file(), "{} missing", dir.join(f).display());
    }
    assert_eq!(
        read_text(&dir.join("cert.pem")),
        read_text(&st.env.issued(name, "cert.pem"))
    );
    assert_eq!(read_text(&dir.join("ca.pem")), read_text(&st.env.ca_cert()));
    assert_verifies(&st.env.ca_cert(), &dir.join("cert.pem"));
    assert_verifies(&dir.join("ca.pem"), &dir.join("cert.pem"));
    assert_eq!(
        key_pubkey(&dir.join("key.pem")),
        cert_pubkey(&dir.join("cert.pem"))
    );
    assert_eq!(ledger_serial(&dir.join("cert.pem")), st.serial(name));
    let full = read_text(&dir.join("fullchain.pem"));
    assert_eq!(
        full,
        format!(
            "{}{}",
            read_text(&dir.join("cert.pem")),
            read_text(&dir.join("chain.pem"))
        )
    );
}

/// HAProxy's NAME.pem holds the current certificate, then the chain, then the matching key.
fn assert_haproxy_pem(st: &Setup, file: &Path, name: &str) {
    let blocks = pem_blocks(&read_text(file));
    let labels: Vec<&str> = blocks.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels.len(), 3, "{labels:?} in {}", file.display());
    assert_eq!(labels[0], "CERTIFICATE");
    assert_eq!(labels[1], "CERTIFICATE");
    assert!(labels[2].ends_with("PRIVATE KEY"), "{labels:?}");
    assert_eq!(blocks[0].1, read_text(&st.env.issued(name, "cert.pem")));
    assert_eq!(blocks[1].1, read_text(&st.env.ca_cert()));
    // openssl reads the first certificate and the key from the same file.
    assert_eq!(key_pubkey(file), cert_pubkey(file));
    assert_eq!(ledger_serial(file), st.serial(name));
    assert_verifies(&st.env.ca_cert(), file);
}

/// `apply --init` from nothing: the CA from `[ca]`, every instance issued, every output written (relative to the plan) with its modes.
#[test]
fn apply_init_from_scratch_issues_and_writes_everything() {
    let plan = r#"
[ca]
name = "Plan Test CA"
subject = "O=Acme,C=US"
key = "ec-p384"
days = 1000

[[component]]
name = "rmq"
count = 3
sans = ["rmq.svc.internal"]
  [[component.output]]
  format = "haproxy"
  path = "out/haproxy"
  [[component.output]]
  format = "pem-dir"
  path = "out/pem/{name}"
  key_mode = "0400"
  cert_mode = "0640"
  dir_mode = "0750"

[[component]]
name = "web"
profile = "server"
sans = ["web.example.org", "10.0.0.7"]
  [[component.output]]
  format = "nginx"
  path = "out/nginx"
  [[component.output]]
  format = "volume"
  path = "out/vol/web"
  key_mode = "0440"
"#;
    let st = Setup::bare(plan);
    let out = st
        .env
        .uca_pass()
        .arg("apply")
        .arg(&st.plan)
        .args(["--yes", "--init"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let stdout = lines(&lossy(&out.stdout));
    for n in ["rmq1", "rmq2", "rmq3", "web"] {
        assert!(
            stdout.contains(&format!("+ issue {n} (no certificate yet)")),
            "{stdout:?}"
        );
    }
    assert!(stdout.contains(&summary(4, 0, 0, 0, 0, 0)), "{stdout:?}");
    let stderr = lossy(&out.stderr);
    assert!(stderr.lines().any(|l| l == "issue: 4/4"), "{stderr}");
    assert!(stderr.lines().any(|l| l == "export: 8/8"), "{stderr}");
    // Outputs resolve against the plan file's directory, not the working directory.
    assert!(!st.env.path("out").exists());

    // The CA, as [ca] asked: encrypted key, P-384, the name and subject, 1000 days.
    let ca = st.env.ca_cert();
    let ca_text = x509_text(&ca);
    assert!(ca_text.contains("CN = Plan Test CA"), "{ca_text}");
    assert!(ca_text.contains("O = Acme"), "{ca_text}");
    assert!(
        ca_text.contains("P-384") || ca_text.contains("secp384r1"),
        "{ca_text}"
    );
    assert!(
        run(
            "openssl",
            &[
                "x509",
                "-in",
                ca.utf8(),
                "-noout",
                "-checkend",
                &(999 * 86400).to_string()
            ]
        )
        .status
        .success()
    );
    assert!(
        !run(
            "openssl",
            &[
                "x509",
                "-in",
                ca.utf8(),
                "-noout",
                "-checkend",
                &(1001 * 86400).to_string()
            ]
        )
        .status
        .success()
    );
    let key = read_text(&st.env.ca_dir().join("private/ca.key"));
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{key}"
    );

    // The ledger: four current certificates with the SAN rules and the plan's SANs.
    let cur = st.current();
    assert_eq!(
        cur.keys().collect::<Vec<_>>(),
        ["rmq1", "rmq2", "rmq3", "web"]
    );
    assert_eq!(
        cur["rmq2"]["sans"],
        serde_json::json!(["DNS:rmq2", "DNS:rmq", "DNS:rmq.svc.internal"])
    );
    assert_eq!(cur["rmq2"]["profile"], "both");
    assert_eq!(cur["web"]["profile"], "server");
    assert_eq!(
        cur["web"]["sans"],
        serde_json::json!(["DNS:web", "DNS:web.example.org", "IP:10.0.0.7"])
    );

    // HAProxy: one shared directory of NAME.pem files plus ca.pem.
    for n in ["rmq1", "rmq2", "rmq3"] {
        let f = st.out(&format!("haproxy/{n}.pem"));
        assert_haproxy_pem(&st, &f, n);
        assert_eq!(mode(&f), 0o600);
    }
    assert_eq!(read_text(&st.out("haproxy/ca.pem")), read_text(&ca));
    assert_eq!(mode(&st.out("haproxy")), 0o700);

    // PEM directories, one per instance, with the plan's modes.
    for n in ["rmq1", "rmq2", "rmq3"] {
        let d = st.out(&format!("pem/{n}"));
        assert_pem_dir(&st, &d, n);
        assert_eq!(mode(&d), 0o750);
        assert_eq!(mode(&d.join("key.pem")), 0o400);
        for f in ["cert.pem", "chain.pem", "fullchain.pem", "ca.pem"] {
            assert_eq!(mode(&d.join(f)), 0o640, "{f}");
        }
        let sans = san_text(&d.join("cert.pem"));
        assert!(
            sans.contains(&format!("DNS:{n}, DNS:rmq, DNS:rmq.svc.internal")),
            "{sans}"
        );
    }

    // nginx and the volume for web.
    let ng = st.out("nginx");
    assert_eq!(
        read_text(&ng.join("fullchain.pem")),
        read_text(&st.env.issued("web", "fullchain.pem"))
    );
    assert_eq!(read_text(&ng.join("client-ca.pem")), read_text(&ca));
    assert_eq!(
        key_pubkey(&ng.join("key.pem")),
        cert_pubkey(&ng.join("fullchain.pem"))
    );
    assert_verifies(&ca, &ng.join("fullchain.pem"));
    assert_eq!(mode(&ng.join("key.pem")), 0o600);
    let vol = st.out("vol/web");
    assert_pem_dir(&st, &vol, "web");
    assert_eq!(mode(&vol.join("key.pem")), 0o440);
    let sans = san_text(&vol.join("cert.pem"));
    assert!(
        sans.contains("DNS:web, DNS:web.example.org, IP Address:10.0.0.7"),
        "{sans}"
    );
    let eku = x509_text(&vol.join("cert.pem"));
    assert!(eku.contains("TLS Web Server Authentication"), "{eku}");
    assert!(!eku.contains("TLS Web Client Authentication"), "{eku}");
}

/// `plan` writes nothing; a second `apply` says "nothing to do" and leaves the CA and the outputs byte-for-byte unchanged.
#[test]
fn apply_twice_changes_nothing_the_second_time() {
    let st = Setup::new(BASE);
    let ca_before = snapshot(&st.env.ca_dir());
    let lines_before = st.plan_lines();
    assert_eq!(
        lines_before,
        [
            "+ issue rmq1 (no certificate yet)",
            "+ issue rmq2 (no certificate yet)",
            "+ issue web (no certificate yet)",
            &summary(3, 0, 0, 0, 0, 0),
        ]
    );
    assert_eq!(
        snapshot(&st.env.ca_dir()),
        ca_before,
        "plan changed the CA dir"
    );
    assert!(!st.out("").exists(), "plan wrote outputs");

    st.apply(&[]);
    let ca = snapshot(&st.env.ca_dir());
    let outs = snapshot(&st.out(""));
    let ino = inodes(&st.out(""));
    assert!(!outs.is_empty());

    let again = st.apply(&[]);
    assert_eq!(
        lines(&lossy(&again.stdout)),
        ["nothing to do: everything matches the plan"]
    );
    assert!(
        !lossy(&again.stderr).contains("issue:"),
        "{}",
        lossy(&again.stderr)
    );
    assert!(
        !lossy(&again.stderr).contains("export:"),
        "{}",
        lossy(&again.stderr)
    );
    // Nothing to do needs no confirmation either.
    st.env
        .uca()
        .arg("apply")
        .arg(&st.plan)
        .write_stdin("")
        .assert()
        .success()
        .stdout("nothing to do: everything matches the plan\n");
    assert_eq!(snapshot(&st.env.ca_dir()), ca, "CA dir changed");
    assert_eq!(snapshot(&st.out("")), outs, "outputs changed");
    assert!(rewritten(&ino, &inodes(&st.out(""))).is_empty());

    assert_eq!(st.plan_lines(), [summary(0, 0, 0, 0, 0, 3)]);
    let v = st.plan_json();
    assert_eq!(
        v["counts"],
        serde_json::json!({"issue": 0, "renew": 0, "reissue": 0, "re_export": 0, "remove": 0, "unchanged": 3})
    );
    assert_eq!(snapshot(&st.env.ca_dir()), ca);
}

/// A SAN change reissues exactly that component's instances (new serials, new SANs in every output); the rest is untouched.
#[test]
fn san_change_reissues_only_the_affected_instances() {
    let st = Setup::new(BASE);
    st.apply(&[]);
    let before = st.current();
    let web_files = snapshot(&st.out("nginx"));
    let web_ino = inodes(&st.out("nginx"));

    st.write(&BASE.replace(r#"sans = ["rmq.svc.internal"]"#, r#"sans = ["10.0.0.9"]"#));
    let why = "(SANs change: +[IP:10.0.0.9] -[DNS:rmq.svc.internal])";
    assert_eq!(
        st.plan_lines(),
        [
            format!("~ reissue rmq1 {why}"),
            format!("~ reissue rmq2 {why}"),
            summary(0, 0, 2, 0, 0, 1),
        ]
    );
    let v = st.plan_json();
    let item = &v["items"][0];
    assert_eq!(item["change"], "reissue");
    let outs: Vec<(&str, &str)> = item["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["format"].as_str().unwrap(), o["why"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outs,
        [
            ("haproxy", "new certificate"),
            ("pem-dir", "new certificate")
        ]
    );

    let out = st.apply(&[]);
    assert!(
        lossy(&out.stderr).lines().any(|l| l == "issue: 2/2"),
        "{}",
        lossy(&out.stderr)
    );
    assert!(
        lossy(&out.stderr).lines().any(|l| l == "export: 4/4"),
        "{}",
        lossy(&out.stderr)
    );
    let after = st.current();
    for n in ["rmq1", "rmq2"] {
        assert_ne!(after[n]["serial"], before[n]["serial"], "{n}");
        assert_eq!(
            after[n]["sans"],
            serde_json::json!([format!("DNS:{n}"), "DNS:rmq", "IP:10.0.0.9"])
        );
        for f in [
            st.out(&format!("pem/{n}/cert.pem")),
            st.out(&format!("haproxy/{n}.pem")),
        ] {
            let sans = san_text(&f);
            assert!(sans.contains("IP Address:10.0.0.9"), "{sans}");
            assert!(!sans.contains("rmq.svc.internal"), "{sans}");
            assert_eq!(ledger_serial(&f), after[n]["serial"].as_str().unwrap());
        }
        assert_pem_dir(&st, &st.out(&format!("pem/{n}")), n);
        assert_haproxy_pem(&st, &st.out(&format!("haproxy/{n}.pem")), n);
    }
    // The old certificates are superseded, not current.
    let old: Vec<_> = st
        .env
        .ledger()
        .into_iter()
        .filter(|r| r["name"] == "rmq1" && r["serial"] == before["rmq1"]["serial"])
        .collect();
    assert_eq!(old.len(), 1);
    assert_ne!(old[0]["status"], "issued");
    // web: same certificate, same files, not even rewritten.
    assert_eq!(after["web"]["serial"], before["web"]["serial"]);
    assert_eq!(snapshot(&st.out("nginx")), web_files);
    assert!(rewritten(&web_ino, &inodes(&st.out("nginx"))).is_empty());
    assert_eq!(st.plan_lines(), [summary(0, 0, 0, 0, 0, 3)]);
}

/// A key type change and then a profile change each reissue the component (new key, then new EKU); the rest stays.
#[test]
fn key_type_and_profile_changes_reissue() {
    let st = Setup::new(BASE);
    st.apply(&[]);
    let before = st.current();
    let old_key = key_pubkey(&st.out("nginx/key.pem"));

    let p384 = BASE.replace(
        "profile = \"server\"",
        "profile = \"server\"\nkey = \"ec-p384\"",
    );
    st.write(&p384);
    assert_eq!(
        st.plan_lines(),
        [
            "~ reissue web (key type ec-p256 → ec-p384)".to_string(),
            summary(0, 0, 1, 0, 0, 2),
        ]
    );
    st.apply(&[]);
    let mid = st.current();
    assert_ne!(mid["web"]["serial"], before["web"]["serial"]);
    assert_eq!(mid["web"]["key_type"], "ec-p384");
    assert_eq!(mid["rmq1"]["serial"], before["rmq1"]["serial"]);
    let chain = st.out("nginx/fullchain.pem");
    let t = x509_text(&chain);
    assert!(t.contains("P-384") || t.contains("secp384r1"), "{t}");
    let new_key = key_pubkey(&st.out("nginx/key.pem"));
    assert_ne!(new_key, old_key);
    assert_eq!(new_key, cert_pubkey(&chain));

    st.write(&p384.replace("profile = \"server\"", "profile = \"client\""));
    assert_eq!(
        st.plan_lines(),
        [
            "~ reissue web (profile server → client)".to_string(),
            summary(0, 0, 1, 0, 0, 2),
        ]
    );
    st.apply(&[]);
    let last = st.current();
    assert_ne!(last["web"]["serial"], mid["web"]["serial"]);
    assert_eq!(last["web"]["profile"], "client");
    let t = x509_text(&chain);
    assert!(t.contains("TLS Web Client Authentication"), "{t}");
    assert!(!t.contains("TLS Web Server Authentication"), "{t}");
    assert_eq!(
        ledger_serial(&chain),
        last["web"]["serial"].as_str().unwrap()
    );
    assert_eq!(last["rmq2"]["serial"], before["rmq2"]["serial"]);
    assert_eq!(st.plan_lines(), [summary(0, 0, 0, 0, 0, 3)]);
}

/// `renew_before = "400d"` renews 397-day certificates with the same key (unless a component overrides it); back at 30d, nothing to do.
#[test]
fn renew_before_threshold_renews_with_the_same_key() {
    let st = Setup::new(BASE);
    st.apply(&[]);
    let before = st.current();
    let keys: BTreeMap<&str, String> = ["rmq1", "rmq2", "web"]
        .into_iter()
        .map(|n| (n, key_pubkey(&st.env.issued(n, "key.pem"))))
        .collect();

    // web overrides the default threshold: it stays.
    let plan = format!("[defaults]\nrenew_before = \"400d\"\n{BASE}").replace(
        "profile = \"server\"",
        "profile = \"server\"\nrenew_before = \"30d\"",
    );
    st.write(&plan);
    let l = st.plan_lines();
    assert_eq!(l.len(), 3, "{l:?}");
    for (i, n) in ["rmq1", "rmq2"].into_iter().enumerate() {
        assert!(l[i].starts_with(&format!("↻ renew {n} (expires ")), "{l:?}");
    }
    assert_eq!(l[2], summary(0, 2, 0, 0, 0, 1));
    // Without the override, web renews too.
    st.write(&format!("[defaults]\nrenew_before = \"400d\"\n{BASE}"));
    let v = st.plan_json();
    assert_eq!(v["counts"]["renew"], 3);
    assert!(
        v["items"][2]["why"]
            .as_str()
            .unwrap()
            .starts_with("expires ")
    );

    st.apply(&[]);
    let after = st.current();
    for (n, key) in &keys {
        assert_ne!(after[*n]["serial"], before[*n]["serial"], "{n}");
        assert_eq!(
            &key_pubkey(&st.env.issued(n, "key.pem")),
            key,
            "{n}: key changed"
        );
    }
    for n in ["rmq1", "rmq2"] {
        let d = st.out(&format!("pem/{n}"));
        assert_eq!(&key_pubkey(&d.join("key.pem")), &keys[n]);
        assert_pem_dir(&st, &d, n);
        assert_haproxy_pem(&st, &st.out(&format!("haproxy/{n}.pem")), n);
    }
    assert_eq!(key_pubkey(&st.out("nginx/key.pem")), keys["web"]);
    assert_eq!(
        ledger_serial(&st.out("nginx/fullchain.pem")),
        after["web"]["serial"].as_str().unwrap()
    );

    st.write(&format!("[defaults]\nrenew_before = \"30d\"\n{BASE}"));
    let out = st.apply(&[]);
    assert_eq!(
        lines(&lossy(&out.stdout)),
        ["nothing to do: everything matches the plan"]
    );
}

/// A deleted file, a new key_mode, a new output (and, as root, an owner) each re-export only the outputs concerned.
#[test]
fn output_changes_re_export_only_that_output() {
    let st = Setup::new(BASE);
    st.apply(&[]);
    let serials = st.serials();

    // 1. A deleted file: only web's nginx output is rewritten.
    std::fs::remove_file(st.out("nginx/key.pem")).unwrap();
    let ino = inodes(&st.out(""));
    let nginx = st.out("nginx");
    assert_eq!(
        st.plan_lines(),
        [
            format!("→ re-export web (nginx {}: files missing)", nginx.display()),
            summary(0, 0, 0, 1, 0, 2),
        ]
    );
    let v = st.plan_json();
    assert_eq!(v["items"][2]["change"], "re-export");
    assert_eq!(
        v["items"][2]["outputs"],
        serde_json::json!([{"format": "nginx", "path": nginx.utf8(), "why": "files missing"}])
    );
    let out = st.apply(&[]);
    assert!(
        lossy(&out.stderr).lines().any(|l| l == "export: 1/1"),
        "{}",
        lossy(&out.stderr)
    );
    let mut changed = rewritten(&ino, &inodes(&st.out("")));
    changed.sort();
    let mut want: Vec<PathBuf> = ["client-ca.pem", "fullchain.pem", "key.pem"]
        .iter()
        .map(|f| nginx.join(f))
        .collect();
    want.sort();
    assert_eq!(changed, want);
    assert_eq!(
        key_pubkey(&nginx.join("key.pem")),
        cert_pubkey(&nginx.join("fullchain.pem"))
    );
    assert_eq!(st.serials(), serials, "a re-export issued something");
    assert_eq!(st.plan_lines(), [summary(0, 0, 0, 0, 0, 3)]);

    // 2. key_mode changes on the PEM directories: both instances re-export that output only.
    let plan = BASE.replace(
        "path = \"out/pem/{name}\"",
        "path = \"out/pem/{name}\"\n  key_mode = \"0400\"",
    );
    st.write(&plan);
    let l = st.plan_lines();
    for (i, n) in ["rmq1", "rmq2"].into_iter().enumerate() {
        assert_eq!(
            l[i],
            format!(
                "→ re-export {n} (pem-dir {}: format, modes or owner changed)",
                st.out(&format!("pem/{n}")).display()
            )
        );
    }
    assert_eq!(l[2], summary(0, 0, 0, 2, 0, 1));
    let ino = inodes(&st.out(""));
    st.apply(&[]);
    let changed = rewritten(&ino, &inodes(&st.out("")));
    assert_eq!(changed.len(), 10, "{changed:?}");
    assert!(
        changed.iter().all(|p| p.starts_with(st.out("pem"))),
        "{changed:?}"
    );
    for n in ["rmq1", "rmq2"] {
        assert_eq!(mode(&st.out(&format!("pem/{n}/key.pem"))), 0o400);
        assert_pem_dir(&st, &st.out(&format!("pem/{n}")), n);
    }

    // 3. A new output: web gets a PEM directory too.
    let plan =
        format!("{plan}  [[component.output]]\n  format = \"pem-dir\"\n  path = \"out/web-pem\"\n");
    st.write(&plan);
    assert_eq!(
        st.plan_lines(),
        [
            format!(
                "→ re-export web (pem-dir {}: never written)",
                st.out("web-pem").display()
            ),
            summary(0, 0, 0, 1, 0, 2),
        ]
    );
    let ino = inodes(&st.out(""));
    st.apply(&[]);
    let changed = rewritten(&ino, &inodes(&st.out("")));
    assert_eq!(changed.len(), 5, "{changed:?}");
    assert!(
        changed.iter().all(|p| p.starts_with(st.out("web-pem"))),
        "{changed:?}"
    );
    assert_pem_dir(&st, &st.out("web-pem"), "web");

    // 4. An owner (only root may chown).
    if run("id", &["-u"]).stdout.trim_ascii() == b"0" {
        st.write(&format!("{plan}  owner = \"99:98\"\n"));
        assert_eq!(
            st.plan_lines(),
            [
                format!(
                    "→ re-export web (pem-dir {}: format, modes or owner changed)",
                    st.out("web-pem").display()
                ),
                summary(0, 0, 0, 1, 0, 2),
            ]
        );
        st.apply(&[]);
        for f in [
            "cert.pem",
            "key.pem",
            "chain.pem",
            "fullchain.pem",
            "ca.pem",
        ] {
            let m = std::fs::metadata(st.out("web-pem").join(f)).unwrap();
            assert_eq!((m.uid(), m.gid()), (99, 98), "{f}");
        }
    }
    assert_eq!(st.serials(), serials, "a re-export issued something");
    let l = st.plan_lines();
    assert_eq!(l.last().unwrap(), &summary(0, 0, 0, 0, 0, 3), "{l:?}");
}

/// Components that leave the plan show as "remove", stay issued without --prune, are revoked (cessationOfOperation) with it, then forgotten.
#[test]
fn removed_components_are_revoked_only_with_prune() {
    let st = Setup::new(&BASE.replace("count = 2", "count = 3"));
    st.apply(&[]);
    let before = st.current();
    let serials_before = st.serials();

    // rmq3 goes (count 3 → 2), web goes (component dropped).
    let rmq_only = BASE
        .split("[[component]]\nname = \"web\"")
        .next()
        .unwrap()
        .to_string();
    st.write(&rmq_only);
    let expected = [
        "- remove rmq3 (no longer in the plan; --prune revokes it)".to_string(),
        "- remove web (no longer in the plan; --prune revokes it)".to_string(),
        summary(0, 0, 0, 0, 2, 2),
    ];
    assert_eq!(st.plan_lines(), expected);
    let v = st.plan_json();
    assert_eq!(v["counts"]["remove"], 2);
    let removed: Vec<_> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["change"] == "remove")
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(removed, ["rmq3", "web"]);

    // Without --prune: nothing is revoked, and the plan still says so.
    let ca = snapshot(&st.env.ca_dir());
    let out = st.apply(&[]);
    assert!(
        lossy(&out.stdout).contains("nothing applied") && lossy(&out.stdout).contains("--prune"),
        "{}",
        lossy(&out.stdout)
    );
    assert_eq!(snapshot(&st.env.ca_dir()), ca);
    assert_eq!(st.serials(), serials_before);
    assert_eq!(st.plan_lines(), expected);

    // With --prune: both revoked, for cessation of operation.
    st.apply(&["--prune"]);
    let cur = st.current();
    assert_eq!(cur.keys().collect::<Vec<_>>(), ["rmq1", "rmq2"]);
    for n in ["rmq3", "web"] {
        let r: Vec<_> = st
            .env
            .ledger()
            .into_iter()
            .filter(|r| r["serial"] == before[n]["serial"])
            .collect();
        assert_eq!(r[0]["status"], "revoked", "{n}");
        let show = st.env.json(&["show", n]);
        assert_eq!(show["record"]["revocation_reason"], "cessationOfOperation");
    }
    st.env.uca().arg("crl").assert().success();
    let crl = st.env.ca_dir().join("crl.pem");
    let crl_text = openssl(&["crl", "-in", crl.utf8(), "-noout", "-text"]);
    for n in ["rmq3", "web"] {
        let serial = before[n]["serial"].as_str().unwrap().to_uppercase();
        assert!(crl_text.contains(&serial), "{serial} not in {crl_text}");
    }
    assert_eq!(
        crl_text.matches("Cessation Of Operation").count(),
        2,
        "{crl_text}"
    );
    // rmq1/rmq2 untouched.
    assert_eq!(cur["rmq1"]["serial"], before["rmq1"]["serial"]);

    // The plan no longer mentions them.
    assert_eq!(st.plan_lines(), [summary(0, 0, 0, 0, 0, 2)]);
    let v = st.plan_json();
    let names: Vec<_> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["rmq1", "rmq2"]);
    assert_eq!(
        lines(&lossy(&st.apply(&["--prune"]).stdout)),
        ["nothing to do: everything matches the plan"]
    );
}

/// `apply --yes --init --seal` on an empty dir creates the CA, issues everything, writes the final CRL and destroys the key.
#[test]
fn init_and_seal_in_one_command() {
    let st = Setup::bare(BASE);
    let pass = st.env.path("ca.pass");
    std::fs::write(&pass, format!("{PASS}\n")).unwrap();
    let out = st
        .env
        .uca()
        .arg("apply")
        .arg(&st.plan)
        .args([
            "--yes",
            "--init",
            "--seal",
            "--passphrase-file",
            pass.utf8(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let stderr = lossy(&out.stderr);
    assert!(stderr.contains("sealed"), "{stderr}");
    assert!(stderr.lines().any(|l| l == "issue: 3/3"), "{stderr}");

    let dir = st.env.ca_dir();
    assert!(
        !dir.join("private/ca.key").exists(),
        "the CA key survived sealing"
    );
    let crl = dir.join("crl.pem");
    assert!(crl.is_file());
    let verify = openssl_crl_verify(&crl, &st.env.ca_cert(), false);
    assert!(verify.status.success(), "{}", verify.stderr);
    assert!(verify.stderr.contains("verify OK") || verify.stdout.contains("verify OK"));

    let cur = st.current();
    assert_eq!(cur.keys().collect::<Vec<_>>(), ["rmq1", "rmq2", "web"]);
    for n in ["rmq1", "rmq2"] {
        assert_pem_dir(&st, &st.out(&format!("pem/{n}")), n);
        assert_haproxy_pem(&st, &st.out(&format!("haproxy/{n}.pem")), n);
    }
    assert_verifies(&st.env.ca_cert(), &st.out("nginx/fullchain.pem"));

    st.env
        .uca()
        .args(["issue", "x"])
        .env("UCA_PASSPHRASE", PASS)
        .assert()
        .code(8);
    // The sealed CA still plans, and the same plan needs nothing.
    assert_eq!(st.plan_lines(), [summary(0, 0, 0, 0, 0, 3)]);
    let ca = snapshot(&dir);
    assert_eq!(
        lines(&lossy(&st.apply(&[]).stdout)),
        ["nothing to do: everything matches the plan"]
    );
    assert_eq!(snapshot(&dir), ca);
}

/// Every malformed plan: exit 2, `FILE:LINE:COLUMN: message` and a hint, and nothing changes (plan, apply --prune, apply --init).
#[test]
fn malformed_plans_are_rejected_with_their_position() {
    let st = Setup::new(BASE);
    st.apply(&[]);
    let ca = snapshot(&st.env.ca_dir());
    let outs = snapshot(&st.out(""));
    let bad = st.env.path("conf/bad.toml");
    let fresh = st.env.path("fresh");

    // (plan, line, column, part of the message)
    let cases: &[(&str, usize, usize, &str)] = &[
        (
            "[[component]]\nname = \"a\"\ncolour = \"red\"\n",
            3,
            1,
            "unknown field `colour`",
        ),
        (
            "[[component]]\nname = \"a\"\n  [[component.output]]\n  format = \"pem-dir\"\n  path = \"out/a\"\n  mode = \"0600\"\n",
            6,
            3,
            "unknown field `mode`",
        ),
        (
            "[defaults]\nrenew = \"30d\"\n",
            2,
            1,
            "unknown field `renew`",
        ),
        (
            "[[component]]\nname = \"a\"\ncount = 0\n",
            3,
            9,
            "count must be between 1 and",
        ),
        (
            "[[component]]\nname = \"a\"\ncount = -1\n",
            3,
            9,
            "count must be between 1 and",
        ),
        (
            "[[component]]\nname = \"rmq\"\ncount = 2\n\n[[component]]\nname = \"rmq1\"\n",
            6,
            8,
            "'rmq1' is declared twice",
        ),
        (
            "[[component]]\nname = \"a\"\n\n[[component]]\nname = \"a\"\n",
            5,
            8,
            "'a' is declared twice",
        ),
        (
            "[[component]]\nname = \"a\"\n  [[component.output]]\n  format = \"jks\"\n  path = \"x\"\n",
            4,
            12,
            "unknown output format 'jks'",
        ),
        (
            "[[component]]\nname = \"a\"\ncount = 2\n  [[component.output]]\n  format = \"pem-dir\"\n  path = \"out/a\"\n",
            6,
            10,
            "{name}",
        ),
        (
            "[[component]]\nname = \"a\"\n  [[component.output]]\n  format = \"pem-dir\"\n  path = \"out/a\"\n  key_mode = \"0644\"\n",
            6,
            14,
            "must not let everyone read the key",
        ),
        (
            "[[component]]\nname = \"a\"\n  [[component.output]]\n  format = \"pkcs12\"\n  path = \"out/a.p12\"\n",
            4,
            12,
            "password_file",
        ),
        (
            "[[component]]\nname = \"a\"\n  [[component.output]]\n  format = \"java-truststore\"\n  path = \"out/t.p12\"\n",
            4,
            12,
            "password_file",
        ),
    ];
    for (plan, line, col, msg) in cases {
        std::fs::write(&bad, plan).unwrap();
        let where_ = format!("{}:{line}:{col}: ", bad.display());
        let runs: [(&str, Vec<&str>, &Path); 3] = [
            ("plan", vec!["plan", bad.utf8()], &st.env.ca_dir()),
            (
                "apply",
                vec!["apply", bad.utf8(), "--yes", "--prune"],
                &st.env.ca_dir(),
            ),
            (
                "apply --init",
                vec!["apply", bad.utf8(), "--yes", "--init"],
                &fresh,
            ),
        ];
        for (what, args, dir) in runs {
            let out = uca_bare()
                .current_dir(st.env.tmp.path())
                .arg("--dir")
                .arg(dir)
                .args(&args)
                .env("UCA_PASSPHRASE", PASS)
                .output()
                .unwrap();
            let err = lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{what} {plan:?}: {err}");
            assert!(
                err.contains(&where_),
                "{what} {plan:?}: want {where_} in {err}"
            );
            assert!(err.contains(msg), "{what} {plan:?}: want {msg} in {err}");
            assert!(err.contains("hint:"), "{what} {plan:?}: {err}");
            assert!(
                lossy(&out.stdout).is_empty(),
                "{what}: {}",
                lossy(&out.stdout)
            );
        }
        assert_eq!(snapshot(&st.env.ca_dir()), ca, "{plan:?} changed the CA");
        assert_eq!(snapshot(&st.out("")), outs, "{plan:?} changed the outputs");
        assert!(!fresh.exists(), "{plan:?}: apply --init created a CA");
        assert!(!st.env.path("conf/out/a").exists());
    }
    // The exception: HAProxy's shared directory needs no {name}.
    std::fs::write(
        &bad,
        "[[component]]\nname = \"a\"\ncount = 2\n  [[component.output]]\n  format = \"haproxy\"\n  path = \"out/a\"\n",
    )
    .unwrap();
    st.env.uca().arg("plan").arg(&bad).assert().success();
}

/// `--json` prints one document of the documented shape; without --yes and a terminal, apply exits 2 and changes nothing.
#[test]
fn json_shape_and_confirmation() {
    let st = Setup::new(BASE);
    let ca = snapshot(&st.env.ca_dir());

    let out = st
        .env
        .uca()
        .arg("apply")
        .arg(&st.plan)
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = lossy(&out.stderr);
    assert!(err.contains("apply needs confirmation"), "{err}");
    assert!(err.contains("hint:") && err.contains("--yes"), "{err}");
    assert!(lines(&lossy(&out.stdout)).contains(&"+ issue web (no certificate yet)".to_string()));
    // A "yes" piped in is no terminal either.
    st.env
        .uca()
        .arg("apply")
        .arg(&st.plan)
        .write_stdin("yes\n")
        .assert()
        .code(2);
    assert_eq!(snapshot(&st.env.ca_dir()), ca);
    assert!(!st.out("").exists());

    let v = st.plan_json();
    assert_eq!(
        v["counts"],
        serde_json::json!({"issue": 3, "renew": 0, "reissue": 0, "re_export": 0, "remove": 0, "unchanged": 0})
    );
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[0],
        serde_json::json!({
            "name": "rmq1",
            "change": "issue",
            "why": "no certificate yet",
            "outputs": [
                {"format": "haproxy", "path": st.out("haproxy").utf8(), "why": "new certificate"},
                {"format": "pem-dir", "path": st.out("pem/rmq1").utf8(), "why": "new certificate"},
            ],
        })
    );
    assert_eq!(snapshot(&st.env.ca_dir()), ca, "plan --json changed the CA");

    let out = st
        .env
        .uca()
        .arg("--json")
        .arg("apply")
        .arg(&st.plan)
        .arg("--yes")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", lossy(&out.stderr));
    let err = lossy(&out.stderr);
    assert!(!err.contains("issue:") && !err.contains("export:"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(v["changed"], true);
    assert_eq!(v["sealed"], false);
    assert_eq!(v["counts"]["issue"], 3);
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    assert_eq!(v["items"][2]["name"], "web");
    assert_eq!(v["items"][2]["outputs"][0]["format"], "nginx");

    let v = st.env.json(&["apply", st.plan.utf8(), "--yes"]);
    assert_eq!(v["changed"], false);
    assert_eq!(v["counts"]["unchanged"], 3);
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["change"] == "unchanged"
                && i["why"] == ""
                && i["outputs"] == serde_json::json!([]))
    );
}

/// PKCS#12, Java truststore and Kubernetes Secret outputs are written with `{name}` and a plan-relative password_file, and read back by openssl.
#[test]
fn pkcs12_truststore_and_k8s_secret_outputs() {
    let plan = r#"
[[component]]
name = "app"
count = 2
  [[component.output]]
  format = "pkcs12"
  path = "out/{name}.p12"
  password_file = "p12.pass"
  [[component.output]]
  format = "k8s-secret"
  path = "out/{name}-secret.yaml"
  [[component.output]]
  format = "java-truststore"
  path = "out/{name}-trust.p12"
  password_file = "p12.pass"
"#;
    let st = Setup::new(plan);
    let pass = st.env.path("conf/p12.pass");
    std::fs::write(&pass, format!("{P12_PASS}\n")).unwrap();
    // File outputs need their directory (see file_output_in_a_missing_directory).
    std::fs::create_dir(st.out("")).unwrap();
    let out = st.apply(&[]);
    assert!(
        lossy(&out.stderr).lines().any(|l| l == "export: 6/6"),
        "{}",
        lossy(&out.stderr)
    );
    let passin = format!("file:{}", pass.utf8());

    for n in ["app1", "app2"] {
        // PKCS#12: the certificate, the CA and the matching key, under the password.
        let p12 = st.out(&format!("{n}.p12"));
        let info = openssl(&[
            "pkcs12",
            "-in",
            p12.utf8(),
            "-info",
            "-nokeys",
            "-passin",
            &passin,
        ]);
        let certs = pem_blocks(&info);
        let leaf = read_text(&st.env.issued(n, "cert.pem"));
        let ca = read_text(&st.env.ca_cert());
        assert!(
            certs.iter().any(|(_, b)| *b == leaf),
            "{n}: leaf missing in {info}"
        );
        assert!(
            certs.iter().any(|(_, b)| *b == ca),
            "{n}: CA missing in {info}"
        );
        let key = openssl(&[
            "pkcs12",
            "-in",
            p12.utf8(),
            "-nocerts",
            "-nodes",
            "-passin",
            &passin,
        ]);
        let key_file = st.env.path(&format!("{n}-p12.key"));
        std::fs::write(&key_file, key).unwrap();
        assert_eq!(
            key_pubkey(&key_file),
            cert_pubkey(&st.env.issued(n, "cert.pem"))
        );
        let wrong = run(
            "openssl",
            &[
                "pkcs12",
                "-in",
                p12.utf8(),
                "-info",
                "-nokeys",
                "-passin",
                "pass:wrong",
            ],
        );
        assert!(!wrong.status.success(), "{n}: opened with a wrong password");
        assert_eq!(mode(&p12), 0o600);

        // Truststore: the CA, no key.
        let ts = st.out(&format!("{n}-trust.p12"));
        let info = openssl(&[
            "pkcs12",
            "-in",
            ts.utf8(),
            "-info",
            "-nokeys",
            "-passin",
            &passin,
        ]);
        let certs = pem_blocks(&info);
        assert_eq!(certs.len(), 1, "{info}");
        assert_eq!(certs[0].1, ca);
        let keys = openssl(&[
            "pkcs12",
            "-in",
            ts.utf8(),
            "-nocerts",
            "-nodes",
            "-passin",
            &passin,
        ]);
        assert!(!keys.contains("PRIVATE KEY"), "{keys}");

        // Kubernetes Secret: base64 fields decode to the PEM files.
        let yaml = read_text(&st.out(&format!("{n}-secret.yaml")));
        assert!(yaml.contains("kind: Secret"), "{yaml}");
        assert!(yaml.contains("type: kubernetes.io/tls"), "{yaml}");
        assert!(yaml.contains(&format!("name: {n}-tls")), "{yaml}");
        let field = |k: &str| -> String {
            let b64 = yaml
                .lines()
                .find_map(|l| l.trim().strip_prefix(&format!("{k}:")))
                .unwrap_or_else(|| panic!("no {k} in {yaml}"))
                .trim()
                .to_string();
            let f = st.env.path(&format!("{n}-{k}.b64"));
            std::fs::write(&f, b64).unwrap();
            openssl(&["base64", "-d", "-A", "-in", f.utf8()])
        };
        let crt = field("tls.crt");
        assert!(
            crt == read_text(&st.env.issued(n, "fullchain.pem")) || crt == leaf,
            "{n}: tls.crt is neither the certificate nor the full chain:\n{crt}"
        );
        assert_eq!(pem_blocks(&crt)[0].1, leaf);
        assert_eq!(field("tls.key"), read_text(&st.env.issued(n, "key.pem")));
        assert_eq!(field("ca.crt"), ca);
    }
    assert_eq!(st.plan_lines(), [summary(0, 0, 0, 0, 0, 2)]);

    // A lost p12 is re-exported, and only it.
    std::fs::remove_file(st.out("app2.p12")).unwrap();
    let ino = inodes(&st.out(""));
    assert_eq!(
        st.plan_lines(),
        [
            format!(
                "→ re-export app2 (pkcs12 {}: files missing)",
                st.out("app2.p12").display()
            ),
            summary(0, 0, 0, 1, 0, 1),
        ]
    );
    st.apply(&[]);
    assert_eq!(rewritten(&ino, &inodes(&st.out(""))), [st.out("app2.p12")]);
}

/// `apply --init` without --yes and without a terminal refuses (exit 2) before creating anything.
#[test]
fn init_without_confirmation_creates_nothing() {
    let st = Setup::bare(BASE);
    st.env
        .uca_pass()
        .arg("apply")
        .arg(&st.plan)
        .arg("--init")
        .write_stdin("")
        .assert()
        .code(2);
    assert!(
        !st.env.ca_dir().exists(),
        "the CA was created without confirmation"
    );
}

/// Two outputs writing the same path are refused at the second `path` line (they would overwrite each other forever).
#[test]
fn two_outputs_with_one_path_are_rejected() {
    let plan = "[[component]]\nname = \"a\"\n  [[component.output]]\n  format = \"nginx\"\n  path = \"out/shared\"\n\n[[component]]\nname = \"b\"\n  [[component.output]]\n  format = \"nginx\"\n  path = \"out/shared\"\n";
    let st = Setup::new(plan);
    let out = st.env.uca().arg("plan").arg(&st.plan).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", lossy(&out.stdout));
    // Line 11 is the second output's `path`.
    assert!(
        lossy(&out.stderr).contains(&format!("{}:11:", st.plan.display())),
        "{}",
        lossy(&out.stderr)
    );
}

/// A file output in a directory that does not exist yet gets the directory created.
#[test]
fn file_output_in_a_missing_directory() {
    let plan = "[[component]]\nname = \"app\"\n  [[component.output]]\n  format = \"k8s-secret\"\n  path = \"out/app.yaml\"\n";
    let st = Setup::new(plan);
    let ca = snapshot(&st.env.ca_dir());
    let out = st
        .env
        .uca()
        .arg("apply")
        .arg(&st.plan)
        .arg("--yes")
        .output()
        .unwrap();
    if out.status.success() {
        assert!(st.out("app.yaml").is_file());
    } else {
        assert_eq!(
            snapshot(&st.env.ca_dir()),
            ca,
            "failed, but after issuing: {}",
            lossy(&out.stderr)
        );
    }
}
