//! Where the ACME server keeps its state: `acme.sqlite` beside a SQLite ledger (one server), or
//! the `uca_acme` schema of the ledger's PostgreSQL database (replicas share it).

use std::path::Path;

use uca_acme::store::postgres::{MIGRATIONS, MIGRATIONS_TABLE, SESSION};
use uca_acme::store::{DbError, Store, StoreError};
use uca_ca::LedgerLocation;
use uca_ca::ledger::postgres::migrate::{self, Migrations};

/// The ACME store's schema on PostgreSQL.
const ACME: Migrations = Migrations {
    steps: MIGRATIONS,
    table: MIGRATIONS_TABLE,
    what: "ACME store",
};

/// Connections `uca serve` keeps to a shared (PostgreSQL) store.
pub const SHARED_CONNECTIONS: usize = 8;

/// Threads for the requests' blocking work (the async runtime's blocking pool: JWS checks and
/// the store's reads and lazy writes) on one `acme.sqlite`. Requests there take turns on one
/// connection, so a few threads keep both cores busy; work that waits on the disk has threads of
/// its own ([`crate::disk_pool`]). With fewer threads, one that finishes a request mostly finds
/// the next one queued instead of going to sleep while another is woken: 6 threads did 3–4%
/// more orders per second than 16 (with the disk's waits among them) and than 8, and tokio's
/// default of 512 let about 50 threads hand the same locks around.
pub const SQLITE_REQUEST_THREADS: usize = 6;

/// Threads for the requests' blocking work on a shared (PostgreSQL) store: one per connection,
/// and as many again beside them. Requests there wait on round trips, not on each other.
pub const SHARED_REQUEST_THREADS: usize = SHARED_CONNECTIONS + 16;

/// The threads `uca serve`'s async runtime gives the requests' blocking work, for a shared
/// store or not.
pub fn request_threads(shared: bool) -> usize {
    if shared {
        SHARED_REQUEST_THREADS
    } else {
        SQLITE_REQUEST_THREADS
    }
}

/// The stores `uca serve` uses: the one of [`open`], and on PostgreSQL more connections to it
/// (see [`uca_acme::Acme::with_connections`]).
pub fn open_for_server(
    dir: &Path,
    ledger: &LedgerLocation,
) -> Result<(Store, Vec<Store>), StoreError> {
    let first = open(dir, ledger)?;
    let mut more = Vec::new();
    if first.is_shared() {
        for _ in 1..SHARED_CONNECTIONS {
            more.push(open(dir, ledger)?);
        }
    }
    Ok((first, more))
}

/// Opens the store that goes with the ledger at `ledger` of the CA in `dir`. On PostgreSQL the
/// schema is brought up to date (or refused when newer) on every new connection, and every
/// connection starts with the store's session settings.
pub fn open(dir: &Path, ledger: &LedgerLocation) -> Result<Store, StoreError> {
    match ledger {
        LedgerLocation::Sqlite(_) => Store::open(&Store::path_in(dir)),
        LedgerLocation::Postgres(target) => {
            let target = target.clone();
            Store::postgres(Box::new(move || {
                let mut client = target.connect().map_err(|e| e.to_string())?;
                migrate::apply(&mut client, &ACME).map_err(|e| e.to_string())?;
                client
                    .batch_execute(SESSION)
                    .map_err(|e| DbError::from(e).to_string())?;
                Ok(client)
            }))
        }
    }
}
