//! avx-embed: audio in, vectors out.
//!
//! The crate answers one question: "here is audio (or text), give me the reference model's vectors".
//! It decodes files with symphonia ([`decode`]), resamples with soxr HQ's filter ([`resample`]), cuts deterministic
//! windows and computes the model's front end ([`frontend`], [`window`]), and runs the model's towers through
//! ONNX Runtime ([`model`]). It never prints and knows nothing about indexes.

pub mod blocks;
pub mod decode;
mod device;
pub mod embedder;
pub mod error;
pub mod family;
pub mod fetch;
pub mod frontend;
pub mod hashes;
pub mod landmarks;
pub mod levels;
pub mod model;
pub mod npy;
pub mod pipeline;
pub mod refine;
pub mod registry;
pub mod resample;
pub mod runtime;
pub mod sanity;
pub mod soundprint;
pub mod speckle;
pub mod wave;
pub mod window;

pub use embedder::{EmbeddedFile, Embedder, Fingerprint, PIPELINE_VERSION};
pub use error::EmbedError;
pub use family::{ModelFrontEnd, ModelInputs};
pub use frontend::FrontEndSpec;
pub use window::{AudioInfo, Window, WindowStream};

/// Result type of this crate.
pub type Result<T, E = EmbedError> = std::result::Result<T, E>;
