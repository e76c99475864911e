//! Schema migrations of the PostgreSQL ledger: numbered SQL files compiled into the binary,
//! applied in one transaction under an advisory lock (replicas starting together wait for each
//! other), recorded in `uca_schema_migrations`, and refused when the database is newer than
//! this binary.

use postgres::Client;

use crate::CaError;
use crate::ledger::LedgerError;

/// Every migration, in order. Never edit a released one: add the next.
const MIGRATIONS: &[(i32, &str)] = &[(1, include_str!("schema/0001_ledger.sql"))];

/// The advisory lock key migrations hold ("uca-ledger" folded into 64 bits).
const LOCK_KEY: i64 = 0x7563_612d_6c65_6467;

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;

fn pg_err(e: postgres::Error) -> CaError {
    CaError::Ledger(LedgerError::Pg(e))
}

/// The version recorded in the database, if it has any.
fn current(client: &mut impl postgres::GenericClient) -> Result<Option<i32>, CaError> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('uca_schema_migrations') IS NOT NULL",
            &[],
        )
        .and_then(|r| r.try_get(0))
        .map_err(pg_err)?;
    if !exists {
        return Ok(None);
    }
    client
        .query_one("SELECT max(version) FROM uca_schema_migrations", &[])
        .and_then(|r| r.try_get(0))
        .map_err(pg_err)
}

fn refuse_newer(found: Option<i32>) -> Result<(), CaError> {
    match found {
        Some(v) if v > SCHEMA_VERSION => Err(LedgerError::NewerSchema {
            found: v.to_string(),
            supported: i64::from(SCHEMA_VERSION),
        }
        .into()),
        _ => Ok(()),
    }
}

/// Brings the database to [`SCHEMA_VERSION`]; a no-op (one query) when it is there already.
pub fn apply(client: &mut Client) -> Result<(), CaError> {
    let seen = current(client)?;
    refuse_newer(seen)?;
    if seen == Some(SCHEMA_VERSION) {
        return Ok(());
    }
    let mut tx = client.transaction().map_err(pg_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .map_err(pg_err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS uca_schema_migrations (
             version    integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .map_err(pg_err)?;
    // Read again under the lock: another replica may have migrated meanwhile.
    let found = current(&mut tx)?;
    refuse_newer(found)?;
    for (version, sql) in MIGRATIONS {
        if found.is_some_and(|f| f >= *version) {
            continue;
        }
        tx.batch_execute(sql).map_err(pg_err)?;
        tx.execute(
            "INSERT INTO uca_schema_migrations(version) VALUES ($1)",
            &[version],
        )
        .map_err(pg_err)?;
    }
    tx.commit().map_err(pg_err)
}
