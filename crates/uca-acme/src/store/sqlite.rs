//! The store in `acme.sqlite` beside the CA's ledger: one server.
//!
//! Facts a client has been told and that it cannot recreate (accounts, key changes) commit with
//! `synchronous=FULL`; the rest with `NORMAL` (a power loss may roll back a just-created order
//! or a validation, which the client redoes).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::db::{Backend, DbError, Engine, Row, Value};
use super::{Commit, StoreError};

/// 1: the first store. 2: orders remember the certificate they replace (RFC 9773) and their
/// profile; external account keys may limit profiles. 3: orders record who claimed them for
/// finalization and when.
const SCHEMA_VERSION: i64 = 4;

/// Prepared statements kept per connection: more than the store has.
const STATEMENT_CACHE: usize = 128;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS eab_keys (
    kid        TEXT PRIMARY KEY,
    hmac_key   BLOB NOT NULL,
    allow      TEXT NOT NULL,          -- JSON array of name/CIDR patterns
    created_at INTEGER NOT NULL,
    profiles   TEXT NOT NULL DEFAULT '[]'  -- JSON array: the profiles its accounts may use (empty: any)
) STRICT;
CREATE TABLE IF NOT EXISTS accounts (
    id         TEXT PRIMARY KEY,
    jwk        TEXT NOT NULL,
    thumbprint TEXT NOT NULL UNIQUE,
    spki       BLOB NOT NULL UNIQUE,   -- DER SubjectPublicKeyInfo: no CSR may carry it (RFC 8555 §11.1)
    status     TEXT NOT NULL,
    contact    TEXT NOT NULL,          -- JSON array
    eab_kid    TEXT,
    created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS orders (
    id          TEXT PRIMARY KEY,
    account     TEXT NOT NULL,
    status      TEXT NOT NULL,
    identifiers TEXT NOT NULL,         -- JSON array of 'dns:NAME' / 'ip:ADDR'
    not_before  INTEGER,
    not_after   INTEGER,
    expires     INTEGER NOT NULL,
    error       TEXT,
    certificate TEXT,                  -- serial, hex
    created_at  INTEGER NOT NULL,
    replaces    TEXT,                  -- ARI certificate ID of the certificate it renews
    profile     TEXT,                  -- the certificate profile it asked for
    processing_by    TEXT,             -- the server that claimed it for finalization
    processing_since INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS orders_account ON orders(account, created_at);
CREATE TABLE IF NOT EXISTS authzs (
    id         TEXT PRIMARY KEY,
    order_id   TEXT NOT NULL,
    account    TEXT NOT NULL,
    identifier TEXT NOT NULL,
    wildcard   INTEGER NOT NULL,
    status     TEXT NOT NULL,
    expires    INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS authzs_order ON authzs(order_id);
CREATE INDEX IF NOT EXISTS authzs_account ON authzs(account, identifier);
CREATE TABLE IF NOT EXISTS challenges (
    id        TEXT PRIMARY KEY,
    authz     TEXT NOT NULL,
    type      TEXT NOT NULL,
    token     TEXT NOT NULL,
    status    TEXT NOT NULL,
    validated INTEGER,
    error     TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS challenges_authz ON challenges(authz);
CREATE TABLE IF NOT EXISTS certificates (
    id        TEXT PRIMARY KEY,
    serial    TEXT NOT NULL UNIQUE,
    order_id  TEXT NOT NULL UNIQUE,
    account   TEXT NOT NULL,
    chain_pem TEXT NOT NULL,
    not_after INTEGER                  -- the leaf's, unix seconds: when its records may be pruned
) STRICT;
CREATE INDEX IF NOT EXISTS certificates_expiry ON certificates(not_after);
";

/// The SQLite connection and the `synchronous` level it is at.
pub(crate) struct SqliteBackend {
    conn: Connection,
    commit: Commit,
    log: LogWatch,
}

/// SQLite's own checkpoint threshold (pages of log), which a connection keeps unless told
/// otherwise.
pub(crate) const DEFAULT_CHECKPOINT_PAGES: i64 = 1000;

/// The write-ahead log as this connection's commits leave it: its size, and the size past
/// which the connection checkpoints by itself inside its next commit (what SQLite's automatic
/// checkpoint does; watching the log replaces it).
#[derive(Clone)]
pub(crate) struct LogWatch {
    pub pages: Arc<AtomicI64>,
    pub checkpoint_past: Arc<AtomicI64>,
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn value_of(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        // The schema has no REAL column; a stray one reads as its integer part.
        ValueRef::Real(r) => Value::Int(r as i64),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl SqliteBackend {
    /// Opens (and on first use creates, mode 0600) the store's file.
    pub fn open(path: &Path) -> Result<SqliteBackend, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        // The file holds external account keys: created 0600 (SQLite gives its -wal and -shm
        // files the same mode).
        {
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path);
        }
        let conn = Connection::open(path).map_err(open_err)?;
        let db = |e: rusqlite::Error| StoreError::Db(e.into());
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.pragma_update(None, "foreign_keys", false)
            .map_err(db)?;
        // One plan per statement whatever its parameters: otherwise SQLite compiles a cached
        // `WHERE order_id = ?1 ORDER BY rowid` again at every new value (a twentieth of the
        // server's CPU went to that).
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(db)?;
        let known: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(db)?;
        if known > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found: known.to_string(),
                supported: SCHEMA_VERSION,
            });
        }
        if known < SCHEMA_VERSION {
            conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
            // Another process (the server and a CLI command starting together) may have
            // migrated it while this one waited for the lock.
            let known: i64 = match conn.pragma_query_value(None, "user_version", |r| r.get(0)) {
                Ok(v) => v,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(db(e));
                }
            };
            let made = (|| {
                if known >= SCHEMA_VERSION {
                    return Ok(());
                }
                if known == 1 {
                    conn.execute_batch(
                        "ALTER TABLE orders ADD COLUMN replaces TEXT;
                         ALTER TABLE orders ADD COLUMN profile TEXT;
                         ALTER TABLE eab_keys ADD COLUMN profiles TEXT NOT NULL DEFAULT '[]';",
                    )?;
                }
                if (1..=2).contains(&known) {
                    conn.execute_batch(
                        "ALTER TABLE orders ADD COLUMN processing_by TEXT;
                         ALTER TABLE orders ADD COLUMN processing_since INTEGER;",
                    )?;
                }
                if (1..=3).contains(&known) {
                    // No query looked orders up by `replaces`: the index only cost a page
                    // write per order.
                    conn.execute_batch("DROP INDEX IF EXISTS orders_replaces")?;
                    let certificates_known: bool = conn.query_row(
                        "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = 'certificates'",
                        [],
                        |r| r.get(0),
                    )?;
                    if certificates_known {
                        conn.execute_batch(
                            "ALTER TABLE certificates ADD COLUMN not_after INTEGER",
                        )?;
                    }
                }
                conn.execute_batch(SCHEMA)?;
                conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            })();
            match made {
                Ok(()) => conn.execute_batch("COMMIT").map_err(db)?,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(db(e));
                }
            }
        }
        // Room for every statement the server repeats (the default 16 made them evict each
        // other and be parsed again).
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let log = LogWatch {
            pages: Arc::new(AtomicI64::new(0)),
            checkpoint_past: Arc::new(AtomicI64::new(DEFAULT_CHECKPOINT_PAGES)),
        };
        let watch = log.clone();
        let mut conn = conn;
        conn.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: i32| {
            let pages = i64::from(pages);
            watch.pages.store(pages, Ordering::Relaxed);
            if pages >= watch.checkpoint_past.load(Ordering::Relaxed) {
                // As SQLite's automatic checkpoint: passive, and its failure is not the
                // commit's (the commit already happened).
                let _ = wal.checkpoint();
            }
            Ok(())
        }))
        .map_err(db)?;
        Ok(SqliteBackend {
            conn,
            commit: Commit::Durable,
            log,
        })
    }
}

impl Backend for SqliteBackend {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<usize, DbError> {
        // Through the statement cache: the server repeats a few dozen statements, and parsing
        // them anew was a tenth of its CPU.
        Ok(self
            .conn
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(args))?)
    }

    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>, DbError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(value_of(r.get_ref(i)?));
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn begin(&mut self, commit: Commit) -> Result<(), DbError> {
        if self.commit != commit {
            let level = match commit {
                Commit::Durable => "FULL",
                Commit::Lazy => "NORMAL",
            };
            self.conn.pragma_update(None, "synchronous", level)?;
            self.commit = commit;
        }
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), DbError> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    fn execute_lazily(&mut self, sql: &str, args: &[Value]) -> Result<usize, DbError> {
        self.begin(Commit::Lazy)?;
        match self.execute(sql, args) {
            Ok(n) => {
                self.commit()?;
                Ok(n)
            }
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }

    fn rollback(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn begin_read(&mut self) -> Result<(), DbError> {
        self.conn.execute_batch("BEGIN")?;
        Ok(())
    }

    fn end_read(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("COMMIT");
        }
    }

    fn log_watch(&self) -> Option<LogWatch> {
        Some(self.log.clone())
    }

    fn file(&self) -> Option<std::path::PathBuf> {
        self.conn
            .path()
            .filter(|p| !p.is_empty())
            .map(std::path::PathBuf::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifier::Identifier;
    use crate::store::Store;

    /// Watching the log replaces SQLite's automatic checkpoint: a connection still checkpoints
    /// by itself once its log passes the threshold, and the log then starts over.
    #[test]
    fn a_connection_checkpoints_by_itself_past_its_threshold() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&Store::path_in(dir.path())).unwrap();
        store.checkpoint_past(8);
        let pages = store.log_pages().unwrap();
        let mut seen = Vec::new();
        for i in 0..40 {
            let key = crate::model::EabKey {
                kid: format!("kid-{i}"),
                hmac_key: vec![7; 32],
                allow: vec!["*.test".repeat(200)],
                profiles: Vec::new(),
                created_at: 0,
                accounts: 0,
            };
            store.write(Commit::Lazy, |tx| tx.insert_eab(&key)).unwrap();
            seen.push(pages.load(Ordering::Relaxed));
        }
        // (The first commit also carries the schema the store wrote when it was created.)
        let most = seen[1..].iter().copied().max().unwrap();
        assert!(
            (8..20).contains(&most),
            "the log stops growing past 8 pages: {seen:?}"
        );
        assert!(
            seen.windows(2).any(|w| w[1] < w[0]),
            "and starts over after the checkpoint: {seen:?}"
        );
    }

    #[test]
    fn the_store_is_private_and_refuses_a_newer_schema() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = Store::path_in(dir.path());
        drop(Store::open(&path).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        assert!(matches!(
            Store::open(&path),
            Err(StoreError::NewerSchema { .. })
        ));
    }

    #[test]
    fn a_cached_statement_is_not_compiled_again_for_new_values() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = SqliteBackend::open(&Store::path_in(dir.path())).unwrap();
        let sql = "SELECT id FROM authzs WHERE order_id = ?1 ORDER BY rowid";
        for order in ["o1", "o2", "o3"] {
            db.query(sql, &[Value::Text(order.into())]).unwrap();
        }
        let recompiled = db
            .conn
            .prepare_cached(sql)
            .unwrap()
            .get_status(rusqlite::StatementStatus::RePrepare);
        assert_eq!(recompiled, 0);
    }

    /// A large backlog is pruned a batch per transaction, dead orders and expired
    /// certificates' orders alike, and nothing else goes.
    #[test]
    fn a_prune_goes_a_batch_at_a_time() {
        use crate::model::{IssuedCert, Order, OrderStatus};
        use crate::store::{PRUNE_BATCH, Pruned, Retention};
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&Store::path_in(dir.path())).unwrap();
        let order = |id: String, status: OrderStatus| Order {
            id,
            account: "a1".into(),
            status,
            identifiers: vec![Identifier::Dns("a.test".into())],
            not_before: None,
            not_after: None,
            expires: 100,
            error: None,
            certificate: None,
            created_at: 10,
            replaces: None,
            profile: None,
        };
        let dead = PRUNE_BATCH + 7;
        let expired = PRUNE_BATCH + 3;
        store
            .write(Commit::Lazy, |tx| {
                for i in 0..dead {
                    tx.insert_order(&order(format!("dead{i:04}"), OrderStatus::Invalid))?;
                }
                for i in 0..expired + 2 {
                    let id = format!("valid{i:04}");
                    tx.insert_order(&order(id.clone(), OrderStatus::Valid))?;
                    tx.insert_cert(&IssuedCert {
                        id: id.clone(),
                        serial: format!("{i:04x}"),
                        order: id,
                        account: "a1".into(),
                        chain_pem: "PEM".into(),
                        // Two have not expired.
                        not_after: Some(if i < expired { 50 } else { 5_000 }),
                    })?;
                }
                Ok(())
            })
            .unwrap();
        let keep = Retention::at(1_000, 0, 0);
        let (first, more) = store.prune_step(&keep).unwrap();
        assert!(more);
        assert_eq!(first.orders, 2 * PRUNE_BATCH, "{first:?}");
        let mut total = first;
        total.add(&store.prune(&keep).unwrap());
        assert_eq!(
            total,
            Pruned {
                orders: dead + expired,
                certificates: expired,
                ..Pruned::default()
            }
        );
        let left: Vec<String> = store
            .read()
            .orders()
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect();
        let unexpired = [
            format!("valid{expired:04}"),
            format!("valid{:04}", expired + 1),
        ];
        assert_eq!(left, unexpired);
        assert!(store.read().cert(&unexpired[0]).unwrap().is_some());
        assert!(store.read().cert("valid0000").unwrap().is_none());
    }

    #[test]
    fn a_version_3_store_gains_certificate_expiries_and_drops_the_unused_replaces_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = Store::path_in(dir.path());
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP INDEX certificates_expiry;
             ALTER TABLE certificates DROP COLUMN not_after;
             CREATE INDEX orders_replaces ON orders(replaces);
             INSERT INTO certificates VALUES ('o1', '0a', 'o1', 'a1', 'not a certificate');
             PRAGMA user_version = 3;",
        )
        .unwrap();
        drop(conn);
        let mut store = Store::open(&path).unwrap();
        let cert = store.read().cert("o1").unwrap().unwrap();
        assert_eq!(cert.not_after, None);
        // A prune reads the expiry from the PEM; one that does not parse is kept for good.
        store
            .prune(&crate::store::Retention::at(i64::MAX / 2, 0, 0))
            .unwrap();
        let cert = store.read().cert("o1").unwrap().unwrap();
        assert_eq!(cert.not_after, Some(i64::MAX));
        drop(store);
        let conn = Connection::open(&path).unwrap();
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            indexes.contains(&"certificates_expiry".to_string()),
            "{indexes:?}"
        );
        assert!(
            !indexes.contains(&"orders_replaces".to_string()),
            "{indexes:?}"
        );
    }

    #[test]
    fn a_version_1_store_gains_the_replaces_profile_and_claim_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = Store::path_in(dir.path());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE orders (id TEXT PRIMARY KEY, account TEXT NOT NULL, status TEXT NOT NULL, \
             identifiers TEXT NOT NULL, not_before INTEGER, not_after INTEGER, expires INTEGER NOT NULL, \
             error TEXT, certificate TEXT, created_at INTEGER NOT NULL) STRICT;
             INSERT INTO orders VALUES ('o1', 'a1', 'processing', '[\"dns:a.test\"]', NULL, NULL, 0, NULL, 'ab', 0);
             CREATE TABLE eab_keys (kid TEXT PRIMARY KEY, hmac_key BLOB NOT NULL, allow TEXT NOT NULL, \
             created_at INTEGER NOT NULL) STRICT;
             INSERT INTO eab_keys VALUES ('k1', x'00', '[]', 0);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        drop(conn);
        let store = Store::open(&path).unwrap();
        let order = store.read().order("o1").unwrap().unwrap();
        assert_eq!(order.replaces, None);
        assert_eq!(order.identifiers, vec![Identifier::Dns("a.test".into())]);
        assert!(store.read().replacing_orders_of("a1").unwrap().is_empty());
        assert_eq!(order.profile, None);
        assert!(store.read().eab("k1").unwrap().unwrap().profiles.is_empty());
        // An order claimed before claims were recorded counts as abandoned.
        let stale = store.read().abandoned_orders(None, 0).unwrap();
        assert_eq!(stale.len(), 1);
    }
}
