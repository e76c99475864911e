//! The watcher's status page and the HTTP server behind it: rendered by headless Chromium, and
//! still answering after a flood of idle clients.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::health::*;
use crate::support::*;

#[test]
fn status_page_renders_in_headless_chromium() {
    let Some(chromium) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    else {
        println!("SKIPPED: chromium is not installed (apt-get install chromium)");
        return;
    };
    let env = TempCa::new();
    let good = FlakyServer::start(&[]);
    let slow = FlakyServer::start(&["--delay-ms", "500"]);
    let closed = free_port();
    let file = targets_file(
        &env,
        "targets.toml",
        &format!(
            "{}\n[[target]]\nname = \"web <front>\"\nurl = \"{}\"\n\n\
             [[target]]\nname = \"slow\"\nurl = \"{}\"\n\n\
             [[target]]\nname = \"down\"\nurl = \"http://127.0.0.1:{closed}/\"\n",
            defaults("4s"),
            good.url("http"),
            slow.url("http"),
        ),
    );
    let w = Watch::start(&env, &[], &file, &[]);
    let want = [
        ("web <front>", "green"),
        ("slow", "yellow"),
        ("down", "red"),
    ];
    w.wait_until(20, "every target at its color", |d| {
        want.iter().all(|(n, c)| endpoint_of(d, n)["color"] == *c)
    });

    // The raw page: auto-refresh, self-contained.
    let (code, html) = w.get("/");
    assert_eq!(code, 200);
    assert!(html.contains("<meta http-equiv=\"refresh\""), "{html}");
    for external in [
        "src=\"http",
        "href=\"http",
        "<script src",
        "<link ",
        "@import",
        "url(",
    ] {
        assert!(
            !html.contains(external),
            "external asset {external:?}:\n{html}"
        );
    }

    let url = format!("http://127.0.0.1:{}/", w.port);
    let profile = env.path("chromium-profile");
    let common_args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
    ];
    let profile_arg = format!("--user-data-dir={}", profile.display());
    let mut args: Vec<&str> = common_args.to_vec();
    args.extend([profile_arg.as_str(), "--dump-dom", &url]);
    let dom = run_timeout(chromium, &args, b"");
    assert!(dom.status.success(), "{}", dom.all());
    let rows: Vec<(String, String, String)> = dom
        .stdout
        .match_indices("<tr class=\"endpoint ")
        .map(|(i, _)| {
            let tag = &dom.stdout[i..i + dom.stdout[i..].find('>').unwrap()];
            let attr = |a: &str| {
                let start = tag.find(&format!("{a}=\"")).unwrap() + a.len() + 2;
                tag[start..start + tag[start..].find('"').unwrap()].to_string()
            };
            (attr("data-name"), attr("data-color"), attr("class"))
        })
        .collect();
    assert_eq!(rows.len(), want.len(), "rows {rows:?} in:\n{}", dom.stdout);
    let doc = w.status();
    for (name, color) in want {
        // The DOM escapes < and > in attribute values as &lt; / &gt;; either way is one name.
        let row = rows
            .iter()
            .find(|r| r.0.replace("&lt;", "<").replace("&gt;", ">") == name)
            .unwrap_or_else(|| panic!("no row for {name} in {rows:?}"));
        // The page shows the title form; status.json has the lowercase JSON form.
        assert_eq!(row.1.to_ascii_lowercase(), color, "{row:?}");
        assert_eq!(
            row.2,
            format!("endpoint {}", color.to_ascii_lowercase()),
            "{row:?}"
        );
        assert_eq!(endpoint_of(&doc, name)["color"], color);
    }

    // A screenshot, kept for people to look at.
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")))
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("health-status.png");
    let _ = std::fs::remove_file(&png);
    let shot = format!("--screenshot={}", png.display());
    let mut args: Vec<&str> = common_args.to_vec();
    args.extend([profile_arg.as_str(), &shot, "--window-size=1200,800", &url]);
    let out = run_timeout(chromium, &args, b"");
    assert!(out.status.success(), "{}", out.all());
    let bytes =
        std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}\n{}", png.display(), out.all()));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // Width and height from the IHDR chunk.
    let wh = |o: usize| u32::from_be_bytes(bytes[o..o + 4].try_into().unwrap());
    assert_eq!((wh(16), wh(20)), (1200, 800));
    assert!(
        bytes.len() > 10_000,
        "a {}-byte screenshot is suspiciously empty",
        bytes.len()
    );
    println!("status page screenshot: {}", png.display());
}

/// `uca` run through `sh -c 'ulimit -n LIMIT && exec uca ARGS...'`: uca with at most LIMIT
/// open file descriptors, and the same hermetic environment as `uca_std()`.
fn uca_std_with_fd_limit(limit: u32) -> Command {
    let mut c = Command::new("sh");
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

/// Regression: 200 idle connections starved the status server (and, past its file descriptors,
/// the probes); once they go, /status.json answers promptly and the target stayed Green.
#[test]
fn status_server_answers_after_a_flood_of_idle_clients() {
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
    while target_color(port, "t").as_deref() != Some("green") {
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
    assert_eq!(t["color"], "green", "{doc:#}");

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
