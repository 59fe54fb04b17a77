//! The emulator's state: images (and drafts), signing keys and variants in SQLite, image
//! bytes in a content-addressed blob store.
//!
//! - With a data folder: `<dir>/images.db` (WAL mode, `busy_timeout`, `synchronous=FULL`) and
//!   `<dir>/blobs/<2 hex>/<sha-256 hex>`. Several processes may use one folder at once: every
//!   read-then-write runs in a `BEGIN IMMEDIATE` transaction, ids are unique in the table,
//!   sequence numbers come from `AUTOINCREMENT`, and blob files are written to a temp file,
//!   fsynced and renamed, so writers of the same bytes cannot corrupt each other.
//! - Without one: an in-memory database (`:memory:`) and blobs in a map.
//!
//! One connection per process, behind a mutex; callers run these (synchronous) methods on
//! the blocking pool (see `App::db`). Image bytes are never part of an [`Image`]. Records
//! are plain data: the wire JSON is built by the API (`api::image_json`, `api/variants.rs`),
//! and failures are [`StoreError`]s, which `crate::http` maps to API errors.

mod error;

pub(crate) use error::StoreError;

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::encoding::{hex, random_key};

/// One stored image (or draft). Its bytes are in the blob store, named by `blob_hash`.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub seq: u64,
    pub id: String,
    pub custom_id: bool,
    pub filename: Option<String>,
    pub uploaded: DateTime<Utc>,
    pub require_signed_urls: bool,
    pub meta: Map<String, Value>,
    pub creator: Option<String>,
    pub draft: bool,
    pub upload_expiry: Option<DateTime<Utc>>,
    pub content_type: Option<String>,
    pub blob_hash: Option<String>,
}

impl Image {
    /// A stored (not draft) image uploaded now: the custom id if one was given,
    /// else a new UUID, as `POST v1` assigns it. `seq` and `blob_hash` are the
    /// store's to fill in.
    pub(crate) fn uploaded_now(
        id: Option<String>,
        filename: Option<String>,
        require_signed_urls: bool,
        meta: Map<String, Value>,
        creator: Option<String>,
        content_type: &str,
    ) -> Image {
        let (custom_id, id) = match id {
            Some(id) => (true, id),
            None => (false, uuid::Uuid::new_v4().to_string()),
        };
        Image {
            seq: 0,
            id,
            custom_id,
            filename,
            uploaded: Utc::now(),
            require_signed_urls,
            meta,
            creator,
            draft: false,
            upload_expiry: None,
            content_type: Some(content_type.to_owned()),
            blob_hash: None,
        }
    }
}

/// A named variant definition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Variant {
    pub id: String,
    pub fit: String,
    pub metadata: String,
    pub width: u32,
    pub height: u32,
    pub never_require_signed_urls: bool,
}

impl Variant {
    fn public() -> Variant {
        Variant {
            id: "public".into(),
            fit: "scale-down".into(),
            metadata: "none".into(),
            width: 1366,
            height: 768,
            never_require_signed_urls: false,
        }
    }
}

/// Where an image's bytes can be read from.
#[derive(Debug)]
pub(crate) enum BlobSource {
    Memory(Bytes),
    File(PathBuf),
}

/// Creator filter of the listings: `None` any, `Some("")` images without creator.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CreatorFilter<'a> {
    Any,
    Without,
    Is(&'a str),
}

impl<'a> CreatorFilter<'a> {
    pub fn from_query(value: Option<&'a str>) -> Self {
        match value {
            None => CreatorFilter::Any,
            Some("") => CreatorFilter::Without,
            Some(c) => CreatorFilter::Is(c),
        }
    }

    fn sql(self) -> &'static str {
        match self {
            CreatorFilter::Any => "?3 IS NULL",
            CreatorFilter::Without => "creator IS NULL AND ?3 IS NULL",
            CreatorFilter::Is(_) => "creator = ?3",
        }
    }

    fn param(self) -> Option<&'a str> {
        match self {
            CreatorFilter::Is(c) => Some(c),
            _ => None,
        }
    }
}

/// What delivery needs to know about one image.
#[derive(Debug)]
pub(crate) enum Delivery {
    VariantNotFound,
    /// Flexible-variant options, but the account has not enabled them.
    FlexibleDisabled,
    ImageNotFound,
    Found {
        mime: String,
        blob: BlobSource,
        /// The SHA-256 of the bytes (what rendered results are cached by).
        hash: String,
        /// The named variant; `None` for flexible options.
        variant: Option<Variant>,
        require_signed: bool,
        keys: Vec<String>,
    },
}

/// Why completing a draft (a one-time upload URL) failed.
#[derive(Debug)]
pub(crate) enum DraftState {
    Open,
    Missing,
    Used,
    Expired,
}

const COLS: &str = "seq, id, custom_id, filename, uploaded, require_signed_urls, meta, creator, \
                    draft, upload_expiry, content_type, blob_hash";

/// Recorded in `settings` so a later layout can tell what it opens.
const SCHEMA_VERSION: &str = "1";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS images (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    custom_id INTEGER NOT NULL,
    filename TEXT,
    uploaded TEXT NOT NULL,
    require_signed_urls INTEGER NOT NULL,
    meta TEXT NOT NULL,
    creator TEXT,
    draft INTEGER NOT NULL,
    upload_expiry TEXT,
    content_type TEXT,
    blob_hash TEXT
);
CREATE INDEX IF NOT EXISTS images_creator ON images (creator, seq);
CREATE INDEX IF NOT EXISTS images_draft ON images (draft);
CREATE INDEX IF NOT EXISTS images_blob ON images (blob_hash);
CREATE TABLE IF NOT EXISTS keys (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS variants (
    id TEXT PRIMARY KEY,
    fit TEXT NOT NULL,
    metadata TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    never_require_signed_urls INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
";

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

fn io_error(e: io::Error) -> StoreError {
    StoreError::Io(e.to_string())
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

fn time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn conversion(idx: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
}

fn parse_time(idx: usize, text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| conversion(idx, e))
}

fn image_from_row(row: &Row<'_>) -> rusqlite::Result<Image> {
    let seq: i64 = row.get(0)?;
    let uploaded: String = row.get(4)?;
    let meta: String = row.get(6)?;
    let expiry: Option<String> = row.get(9)?;
    Ok(Image {
        seq: u64::try_from(seq).unwrap_or(0),
        id: row.get(1)?,
        custom_id: row.get(2)?,
        filename: row.get(3)?,
        uploaded: parse_time(4, &uploaded)?,
        require_signed_urls: row.get(5)?,
        meta: serde_json::from_str(&meta).map_err(|e| conversion(6, e))?,
        creator: row.get(7)?,
        draft: row.get(8)?,
        upload_expiry: expiry.map(|t| parse_time(9, &t)).transpose()?,
        content_type: row.get(10)?,
        blob_hash: row.get(11)?,
    })
}

fn variant_from_row(row: &Row<'_>) -> rusqlite::Result<Variant> {
    Ok(Variant {
        id: row.get(0)?,
        fit: row.get(1)?,
        metadata: row.get(2)?,
        width: row.get(3)?,
        height: row.get(4)?,
        never_require_signed_urls: row.get(5)?,
    })
}

fn get_image(conn: &Connection, id: &str) -> rusqlite::Result<Option<Image>> {
    conn.query_row(
        &format!("SELECT {COLS} FROM images WHERE id = ?1"),
        [id],
        image_from_row,
    )
    .optional()
}

fn variant_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM variants ORDER BY id")?;
    let names = stmt.query_map([], |r| r.get(0))?;
    names.collect()
}

/// The `flexible_variants` account setting (absent means off, Cloudflare's default).
fn flexible_variants(conn: &Connection) -> rusqlite::Result<bool> {
    let value: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE name = 'flexible_variants'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(value.as_deref() == Some("true"))
}

fn all_keys(conn: &Connection) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached("SELECT name, value FROM keys ORDER BY name")?;
    let keys = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    keys.collect()
}

fn insert_image_row(tx: &Connection, image: &Image) -> rusqlite::Result<i64> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO images (id, custom_id, filename, uploaded, require_signed_urls, meta, \
         creator, draft, upload_expiry, content_type, blob_hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    stmt.execute(params![
        image.id,
        image.custom_id,
        image.filename,
        time_text(&image.uploaded),
        image.require_signed_urls,
        Value::Object(image.meta.clone()).to_string(),
        image.creator,
        image.draft,
        image.upload_expiry.as_ref().map(time_text),
        image.content_type,
        image.blob_hash,
    ])?;
    Ok(tx.last_insert_rowid())
}

fn insert_variant(tx: &Connection, v: &Variant) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO variants (id, fit, metadata, width, height, \
         never_require_signed_urls) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            v.id,
            v.fit,
            v.metadata,
            v.width,
            v.height,
            v.never_require_signed_urls
        ],
    )?;
    Ok(())
}

/// SHA-256 of `data`, lowercase hex.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Content-addressed image bytes.
#[derive(Debug)]
enum Blobs {
    /// `<data dir>/blobs`; a blob is `<root>/<first 2 hex>/<hash>`.
    Disk(PathBuf),
    Memory(Mutex<HashMap<String, Bytes>>),
}

impl Blobs {
    fn path(root: &Path, hash: &str) -> PathBuf {
        root.join(&hash[..2]).join(hash)
    }

    /// Stores `data` under `hash` unless it is there already: temp file in the same folder,
    /// fsync, rename (atomic; a concurrent writer of the same bytes renames identical content).
    fn put(&self, hash: &str, data: &Bytes) -> io::Result<()> {
        match self {
            Blobs::Memory(map) => {
                map.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(hash.to_owned())
                    .or_insert_with(|| data.clone());
                Ok(())
            }
            Blobs::Disk(root) => {
                let path = Self::path(root, hash);
                if path.is_file() {
                    return Ok(());
                }
                let dir = root.join(&hash[..2]);
                std::fs::create_dir_all(&dir)?;
                let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
                let written = (|| {
                    let mut file = std::fs::File::create(&tmp)?;
                    file.write_all(data)?;
                    file.sync_all()?;
                    std::fs::rename(&tmp, &path)
                })();
                if written.is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
                written?;
                // Make the rename itself durable (not possible on every platform).
                if let Ok(d) = std::fs::File::open(&dir) {
                    let _ = d.sync_all();
                }
                Ok(())
            }
        }
    }

    fn exists(&self, hash: &str) -> bool {
        match self {
            Blobs::Memory(map) => map
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(hash),
            Blobs::Disk(root) => Self::path(root, hash).is_file(),
        }
    }

    fn remove(&self, hash: &str) {
        match self {
            Blobs::Memory(map) => {
                map.lock().unwrap_or_else(|e| e.into_inner()).remove(hash);
            }
            Blobs::Disk(root) => {
                let _ = std::fs::remove_file(Self::path(root, hash));
            }
        }
    }

    fn source(&self, hash: &str) -> Option<BlobSource> {
        if !is_hash(hash) {
            return None;
        }
        match self {
            Blobs::Memory(map) => map
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(hash)
                .cloned()
                .map(BlobSource::Memory),
            Blobs::Disk(root) => Some(BlobSource::File(Self::path(root, hash))),
        }
    }
}

/// All state: a SQLite connection and the blob store.
#[derive(Debug)]
pub(crate) struct Store {
    conn: Mutex<Connection>,
    blobs: Blobs,
}

impl Store {
    /// Opens (creating if needed) the store in `dir`; without `dir`, an empty in-memory
    /// store.
    pub fn open(dir: Option<&Path>) -> io::Result<Store> {
        let to_io = |e: rusqlite::Error| io::Error::other(e.to_string());
        let (conn, blobs) = match dir {
            None => (
                Connection::open_in_memory().map_err(to_io)?,
                Blobs::Memory(Mutex::new(HashMap::new())),
            ),
            Some(dir) => {
                std::fs::create_dir_all(dir.join("blobs"))?;
                let conn = Connection::open(dir.join("images.db")).map_err(to_io)?;
                conn.busy_timeout(Duration::from_secs(30)).map_err(to_io)?;
                // Switching to WAL needs the database to itself, and SQLite may answer
                // SQLITE_BUSY at once, without the busy handler, while another process
                // opens the same new database: retry for as long as the busy timeout.
                let started = std::time::Instant::now();
                loop {
                    match conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| {
                        r.get::<_, String>(0)
                    }) {
                        Ok(_) => break,
                        Err(rusqlite::Error::SqliteFailure(e, _))
                            if matches!(
                                e.code,
                                rusqlite::ErrorCode::DatabaseBusy
                                    | rusqlite::ErrorCode::DatabaseLocked
                            ) && started.elapsed() < Duration::from_secs(30) =>
                        {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(e) => return Err(to_io(e)),
                    }
                }
                conn.pragma_update(None, "synchronous", "FULL")
                    .map_err(to_io)?;
                (conn, Blobs::Disk(dir.join("blobs")))
            }
        };
        let store = Store {
            conn: Mutex::new(conn),
            blobs,
        };
        store.init()?;
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn immediate<'c>(conn: &'c mut Connection) -> rusqlite::Result<Transaction<'c>> {
        conn.transaction_with_behavior(TransactionBehavior::Immediate)
    }

    /// Creates the tables; on first use, the `public` variant; and the `default` key
    /// whenever there is no key.
    fn init(&self) -> io::Result<()> {
        let to_io = |e: rusqlite::Error| io::Error::other(e.to_string());
        let mut conn = self.lock();
        conn.execute_batch(SCHEMA).map_err(to_io)?;
        let tx = Self::immediate(&mut conn).map_err(to_io)?;
        let initialized: Option<String> = tx
            .query_row(
                "SELECT value FROM settings WHERE name = 'initialized'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(to_io)?;
        if initialized.is_none() {
            insert_variant(&tx, &Variant::public()).map_err(to_io)?;
            tx.execute(
                "INSERT INTO settings (name, value) VALUES ('initialized', ?1), \
                 ('schema_version', ?2)",
                params![time_text(&Utc::now()), SCHEMA_VERSION],
            )
            .map_err(to_io)?;
        }
        let keys: i64 = tx
            .query_row("SELECT COUNT(*) FROM keys", [], |r| r.get(0))
            .map_err(to_io)?;
        if keys == 0 {
            tx.execute(
                "INSERT INTO keys (name, value) VALUES ('default', ?1)",
                [random_key()],
            )
            .map_err(to_io)?;
        }
        tx.commit().map_err(to_io)
    }

    // -----------------------------------------------------------------------------------------
    // Blobs.

    /// Writes `data` to the blob store (outside any transaction); returns its hash.
    fn put_blob(&self, data: &Bytes) -> Result<String, StoreError> {
        let hash = sha256_hex(data);
        self.blobs.put(&hash, data).map_err(io_error)?;
        Ok(hash)
    }

    /// Inside a write transaction: makes sure the blob is there (a concurrent delete of the
    /// last image with the same bytes may have removed it after [`Store::put_blob`]).
    fn ensure_blob(&self, hash: &str, data: &Bytes) -> Result<(), StoreError> {
        if !self.blobs.exists(hash) {
            self.blobs.put(hash, data).map_err(io_error)?;
        }
        Ok(())
    }

    /// Inside a write transaction: removes the blob if no row refers to it any more.
    fn release_blob(&self, tx: &Connection, hash: &str) -> rusqlite::Result<()> {
        let refs: i64 = tx.query_row(
            "SELECT COUNT(*) FROM images WHERE blob_hash = ?1",
            [hash],
            |r| r.get(0),
        )?;
        if refs == 0 {
            self.blobs.remove(hash);
        }
        Ok(())
    }

    /// Where the bytes of image `id` are, with its MIME type; `None` for a missing image or a
    /// draft.
    pub fn blob_of(&self, id: &str) -> Result<Option<(BlobSource, String)>, StoreError> {
        let conn = self.lock();
        let found: Option<(Option<String>, Option<String>)> = conn
            .query_row(
                "SELECT blob_hash, content_type FROM images WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(match found {
            Some((Some(hash), Some(mime))) => self.blobs.source(&hash).map(|s| (s, mime)),
            _ => None,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Images.

    /// Image `id` and the variant names.
    pub fn image(&self, id: &str) -> Result<Option<(Image, Vec<String>)>, StoreError> {
        let conn = self.lock();
        let Some(image) = get_image(&conn, id)? else {
            return Ok(None);
        };
        Ok(Some((image, variant_names(&conn)?)))
    }

    /// True if an image or draft with this id exists.
    pub fn exists(&self, id: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM images WHERE id = ?1", [id], |r| {
            r.get(0)
        })?;
        Ok(n > 0)
    }

    /// Inserts a new image (its `seq` is assigned here) with its bytes, if any. 409 if the
    /// id exists. Returns the stored image and the variant names.
    pub fn insert(
        &self,
        mut image: Image,
        data: Option<Bytes>,
    ) -> Result<(Image, Vec<String>), StoreError> {
        let hash = data.as_ref().map(|d| self.put_blob(d)).transpose()?;
        image.blob_hash = hash.clone();
        let mut conn = self.lock();
        let tx = Self::immediate(&mut conn)?;
        if let (Some(hash), Some(data)) = (&hash, &data) {
            self.ensure_blob(hash, data)?;
        }
        match insert_image_row(&tx, &image) {
            Ok(seq) => image.seq = u64::try_from(seq).unwrap_or(0),
            Err(e) => {
                let conflict = is_unique_violation(&e);
                if let Some(hash) = &hash {
                    self.release_blob(&tx, hash)?;
                    tx.commit()?;
                }
                return Err(if conflict {
                    StoreError::AlreadyExists
                } else {
                    e.into()
                });
            }
        }
        let names = variant_names(&tx)?;
        tx.commit()?;
        Ok((image, names))
    }

    /// Test helper: inserts many images sharing one blob, in one transaction.
    pub fn seed(&self, images: Vec<Image>, data: &Bytes) -> Result<Vec<String>, StoreError> {
        let hash = self.put_blob(data)?;
        let mut conn = self.lock();
        let tx = Self::immediate(&mut conn)?;
        self.ensure_blob(&hash, data)?;
        let mut ids = Vec::with_capacity(images.len());
        for mut image in images {
            image.blob_hash = Some(hash.clone());
            match insert_image_row(&tx, &image) {
                Ok(_) => ids.push(image.id),
                Err(e) if is_unique_violation(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    /// The state of the one-time upload URL of draft `id`.
    pub fn draft_state(&self, id: &str, now: DateTime<Utc>) -> Result<DraftState, StoreError> {
        let conn = self.lock();
        Ok(match get_image(&conn, id)? {
            None => DraftState::Missing,
            Some(i) if !i.draft => DraftState::Used,
            Some(i) if i.upload_expiry.is_some_and(|exp| exp < now) => DraftState::Expired,
            Some(_) => DraftState::Open,
        })
    }

    /// Turns draft `id` into an image with these bytes. 404 if gone, 400 if already used.
    pub fn complete_draft(
        &self,
        id: &str,
        filename: Option<String>,
        mime: &str,
        data: Bytes,
    ) -> Result<(Image, Vec<String>), StoreError> {
        let hash = self.put_blob(&data)?;
        let mut conn = self.lock();
        let tx = Self::immediate(&mut conn)?;
        let outcome = match get_image(&tx, id)? {
            None => Err(StoreError::ImageNotFound),
            Some(i) if !i.draft => Err(StoreError::UploadUrlUsed),
            Some(_) => Ok(()),
        };
        if let Err(e) = outcome {
            self.release_blob(&tx, &hash)?;
            tx.commit()?;
            return Err(e);
        }
        self.ensure_blob(&hash, &data)?;
        tx.execute(
            "UPDATE images SET draft = 0, upload_expiry = NULL, filename = ?2, \
             content_type = ?3, blob_hash = ?4 WHERE id = ?1",
            params![id, filename, mime, hash],
        )?;
        let image = get_image(&tx, id)?.ok_or(StoreError::ImageNotFound)?;
        let names = variant_names(&tx)?;
        tx.commit()?;
        Ok((image, names))
    }

    /// Applies an edit to image `id` in one transaction; `edit` may refuse it.
    pub fn update<E: From<StoreError>>(
        &self,
        id: &str,
        edit: impl FnOnce(&mut Image) -> Result<(), E>,
    ) -> Result<(Image, Vec<String>), E> {
        let mut conn = self.lock();
        let tx = Self::immediate(&mut conn).map_err(StoreError::from)?;
        let mut image = get_image(&tx, id)
            .map_err(StoreError::from)?
            .ok_or(StoreError::ImageNotFound)?;
        edit(&mut image)?;
        tx.execute(
            "UPDATE images SET meta = ?2, creator = ?3, require_signed_urls = ?4, \
             upload_expiry = ?5 WHERE id = ?1",
            params![
                id,
                Value::Object(image.meta.clone()).to_string(),
                image.creator,
                image.require_signed_urls,
                image.upload_expiry.as_ref().map(time_text),
            ],
        )
        .map_err(StoreError::from)?;
        let names = variant_names(&tx).map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok((image, names))
    }

    /// Deletes image `id` (and its blob if no other image has the same bytes). False if
    /// there was no such image.
    pub fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = Self::immediate(&mut conn)?;
        let hash: Option<Option<String>> = tx
            .query_row("SELECT blob_hash FROM images WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(hash) = hash else {
            return Ok(false);
        };
        tx.execute("DELETE FROM images WHERE id = ?1", [id])?;
        if let Some(hash) = hash {
            self.release_blob(&tx, &hash)?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// Number of stored images (drafts not counted).
    pub fn count(&self) -> Result<usize, StoreError> {
        let conn = self.lock();
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM images WHERE draft = 0", [], |r| {
            r.get(0)
        })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Listing v1: oldest first, `skip` then at most `take` images.
    pub fn page(
        &self,
        creator: CreatorFilter<'_>,
        skip: u64,
        take: u64,
    ) -> Result<(Vec<Image>, Vec<String>), StoreError> {
        let conn = self.lock();
        let sql = format!(
            "SELECT {COLS} FROM images WHERE draft = 0 AND {} ORDER BY seq LIMIT ?1 OFFSET ?2",
            creator.sql()
        );
        let take = i64::try_from(take).unwrap_or(i64::MAX);
        let skip = i64::try_from(skip).unwrap_or(i64::MAX);
        let mut stmt = conn.prepare_cached(&sql)?;
        let images = stmt
            .query_map(params![take, skip, creator.param()], image_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        drop(stmt);
        Ok((images, variant_names(&conn)?))
    }

    /// Listing v2: walks images in `seq` order (descending if `desc`) after `after`, in
    /// chunks, keeping those `keep` accepts, until `limit` are found.
    pub fn scan(
        &self,
        desc: bool,
        after: Option<u64>,
        creator: CreatorFilter<'_>,
        limit: usize,
        keep: impl Fn(&Image) -> bool,
    ) -> Result<(Vec<Image>, Vec<String>), StoreError> {
        const CHUNK: usize = 1000;
        let conn = self.lock();
        let sql = format!(
            "SELECT {COLS} FROM images WHERE seq {} ?1 AND draft = 0 AND {} ORDER BY seq {} LIMIT ?2",
            if desc { "<" } else { ">" },
            creator.sql(),
            if desc { "DESC" } else { "ASC" },
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut bound = match (desc, after) {
            (_, Some(seq)) => i64::try_from(seq).unwrap_or(i64::MAX),
            (true, None) => i64::MAX,
            (false, None) => 0,
        };
        let chunk = i64::try_from(limit.max(CHUNK)).unwrap_or(i64::MAX);
        let mut found = Vec::new();
        loop {
            let rows = stmt
                .query_map(params![bound, chunk, creator.param()], image_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let exhausted = i64::try_from(rows.len()).unwrap_or(i64::MAX) < chunk;
            if let Some(last) = rows.last() {
                bound = i64::try_from(last.seq).unwrap_or(i64::MAX);
            }
            for image in rows {
                if found.len() < limit && keep(&image) {
                    found.push(image);
                }
            }
            if exhausted || found.len() >= limit {
                break;
            }
        }
        drop(stmt);
        Ok((found, variant_names(&conn)?))
    }

    /// Test helper: makes the upload URL of draft `id` expired; false if no such draft.
    pub fn expire_draft(&self, id: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        let expired = time_text(&(Utc::now() - chrono::Duration::seconds(1)));
        let n = conn.execute(
            "UPDATE images SET upload_expiry = ?2 WHERE id = ?1 AND draft = 1",
            params![id, expired],
        )?;
        Ok(n > 0)
    }

    /// Everything delivery of `id` in `variant` needs, read in one go. Flexible options
    /// (`flexible`) are refused unless the account enabled them (`PATCH v1/config`).
    pub fn delivery(
        &self,
        id: &str,
        variant: &str,
        flexible: bool,
    ) -> Result<Delivery, StoreError> {
        let conn = self.lock();
        let named = conn
            .query_row(
                "SELECT id, fit, metadata, width, height, never_require_signed_urls \
                 FROM variants WHERE id = ?1",
                [variant],
                variant_from_row,
            )
            .optional()?;
        match &named {
            Some(_) => {}
            None if flexible => {
                if !flexible_variants(&conn)? {
                    return Ok(Delivery::FlexibleDisabled);
                }
            }
            None => return Ok(Delivery::VariantNotFound),
        }
        let never_signed = named.as_ref().is_some_and(|v| v.never_require_signed_urls);
        let Some(image) = get_image(&conn, id)? else {
            return Ok(Delivery::ImageNotFound);
        };
        let (Some(hash), Some(mime)) = (&image.blob_hash, &image.content_type) else {
            return Ok(Delivery::ImageNotFound);
        };
        let Some(blob) = self.blobs.source(hash) else {
            return Ok(Delivery::ImageNotFound);
        };
        let keys = all_keys(&conn)?.into_iter().map(|(_, v)| v).collect();
        Ok(Delivery::Found {
            mime: mime.clone(),
            blob,
            hash: hash.clone(),
            variant: named,
            require_signed: image.require_signed_urls && !never_signed,
            keys,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Account settings.

    /// Whether flexible variants are enabled (off until `PATCH v1/config` turns them on).
    pub fn flexible_variants(&self) -> Result<bool, StoreError> {
        Ok(flexible_variants(&self.lock())?)
    }

    /// Turns flexible variants on or off; returns the new value.
    pub fn set_flexible_variants(&self, on: bool) -> Result<bool, StoreError> {
        self.lock().execute(
            "INSERT OR REPLACE INTO settings (name, value) VALUES ('flexible_variants', ?1)",
            [if on { "true" } else { "false" }],
        )?;
        Ok(on)
    }

    // -----------------------------------------------------------------------------------------
    // Keys.

    /// The signing keys as `(name, value)`, sorted by name.
    pub fn keys(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(all_keys(&self.lock())?)
    }

    /// Creates or regenerates key `name`; returns all keys.
    pub fn put_key(&self, name: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut conn = self.lock();
        let tx = Self::immediate(&mut conn)?;
        tx.execute(
            "INSERT OR REPLACE INTO keys (name, value) VALUES (?1, ?2)",
            params![name, random_key()],
        )?;
        let keys = all_keys(&tx)?;
        tx.commit()?;
        Ok(keys)
    }

    /// Deletes key `name` (regenerating `default` if it was the last); `None` if unknown.
    pub fn delete_key(&self, name: &str) -> Result<Option<Vec<(String, String)>>, StoreError> {
        let mut conn = self.lock();
        let tx = Self::immediate(&mut conn)?;
        if tx.execute("DELETE FROM keys WHERE name = ?1", [name])? == 0 {
            return Ok(None);
        }
        let left: i64 = tx.query_row("SELECT COUNT(*) FROM keys", [], |r| r.get(0))?;
        if left == 0 {
            tx.execute(
                "INSERT INTO keys (name, value) VALUES ('default', ?1)",
                [random_key()],
            )?;
        }
        let keys = all_keys(&tx)?;
        tx.commit()?;
        Ok(Some(keys))
    }

    // -----------------------------------------------------------------------------------------
    // Variants.

    /// All variants by name.
    pub fn variants(&self) -> Result<BTreeMap<String, Variant>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, fit, metadata, width, height, never_require_signed_urls FROM variants \
             ORDER BY id",
        )?;
        let rows = stmt.query_map([], variant_from_row)?;
        let mut map = BTreeMap::new();
        for v in rows {
            let v = v?;
            map.insert(v.id.clone(), v);
        }
        Ok(map)
    }

    /// Variant `name`.
    pub fn variant(&self, name: &str) -> Result<Option<Variant>, StoreError> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT id, fit, metadata, width, height, never_require_signed_urls \
                 FROM variants WHERE id = ?1",
                [name],
                variant_from_row,
            )
            .optional()?)
    }

    /// Creates a variant: 409 if it exists, 400 past `max` variants.
    pub fn create_variant(&self, variant: &Variant, max: usize) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = Self::immediate(&mut conn)?;
        let exists: i64 = tx.query_row(
            "SELECT COUNT(*) FROM variants WHERE id = ?1",
            [&variant.id],
            |r| r.get(0),
        )?;
        if exists > 0 {
            return Err(StoreError::AlreadyExists);
        }
        let count: i64 = tx.query_row("SELECT COUNT(*) FROM variants", [], |r| r.get(0))?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= max {
            return Err(StoreError::TooManyVariants);
        }
        insert_variant(&tx, variant)?;
        tx.commit()?;
        Ok(())
    }

    /// Applies `edit` to variant `name` in one transaction; `None` if there is none.
    pub fn update_variant<E: From<StoreError>>(
        &self,
        name: &str,
        edit: impl FnOnce(Variant) -> Result<Variant, E>,
    ) -> Result<Option<Variant>, E> {
        let mut conn = self.lock();
        let tx = Self::immediate(&mut conn).map_err(StoreError::from)?;
        let current = tx
            .query_row(
                "SELECT id, fit, metadata, width, height, never_require_signed_urls \
                 FROM variants WHERE id = ?1",
                [name],
                variant_from_row,
            )
            .optional()
            .map_err(StoreError::from)?;
        let Some(current) = current else {
            return Ok(None);
        };
        let updated = edit(current)?;
        insert_variant(&tx, &updated).map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(Some(updated))
    }

    /// Deletes variant `name`; false if there was none.
    pub fn delete_variant(&self, name: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        Ok(conn.execute("DELETE FROM variants WHERE id = ?1", [name])? > 0)
    }
}
