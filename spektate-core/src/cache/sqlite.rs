//! The answers cache in one SQLite file: WAL mode and a busy timeout, so processes that
//! read and write it at once wait for each other instead of failing; one row per answer,
//! keyed by kind, namespace and id; the oldest rows evicted beyond the bound. List pages with
//! their ETags ([`PageCache`]) live in a table of their own, bounded by their total size.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Answer, AnswerKey, AnswersCache, Fact, PageCache, StoredPage, Wanted};
use crate::error::{Error, Result};
use crate::store::sqlite::{is_busy, retry_busy};

/// The file's `application_id`: "SPKA".
const APPLICATION_ID: i64 = 0x5350_4B41;
/// The layout of the rows; a file of a newer version is not used, one of version 1 (answers
/// only) gains the pages table.
const VERSION: i64 = 2;
/// Bytes of pages kept when no bound is given (64 MiB).
pub const DEFAULT_PAGE_BYTES: u64 = 64 * 1024 * 1024;
/// The largest page kept when no bound is given (4 MiB); a larger one is fetched again.
pub const DEFAULT_LARGEST_PAGE: u64 = 4 * 1024 * 1024;
/// The pages table (version 2).
const PAGES_TABLE: &str = "CREATE TABLE IF NOT EXISTS pages (
    key TEXT NOT NULL UNIQUE, etag TEXT NOT NULL, body BLOB NOT NULL, next TEXT,
    bytes INTEGER NOT NULL, written INTEGER NOT NULL);
 CREATE INDEX IF NOT EXISTS pages_written ON pages (written);";
/// Answers kept when no bound is given.
pub const DEFAULT_CAPACITY: usize = 100_000;
/// The longest answer kept, in bytes of JSON; a longer one is asked again next time.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Answers kept in a SQLite file.
pub struct SqliteAnswers {
    path: PathBuf,
    conn: Mutex<Connection>,
    capacity: usize,
    page_bytes: u64,
    largest_page: u64,
}

impl std::fmt::Debug for SqliteAnswers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteAnswers")
            .field("path", &self.path)
            .field("capacity", &self.capacity)
            .field("page_bytes", &self.page_bytes)
            .finish()
    }
}

/// How long opening and writing wait for another process's lock.
const BUSY_WAIT: Duration = Duration::from_secs(10);

/// Why a file could not be made a cache.
enum Prepare {
    Sql(rusqlite::Error),
    Refused(String),
}

impl From<rusqlite::Error> for Prepare {
    fn from(e: rusqlite::Error) -> Self {
        Prepare::Sql(e)
    }
}

/// Makes the file behind `conn` a cache of this version: creates a new one, upgrades one of
/// version 1, refuses another application's file and a newer version.
fn prepare(conn: &mut Connection) -> std::result::Result<(), Prepare> {
    // One statement, so a process creating the cache at that moment is seen before or
    // after, never half.
    let (app, version, tables): (i64, i64, i64) = conn.query_row(
        "SELECT (SELECT application_id FROM pragma_application_id), \
                (SELECT user_version FROM pragma_user_version), \
                (SELECT count(*) FROM sqlite_master)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let new = app == 0 && version == 0 && tables == 0;
    if !new && app != APPLICATION_ID {
        return Err(Prepare::Refused(
            "is not a spektate answers cache; give another file".into(),
        ));
    }
    if !new && !(1..=VERSION).contains(&version) {
        return Err(Prepare::Refused(format!(
            "is of version {version}, this spektate reads version {VERSION}; delete it or give another file"
        )));
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    if version < VERSION {
        // Idempotent, so two processes creating or upgrading at once both succeed; dropped
        // without a commit on an error, the transaction is rolled back.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have made it while this one waited for the lock, perhaps a
        // newer spektate.
        let now: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if now > VERSION {
            return Err(Prepare::Refused(format!(
                "is of version {now}, this spektate reads version {VERSION}; delete it or give another file"
            )));
        }
        tx.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS answers (
                 kind TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL,
                 value TEXT NOT NULL, written INTEGER NOT NULL,
                 PRIMARY KEY (kind, ns, id)) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS answers_written ON answers (written);
             {PAGES_TABLE}
             PRAGMA application_id = {APPLICATION_ID};
             PRAGMA user_version = {VERSION};"
        ))?;
        tx.commit()?;
    }
    Ok(())
}

impl SqliteAnswers {
    /// Opens the cache at `path`, creating it (and its directory) when missing; a file of
    /// version 1 gains the pages table. A file that is not a SQLite database, is another
    /// application's, or is of a newer version is an error naming it, and is left as it is.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let err = |e: &dyn std::fmt::Display| {
            Error::store(format!("answers cache {}", path.display()), "open", e)
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        }
        let mut conn = Connection::open(&path).map_err(|e| err(&e))?;
        conn.busy_timeout(BUSY_WAIT).map_err(|e| err(&e))?;
        retry_busy(
            BUSY_WAIT,
            || prepare(&mut conn),
            |e| matches!(e, Prepare::Sql(e) if is_busy(e)),
        )
        .map_err(|e| match e {
            Prepare::Sql(e) => err(&e),
            Prepare::Refused(why) => err(&why),
        })?;
        // A cache: a commit lost to a power cut is fetched again, so no sync per commit.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| err(&e))?;
        Ok(SqliteAnswers {
            path,
            conn: Mutex::new(conn),
            capacity: DEFAULT_CAPACITY,
            page_bytes: DEFAULT_PAGE_BYTES,
            largest_page: DEFAULT_LARGEST_PAGE,
        })
    }

    /// Keeps at most `n` answers (at least 1).
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = n.max(1);
        self
    }

    /// Keeps at most `total` bytes of pages (bodies, ETags and next URLs), none larger than
    /// `largest`; the oldest pages are evicted first.
    pub fn page_bytes(mut self, total: u64, largest: u64) -> Self {
        self.page_bytes = total;
        self.largest_page = largest.min(total);
        self
    }

    /// How many pages the file holds, and their bytes.
    pub fn pages_held(&self) -> Result<(usize, u64)> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.query_row(
            "SELECT count(*), coalesce(sum(bytes), 0) FROM pages",
            [],
            |r| Ok((r.get::<_, i64>(0)? as usize, r.get::<_, i64>(1)? as u64)),
        )
        .map_err(|e| self.err("count pages", &e))
    }

    /// How many answers the file holds.
    pub fn len(&self) -> Result<usize> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.query_row("SELECT count(*) FROM answers", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(|e| self.err("count", &e))
    }

    /// Whether the file holds no answer.
    pub fn is_empty(&self) -> Result<bool> {
        self.len().map(|n| n == 0)
    }

    fn err(&self, op: &str, e: &dyn std::fmt::Display) -> Error {
        Error::store(format!("answers cache {}", self.path.display()), op, e)
    }
}

/// The kinds kept for each side of [`Wanted`].
const RUN_KINDS: [&str; 3] = ["build", "release", "stages"];
const REPO_KINDS: [&str; 2] = ["author", "pullRequest"];

/// The bytes a page takes in the bound.
fn page_size(page: &StoredPage) -> u64 {
    (page.body.len() + page.etag.len() + page.next.as_ref().map_or(0, String::len)) as u64
}

impl AnswersCache for SqliteAnswers {
    fn describe(&self) -> String {
        format!("answers cache {}", self.path.display())
    }

    fn load(&self, wanted: &Wanted) -> Result<Vec<Answer>> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, value FROM answers WHERE kind = ?1 AND ns = ?2
                 ORDER BY written DESC LIMIT ?3",
            )
            .map_err(|e| self.err("load", &e))?;
        let mut out = Vec::new();
        let sides = [
            (&RUN_KINDS[..], &wanted.providers),
            (&REPO_KINDS[..], &wanted.repositories),
        ];
        for (kinds, namespaces) in sides {
            for ns in namespaces {
                for kind in kinds {
                    let room = self.capacity.saturating_sub(out.len()) as i64;
                    let rows = stmt
                        .query_map(params![kind, ns, room], |r| {
                            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                        })
                        .map_err(|e| self.err("load", &e))?;
                    for row in rows {
                        let (id, value) = row.map_err(|e| self.err("load", &e))?;
                        // A row this version cannot read is skipped: it is asked again.
                        let Ok(fact) = serde_json::from_str::<Fact>(&value) else {
                            continue;
                        };
                        if fact.kind() == *kind {
                            out.push(Answer {
                                namespace: ns.clone(),
                                id,
                                fact,
                            });
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    fn save(&self, answers: &[Answer]) -> Result<()> {
        if answers.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err("save", &e))?;
        let last: Option<i64> = tx
            .query_row("SELECT max(written) FROM answers", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.err("save", &e))?
            .flatten();
        let mut written = last.unwrap_or(0);
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO answers (kind, ns, id, value, written)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(|e| self.err("save", &e))?;
            for a in answers {
                let value = serde_json::to_string(&a.fact).map_err(|e| self.err("save", &e))?;
                if value.len() > MAX_ANSWER_BYTES {
                    continue;
                }
                written += 1;
                put.execute(params![a.fact.kind(), a.namespace, a.id, value, written])
                    .map_err(|e| self.err("save", &e))?;
            }
        }
        let count: i64 = tx
            .query_row("SELECT count(*) FROM answers", [], |r| r.get(0))
            .map_err(|e| self.err("save", &e))?;
        let excess = count - self.capacity as i64;
        if excess > 0 {
            tx.execute(
                "DELETE FROM answers WHERE (kind, ns, id) IN
                 (SELECT kind, ns, id FROM answers ORDER BY written ASC LIMIT ?1)",
                params![excess],
            )
            .map_err(|e| self.err("evict", &e))?;
        }
        tx.commit().map_err(|e| self.err("save", &e))
    }

    fn find(&self, keys: &[AnswerKey]) -> Result<Vec<Answer>> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn
            .prepare_cached("SELECT value FROM answers WHERE kind = ?1 AND ns = ?2 AND id = ?3")
            .map_err(|e| self.err("find", &e))?;
        let mut out = Vec::new();
        for k in keys {
            let value: Option<String> = stmt
                .query_row(params![k.kind, k.namespace, k.id], |r| r.get(0))
                .optional()
                .map_err(|e| self.err("find", &e))?;
            // A row this version cannot read is left out: it is asked again.
            let Some(fact) = value.and_then(|v| serde_json::from_str::<Fact>(&v).ok()) else {
                continue;
            };
            if fact.kind() == k.kind {
                out.push(Answer {
                    namespace: k.namespace.clone(),
                    id: k.id.clone(),
                    fact,
                });
            }
        }
        Ok(out)
    }

    fn pages(&self) -> Option<&dyn PageCache> {
        Some(self)
    }
}

impl PageCache for SqliteAnswers {
    fn page(&self, key: &str) -> Result<Option<StoredPage>> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.prepare_cached("SELECT etag, body, next FROM pages WHERE key = ?1")
            .and_then(|mut stmt| {
                stmt.query_row(params![key], |r| {
                    Ok(StoredPage {
                        etag: r.get(0)?,
                        body: r.get(1)?,
                        next: r.get(2)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.err("read page", &e))
    }

    fn put_page(&self, key: &str, page: &StoredPage) -> Result<()> {
        let size = page_size(page);
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| self.err("keep page", &e))?;
        if size > self.largest_page {
            tx.execute("DELETE FROM pages WHERE key = ?1", params![key])
                .map_err(|e| self.err("keep page", &e))?;
            return tx.commit().map_err(|e| self.err("keep page", &e));
        }
        let written: i64 = tx
            .query_row("SELECT coalesce(max(written), 0) + 1 FROM pages", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err("keep page", &e))?;
        tx.execute(
            "INSERT OR REPLACE INTO pages (key, etag, body, next, bytes, written)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![key, page.etag, page.body, page.next, size as i64, written],
        )
        .map_err(|e| self.err("keep page", &e))?;
        let total: i64 = tx
            .query_row("SELECT coalesce(sum(bytes), 0) FROM pages", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err("keep page", &e))?;
        let mut excess = total - self.page_bytes as i64;
        if excess > 0 {
            let oldest: Vec<(i64, i64)> = {
                let mut stmt = tx
                    .prepare("SELECT rowid, bytes FROM pages ORDER BY written ASC")
                    .map_err(|e| self.err("evict pages", &e))?;
                let rows = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(|e| self.err("evict pages", &e))?;
                let mut out = Vec::new();
                for row in rows {
                    let (rowid, bytes): (i64, i64) =
                        row.map_err(|e| self.err("evict pages", &e))?;
                    out.push((rowid, bytes));
                    excess -= bytes;
                    if excess <= 0 {
                        break;
                    }
                }
                out
            };
            for (rowid, _) in oldest {
                tx.execute("DELETE FROM pages WHERE rowid = ?1", params![rowid])
                    .map_err(|e| self.err("evict pages", &e))?;
            }
        }
        tx.commit().map_err(|e| self.err("keep page", &e))
    }

    fn remove_page(&self, key: &str) -> Result<()> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.execute("DELETE FROM pages WHERE key = ?1", params![key])
            .map(|_| ())
            .map_err(|e| self.err("drop page", &e))
    }
}
