//! [`Db`]: a pushed table, queried. Nearest neighbours by cosine through pgvector's HNSW index (or an exact
//! scan), and every vector (with its path and window) for the duplicate finder, which then runs locally exactly
//! as on a local index.

use std::path::{Path, PathBuf};

use avx_index::IndexSettings;
use pgvector::Vector;
use postgres::Client;

use crate::conn::Target;
use crate::error::{PgError, Result};
use crate::pathtext;
use crate::schema::{self, query_error, Names};

/// The `hnsw.ef_search` used when the caller gives none (pgvector's own default is 40). README.md reports the
/// recall@10 measured with it.
pub const DEFAULT_EF_SEARCH: u32 = 100;

/// A connected avx table.
pub struct Db {
    client: Client,
    target: String,
    names: Names,
    settings: IndexSettings,
    has_windows: bool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("target", &self.target)
            .field("table", &self.names.files)
            .finish()
    }
}

/// One nearest-neighbour query.
#[derive(Debug, Clone)]
pub struct DbQuery<'a> {
    pub vector: &'a [f32],
    pub k: usize,
    /// Search windows (`TABLE_windows`) instead of files.
    pub segments: bool,
    /// Exact scan instead of the HNSW index.
    pub exact: bool,
    /// `hnsw.ef_search` (default [`DEFAULT_EF_SEARCH`]).
    pub ef_search: Option<u32>,
    /// Only paths under this directory.
    pub within: Option<&'a Path>,
    /// Leave out this path (the query file itself).
    pub exclude: Option<&'a Path>,
}

/// One result: as a local index's `Hit`, with the file's duration.
#[derive(Debug, Clone, PartialEq)]
pub struct DbHit {
    /// The file's row id in the files table (`id` column): stable across pushes while the file is unchanged.
    pub id: u64,
    pub path: PathBuf,
    /// Cosine similarity.
    pub score: f32,
    pub duration_s: f64,
    pub window: Option<(f32, f32)>,
}

/// One stored vector with its file and window.
#[derive(Debug, Clone, PartialEq)]
pub struct DbVector {
    pub path: PathBuf,
    pub window: Option<(f32, f32)>,
    pub vector: Vec<f32>,
}

/// `dir` as a text prefix that matches the paths under it (component-wise, as `Path::starts_with`).
fn dir_prefix(dir: &Path) -> String {
    let s = pathtext::to_text(dir);
    if s.ends_with('/') {
        s
    } else {
        format!("{s}/")
    }
}

impl Db {
    /// Connects and reads the table's settings; a missing table is an error saying to push first.
    pub fn open(target: &Target, table: &str) -> Result<Db> {
        let t = target.to_string();
        let names = Names::new(table)?;
        let mut client = target.connect()?;
        let settings =
            schema::read_settings(&mut client, &names, &t)?.ok_or_else(|| PgError::NoTable {
                target: t.clone(),
                table: table.to_string(),
            })?;
        let has_windows = schema::exists(&mut client, &names.windows, &t)?;
        Ok(Db {
            client,
            target: t,
            names,
            settings,
            has_windows,
        })
    }

    /// The settings (model, front end, dimension) the table was made with.
    pub fn settings(&self) -> &IndexSettings {
        &self.settings
    }

    fn need_windows(&self) -> Result<()> {
        if self.has_windows {
            Ok(())
        } else {
            Err(PgError::NoTable {
                target: self.target.clone(),
                table: format!("{} (windows: push with --segments)", self.names.windows),
            })
        }
    }

    /// The `k` nearest rows by cosine similarity, best first.
    pub fn search(&mut self, q: &DbQuery<'_>) -> Result<Vec<DbHit>> {
        if q.segments {
            self.need_windows()?;
        }
        let t = self.target.clone();
        let within = q.within.map(dir_prefix);
        let exclude = q.exclude.map(pathtext::to_text);
        let v = Vector::from(q.vector.to_vec());
        let k = q.k as i64;
        let mut tx = self
            .client
            .transaction()
            .map_err(query_error(&t, "cannot begin"))?;
        let mut settings = format!(
            "SET LOCAL hnsw.ef_search = {};",
            q.ef_search.unwrap_or(DEFAULT_EF_SEARCH).clamp(1, 1000)
        );
        if within.is_some() || exclude.is_some() {
            // Filters are applied after the graph search: keep scanning until k rows pass them.
            settings.push_str("SET LOCAL hnsw.iterative_scan = relaxed_order;");
        }
        if q.exact {
            settings.push_str("SET LOCAL enable_indexscan = off;");
        }
        tx.batch_execute(&settings)
            .map_err(query_error(&t, "cannot set the search parameters"))?;
        let filter =
            "($2::text IS NULL OR starts_with(f.path, $2)) AND ($3::text IS NULL OR f.path <> $3)";
        let sql = if q.segments {
            format!(
                "SELECT f.path, f.duration_s, (w.embedding <=> $1)::float8 AS d, f.id, w.start_s, w.end_s \
                 FROM {w} w JOIN {f} f ON f.id = w.file_id WHERE {filter} \
                 ORDER BY w.embedding <=> $1 LIMIT $4",
                w = self.names.windows,
                f = self.names.files
            )
        } else {
            format!(
                "SELECT f.path, f.duration_s, (f.embedding <=> $1)::float8 AS d, f.id \
                 FROM {f} f WHERE {filter} ORDER BY f.embedding <=> $1 LIMIT $4",
                f = self.names.files
            )
        };
        let rows = tx
            .query(&sql, &[&v, &within, &exclude, &k])
            .map_err(query_error(&t, "cannot search"))?;
        tx.commit().map_err(query_error(&t, "cannot commit"))?;
        let mut hits: Vec<DbHit> = rows
            .iter()
            .map(|r| {
                let path: String = r.get(0);
                let d: f64 = r.get(2);
                let id: i64 = r.get(3);
                DbHit {
                    id: id as u64,
                    path: pathtext::from_text(&path),
                    score: (1.0 - d) as f32,
                    duration_s: r.get(1),
                    window: q.segments.then(|| (r.get(4), r.get(5))),
                }
            })
            .collect();
        // relaxed_order may return rows slightly out of order.
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(hits)
    }

    /// Every vector of the table (files, or windows), optionally under a directory, ordered by path (and
    /// window start).
    pub fn vectors(&mut self, segments: bool, within: Option<&Path>) -> Result<Vec<DbVector>> {
        if segments {
            self.need_windows()?;
        }
        let within = within.map(dir_prefix);
        let sql = if segments {
            format!(
                "SELECT f.path, w.embedding, w.start_s, w.end_s FROM {w} w JOIN {f} f ON f.id = w.file_id \
                 WHERE $1::text IS NULL OR starts_with(f.path, $1) ORDER BY f.path, w.start_s",
                w = self.names.windows,
                f = self.names.files
            )
        } else {
            format!(
                "SELECT f.path, f.embedding FROM {f} f WHERE $1::text IS NULL OR starts_with(f.path, $1) \
                 ORDER BY f.path",
                f = self.names.files
            )
        };
        let rows = self
            .client
            .query(&sql, &[&within])
            .map_err(query_error(&self.target, "cannot read vectors"))?;
        Ok(rows
            .iter()
            .map(|r| {
                let path: String = r.get(0);
                let v: Vector = r.get(1);
                DbVector {
                    path: pathtext::from_text(&path),
                    window: segments.then(|| (r.get(2), r.get(3))),
                    vector: v.to_vec(),
                }
            })
            .collect())
    }
}
