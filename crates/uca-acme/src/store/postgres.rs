//! The store on PostgreSQL, shared by `uca serve` replicas: any replica answers any request.
//!
//! The connection comes from the caller (it knows the URL, the TLS roots and the schema
//! migrations, which it applies with [`MIGRATIONS`]); the store asks for a new one whenever the
//! old one broke, so a database failover costs the requests in flight, not the process.
//!
//! The connection's default is `synchronous_commit = local` (set by [`Connect`]): lazy writes
//! (used nonces, rate cells, order steps) do not wait for the standby, and a lone statement is
//! one round trip. A durable transaction sets `synchronous_commit = on` for itself, so it waits
//! for whatever the server's synchronous replication promises (with a synchronous standby: both
//! machines).

use std::collections::HashMap;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Statement};

use super::Commit;
use super::db::{Backend, DbError, Engine, Row, Value};

/// The ACME schema's migrations, in order; applied by the caller under its advisory lock and
/// recorded in [`MIGRATIONS_TABLE`]. Never edit a released one: add the next.
pub const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("schema/0001_acme.sql")),
    (2, include_str!("schema/0002_certificate_expiry.sql")),
];

/// Where the applied ACME migrations are recorded (public schema, beside the ledger's).
pub const MIGRATIONS_TABLE: &str = "uca_acme_schema_migrations";

/// The schema that holds the ACME tables.
pub const SCHEMA: &str = "uca_acme";

/// What every store connection runs first: the ACME schema first on its search_path, and lazy
/// commits by default (durable transactions ask for more themselves).
pub const SESSION: &str = "SET search_path = uca_acme, public; SET synchronous_commit = local";

/// Makes a connection ready for the store: connected, migrated, [`SESSION`] applied.
pub type Connect = Box<dyn FnMut() -> Result<Client, String> + Send>;

/// The connection, made again when it broke, with its prepared statements.
pub(crate) struct PgBackend {
    connect: Connect,
    conn: Option<PgConn>,
}

struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
    /// When a request on it last ended.
    last_used: std::time::Instant,
}

/// A connection unused for this long is asked whether it still answers before it is used
/// (see [`PgConn::is_open`]); a busier one only has to be open.
const ASK_AFTER_IDLE: std::time::Duration = std::time::Duration::from_millis(250);

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ => Err(format!("an integer cannot go into a {ty} parameter").into()),
            },
            Value::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    s.as_str().to_sql(ty, out)
                }
                _ => Err(format!("text cannot go into a {ty} parameter").into()),
            },
            Value::Blob(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(format!("bytes cannot go into a {ty} parameter").into()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in to_sql: the store's values carry their own kind.
        true
    }

    to_sql_checked!();
}

fn value_at(row: &postgres::Row, i: usize) -> Result<Value, postgres::Error> {
    let ty = row.columns().get(i).map(|c| c.type_().clone());
    Ok(match ty {
        Some(Type::INT8) => row
            .try_get::<_, Option<i64>>(i)?
            .map_or(Value::Null, Value::Int),
        Some(Type::INT4) => row
            .try_get::<_, Option<i32>>(i)?
            .map_or(Value::Null, |n| Value::Int(n.into())),
        Some(Type::INT2) => row
            .try_get::<_, Option<i16>>(i)?
            .map_or(Value::Null, |n| Value::Int(n.into())),
        Some(Type::BOOL) => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(Value::Null, |b| Value::Int(b.into())),
        Some(Type::BYTEA) => row
            .try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(Value::Null, Value::Blob),
        _ => row
            .try_get::<_, Option<String>>(i)?
            .map_or(Value::Null, Value::Text),
    })
}

/// `?1` → `$1`: the store's statements use SQLite's numbered parameters, which hold no `?`
/// inside literals.
fn numbered(sql: &str) -> String {
    sql.replace('?', "$")
}

impl PgBackend {
    /// Connects at once, so a wrong URL or a newer schema stops the server at start.
    pub fn new(mut connect: Connect) -> Result<PgBackend, DbError> {
        let client = connect().map_err(DbError::Connect)?;
        Ok(PgBackend {
            connect,
            conn: Some(PgConn {
                client,
                statements: HashMap::new(),
                last_used: std::time::Instant::now(),
            }),
        })
    }

    fn conn(&mut self) -> Result<&mut PgConn, DbError> {
        if self.conn.as_mut().is_some_and(|c| !c.is_open()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let client = (self.connect)().map_err(DbError::Connect)?;
            self.conn = Some(PgConn {
                client,
                statements: HashMap::new(),
                last_used: std::time::Instant::now(),
            });
        }
        self.conn
            .as_mut()
            .ok_or_else(|| DbError::Connect("no connection".into()))
    }

    /// Runs `f` on the connection; a connection that broke is dropped, to be made again on
    /// the next call.
    fn on_conn<T>(
        &mut self,
        f: impl FnOnce(&mut PgConn) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        let conn = self.conn()?;
        let out = f(conn);
        conn.last_used = std::time::Instant::now();
        if let Err(e) = &out
            && (e.is_closed() || conn.client.is_closed())
        {
            self.conn = None;
        }
        out.map_err(DbError::from)
    }
}

impl PgConn {
    /// Whether the server still holds the connection. The synchronous client reads from its
    /// socket only when used, so a close by the server (a restart, a failover) would show only
    /// as the failure of the next request: a connection idle for [`ASK_AFTER_IDLE`] is asked
    /// first (one empty query), and a dead one replaced before the request is sent.
    fn is_open(&mut self) -> bool {
        if self.client.is_closed() {
            return false;
        }
        self.last_used.elapsed() < ASK_AFTER_IDLE
            || self
                .client
                .is_valid(std::time::Duration::from_secs(2))
                .is_ok()
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(&numbered(sql))?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

fn params(args: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

impl Backend for PgBackend {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<usize, DbError> {
        self.on_conn(|c| {
            let s = c.statement(sql)?;
            let n = c.client.execute(&s, &params(args))?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>, DbError> {
        self.on_conn(|c| {
            let s = c.statement(sql)?;
            let rows = c.client.query(&s, &params(args))?;
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| value_at(r, i))
                        .collect::<Result<Vec<_>, _>>()
                        .map(Row)
                })
                .collect()
        })
    }

    fn begin(&mut self, commit: Commit) -> Result<(), DbError> {
        let sql = match commit {
            Commit::Durable => "BEGIN; SET LOCAL synchronous_commit = on",
            Commit::Lazy => "BEGIN",
        };
        self.on_conn(|c| c.client.batch_execute(sql))
    }

    fn commit(&mut self) -> Result<(), DbError> {
        self.on_conn(|c| c.client.batch_execute("COMMIT"))
    }

    fn execute_lazily(&mut self, sql: &str, args: &[Value]) -> Result<usize, DbError> {
        // Autocommit, at the session's `synchronous_commit = local`.
        self.execute(sql, args)
    }

    fn rollback(&mut self) {
        if let Some(c) = self.conn.as_mut()
            && !c.client.is_closed()
            && c.client.batch_execute("ROLLBACK").is_err()
        {
            self.conn = None;
        }
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        // Closing the synchronous client blocks on its own runtime, which tokio forbids on a
        // thread that drives async tasks (a server shutting down): close it on a thread of its
        // own.
        if let Some(conn) = self.conn.take() {
            std::thread::scope(|s| {
                s.spawn(move || drop(conn));
            });
        }
    }
}
