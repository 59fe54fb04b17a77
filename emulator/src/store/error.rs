//! What can go wrong in the store, independent of how the API reports it (`crate::http`
//! maps each kind to a status, code and message once).

/// A failed store operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreError {
    /// SQLite failed (the text is SQLite's).
    Database(String),
    /// Reading or writing a blob file failed.
    Io(String),
    /// The id or name is taken.
    AlreadyExists,
    /// No such image (or draft).
    ImageNotFound,
    /// The draft's one-time upload URL has already been used.
    UploadUrlUsed,
    /// The account already has the most variants allowed.
    TooManyVariants,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Database(e) => write!(f, "Storage error: {e}"),
            StoreError::Io(e) => write!(f, "Could not store image: {e}"),
            StoreError::AlreadyExists => f.write_str("Resource already exists"),
            StoreError::ImageNotFound => f.write_str("Image not found"),
            StoreError::UploadUrlUsed => f.write_str("This upload URL has already been used"),
            StoreError::TooManyVariants => f.write_str("An account can have at most 100 variants"),
        }
    }
}

impl std::error::Error for StoreError {}
