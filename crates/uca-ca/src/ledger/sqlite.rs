//! The embedded ledger: one SQLite database in the CA directory.
//!
//! WAL mode. Commits that must be durable at once run with `synchronous=FULL`. The issue flow's
//! commits run with `synchronous=OFF`: appended to the WAL without a flush, made durable by the
//! one filesystem sync the flow does anyway. That is safe because the database file itself is
//! only ever written by checkpoints, and uca runs those itself, with `FULL`, after a write that
//! left the WAL large (automatic checkpoints and checkpoint-on-close are off). A torn WAL
//! tail after a power loss is detected by SQLite's frame checksums and ignored; the repair on the
//! next open turns what it lost into `void`. Back up `ledger.sqlite` with `ledger.sqlite-wal`.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;
use uca_pki::Serial;

use super::{
    AcmeStep, CertRecord, Durability, ExportStamp, Ledger, LedgerError, PendingSync, Status,
    Transition,
};
use crate::CaError;

/// 1: the first ledger. 2: ACME-issued certificates (`source = 'acme'`, with account and order).
/// 3: ACME rows recorded before signing (a pending row without its certificate yet), at most one
/// live row per ACME order.
const SCHEMA_VERSION: i64 = 3;

/// A WAL larger than this is checkpointed (with full syncs) after a successful write. A
/// checkpoint costs two syncs, and an issuance writes some 40 KB of pages (the row and its
/// indexes), so a small limit checkpointed after nearly every `uca serve` commit; 4 MB keeps
/// them rare while reading the WAL when no other process has the ledger open stays a few
/// milliseconds.
const CHECKPOINT_WAL_BYTES: u64 = 4 << 20;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS certificates (
    serial        TEXT PRIMARY KEY,           -- lowercase hex of the DER INTEGER
    name          TEXT NOT NULL,
    profile       TEXT NOT NULL,
    key_type      TEXT NOT NULL,
    sans          TEXT NOT NULL,              -- JSON array, e.g. [\"DNS:rmq1\",\"DNS:rmq\"]
    not_before    INTEGER NOT NULL,           -- unix seconds
    not_after     INTEGER NOT NULL,
    fingerprint   TEXT UNIQUE,                -- SHA-256, openssl style; NULL only before signing
    status        TEXT NOT NULL CHECK (status IN ('pending','issued','superseded','revoked','void')),
    source        TEXT NOT NULL CHECK (source IN ('root','issue','csr','acme')),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    superseded_by TEXT,
    revoked_at    INTEGER,                    -- unix seconds, with status 'revoked'
    revocation_reason TEXT,                   -- RFC 5280 reason name, e.g. keyCompromise
    cert_pem      TEXT,                       -- NULL only before signing
    acme_account  TEXT,                       -- with source 'acme': the account's ID
    acme_order    TEXT,                       -- and the order's
    CHECK (status IN ('pending','void') OR (fingerprint IS NOT NULL AND cert_pem IS NOT NULL))
) STRICT;
CREATE INDEX IF NOT EXISTS certificates_name ON certificates(name);
CREATE UNIQUE INDEX IF NOT EXISTS certificates_live_acme_order ON certificates(acme_order)
    WHERE acme_order IS NOT NULL AND status IN ('pending', 'issued');
CREATE TABLE IF NOT EXISTS exports (
    path       TEXT NOT NULL,                 -- a plan output (directory or file)
    name       TEXT NOT NULL,                 -- the NAME written there
    format     TEXT NOT NULL,
    serial     TEXT NOT NULL,                 -- the certificate it holds
    settings   TEXT NOT NULL,                 -- format, modes and owner asked for
    digest     TEXT NOT NULL,                 -- SHA-256 over the files as written (names, modes, bytes)
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (path, name)
) STRICT;
CREATE INDEX IF NOT EXISTS certificates_status ON certificates(status);
";

/// From an older version: SQLite cannot change a column's constraints in place, so the table is
/// rebuilt (inside the caller's transaction: all or nothing).
const MIGRATE_REBUILD: &str = "
ALTER TABLE certificates RENAME TO certificates_old;
DROP INDEX IF EXISTS certificates_name;
DROP INDEX IF EXISTS certificates_status;
DROP INDEX IF EXISTS certificates_live_acme_order;
";

/// SQLite implementation of [`Ledger`].
pub struct SqliteLedger {
    conn: Connection,
    wal: std::path::PathBuf,
}

fn db_err(e: rusqlite::Error) -> CaError {
    CaError::Ledger(LedgerError::Db(e))
}

/// An empty string is "not yet known" (a row written before signing): stored as NULL.
fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn from_ts(s: i64) -> Result<OffsetDateTime, CaError> {
    OffsetDateTime::from_unix_timestamp(s)
        .map_err(|source| LedgerError::BadTimestamp { value: s, source }.into())
}

const COLUMNS: &str = "serial, name, profile, key_type, sans, not_before, not_after, fingerprint, status, source, \
                       created_at, updated_at, superseded_by, revoked_at, revocation_reason, cert_pem, acme_account, acme_order";

/// The same columns with the certificate left out, for listings of many rows.
const SUMMARY_COLUMNS: &str = "serial, name, profile, key_type, sans, not_before, not_after, fingerprint, status, \
                               source, created_at, updated_at, superseded_by, revoked_at, revocation_reason, '', \
                               acme_account, acme_order";

impl SqliteLedger {
    /// Opens (and on first use creates) the ledger at `path`.
    pub fn open(path: &Path) -> Result<SqliteLedger, CaError> {
        let conn = Connection::open(path).map_err(|source| LedgerError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(db_err)?;
        // Normal locking (the WAL index in `ledger.sqlite-shm`): `uca serve` keeps its
        // connection open between visits (crate::HeldCa), and a WAL-mode connection keeps a
        // shared lock on the file while open, which an exclusive-mode CLI would wait on forever.
        // Writers still take turns under uca's own lock.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_err)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(db_err)?;
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(db_err)?;
        // One plan per statement whatever its parameters: without it SQLite compiles a cached
        // statement with `WHERE x = ?1 ORDER BY ...` again each time the value changes.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(db_err)?;
        let known: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(db_err)?;
        if known != SCHEMA_VERSION {
            Self::upgrade(&conn)?;
        }
        Ok(SqliteLedger {
            conn,
            wal: path.with_extension("sqlite-wal"),
        })
    }

    /// Creates the schema, or brings an older one to [`SCHEMA_VERSION`], in one transaction.
    fn upgrade(conn: &Connection) -> Result<(), CaError> {
        let has_meta: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
                [],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        let stored: Option<String> = if has_meta {
            conn.query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?
        } else {
            None
        };
        let stored = match stored {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=SCHEMA_VERSION).contains(&n) => Some(n),
                _ => {
                    return Err(LedgerError::NewerSchema {
                        what: "ledger",
                        found: v,
                        supported: SCHEMA_VERSION,
                    }
                    .into());
                }
            },
        };
        if stored == Some(2) {
            Self::refuse_twice_issued(conn)?;
        }
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db_err)?;
        let migrated = (|| -> rusqlite::Result<()> {
            let rebuild = stored.is_some_and(|v| v < SCHEMA_VERSION);
            if rebuild {
                conn.execute_batch(MIGRATE_REBUILD)?;
            }
            conn.execute_batch(SCHEMA)?;
            if rebuild {
                // Version 1 has no ACME columns.
                let acme = if stored == Some(1) {
                    ""
                } else {
                    ", acme_account, acme_order"
                };
                conn.execute_batch(&format!(
                    "INSERT INTO certificates (serial, name, profile, key_type, sans, not_before, not_after, \
                     fingerprint, status, source, created_at, updated_at, superseded_by, revoked_at, \
                     revocation_reason, cert_pem{acme}) \
                     SELECT serial, name, profile, key_type, sans, not_before, not_after, fingerprint, status, \
                     source, created_at, updated_at, superseded_by, revoked_at, revocation_reason, cert_pem{acme} \
                     FROM certificates_old ORDER BY rowid;
                     DROP TABLE certificates_old;"
                ))?;
            }
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?1) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![SCHEMA_VERSION.to_string()],
            )?;
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            Ok(())
        })();
        match migrated {
            Ok(()) => conn.execute_batch("COMMIT").map_err(db_err),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(db_err(e))
            }
        }
    }

    /// Version 3 allows one pending-or-issued row per ACME order; an earlier uca may have
    /// recorded two issued certificates for one (a server that stalled while finalizing), and
    /// which one the client received is not recorded: the operator revokes the other first.
    fn refuse_twice_issued(conn: &Connection) -> Result<(), CaError> {
        let twice: Option<String> = conn
            .query_row(
                "SELECT group_concat(acme_order || ': ' || serials, '; ') FROM ( \
                 SELECT acme_order, group_concat(serial, ', ') AS serials FROM certificates \
                 WHERE acme_order IS NOT NULL AND status IN ('pending', 'issued') \
                 GROUP BY acme_order HAVING count(*) > 1)",
                [],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        match twice {
            Some(orders) => Err(LedgerError::TwiceIssued { orders }.into()),
            None => Ok(()),
        }
    }

    /// Copies the WAL into the database and empties it, with full syncs.
    pub fn checkpoint(&mut self) -> Result<(), CaError> {
        self.set_durability(Durability::Now)?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(db_err)
    }

    /// The ACME steps in one transaction committed at `durability`; for each, whether it took.
    fn write_acme_steps(
        &mut self,
        steps: &[AcmeStep],
        now: OffsetDateTime,
        durability: Durability,
    ) -> Result<Vec<bool>, CaError> {
        self.set_durability(durability)?;
        let tx = self.conn.transaction().map_err(db_err)?;
        let mut took = Vec::with_capacity(steps.len());
        for step in steps {
            let n = match step {
                AcmeStep::Reserve(r) => insert_row(&tx, r, super::ONE_LIVE_ROW_PER_ORDER)?,
                AcmeStep::Complete { record, replaces } => {
                    let serial = record.serial.hex();
                    let n = tx
                        .prepare_cached(
                            "UPDATE certificates SET status = 'issued', fingerprint = ?2, cert_pem = ?3, \
                             not_before = ?4, not_after = ?5, updated_at = ?6 WHERE serial = ?1 AND status = 'pending'",
                        )
                        .and_then(|mut st| {
                            st.execute(params![
                                serial,
                                record.fingerprint_sha256,
                                record.cert_pem,
                                ts(record.not_before),
                                ts(record.not_after),
                                ts(now)
                            ])
                        })
                        .map_err(db_err)?;
                    if n == 1 {
                        supersede(&tx, replaces.as_ref(), &serial, now)?;
                    }
                    n
                }
                AcmeStep::Record { record, replaces } => {
                    let n = insert_row(&tx, record, super::ONE_LIVE_ROW_PER_ORDER)?;
                    if n == 1 {
                        supersede(&tx, replaces.as_ref(), &record.serial.hex(), now)?;
                    }
                    n
                }
                AcmeStep::Abandon(serial) => tx
                    .prepare_cached(
                        "UPDATE certificates SET status = 'void', updated_at = ?2 WHERE serial = ?1 AND status = 'pending'",
                    )
                    .and_then(|mut st| st.execute(params![serial.hex(), ts(now)]))
                    .map_err(db_err)?,
            };
            took.push(n == 1);
        }
        tx.commit().map_err(db_err)?;
        Ok(took)
    }

    fn set_durability(&self, durability: Durability) -> Result<(), CaError> {
        let level = match durability {
            Durability::Now => "FULL",
            Durability::WithNextSync => "OFF",
        };
        self.conn
            .pragma_update(None, "synchronous", level)
            .map_err(db_err)
    }

    fn query(
        &self,
        sql_where: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<CertRecord>, CaError> {
        self.query_columns(COLUMNS, sql_where, args)
    }

    fn query_columns(
        &self,
        columns: &str,
        sql_where: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<CertRecord>, CaError> {
        let sql = format!("SELECT {columns} FROM certificates {sql_where}");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(db_err)?;
        let mut rows = stmt.query(args).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db_err)? {
            out.push(record_from_row(r).map_err(|e| match e {
                RowError::Db(e) => db_err(e),
                RowError::Bad(e) => CaError::Ledger(e),
            })?);
        }
        Ok(out)
    }
}

/// Inserts the whole row `r`, with `tail` after the statement (e.g. an ON CONFLICT); the rows
/// it added.
/// The certificate an ACME certificate `replaces` (RFC 9773), if still issued, becomes
/// superseded by it.
fn supersede(
    tx: &rusqlite::Transaction<'_>,
    replaces: Option<&Serial>,
    by: &str,
    now: OffsetDateTime,
) -> Result<(), CaError> {
    let Some(old) = replaces else {
        return Ok(());
    };
    tx.prepare_cached(
        "UPDATE certificates SET status = 'superseded', superseded_by = ?2, updated_at = ?3 \
         WHERE serial = ?1 AND status = 'issued'",
    )
    .and_then(|mut st| st.execute(params![old.hex(), by, ts(now)]))
    .map_err(db_err)?;
    Ok(())
}

fn insert_row(
    tx: &rusqlite::Transaction<'_>,
    r: &CertRecord,
    tail: &str,
) -> Result<usize, CaError> {
    let sans = serde_json::to_string(&r.sans).map_err(LedgerError::Json)?;
    let mut stmt = tx
        .prepare_cached(&format!(
            "INSERT INTO certificates ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18){tail}"
        ))
        .map_err(db_err)?;
    stmt.execute(params![
        r.serial.hex(),
        r.name,
        r.profile,
        r.key_type,
        sans,
        ts(r.not_before),
        ts(r.not_after),
        non_empty(&r.fingerprint_sha256),
        r.status.as_str(),
        r.source.as_str(),
        ts(r.created_at),
        ts(r.updated_at),
        r.superseded_by,
        r.revoked_at.map(ts),
        r.revocation_reason,
        non_empty(&r.cert_pem),
        r.acme.as_ref().map(|a| a.account.as_str()),
        r.acme.as_ref().map(|a| a.order.as_str()),
    ])
    .map_err(db_err)
}

enum RowError {
    Db(rusqlite::Error),
    Bad(LedgerError),
}

impl From<rusqlite::Error> for RowError {
    fn from(e: rusqlite::Error) -> Self {
        RowError::Db(e)
    }
}

fn record_from_row(r: &rusqlite::Row<'_>) -> Result<CertRecord, RowError> {
    let time = |s: i64| {
        OffsetDateTime::from_unix_timestamp(s)
            .map_err(|source| RowError::Bad(LedgerError::BadTimestamp { value: s, source }))
    };
    let serial: String = r.get(0)?;
    let sans: String = r.get(4)?;
    let status: String = r.get(8)?;
    let source: String = r.get(9)?;
    let revoked_at: Option<i64> = r.get(13)?;
    Ok(CertRecord {
        serial: Serial::parse(&serial).ok_or_else(|| {
            RowError::Bad(LedgerError::BadSerial {
                value: serial.clone(),
            })
        })?,
        name: r.get(1)?,
        profile: r.get(2)?,
        key_type: r.get(3)?,
        sans: serde_json::from_str(&sans).map_err(|e| RowError::Bad(LedgerError::BadSanList(e)))?,
        not_before: time(r.get(5)?)?,
        not_after: time(r.get(6)?)?,
        fingerprint_sha256: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
        status: status.parse().map_err(RowError::Bad)?,
        source: source.parse().map_err(RowError::Bad)?,
        created_at: time(r.get(10)?)?,
        updated_at: time(r.get(11)?)?,
        superseded_by: r.get(12)?,
        revoked_at: revoked_at.map(time).transpose()?,
        revocation_reason: r.get(14)?,
        cert_pem: r.get::<_, Option<String>>(15)?.unwrap_or_default(),
        acme: match (
            r.get::<_, Option<String>>(16)?,
            r.get::<_, Option<String>>(17)?,
        ) {
            (Some(account), Some(order)) => Some(super::AcmeOrigin { account, order }),
            _ => None,
        },
    })
}

impl Ledger for SqliteLedger {
    fn insert(&mut self, records: &[CertRecord], durability: Durability) -> Result<(), CaError> {
        self.set_durability(durability)?;
        let tx = self.conn.transaction().map_err(db_err)?;
        for r in records {
            insert_row(&tx, r, "").map_err(|e| match e {
                CaError::Ledger(LedgerError::Db(rusqlite::Error::SqliteFailure(f, _)))
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    CaError::Ledger(LedgerError::DuplicateSerial {
                        serial: r.serial.clone(),
                    })
                }
                other => other,
            })?;
        }
        tx.commit().map_err(db_err)
    }

    fn transition(
        &mut self,
        changes: &[Transition],
        now: OffsetDateTime,
        durability: Durability,
    ) -> Result<(), CaError> {
        self.set_durability(durability)?;
        let tx = self.conn.transaction().map_err(db_err)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE certificates SET status = ?2, updated_at = ?3, superseded_by = COALESCE(?4, superseded_by) WHERE serial = ?1",
                )
                .map_err(db_err)?;
            for c in changes {
                let n = stmt
                    .execute(params![
                        c.serial.hex(),
                        c.to.as_str(),
                        ts(now),
                        c.superseded_by.as_ref().map(|s| s.hex())
                    ])
                    .map_err(db_err)?;
                if n != 1 {
                    return Err(LedgerError::UnknownSerial {
                        serial: c.serial.clone(),
                    }
                    .into());
                }
            }
        }
        tx.commit().map_err(db_err)
    }

    fn maintain(&mut self) -> Result<(), CaError> {
        let wal_bytes = std::fs::metadata(&self.wal).map(|m| m.len()).unwrap_or(0);
        if wal_bytes > CHECKPOINT_WAL_BYTES {
            self.checkpoint()
        } else {
            Ok(())
        }
    }

    fn revoke(&mut self, serial: &Serial, reason: &str, at: OffsetDateTime) -> Result<(), CaError> {
        self.set_durability(Durability::Now)?;
        let n = self
            .conn
            .execute(
                "UPDATE certificates SET status = 'revoked', revoked_at = ?2, revocation_reason = ?3, updated_at = ?2 \
                 WHERE serial = ?1",
                params![serial.hex(), ts(at), reason],
            )
            .map_err(db_err)?;
        if n != 1 {
            return Err(LedgerError::UnknownSerial {
                serial: serial.clone(),
            }
            .into());
        }
        Ok(())
    }

    fn revoked(&self) -> Result<Vec<(Serial, OffsetDateTime, String)>, CaError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT serial, revoked_at, revocation_reason FROM certificates WHERE status = 'revoked' ORDER BY revoked_at, serial",
            )
            .map_err(db_err)?;
        let mut rows = stmt.query([]).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db_err)? {
            let serial: String = r.get(0).map_err(db_err)?;
            let at: Option<i64> = r.get(1).map_err(db_err)?;
            let reason: Option<String> = r.get(2).map_err(db_err)?;
            out.push((
                Serial::parse(&serial).ok_or(LedgerError::BadSerial { value: serial })?,
                from_ts(at.unwrap_or(0))?,
                reason.unwrap_or_else(|| "unspecified".into()),
            ));
        }
        Ok(out)
    }

    fn next_crl_number(&mut self) -> Result<u64, CaError> {
        self.set_durability(Durability::Now)?;
        let tx = self.conn.transaction().map_err(db_err)?;
        let current: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = 'crl_number'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_err)?;
        let next = current.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + 1;
        tx.execute(
            "INSERT INTO meta(key, value) VALUES ('crl_number', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![next.to_string()],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(next)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, CaError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_err)
    }

    fn meta_all(&self) -> Result<Vec<(String, String)>, CaError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, value FROM meta ORDER BY key")
            .map_err(db_err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), CaError> {
        self.set_durability(Durability::Now)?;
        self.conn
            .execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(db_err)
    }

    fn export_stamps(&self) -> Result<Vec<ExportStamp>, CaError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT path, name, format, serial, settings, digest, updated_at FROM exports",
            )
            .map_err(db_err)?;
        let mut rows = stmt.query([]).map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db_err)? {
            let path: String = r.get(0).map_err(db_err)?;
            out.push(ExportStamp {
                path: path.into(),
                name: r.get(1).map_err(db_err)?,
                format: r.get(2).map_err(db_err)?,
                serial: r.get(3).map_err(db_err)?,
                settings: r.get(4).map_err(db_err)?,
                digest: r.get(5).map_err(db_err)?,
                updated_at: from_ts(r.get(6).map_err(db_err)?)?,
            });
        }
        Ok(out)
    }

    fn acme_steps(
        &mut self,
        steps: &[AcmeStep],
        now: OffsetDateTime,
    ) -> Result<Vec<bool>, CaError> {
        self.write_acme_steps(steps, now, AcmeStep::durability(steps))
    }

    fn acme_steps_owing_sync(
        &mut self,
        steps: &[AcmeStep],
        now: OffsetDateTime,
    ) -> Result<(Vec<bool>, Option<PendingSync>), CaError> {
        // Appended to the WAL unflushed, as the issue flow's commits are (see the module
        // comment); the flush comes from the caller, through PendingSync.
        let took = self.write_acme_steps(steps, now, Durability::WithNextSync)?;
        let owed = (AcmeStep::durability(steps) == Durability::Now).then(|| PendingSync {
            wal: self.wal.clone(),
            database: self.wal.with_extension("sqlite"),
        });
        Ok((took, owed))
    }

    fn interrupted(&self) -> Result<Vec<CertRecord>, CaError> {
        let fresh = OffsetDateTime::now_utc() - super::ABANDONED_AFTER;
        self.query(
            "WHERE status = 'pending' AND (source <> 'acme' OR created_at < ?1) ORDER BY created_at, rowid",
            &[&ts(fresh)],
        )
    }

    fn record_exports(&mut self, stamps: &[ExportStamp]) -> Result<(), CaError> {
        self.set_durability(Durability::Now)?;
        let tx = self.conn.transaction().map_err(db_err)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO exports (path, name, format, serial, settings, digest, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                     ON CONFLICT(path, name) DO UPDATE SET format = excluded.format, serial = excluded.serial, \
                     settings = excluded.settings, digest = excluded.digest, updated_at = excluded.updated_at",
                )
                .map_err(db_err)?;
            for st in stamps {
                stmt.execute(params![
                    st.path.display().to_string(),
                    st.name,
                    st.format,
                    st.serial,
                    st.settings,
                    st.digest,
                    ts(st.updated_at)
                ])
                .map_err(db_err)?;
            }
        }
        tx.commit().map_err(db_err)
    }

    fn forget_exports(&mut self, name: &str) -> Result<(), CaError> {
        self.set_durability(Durability::Now)?;
        self.conn
            .execute("DELETE FROM exports WHERE name = ?1", params![name])
            .map(|_| ())
            .map_err(db_err)
    }

    fn summaries(&self) -> Result<Vec<CertRecord>, CaError> {
        self.query_columns(SUMMARY_COLUMNS, "ORDER BY created_at, rowid", &[])
    }

    fn all(&self) -> Result<Vec<CertRecord>, CaError> {
        self.query("ORDER BY created_at, rowid", &[])
    }

    fn with_status(&self, status: Status) -> Result<Vec<CertRecord>, CaError> {
        self.query(
            "WHERE status = ?1 ORDER BY created_at, rowid",
            &[&status.as_str()],
        )
    }

    fn by_serial(&self, serial: &Serial) -> Result<Option<CertRecord>, CaError> {
        Ok(self
            .query("WHERE serial = ?1", &[&serial.hex()])?
            .into_iter()
            .next())
    }

    fn by_acme_order(&self, order: &str) -> Result<Option<CertRecord>, CaError> {
        Ok(self
            .query(
                "WHERE acme_order = ?1 AND status <> 'void' ORDER BY status = 'issued' DESC, created_at DESC",
                &[&order],
            )?
            .into_iter()
            .next())
    }

    fn by_name(&self, name: &str) -> Result<Vec<CertRecord>, CaError> {
        self.query(
            "WHERE name = ?1 ORDER BY created_at DESC, rowid DESC",
            &[&name],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The version 2 table, as ledgers written before ACME reservations have it.
    const V2: &str = "
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
        CREATE TABLE certificates (
            serial TEXT PRIMARY KEY, name TEXT NOT NULL, profile TEXT NOT NULL, key_type TEXT NOT NULL,
            sans TEXT NOT NULL, not_before INTEGER NOT NULL, not_after INTEGER NOT NULL,
            fingerprint TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL CHECK (status IN ('pending','issued','superseded','revoked','void')),
            source TEXT NOT NULL CHECK (source IN ('root','issue','csr','acme')),
            created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, superseded_by TEXT,
            revoked_at INTEGER, revocation_reason TEXT, cert_pem TEXT NOT NULL,
            acme_account TEXT, acme_order TEXT) STRICT;
        CREATE INDEX certificates_name ON certificates(name);
        CREATE INDEX certificates_status ON certificates(status);
        INSERT INTO certificates VALUES ('0a', 'web', 'server', 'ecdsa-p256', '[\"DNS:web\"]', 1, 2,
            'AA:01', 'issued', 'acme', 1, 1, NULL, NULL, NULL, 'PEM-A', 'acct', 'order-1');
        INSERT INTO certificates VALUES ('0b', 'db', 'server', 'ecdsa-p256', '[\"DNS:db\"]', 1, 2,
            'AA:02', 'revoked', 'issue', 1, 1, NULL, 5, 'keyCompromise', 'PEM-B', NULL, NULL);
        INSERT INTO meta VALUES ('schema_version', '2');
        PRAGMA user_version = 2;
    ";

    /// The version 2 ledger above as file `name` in `dir`, opened (and so upgraded).
    fn v2_ledger(dir: &Path, name: &str) -> (std::path::PathBuf, SqliteLedger) {
        let path = dir.join(name);
        Connection::open(&path).unwrap().execute_batch(V2).unwrap();
        let ledger = SqliteLedger::open(&path).unwrap();
        (path, ledger)
    }

    /// A reservation for `order` shaped like `signed`: pending, without its certificate.
    fn reservation_of(signed: &CertRecord, serial: &str, order: &str) -> CertRecord {
        let mut r = signed.clone();
        r.serial = Serial::parse(serial).unwrap();
        r.fingerprint_sha256.clear();
        r.cert_pem.clear();
        r.status = Status::Pending;
        r.acme.as_mut().unwrap().order = order.into();
        r
    }

    /// `signed` again under another serial, with a fingerprint of its own (`CC:SERIAL`).
    fn signed_as(signed: &CertRecord, serial: &str) -> CertRecord {
        let mut r = signed.clone();
        r.serial = Serial::parse(serial).unwrap();
        r.fingerprint_sha256 = format!("CC:{serial}");
        r
    }

    /// A version 2 ledger is rebuilt in place: every row and column kept, reservations without
    /// a certificate accepted after, and still one live row per order.
    #[test]
    fn a_version_2_ledger_keeps_its_rows_and_takes_reservations() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut ledger) = v2_ledger(dir.path(), "ledger.sqlite");
        let all = ledger.all().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].acme.as_ref().unwrap().order, "order-1");
        assert_eq!(all[0].cert_pem, "PEM-A");
        assert_eq!(all[1].revocation_reason.as_deref(), Some("keyCompromise"));
        assert_eq!(ledger.meta("schema_version").unwrap().as_deref(), Some("3"));

        let now = OffsetDateTime::now_utc();
        let reserved = reservation_of(&all[0], "0c", "order-1");
        let other = reservation_of(&all[0], "0d", "order-2");
        let took = ledger
            .acme_steps(
                &[
                    AcmeStep::Reserve(reserved),
                    AcmeStep::Reserve(other.clone()),
                ],
                now,
            )
            .unwrap();
        assert_eq!(
            took,
            vec![false, true],
            "order-1 already has its certificate"
        );
        let row = ledger.by_acme_order("order-2").unwrap().unwrap();
        assert_eq!(row.status, Status::Pending);
        assert!(!row.is_signed());
        drop(ledger);
        // Opened again: nothing to migrate, the reservation still there.
        let ledger = SqliteLedger::open(&path).unwrap();
        assert_eq!(ledger.all().unwrap().len(), 3);
    }

    /// A certificate recorded without a reservation is issued at once, owes a sync like a
    /// completion, supersedes what it replaces, and gives way to an order's live row.
    #[test]
    fn a_recorded_certificate_is_issued_at_once_unless_its_order_has_a_row() {
        let dir = tempfile::tempdir().unwrap();
        let (_path, mut ledger) = v2_ledger(dir.path(), "ledger.sqlite");
        let now = OffsetDateTime::now_utc();
        let first = ledger.all().unwrap()[0].clone();
        let record = |serial: &str, order: &str, replaces: Option<&Serial>| {
            let mut record = signed_as(&first, serial);
            record.acme.as_mut().unwrap().order = order.into();
            AcmeStep::Record {
                record,
                replaces: replaces.cloned(),
            }
        };
        let (took, owed) = ledger
            .acme_steps_owing_sync(
                &[
                    record("0c", "order-1", None),
                    record("0d", "order-2", Some(&first.serial)),
                ],
                now,
            )
            .unwrap();
        assert_eq!(
            took,
            vec![false, true],
            "order-1 already has its certificate"
        );
        owed.expect("a recorded certificate is delivered: it owes a sync")
            .finish()
            .unwrap();
        let row = ledger.by_acme_order("order-2").unwrap().unwrap();
        assert_eq!(row.status, Status::Issued);
        assert_eq!(row.fingerprint_sha256, "CC:0d");
        let old = ledger.by_serial(&first.serial).unwrap().unwrap();
        assert_eq!(old.status, Status::Superseded);
        assert_eq!(old.superseded_by.as_deref(), Some("0d"));
        assert!(
            ledger
                .by_serial(&Serial::parse("0c").unwrap())
                .unwrap()
                .is_none()
        );
    }

    /// A completion committed without waiting for the disk is visible at once and owes one
    /// sync, which works without the connection, after a checkpoint emptied the log, and
    /// (through the database file) when the log is gone; a reservation alone owes none.
    #[test]
    fn a_completion_owes_a_sync_that_any_handle_can_finish() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut ledger) = v2_ledger(dir.path(), "ledger.sqlite");
        let now = OffsetDateTime::now_utc();
        let signed = ledger.all().unwrap()[0].clone();
        let reservation = |serial: &str, order: &str| reservation_of(&signed, serial, order);
        let completion = |serial: &str| AcmeStep::Complete {
            record: signed_as(&signed, serial),
            replaces: None,
        };

        let (took, owed) = ledger
            .acme_steps_owing_sync(
                &[
                    AcmeStep::Reserve(reservation("0c", "order-2")),
                    AcmeStep::Reserve(reservation("0d", "order-3")),
                ],
                now,
            )
            .unwrap();
        assert_eq!(took, vec![true, true]);
        assert!(
            owed.is_none(),
            "reservations are ordered before the next sync"
        );

        let (took, owed) = ledger
            .acme_steps_owing_sync(&[completion("0c")], now)
            .unwrap();
        assert_eq!(took, vec![true]);
        let owed = owed.expect("a completion owes a sync");
        assert_eq!(owed.wal, dir.path().join("ledger.sqlite-wal"));
        assert_eq!(owed.database, path);
        // Committed before the sync: another connection already reads it.
        let other = SqliteLedger::open(&path).unwrap();
        let row = other.by_serial(&Serial::parse("0c").unwrap()).unwrap();
        assert_eq!(row.unwrap().status, Status::Issued);
        owed.finish().unwrap();

        let (_, owed) = ledger
            .acme_steps_owing_sync(&[completion("0d")], now)
            .unwrap();
        ledger.checkpoint().unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join("ledger.sqlite-wal"))
                .unwrap()
                .len(),
            0
        );
        owed.unwrap().finish().unwrap();

        let gone = PendingSync {
            wal: dir.path().join("gone.sqlite-wal"),
            database: path.clone(),
        };
        gone.finish().unwrap();
        let nothing = PendingSync {
            wal: dir.path().join("gone.sqlite-wal"),
            database: dir.path().join("gone.sqlite"),
        };
        assert!(matches!(
            nothing.finish(),
            Err(CaError::Ledger(LedgerError::SyncUnknown { .. }))
        ));
    }

    /// Reservations (pending or voided, without a certificate) copy like any row, both ways.
    #[test]
    fn reservations_copy_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let (_, mut from) = v2_ledger(dir.path(), "a.sqlite");
        let now = OffsetDateTime::now_utc();
        let signed = from.all().unwrap()[0].clone();
        let kept = reservation_of(&signed, "0e", "order-3");
        let voided = reservation_of(&signed, "0f", "order-4");
        let took = from
            .acme_steps(
                &[
                    AcmeStep::Reserve(kept),
                    AcmeStep::Reserve(voided.clone()),
                    AcmeStep::Abandon(voided.serial.clone()),
                ],
                now,
            )
            .unwrap();
        assert_eq!(took, vec![true, true, true]);
        let mut to = SqliteLedger::open(&dir.path().join("b.sqlite")).unwrap();
        let report = super::super::copy::copy(&from, &mut to, "b.sqlite").unwrap();
        assert_eq!(report.certificates, 4);
        let back = to.by_serial(&voided.serial).unwrap().unwrap();
        assert_eq!(back.status, Status::Void);
        assert!(!back.is_signed());
        assert_eq!(
            to.by_acme_order("order-3").unwrap().unwrap().status,
            Status::Pending
        );
    }

    /// A version 2 ledger where one ACME order has two issued certificates (an earlier uca,
    /// a stalled server) is refused with the serials, and left as it was.
    #[test]
    fn a_version_2_ledger_with_two_certificates_for_one_order_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(V2).unwrap();
        conn.execute_batch(
            "INSERT INTO certificates VALUES ('1a', 'web', 'server', 'ecdsa-p256', '[\"DNS:web\"]', 1, 2,
                'AA:03', 'issued', 'acme', 2, 2, NULL, NULL, NULL, 'PEM-C', 'acct', 'order-1');",
        )
        .unwrap();
        drop(conn);
        let Err(e) = SqliteLedger::open(&path) else {
            panic!("opened a ledger with two certificates for one order");
        };
        let msg = e.to_string();
        assert!(
            msg.contains("order-1: ") && msg.contains("0a") && msg.contains("1a"),
            "{msg}"
        );
        let version: i64 = Connection::open(&path)
            .unwrap()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 2);
    }
}
