//! Spherical k-means over file vectors: per cluster its size, exemplar, members and (with a text tower) labels.

use std::path::Path;

use avx_embed::Embedder;
use avx_index::analysis::{kmeans, KMeansConfig, KMeansResult};
use avx_index::{Index, Level};
use serde_json::{json, Value};

use crate::dupes::gather;
use crate::error::{CoreError, Result};
use crate::tags::{labels_json, LabelSet, DEFAULT_TEMPLATE};
use crate::FileRef;

/// Options of [`clusters`].
#[derive(Debug, Clone, Copy)]
pub struct ClusterOptions<'a> {
    /// Number of clusters.
    pub k: usize,
    /// Seed of the k-means initialisation.
    pub seed: u64,
    /// Only files under this directory.
    pub within: Option<&'a Path>,
    /// Labels per cluster (with a labelling model).
    pub labels: usize,
}

/// One member of a [`Cluster`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterMember {
    pub file: FileRef,
    /// Cosine to the cluster's centroid.
    pub similarity: f32,
}

/// One cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// The member closest to the centroid.
    pub exemplar: FileRef,
    /// Zero-shot labels of the centroid, best first (empty without a labelling model).
    pub labels: Vec<(String, f32)>,
    /// Members in index order.
    pub members: Vec<ClusterMember>,
}

impl Cluster {
    /// The JSON object `{"type": "cluster", ...}`; `with_id` adds the `id` of the exemplar and of each member.
    pub fn json(&self, number: usize, with_id: bool) -> Value {
        let mut v = json!({
            "type": "cluster",
            "cluster": number,
            "size": self.members.len(),
            "exemplar": self.exemplar.path_json(),
            "labels": labels_json(&self.labels),
            "members": self.members.iter().map(|m| {
                let mut o = json!({"path": m.file.path_json(), "similarity": m.similarity});
                if with_id { o["id"] = json!(m.file.id); }
                o
            }).collect::<Vec<_>>(),
        });
        if with_id {
            v["exemplar_id"] = json!(self.exemplar.id);
        }
        v
    }

    /// Members best first (closest to the centroid).
    pub fn members_by_similarity(&self) -> Vec<&ClusterMember> {
        let mut sorted: Vec<&ClusterMember> = self.members.iter().collect();
        sorted.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
        sorted
    }
}

/// Runs k-means over the file vectors (300 iterations at most); labels each centroid with `labeller`'s text tower
/// when one is given.
pub fn clusters(
    index: &Index,
    opts: &ClusterOptions,
    labeller: Option<&mut Embedder>,
) -> Result<Vec<Cluster>> {
    let (refs, data) = gather(index, Level::File, opts.within);
    if refs.is_empty() {
        return Err(CoreError::Invalid("no indexed files to cluster".into()));
    }
    if opts.k == 0 || opts.k > refs.len() {
        return Err(CoreError::Invalid(format!(
            "-k must be between 1 and the number of files ({})",
            refs.len()
        )));
    }
    let result = run_kmeans(&data, index.settings().dim as usize, opts.k, opts.seed, 300)?;
    let labels = match labeller {
        Some(emb) => {
            let set = LabelSet::embed(emb, None, DEFAULT_TEMPLATE)?;
            (0..result.k())
                .map(|j| set.rank(result.centroid(j), opts.labels))
                .collect()
        }
        None => vec![Vec::new(); result.k()],
    };
    let file = |pos: usize| FileRef::of(index, refs[pos].file_id);
    Ok(labels
        .into_iter()
        .enumerate()
        .map(|(j, labels)| Cluster {
            exemplar: file(result.exemplars[j]),
            labels,
            members: result
                .members(j)
                .into_iter()
                .map(|m| ClusterMember {
                    file: file(m),
                    similarity: result.similarity[m],
                })
                .collect(),
        })
        .collect())
}

/// Spherical k-means over row-major `data` (used by [`clusters`] and by the map's colours).
pub(crate) fn run_kmeans(
    data: &[f32],
    dim: usize,
    k: usize,
    seed: u64,
    max_iter: usize,
) -> Result<KMeansResult> {
    Ok(kmeans(
        data,
        dim,
        &KMeansConfig {
            k,
            seed,
            max_iter,
            tol: 0.0,
        },
    )?)
}
