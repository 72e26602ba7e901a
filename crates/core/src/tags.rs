//! Zero-shot labels: each label's text vector (through a prompt template) against an audio vector, best first,
//! with the raw cosine. Used by `avx tag` and by cluster labels.

use avx_embed::Embedder;
use serde_json::{json, Value};

use crate::error::{CoreError, Result};
use crate::vocab::VOCABULARY;

/// The prompt template of the built-in vocabulary and of cluster labels.
pub const DEFAULT_TEMPLATE: &str = "This is a sound of {}.";

/// Labels with their text vectors, ready to rank audio vectors.
#[derive(Debug, Clone)]
pub struct LabelSet {
    labels: Vec<String>,
    vectors: Vec<Vec<f32>>,
}

impl LabelSet {
    /// Embeds `labels` (the built-in [`VOCABULARY`] when `None`) through `template` (`{}` marks the label).
    pub fn embed(
        emb: &mut Embedder,
        labels: Option<Vec<String>>,
        template: &str,
    ) -> Result<LabelSet> {
        validate(labels.as_deref(), template)?;
        let labels = labels.unwrap_or_else(|| VOCABULARY.iter().map(|s| s.to_string()).collect());
        let mut vectors = Vec::with_capacity(labels.len());
        for l in &labels {
            vectors.push(emb.embed_text(&template.replace("{}", l))?);
        }
        Ok(LabelSet { labels, vectors })
    }

    /// The labels, in the order given.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Each label's text vector (through the template), in the order of [`labels`](Self::labels).
    pub fn vectors(&self) -> &[Vec<f32>] {
        &self.vectors
    }

    /// The `top` labels closest to `v`, best first, with their cosine.
    pub fn rank(&self, v: &[f32], top: usize) -> Vec<(String, f32)> {
        let mut scored: Vec<(usize, f32)> = self
            .vectors
            .iter()
            .enumerate()
            .map(|(i, t)| (i, avx_index::dot(v, t)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.truncate(top);
        scored
            .into_iter()
            .map(|(i, s)| (self.labels[i].clone(), s))
            .collect()
    }
}

/// The items of a comma-separated list (`avx tag --labels`, `avx timeline --labels`, the server's `labels=` and
/// `like=`), trimmed, empty items dropped.
pub fn comma_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Checks a label list and template before any model is loaded.
pub fn validate(labels: Option<&[String]>, template: &str) -> Result<()> {
    if !template.contains("{}") {
        return Err(CoreError::Invalid(
            "--template must contain {} where the label goes, e.g. 'This is a sound of {}.'".into(),
        ));
    }
    if labels.is_some_and(<[String]>::is_empty) {
        return Err(CoreError::Invalid("--labels is empty".into()));
    }
    Ok(())
}

/// `[{"label": ..., "score": ...}]`, as `tags` and `cluster` objects carry them.
pub fn labels_json(labels: &[(String, f32)]) -> Value {
    Value::Array(
        labels
            .iter()
            .map(|(w, s)| json!({"label": w, "score": s}))
            .collect(),
    )
}
