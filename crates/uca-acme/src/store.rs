//! ACME state in `acme.sqlite` beside the CA's ledger: accounts, external account keys,
//! orders, authorizations, challenges, and the certificates orders obtained.
//!
//! Separate from the ledger on purpose: the ledger is the CA's record and is opened under the
//! CA lock for one write at a time, while the server keeps this database open and the CLI
//! (`uca acme ...`) reads and edits it alongside (WAL, normal locking). The certificate row
//! in the ledger is written first and carries the account and order, so a crash between the
//! two commits is repaired from the ledger ([`crate::service::Acme::repair`]).
//!
//! Facts a client has been told and that it cannot recreate (accounts, key changes, issued
//! certificates) commit with `synchronous=FULL`; the rest with `NORMAL` (a power loss may
//! roll back a just-created order or a validation, which the client redoes).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use crate::identifier::Identifier;
use crate::model::{
    Account, AccountStatus, Authz, AuthzStatus, Challenge, ChallengeStatus, ChallengeType, EabKey,
    IssuedCert, Order, OrderStatus,
};

/// 1: the first store. 2: orders remember the certificate they replace (RFC 9773) and their
/// profile; external account keys may limit profiles.
const SCHEMA_VERSION: i64 = 2;

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
    profile     TEXT                   -- the certificate profile it asked for
) STRICT;
CREATE INDEX IF NOT EXISTS orders_account ON orders(account, created_at);
CREATE INDEX IF NOT EXISTS orders_replaces ON orders(replaces);
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
    chain_pem TEXT NOT NULL
) STRICT;
";

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
    Db(#[from] rusqlite::Error),
    #[error("acme.sqlite schema version {found} is newer than this uca understands ({supported})")]
    NewerSchema { found: String, supported: i64 },
    #[error("unknown {column} '{value}' in acme.sqlite")]
    UnknownWord { column: &'static str, value: String },
    #[error("bad stored value in {column}: {value}")]
    BadValue { column: &'static str, value: String },
    #[error("external account key '{kid}' already exists")]
    DuplicateKid { kid: String },
    #[error("no external account key '{kid}'")]
    UnknownKid { kid: String },
}

/// What a prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    pub orders: usize,
    pub authzs: usize,
    pub challenges: usize,
}

/// Durability of one commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// On stable storage when the call returns.
    Durable,
    /// Atomic; may be rolled back by a power loss (never by a process crash).
    Lazy,
}

/// The ACME database.
pub struct Store {
    conn: Connection,
    /// The `synchronous` level the connection is at, so a write changes it only when needed.
    commit: std::cell::Cell<Commit>,
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

    /// Opens (and on first use creates, mode 0600) the store.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
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
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", false)?;
        let known: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if known > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found: known.to_string(),
                supported: SCHEMA_VERSION,
            });
        }
        if known < SCHEMA_VERSION {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let made = (|| {
                if known == 1 {
                    conn.execute_batch(
                        "ALTER TABLE orders ADD COLUMN replaces TEXT;
                         ALTER TABLE orders ADD COLUMN profile TEXT;
                         ALTER TABLE eab_keys ADD COLUMN profiles TEXT NOT NULL DEFAULT '[]';",
                    )?;
                }
                conn.execute_batch(SCHEMA)?;
                conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            })();
            match made {
                Ok(()) => conn.execute_batch("COMMIT")?,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(e.into());
                }
            }
        }
        // Room for every statement the server repeats (the default 16 made them evict each
        // other and be parsed again).
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Store {
            conn,
            commit: std::cell::Cell::new(Commit::Durable),
        })
    }

    fn durability(&self, commit: Commit) -> Result<(), StoreError> {
        if self.commit.get() == commit {
            return Ok(());
        }
        let level = match commit {
            Commit::Durable => "FULL",
            Commit::Lazy => "NORMAL",
        };
        self.conn.pragma_update(None, "synchronous", level)?;
        self.commit.set(commit);
        Ok(())
    }

    /// Runs `f` in one transaction committed with `commit` durability.
    pub fn write<T>(
        &mut self,
        commit: Commit,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.durability(commit)?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&Tx { conn: &tx })?;
        tx.commit()?;
        Ok(out)
    }

    /// Read access outside a write.
    pub fn read(&self) -> Tx<'_> {
        Tx { conn: &self.conn }
    }
}

/// Queries and statements, inside a write or on their own.
pub struct Tx<'a> {
    conn: &'a Connection,
}

const ACCOUNT_COLUMNS: &str = "id, jwk, thumbprint, status, contact, eab_kid, created_at";
const ORDER_COLUMNS: &str = "id, account, status, identifiers, not_before, not_after, expires, error, certificate, created_at, replaces, profile";
const AUTHZ_COLUMNS: &str = "id, order_id, account, identifier, wildcard, status, expires";
const CHALLENGE_COLUMNS: &str = "id, authz, type, token, status, validated, error";

fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Account, String, String)> {
    Ok((
        Account {
            id: r.get(0)?,
            jwk: r.get(1)?,
            thumbprint: r.get(2)?,
            status: AccountStatus::Valid,
            contact: Vec::new(),
            eab_kid: r.get(5)?,
            created_at: r.get(6)?,
        },
        r.get(3)?,
        r.get(4)?,
    ))
}

fn finish_account(
    (mut a, status, contact): (Account, String, String),
) -> Result<Account, StoreError> {
    a.status = status.parse()?;
    a.contact = parse_list("contact", &contact)?;
    Ok(a)
}

type OrderRow = (Order, String, String, Option<i64>, Option<i64>);

fn order_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OrderRow> {
    Ok((
        Order {
            id: r.get(0)?,
            account: r.get(1)?,
            status: OrderStatus::Pending,
            identifiers: Vec::new(),
            not_before: None,
            not_after: None,
            expires: r.get(6)?,
            error: r.get(7)?,
            certificate: r.get(8)?,
            created_at: r.get(9)?,
            replaces: r.get(10)?,
            profile: r.get(11)?,
        },
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn finish_order((mut o, status, idents, nb, na): OrderRow) -> Result<Order, StoreError> {
    o.status = status.parse()?;
    o.identifiers = parse_list("identifiers", &idents)?
        .iter()
        .map(|s| {
            Identifier::from_stored(s).ok_or_else(|| StoreError::BadValue {
                column: "identifiers",
                value: s.clone(),
            })
        })
        .collect::<Result<_, _>>()?;
    o.not_before = nb;
    o.not_after = na;
    Ok(o)
}

type AuthzRow = (Authz, String, String);

fn authz_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuthzRow> {
    Ok((
        Authz {
            id: r.get(0)?,
            order: r.get(1)?,
            account: r.get(2)?,
            identifier: Identifier::Dns(String::new()),
            wildcard: r.get::<_, i64>(4)? != 0,
            status: AuthzStatus::Pending,
            expires: r.get(6)?,
        },
        r.get(3)?,
        r.get(5)?,
    ))
}

fn finish_authz((mut a, ident, status): AuthzRow) -> Result<Authz, StoreError> {
    a.identifier = Identifier::from_stored(&ident).ok_or(StoreError::BadValue {
        column: "identifier",
        value: ident,
    })?;
    a.status = status.parse()?;
    Ok(a)
}

type ChallengeRow = (Challenge, String, String);

fn challenge_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChallengeRow> {
    Ok((
        Challenge {
            id: r.get(0)?,
            authz: r.get(1)?,
            kind: ChallengeType::Http01,
            token: r.get(3)?,
            status: ChallengeStatus::Pending,
            validated: r.get(5)?,
            error: r.get(6)?,
        },
        r.get(2)?,
        r.get(4)?,
    ))
}

fn finish_challenge((mut c, kind, status): ChallengeRow) -> Result<Challenge, StoreError> {
    c.kind = kind.parse()?;
    c.status = status.parse()?;
    Ok(c)
}

impl Tx<'_> {
    /// Runs one statement through the connection's statement cache: the server repeats a
    /// few dozen statements, and parsing them anew was a tenth of its CPU.
    fn exec(&self, sql: &str, args: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(args)
    }

    /// [`Connection::query_row`] through the statement cache.
    fn query_one<T>(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.conn.prepare_cached(sql)?.query_row(args, f)
    }

    // ---- external account keys

    pub fn insert_eab(&self, key: &EabKey) -> Result<(), StoreError> {
        self.exec(
                "INSERT INTO eab_keys (kid, hmac_key, allow, created_at, profiles) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key.kid, key.hmac_key, json_list(&key.allow), key.created_at, json_list(&key.profiles)],
            )
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    StoreError::DuplicateKid {
                        kid: key.kid.clone(),
                    }
                }
                other => other.into(),
            })?;
        Ok(())
    }

    pub fn remove_eab(&self, kid: &str) -> Result<(), StoreError> {
        let n = self.exec("DELETE FROM eab_keys WHERE kid = ?1", params![kid])?;
        if n == 0 {
            return Err(StoreError::UnknownKid {
                kid: kid.to_string(),
            });
        }
        Ok(())
    }

    pub fn eab(&self, kid: &str) -> Result<Option<EabKey>, StoreError> {
        Ok(self.eabs_where("WHERE k.kid = ?1", params![kid])?.pop())
    }

    pub fn eabs(&self) -> Result<Vec<EabKey>, StoreError> {
        self.eabs_where("ORDER BY k.created_at, k.kid", params![])
    }

    fn eabs_where(
        &self,
        tail: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<EabKey>, StoreError> {
        let sql = format!(
            "SELECT k.kid, k.hmac_key, k.allow, k.created_at, k.profiles, \
             (SELECT COUNT(*) FROM accounts a WHERE a.eab_kid = k.kid) FROM eab_keys k {tail}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(args, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (kid, hmac_key, allow, created_at, profiles, accounts) = row?;
            out.push(EabKey {
                kid,
                hmac_key,
                allow: parse_list("allow", &allow)?,
                profiles: parse_list("profiles", &profiles)?,
                created_at,
                accounts: u64::try_from(accounts).unwrap_or(0),
            });
        }
        Ok(out)
    }

    // ---- accounts

    pub fn insert_account(&self, a: &Account, spki: &[u8]) -> Result<(), StoreError> {
        self.exec(
            &format!("INSERT INTO accounts ({ACCOUNT_COLUMNS}, spki) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
            params![
                a.id,
                a.jwk,
                a.thumbprint,
                a.status.as_str(),
                json_list(&a.contact),
                a.eab_kid,
                a.created_at,
                spki
            ],
        )?;
        Ok(())
    }

    fn accounts_where(
        &self,
        tail: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts {tail}");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(args, account_row)?;
        rows.map(|r| finish_account(r?)).collect()
    }

    pub fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        Ok(self.accounts_where("WHERE id = ?1", params![id])?.pop())
    }

    pub fn account_by_thumbprint(&self, thumbprint: &str) -> Result<Option<Account>, StoreError> {
        Ok(self
            .accounts_where("WHERE thumbprint = ?1", params![thumbprint])?
            .pop())
    }

    /// Whether some account's key is this SubjectPublicKeyInfo (RFC 8555 §11.1).
    pub fn is_account_key(&self, spki: &[u8]) -> Result<bool, StoreError> {
        Ok(self
            .query_one(
                "SELECT 1 FROM accounts WHERE spki = ?1",
                params![spki],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.accounts_where("ORDER BY created_at, id", params![])
    }

    pub fn set_account_status(&self, id: &str, status: AccountStatus) -> Result<(), StoreError> {
        self.exec(
            "UPDATE accounts SET status = ?2 WHERE id = ?1",
            params![id, status.as_str()],
        )?;
        Ok(())
    }

    pub fn set_account_contact(&self, id: &str, contact: &[String]) -> Result<(), StoreError> {
        self.exec(
            "UPDATE accounts SET contact = ?2 WHERE id = ?1",
            params![id, json_list(contact)],
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
            params![id, jwk, thumbprint, spki],
        ) {
            Ok(_) => Ok(true),
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    // ---- orders

    pub fn insert_order(&self, o: &Order) -> Result<(), StoreError> {
        let idents: Vec<String> = o.identifiers.iter().map(Identifier::to_stored).collect();
        self.exec(
            &format!("INSERT INTO orders ({ORDER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
            params![
                o.id,
                o.account,
                o.status.as_str(),
                json_list(&idents),
                o.not_before,
                o.not_after,
                o.expires,
                o.error,
                o.certificate,
                o.created_at,
                o.replaces,
                o.profile
            ],
        )?;
        Ok(())
    }

    fn orders_where(
        &self,
        tail: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<Order>, StoreError> {
        let sql = format!("SELECT {ORDER_COLUMNS} FROM orders {tail}");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(args, order_row)?;
        rows.map(|r| finish_order(r?)).collect()
    }

    pub fn order(&self, id: &str) -> Result<Option<Order>, StoreError> {
        Ok(self.orders_where("WHERE id = ?1", params![id])?.pop())
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
            params![
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
            params![account],
        )
    }

    pub fn orders(&self) -> Result<Vec<Order>, StoreError> {
        self.orders_where("ORDER BY created_at, id", params![])
    }

    pub fn orders_with_status(&self, status: OrderStatus) -> Result<Vec<Order>, StoreError> {
        self.orders_where(
            "WHERE status = ?1 ORDER BY created_at, id",
            params![status.as_str()],
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
            params![id, from.as_str(), to.as_str()],
        )?;
        Ok(n == 1)
    }

    pub fn fail_order(&self, id: &str, problem_json: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE orders SET status = 'invalid', error = ?2 WHERE id = ?1",
            params![id, problem_json],
        )?;
        Ok(())
    }

    // ---- authorizations and challenges

    pub fn insert_authz(&self, a: &Authz) -> Result<(), StoreError> {
        self.exec(
            &format!("INSERT INTO authzs ({AUTHZ_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
            params![
                a.id,
                a.order,
                a.account,
                a.identifier.to_stored(),
                i64::from(a.wildcard),
                a.status.as_str(),
                a.expires
            ],
        )?;
        Ok(())
    }

    fn authzs_where(
        &self,
        tail: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<Authz>, StoreError> {
        let sql = format!("SELECT {AUTHZ_COLUMNS} FROM authzs {tail}");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(args, authz_row)?;
        rows.map(|r| finish_authz(r?)).collect()
    }

    pub fn authz(&self, id: &str) -> Result<Option<Authz>, StoreError> {
        Ok(self.authzs_where("WHERE id = ?1", params![id])?.pop())
    }

    pub fn authzs_of_order(&self, order: &str) -> Result<Vec<Authz>, StoreError> {
        self.authzs_where("WHERE order_id = ?1 ORDER BY rowid", params![order])
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
        Ok(self
            .query_one(
                "SELECT 1 FROM authzs WHERE account = ?1 AND identifier = ?2 AND wildcard = ?3 \
                 AND status = 'valid' AND expires > ?4 LIMIT 1",
                params![
                    account,
                    target.to_stored(),
                    i64::from(identifier.is_wildcard()),
                    now
                ],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    pub fn set_authz_status(&self, id: &str, status: AuthzStatus) -> Result<(), StoreError> {
        self.exec(
            "UPDATE authzs SET status = ?2 WHERE id = ?1",
            params![id, status.as_str()],
        )?;
        Ok(())
    }

    /// Deactivates every pending authorization of an account (on account deactivation).
    pub fn deactivate_pending_authzs(&self, account: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE authzs SET status = 'deactivated' WHERE account = ?1 AND status = 'pending'",
            params![account],
        )?;
        Ok(())
    }

    /// Invalidates an account's orders that are not finished (on account deactivation).
    pub fn fail_open_orders(&self, account: &str, problem_json: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE orders SET status = 'invalid', error = ?2 WHERE account = ?1 AND status IN ('pending', 'ready')",
            params![account, problem_json],
        )?;
        Ok(())
    }

    pub fn insert_challenge(&self, c: &Challenge) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO challenges ({CHALLENGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ),
            params![
                c.id,
                c.authz,
                c.kind.as_str(),
                c.token,
                c.status.as_str(),
                c.validated,
                c.error
            ],
        )?;
        Ok(())
    }

    fn challenges_where(
        &self,
        tail: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<Challenge>, StoreError> {
        let sql = format!("SELECT {CHALLENGE_COLUMNS} FROM challenges {tail}");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(args, challenge_row)?;
        rows.map(|r| finish_challenge(r?)).collect()
    }

    pub fn challenge(&self, id: &str) -> Result<Option<Challenge>, StoreError> {
        Ok(self.challenges_where("WHERE id = ?1", params![id])?.pop())
    }

    pub fn challenges_of(&self, authz: &str) -> Result<Vec<Challenge>, StoreError> {
        self.challenges_where("WHERE authz = ?1 ORDER BY rowid", params![authz])
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
            params![id, from.as_str(), to.as_str()],
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
            params![id, status.as_str(), validated, error],
        )?;
        Ok(())
    }

    // ---- retention

    /// Deletes orders that can no longer lead anywhere — invalid ones, and pending or ready
    /// ones past their expiry — once `before` (unix seconds) is past, with their
    /// authorizations and challenges. Valid orders stay (their certificate is downloaded
    /// through them); the ledger is not touched.
    pub fn prune(&self, before: i64) -> Result<Pruned, StoreError> {
        let dead = "SELECT id FROM orders WHERE \
                    (status = 'invalid' AND created_at < ?1) OR \
                    (status IN ('pending', 'ready') AND expires < ?1)";
        let challenges = self.exec(
            &format!(
                "DELETE FROM challenges WHERE authz IN (SELECT id FROM authzs WHERE order_id IN ({dead}))"
            ),
            params![before],
        )?;
        let authzs = self.exec(
            &format!("DELETE FROM authzs WHERE order_id IN ({dead})"),
            params![before],
        )?;
        let orders = self.exec(
            &format!("DELETE FROM orders WHERE id IN ({dead})"),
            params![before],
        )?;
        Ok(Pruned {
            orders,
            authzs,
            challenges,
        })
    }

    // ---- certificates

    pub fn insert_cert(&self, c: &IssuedCert) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO certificates (id, serial, order_id, account, chain_pem) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![c.id, c.serial, c.order, c.account, c.chain_pem],
        )?;
        self.exec(
            "UPDATE orders SET status = 'valid', certificate = ?2 WHERE id = ?1",
            params![c.order, c.serial],
        )?;
        Ok(())
    }

    fn certs_where(
        &self,
        tail: &str,
        args: impl rusqlite::Params,
    ) -> Result<Option<IssuedCert>, StoreError> {
        let sql =
            format!("SELECT id, serial, order_id, account, chain_pem FROM certificates {tail}");
        Ok(self
            .query_one(&sql, args, |r| {
                Ok(IssuedCert {
                    id: r.get(0)?,
                    serial: r.get(1)?,
                    order: r.get(2)?,
                    account: r.get(3)?,
                    chain_pem: r.get(4)?,
                })
            })
            .optional()?)
    }

    pub fn cert(&self, id: &str) -> Result<Option<IssuedCert>, StoreError> {
        self.certs_where("WHERE id = ?1", params![id])
    }

    pub fn cert_by_serial(&self, serial: &str) -> Result<Option<IssuedCert>, StoreError> {
        self.certs_where("WHERE serial = ?1", params![serial])
    }

    pub fn cert_of_order(&self, order: &str) -> Result<Option<IssuedCert>, StoreError> {
        self.certs_where("WHERE order_id = ?1", params![order])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_version_1_store_gains_the_replaces_and_profile_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = Store::path_in(dir.path());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE orders (id TEXT PRIMARY KEY, account TEXT NOT NULL, status TEXT NOT NULL, \
             identifiers TEXT NOT NULL, not_before INTEGER, not_after INTEGER, expires INTEGER NOT NULL, \
             error TEXT, certificate TEXT, created_at INTEGER NOT NULL) STRICT;
             INSERT INTO orders VALUES ('o1', 'a1', 'valid', '[\"dns:a.test\"]', NULL, NULL, 0, NULL, 'ab', 0);
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
    }
}
