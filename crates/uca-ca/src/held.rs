//! A CA that a long-running process (`uca serve`) keeps open between short visits.
//!
//! Opening a CA reads `uca.toml` and the certificates, opens the ledger (a new SQLite connection,
//! whose first sync also syncs the directory, or a new database session) and repairs what an
//! interrupted run left. Done per visit, that was most of what a server spent per issuance. A
//! held CA keeps all of it between visits and takes only the directory's lock for each one, so
//! the CLI still works beside the server: its commands wait for a visit to end, and a visit for
//! a command. The ledger is shared through SQLite's own (normal) locking.
//!
//! What the CLI may change meanwhile is noticed at the next visit: a changed `uca.toml`, CA
//! certificate or chain (size, time, inode), or a replaced ledger file (inode), opens the CA
//! afresh, with its repair.
//! A ledger error also drops the connection, so the next visit reconnects, and so does a
//! database connection the server closed (a restart, a failover) or that does not answer after
//! a quarter second idle. Sealing is a ledger fact, read by the visits that sign. The repair that opening
//! does runs again at a visit once a minute has passed, so what a crashed CLI command or an
//! abandoned reservation left is still settled while the server runs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::layout::CaPaths;
use crate::ledger::LedgerAccess;
use crate::lock::CaLock;
use crate::{Ca, CaError};

/// How often a visit repeats the repair of [`Ca::open`].
const REPAIR_EVERY: Duration = Duration::from_secs(60);

/// A CA kept open between visits; see the module documentation.
pub struct HeldCa {
    dir: PathBuf,
    access: LedgerAccess,
    open: Option<(Ca, DirStamp)>,
    repaired: Instant,
    /// When the last visit ended (how long the ledger connection has been idle).
    last_visit: Instant,
}

/// What the files a visit depends on looked like when the CA was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DirStamp(Vec<Option<FileStamp>>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl DirStamp {
    /// `uca.toml`, the CA certificate and chain by size, time and inode; the ledger file by
    /// inode alone (every write changes its size and time; replacing it changes the inode).
    fn of(paths: &CaPaths) -> DirStamp {
        use std::os::unix::fs::MetadataExt;
        let stamp = |f: PathBuf, contents: bool| {
            std::fs::metadata(f).ok().map(|m| FileStamp {
                len: if contents { m.len() } else { 0 },
                modified: if contents { m.modified().ok() } else { None },
                inode: m.ino(),
            })
        };
        DirStamp(vec![
            stamp(paths.config(), true),
            stamp(paths.ca_cert(), true),
            stamp(paths.ca_chain(), true),
            stamp(paths.ledger(), false),
        ])
    }
}

impl HeldCa {
    /// Nothing is opened until the first visit.
    pub fn new(dir: &Path, access: &LedgerAccess) -> HeldCa {
        HeldCa {
            dir: dir.to_path_buf(),
            access: access.clone(),
            open: None,
            repaired: Instant::now(),
            last_visit: Instant::now(),
        }
    }

    /// Runs `f` on the CA under the directory's lock (blocking while a CLI command holds it),
    /// opening the CA first if it is not open or its files changed since.
    pub fn visit<T>(
        &mut self,
        f: impl FnOnce(&mut Ca) -> Result<T, CaError>,
    ) -> Result<T, CaError> {
        let paths = CaPaths::new(&self.dir);
        let lock = CaLock::acquire(&paths.lock(), &mut || {})?;
        let stamp = DirStamp::of(&paths);
        let idle = self.last_visit.elapsed();
        let reusable =
            matches!(&self.open, Some((ca, seen)) if *seen == stamp && ca.ledger.reusable(idle));
        let ca = match &mut self.open {
            Some((ca, _)) if reusable => {
                ca.lock = Some(lock);
                ca
            }
            slot => {
                *slot = None;
                let (ca, _repair) = Ca::open_locked(&self.dir, &self.access, lock)?;
                self.repaired = Instant::now();
                &mut slot.insert((ca, stamp)).0
            }
        };
        let out = if self.repaired.elapsed() >= REPAIR_EVERY {
            self.repaired = Instant::now();
            ca.repair(time::OffsetDateTime::now_utc())
                .and_then(|_| f(ca))
        } else {
            f(ca)
        };
        ca.lock = None;
        self.last_visit = Instant::now();
        if matches!(out, Err(CaError::Ledger(_))) {
            self.open = None;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InitOptions;

    /// A new CA in a temporary directory (kept alive by the first value), and a held CA on it.
    fn held_ca() -> (tempfile::TempDir, PathBuf, HeldCa) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ca");
        let opts = InitOptions {
            dir: dir.clone(),
            name: "held CA".into(),
            subject: uca_pki::Subject::default(),
            key_type: uca_pki::KeyType::EcP256,
            days: 30,
            passphrase: None,
            config: crate::Config::default(),
            ledger_access: LedgerAccess::default(),
        };
        crate::init(opts, time::OffsetDateTime::now_utc()).unwrap();
        let held = HeldCa::new(&dir, &LedgerAccess::default());
        (tmp, dir, held)
    }

    #[test]
    fn the_cli_opens_the_ca_between_visits_and_a_changed_file_reopens_it() {
        let (_tmp, dir, mut held) = held_ca();
        let first = held.visit(|ca| Ok(ca.ledger().all()?.len())).unwrap();
        // Between visits the lock is free and the ledger shared: a CLI command opens and writes.
        {
            let (mut ca, _) = Ca::open(&dir, &LedgerAccess::default(), &mut || {
                panic!("the held CA kept the lock between visits")
            })
            .unwrap();
            ca.ledger.set_meta("probe", "written by the CLI").unwrap();
        }
        let seen = held.visit(|ca| ca.ledger().meta("probe")).unwrap();
        assert_eq!(seen.as_deref(), Some("written by the CLI"));
        assert_eq!(
            held.visit(|ca| Ok(ca.ledger().all()?.len())).unwrap(),
            first
        );
        // Writes (the server's own, and checkpoints) do not make it reopen.
        let stamp = held.open.as_ref().map(|(_, s)| s.clone());
        held.visit(|ca| {
            // Large enough that maintain() checkpoints it into ledger.sqlite.
            ca.ledger.set_meta("filler", &"x".repeat(4 << 20))?;
            ca.ledger.maintain()
        })
        .unwrap();
        assert_eq!(held.open.as_ref().map(|(_, s)| s.clone()), stamp);
        // A changed uca.toml opens the CA afresh.
        let paths = CaPaths::new(&dir);
        let before = DirStamp::of(&paths);
        let mut config = std::fs::read_to_string(paths.config()).unwrap();
        config.push_str("\n# edited\n");
        std::fs::write(paths.config(), config).unwrap();
        assert_ne!(DirStamp::of(&paths), before);
        held.visit(|ca| {
            assert!(ca.lock.is_some(), "a visit holds the lock");
            Ok(())
        })
        .unwrap();
        assert_eq!(
            held.open.as_ref().map(|(_, s)| s.clone()),
            Some(DirStamp::of(&paths))
        );
    }

    #[test]
    fn a_visit_repeats_the_repair_once_a_minute() {
        let (_tmp, _dir, mut held) = held_ca();
        // A reservation its server gave up long ago (created ten minutes back).
        let long_ago = time::OffsetDateTime::now_utc() - time::Duration::minutes(10);
        let serial = uca_pki::Serial::random().unwrap();
        let stale = crate::CertRecord::reserved(
            serial.clone(),
            "stale.example",
            "server",
            "ec-p256",
            &[],
            &uca_pki::validity::Validity::starting(long_ago, 1, None).unwrap(),
            crate::AcmeOrigin {
                account: "a".into(),
                order: "o".into(),
            },
            long_ago,
        );
        held.visit(|ca| {
            ca.ledger
                .insert(std::slice::from_ref(&stale), crate::ledger::Durability::Now)
        })
        .unwrap();
        let status = |held: &mut HeldCa| {
            held.visit(|ca| Ok(ca.ledger().by_serial(&serial)?.map(|r| r.status)))
                .unwrap()
        };
        assert_eq!(
            status(&mut held),
            Some(crate::Status::Pending),
            "repaired too soon"
        );
        held.repaired = Instant::now()
            .checked_sub(REPAIR_EVERY)
            .unwrap_or(held.repaired);
        assert_eq!(status(&mut held), Some(crate::Status::Void));
    }

    #[test]
    fn a_visit_waits_for_a_cli_command_holding_the_ca() {
        let (_tmp, dir, mut held) = held_ca();
        held.visit(|_| Ok(())).unwrap();
        let (cli, _) = Ca::open(&dir, &LedgerAccess::default(), &mut || {}).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            held.visit(|_| Ok(())).unwrap();
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "a visit went ahead while the CLI held the CA"
        );
        drop(cli);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the visit did not go ahead once the CLI was done");
        waiter.join().unwrap();
    }
}
