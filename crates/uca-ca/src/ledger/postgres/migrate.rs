//! Schema migrations on PostgreSQL: numbered SQL files compiled into the binary, applied in one
//! transaction under an advisory lock (replicas starting together wait for each other), recorded
//! in a table of their own, and refused when the database is newer than this binary. The ledger
//! has one set ([`LEDGER`]); the ACME store, which shares the database, another.

use postgres::Client;

use crate::CaError;
use crate::ledger::LedgerError;

/// One schema's migrations.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    /// Every migration, in order. Never edit a released one: add the next.
    pub steps: &'static [(i32, &'static str)],
    /// The table that records the applied ones.
    pub table: &'static str,
    /// What the schema is, for messages ("ledger", "ACME store").
    pub what: &'static str,
}

impl Migrations {
    /// The schema version this binary writes.
    pub fn version(&self) -> i32 {
        self.steps.last().map_or(0, |s| s.0)
    }
}

/// The ledger's schema.
pub const LEDGER: Migrations = Migrations {
    steps: &[
        (1, include_str!("schema/0001_ledger.sql")),
        (2, include_str!("schema/0002_crl.sql")),
        (3, include_str!("schema/0003_acme_reservations.sql")),
    ],
    table: "uca_schema_migrations",
    what: "ledger",
};

/// The advisory lock key every migration holds ("uca-ledg" folded into 64 bits): one schema
/// change at a time in a database.
const LOCK_KEY: i64 = 0x7563_612d_6c65_6467;

fn pg_err(e: postgres::Error) -> CaError {
    CaError::Ledger(LedgerError::Pg(e))
}

/// The version recorded in the database, if it has any.
fn current(
    client: &mut impl postgres::GenericClient,
    set: &Migrations,
) -> Result<Option<i32>, CaError> {
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&set.table])
        .and_then(|r| r.try_get(0))
        .map_err(pg_err)?;
    if !exists {
        return Ok(None);
    }
    client
        .query_one(&format!("SELECT max(version) FROM {}", set.table), &[])
        .and_then(|r| r.try_get(0))
        .map_err(pg_err)
}

fn refuse_newer(found: Option<i32>, set: &Migrations) -> Result<(), CaError> {
    match found {
        Some(v) if v > set.version() => Err(LedgerError::NewerSchema {
            what: set.what,
            found: v.to_string(),
            supported: i64::from(set.version()),
        }
        .into()),
        _ => Ok(()),
    }
}

/// Brings the database to `set`'s version; a no-op (two queries) when it is there already.
pub fn apply(client: &mut Client, set: &Migrations) -> Result<(), CaError> {
    let seen = current(client, set)?;
    refuse_newer(seen, set)?;
    if seen == Some(set.version()) {
        return Ok(());
    }
    let mut tx = client.transaction().map_err(pg_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .map_err(pg_err)?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {} (
             version    integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
        set.table
    ))
    .map_err(pg_err)?;
    // Read again under the lock: another replica may have migrated meanwhile.
    let found = current(&mut tx, set)?;
    refuse_newer(found, set)?;
    for (version, sql) in set.steps {
        if found.is_some_and(|f| f >= *version) {
            continue;
        }
        tx.batch_execute(sql).map_err(pg_err)?;
        tx.execute(
            &format!("INSERT INTO {}(version) VALUES ($1)", set.table),
            &[version],
        )
        .map_err(pg_err)?;
    }
    tx.commit().map_err(pg_err)
}
