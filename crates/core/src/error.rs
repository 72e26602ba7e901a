//! [`CoreError`]: what a query can fail with, grouped by what the caller does next.
//!
//! `Invalid` is a bad request (a person or a client fixes the arguments); `Index`, `Embed` and `Analysis` come
//! from the crates below and keep their own messages (which name the file involved).

use std::path::PathBuf;

/// Everything a query of the service can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CoreError {
    /// The request itself is wrong (empty text, a threshold out of range, a model without a text tower...);
    /// the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// The query text could not be embedded.
    #[error("cannot embed the query text")]
    EmbedText {
        #[source]
        source: avx_embed::EmbedError,
    },
    /// Reading or writing a cache file beside the index failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A step of a longer operation failed; the message says what is kept and what to do.
    #[error("{context}")]
    Context {
        context: &'static str,
        #[source]
        source: Box<CoreError>,
    },
    #[error(transparent)]
    Index(#[from] avx_index::IndexError),
    #[error(transparent)]
    Embed(#[from] avx_embed::EmbedError),
    #[error(transparent)]
    Analysis(#[from] avx_index::analysis::AnalysisError),
}

/// Result type of this crate.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

impl CoreError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> CoreError {
        CoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn context(context: &'static str, source: CoreError) -> CoreError {
        CoreError::Context {
            context,
            source: Box::new(source),
        }
    }

    /// Whether the request was at fault (bad arguments, bad uploaded audio) rather than the index or the set-up:
    /// a server answers these with 4xx.
    pub fn is_request_error(&self) -> bool {
        match self {
            CoreError::Invalid(_) => true,
            CoreError::Embed(e) => e.is_per_file(),
            _ => false,
        }
    }
}
