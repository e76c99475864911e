//! A throwaway PostgreSQL server per test: Debian's PostgreSQL binaries, `initdb` as the
//! `postgres` user when the tests run as root (initdb refuses root), on 127.0.0.1 and a free
//! port, stopped (`pg_ctl stop -m immediate`) when the value is dropped, even after a failure.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::process::free_port;

/// One running PostgreSQL server.
pub struct Postgres {
    pub port: u16,
    data: PathBuf,
    bin: PathBuf,
    _tmp: tempfile::TempDir,
}

/// Where this machine's PostgreSQL server binaries are (`pg_config --bindir`, else the newest
/// under /usr/lib/postgresql).
fn bindir() -> PathBuf {
    if let Ok(out) = StdCommand::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed: run the README's test command")
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("no initdb under /usr/lib/postgresql: run the README's test command")
}

fn is_root() -> bool {
    StdCommand::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The server's own programs run as `postgres` when we are root.
fn as_owner(bin: &Path, program: &str) -> StdCommand {
    if is_root() {
        let mut c = StdCommand::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        StdCommand::new(bin.join(program))
    }
}

fn run_ok(mut c: StdCommand, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Postgres {
    /// initdb + start.
    pub fn start() -> Postgres {
        let bin = bindir();
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let data = tmp.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        if is_root() {
            run_ok(
                {
                    let mut c = StdCommand::new("chown");
                    c.args(["-R", "postgres:postgres"]).arg(tmp.path());
                    c
                },
                "chown",
            );
        }
        let mut init = as_owner(&bin, "initdb");
        init.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        ]);
        run_ok(init, "initdb");
        let port = free_port();
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\nfsync = off\n",
            tmp.path().display()
        );
        let conf_path = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).expect("postgresql.conf");
        text.push_str(&conf);
        std::fs::write(&conf_path, text).expect("write postgresql.conf");
        let pg = Postgres {
            port,
            data,
            bin,
            _tmp: tmp,
        };
        let mut start = as_owner(&pg.bin, "pg_ctl");
        start
            .arg("-D")
            .arg(&pg.data)
            .arg("-l")
            .arg(pg.data.join("server.log"))
            .args(["-w", "-t", "30", "start"]);
        let out = start.output().expect("pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(pg.data.join("server.log")).unwrap_or_default()
        );
        pg
    }

    /// `postgres://postgres@127.0.0.1:PORT/DB`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates a database.
    pub fn create_db(&self, db: &str) -> String {
        self.sql("postgres", &format!("CREATE DATABASE \"{db}\""));
        self.url(db)
    }

    /// Runs SQL through psql (the independent client) and returns its unaligned output.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let out = StdCommand::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args([
                "-d",
                db,
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Appends `lines` to postgresql.conf and restarts the server.
    pub fn reconfigure(&self, lines: &str) {
        let conf_path = self.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).expect("postgresql.conf");
        text.push_str(lines);
        text.push('\n');
        std::fs::write(&conf_path, text).expect("write postgresql.conf");
        self.restart();
    }

    /// Stops the server now (a crash: `-m immediate`); [`Postgres::restart`] starts it again.
    pub fn stop(&self) {
        let mut c = as_owner(&self.bin, "pg_ctl");
        c.arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"]);
        run_ok(c, "pg_ctl stop");
    }

    /// Restarts the server (or starts a stopped one).
    pub fn restart(&self) {
        let mut c = as_owner(&self.bin, "pg_ctl");
        c.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.data.join("server.log"))
            .args(["-w", "-t", "30", "-m", "fast", "restart"]);
        run_ok(c, "pg_ctl restart");
    }

    /// Puts a file into the data directory, owned by the server's user, mode 0600.
    pub fn put_private(&self, name: &str, from: &Path) {
        let to = self.data.join(name);
        std::fs::copy(from, &to).expect("copy into the data dir");
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        if is_root() {
            run_ok(
                {
                    let mut c = StdCommand::new("chown");
                    c.arg("postgres:postgres").arg(&to);
                    c
                },
                "chown",
            );
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_owner(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// A TCP proxy in front of a PostgreSQL server that breaks one connection at the worst moment:
/// right at the COMMIT of the first transaction that inserts into `certificates`. With
/// `deliver`, the server receives that COMMIT (the write lands, the client never hears);
/// without, it never does (the write is rolled back). Every later connection passes through.
pub struct CommitCutter {
    pub port: u16,
    cut: Arc<AtomicBool>,
}

impl CommitCutter {
    pub fn start(pg: &Postgres, deliver: bool) -> CommitCutter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let upstream = pg.port;
        let cut = Arc::new(AtomicBool::new(false));
        let done = cut.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let done = done.clone();
                // This connection's cut: from then on, nothing the server says reaches the
                // client (the answer to the COMMIT included).
                let cutting = Arc::new(AtomicBool::new(false));
                let (c2, s2, muted) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                    cutting.clone(),
                );
                std::thread::spawn(move || relay_answers(s2, c2, &muted));
                std::thread::spawn(move || {
                    relay_until_commit(client, server, deliver, &done, &cutting)
                });
            }
        });
        CommitCutter { port, cut }
    }

    /// Whether the connection was cut.
    pub fn cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

/// Server → client bytes until the connection is cut.
fn relay_answers(mut server: TcpStream, mut client: TcpStream, muted: &AtomicBool) {
    let mut buf = [0u8; 65536];
    loop {
        let n = match server.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if muted.load(Ordering::SeqCst) || client.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
}

/// Client → server bytes, until the COMMIT after an `INSERT INTO certificates` (once per
/// proxy): then both ends are closed, after the server got the COMMIT if `deliver`.
fn relay_until_commit(
    mut client: TcpStream,
    mut server: TcpStream,
    deliver: bool,
    done: &AtomicBool,
    cutting: &AtomicBool,
) {
    let mut inserted = false;
    let mut buf = [0u8; 65536];
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        let has = |needle: &[u8]| chunk.windows(needle.len()).any(|w| w == needle);
        inserted |= has(b"INSERT INTO certificates");
        if inserted && has(b"COMMIT") && !done.swap(true, Ordering::SeqCst) {
            cutting.store(true, Ordering::SeqCst);
            if deliver {
                let _ = server.write_all(chunk);
                // Let the server commit before the client loses it.
                std::thread::sleep(Duration::from_millis(300));
            }
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            return;
        }
        if server.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Both);
}

/// A plain TCP forwarder to a port that can be changed while it runs (new connections go to
/// the new port): a database "address" that starts pointing at a standby.
pub struct Forwarder {
    pub port: u16,
    target: Arc<std::sync::atomic::AtomicU16>,
}

impl Forwarder {
    pub fn start(target: u16) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind forwarder");
        let port = listener.local_addr().expect("addr").port();
        let to = Arc::new(std::sync::atomic::AtomicU16::new(target));
        let current = to.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", current.load(Ordering::SeqCst)))
                else {
                    continue;
                };
                let (c2, s2) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut &s2, &mut &c2);
                    let _ = c2.shutdown(Shutdown::Both);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut &client, &mut &server);
                    let _ = server.shutdown(Shutdown::Both);
                });
            }
        });
        Forwarder { port, target: to }
    }

    /// New connections go to `port` from now on.
    pub fn retarget(&self, port: u16) {
        self.target.store(port, Ordering::SeqCst);
    }
}
