//! Similar by file or by vector, search by text: one query vector, nearest neighbours, typed [`Hit`]s.

use std::path::{Path, PathBuf};

use avx_embed::Embedder;
use avx_index::{Index, Level, SearchOptions};
use serde_json::{json, Value};

use crate::error::{CoreError, Result};

/// How to run a query (the options of `avx similar`/`avx search` and of `/api/similar`/`/api/search`).
#[derive(Debug, Clone, Copy)]
pub struct QueryOptions<'a> {
    /// Number of results.
    pub k: usize,
    /// Search window vectors (moments inside long files) instead of file vectors.
    pub segments: bool,
    /// Scan every vector instead of walking the graph.
    pub exact: bool,
    /// Graph beam width (`None`: the index's default).
    pub ef: Option<usize>,
    /// Walk the graph even on a small index (no exact scan below the crossover).
    pub approximate: bool,
    /// Only files under this directory (absolute, canonical, as stored).
    pub within: Option<&'a Path>,
    /// Never return this file (the query file itself).
    pub exclude: Option<&'a Path>,
}

impl Default for QueryOptions<'_> {
    fn default() -> Self {
        QueryOptions {
            k: 20,
            segments: false,
            exact: false,
            ef: None,
            approximate: false,
            within: None,
            exclude: None,
        }
    }
}

/// One result of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// 1-based position in the result list.
    pub rank: usize,
    /// The file's index id.
    pub id: u64,
    pub path: PathBuf,
    /// Cosine similarity.
    pub score: f32,
    /// The file's duration in seconds.
    pub duration_s: f64,
    /// (start, end) in seconds of the matching window, for segment queries.
    pub window: Option<(f32, f32)>,
}

impl Hit {
    /// The JSON object `{"type": "hit", ...}` of README.md's "JSON output"; `with_id` adds the index `id` (the
    /// HTTP API always does).
    pub fn json(&self, with_id: bool) -> Value {
        let mut v = json!({
            "type": "hit",
            "rank": self.rank,
            "score": self.score,
            "path": crate::path_json(&self.path),
            "duration": self.duration_s,
        });
        if with_id {
            v["id"] = json!(self.id);
        }
        if let Some((s, e)) = self.window {
            v["start"] = json!(s);
            v["end"] = json!(e);
        }
        v
    }
}

/// The stored vector of an indexed file that has not changed since it was indexed (same size and mtime): it is
/// the vector avx would compute, so a query by that file needs no model.
pub fn stored_vector(index: &Index, path: &Path) -> Option<Vec<f32>> {
    let fm = index.file_by_path(path)?;
    crate::sync::Stat::of(path)
        .ok()?
        .matches(fm)
        .then(|| index.file_vector(fm).map(<[f32]>::to_vec))
        .flatten()
}

/// The query vector of an audio file: embedded with the index's model, windows every `hop_s` seconds (the
/// index's hop; `None`: the model's default).
pub fn file_vector(emb: &mut Embedder, path: &Path, hop_s: Option<f64>) -> Result<Vec<f32>> {
    Ok(emb.embed_file(path, hop_s, 4)?.vector)
}

/// The query vector of a text: refuses empty text and audio-only models with a message saying what to do.
pub fn text_vector(emb: &mut Embedder, text: &str) -> Result<Vec<f32>> {
    if text.trim().is_empty() {
        return Err(CoreError::Invalid("the search text is empty".into()));
    }
    if !emb.has_text() {
        return Err(CoreError::Invalid(format!(
            "model '{}' (the model of this index) is audio-only: it has no text tower, so it cannot search by \
             words; use `avx similar FILE` to search by sound, or index with a CLAP model (`avx model list`) for text",
            emb.name()
        )));
    }
    emb.embed_text(text)
        .map_err(|source| CoreError::EmbedText { source })
}

/// The nearest neighbours of `vector`, best first.
pub fn neighbours(index: &Index, vector: &[f32], opts: &QueryOptions) -> Result<Vec<Hit>> {
    if vector.len() != index.settings().dim as usize {
        return Err(CoreError::Invalid(format!(
            "the query vector has {} dimensions but the index holds {}: use the model the index was built with",
            vector.len(),
            index.settings().dim
        )));
    }
    let hits = index.search(
        vector,
        &SearchOptions {
            k: opts.k,
            level: if opts.segments {
                Level::Window
            } else {
                Level::File
            },
            exact: opts.exact,
            ef: opts.ef,
            path_prefix: opts.within,
            exclude_path: opts.exclude,
            exact_below_rows: if opts.approximate {
                0
            } else {
                SearchOptions::default().exact_below_rows
            },
        },
    )?;
    Ok(hits
        .into_iter()
        .enumerate()
        .map(|(i, h)| Hit {
            rank: i + 1,
            id: h.file_id,
            duration_s: index.file_by_id(h.file_id).map_or(0.0, |f| f.duration_s),
            path: h.path,
            score: h.score,
            window: h.window,
        })
        .collect())
}
