//! Algorithms over stored vectors: spherical k-means, near-duplicate grouping, recurring motifs and
//! programme timelines.
//!
//! Everything here takes vectors as a plain row-major `&[f32]` of `n × dim` values and knows nothing about
//! the storage format; neighbour search is pluggable through the [`Neighbours`] trait, so an ANN index can
//! supply candidates for [`duplicate_groups`]. Rows are expected to be L2-normalised embeddings, but every
//! similarity is computed as a true cosine, so unnormalised rows behave as their directions.
//!
//! - [`kmeans()`]: spherical k-means with k-means++ seeding ([`kmeans` module docs](mod@kmeans) for the exact
//!   semantics); deterministic for a seed and bit-identical for any thread count.
//! - [`duplicate_groups`] / [`duplicate_groups_filtered`]: candidates → exact verification → star groups
//!   in which every member scores `>= threshold` against the first member ([`dupes` module docs](dupes)).
//! - [`ExactNeighbours`] (brute force), [`BucketNeighbours`] (k-means buckets with multi-probe,
//!   approximate candidates) and [`GraphNeighbours`] (an HNSW graph of the rows, approximate, `O(n log n)`
//!   for all rows' neighbours) implement [`Neighbours`].
//! - [`recurring()`]: motifs that recur across long recordings, from window links along diagonals
//!   ([`recurring` module docs](mod@recurring)); [`repeats`]: the same recording repeated, from landmark hashes
//!   ([`landmarks` module docs](mod@landmarks)); [`timeline()`]: a recording cut into labelled segments.
//! - [`dot`] / [`cosine`]: the shared vector kernels; [`adjusted_rand_index`] for evaluating clusterings;
//!   [`Rng`]: the small seeded PRNG used throughout.

pub mod ann;
mod ari;
pub mod bucket;
pub mod dupes;
pub mod kmeans;
pub mod landmarks;
mod linalg;
pub mod recurring;
mod rng;
pub mod timeline;

pub use ann::{normalize, GraphConfig, GraphNeighbours};
pub use ari::adjusted_rand_index;
pub use bucket::{BucketConfig, BucketNeighbours};
pub use dupes::{
    duplicate_groups, duplicate_groups_filtered, duplicate_groups_scored, DupGroup, DupesConfig,
    DupesFilter, ExactNeighbours, Neighbours,
};
pub use kmeans::{kmeans, KMeansConfig, KMeansResult};
pub use landmarks::{repeats, LandmarkConfig, RepeatStats};
pub use linalg::{cosine, dot, dot4};
pub use recurring::{center, recurring, sort_motifs, Motif, Occurrence, RecurringConfig, Span};
pub use rng::{splitmix64, Rng};
pub use timeline::{nearest, timeline, LevelTrack, Segment, SegmentKind, TimelineConfig};

/// Errors of the analysis algorithms: all are caller mistakes or bad data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// The dimension is zero.
    #[error("vector dimension must be at least 1")]
    ZeroDim,
    /// The data length is not a multiple of the dimension.
    #[error("{len} values do not form rows of dimension {dim}")]
    DimMismatch { len: usize, dim: usize },
    /// k-means with `k == 0`.
    #[error("k-means needs at least one cluster (k = 0)")]
    ZeroK,
    /// k-means with more clusters than rows.
    #[error("k-means with k = {k} clusters needs at least {k} vectors, got {n}")]
    TooManyClusters { k: usize, n: usize },
    /// A row holds NaN or an infinity.
    #[error("vector {row} holds a non-finite value")]
    NonFinite { row: usize },
    /// A zero row where a direction is needed (k-means).
    #[error("vector {row} is all zeros and has no direction")]
    ZeroVector { row: usize },
    /// A row number (in a filter, or returned by a candidate source) is not below `n`.
    #[error("row {row} is out of range (n = {n})")]
    RowOutOfRange { row: usize, n: usize },
    /// A candidate source's batch answer does not have one entry per requested row.
    #[error("candidate source answered {got} rows for a batch of {expected}")]
    BatchLength { expected: usize, got: usize },
    /// The similarity threshold is NaN.
    #[error("similarity threshold is NaN")]
    InvalidThreshold,
    /// Two labelings of different lengths.
    #[error("labelings differ in length ({left} vs {right})")]
    LengthMismatch { left: usize, right: usize },
}
