//! A throwaway highly available PostgreSQL on loopback, the way operators run it: one etcd, two
//! PostgreSQL 15 nodes managed by Patroni in synchronous mode (ttl 10 s), and HAProxy routing to
//! whichever node Patroni's REST API calls `/primary`. Everything runs as the `postgres` user and
//! is killed when the value is dropped, even after a failure.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::process::{KillOnDrop, free_port};
use super::servers::{Ready, Server};

/// How long Patroni may take to elect, promote or rejoin (ttl 10 s, loop 2 s, plus slack for
/// a busy 2-core machine).
pub const FAILOVER_LIMIT: Duration = Duration::from_secs(60);

/// One Patroni-managed node.
struct Node {
    name: String,
    rest: u16,
    pg: u16,
    config: PathBuf,
    data: PathBuf,
    log: PathBuf,
    patroni: Option<KillOnDrop>,
}

/// etcd, two nodes, and HAProxy on the primary.
pub struct Patroni {
    dir: tempfile::TempDir,
    _etcd: KillOnDrop,
    nodes: Vec<Node>,
    proxy: Option<Server>,
}

fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id postgres");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("the postgres user (install postgresql)")
    };
    (id("-u"), id("-g"))
}

/// A command run as the `postgres` user (initdb and the server refuse root).
fn as_postgres(program: &str) -> Command {
    let mut c = Command::new(program);
    if is_root() {
        let (uid, gid) = postgres_ids();
        c.uid(uid).gid(gid);
    }
    c.env("HOME", "/tmp");
    c
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn http_status(url: &str) -> u16 {
    Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-m",
            "2",
            "-w",
            "%{http_code}",
            url,
        ])
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(0)
}

fn bindir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed: run the README's test command")
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("no PostgreSQL under /usr/lib/postgresql")
}

fn node_config(name: &str, rest: u16, pg: u16, etcd: u16, data: &Path, dir: &Path) -> String {
    format!(
        "scope: uca\nname: {name}\n\
         restapi:\n  listen: 127.0.0.1:{rest}\n  connect_address: 127.0.0.1:{rest}\n\
         etcd:\n  host: 127.0.0.1:{etcd}\n\
         bootstrap:\n  dcs:\n    ttl: 10\n    loop_wait: 2\n    retry_timeout: 3\n\
         \x20   maximum_lag_on_failover: 1048576\n    synchronous_mode: true\n\
         \x20   postgresql:\n      use_pg_rewind: true\n      parameters:\n\
         \x20       wal_level: replica\n        hot_standby: \"on\"\n        max_wal_senders: 10\n\
         \x20       max_replication_slots: 10\n        wal_log_hints: \"on\"\n\
         \x20 initdb:\n  - encoding: UTF8\n  - auth: trust\n\
         \x20 pg_hba:\n  - local all all trust\n  - host replication postgres 127.0.0.1/32 trust\n\
         \x20 - host all all 127.0.0.1/32 trust\n\
         postgresql:\n  listen: 127.0.0.1:{pg}\n  connect_address: 127.0.0.1:{pg}\n\
         \x20 data_dir: {data}\n  bin_dir: {bin}\n  pgpass: {dir}/pgpass-{name}\n\
         \x20 authentication:\n    superuser:\n      username: postgres\n      password: uca-test\n\
         \x20   replication:\n      username: postgres\n      password: uca-test\n\
         \x20 parameters:\n    unix_socket_directories: {dir}\n    max_connections: 200\n",
        data = data.display(),
        bin = bindir().display(),
        dir = dir.display(),
    )
}

impl Patroni {
    /// Starts etcd, both nodes and the proxy; returns once there is a leader and a
    /// synchronous standby.
    pub fn start() -> Patroni {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let (etcd_client, etcd_peer) = (free_port(), free_port());
        let etcd_log = std::fs::File::create(dir.path().join("etcd.log")).expect("etcd log");
        let mut etcd = as_postgres("etcd");
        etcd.arg("--name")
            .arg("e1")
            .arg("--data-dir")
            .arg(dir.path().join("etcd"))
            .arg("--listen-client-urls")
            .arg(format!("http://127.0.0.1:{etcd_client}"))
            .arg("--advertise-client-urls")
            .arg(format!("http://127.0.0.1:{etcd_client}"))
            .arg("--listen-peer-urls")
            .arg(format!("http://127.0.0.1:{etcd_peer}"))
            .arg("--initial-advertise-peer-urls")
            .arg(format!("http://127.0.0.1:{etcd_peer}"))
            .arg("--initial-cluster")
            .arg(format!("e1=http://127.0.0.1:{etcd_peer}"))
            // Debian's Patroni speaks etcd's v2 API.
            .arg("--enable-v2=true")
            .stdin(Stdio::null())
            .stdout(etcd_log.try_clone().expect("clone"))
            .stderr(etcd_log);
        let etcd = KillOnDrop(etcd.spawn().expect("run etcd (install etcd-server)"));
        let nodes = (1..=2)
            .map(|i| {
                let name = format!("node{i}");
                let (rest, pg) = (free_port(), free_port());
                let data = dir.path().join(format!("pg{i}"));
                let config = dir.path().join(format!("{name}.yml"));
                std::fs::write(
                    &config,
                    node_config(&name, rest, pg, etcd_client, &data, dir.path()),
                )
                .expect("write patroni config");
                Node {
                    log: dir.path().join(format!("{name}.log")),
                    name,
                    rest,
                    pg,
                    config,
                    data,
                    patroni: None,
                }
            })
            .collect();
        let mut cluster = Patroni {
            dir,
            _etcd: etcd,
            nodes,
            proxy: None,
        };
        for i in 0..2 {
            cluster.start_node(i);
            if i == 0 {
                cluster.wait_leader(None);
            }
        }
        cluster.wait_sync_standby();
        let cfg = cluster.dir.path().join("haproxy-pg.cfg");
        let servers: Vec<(String, u16, u16)> = cluster
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.pg, n.rest))
            .collect();
        cluster.proxy = Some(Server::start(
            "haproxy-pg",
            cluster.dir.path(),
            Ready::Connect,
            |port| {
                let mut text = format!(
                    "global\n    maxconn 500\n\ndefaults\n    mode tcp\n    timeout connect 2s\n\
                     \x20   timeout client 120s\n    timeout server 120s\n    timeout check 2s\n\n\
                     listen pg_primary\n    bind 127.0.0.1:{port}\n    option httpchk GET /primary\n\
                     \x20   http-check expect status 200\n\
                     \x20   default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions\n"
                );
                for (name, pg, rest) in &servers {
                    text.push_str(&format!(
                        "    server {name} 127.0.0.1:{pg} check port {rest}\n"
                    ));
                }
                std::fs::write(&cfg, text).expect("write haproxy-pg.cfg");
                let mut c = Command::new("haproxy");
                c.args(["-f", cfg.to_str().expect("utf-8"), "-db"]);
                c
            },
        ));
        cluster.wait_proxy_on_primary();
        cluster
    }

    /// Waits until the proxy's checks have run: HAProxy starts with every server up, so the
    /// first connections could reach the standby. Five connections in a row must land on a
    /// writable node.
    pub fn wait_proxy_on_primary(&self) {
        let port = self.proxy.as_ref().expect("proxy").port;
        let deadline = Instant::now() + FAILOVER_LIMIT;
        let mut in_a_row = 0;
        while in_a_row < 5 {
            let out = Command::new("psql")
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .args(["-U", "postgres", "-d", "postgres", "-XAtq"])
                .args(["-c", "SELECT pg_is_in_recovery()"])
                .env("PGCONNECT_TIMEOUT", "3")
                .output()
                .expect("psql");
            if String::from_utf8_lossy(&out.stdout).trim() == "f" {
                in_a_row += 1;
            } else {
                in_a_row = 0;
                std::thread::sleep(Duration::from_millis(250));
            }
            assert!(
                Instant::now() < deadline,
                "the proxy does not reach the primary:\n{}",
                self.logs()
            );
        }
    }

    /// `postgres://postgres@127.0.0.1:PROXY/postgres`: always the primary.
    pub fn url(&self) -> String {
        let port = self.proxy.as_ref().expect("proxy").port;
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    }

    /// (Re)starts node `i`'s Patroni (it starts or rejoins its PostgreSQL).
    pub fn start_node(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .expect("patroni log");
        let mut c = as_postgres("patroni");
        c.arg(&node.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone"))
            .stderr(log);
        node.patroni = Some(KillOnDrop(
            c.spawn().expect("run patroni (install patroni)"),
        ));
    }

    /// Node `i`'s PostgreSQL port (direct, not through the proxy).
    pub fn pg_port(&self, i: usize) -> u16 {
        self.nodes[i].pg
    }

    /// Which node Patroni's REST API calls the primary, if one does.
    pub fn leader(&self) -> Option<usize> {
        (0..self.nodes.len()).find(|&i| {
            http_status(&format!("http://127.0.0.1:{}/primary", self.nodes[i].rest)) == 200
        })
    }

    /// Waits for a leader other than `not`; panics with the logs after [`FAILOVER_LIMIT`].
    pub fn wait_leader(&self, not: Option<usize>) -> usize {
        let deadline = Instant::now() + FAILOVER_LIMIT;
        loop {
            if let Some(i) = self.leader()
                && Some(i) != not
            {
                return i;
            }
            assert!(Instant::now() < deadline, "no new leader:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Waits until a node answers `/sync` (it is the synchronous standby).
    pub fn wait_sync_standby(&self) -> usize {
        let deadline = Instant::now() + FAILOVER_LIMIT;
        loop {
            if let Some(i) = (0..self.nodes.len()).find(|&i| {
                http_status(&format!("http://127.0.0.1:{}/sync", self.nodes[i].rest)) == 200
            }) {
                return i;
            }
            assert!(
                Instant::now() < deadline,
                "no synchronous standby:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The PIDs of node `i`'s Patroni and PostgreSQL (postmaster and its children).
    fn pids(&self, i: usize) -> Vec<u32> {
        let node = &self.nodes[i];
        let mut pids: Vec<u32> = node
            .patroni
            .as_ref()
            .map(|c| c.0.id())
            .into_iter()
            .collect();
        if let Some(pm) = std::fs::read_to_string(node.data.join("postmaster.pid"))
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
        {
            pids.push(pm);
            if let Ok(out) = Command::new("ps")
                .args(["-o", "pid=", "--ppid", &pm.to_string()])
                .output()
            {
                pids.extend(
                    String::from_utf8_lossy(&out.stdout)
                        .split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
        pids
    }

    fn signal(&self, i: usize, signal: &str) {
        let pids: Vec<String> = self.pids(i).iter().map(u32::to_string).collect();
        if !pids.is_empty() {
            let _ = Command::new("kill")
                .arg(format!("-{signal}"))
                .args(&pids)
                .status();
        }
    }

    /// The machine of node `i` dies: kill -9 of Patroni and PostgreSQL.
    pub fn kill(&mut self, i: usize) {
        self.signal(i, "KILL");
        drop(self.nodes[i].patroni.take());
    }

    /// Node `i` freezes (SIGSTOP of Patroni and PostgreSQL), as a hung machine would.
    pub fn freeze(&self, i: usize) {
        self.signal(i, "STOP");
    }

    /// Node `i` runs again (SIGCONT).
    pub fn thaw(&self, i: usize) {
        self.signal(i, "CONT");
    }

    /// psql on node `i` directly (not through the proxy); `None` if it cannot answer.
    pub fn try_sql_on(&self, i: usize, sql: &str) -> Option<String> {
        let out = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &self.nodes[i].pg.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-XAtq", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "3")
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// psql through the proxy (the primary).
    pub fn sql(&self, sql: &str) -> String {
        let port = self.proxy.as_ref().expect("proxy").port;
        let out = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-XAtq", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "3")
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The tail of every node's Patroni log and the proxy's.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for n in &self.nodes {
            let log = std::fs::read_to_string(&n.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            text.push_str(&format!("--- {}:\n", n.name));
            for l in tail.into_iter().rev() {
                text.push_str(l);
                text.push('\n');
            }
        }
        if let Some(p) = &self.proxy {
            text.push_str(&format!("--- haproxy:\n{}", p.log()));
        }
        text
    }
}

impl Drop for Patroni {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.signal(i, "CONT");
            self.signal(i, "KILL");
        }
        // Orphaned children (a killed postmaster's backends, a restarted node's) go too.
        let _ = Command::new("pkill")
            .args(["-9", "-f", &self.dir.path().display().to_string()])
            .status();
    }
}
