//! `avx_index`: an on-disk vector index that never touches audio.
//!
//! An index is a directory holding memory-mapped f32 row files (one per level: file vectors and
//! window vectors), one HNSW graph file per level in our own flat format, and a redb database
//! (`meta.redb`) whose commit is the single atomic commit point. `index-format.md` at the
//! repository root specifies every file and the commit protocol.
//!
//! * [`Index`]: a read-only snapshot of the last commit; lookups, search, iteration, verify.
//! * [`Writer`]: the single writer (holds `LOCK`); upsert, remove, relink, commit, compact.
//! * [`merge`]: several indexes with the same settings into one; [`Shard`]: the `--shard I/N` split.
//!
//! All vectors are expected to be L2-normalised by the caller; scores are dot products (cosine).

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod analysis;
mod build;
pub mod codes;
mod error;
mod exact;
mod extend;
pub mod graph;
mod index;
mod kernel;
pub mod lists;
mod lock;
mod merge;
mod meta;
mod record;
pub mod shard;
pub mod storage;
pub mod vectors;
mod verify;
mod writer;

pub use error::{IndexError, Result};
pub use exact::dot;
pub use graph::GraphReport;
pub use index::{
    FileMeta, Hit, Index, IndexStats, OpenOptions, SearchOptions, VectorRef, DEFAULT_EF,
    EXACT_BELOW_ROWS,
};
pub use merge::{merge, MergeReport};
pub use meta::{FileStatus, IndexSettings, FORMAT_VERSION};
pub use shard::Shard;
pub use storage::{FileSystem, Storage, StorageFile};
pub use vectors::Level;
pub use verify::{verify, Problem, VerifyReport};
pub use writer::{CommitReport, FileRecord, MaintenancePolicy, WindowRecord, Writer};
