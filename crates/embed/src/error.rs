//! The error type of the crate, grouped by what the caller does next.
//!
//! `Decode`, `Unsupported`, `NoAudio` and `NonFiniteVector` mean "skip this file and report it"; `Io` on an input file means the
//! same; `Config`, `Model` and `Runtime` mean "stop: the set-up is wrong", and their messages say how to fix it.

use std::path::PathBuf;

/// Everything that can go wrong while turning audio or text into vectors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// Reading a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is damaged or is not audio in a format it claims to be.
    #[error("{}: cannot decode: {message}", path.display())]
    Decode {
        /// The file involved.
        path: PathBuf,
        /// What went wrong, for a person.
        message: String,
    },
    /// The file's container or codec is one avx cannot decode.
    #[error("{}: unsupported: {what}", path.display())]
    Unsupported {
        /// The file involved.
        path: PathBuf,
        /// The format or codec, named.
        what: String,
    },
    /// The file decodes but holds no samples.
    #[error("{}: no audio samples in file", path.display())]
    NoAudio {
        /// The file involved.
        path: PathBuf,
    },
    /// The model returned NaN or infinite values for this file (its audio passed every check).
    #[error("{}: the model returned NaN or infinite values for this file; it was not indexed", path.display())]
    NonFiniteVector {
        /// The file involved.
        path: PathBuf,
    },
    /// A model directory or configuration file is missing or wrong.
    #[error("{}: {message}", path.display())]
    Config {
        /// The file or directory involved.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// ONNX Runtime failed while loading or running a model.
    #[error("{}: {message}", path.display())]
    Model {
        /// The model file involved.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The ONNX Runtime library is missing, the wrong version, or a device is unavailable.
    #[error("{message}")]
    Runtime {
        /// What is wrong and the command that fixes it.
        message: String,
    },
    /// Downloading a model failed.
    #[error("{url}: {message}")]
    Fetch {
        /// The address involved.
        url: String,
        /// What went wrong and what to do.
        message: String,
    },
}

impl EmbedError {
    /// True when the error concerns one input file only, so a batch job should record it and go on.
    pub fn is_per_file(&self) -> bool {
        matches!(
            self,
            EmbedError::Io { .. }
                | EmbedError::Decode { .. }
                | EmbedError::Unsupported { .. }
                | EmbedError::NoAudio { .. }
                | EmbedError::NonFiniteVector { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EmbedError::Io {
            path: path.into(),
            source,
        }
    }
}
