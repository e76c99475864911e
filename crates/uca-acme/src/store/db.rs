//! The little the store needs from a SQL database, so its queries are written once for
//! SQLite (one server) and PostgreSQL (replicas): run a statement, read rows of plain values,
//! and bracket a transaction with a durability.
//!
//! Statements are written with SQLite's numbered parameters (`?1`); the PostgreSQL side turns
//! them into `$1`. Values are integers, text and bytes (booleans travel as 0/1).

use super::{Commit, StoreError};

/// One SQL value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::Text(s.clone())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Int(i64::from(b))
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Value {
        Value::Blob(b.to_vec())
    }
}

impl From<&Vec<u8>> for Value {
    fn from(b: &Vec<u8>) -> Value {
        Value::Blob(b.clone())
    }
}

impl<T: Into<Value> + Clone> From<&Option<T>> for Value {
    fn from(v: &Option<T>) -> Value {
        v.clone().map_or(Value::Null, Into::into)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// The arguments of one statement.
macro_rules! args {
    ($($v:expr),* $(,)?) => {
        &[$($crate::store::db::Value::from($v)),*][..]
    };
}
pub(crate) use args;

/// One row, by column position.
#[derive(Debug)]
pub(crate) struct Row(pub Vec<Value>);

fn bad(column: &'static str, v: &Value) -> StoreError {
    StoreError::BadValue {
        column,
        value: format!("{v:?}"),
    }
}

impl Row {
    fn at(&self, i: usize) -> &Value {
        self.0.get(i).unwrap_or(&Value::Null)
    }

    pub fn text(&self, i: usize, column: &'static str) -> Result<String, StoreError> {
        match self.at(i) {
            Value::Text(s) => Ok(s.clone()),
            v => Err(bad(column, v)),
        }
    }

    pub fn opt_text(&self, i: usize, column: &'static str) -> Result<Option<String>, StoreError> {
        match self.at(i) {
            Value::Null => Ok(None),
            _ => self.text(i, column).map(Some),
        }
    }

    pub fn int(&self, i: usize, column: &'static str) -> Result<i64, StoreError> {
        match self.at(i) {
            Value::Int(n) => Ok(*n),
            v => Err(bad(column, v)),
        }
    }

    pub fn opt_int(&self, i: usize, column: &'static str) -> Result<Option<i64>, StoreError> {
        match self.at(i) {
            Value::Null => Ok(None),
            _ => self.int(i, column).map(Some),
        }
    }

    pub fn blob(&self, i: usize, column: &'static str) -> Result<Vec<u8>, StoreError> {
        match self.at(i) {
            Value::Blob(b) => Ok(b.clone()),
            v => Err(bad(column, v)),
        }
    }
}

/// A database error from either engine.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("PostgreSQL: cannot connect: {0}")]
    Connect(String),
}

/// The server's own message when there is one ("db error" alone says nothing).
fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl DbError {
    /// A UNIQUE or PRIMARY KEY constraint refused the row.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.code == rusqlite::ErrorCode::ConstraintViolation
            }
            DbError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

/// Which engine: the few statements that differ ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
}

/// A connection the store runs its statements on.
pub(crate) trait Backend: Send {
    fn engine(&self) -> Engine;
    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<usize, DbError>;
    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>, DbError>;
    fn begin(&mut self, commit: Commit) -> Result<(), DbError>;
    /// One statement as a transaction of its own, committed lazily: a single round trip where
    /// the engine allows it.
    fn execute_lazily(&mut self, sql: &str, args: &[Value]) -> Result<usize, DbError>;
    fn commit(&mut self) -> Result<(), DbError>;
    /// Abandons the open transaction (best effort: a broken connection has none left).
    fn rollback(&mut self);
    /// Opens a read transaction: the statements until [`Backend::end_read`] see one snapshot,
    /// and take the database's locks once. No-op where each statement is a round trip anyway.
    fn begin_read(&mut self) -> Result<(), DbError> {
        Ok(())
    }
    fn end_read(&mut self) {}
    /// The write-ahead log's watch, for an embedded database.
    fn log_watch(&self) -> Option<super::sqlite::LogWatch> {
        None
    }
    /// The database file, for an embedded database on disk.
    fn file(&self) -> Option<std::path::PathBuf> {
        None
    }
}
