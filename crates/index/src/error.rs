//! The error type of `avx_index`.
//!
//! Variants are grouped by what the caller does next: *usage* errors (wrong model, wrong dimension,
//! locked index) mean "change the request"; *format* errors (corruption, newer format) mean "this
//! index cannot be used as it is: verify, rebuild or upgrade"; I/O errors mean "stop".

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = IndexError> = std::result::Result<T, E>;

/// Everything that can go wrong while opening, writing, searching or verifying an index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// An operating-system I/O error on one of the index files.
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The index directory does not exist and the index was opened read-only.
    #[error("no index at {path}: run an indexing command first, or pass another --index")]
    NotFound { path: PathBuf },

    /// Another process (or another writer in this process) holds the writer lock.
    #[error("index is locked by process {pid} ({path}): wait for it to finish or pass --wait")]
    Locked { path: PathBuf, pid: u32 },

    /// The index was built with another model or pipeline than the one in use.
    #[error(
        "index at {path} was built with {found}, but this run uses {expected}: \
         re-index into a new directory or pass another --index"
    )]
    ModelMismatch {
        path: PathBuf,
        found: String,
        expected: String,
    },

    /// A vector whose length is not the index dimension.
    #[error("vector for {path} has {found} dimensions, the index stores {expected}")]
    DimensionMismatch {
        path: PathBuf,
        found: usize,
        expected: usize,
    },

    /// A vector containing NaN or infinity.
    #[error("vector for {path} contains NaN or infinite values: it was not stored")]
    NonFinite { path: PathBuf },

    /// A path that cannot be stored losslessly on this platform.
    #[error("path {path} is not valid UTF-8 and cannot be stored on this platform")]
    UnsupportedPath { path: PathBuf },

    /// An index file was written by a newer version of the format.
    #[error(
        "{path} uses index format version {found}, this build supports up to version {supported}: \
         upgrade avx, or re-index with this version into another --index"
    )]
    NewerFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },

    /// A file is damaged: a checksum, magic number, length or cross-reference does not match.
    #[error("index file {path} is corrupted: {detail}; run `avx verify` for a full report, then re-index")]
    Corrupt { path: PathBuf, detail: String },

    /// The metadata database reported an error.
    #[error("metadata database {path}: {detail}")]
    Database { path: PathBuf, detail: String },

    /// The metadata database stayed busy (another process kept it open) for too long.
    #[error("metadata database {path} stayed busy for {waited_ms} ms: another avx process is using it, try again")]
    Busy { path: PathBuf, waited_ms: u64 },

    /// A request the index cannot serve as asked (for example a search with `k == 0`).
    #[error("invalid request on {path}: {detail}")]
    Invalid { path: PathBuf, detail: String },
}

impl IndexError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IndexError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        IndexError::Corrupt {
            path: path.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn db(path: impl Into<PathBuf>, detail: impl std::fmt::Display) -> Self {
        IndexError::Database {
            path: path.into(),
            detail: detail.to_string(),
        }
    }

    /// Whether this error concerns one record only (a vector the index refuses: NaN, infinity, wrong
    /// dimension), so that the writer is unchanged and a batch job can record the
    /// file as failed and go on.
    pub fn is_per_record(&self) -> bool {
        matches!(
            self,
            IndexError::NonFinite { .. } | IndexError::DimensionMismatch { .. }
        )
    }

    /// Whether this error means the index files are damaged or unreadable by this version
    /// (as opposed to a usage or I/O error).
    pub fn is_format_error(&self) -> bool {
        matches!(
            self,
            IndexError::Corrupt { .. } | IndexError::NewerFormat { .. }
        )
    }
}
