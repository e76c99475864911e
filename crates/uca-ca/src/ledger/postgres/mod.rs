//! The ledger on PostgreSQL, for deployments with more than one issuer (`uca serve` replicas)
//! or a database operators already run highly available.
//!
//! Every commit is durable when it returns (`synchronous_commit` as the server is configured:
//! with a synchronous standby, on two machines), so [`Durability`] makes no difference here.
//! Uniqueness of serials and fingerprints is the database's job (primary key, unique index).
//! Pending rows carry the node that wrote them: the repair at [`crate::Ca::open`] settles only
//! its own node's, never a row another replica is still completing.

pub mod migrate;
pub mod target;
pub mod tls;

use std::collections::HashMap;
use std::sync::Mutex;

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Row, Statement};
use time::OffsetDateTime;
use uca_pki::Serial;

use super::{
    ABANDONED_AFTER, AcmeOrigin, AcmeStep, CertRecord, Durability, ExportStamp, Ledger,
    LedgerError, Status, StoredCrl, Transition,
};
use crate::CaError;
pub use target::{PgTarget, PgTls};

/// PostgreSQL implementation of [`Ledger`].
pub struct PgLedger {
    /// `None` only while being dropped.
    conn: Mutex<Option<Conn>>,
    node: String,
    /// Where to connect again when a commit's outcome must be read back.
    target: PgTarget,
    /// Whether the connection may be kept for the next visit (not a health check's).
    reuse: bool,
}

/// Runs `f` where the synchronous client may block. The client drives tokio-postgres on a
/// runtime of its own, and tokio forbids blocking on one from a thread that is driving async
/// tasks (`uca serve`'s handlers, `uca health watch`): there, `f` runs on a scoped thread.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|s| s.spawn(f).join()).unwrap_or_else(|p| std::panic::resume_unwind(p))
}

impl Drop for PgLedger {
    fn drop(&mut self) {
        let Some(conn) = self
            .conn
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return;
        };
        // A healthy connection waits for this process's next visit (a server opens the CA
        // for every write); the rest are closed.
        let kept = if self.reuse {
            park(&self.target, conn)
        } else {
            Some(conn)
        };
        if let Some(conn) = kept {
            off_runtime(move || drop(conn));
        }
    }
}

/// A connection kept between visits and unused for this long is asked (one empty query) before
/// it serves the next; a fresher one only has to be open. (The synchronous client reads from
/// its socket only when used, so a close by the server, in a restart or a failover, would
/// otherwise show only as the failure of the next request.)
const ASK_AFTER_IDLE: std::time::Duration = std::time::Duration::from_millis(250);

/// Connections kept between visits, by target, at most [`PARKED_MAX`] in all.
static PARKED: Mutex<Vec<(String, Conn)>> = Mutex::new(Vec::new());
const PARKED_MAX: usize = 8;

/// Keeps `conn` for the next [`PgLedger::connect`] to `target`; gives it back when it cannot.
fn park(target: &PgTarget, conn: Conn) -> Option<Conn> {
    if conn.client.is_closed() {
        return Some(conn);
    }
    let mut parked = PARKED.lock().unwrap_or_else(|p| p.into_inner());
    if parked.len() >= PARKED_MAX {
        return Some(conn);
    }
    parked.push((target.to_string(), conn));
    None
}

/// A parked connection to `target` that still answers (one empty query; after a failover the
/// old ones do not, and are closed).
fn unpark(target: &PgTarget) -> Option<Conn> {
    let key = target.to_string();
    loop {
        let mut conn = {
            let mut parked = PARKED.lock().unwrap_or_else(|p| p.into_inner());
            let at = parked.iter().position(|(k, _)| *k == key)?;
            parked.swap_remove(at).1
        };
        if conn
            .client
            .is_valid(std::time::Duration::from_secs(2))
            .is_ok()
        {
            return Some(conn);
        }
        drop(conn);
    }
}

/// The client and its prepared statements (each is parsed once per connection).
struct Conn {
    client: Client,
    statements: HashMap<String, Statement>,
}

fn pg_err(e: postgres::Error) -> CaError {
    CaError::Ledger(LedgerError::Pg(e))
}

const COLUMNS: &str = "serial, name, profile, key_type, sans, not_before, not_after, fingerprint, status, source, \
                       created_at, updated_at, superseded_by, revoked_at, revocation_reason, cert_pem, acme_account, acme_order";

const SUMMARY_COLUMNS: &str = "serial, name, profile, key_type, sans, not_before, not_after, fingerprint, status, \
                               source, created_at, updated_at, superseded_by, revoked_at, revocation_reason, ''::text, \
                               acme_account, acme_order";

impl Conn {
    fn statement(&mut self, sql: &str) -> Result<Statement, CaError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).map_err(pg_err)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    fn query(&mut self, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, CaError> {
        let s = self.statement(sql)?;
        self.client.query(&s, args).map_err(pg_err)
    }

    fn execute(&mut self, sql: &str, args: &[&(dyn ToSql + Sync)]) -> Result<u64, CaError> {
        let s = self.statement(sql)?;
        self.client.execute(&s, args).map_err(pg_err)
    }
}

impl PgLedger {
    /// Connects, and brings the schema up to date (under an advisory lock, so replicas that
    /// start together do not race). `node` names this writer in the rows it leaves pending.
    /// A connection this process parked after an earlier visit is used again (its schema was
    /// checked when it was made).
    pub fn connect(target: &PgTarget, node: &str) -> Result<PgLedger, CaError> {
        Self::open(target, node, true)
    }

    /// A connection of its own, made now and closed after: what a health check must test.
    pub fn connect_fresh(target: &PgTarget, node: &str) -> Result<PgLedger, CaError> {
        Self::open(target, node, false)
    }

    fn open(target: &PgTarget, node: &str, reuse: bool) -> Result<PgLedger, CaError> {
        let conn = off_runtime(|| -> Result<Conn, CaError> {
            if reuse && let Some(conn) = unpark(target) {
                return Ok(conn);
            }
            let mut client = target.connect()?;
            migrate::apply(&mut client, &migrate::LEDGER)?;
            Ok(Conn {
                client,
                statements: HashMap::new(),
            })
        })?;
        Ok(PgLedger {
            conn: Mutex::new(Some(conn)),
            node: node.to_string(),
            target: target.clone(),
            reuse,
        })
    }

    /// Runs `f` on the connection, off any async runtime.
    fn with_conn<T: Send>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, CaError> + Send,
    ) -> Result<T, CaError> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let Some(conn) = guard.as_mut() else {
            return Err(LedgerError::Unlocked.into());
        };
        off_runtime(move || f(conn))
    }

    fn records(
        &self,
        columns: &str,
        sql_where: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<CertRecord>, CaError> {
        let sql = format!("SELECT {columns} FROM certificates {sql_where}");
        self.with_conn(|c| c.query(&sql, args)?.iter().map(record_from_row).collect())
    }

    /// Runs `f` in one transaction: all of it commits, or none. If the connection breaks
    /// during COMMIT, the outcome is unknown: a new connection asks `committed` (a read by
    /// the rows' keys) and the answer decides; if no connection can be made, the error says
    /// the outcome is unknown, never that the write failed.
    fn in_transaction<T: Send>(
        &self,
        f: impl FnOnce(
            &mut postgres::Transaction<'_>,
            &mut HashMap<String, Statement>,
        ) -> Result<T, CaError>
        + Send,
        committed: impl FnOnce(&mut Client, &T) -> Result<bool, postgres::Error> + Send,
    ) -> Result<T, CaError> {
        let target = &self.target;
        self.with_conn(|conn| {
            let Conn { client, statements } = conn;
            let mut tx = client.transaction().map_err(pg_err)?;
            let out = f(&mut tx, statements)?;
            let Err(e) = tx.commit() else {
                return Ok(out);
            };
            if e.as_db_error().is_some() {
                // The server answered: it refused the commit.
                return Err(pg_err(e));
            }
            let unknown = |source| LedgerError::CommitUnknown {
                target: target.to_string(),
                source,
            };
            let mut again = match target.connect() {
                Ok(c) => c,
                Err(_) => return Err(unknown(e).into()),
            };
            match committed(&mut again, &out) {
                Ok(true) => {
                    *client = again;
                    statements.clear();
                    Ok(out)
                }
                Ok(false) => Err(pg_err(e)),
                Err(_) => Err(unknown(e).into()),
            }
        })
    }
}

/// A prepared statement for `sql`, from the connection's cache.
fn prepared(
    tx: &mut postgres::Transaction<'_>,
    cache: &mut HashMap<String, Statement>,
    sql: &str,
) -> Result<Statement, CaError> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let s = tx.prepare(sql).map_err(pg_err)?;
    cache.insert(sql.to_string(), s.clone());
    Ok(s)
}

fn record_from_row(r: &Row) -> Result<CertRecord, CaError> {
    let get = |e: postgres::Error| pg_err(e);
    let serial: String = r.try_get(0).map_err(get)?;
    let sans: serde_json::Value = r.try_get(4).map_err(get)?;
    let status: String = r.try_get(8).map_err(get)?;
    let source: String = r.try_get(9).map_err(get)?;
    let account: Option<String> = r.try_get(16).map_err(get)?;
    let order: Option<String> = r.try_get(17).map_err(get)?;
    Ok(CertRecord {
        serial: Serial::parse(&serial).ok_or(LedgerError::BadSerial { value: serial })?,
        name: r.try_get(1).map_err(get)?,
        profile: r.try_get(2).map_err(get)?,
        key_type: r.try_get(3).map_err(get)?,
        sans: serde_json::from_value(sans).map_err(LedgerError::BadSanList)?,
        not_before: r.try_get(5).map_err(get)?,
        not_after: r.try_get(6).map_err(get)?,
        fingerprint_sha256: r
            .try_get::<_, Option<String>>(7)
            .map_err(get)?
            .unwrap_or_default(),
        status: status.parse()?,
        source: source.parse()?,
        created_at: r.try_get(10).map_err(get)?,
        updated_at: r.try_get(11).map_err(get)?,
        superseded_by: r.try_get(12).map_err(get)?,
        revoked_at: r.try_get(13).map_err(get)?,
        revocation_reason: r.try_get(14).map_err(get)?,
        cert_pem: r
            .try_get::<_, Option<String>>(15)
            .map_err(get)?
            .unwrap_or_default(),
        acme: match (account, order) {
            (Some(account), Some(order)) => Some(AcmeOrigin { account, order }),
            _ => None,
        },
    })
}

/// The INSERT of a whole row (and its writer), with `tail` after it (e.g. an ON CONFLICT).
fn insert_sql(tail: &str) -> String {
    format!(
        "INSERT INTO certificates ({COLUMNS}, node) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19){tail}"
    )
}

/// The certificate an ACME certificate `replaces` (RFC 9773), if still issued, becomes
/// superseded by it.
fn supersede(
    tx: &mut postgres::Transaction<'_>,
    cache: &mut HashMap<String, Statement>,
    replaces: Option<&Serial>,
    by: &str,
    now: &OffsetDateTime,
) -> Result<(), CaError> {
    let Some(old) = replaces else {
        return Ok(());
    };
    let stmt = prepared(
        tx,
        cache,
        "UPDATE certificates SET status = 'superseded', superseded_by = $2, updated_at = $3 \
         WHERE serial = $1 AND status = 'issued'",
    )?;
    tx.execute(&stmt, &[&old.hex(), &by, now]).map_err(pg_err)?;
    Ok(())
}

/// Inserts `r` as written by `node` with a statement of [`insert_sql`]; the rows it added.
fn insert_row(
    tx: &mut postgres::Transaction<'_>,
    stmt: &Statement,
    r: &CertRecord,
    node: &str,
) -> Result<u64, postgres::Error> {
    let sans = serde_json::Value::from(r.sans.clone());
    let serial = r.serial.hex();
    let args: [&(dyn ToSql + Sync); 19] = [
        &serial,
        &r.name,
        &r.profile,
        &r.key_type,
        &sans,
        &r.not_before,
        &r.not_after,
        &non_empty(&r.fingerprint_sha256),
        &r.status.as_str(),
        &r.source.as_str(),
        &r.created_at,
        &r.updated_at,
        &r.superseded_by,
        &r.revoked_at,
        &r.revocation_reason,
        &non_empty(&r.cert_pem),
        &r.acme.as_ref().map(|a| a.account.as_str()),
        &r.acme.as_ref().map(|a| a.order.as_str()),
        &node,
    ];
    tx.execute(stmt, &args)
}

/// What a step that took left in its row, to read back when a commit's outcome is unknown.
enum StepMark {
    /// A reservation: the row exists (it may have moved on since).
    Exists,
    /// A completion: the row holds this certificate.
    Signed(String),
    Void,
}

/// An empty string is "not yet known" (a row written before signing).
fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

impl Ledger for PgLedger {
    fn insert(&mut self, records: &[CertRecord], _durability: Durability) -> Result<(), CaError> {
        let node = self.node.clone();
        let keys: Vec<(String, String)> = records
            .iter()
            .map(|r| (r.serial.hex(), r.fingerprint_sha256.clone()))
            .collect();
        let committed = move |c: &mut Client, _: &()| -> Result<bool, postgres::Error> {
            let serials: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
            let found = c.query(
                "SELECT serial, coalesce(fingerprint, '') FROM certificates WHERE serial = ANY($1)",
                &[&serials],
            )?;
            let found: Vec<(String, String)> = found
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, postgres::Error>>()?;
            Ok(keys.iter().all(|k| found.contains(k)))
        };
        self.in_transaction(
            |tx, cache| {
                let stmt = prepared(tx, cache, &insert_sql(""))?;
                for r in records {
                    insert_row(tx, &stmt, r, &node).map_err(|e| {
                        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                            CaError::Ledger(LedgerError::DuplicateSerial {
                                serial: r.serial.clone(),
                            })
                        } else {
                            pg_err(e)
                        }
                    })?;
                }
                Ok(())
            },
            committed,
        )
    }

    fn transition(
        &mut self,
        changes: &[Transition],
        now: OffsetDateTime,
        _durability: Durability,
    ) -> Result<(), CaError> {
        let wanted: Vec<(String, String)> = changes
            .iter()
            .map(|c| (c.serial.hex(), c.to.as_str().to_string()))
            .collect();
        let committed = move |c: &mut Client, _: &()| -> Result<bool, postgres::Error> {
            for (serial, status) in &wanted {
                let row = c.query_opt(
                    "SELECT status FROM certificates WHERE serial = $1",
                    &[serial],
                )?;
                let now: Option<String> = row.map(|r| r.try_get(0)).transpose()?;
                if now.as_deref() != Some(status.as_str()) {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        self.in_transaction(|tx, cache| {
            let stmt = prepared(
                tx,
                cache,
                "UPDATE certificates SET status = $2, updated_at = $3, superseded_by = COALESCE($4, superseded_by) WHERE serial = $1",
            )?;
            for c in changes {
                let serial = c.serial.hex();
                let by = c.superseded_by.as_ref().map(|s| s.hex());
                let n = tx
                    .execute(&stmt, &[&serial, &c.to.as_str(), &now, &by])
                    .map_err(pg_err)?;
                if n != 1 {
                    return Err(LedgerError::UnknownSerial {
                        serial: c.serial.clone(),
                    }
                    .into());
                }
            }
            Ok(())
        }, committed)
    }

    fn maintain(&mut self) -> Result<(), CaError> {
        Ok(())
    }

    fn revoke(&mut self, serial: &Serial, reason: &str, at: OffsetDateTime) -> Result<(), CaError> {
        let n = self.with_conn(|c| c.execute(
            "UPDATE certificates SET status = 'revoked', revoked_at = $2, revocation_reason = $3, updated_at = $2 \
             WHERE serial = $1",
            &[&serial.hex(), &at, &reason],
        ))?;
        if n != 1 {
            return Err(LedgerError::UnknownSerial {
                serial: serial.clone(),
            }
            .into());
        }
        Ok(())
    }

    fn revoked(&self) -> Result<Vec<(Serial, OffsetDateTime, String)>, CaError> {
        let rows = self.with_conn(|c| c.query(
            "SELECT serial, revoked_at, revocation_reason FROM certificates WHERE status = 'revoked' ORDER BY revoked_at, serial",
            &[],
        ))?;
        rows.iter()
            .map(|r| {
                let serial: String = r.try_get(0).map_err(pg_err)?;
                let at: Option<OffsetDateTime> = r.try_get(1).map_err(pg_err)?;
                let reason: Option<String> = r.try_get(2).map_err(pg_err)?;
                Ok((
                    Serial::parse(&serial).ok_or(LedgerError::BadSerial { value: serial })?,
                    at.unwrap_or(OffsetDateTime::UNIX_EPOCH),
                    reason.unwrap_or_else(|| "unspecified".into()),
                ))
            })
            .collect()
    }

    fn next_crl_number(&mut self) -> Result<u64, CaError> {
        // One statement: two replicas asking at once get two numbers, both committed before
        // either signs.
        let rows = self.with_conn(|c| c.query(
            "INSERT INTO meta(key, value) VALUES ('crl_number', '1') \
             ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + 1)::text RETURNING value",
            &[],
        ))?;
        let value: String = rows
            .first()
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(pg_err)?
            .unwrap_or_default();
        value.parse().map_err(|_| {
            LedgerError::UnknownWord {
                column: "crl_number",
                value,
            }
            .into()
        })
    }

    fn meta(&self, key: &str) -> Result<Option<String>, CaError> {
        let rows = self.with_conn(|c| c.query("SELECT value FROM meta WHERE key = $1", &[&key]))?;
        rows.first()
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(pg_err)
    }

    fn meta_all(&self) -> Result<Vec<(String, String)>, CaError> {
        let rows = self.with_conn(|c| c.query("SELECT key, value FROM meta ORDER BY key", &[]))?;
        rows.iter()
            .map(|r| Ok((r.try_get(0).map_err(pg_err)?, r.try_get(1).map_err(pg_err)?)))
            .collect()
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), CaError> {
        self.with_conn(|c| c.execute(
            "INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        ))?;
        Ok(())
    }

    fn export_stamps(&self) -> Result<Vec<ExportStamp>, CaError> {
        let rows = self.with_conn(|c| {
            c.query(
                "SELECT path, name, format, serial, settings, digest, updated_at FROM exports",
                &[],
            )
        })?;
        rows.iter()
            .map(|r| {
                let path: String = r.try_get(0).map_err(pg_err)?;
                Ok(ExportStamp {
                    path: path.into(),
                    name: r.try_get(1).map_err(pg_err)?,
                    format: r.try_get(2).map_err(pg_err)?,
                    serial: r.try_get(3).map_err(pg_err)?,
                    settings: r.try_get(4).map_err(pg_err)?,
                    digest: r.try_get(5).map_err(pg_err)?,
                    updated_at: r.try_get(6).map_err(pg_err)?,
                })
            })
            .collect()
    }

    fn shared_crl(&self) -> Result<Option<StoredCrl>, CaError> {
        let row = self.with_conn(|c| {
            c.query(
                "SELECT number, der, this_update, next_update, revoked, latest_revocation \
                 FROM crls ORDER BY number DESC LIMIT 1",
                &[],
            )
        })?;
        row.first()
            .map(|r| {
                let number: i64 = r.try_get(0).map_err(pg_err)?;
                let revoked: i64 = r.try_get(4).map_err(pg_err)?;
                Ok(StoredCrl {
                    number: u64::try_from(number).unwrap_or(0),
                    der: r.try_get(1).map_err(pg_err)?,
                    this_update: r.try_get(2).map_err(pg_err)?,
                    next_update: r.try_get(3).map_err(pg_err)?,
                    revoked: u64::try_from(revoked).unwrap_or(0),
                    latest_revocation: r.try_get(5).map_err(pg_err)?,
                })
            })
            .transpose()
    }

    fn store_shared_crl(&mut self, crl: &StoredCrl) -> Result<(), CaError> {
        let number = i64::try_from(crl.number).unwrap_or(i64::MAX);
        let revoked = i64::try_from(crl.revoked).unwrap_or(i64::MAX);
        let node = self.node.clone();
        self.with_conn(|c| {
            c.execute(
                "INSERT INTO crls (number, der, this_update, next_update, revoked, latest_revocation, node) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (number) DO NOTHING",
                &[
                    &number,
                    &crl.der,
                    &crl.this_update,
                    &crl.next_update,
                    &revoked,
                    &crl.latest_revocation,
                    &node,
                ],
            )?;
            // The newest few are enough to serve; the numbers stay in the counter.
            c.execute("DELETE FROM crls WHERE number < $1::bigint - 16", &[&number])?;
            Ok(())
        })
    }

    fn take_lease(&mut self, name: &str, holder: &str, secs: f64) -> Result<bool, CaError> {
        let n = self.with_conn(|c| {
            c.execute(
                "INSERT INTO leases AS l (name, holder, until) VALUES ($1, $2, now() + make_interval(secs => $3)) \
                 ON CONFLICT (name) DO UPDATE SET holder = $2, until = excluded.until \
                 WHERE l.until < now() OR l.holder = $2",
                &[&name, &holder, &secs],
            )
        })?;
        Ok(n == 1)
    }

    fn acme_steps(
        &mut self,
        steps: &[AcmeStep],
        now: OffsetDateTime,
    ) -> Result<Vec<bool>, CaError> {
        let node = self.node.clone();
        let marks: Vec<(String, StepMark)> = steps
            .iter()
            .map(|s| match s {
                AcmeStep::Reserve(r) => (r.serial.hex(), StepMark::Exists),
                AcmeStep::Complete { record, .. } | AcmeStep::Record { record, .. } => (
                    record.serial.hex(),
                    StepMark::Signed(record.fingerprint_sha256.clone()),
                ),
                AcmeStep::Abandon(serial) => (serial.hex(), StepMark::Void),
            })
            .collect();
        let committed = move |c: &mut Client, took: &Vec<bool>| -> Result<bool, postgres::Error> {
            for ((serial, mark), took) in marks.iter().zip(took) {
                if !took {
                    continue;
                }
                let Some(row) = c.query_opt(
                    "SELECT status, coalesce(fingerprint, '') FROM certificates WHERE serial = $1",
                    &[serial],
                )?
                else {
                    return Ok(false);
                };
                let status: String = row.try_get(0)?;
                let fingerprint: String = row.try_get(1)?;
                let there = match mark {
                    StepMark::Exists => true,
                    StepMark::Signed(fp) => fingerprint == *fp,
                    StepMark::Void => status == "void",
                };
                if !there {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        let lazy = AcmeStep::durability(steps) == Durability::WithNextSync;
        self.in_transaction(
            |tx, cache| {
                if lazy {
                    tx.batch_execute("SET LOCAL synchronous_commit = off")
                        .map_err(pg_err)?;
                }
                let mut took = Vec::with_capacity(steps.len());
                for step in steps {
                    let n = match step {
                        AcmeStep::Reserve(r) => {
                            let stmt = prepared(tx, cache, &insert_sql(super::ONE_LIVE_ROW_PER_ORDER))?;
                            insert_row(tx, &stmt, r, &node).map_err(pg_err)?
                        }
                        AcmeStep::Complete { record, replaces } => {
                            let stmt = prepared(
                                tx,
                                cache,
                                "UPDATE certificates SET status = 'issued', fingerprint = $2, cert_pem = $3, \
                                 not_before = $4, not_after = $5, updated_at = $6 WHERE serial = $1 AND status = 'pending'",
                            )?;
                            let serial = record.serial.hex();
                            let n = tx
                                .execute(
                                    &stmt,
                                    &[
                                        &serial,
                                        &record.fingerprint_sha256,
                                        &record.cert_pem,
                                        &record.not_before,
                                        &record.not_after,
                                        &now,
                                    ],
                                )
                                .map_err(pg_err)?;
                            if n == 1 {
                                supersede(tx, cache, replaces.as_ref(), &serial, &now)?;
                            }
                            n
                        }
                        AcmeStep::Record { record, replaces } => {
                            let stmt = prepared(tx, cache, &insert_sql(super::ONE_LIVE_ROW_PER_ORDER))?;
                            let n = insert_row(tx, &stmt, record, &node).map_err(pg_err)?;
                            if n == 1 {
                                supersede(tx, cache, replaces.as_ref(), &record.serial.hex(), &now)?;
                            }
                            n
                        }
                        AcmeStep::Abandon(serial) => {
                            let stmt = prepared(
                                tx,
                                cache,
                                "UPDATE certificates SET status = 'void', updated_at = $2 WHERE serial = $1 AND status = 'pending'",
                            )?;
                            tx.execute(&stmt, &[&serial.hex(), &now]).map_err(pg_err)?
                        }
                    };
                    took.push(n == 1);
                }
                Ok(took)
            },
            committed,
        )
    }

    fn record_exports(&mut self, stamps: &[ExportStamp]) -> Result<(), CaError> {
        let wanted: Vec<(String, String, String)> = stamps
            .iter()
            .map(|st| {
                (
                    st.path.display().to_string(),
                    st.name.clone(),
                    st.digest.clone(),
                )
            })
            .collect();
        let committed = move |c: &mut Client, _: &()| -> Result<bool, postgres::Error> {
            for (path, name, digest) in &wanted {
                let row = c.query_opt(
                    "SELECT digest FROM exports WHERE path = $1 AND name = $2",
                    &[path, name],
                )?;
                let now: Option<String> = row.map(|r| r.try_get(0)).transpose()?;
                if now.as_deref() != Some(digest.as_str()) {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        self.in_transaction(|tx, cache| {
            let stmt = prepared(
                tx,
                cache,
                "INSERT INTO exports (path, name, format, serial, settings, digest, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (path, name) DO UPDATE SET format = excluded.format, serial = excluded.serial, \
                 settings = excluded.settings, digest = excluded.digest, updated_at = excluded.updated_at",
            )?;
            for st in stamps {
                let path = st.path.display().to_string();
                tx.execute(
                    &stmt,
                    &[
                        &path,
                        &st.name,
                        &st.format,
                        &st.serial,
                        &st.settings,
                        &st.digest,
                        &st.updated_at,
                    ],
                )
                .map_err(pg_err)?;
            }
            Ok(())
        }, committed)
    }

    fn forget_exports(&mut self, name: &str) -> Result<(), CaError> {
        self.with_conn(|c| c.execute("DELETE FROM exports WHERE name = $1", &[&name]))?;
        Ok(())
    }

    fn summaries(&self) -> Result<Vec<CertRecord>, CaError> {
        self.records(SUMMARY_COLUMNS, "ORDER BY created_at, seq", &[])
    }

    fn all(&self) -> Result<Vec<CertRecord>, CaError> {
        self.records(COLUMNS, "ORDER BY created_at, seq", &[])
    }

    fn with_status(&self, status: Status) -> Result<Vec<CertRecord>, CaError> {
        self.records(
            COLUMNS,
            "WHERE status = $1 ORDER BY created_at, seq",
            &[&status.as_str()],
        )
    }

    fn reusable(&self, idle: std::time::Duration) -> bool {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let Some(conn) = guard.as_mut() else {
            return false;
        };
        if conn.client.is_closed() {
            return false;
        }
        idle < ASK_AFTER_IDLE
            || off_runtime(|| {
                conn.client
                    .is_valid(std::time::Duration::from_secs(2))
                    .is_ok()
            })
    }

    fn writable(&self) -> Result<bool, CaError> {
        let rows = self.with_conn(|c| c.query("SELECT pg_is_in_recovery()", &[]))?;
        let in_recovery: bool = rows
            .first()
            .map(|r| r.try_get(0))
            .transpose()
            .map_err(pg_err)?
            .unwrap_or(true);
        Ok(!in_recovery)
    }

    /// This node's pending rows but its ACME reservations, and ACME reservations of any node
    /// older than [`ABANDONED_AFTER`]. (Rows of `uca issue` on another machine are left to
    /// it: their files are there, and a large batch may take a while; a fresh reservation is
    /// being signed by a thread of this server or of another replica.)
    fn interrupted(&self) -> Result<Vec<CertRecord>, CaError> {
        self.records(
            COLUMNS,
            "WHERE status = 'pending' AND ((node = $1 AND source <> 'acme') \
             OR (source = 'acme' AND created_at < now() - make_interval(secs => $2))) \
             ORDER BY created_at, seq",
            &[&self.node, &ABANDONED_AFTER.as_secs_f64()],
        )
    }

    fn by_serial(&self, serial: &Serial) -> Result<Option<CertRecord>, CaError> {
        Ok(self
            .records(COLUMNS, "WHERE serial = $1", &[&serial.hex()])?
            .into_iter()
            .next())
    }

    fn by_acme_order(&self, order: &str) -> Result<Option<CertRecord>, CaError> {
        Ok(self
            .records(
                COLUMNS,
                "WHERE acme_order = $1 AND status <> 'void' ORDER BY status = 'issued' DESC, created_at DESC",
                &[&order],
            )?
            .into_iter()
            .next())
    }

    fn by_name(&self, name: &str) -> Result<Vec<CertRecord>, CaError> {
        self.records(
            COLUMNS,
            "WHERE name = $1 ORDER BY created_at DESC, seq DESC",
            &[&name],
        )
    }
}
