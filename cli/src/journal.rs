//! The upload journal of `cfimg upload --resume`: one SQLite row per input, in
//! the data directory, so a migration interrupted by a crash, Ctrl-C or
//! `kill -9` continues where it stopped and a finished one uploads nothing.
//!
//! `<data dir>/journal.db`, WAL mode, `busy_timeout` 30 s. Rows are keyed by the
//! target (the account and API, or `local` for the embedded emulator) and the
//! input's key (the custom id it is uploaded as). Every change is its own short
//! transaction, committed as soon as the API acknowledged the upload, so several
//! `cfimg` processes can share one journal: SQLite serialises their writes and
//! none of them holds a lock while uploading. `synchronous=NORMAL`: a commit
//! survives the process being killed (the WAL is written before it returns); an
//! OS crash may lose the last few, which the custom ids recover (a repeat is
//! answered "already exists" and recognised).
//!
//! `cfimg export` and `cfimg import` keep their state in the same file, in the
//! tables `exports` and `imports` ([`Journal::open_transfers`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{CliError, CliResult};

/// The journal's file name in the data directory.
pub const FILE_NAME: &str = "journal.db";

/// The journal's path in the data directory the environment names
/// ([`backend::data_dir`](crate::backend::data_dir)), the directory created if
/// need be: every command that keeps state opens it there.
pub fn path_in_data_dir() -> CliResult<PathBuf> {
    let dir = crate::backend::data_dir(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))?;
    std::fs::create_dir_all(&dir).map_err(|e| {
        CliError::new(format!(
            "cannot create the data directory {}: {e}",
            dir.display()
        ))
    })?;
    Ok(dir.join(FILE_NAME))
}

/// Where an input stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not sent yet.
    Pending,
    /// Sent, no answer recorded (the process may have died meanwhile).
    Sending,
    /// Stored: the API acknowledged it, or it was found under its id.
    Done,
    /// The last attempt failed.
    Failed,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sending => "sending",
            State::Done => "done",
            State::Failed => "failed",
        }
    }

    fn parse(text: &str) -> State {
        match text {
            "sending" => State::Sending,
            "done" => State::Done,
            "failed" => State::Failed,
            _ => State::Pending,
        }
    }
}

/// A row of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where the input stands.
    pub state: State,
    /// The stored image's id, once done.
    pub image_id: Option<String>,
}

/// An open journal, shared by the uploads of one process.
pub struct Journal {
    conn: Mutex<Connection>,
    target: String,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("target", &self.target)
            .finish()
    }
}

fn db_error(path: &Path) -> impl Fn(rusqlite::Error) -> CliError + '_ {
    move |e| CliError::new(format!("upload journal {}: {e}", path.display()))
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS uploads (
    target     TEXT NOT NULL,
    key        TEXT NOT NULL,
    source     TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'done', 'failed')),
    image_id   TEXT,
    bytes      INTEGER NOT NULL DEFAULT 0,
    sends      INTEGER NOT NULL DEFAULT 0,
    found      INTEGER NOT NULL DEFAULT 0,
    error      TEXT,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (target, key)
);
CREATE TABLE IF NOT EXISTS deletions (
    target     TEXT NOT NULL,
    job        TEXT NOT NULL,
    id         TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'done', 'failed')),
    error      TEXT,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (target, job, id)
);";

impl Journal {
    /// Opens (creating it if needed) the journal at `path` for `target`.
    pub fn open(path: &Path, target: &str) -> CliResult<Journal> {
        let err = db_error(path);
        let conn = Connection::open(path).map_err(&err)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(&err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(&err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(CliError::new(format!(
                "upload journal {}: cannot use WAL mode (got {mode})",
                path.display()
            )));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(&err)?;
        conn.execute_batch(SCHEMA).map_err(&err)?;
        Ok(Journal {
            conn: Mutex::new(conn),
            target: target.to_string(),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> CliResult<T> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| CliError::new("upload journal: poisoned lock"))?;
        f(&mut conn).map_err(|e| CliError::new(format!("upload journal: {e}")))
    }

    /// Records every input (`(key, source)`) not yet in the journal as pending,
    /// in one transaction, and returns the rows of all of them.
    pub fn register(&self, inputs: &[(String, String)]) -> CliResult<HashMap<String, Entry>> {
        self.register_pending(
            "INSERT OR IGNORE INTO uploads (target, key, source, state) VALUES (?1, ?2, ?3, 'pending')",
            "SELECT state, image_id FROM uploads WHERE target = ?1 AND key = ?2",
            inputs
                .iter()
                .map(|(key, source)| (key, (&self.target, key, source), (&self.target, key))),
        )
    }

    /// How a run claims its inputs, for every table of items (uploads, imports):
    /// each item is inserted as pending unless it is there, then its state and image
    /// id are read back, all in one immediate transaction, so that two processes
    /// registering the same items see one row each. Returns the rows by key.
    fn register_pending<'k, I, P, Q>(
        &self,
        insert: &str,
        select: &str,
        items: I,
    ) -> CliResult<HashMap<String, Entry>>
    where
        I: ExactSizeIterator<Item = (&'k String, P, Q)>,
        P: rusqlite::Params,
        Q: rusqlite::Params,
    {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut rows = HashMap::with_capacity(items.len());
            {
                let mut insert = tx.prepare_cached(insert)?;
                let mut select = tx.prepare_cached(select)?;
                for (key, insert_params, select_params) in items {
                    insert.execute(insert_params)?;
                    let entry = select
                        .query_row(select_params, |r| {
                            Ok(Entry {
                                state: State::parse(&r.get::<_, String>(0)?),
                                image_id: r.get(1)?,
                            })
                        })
                        .optional()?;
                    if let Some(entry) = entry {
                        rows.insert(key.clone(), entry);
                    }
                }
            }
            tx.commit()?;
            Ok(rows)
        })
    }

    /// Marks an input as sent (before its request goes out); counts the send.
    pub fn sending(&self, key: &str) -> CliResult<()> {
        self.set(key, State::Sending, None, None, None, false)
    }

    /// Marks an input as stored, as `image_id`; `found` when it was recognised
    /// under its id rather than acknowledged as a new upload.
    pub fn done(&self, key: &str, image_id: &str, bytes: u64, found: bool) -> CliResult<()> {
        self.set(key, State::Done, Some(image_id), Some(bytes), None, found)
    }

    /// Marks an input as failed, with the reason.
    pub fn failed(&self, key: &str, error: &str) -> CliResult<()> {
        self.set(key, State::Failed, None, None, Some(error), false)
    }

    fn set(
        &self,
        key: &str,
        state: State,
        image_id: Option<&str>,
        bytes: Option<u64>,
        error: Option<&str>,
        found: bool,
    ) -> CliResult<()> {
        self.with(|conn| {
            conn.prepare_cached(
                "UPDATE uploads SET state = ?3,
                    image_id = COALESCE(?4, image_id),
                    bytes = COALESCE(?5, bytes),
                    error = ?6,
                    found = found OR ?7,
                    sends = sends + (?3 = 'sending'),
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE target = ?1 AND key = ?2",
            )?
            .execute(params![
                self.target,
                key,
                state.as_str(),
                image_id,
                bytes.map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
                error,
                found
            ])?;
            Ok(())
        })
    }
}

/// The tables of `cfimg export` and `cfimg import`, beside `uploads` in the same
/// file. Rows are keyed by the target, the export folder (canonical path) and the
/// image id in the source account.
const TRANSFER_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS exports (
    target       TEXT NOT NULL,
    dir          TEXT NOT NULL,
    id           TEXT NOT NULL,
    filename     TEXT,
    metadata     TEXT NOT NULL DEFAULT '{}',
    creator      TEXT,
    signed       INTEGER NOT NULL DEFAULT 0,
    uploaded     TEXT,
    path         TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
    sha256       TEXT,
    bytes        INTEGER NOT NULL DEFAULT 0,
    content_type TEXT,
    run          TEXT NOT NULL,
    error        TEXT,
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (target, dir, id)
);
CREATE TABLE IF NOT EXISTS imports (
    target     TEXT NOT NULL,
    dir        TEXT NOT NULL,
    old_id     TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'done', 'failed')),
    new_id     TEXT,
    sends      INTEGER NOT NULL DEFAULT 0,
    found      INTEGER NOT NULL DEFAULT 0,
    error      TEXT,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (target, dir, old_id)
);";

/// An image of an export as the journal knows it: what the listing said and,
/// once its original is in the folder, what was received.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportRow {
    /// The image id in the account exported.
    pub id: String,
    /// Its file name, if it has one.
    pub filename: Option<String>,
    /// Its metadata as JSON text (`{}` when none).
    pub metadata: String,
    /// Its creator, if set.
    pub creator: Option<String>,
    /// Whether it is served only through signed URLs.
    pub signed: bool,
    /// When it was uploaded (RFC 3339), the version of its bytes.
    pub uploaded: Option<String>,
    /// Where its original goes, relative to the folder, `/`-separated.
    pub path: String,
    /// `true` once the original was received whole and renamed into place.
    pub done: bool,
    /// The SHA-256 (hex) of the bytes received, once done.
    pub sha256: Option<String>,
    /// How many bytes were received, once done.
    pub bytes: u64,
    /// The `Content-Type` the blob came with.
    pub content_type: Option<String>,
}

fn export_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ExportRow> {
    Ok(ExportRow {
        id: r.get(0)?,
        filename: r.get(1)?,
        metadata: r.get(2)?,
        creator: r.get(3)?,
        signed: r.get(4)?,
        uploaded: r.get(5)?,
        path: r.get(6)?,
        done: r.get::<_, String>(7)? == "done",
        sha256: r.get(8)?,
        bytes: u64::try_from(r.get::<_, i64>(9)?).unwrap_or(0),
        content_type: r.get(10)?,
    })
}

const EXPORT_COLUMNS: &str =
    "id, filename, metadata, creator, signed, uploaded, path, state, sha256, bytes, content_type";

impl Journal {
    /// [`open`](Self::open), with the tables of `export` and `import` created
    /// if needed.
    pub fn open_transfers(path: &Path, target: &str) -> CliResult<Journal> {
        let journal = Self::open(path, target)?;
        journal.with(|conn| conn.execute_batch(TRANSFER_SCHEMA))?;
        Ok(journal)
    }

    /// Records the images a listing of run `run` found for the export into
    /// `dir`, in one transaction. A known image keeps its received original
    /// unless its upload time or path changed: the bytes behind an id change
    /// only by deleting the image and uploading again, which gives it a new
    /// upload time.
    pub fn export_listed(&self, dir: &str, run: &str, rows: &[ExportRow]) -> CliResult<()> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT INTO exports (target, dir, id, filename, metadata, creator, signed,
                        uploaded, path, state, run)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10)
                     ON CONFLICT (target, dir, id) DO UPDATE SET
                        state = CASE WHEN exports.uploaded IS excluded.uploaded
                                      AND exports.path = excluded.path
                                     THEN exports.state ELSE 'pending' END,
                        sha256 = CASE WHEN exports.uploaded IS excluded.uploaded
                                       AND exports.path = excluded.path
                                      THEN exports.sha256 ELSE NULL END,
                        filename = excluded.filename,
                        metadata = excluded.metadata,
                        creator = excluded.creator,
                        signed = excluded.signed,
                        uploaded = excluded.uploaded,
                        path = excluded.path,
                        run = excluded.run,
                        updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                )?;
                for row in rows {
                    upsert.execute(params![
                        self.target,
                        dir,
                        row.id,
                        row.filename,
                        row.metadata,
                        row.creator,
                        row.signed,
                        row.uploaded,
                        row.path,
                        run
                    ])?;
                }
            }
            tx.commit()
        })
    }

    /// Whether the journal holds any row of the export into `dir`.
    pub fn export_known(&self, dir: &str) -> CliResult<bool> {
        self.with(|conn| {
            conn.prepare_cached("SELECT 1 FROM exports WHERE target = ?1 AND dir = ?2 LIMIT 1")?
                .exists(params![self.target, dir])
        })
    }

    /// Records images as already exported, from a manifest found in `dir` (a
    /// folder exported with another data directory, or before the journal was
    /// lost), unless the journal knows them. The files are still hashed before
    /// they are trusted.
    pub fn export_seed(&self, dir: &str, rows: &[ExportRow]) -> CliResult<()> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO exports (target, dir, id, filename, metadata, creator,
                        signed, uploaded, path, state, sha256, bytes, content_type, run)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'done', ?10, ?11, ?12, 'manifest')",
                )?;
                for row in rows {
                    insert.execute(params![
                        self.target,
                        dir,
                        row.id,
                        row.filename,
                        row.metadata,
                        row.creator,
                        row.signed,
                        row.uploaded,
                        row.path,
                        row.sha256,
                        i64::try_from(row.bytes).unwrap_or(i64::MAX),
                        row.content_type
                    ])?;
                }
            }
            tx.commit()
        })
    }

    /// Up to `limit` images of run `run` of the export into `dir` whose ids
    /// sort after `after`, in id order: the export walks its rows in slices so
    /// that a library of any size is never held in memory.
    pub fn export_rows(
        &self,
        dir: &str,
        run: &str,
        after: &str,
        limit: usize,
    ) -> CliResult<Vec<ExportRow>> {
        self.with(|conn| {
            let mut select = conn.prepare_cached(&format!(
                "SELECT {EXPORT_COLUMNS} FROM exports
                 WHERE target = ?1 AND dir = ?2 AND run = ?3 AND id > ?4
                 ORDER BY id LIMIT ?5"
            ))?;
            let rows = select.query_map(
                params![
                    self.target,
                    dir,
                    run,
                    after,
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                export_row,
            )?;
            rows.collect()
        })
    }

    /// Marks an image's original as received whole and in place.
    pub fn export_done(
        &self,
        dir: &str,
        id: &str,
        sha256: &str,
        bytes: u64,
        content_type: Option<&str>,
    ) -> CliResult<()> {
        self.with(|conn| {
            conn.prepare_cached(
                "UPDATE exports SET state = 'done', sha256 = ?4, bytes = ?5,
                    content_type = COALESCE(?6, content_type), error = NULL,
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE target = ?1 AND dir = ?2 AND id = ?3",
            )?
            .execute(params![
                self.target,
                dir,
                id,
                sha256,
                i64::try_from(bytes).unwrap_or(i64::MAX),
                content_type
            ])?;
            Ok(())
        })
    }

    /// Marks an image's original as not received, with the reason.
    pub fn export_failed(&self, dir: &str, id: &str, error: &str) -> CliResult<()> {
        self.with(|conn| {
            conn.prepare_cached(
                "UPDATE exports SET state = 'failed', sha256 = NULL, error = ?4,
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE target = ?1 AND dir = ?2 AND id = ?3",
            )?
            .execute(params![self.target, dir, id, error])?;
            Ok(())
        })
    }

    /// Records the images of a slice of an import from `dir` not yet in the
    /// journal as pending, and returns the rows of all of them (keyed by their
    /// id in the export).
    pub fn import_register(&self, dir: &str, ids: &[String]) -> CliResult<HashMap<String, Entry>> {
        self.register_pending(
            "INSERT OR IGNORE INTO imports (target, dir, old_id, state) VALUES (?1, ?2, ?3, 'pending')",
            "SELECT state, new_id FROM imports WHERE target = ?1 AND dir = ?2 AND old_id = ?3",
            ids.iter()
                .map(|id| (id, (&self.target, dir, id), (&self.target, dir, id))),
        )
    }

    /// Marks an import as sent, under `new_id` (the id the image will have),
    /// before its bytes go out; counts the send.
    pub fn import_sending(&self, dir: &str, old_id: &str, new_id: &str) -> CliResult<()> {
        self.import_set(dir, old_id, State::Sending, Some(new_id), None, false)
    }

    /// Marks an import as stored under `new_id`; `found` when an earlier run
    /// had stored it.
    pub fn import_done(&self, dir: &str, old_id: &str, new_id: &str, found: bool) -> CliResult<()> {
        self.import_set(dir, old_id, State::Done, Some(new_id), None, found)
    }

    /// Marks an import as failed, with the reason (the id it was being stored
    /// under, if any, is kept: a rerun checks it first).
    pub fn import_failed(&self, dir: &str, old_id: &str, error: &str) -> CliResult<()> {
        self.import_set(dir, old_id, State::Failed, None, Some(error), false)
    }

    fn import_set(
        &self,
        dir: &str,
        old_id: &str,
        state: State,
        new_id: Option<&str>,
        error: Option<&str>,
        found: bool,
    ) -> CliResult<()> {
        self.with(|conn| {
            conn.prepare_cached(
                "UPDATE imports SET state = ?4,
                    new_id = COALESCE(?5, new_id),
                    error = ?6,
                    found = found OR ?7,
                    sends = sends + (?4 = 'sending'),
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE target = ?1 AND dir = ?2 AND old_id = ?3",
            )?
            .execute(params![
                self.target,
                dir,
                old_id,
                state.as_str(),
                new_id,
                error,
                found
            ])?;
            Ok(())
        })
    }

    /// Calls `each(old id, new id)` for every image of the import from `dir`
    /// stored under an id other than its own, in old-id order.
    pub fn import_mapping(
        &self,
        dir: &str,
        mut each: impl FnMut(&str, &str) -> std::io::Result<()>,
    ) -> CliResult<()> {
        let mut failure = None;
        self.with(|conn| {
            let mut select = conn.prepare_cached(
                "SELECT old_id, new_id FROM imports
                 WHERE target = ?1 AND dir = ?2 AND state = 'done' AND new_id IS NOT NULL
                   AND new_id <> old_id
                 ORDER BY old_id",
            )?;
            let mut rows = select.query(params![self.target, dir])?;
            while let Some(row) = rows.next()? {
                let (old, new): (String, String) = (row.get(0)?, row.get(1)?);
                if let Err(e) = each(&old, &new) {
                    failure = Some(e);
                    break;
                }
            }
            Ok(())
        })?;
        match failure {
            Some(e) => Err(CliError::new(format!("cannot write the id mapping: {e}"))),
            None => Ok(()),
        }
    }
}

/// The bulk deletions of `cfimg delete`: one row per image of a confirmed plan,
/// keyed by the job (a hash of the command's selection), so a rerun of the same
/// command after a kill skips what was deleted and a later, finished-then-repeated
/// command starts afresh (its rows are removed once every one is done).
impl Journal {
    /// The rows of `job`: `(image id, state)`, in id order.
    pub fn deletion_rows(&self, job: &str) -> CliResult<Vec<(String, State)>> {
        self.with(|conn| {
            let mut select = conn.prepare_cached(
                "SELECT id, state FROM deletions WHERE target = ?1 AND job = ?2 ORDER BY id",
            )?;
            let rows = select
                .query_map(params![self.target, job], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        State::parse(&r.get::<_, String>(1)?),
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Records the confirmed plan of `job` (its image ids, pending), in one
    /// transaction, keeping the rows already there.
    pub fn plan_deletions(&self, job: &str, ids: &[String]) -> CliResult<()> {
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO deletions (target, job, id, state) VALUES (?1, ?2, ?3, 'pending')",
                )?;
                for id in ids {
                    insert.execute(params![self.target, job, id])?;
                }
            }
            tx.commit()
        })
    }

    /// Sets where one deletion of `job` stands (`error` when it failed).
    pub fn deletion(
        &self,
        job: &str,
        id: &str,
        state: State,
        error: Option<&str>,
    ) -> CliResult<()> {
        self.with(|conn| {
            conn.prepare_cached(
                "UPDATE deletions SET state = ?4, error = ?5,
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE target = ?1 AND job = ?2 AND id = ?3",
            )?
            .execute(params![self.target, job, id, state.as_str(), error])?;
            Ok(())
        })
    }

    /// Forgets `job` once every deletion in it is done.
    pub fn finish_deletions(&self, job: &str) -> CliResult<()> {
        self.with(|conn| {
            conn.prepare_cached("DELETE FROM deletions WHERE target = ?1 AND job = ?2")?
                .execute(params![self.target, job])?;
            Ok(())
        })
    }
}

/// A signing-key rotation of `cfimg keys rotate`, as recorded in the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The key being retired.
    pub old_key: String,
    /// The key signing now.
    pub new_key: String,
    /// The grace period, in seconds.
    pub grace_secs: i64,
    /// When the old key may be deleted, in Unix seconds.
    pub retire_after: i64,
    /// Whether the old key is gone (the rotation is over).
    pub finished: bool,
}

/// The rotations table: one row per target, the latest rotation (pending or
/// finished), so `cfimg sign` knows which key the last rotation chose.
const ROTATION_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS key_rotations (
    target       TEXT NOT NULL PRIMARY KEY,
    old_key      TEXT NOT NULL,
    new_key      TEXT NOT NULL,
    grace_secs   INTEGER NOT NULL,
    retire_after INTEGER NOT NULL,
    finished     INTEGER NOT NULL DEFAULT 0,
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);";

impl Journal {
    /// The latest key rotation recorded for this journal's target.
    pub fn rotation(&self) -> CliResult<Option<Rotation>> {
        self.with(|conn| {
            conn.execute_batch(ROTATION_SCHEMA)?;
            conn.query_row(
                "SELECT old_key, new_key, grace_secs, retire_after, finished
                 FROM key_rotations WHERE target = ?1",
                params![self.target],
                |r| {
                    Ok(Rotation {
                        old_key: r.get(0)?,
                        new_key: r.get(1)?,
                        grace_secs: r.get(2)?,
                        retire_after: r.get(3)?,
                        finished: r.get(4)?,
                    })
                },
            )
            .optional()
        })
    }

    /// Records `rotation` as started, unless another one is pending: then
    /// returns `false` and changes nothing (two processes rotating at once
    /// start one rotation).
    pub fn start_rotation(&self, rotation: &Rotation) -> CliResult<bool> {
        self.with(|conn| {
            conn.execute_batch(ROTATION_SCHEMA)?;
            let changed = conn.execute(
                "INSERT INTO key_rotations (target, old_key, new_key, grace_secs, retire_after, finished)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0)
                 ON CONFLICT (target) DO UPDATE SET
                    old_key = excluded.old_key, new_key = excluded.new_key,
                    grace_secs = excluded.grace_secs, retire_after = excluded.retire_after,
                    finished = 0, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE key_rotations.finished = 1",
                params![
                    self.target,
                    rotation.old_key,
                    rotation.new_key,
                    rotation.grace_secs,
                    rotation.retire_after
                ],
            )?;
            Ok(changed == 1)
        })
    }

    /// Moves the pending rotation's retirement time (its new key had to be
    /// created again, so the grace period starts again).
    pub fn reschedule_rotation(&self, retire_after: i64) -> CliResult<()> {
        self.with(|conn| {
            conn.execute(
                "UPDATE key_rotations SET retire_after = ?2,
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE target = ?1 AND finished = 0",
                params![self.target, retire_after],
            )?;
            Ok(())
        })
    }

    /// Forgets a pending rotation whose new key could not be created.
    pub fn abandon_rotation(&self) -> CliResult<()> {
        self.with(|conn| {
            conn.execute(
                "DELETE FROM key_rotations WHERE target = ?1 AND finished = 0",
                params![self.target],
            )?;
            Ok(())
        })
    }

    /// Marks the pending rotation finished (its old key is deleted).
    pub fn finish_rotation(&self) -> CliResult<()> {
        self.with(|conn| {
            conn.execute(
                "UPDATE key_rotations SET finished = 1,
                    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE target = ?1",
                params![self.target],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_reopening_and_targets_are_separate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let inputs = vec![
            ("a.png".to_string(), "/x/a.png".to_string()),
            ("b.png".to_string(), "/x/b.png".to_string()),
        ];
        let j = Journal::open(&path, "local").unwrap();
        let rows = j.register(&inputs).unwrap();
        assert!(rows.values().all(|e| e.state == State::Pending));
        j.sending("a.png").unwrap();
        j.done("a.png", "a.png", 10, false).unwrap();
        j.sending("b.png").unwrap();
        drop(j);

        let j = Journal::open(&path, "local").unwrap();
        let rows = j.register(&inputs).unwrap();
        assert_eq!(rows["a.png"].state, State::Done);
        assert_eq!(rows["a.png"].image_id.as_deref(), Some("a.png"));
        assert_eq!(rows["b.png"].state, State::Sending);
        j.failed("b.png", "boom").unwrap();
        assert_eq!(j.register(&inputs).unwrap()["b.png"].state, State::Failed);

        let other = Journal::open(&path, "acct@https://api").unwrap();
        let rows = other.register(&inputs).unwrap();
        assert!(rows.values().all(|e| e.state == State::Pending));
    }

    #[test]
    fn deletion_jobs_survive_reopening_and_are_forgotten_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let ids = vec!["a".to_string(), "b".to_string()];
        let j = Journal::open(&path, "local").unwrap();
        j.plan_deletions("job1", &ids).unwrap();
        j.deletion("job1", "a", State::Done, None).unwrap();
        j.deletion("job1", "b", State::Sending, None).unwrap();
        drop(j);
        let j = Journal::open(&path, "local").unwrap();
        // Planning again keeps what is recorded.
        j.plan_deletions("job1", &ids).unwrap();
        assert_eq!(
            j.deletion_rows("job1").unwrap(),
            vec![("a".into(), State::Done), ("b".into(), State::Sending)]
        );
        assert!(j.deletion_rows("job2").unwrap().is_empty());
        assert!(Journal::open(&path, "other")
            .unwrap()
            .deletion_rows("job1")
            .unwrap()
            .is_empty());
        j.finish_deletions("job1").unwrap();
        assert!(j.deletion_rows("job1").unwrap().is_empty());
    }

    #[test]
    fn one_rotation_at_a_time_per_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let j = Journal::open(&path, "local").unwrap();
        assert_eq!(j.rotation().unwrap(), None);
        let r = Rotation {
            old_key: "default".into(),
            new_key: "k1".into(),
            grace_secs: 60,
            retire_after: 100,
            finished: false,
        };
        assert!(j.start_rotation(&r).unwrap());
        let second = Rotation {
            new_key: "k2".into(),
            ..r.clone()
        };
        assert!(!Journal::open(&path, "local")
            .unwrap()
            .start_rotation(&second)
            .unwrap());
        j.reschedule_rotation(200).unwrap();
        assert_eq!(j.rotation().unwrap().unwrap().retire_after, 200);
        j.finish_rotation().unwrap();
        assert!(j.rotation().unwrap().unwrap().finished);
        assert!(j.start_rotation(&second).unwrap());
        assert_eq!(j.rotation().unwrap().unwrap().new_key, "k2");
        assert_eq!(
            Journal::open(&path, "other").unwrap().rotation().unwrap(),
            None
        );
        j.abandon_rotation().unwrap();
        assert_eq!(j.rotation().unwrap(), None);
    }

    #[test]
    fn two_handles_write_concurrently() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let inputs: Vec<(String, String)> = (0..200)
            .map(|i| (format!("{i}.png"), format!("/x/{i}.png")))
            .collect();
        Journal::open(&path, "local")
            .unwrap()
            .register(&inputs)
            .unwrap();
        std::thread::scope(|s| {
            for half in 0..2 {
                let path = &path;
                let inputs = &inputs;
                s.spawn(move || {
                    let j = Journal::open(path, "local").unwrap();
                    for (k, _) in inputs.iter().skip(half).step_by(2) {
                        j.sending(k).unwrap();
                        j.done(k, k, 1, false).unwrap();
                    }
                });
            }
        });
        let rows = Journal::open(&path, "local")
            .unwrap()
            .register(&inputs)
            .unwrap();
        assert_eq!(rows.len(), 200);
        assert!(rows.values().all(|e| e.state == State::Done));
    }

    #[test]
    fn an_export_keeps_what_was_received_unless_the_image_was_uploaded_again() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open_transfers(&dir.path().join(FILE_NAME), "local").unwrap();
        let row = |id: &str, uploaded: &str| ExportRow {
            id: id.into(),
            uploaded: Some(uploaded.into()),
            path: format!("originals/{id}"),
            metadata: "{}".into(),
            ..ExportRow::default()
        };
        j.export_listed("/x", "r1", &[row("a", "t1"), row("b", "t1")])
            .unwrap();
        j.export_done("/x", "a", "aa", 3, Some("image/png"))
            .unwrap();
        j.export_done("/x", "b", "bb", 4, None).unwrap();
        let mut b = row("b", "t2");
        b.creator = Some("u".into());
        j.export_listed("/x", "r2", &[row("a", "t1"), b]).unwrap();
        let rows = j.export_rows("/x", "r2", "", 10).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].done && rows[0].sha256.as_deref() == Some("aa"));
        assert!(!rows[1].done && rows[1].sha256.is_none());
        assert_eq!(rows[1].creator.as_deref(), Some("u"));
        assert!(j.export_rows("/x", "r1", "", 10).unwrap().is_empty());
        assert_eq!(j.export_rows("/x", "r2", "a", 10).unwrap()[0].id, "b");

        let ids = vec!["u1".to_string(), "c/1".to_string()];
        j.import_register("/x", &ids).unwrap();
        j.import_sending("/x", "u1", "new-1").unwrap();
        j.import_failed("/x", "u1", "boom").unwrap();
        let rows = j.import_register("/x", &ids).unwrap();
        assert_eq!(rows["u1"].state, State::Failed);
        assert_eq!(rows["u1"].image_id.as_deref(), Some("new-1"));
        j.import_done("/x", "u1", "new-1", true).unwrap();
        j.import_done("/x", "c/1", "c/1", false).unwrap();
        let mut pairs = Vec::new();
        j.import_mapping("/x", |o, n| {
            pairs.push((o.to_string(), n.to_string()));
            Ok(())
        })
        .unwrap();
        assert_eq!(pairs, [("u1".to_string(), "new-1".to_string())]);
    }
}
