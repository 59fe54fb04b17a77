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

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{CliError, CliResult};

/// The journal's file name in the data directory.
pub const FILE_NAME: &str = "journal.db";

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
        self.with(|conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut rows = HashMap::with_capacity(inputs.len());
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO uploads (target, key, source, state) VALUES (?1, ?2, ?3, 'pending')",
                )?;
                let mut select = tx.prepare_cached(
                    "SELECT state, image_id FROM uploads WHERE target = ?1 AND key = ?2",
                )?;
                for (key, source) in inputs {
                    insert.execute(params![self.target, key, source])?;
                    let entry = select
                        .query_row(params![self.target, key], |r| {
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
}
