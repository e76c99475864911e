//! Hardening regressions: chain constraints (pathLenConstraint, name constraints) enforced on
//! artifact signers, no trust in a ./pki that merely sits in the working directory, max-age and
//! revocation requirements, `--installed` through a symlinked root, exact manifest exclusion,
//! and the health prober/status server against a busy CA, impossible settings, hostile HTTP
//! servers and floods of idle clients. Every run asserts its exit code and that uca never
//! panicked.

use crate::support::artifact::release;
use crate::support::health::Watch;
use crate::support::*;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};
use std::time::{Duration, Instant};

/// `uca ARGS` with no CA named at all, run in `cwd`.
fn uca_in(cwd: &Path, args: &[&str]) -> Output {
    uca_bare().current_dir(cwd).args(args).output().unwrap()
}

/// `uca intermediate NAME --parent pki --dir CHILD EXTRA --no-passphrase` (parent unencrypted).
fn intermediate(env: &TempCa, name: &str, child: &str, extra: &[&str]) -> PathBuf {
    let out = uca_bare()
        .current_dir(env.tmp.path())
        .args(["intermediate", name, "--parent", "pki", "--dir", child])
        .args(extra)
        .arg("--no-passphrase")
        .output()
        .unwrap();
    expect(&out, 0);
    let dir = env.path(child);
    assert!(dir.join("ca.crt").is_file(), "no {child}/ca.crt");
    assert!(
        dir.join("private/ca.key").is_file(),
        "no {child}/private/ca.key"
    );
    dir
}

const ROGUE_CA_EXT: &str =
    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign";

fn codesign_ext(dns: &str) -> String {
    format!(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=codeSigning\nsubjectAltName=DNS:{dns}"
    )
}

/// `uca` run through `sh -c 'ulimit -n LIMIT && exec uca ARGS...'`: uca with at most LIMIT
/// open file descriptors, and the same hermetic environment as `uca_std()`.
fn uca_std_with_fd_limit(limit: u32) -> StdCommand {
    let mut c = StdCommand::new("sh");
    for (k, _) in std::env::vars() {
        if k.starts_with("UCA_") {
            c.env_remove(&k);
        }
    }
    c.env_remove("NO_COLOR")
        .arg("-c")
        .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_uca"));
    c
}

// ---------------------------------------------------------------------------------------------
// 1. pathLenConstraint is enforced on artifact signers and by `uca verify`.

#[test]
fn path_len_constraint_is_enforced_for_artifacts_and_verify() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let help = uca_in(env.tmp.path(), &["intermediate", "--help"]);
    let help = expect(&help, 0);
    assert!(
        help.contains("--path-len") && help.contains("--dir names the NEW child directory"),
        "{help}"
    );
    let sub = intermediate(&env, "sub", "sub", &["--path-len", "0"]);
    // A rogue sub-CA signed with the intermediate's key, below its pathlen 0.
    let (rogue, rogue_key) = forge(
        env.tmp.path(),
        "rogue",
        "/CN=rogue",
        ROGUE_CA_EXT,
        (&sub.join("ca.crt"), &sub.join("private/ca.key")),
        None,
    );
    let (leaf, leaf_key) = forge(
        env.tmp.path(),
        "leaf",
        "/CN=build",
        &codesign_ext("build.svc.internal"),
        (&rogue, &rogue_key),
        None,
    );
    let chain = env.path("chain.pem");
    cat(&[&rogue, &sub.join("ca.crt")], &chain);
    let m = release(&env);
    cms_sign(
        &leaf,
        &leaf_key,
        Some(&chain),
        &m,
        &env.path("rel/M.build.p7s"),
        &[],
    );
    let out = env.run(&[
        "artifact",
        "verify",
        "rel/M",
        "--require",
        "build",
        "--root",
        "pki/ca.crt",
    ]);
    let all = expect(&out, 7);
    assert!(all.contains("FAIL"), "{all}");
    assert!(all.contains("pathLenConstraint"), "{all}");

    // `uca verify` of the leaf with its chain, from the root CA.
    let lwc = env.path("leaf-with-chain.pem");
    cat(&[&leaf, &chain], &lwc);
    let all = expect(&env.run(&["verify", lwc.utf8()]), 7);
    assert!(all.contains("NOT valid"), "{all}");
    assert!(all.contains("pathLenConstraint"), "{all}");
}

// ---------------------------------------------------------------------------------------------
// 2. Name constraints are enforced on artifact signers.

#[test]
fn name_constraints_are_enforced_for_artifacts() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let help = expect(&uca_in(env.tmp.path(), &["intermediate", "--help"]), 0);
    assert!(help.contains("--permit-dns"), "{help}");
    let sub2 = intermediate(&env, "sub2", "sub2", &["--permit-dns", "svc.internal"]);
    let (ca, ca_key) = (sub2.join("ca.crt"), sub2.join("private/ca.key"));
    let m = release(&env);
    let p7s = env.path("rel/M.build.p7s");
    let args = [
        "artifact",
        "verify",
        "rel/M",
        "--require",
        "build",
        "--root",
        "pki/ca.crt",
    ];

    // Outside the permitted subtree.
    let (out_leaf, out_key) = forge(
        env.tmp.path(),
        "outside",
        "/CN=build",
        &codesign_ext("build.ci.internal"),
        (&ca, &ca_key),
        None,
    );
    cms_sign(&out_leaf, &out_key, Some(&ca), &m, &p7s, &[]);
    let all = expect(&env.run(&args), 7);
    assert!(all.contains("FAIL"), "{all}");
    assert!(all.contains("name constraints"), "{all}");
    assert!(all.contains("build.ci.internal"), "{all}");

    // Inside: holds.
    std::fs::remove_file(&p7s).unwrap();
    let (in_leaf, in_key) = forge(
        env.tmp.path(),
        "inside",
        "/CN=build",
        &codesign_ext("build.svc.internal"),
        (&ca, &ca_key),
        None,
    );
    cms_sign(&in_leaf, &in_key, Some(&ca), &m, &p7s, &[]);
    let all = expect(&env.run(&args), 0);
    assert!(all.contains("HOLDS"), "{all}");
}

// ---------------------------------------------------------------------------------------------
// 3. A ./pki in the working directory is not a trust anchor.

#[test]
fn pki_in_the_working_directory_is_not_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    expect(
        &uca_in(dir, &["--dir", "pki", "init", "--no-passphrase"]),
        0,
    );
    expect(
        &uca_in(
            dir,
            &[
                "--dir",
                "pki",
                "issue",
                "ci-build",
                "--profile",
                "code-signing",
            ],
        ),
        0,
    );
    write(&dir.join("tree/app"), b"evil\n");
    expect(
        &uca_in(
            dir,
            &[
                "--dir",
                "pki",
                "artifact",
                "manifest",
                "--base",
                "tree",
                "tree",
                "--out",
                "SHA256SUMS",
            ],
        ),
        0,
    );
    expect(
        &uca_in(
            dir,
            &[
                "--dir",
                "pki",
                "artifact",
                "attest",
                "SHA256SUMS",
                "--cert",
                "ci-build",
                "--stage",
                "build",
            ],
        ),
        0,
    );
    // No --dir, no UCA_DIR: the ./pki beside it is not trusted.
    let out = uca_in(
        dir,
        &["artifact", "verify", "SHA256SUMS", "--require", "build"],
    );
    let all = expect(&out, 2);
    assert!(all.contains("no trusted root"), "{all}");
    let hint = all
        .lines()
        .find(|l| l.contains("hint"))
        .unwrap_or_else(|| panic!("no hint:\n{all}"));
    assert!(hint.contains("--dir"), "{all}");
    assert!(!all.contains("HOLDS"), "{all}");
    // Named explicitly, it is trusted.
    let out = uca_in(
        dir,
        &[
            "--dir",
            "pki",
            "artifact",
            "verify",
            "SHA256SUMS",
            "--require",
            "build",
        ],
    );
    let all = expect(&out, 0);
    assert!(all.contains("HOLDS"), "{all}");
}

// ---------------------------------------------------------------------------------------------
// 4. --max-age with a signature that has no signing time.

#[test]
fn max_age_fails_a_signature_without_signing_time() {
    let env = TempCa::new();
    env.init_plain(&[]);
    let m = release(&env);
    env.issue("qa-bot", &["--profile", "code-signing"]);
    cms_sign(
        &env.issued("qa-bot", "cert.pem"),
        &env.issued("qa-bot", "key.pem"),
        Some(&env.issued("qa-bot", "chain.pem")),
        &m,
        &env.path("rel/M.build.p7s"),
        &["-noattr"],
    );
    let all = expect(
        &env.run(&[
            "artifact",
            "verify",
            "rel/M",
            "--require",
            "build",
            "--max-age",
            "30d",
        ]),
        7,
    );
    assert!(all.contains("FAIL"), "{all}");
    assert!(all.contains("no signing time"), "{all}");
    let all = expect(
        &env.run(&["artifact", "verify", "rel/M", "--require", "build"]),
        0,
    );
    assert!(all.contains("HOLDS"), "{all}");
}

// ---------------------------------------------------------------------------------------------
// 5. --require-revocation and require_revocation = true.

#[test]
fn require_revocation_fails_an_unchecked_signer() {
    let env = TempCa::new();
    env.init_plain(&[]);
    release(&env);
    env.issue("ci-build", &["--profile", "code-signing"]);
    expect(
        &env.run(&[
            "artifact", "attest", "rel/M", "--cert", "ci-build", "--stage", "build",
        ]),
        0,
    );
    // Offline: no CA dir, no CRL, only the root.
    let offline = env.path("offline");
    for f in ["M", "M.meta", "M.build.p7s"] {
        copy(&env.path(&format!("rel/{f}")), &offline.join(f));
    }
    copy(&env.ca_cert(), &offline.join("ca.crt"));
    assert!(!offline.join("pki").exists());
    let base = [
        "artifact",
        "verify",
        "M",
        "--require",
        "build",
        "--root",
        "ca.crt",
    ];

    let all = expect(&uca_in(&offline, &base), 0);
    assert!(all.contains("HOLDS"), "{all}");
    assert!(all.contains("revocation not checked"), "{all}");

    let mut args = base.to_vec();
    args.push("--require-revocation");
    let all = expect(&uca_in(&offline, &args), 7);
    assert!(all.contains("FAIL"), "{all}");
    assert!(all.contains("revocation not checked"), "{all}");

    // The same from the policy file.
    write(
        &offline.join("strict.toml"),
        b"require = [\"build\"]\nroots = [\"ca.crt\"]\nrequire_revocation = true\n",
    );
    write(
        &offline.join("lax.toml"),
        b"require = [\"build\"]\nroots = [\"ca.crt\"]\n",
    );
    let all = expect(
        &uca_in(
            &offline,
            &["artifact", "verify", "M", "--policy", "strict.toml"],
        ),
        7,
    );
    assert!(all.contains("revocation not checked"), "{all}");
    let all = expect(
        &uca_in(
            &offline,
            &["artifact", "verify", "M", "--policy", "lax.toml"],
        ),
        0,
    );
    assert!(all.contains("revocation not checked"), "{all}");
}

// ---------------------------------------------------------------------------------------------
// 6. --installed through a symlinked root.

#[test]
fn installed_follows_a_symlinked_root() {
    let env = TempCa::new();
    env.init_plain(&[]);
    env.issue("ci-build", &["--profile", "code-signing"]);
    write(&env.path("releases/1/bin/app"), b"#!/bin/sh\necho v1\n");
    write(&env.path("releases/1/etc/app.conf"), b"level = info\n");
    expect(
        &env.run(&[
            "artifact",
            "manifest",
            "--base",
            "releases/1",
            "releases/1",
            "--out",
            "M",
        ]),
        0,
    );
    expect(
        &env.run(&[
            "artifact", "attest", "M", "--cert", "ci-build", "--stage", "build",
        ]),
        0,
    );
    std::os::unix::fs::symlink("releases/1", env.path("current")).unwrap();
    for root in ["current", "current/"] {
        let all = expect(
            &env.run(&[
                "artifact",
                "verify",
                "M",
                "--require",
                "build",
                "--installed",
                root,
            ]),
            0,
        );
        assert!(all.contains("HOLDS"), "{root}: {all}");
        assert!(!all.contains("extra"), "{root}: {all}");
        assert!(!all.contains("missing"), "{root}: {all}");
    }
    write(&env.path("releases/1/etc/app.conf"), b"level = debug\n");
    for root in ["current", "current/"] {
        let all = expect(
            &env.run(&[
                "artifact",
                "verify",
                "M",
                "--require",
                "build",
                "--installed",
                root,
            ]),
            7,
        );
        assert!(
            all.contains("modified") && all.contains("etc/app.conf"),
            "{root}: {all}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 7. The manifest leaves out exactly its own files.

#[test]
fn manifest_exclusion_is_exact() {
    let env = TempCa::new();
    let tree = env.path("tree");
    write(&tree.join("app.so"), b"shared object\n");
    write(&tree.join("app.d/x"), b"drop-in\n");
    write(&tree.join("keep"), b"kept\n");
    write(&tree.join("app.build.p7s"), b"an old signature");
    write(&tree.join("app.crl"), b"an old CRL");
    let lines_of = |m: &str| -> Vec<String> {
        m.lines()
            .map(|l| l.get(66..).unwrap_or_default().to_string())
            .collect()
    };
    let mut first = None;
    for extra in [&[][..], &["--force"][..]] {
        let out = uca_in(
            env.tmp.path(),
            &[
                &[
                    "artifact", "manifest", "--base", "tree", "tree", "--out", "tree/app",
                ][..],
                extra,
            ]
            .concat(),
        );
        expect(&out, 0);
        let m = std::fs::read_to_string(tree.join("app")).unwrap();
        let names = lines_of(&m);
        assert_eq!(
            names,
            ["app.d/x", "app.so", "keep"],
            "{extra:?}: manifest:\n{m}"
        );
        assert!(tree.join("app.meta").is_file());
        if let Some(f) = &first {
            assert_eq!(f, &m, "the --force rerun listed other files");
        }
        first = Some(m);
    }
}

// ---------------------------------------------------------------------------------------------
// 8. `health check` never waits for the CA lock.

#[test]
fn health_check_does_not_wait_for_a_busy_ca() {
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
        StdCommand::new("sh")
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

// ---------------------------------------------------------------------------------------------
// 9. An unreachable min_samples is refused.

#[test]
fn unreachable_min_samples_is_refused_with_its_location() {
    let env = TempCa::new();
    env.init_plain(&[]);
    for (dir, body) in [
        (
            "defaults",
            "[defaults]\nwindow = \"1m\"\ninterval = \"10s\"\nmin_samples = 10\n\n\
             [[target]]\nname = \"a\"\nurl = \"tcp://127.0.0.1:9\"\n",
        ),
        (
            "target",
            "[[target]]\nname = \"a\"\nurl = \"tcp://127.0.0.1:9\"\n\
             window = \"1m\"\ninterval = \"10s\"\nmin_samples = 10\n",
        ),
    ] {
        let rel = format!("{dir}/targets.toml");
        write(&env.path(&rel), body.as_bytes());
        let out = env
            .uca()
            .args([
                "health",
                "watch",
                &rel,
                "--listen",
                "127.0.0.1:0",
                "--duration",
                "3s",
            ])
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        let all = expect(&out, 2);
        assert!(all.contains("targets.toml:"), "{dir}: {all}");
        assert!(all.contains("can never be reached"), "{dir}: {all}");
        assert!(!all.contains("serving http://"), "{dir}: {all}");
    }
}

// ---------------------------------------------------------------------------------------------
// 10. A hostile HTTP server does not kill the probe.

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

#[test]
fn hostile_http_answers_do_not_kill_the_probe() {
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

// ---------------------------------------------------------------------------------------------
// 11. The status server survives a flood of idle clients.

/// A plain HTTP/1.1 GET with a deadline; (status, body) or None on any failure.
fn http_get_within(port: u16, path: &str, limit: Duration) -> Option<(u16, String)> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut sock = TcpStream::connect_timeout(&addr, limit).ok()?;
    sock.set_read_timeout(Some(limit)).ok()?;
    sock.set_write_timeout(Some(limit)).ok()?;
    write!(
        sock,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    sock.read_to_end(&mut buf).ok()?;
    let t = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = t.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

fn target_color(port: u16, name: &str) -> Option<String> {
    let (code, body) = http_get_within(port, "/status.json", Duration::from_secs(2))?;
    if code != 200 {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_str(&body).ok()?;
    doc["endpoints"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["color"].as_str())
        .map(str::to_string)
}

#[test]
fn status_server_survives_idle_clients() {
    let env = TempCa::new();
    env.init_plain(&[]);
    // The target: a listening socket that accepts and holds every connection.
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let target_port = target.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for sock in target.incoming().flatten() {
            held.push(sock);
            if held.len() > 1000 {
                held.clear();
            }
        }
    });
    let file = env.path("targets.toml");
    write(
        &file,
        format!(
            "[defaults]\ninterval = \"100ms\"\nwindow = \"2s\"\nmin_samples = 3\n\n\
             [[target]]\nname = \"t\"\nurl = \"tcp://127.0.0.1:{target_port}\"\n"
        )
        .as_bytes(),
    );
    // With 128 file descriptors, a server that accepted all 200 idle clients would leave the
    // probes none (EMFILE) and the target would turn Red; 64 viewers at most leave plenty.
    let mut cmd = uca_std_with_fd_limit(128);
    cmd.current_dir(env.tmp.path())
        .arg("--dir")
        .arg(env.ca_dir())
        .args(["health", "watch", file.utf8()])
        .args(["--listen", "127.0.0.1:0", "--duration", "8s"]);
    let mut watch = Watch::spawn(cmd, Duration::from_secs(5));
    let port = watch.port;
    // Green first.
    let deadline = Instant::now() + Duration::from_secs(3);
    while target_color(port, "t").as_deref() != Some("Green") {
        assert!(
            Instant::now() < deadline,
            "target never Green:\n{}",
            watch.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // 200 idle connections (those past the server's slots and backlog may not connect).
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut idle = Vec::new();
    for _ in 0..200 {
        if let Ok(c) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            idle.push(c);
        }
    }
    assert!(idle.len() >= 64, "only {} idle connections", idle.len());
    std::thread::sleep(Duration::from_millis(1000));
    let held = idle.len();
    drop(idle);

    // Once they are gone, the page answers promptly.
    let dropped = Instant::now();
    let mut answered = None;
    while dropped.elapsed() < Duration::from_secs(2) {
        if let Some((200, body)) = http_get_within(port, "/status.json", Duration::from_millis(500))
        {
            answered = Some(body);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let watch_err = watch.stderr();
    let body = answered.unwrap_or_else(|| {
        panic!(
            "after dropping {held} idle connections, /status.json did not answer within 2 s \
             (watch running: {}):\n{watch_err}",
            watch.child.0.try_wait().unwrap().is_none()
        )
    });
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    let t = doc["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "t")
        .cloned()
        .unwrap();
    assert_eq!(t["color"], "Green", "{doc:#}");

    // It stops by itself, cleanly, having announced only Unknown -> Green.
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(st) = watch.child.0.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(100));
            break st;
        }
        assert!(Instant::now() < deadline, "watch did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = watch.stdout();
    let stderr = watch.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(0), "{stdout}\n{stderr}");
    let changes: Vec<&str> = stdout.lines().filter(|l| l.contains(" -> ")).collect();
    assert!(
        changes.iter().any(|l| l.contains("Unknown -> Green")),
        "{stdout}"
    );
    assert!(
        !changes.iter().any(|l| l.contains("Green -> ")),
        "the target left Green while idle clients were held:\n{stdout}"
    );
}
