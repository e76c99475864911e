//! The probe history on disk (SQLite), so a restarted watcher keeps its windows: bucket counts,
//! not raw probes, upserted every few seconds in one transaction. A target whose thresholds
//! changed starts afresh (its old counts were judged by other rules).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use crate::HealthError;
use crate::window::Bucket;
use uca_pki::Color;

/// The layout of the tables below; bumped when it changes.
const SCHEMA_VERSION: i64 = 2;

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Which ring of a history a stored bucket belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingId {
    Fine = 0,
    Coarse = 1,
}

/// What is stored for one endpoint.
pub struct Saved {
    /// (ring, width, bucket); a bucket whose width no longer matches its ring is dropped.
    pub buckets: Vec<(RingId, i64, Bucket)>,
    pub color: Option<(Color, i64)>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, HealthError> {
        let err = |e: rusqlite::Error| HealthError::Store {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let conn = Connection::open(path).map_err(err)?;
        // The store holds history only: a file from another layout version starts afresh.
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version != SCHEMA_VERSION {
            conn.execute_batch("DROP TABLE IF EXISTS buckets; DROP TABLE IF EXISTS endpoints;")
                .map_err(err)?;
        }
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS endpoints(
                 name TEXT PRIMARY KEY,
                 fingerprint TEXT NOT NULL,
                 color TEXT,
                 color_since_ms INTEGER);
             CREATE TABLE IF NOT EXISTS buckets(
                 name TEXT NOT NULL,
                 ring INTEGER NOT NULL,
                 width_ms INTEGER NOT NULL,
                 start_ms INTEGER NOT NULL,
                 total INTEGER NOT NULL,
                 good_ok INTEGER NOT NULL,
                 good_warn INTEGER NOT NULL,
                 success INTEGER NOT NULL,
                 latency_ms_sum REAL NOT NULL,
                 PRIMARY KEY(name, ring, start_ms)) WITHOUT ROWID;",
        )
        .map_err(err)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(err)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, e: rusqlite::Error) -> HealthError {
        HealthError::Store {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Loads an endpoint's history newer than `since_ms`, if it was kept under the same rules;
    /// otherwise forgets it and records the new rules.
    pub fn load(
        &mut self,
        name: &str,
        fingerprint: &str,
        since_ms: i64,
    ) -> Result<Saved, HealthError> {
        let stored: Option<(String, Option<String>, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT fingerprint, color, color_since_ms FROM endpoints WHERE name = ?1",
                params![name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(|e| self.err(e))?;
        if stored.as_ref().is_none_or(|s| s.0 != fingerprint) {
            let tx = self.conn.transaction().map_err(|e| HealthError::Store {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
            tx.execute("DELETE FROM buckets WHERE name = ?1", params![name])
                .and_then(|_| {
                    tx.execute(
                        "INSERT OR REPLACE INTO endpoints(name, fingerprint) VALUES (?1, ?2)",
                        params![name, fingerprint],
                    )
                })
                .and_then(|_| tx.commit())
                .map_err(|e| HealthError::Store {
                    path: self.path.clone(),
                    message: e.to_string(),
                })?;
            return Ok(Saved {
                buckets: Vec::new(),
                color: None,
            });
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT ring, width_ms, start_ms, total, good_ok, good_warn, success, latency_ms_sum
                 FROM buckets WHERE name = ?1 AND start_ms >= ?2 ORDER BY start_ms",
            )
            .map_err(|e| self.err(e))?;
        let buckets = stmt
            .query_map(params![name, since_ms], |r| {
                Ok((
                    if r.get::<_, i64>(0)? == 0 {
                        RingId::Fine
                    } else {
                        RingId::Coarse
                    },
                    r.get::<_, i64>(1)?,
                    Bucket {
                        start_ms: r.get(2)?,
                        total: r.get(3)?,
                        good_ok: r.get(4)?,
                        good_warn: r.get(5)?,
                        success: r.get(6)?,
                        latency_ms_sum: r.get(7)?,
                    },
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| HealthError::Store {
                path: self.path.clone(),
                message: e.to_string(),
            })?;
        let color = stored.and_then(|s| Some((Color::parse(s.1.as_deref()?)?, s.2.unwrap_or(0))));
        Ok(Saved { buckets, color })
    }

    /// Writes buckets (absolute counts) and colors in one transaction; drops history older
    /// than `keep_since_ms`.
    pub fn save(
        &mut self,
        buckets: &[(&str, RingId, i64, Bucket)],
        colors: &[(&str, Color, i64)],
        keep_since_ms: i64,
    ) -> Result<(), HealthError> {
        let path = self.path.clone();
        let err = move |e: rusqlite::Error| HealthError::Store {
            path: path.clone(),
            message: e.to_string(),
        };
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO buckets(name, ring, width_ms, start_ms, total, good_ok,
                     good_warn, success, latency_ms_sum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(&err)?;
            for (name, ring, width, b) in buckets {
                put.execute(params![
                    name,
                    *ring as i64,
                    width,
                    b.start_ms,
                    b.total,
                    b.good_ok,
                    b.good_warn,
                    b.success,
                    b.latency_ms_sum
                ])
                .map_err(&err)?;
            }
            let mut col = tx
                .prepare_cached(
                    "UPDATE endpoints SET color = ?2, color_since_ms = ?3 WHERE name = ?1",
                )
                .map_err(&err)?;
            for (name, color, since) in colors {
                col.execute(params![name, color.as_str(), since])
                    .map_err(&err)?;
            }
            tx.execute(
                "DELETE FROM buckets WHERE start_ms < ?1",
                params![keep_since_ms],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::{History, Rules, Sample};

    /// A 60-minute window has one-minute fine buckets, as wide as the coarse ones: both rings
    /// must still come back whole.
    #[test]
    fn rings_of_equal_width_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        let rules = Rules {
            ok: "99% within 300ms".parse().unwrap(),
            warn: "95% within 1s".parse().unwrap(),
            window_ms: 3_600_000,
            interval_ms: 1000,
            min_samples: 10,
            horizon_ms: 3_600_000,
        };
        let mut h = History::new(rules);
        assert_eq!(h.fine.width_ms, h.coarse.width_ms);
        for i in 0..600 {
            h.record(
                &Sample {
                    at_ms: i * 1000,
                    success: true,
                    latency_ms: 5.0,
                },
                None,
            );
        }
        let mut store = Store::open(&path).unwrap();
        store.load("a", "fp", 0).unwrap();
        let mut rows = Vec::new();
        for b in h.fine.buckets() {
            rows.push(("a", RingId::Fine, h.fine.width_ms, *b));
        }
        for b in h.coarse.buckets() {
            rows.push(("a", RingId::Coarse, h.coarse.width_ms, *b));
        }
        store.save(&rows, &[], 0).unwrap();
        drop(store);
        let mut store = Store::open(&path).unwrap();
        let saved = store.load("a", "fp", 0).unwrap();
        let mut back = History::new(rules);
        for (ring, width, b) in &saved.buckets {
            back.restore(*ring == RingId::Fine, *width, b);
        }
        assert_eq!(back.fine.since(0).total, 600);
        assert_eq!(back.coarse.since(0).total, 600);
    }
}
