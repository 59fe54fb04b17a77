//! The emulator's state (images, signing keys, variants) and its optional persistence.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::util::random_key;

/// One stored image (or draft).
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
    pub blob: Option<Bytes>,
}

impl Image {
    /// The API representation.
    pub fn to_json(&self, origin: &str, hash: &str, variants: &BTreeMap<String, Variant>) -> Value {
        let encoded_id = encode_id(&self.id);
        let urls: Vec<Value> = variants
            .keys()
            .map(|v| Value::String(format!("{origin}/{hash}/{encoded_id}/{v}")))
            .collect();
        let mut obj = Map::new();
        obj.insert("id".into(), Value::String(self.id.clone()));
        if let Some(f) = &self.filename {
            obj.insert("filename".into(), Value::String(f.clone()));
        }
        obj.insert(
            "uploaded".into(),
            Value::String(self.uploaded.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        obj.insert(
            "requireSignedURLs".into(),
            Value::Bool(self.require_signed_urls),
        );
        obj.insert("variants".into(), Value::Array(urls));
        obj.insert("meta".into(), Value::Object(self.meta.clone()));
        if let Some(c) = &self.creator {
            obj.insert("creator".into(), Value::String(c.clone()));
        }
        if self.draft {
            obj.insert("draft".into(), Value::Bool(true));
        }
        Value::Object(obj)
    }
}

/// Percent-encodes an image id for use in a URL path, keeping `/` (sub-paths) as is.
pub(crate) fn encode_id(id: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(id, SET).to_string()
}

/// A named variant definition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Variant {
    pub id: String,
    pub fit: String,
    pub metadata: String,
    pub width: u32,
    pub height: u32,
    pub never_require_signed_urls: bool,
}

impl Variant {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "options": {
                "fit": self.fit,
                "metadata": self.metadata,
                "width": self.width,
                "height": self.height,
            },
            "neverRequireSignedURLs": self.never_require_signed_urls,
        })
    }
}

/// All mutable state.
#[derive(Debug)]
pub(crate) struct Store {
    pub next_seq: u64,
    pub images: BTreeMap<u64, Image>,
    pub ids: HashMap<String, u64>,
    pub keys: BTreeMap<String, String>,
    pub variants: BTreeMap<String, Variant>,
}

impl Store {
    pub fn new() -> Self {
        let mut store = Store {
            next_seq: 1,
            images: BTreeMap::new(),
            ids: HashMap::new(),
            keys: BTreeMap::new(),
            variants: BTreeMap::new(),
        };
        store.keys.insert("default".into(), random_key());
        store.variants.insert(
            "public".into(),
            Variant {
                id: "public".into(),
                fit: "scale-down".into(),
                metadata: "none".into(),
                width: 1366,
                height: 768,
                never_require_signed_urls: false,
            },
        );
        store
    }

    pub fn get(&self, id: &str) -> Option<&Image> {
        self.ids.get(id).and_then(|seq| self.images.get(seq))
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Image> {
        let seq = *self.ids.get(id)?;
        self.images.get_mut(&seq)
    }

    /// Allocates the next sequence number (upload order).
    pub fn alloc_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Inserts an image whose `seq` came from [`Store::alloc_seq`]. Returns false (and
    /// drops the image) if the id exists.
    #[must_use]
    pub fn insert(&mut self, image: Image) -> bool {
        if self.ids.contains_key(&image.id) {
            return false;
        }
        self.ids.insert(image.id.clone(), image.seq);
        self.images.insert(image.seq, image);
        true
    }

    pub fn remove(&mut self, id: &str) -> Option<Image> {
        let seq = self.ids.remove(id)?;
        self.images.remove(&seq)
    }

    /// Number of stored (non-draft) images.
    pub fn count(&self) -> usize {
        self.images.values().filter(|i| !i.draft).count()
    }
}

// ---------------------------------------------------------------------------------------------
// Persistence: `<dir>/index.json` (written to a temp file, then renamed) and one file per blob
// under `<dir>/blobs/`, named by sequence number.

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    next_seq: u64,
    images: Vec<ImageRecord>,
    keys: BTreeMap<String, String>,
    variants: Vec<Variant>,
}

#[derive(Serialize, Deserialize)]
struct ImageRecord {
    seq: u64,
    id: String,
    custom_id: bool,
    filename: Option<String>,
    uploaded: DateTime<Utc>,
    require_signed_urls: bool,
    meta: Map<String, Value>,
    creator: Option<String>,
    draft: bool,
    upload_expiry: Option<DateTime<Utc>>,
    content_type: Option<String>,
}

/// File name of an image's blob.
pub(crate) fn blob_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join("blobs").join(format!("{seq:016x}"))
}

/// Serialises the index (without blobs).
pub(crate) fn snapshot_json(store: &Store) -> Vec<u8> {
    let snapshot = Snapshot {
        version: 1,
        next_seq: store.next_seq,
        images: store
            .images
            .values()
            .map(|i| ImageRecord {
                seq: i.seq,
                id: i.id.clone(),
                custom_id: i.custom_id,
                filename: i.filename.clone(),
                uploaded: i.uploaded,
                require_signed_urls: i.require_signed_urls,
                meta: i.meta.clone(),
                creator: i.creator.clone(),
                draft: i.draft,
                upload_expiry: i.upload_expiry,
                content_type: i.content_type.clone(),
            })
            .collect(),
        keys: store.keys.clone(),
        variants: store.variants.values().cloned().collect(),
    };
    serde_json::to_vec(&snapshot).unwrap_or_default()
}

/// Writes the index atomically: a temp file in the same folder, then a rename.
pub(crate) fn write_index(dir: &Path, json: &[u8]) -> io::Result<()> {
    let tmp = dir.join("index.json.tmp");
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, dir.join("index.json"))
}

/// Loads the state from `dir`, or a fresh state if it holds no index yet.
pub(crate) fn load(dir: &Path) -> io::Result<Store> {
    std::fs::create_dir_all(dir.join("blobs"))?;
    let index = dir.join("index.json");
    let text = match std::fs::read(&index) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Store::new()),
        Err(e) => return Err(e),
    };
    let snapshot: Snapshot = serde_json::from_slice(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", index.display()),
        )
    })?;
    let mut store = Store {
        next_seq: snapshot.next_seq,
        images: BTreeMap::new(),
        ids: HashMap::new(),
        keys: snapshot.keys,
        variants: snapshot
            .variants
            .into_iter()
            .map(|v| (v.id.clone(), v))
            .collect(),
    };
    if store.keys.is_empty() {
        store.keys.insert("default".into(), random_key());
    }
    for r in snapshot.images {
        let blob = if r.content_type.is_some() && !r.draft {
            Some(Bytes::from(std::fs::read(blob_path(dir, r.seq))?))
        } else {
            None
        };
        store.next_seq = store.next_seq.max(r.seq + 1);
        let image = Image {
            seq: r.seq,
            id: r.id,
            custom_id: r.custom_id,
            filename: r.filename,
            uploaded: r.uploaded,
            require_signed_urls: r.require_signed_urls,
            meta: r.meta,
            creator: r.creator,
            draft: r.draft,
            upload_expiry: r.upload_expiry,
            content_type: r.content_type,
            blob,
        };
        // A duplicate id in a hand-edited index: keep the first.
        let _ = store.insert(image);
    }
    Ok(store)
}
