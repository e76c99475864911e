//! ACME state: accounts, external account keys, orders, authorizations, challenges, and the
//! certificates orders obtained; on PostgreSQL also redeemed nonces, rate-limit cells and
//! leases, so replicas share them.
//!
//! Two homes behind one set of queries ([`db::Backend`]): `acme.sqlite` beside the CA's ledger
//! for one server, or the `uca_acme` schema of the PostgreSQL database that holds the ledger,
//! for replicas.
//!
//! Separate from the ledger on purpose: the ledger is the CA's record and is opened under the
//! CA lock for one write at a time, while the server keeps this store open and the CLI
//! (`uca acme ...`) reads and edits it alongside. The certificate row in the ledger is written
//! first and carries the account and order, so a crash between the two commits is repaired
//! from the ledger ([`crate::service::Acme::repair`]).

pub(crate) mod db;
pub mod postgres;
mod sqlite;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::identifier::Identifier;
use crate::model::{
    Account, AccountStatus, Authz, AuthzStatus, Challenge, ChallengeStatus, ChallengeType, EabKey,
    IssuedCert, Order, OrderStatus,
};
pub use db::DbError;
use db::{Backend, Engine, Row, Value, args};

/// What went wrong with the ACME store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{0}")]
    Db(#[from] DbError),
    #[error("acme.sqlite schema version {found} is newer than this uca understands ({supported})")]
    NewerSchema { found: String, supported: i64 },
    #[error("unknown {column} '{value}' in the ACME store")]
    UnknownWord { column: &'static str, value: String },
    #[error("bad stored value in {column}: {value}")]
    BadValue { column: &'static str, value: String },
    #[error("external account key '{kid}' already exists")]
    DuplicateKid { kid: String },
    #[error("no external account key '{kid}'")]
    UnknownKid { kid: String },
}

/// What a prune removes: records that ended before these moments (unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Orders that can no longer lead anywhere: invalid ones created, and unfinished ones
    /// expired, before this.
    pub dead_before: i64,
    /// Valid orders whose certificate expired before this, with the store's record of the
    /// certificate (the ledger keeps every certificate regardless).
    pub expired_before: i64,
    /// Redeemed nonces issued before this (a shared store's; one server keeps them in memory).
    pub nonces_before: i64,
}

impl Retention {
    /// Dead orders `dead_grace` seconds after they ended, expired certificates' records
    /// `expired_grace` seconds after their expiry, nonces once they can no longer be presented.
    pub fn at(now: i64, dead_grace: i64, expired_grace: i64) -> Retention {
        Retention {
            dead_before: now.saturating_sub(dead_grace),
            expired_before: now.saturating_sub(expired_grace),
            nonces_before: now - crate::nonce::NONCE_LIFETIME_SECS,
        }
    }

    /// Expired nonces only: what a shared store sheds at every sweep.
    pub fn nonces_at(now: i64) -> Retention {
        Retention {
            dead_before: i64::MIN,
            expired_before: i64::MIN,
            ..Retention::at(now, 0, 0)
        }
    }
}

/// What a prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    /// Dead orders and valid ones whose certificate expired.
    pub orders: usize,
    pub authzs: usize,
    pub challenges: usize,
    /// Records of expired certificates (their orders are among `orders`).
    pub certificates: usize,
    /// Redeemed nonces past their lifetime (PostgreSQL; one server keeps them in memory).
    pub nonces: usize,
}

impl Pruned {
    /// Counts `other` in.
    pub fn add(&mut self, other: &Pruned) {
        self.orders += other.orders;
        self.authzs += other.authzs;
        self.challenges += other.challenges;
        self.certificates += other.certificates;
        self.nonces += other.nonces;
    }
}

/// Orders (or certificates given their expiry) per prune transaction.
pub const PRUNE_BATCH: usize = 500;

/// Durability of one commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// On stable storage when the call returns.
    Durable,
    /// Atomic; may be rolled back by a power loss (never by a process crash).
    Lazy,
}

/// The ACME store.
pub struct Store {
    db: RefCell<Box<dyn Backend>>,
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn parse_list(column: &'static str, s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s).map_err(|_| StoreError::BadValue {
        column,
        value: s.to_string(),
    })
}

impl Store {
    /// The database file of the CA directory `dir`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join("acme.sqlite")
    }

    /// Opens (and on first use creates, mode 0600) the SQLite store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            db: RefCell::new(Box::new(sqlite::SqliteBackend::open(path)?)),
        })
    }

    /// The store on PostgreSQL, over connections made by `connect` (see [`postgres::Connect`]).
    pub fn postgres(connect: postgres::Connect) -> Result<Store, StoreError> {
        Ok(Store {
            db: RefCell::new(Box::new(postgres::PgBackend::new(connect)?)),
        })
    }

    /// Whether other servers share this store (PostgreSQL): then nonces, rate limits and
    /// claims must go through it.
    pub fn is_shared(&self) -> bool {
        self.db.borrow().engine() == Engine::Postgres
    }

    /// Runs `f` in one transaction committed with `commit` durability; rolled back if `f`
    /// fails.
    pub fn write<T>(
        &mut self,
        commit: Commit,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.db.get_mut().begin(commit)?;
        let out = f(&Tx { db: &self.db });
        let db = self.db.get_mut();
        match out {
            Ok(v) => {
                db.commit()?;
                Ok(v)
            }
            Err(e) => {
                db.rollback();
                Err(e)
            }
        }
    }

    /// Prunes what `keep` lets go, a batch per transaction ([`Store::prune_step`]).
    pub fn prune(&mut self, keep: &Retention) -> Result<Pruned, StoreError> {
        let mut total = Pruned::default();
        loop {
            let (pruned, more) = self.prune_step(keep)?;
            total.add(&pruned);
            if !more {
                return Ok(total);
            }
        }
    }

    /// One transaction of a prune, so a large backlog never holds the store for long: first
    /// the expiries of certificates recorded before the store kept them (read from their PEM),
    /// then up to [`PRUNE_BATCH`] orders with what hangs on them. Whether there may be more.
    pub fn prune_step(&mut self, keep: &Retention) -> Result<(Pruned, bool), StoreError> {
        self.write(Commit::Lazy, |tx| {
            if tx.record_missing_expiries(PRUNE_BATCH)? > 0 {
                return Ok((Pruned::default(), true));
            }
            // Either set full means there may be more; both partly full together only
            // costs one more (empty) step.
            let pruned = tx.prune(keep, PRUNE_BATCH)?;
            Ok((pruned, pruned.orders >= PRUNE_BATCH))
        })
    }

    /// Records a nonce as redeemed, lazily, in one statement of its own (one round trip on
    /// PostgreSQL); false if it was already (a replay).
    pub fn redeem_nonce(&mut self, issued: i64, counter: i64) -> Result<bool, StoreError> {
        let n = self.db.get_mut().execute_lazily(
            "INSERT INTO used_nonces (issued, counter) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            args![issued, counter],
        )?;
        Ok(n == 1)
    }

    /// [`Tx::take_rate`] as a statement of its own, committed lazily (one round trip when the
    /// event counts).
    pub fn take_rate(
        &mut self,
        limiter: &str,
        key: &str,
        now_us: i64,
        interval_us: i64,
        tolerance_us: i64,
    ) -> Result<Result<(), i64>, StoreError> {
        let taken = self.db.get_mut().execute_lazily(
            TAKE_RATE,
            args![limiter, key, now_us, interval_us, tolerance_us],
        )?;
        if taken == 1 {
            return Ok(Ok(()));
        }
        self.read().check_rate(limiter, key, now_us, tolerance_us)
    }

    /// Another connection to the same embedded database (to checkpoint its log off the
    /// serving connection); `None` on PostgreSQL or for a database that is not a file.
    pub fn another_connection(&self) -> Result<Option<Store>, StoreError> {
        let file = self.db.borrow().file();
        file.map(|f| Store::open(&f)).transpose()
    }

    /// Copies the write-ahead log of the embedded database into the database file without
    /// waiting for anyone (a passive checkpoint: the log is synced before, the file after);
    /// what the log held and what is in the file now. `None` on PostgreSQL.
    pub fn checkpoint(&mut self) -> Result<Option<Checkpointed>, StoreError> {
        if self.is_shared() {
            return Ok(None);
        }
        let rows = self
            .db
            .get_mut()
            .query("PRAGMA wal_checkpoint(PASSIVE)", &[])?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        Ok(Some(Checkpointed {
            log: row.int(1, "log")?,
            copied: row.int(2, "checkpointed")?,
        }))
    }

    /// The log size (in pages) past which this connection checkpoints by itself, inside its
    /// next commit (1,000 unless set). No-op on PostgreSQL.
    pub fn checkpoint_past(&mut self, pages: i64) {
        if let Some(watch) = self.db.get_mut().log_watch() {
            watch.checkpoint_past.store(pages, Ordering::Relaxed);
        }
    }

    /// The size of the embedded database's log (pages) as this connection's last commit left
    /// it, readable without the connection; `None` on PostgreSQL.
    pub fn log_pages(&self) -> Option<Arc<AtomicI64>> {
        self.db.borrow().log_watch().map(|w| w.pages)
    }

    /// Several reads as one snapshot (one read transaction on SQLite, which also takes the
    /// file locks once instead of once per statement).
    pub fn reading<T>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.db.get_mut().begin_read()?;
        let out = f(&Tx { db: &self.db });
        self.db.get_mut().end_read();
        out
    }

    /// Read access outside a write.
    pub fn read(&self) -> Tx<'_> {
        Tx { db: &self.db }
    }
}

/// What a checkpoint found: pages in the write-ahead log, and how many of them are in the
/// database file now (all of them once no write came in meanwhile: the log then starts over
/// at the next commit). -1 for both when the database is not in WAL mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpointed {
    pub log: i64,
    pub copied: i64,
}

/// Queries and statements, inside a write or on their own.
pub struct Tx<'a> {
    db: &'a RefCell<Box<dyn Backend>>,
}

const ACCOUNT_COLUMNS: &str = "id, jwk, thumbprint, status, contact, eab_kid, created_at";
const ORDER_COLUMNS: &str = "id, account, status, identifiers, not_before, not_after, expires, error, certificate, created_at, replaces, profile";
const AUTHZ_COLUMNS: &str = "id, order_id, account, identifier, wildcard, status, expires";
const CHALLENGE_COLUMNS: &str = "id, authz, type, token, status, validated, error";

fn account_of(r: &Row) -> Result<Account, StoreError> {
    Ok(Account {
        id: r.text(0, "id")?,
        jwk: r.text(1, "jwk")?,
        thumbprint: r.text(2, "thumbprint")?,
        status: r.text(3, "status")?.parse()?,
        contact: parse_list("contact", &r.text(4, "contact")?)?,
        eab_kid: r.opt_text(5, "eab_kid")?,
        created_at: r.int(6, "created_at")?,
    })
}

fn order_of(r: &Row) -> Result<Order, StoreError> {
    let identifiers = parse_list("identifiers", &r.text(3, "identifiers")?)?
        .iter()
        .map(|s| {
            Identifier::from_stored(s).ok_or_else(|| StoreError::BadValue {
                column: "identifiers",
                value: s.clone(),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Order {
        id: r.text(0, "id")?,
        account: r.text(1, "account")?,
        status: r.text(2, "status")?.parse()?,
        identifiers,
        not_before: r.opt_int(4, "not_before")?,
        not_after: r.opt_int(5, "not_after")?,
        expires: r.int(6, "expires")?,
        error: r.opt_text(7, "error")?,
        certificate: r.opt_text(8, "certificate")?,
        created_at: r.int(9, "created_at")?,
        replaces: r.opt_text(10, "replaces")?,
        profile: r.opt_text(11, "profile")?,
    })
}

fn authz_of(r: &Row) -> Result<Authz, StoreError> {
    let ident = r.text(3, "identifier")?;
    Ok(Authz {
        id: r.text(0, "id")?,
        order: r.text(1, "order_id")?,
        account: r.text(2, "account")?,
        identifier: Identifier::from_stored(&ident).ok_or(StoreError::BadValue {
            column: "identifier",
            value: ident,
        })?,
        wildcard: r.int(4, "wildcard")? != 0,
        status: r.text(5, "status")?.parse()?,
        expires: r.int(6, "expires")?,
    })
}

fn challenge_of(r: &Row) -> Result<Challenge, StoreError> {
    Ok(Challenge {
        id: r.text(0, "id")?,
        authz: r.text(1, "authz")?,
        kind: r.text(2, "type")?.parse::<ChallengeType>()?,
        token: r.text(3, "token")?,
        status: r.text(4, "status")?.parse()?,
        validated: r.opt_int(5, "validated")?,
        error: r.opt_text(6, "error")?,
    })
}

fn cert_of(r: &Row) -> Result<IssuedCert, StoreError> {
    Ok(IssuedCert {
        id: r.text(0, "id")?,
        serial: r.text(1, "serial")?,
        order: r.text(2, "order_id")?,
        account: r.text(3, "account")?,
        chain_pem: r.text(4, "chain_pem")?,
        not_after: r.opt_int(5, "not_after")?,
    })
}

/// The notAfter (unix seconds) of the first certificate in a PEM chain.
fn leaf_not_after(chain_pem: &str) -> Option<i64> {
    let block = uca_pki::pem::first(chain_pem, &["CERTIFICATE"]).ok()??;
    let leaf = uca_pki::inspect::parse_certificate(&block.der).ok()?;
    Some(leaf.not_after.unix_timestamp())
}

/// GCRA in one statement (PostgreSQL): the cell's arrival time moves by the interval (?4) unless
/// it is more than the tolerance (?5) ahead of now (?3); one row changed means the event counts.
const TAKE_RATE: &str = "INSERT INTO rate_cells AS c (limiter, key, tat_us) VALUES (?1, ?2, ?3::bigint + ?4::bigint) \
     ON CONFLICT (limiter, key) DO UPDATE SET tat_us = GREATEST(c.tat_us, ?3::bigint) + ?4::bigint \
     WHERE GREATEST(c.tat_us, ?3::bigint) - ?3::bigint <= ?5::bigint";

/// The `meta` key of the nonce MAC key replicas share.
const NONCE_KEY: &str = "nonce_key";

impl Tx<'_> {
    fn exec(&self, sql: &str, args: &[Value]) -> Result<usize, StoreError> {
        Ok(self.db.borrow_mut().execute(sql, args)?)
    }

    pub(crate) fn rows(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>, StoreError> {
        Ok(self.db.borrow_mut().query(sql, args)?)
    }

    fn exists(&self, sql: &str, args: &[Value]) -> Result<bool, StoreError> {
        Ok(!self.rows(sql, args)?.is_empty())
    }

    /// The column that keeps rows in the order they were written.
    fn insertion_order(&self) -> &'static str {
        match self.db.borrow().engine() {
            Engine::Sqlite => "rowid",
            Engine::Postgres => "seq",
        }
    }

    // ---- external account keys

    pub fn insert_eab(&self, key: &EabKey) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO eab_keys (kid, hmac_key, allow, created_at, profiles) VALUES (?1, ?2, ?3, ?4, ?5)",
            args![&key.kid, &key.hmac_key, json_list(&key.allow), key.created_at, json_list(&key.profiles)],
        )
        .map_err(|e| match e {
            StoreError::Db(d) if d.is_unique_violation() => StoreError::DuplicateKid {
                kid: key.kid.clone(),
            },
            other => other,
        })?;
        Ok(())
    }

    pub fn remove_eab(&self, kid: &str) -> Result<(), StoreError> {
        let n = self.exec("DELETE FROM eab_keys WHERE kid = ?1", args![kid])?;
        if n == 0 {
            return Err(StoreError::UnknownKid {
                kid: kid.to_string(),
            });
        }
        Ok(())
    }

    pub fn eab(&self, kid: &str) -> Result<Option<EabKey>, StoreError> {
        Ok(self.eabs_where("WHERE k.kid = ?1", args![kid])?.pop())
    }

    pub fn eabs(&self) -> Result<Vec<EabKey>, StoreError> {
        self.eabs_where("ORDER BY k.created_at, k.kid", args![])
    }

    fn eabs_where(&self, tail: &str, args: &[Value]) -> Result<Vec<EabKey>, StoreError> {
        let sql = format!(
            "SELECT k.kid, k.hmac_key, k.allow, k.created_at, k.profiles, \
             (SELECT COUNT(*) FROM accounts a WHERE a.eab_kid = k.kid) FROM eab_keys k {tail}"
        );
        self.rows(&sql, args)?
            .iter()
            .map(|r| {
                Ok(EabKey {
                    kid: r.text(0, "kid")?,
                    hmac_key: r.blob(1, "hmac_key")?,
                    allow: parse_list("allow", &r.text(2, "allow")?)?,
                    created_at: r.int(3, "created_at")?,
                    profiles: parse_list("profiles", &r.text(4, "profiles")?)?,
                    accounts: u64::try_from(r.int(5, "accounts")?).unwrap_or(0),
                })
            })
            .collect()
    }

    // ---- accounts

    pub fn insert_account(&self, a: &Account, spki: &[u8]) -> Result<(), StoreError> {
        self.exec(
            &format!("INSERT INTO accounts ({ACCOUNT_COLUMNS}, spki) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            args![
                &a.id,
                &a.jwk,
                &a.thumbprint,
                a.status.as_str(),
                json_list(&a.contact),
                &a.eab_kid,
                a.created_at,
                spki
            ],
        )?;
        Ok(())
    }

    fn accounts_where(&self, tail: &str, args: &[Value]) -> Result<Vec<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts {tail}");
        self.rows(&sql, args)?.iter().map(account_of).collect()
    }

    pub fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        Ok(self.accounts_where("WHERE id = ?1", args![id])?.pop())
    }

    pub fn account_by_thumbprint(&self, thumbprint: &str) -> Result<Option<Account>, StoreError> {
        Ok(self
            .accounts_where("WHERE thumbprint = ?1", args![thumbprint])?
            .pop())
    }

    /// Whether some account's key is this SubjectPublicKeyInfo (RFC 8555 §11.1).
    pub fn is_account_key(&self, spki: &[u8]) -> Result<bool, StoreError> {
        self.exists("SELECT 1 FROM accounts WHERE spki = ?1", args![spki])
    }

    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.accounts_where("ORDER BY created_at, id", args![])
    }

    pub fn set_account_status(&self, id: &str, status: AccountStatus) -> Result<(), StoreError> {
        self.exec(
            "UPDATE accounts SET status = ?2 WHERE id = ?1",
            args![id, status.as_str()],
        )?;
        Ok(())
    }

    pub fn set_account_contact(&self, id: &str, contact: &[String]) -> Result<(), StoreError> {
        self.exec(
            "UPDATE accounts SET contact = ?2 WHERE id = ?1",
            args![id, json_list(contact)],
        )?;
        Ok(())
    }

    /// Rolls the account over to a new key (§7.3.5). False if another account holds it.
    pub fn set_account_key(
        &self,
        id: &str,
        jwk: &str,
        thumbprint: &str,
        spki: &[u8],
    ) -> Result<bool, StoreError> {
        match self.exec(
            "UPDATE accounts SET jwk = ?2, thumbprint = ?3, spki = ?4 WHERE id = ?1",
            args![id, jwk, thumbprint, spki],
        ) {
            Ok(_) => Ok(true),
            Err(StoreError::Db(d)) if d.is_unique_violation() => Ok(false),
            Err(e) => Err(e),
        }
    }

    // ---- orders

    pub fn insert_order(&self, o: &Order) -> Result<(), StoreError> {
        let idents: Vec<String> = o.identifiers.iter().map(Identifier::to_stored).collect();
        self.exec(
            &format!("INSERT INTO orders ({ORDER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
            args![
                &o.id,
                &o.account,
                o.status.as_str(),
                json_list(&idents),
                o.not_before,
                o.not_after,
                o.expires,
                &o.error,
                &o.certificate,
                o.created_at,
                &o.replaces,
                &o.profile
            ],
        )?;
        Ok(())
    }

    fn orders_where(&self, tail: &str, args: &[Value]) -> Result<Vec<Order>, StoreError> {
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders {tail}");
        self.rows(&sql, args)?.iter().map(order_of).collect()
    }

    pub fn order(&self, id: &str) -> Result<Option<Order>, StoreError> {
        Ok(self.orders_where("WHERE id = ?1", args![id])?.pop())
    }

    /// An account's orders, oldest first, `limit` from `offset`.
    pub fn orders_of(
        &self,
        account: &str,
        statuses: &[OrderStatus],
        offset: u64,
        limit: u64,
    ) -> Result<Vec<Order>, StoreError> {
        let words: Vec<String> = statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        self.orders_where(
            &format!(
                "WHERE account = ?1 AND status IN ({}) ORDER BY created_at, id LIMIT ?2 OFFSET ?3",
                words.join(",")
            ),
            args![
                account,
                i64::try_from(limit).unwrap_or(i64::MAX),
                i64::try_from(offset).unwrap_or(i64::MAX)
            ],
        )
    }

    /// An account's orders that replace some certificate (RFC 9773).
    pub fn replacing_orders_of(&self, account: &str) -> Result<Vec<Order>, StoreError> {
        self.orders_where(
            "WHERE account = ?1 AND replaces IS NOT NULL",
            args![account],
        )
    }

    pub fn orders(&self) -> Result<Vec<Order>, StoreError> {
        self.orders_where("ORDER BY created_at, id", args![])
    }

    pub fn orders_with_status(&self, status: OrderStatus) -> Result<Vec<Order>, StoreError> {
        self.orders_where(
            "WHERE status = ?1 ORDER BY created_at, id",
            args![status.as_str()],
        )
    }

    /// Moves an order from `from` to `to`; false if it was not in `from` (someone else moved
    /// it first: the conditional update is the claim).
    pub fn move_order(
        &self,
        id: &str,
        from: OrderStatus,
        to: OrderStatus,
    ) -> Result<bool, StoreError> {
        let n = self.exec(
            "UPDATE orders SET status = ?3 WHERE id = ?1 AND status = ?2",
            args![id, from.as_str(), to.as_str()],
        )?;
        Ok(n == 1)
    }

    /// Claims a ready order for finalization by `node` (ready → processing, recording who and
    /// when); false if it was not ready. Of two servers finalizing one order, one signs.
    pub fn claim_order(&self, id: &str, node: &str, now: i64) -> Result<bool, StoreError> {
        let n = self.exec(
            "UPDATE orders SET status = 'processing', processing_by = ?2, processing_since = ?3 \
             WHERE id = ?1 AND status = 'ready'",
            args![id, node, now],
        )?;
        Ok(n == 1)
    }

    /// Gives a finalization claim up (processing → ready) only if it is still the one meant:
    /// `node`'s, or (for the sweeper, with `node` `None`) one taken before `claimed_before`.
    /// Another server's fresh claim of the same order is left alone; false then.
    pub fn release_claim(
        &self,
        id: &str,
        node: Option<&str>,
        claimed_before: i64,
    ) -> Result<bool, StoreError> {
        let n = self.exec(
            "UPDATE orders SET status = 'ready' WHERE id = ?1 AND status = 'processing' \
             AND (processing_by IS NULL OR processing_since IS NULL OR processing_since < ?2 OR processing_by = ?3)",
            args![id, claimed_before, node],
        )?;
        Ok(n == 1)
    }

    /// Orders left `processing` by a server that stopped: claimed before `claimed_before`, or
    /// by `node` itself (a server starting again knows it is not signing anything yet), or by
    /// a server too old to say.
    pub fn abandoned_orders(
        &self,
        node: Option<&str>,
        claimed_before: i64,
    ) -> Result<Vec<Order>, StoreError> {
        self.orders_where(
            "WHERE status = 'processing' AND (processing_by IS NULL OR processing_since IS NULL \
             OR processing_since < ?1 OR processing_by = ?2) ORDER BY created_at, id",
            args![claimed_before, node],
        )
    }

    pub fn fail_order(&self, id: &str, problem_json: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE orders SET status = 'invalid', error = ?2 WHERE id = ?1",
            args![id, problem_json],
        )?;
        Ok(())
    }

    // ---- authorizations and challenges

    pub fn insert_authz(&self, a: &Authz) -> Result<(), StoreError> {
        self.exec(
            &format!("INSERT INTO authzs ({AUTHZ_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
            args![
                &a.id,
                &a.order,
                &a.account,
                a.identifier.to_stored(),
                a.wildcard,
                a.status.as_str(),
                a.expires
            ],
        )?;
        Ok(())
    }

    fn authzs_where(&self, tail: &str, args: &[Value]) -> Result<Vec<Authz>, StoreError> {
        let sql = format!("SELECT {AUTHZ_COLUMNS} FROM authzs {tail}");
        self.rows(&sql, args)?.iter().map(authz_of).collect()
    }

    pub fn authz(&self, id: &str) -> Result<Option<Authz>, StoreError> {
        Ok(self.authzs_where("WHERE id = ?1", args![id])?.pop())
    }

    pub fn authzs_of_order(&self, order: &str) -> Result<Vec<Authz>, StoreError> {
        let by = self.insertion_order();
        self.authzs_where(&format!("WHERE order_id = ?1 ORDER BY {by}"), args![order])
    }

    /// Whether `account` holds a valid, unexpired authorization for `identifier` (revocation
    /// by an account that controls all of a certificate's names, §7.6).
    /// A wildcard name needs a valid wildcard authorization (proven by dns-01), not one for
    /// the bare domain.
    pub fn holds_valid_authz(
        &self,
        account: &str,
        identifier: &Identifier,
        now: i64,
    ) -> Result<bool, StoreError> {
        let target = identifier.authorization_target();
        self.exists(
            "SELECT 1 FROM authzs WHERE account = ?1 AND identifier = ?2 AND wildcard = ?3 \
             AND status = 'valid' AND expires > ?4 LIMIT 1",
            args![account, target.to_stored(), identifier.is_wildcard(), now],
        )
    }

    pub fn set_authz_status(&self, id: &str, status: AuthzStatus) -> Result<(), StoreError> {
        self.exec(
            "UPDATE authzs SET status = ?2 WHERE id = ?1",
            args![id, status.as_str()],
        )?;
        Ok(())
    }

    /// Deactivates every pending authorization of an account (on account deactivation).
    pub fn deactivate_pending_authzs(&self, account: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE authzs SET status = 'deactivated' WHERE account = ?1 AND status = 'pending'",
            args![account],
        )?;
        Ok(())
    }

    /// Invalidates an account's orders that are not finished (on account deactivation).
    /// Fails the account's pending and ready orders, except those in `busy` (orders this
    /// server is signing: they finish first, as recorded `processing` ones do).
    pub fn fail_open_orders(
        &self,
        account: &str,
        problem_json: &str,
        busy: &[String],
    ) -> Result<(), StoreError> {
        let open = self.rows(
            "SELECT id FROM orders WHERE account = ?1 AND status IN ('pending', 'ready')",
            args![account],
        )?;
        for row in &open {
            let id = row.text(0, "id")?;
            if !busy.contains(&id) {
                self.fail_order(&id, problem_json)?;
            }
        }
        Ok(())
    }

    pub fn insert_challenge(&self, c: &Challenge) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO challenges ({CHALLENGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ),
            args![
                &c.id,
                &c.authz,
                c.kind.as_str(),
                &c.token,
                c.status.as_str(),
                c.validated,
                &c.error
            ],
        )?;
        Ok(())
    }

    fn challenges_where(&self, tail: &str, args: &[Value]) -> Result<Vec<Challenge>, StoreError> {
        let sql = format!("SELECT {CHALLENGE_COLUMNS} FROM challenges {tail}");
        self.rows(&sql, args)?.iter().map(challenge_of).collect()
    }

    pub fn challenge(&self, id: &str) -> Result<Option<Challenge>, StoreError> {
        Ok(self.challenges_where("WHERE id = ?1", args![id])?.pop())
    }

    pub fn challenges_of(&self, authz: &str) -> Result<Vec<Challenge>, StoreError> {
        let by = self.insertion_order();
        self.challenges_where(&format!("WHERE authz = ?1 ORDER BY {by}"), args![authz])
    }

    /// Moves a challenge from `from` to `to`; false if it was not in `from`.
    pub fn move_challenge(
        &self,
        id: &str,
        from: ChallengeStatus,
        to: ChallengeStatus,
    ) -> Result<bool, StoreError> {
        let n = self.exec(
            "UPDATE challenges SET status = ?3 WHERE id = ?1 AND status = ?2",
            args![id, from.as_str(), to.as_str()],
        )?;
        Ok(n == 1)
    }

    pub fn finish_challenge(
        &self,
        id: &str,
        status: ChallengeStatus,
        validated: Option<i64>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.exec(
            "UPDATE challenges SET status = ?2, validated = ?3, error = ?4 WHERE id = ?1",
            args![id, status.as_str(), validated, error],
        )?;
        Ok(())
    }

    // ---- retention

    /// Deletes what `keep` lets go: orders that can no longer lead anywhere (invalid ones, and
    /// pending or ready ones past their expiry) and valid orders whose certificate expired,
    /// with their authorizations, challenges and certificate records; on a shared store also
    /// expired redeemed nonces. The ledger is not touched. Certificates whose expiry was
    /// never recorded stay (see [`Store::prune`]).
    pub fn prune(&self, keep: &Retention, limit: usize) -> Result<Pruned, StoreError> {
        let shared = self.db.borrow().engine() == Engine::Postgres;
        let nonces = if shared {
            self.exec(
                "DELETE FROM used_nonces WHERE issued < ?1",
                args![keep.nonces_before],
            )?
        } else {
            0
        };
        // Nonces only (every sweep of a shared store): no scan of the orders.
        if keep.dead_before == i64::MIN && keep.expired_before == i64::MIN {
            return Ok(Pruned {
                nonces,
                ..Pruned::default()
            });
        }
        // Two sets of up to `limit` orders, each chosen by one query that the statements
        // using it leave unchanged until its last one, so they all take the same orders: dead
        // ones (which have no certificate), then valid ones whose certificate expired (their
        // records go last: they choose the set).
        let dead = "SELECT id FROM orders WHERE \
                    (status = 'invalid' AND created_at < ?1) OR \
                    (status IN ('pending', 'ready') AND expires < ?1) \
                    ORDER BY id LIMIT ?2";
        let expired = "SELECT order_id FROM certificates WHERE not_after < ?1 \
                       ORDER BY not_after, id LIMIT ?2";
        let mut pruned = Pruned::default();
        for (set, before, with_certificates) in [
            (dead, keep.dead_before, false),
            (expired, keep.expired_before, true),
        ] {
            let bounds = args![before, limit as i64];
            pruned.challenges += self.exec(
                &format!(
                    "DELETE FROM challenges WHERE authz IN (SELECT id FROM authzs WHERE order_id IN ({set}))"
                ),
                bounds,
            )?;
            pruned.authzs += self.exec(
                &format!("DELETE FROM authzs WHERE order_id IN ({set})"),
                bounds,
            )?;
            pruned.orders +=
                self.exec(&format!("DELETE FROM orders WHERE id IN ({set})"), bounds)?;
            if with_certificates {
                pruned.certificates += self.exec(
                    &format!("DELETE FROM certificates WHERE order_id IN ({set})"),
                    bounds,
                )?;
            }
        }
        pruned.nonces = nonces;
        Ok(pruned)
    }

    /// Reads the expiry of up to `limit` certificates recorded before the store kept it from
    /// their PEM and records it; how many it looked at. One that does not parse is kept
    /// forever (it is marked as never expiring, so it is not looked at again).
    pub fn record_missing_expiries(&self, limit: usize) -> Result<usize, StoreError> {
        let rows = self.rows(
            "SELECT id, chain_pem FROM certificates WHERE not_after IS NULL LIMIT ?1",
            args![limit as i64],
        )?;
        for row in &rows {
            let id = row.text(0, "id")?;
            let not_after = leaf_not_after(&row.text(1, "chain_pem")?).unwrap_or(i64::MAX);
            self.exec(
                "UPDATE certificates SET not_after = ?2 WHERE id = ?1",
                args![id, not_after],
            )?;
        }
        Ok(rows.len())
    }

    // ---- certificates

    /// Records the certificate an order obtained and makes the order valid. Idempotent: when
    /// the order already has its certificate (another server's repair got there first),
    /// nothing changes and false comes back.
    pub fn insert_cert(&self, c: &IssuedCert) -> Result<bool, StoreError> {
        let n = self.exec(
            "INSERT INTO certificates (id, serial, order_id, account, chain_pem, not_after) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            args![
                &c.id,
                &c.serial,
                &c.order,
                &c.account,
                &c.chain_pem,
                c.not_after
            ],
        )?;
        if n == 0 {
            return Ok(false);
        }
        self.exec(
            "UPDATE orders SET status = 'valid', certificate = ?2 WHERE id = ?1",
            args![&c.order, &c.serial],
        )?;
        Ok(true)
    }

    fn certs_where(&self, tail: &str, args: &[Value]) -> Result<Option<IssuedCert>, StoreError> {
        let sql = format!(
            "SELECT id, serial, order_id, account, chain_pem, not_after FROM certificates {tail}"
        );
        self.rows(&sql, args)?.first().map(cert_of).transpose()
    }

    pub fn cert(&self, id: &str) -> Result<Option<IssuedCert>, StoreError> {
        self.certs_where("WHERE id = ?1", args![id])
    }

    pub fn cert_by_serial(&self, serial: &str) -> Result<Option<IssuedCert>, StoreError> {
        self.certs_where("WHERE serial = ?1", args![serial])
    }

    pub fn cert_of_order(&self, order: &str) -> Result<Option<IssuedCert>, StoreError> {
        self.certs_where("WHERE order_id = ?1", args![order])
    }

    // ---- shared between replicas (PostgreSQL)

    /// The nonce MAC key every replica uses: `fresh` is stored if none is yet (the first
    /// replica to start wins), and the stored one comes back.
    pub fn nonce_key(&self, fresh: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            args![NONCE_KEY, Base64UrlUnpadded::encode_string(fresh)],
        )?;
        let stored = self
            .rows("SELECT value FROM meta WHERE key = ?1", args![NONCE_KEY])?
            .first()
            .map(|r| r.text(0, "meta.value"))
            .transpose()?
            .unwrap_or_default();
        Base64UrlUnpadded::decode_vec(&stored).map_err(|_| StoreError::BadValue {
            column: "meta.nonce_key",
            value: "(not base64url)".into(),
        })
    }

    /// (PostgreSQL only.) One event for `key` under `limiter` if the cell allows it (GCRA in one statement: the
    /// arrival time moves by `interval_us` unless it is more than `tolerance_us` ahead of
    /// `now_us`); otherwise the microseconds until it would.
    pub fn take_rate(
        &self,
        limiter: &str,
        key: &str,
        now_us: i64,
        interval_us: i64,
        tolerance_us: i64,
    ) -> Result<Result<(), i64>, StoreError> {
        let taken = self.exec(
            TAKE_RATE,
            args![limiter, key, now_us, interval_us, tolerance_us],
        )?;
        if taken == 1 {
            return Ok(Ok(()));
        }
        self.rate_wait(limiter, key, now_us, tolerance_us)
    }

    /// Whether `key` may act now under `limiter`, without counting it.
    pub fn check_rate(
        &self,
        limiter: &str,
        key: &str,
        now_us: i64,
        tolerance_us: i64,
    ) -> Result<Result<(), i64>, StoreError> {
        self.rate_wait(limiter, key, now_us, tolerance_us)
    }

    fn rate_wait(
        &self,
        limiter: &str,
        key: &str,
        now_us: i64,
        tolerance_us: i64,
    ) -> Result<Result<(), i64>, StoreError> {
        let tat = self
            .rows(
                "SELECT tat_us FROM rate_cells WHERE limiter = ?1 AND key = ?2",
                args![limiter, key],
            )?
            .first()
            .map(|r| r.int(0, "tat_us"))
            .transpose()?
            .unwrap_or(now_us);
        let ahead = tat.max(now_us) - now_us;
        Ok(if ahead > tolerance_us {
            Err(ahead - tolerance_us)
        } else {
            Ok(())
        })
    }

    /// Forgets rate cells whose every event has aged out.
    pub fn prune_rates(&self, now_us: i64) -> Result<usize, StoreError> {
        self.exec("DELETE FROM rate_cells WHERE tat_us < ?1", args![now_us])
    }

    /// Takes (or renews) the lease `name` for `holder` until `until`; false while another
    /// holder's lease runs.
    pub fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let n = self.exec(
            "INSERT INTO leases AS l (name, holder, until) VALUES (?1, ?2, ?4) \
             ON CONFLICT (name) DO UPDATE SET holder = ?2, until = ?4 \
             WHERE l.until < ?3 OR l.holder = ?2",
            args![name, holder, now, until],
        )?;
        Ok(n == 1)
    }
}
