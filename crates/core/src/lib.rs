//! `avx_core`: the library layer between the command line (or the web server) and the crates below it.
//!
//! One query service, called by `avx` (crates/cli) and `avx serve` (crates/server) alike, so that no query logic
//! is written twice:
//!
//! * [`query`]: similar by file or by vector, search by text; typed [`Hit`]s.
//! * [`dupes`]: near-duplicate [`Group`]s, confirmed by the sound prints of [`prints`].
//! * [`cluster`]: k-means [`Cluster`]s with an exemplar and zero-shot labels.
//! * [`recurring`]: motifs that recur across recordings, confirmed and placed by the audio, for `avx recurring`
//!   and `avx timeline`.
//! * [`timeline`]: one recording as a programme of segments, for `avx timeline` and `avx serve`.
//! * [`tags`]: zero-shot label ranking ([`LabelSet`]), written once for `avx tag` and cluster labels.
//! * [`audio`]: loudness (EBU R128) and waveform peaks of an indexed file, with the loudness cache.
//! * [`sync`]: bringing an index up to date with the files on disk (walk, plan, apply), for `avx index`.
//! * [`paths`]: printing paths losslessly (JSON, path lists, playlists).
//! * [`map`]: a 2-D map of the library from the stored vectors, cached in the index directory.
//!
//! Model and index resolution (which model, which index directory) stays with the caller: functions here take an
//! open [`avx_index::Index`] and, when they need one, an [`avx_embed::Embedder`].

pub mod audio;
pub mod cluster;
pub mod dupes;
mod error;
pub mod map;
pub mod paths;
pub mod prints;
pub mod query;
pub mod recurring;
pub mod sync;
pub mod tags;
pub mod timeline;
pub mod vocab;

pub use cluster::{clusters, Cluster, ClusterMember, ClusterOptions};
pub use dupes::{
    default_threshold, duplicate_groups, gather, groups_among, DupesOptions, Group, GroupMember,
};
pub use error::{CoreError, Result};
pub use paths::{path_bytes, path_json, path_text};
pub use query::{neighbours, stored_vector, Hit, QueryOptions};
pub use tags::LabelSet;

use std::path::PathBuf;

/// A file of the index, as results name it: its id (to ask for its audio, peaks or neighbours) and its path.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRef {
    pub id: u64,
    pub path: PathBuf,
}

impl FileRef {
    /// The file with this id in `index` (an empty path when the id is unknown, which a snapshot never produces).
    pub fn of(index: &avx_index::Index, id: u64) -> FileRef {
        FileRef {
            id,
            path: index
                .file_by_id(id)
                .map(|f| f.path.clone())
                .unwrap_or_default(),
        }
    }

    /// The path as text for people (lossy; JSON uses [`path_json`]).
    pub fn path_text(&self) -> String {
        path_text(&self.path)
    }

    /// The path as JSON: a string, or `{"bytes": BASE64}` for a name that is not UTF-8.
    pub fn path_json(&self) -> serde_json::Value {
        path_json(&self.path)
    }
}
