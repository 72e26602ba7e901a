//! The tables: names, creation, and the model check. For table `T`:
//!
//! * `T`: one row per embedded file (`path` unique), its metadata, the model fingerprint, the push's `source`
//!   and `sync_key` (what makes pushes incremental), and `embedding vector(DIM)`;
//! * `T_windows`: one row per window (`file_id` references `T.id`, deleted with it), start, end, embedding;
//! * `T_avx`: key/value settings; `settings` is the JSON of the index settings the table was made with.
//!
//! Each has an HNSW index with `vector_cosine_ops`. Schema changes take a transaction-scoped advisory lock, so
//! shards pushing into one table at the same time do not race.

use std::time::{Duration, Instant};

use avx_index::IndexSettings;
use postgres::{Client, Transaction};
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{PgError, Result};

/// The table `avx push` writes when no `--table` is given.
pub const DEFAULT_TABLE: &str = "avx_files";

/// Checks that a table name is a plain lower-case SQL identifier (so that it needs no quoting and its
/// derived names `T_windows`, `T_avx` are identifiers too).
pub fn validate_table_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(PgError::BadTable {
            name: name.to_string(),
        })
    }
}

/// A short stable name of the settings, stored in each row's `model` column: the model name and a hash of
/// every setting (model files, front end, pipeline version, dimension), e.g. `aisfx#1f2e3d4c5b6a7988`.
pub fn fingerprint(settings: &IndexSettings) -> String {
    let json = serde_json::to_string(settings).unwrap_or_default();
    format!("{}#{:016x}", settings.model, xxh3_64(json.as_bytes()))
}

/// The SQL statement names of one table.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub files: String,
    pub windows: String,
    pub settings: String,
}

impl Names {
    pub fn new(table: &str) -> Result<Names> {
        validate_table_name(table)?;
        Ok(Names {
            files: table.to_string(),
            windows: format!("{table}_windows"),
            settings: format!("{table}_avx"),
        })
    }
}

pub(crate) fn query_error(target: &str, what: &str) -> impl FnOnce(postgres::Error) -> PgError {
    let (target, what) = (target.to_string(), what.to_string());
    move |source| PgError::Query {
        target,
        what,
        source,
    }
}

/// Serialises schema changes on one table across concurrent pushes.
fn lock(tx: &mut Transaction<'_>, n: &Names, target: &str) -> Result<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[&format!("avx:{}", n.files)],
    )
    .map_err(query_error(target, "cannot take the schema lock"))?;
    Ok(())
}

/// Makes the `vector` extension available (creating it if this user may).
pub(crate) fn ensure_vector(client: &mut Client, target: &str) -> Result<()> {
    let present = client
        .query_opt("SELECT 1 FROM pg_extension WHERE extname = 'vector'", &[])
        .map_err(query_error(target, "cannot list extensions"))?
        .is_some();
    if !present {
        client
            .batch_execute("CREATE EXTENSION IF NOT EXISTS vector")
            .map_err(|source| PgError::NoVector {
                target: target.to_string(),
                source,
            })?;
    }
    Ok(())
}

/// The settings a table was made with; `None` when the table does not exist.
pub(crate) fn read_settings(
    client: &mut impl postgres::GenericClient,
    n: &Names,
    target: &str,
) -> Result<Option<IndexSettings>> {
    let exists: Option<String> = client
        .query_one("SELECT to_regclass($1)::text", &[&n.settings])
        .map_err(query_error(target, "cannot look up the settings table"))?
        .get(0);
    if exists.is_none() {
        return Ok(None);
    }
    let row = client
        .query_opt(
            &format!("SELECT value FROM {} WHERE key = 'settings'", n.settings),
            &[],
        )
        .map_err(query_error(target, "cannot read the table's settings"))?;
    let Some(row) = row else { return Ok(None) };
    let json: String = row.get(0);
    serde_json::from_str(&json)
        .map(Some)
        .map_err(|e| PgError::ModelMismatch {
            target: target.to_string(),
            table: n.files.clone(),
            found: format!("unreadable settings ({e})"),
            expected: "settings written by avx push".to_string(),
        })
}

/// Creates what is missing (settings, files table, windows table when `segments`) and refuses a table made
/// with other settings, naming both.
pub(crate) fn ensure_tables(
    client: &mut Client,
    n: &Names,
    target: &str,
    settings: &IndexSettings,
    segments: bool,
) -> Result<()> {
    ensure_vector(client, target)?;
    let mut tx = client
        .transaction()
        .map_err(query_error(target, "cannot begin"))?;
    lock(&mut tx, n, target)?;
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, value text NOT NULL)",
        n.settings
    ))
    .map_err(query_error(target, "cannot create the settings table"))?;
    match read_settings(&mut tx, n, target)? {
        Some(stored) => {
            if let Some((found, expected)) = stored.difference(settings) {
                return Err(PgError::ModelMismatch {
                    target: target.to_string(),
                    table: n.files.clone(),
                    found,
                    expected,
                });
            }
        }
        None => {
            let json = serde_json::to_string(settings).unwrap_or_default();
            tx.execute(
                &format!(
                    "INSERT INTO {} (key, value) VALUES ('settings', $1), ('fingerprint', $2)",
                    n.settings
                ),
                &[&json, &fingerprint(settings)],
            )
            .map_err(query_error(target, "cannot store the table's settings"))?;
        }
    }
    let dim = settings.dim;
    // Storage is set once, when a table is made (ALTER TABLE would lock readers out on every push).
    let plain_files = if exists(&mut tx, &n.files, target)? {
        String::new()
    } else {
        plain_storage(&n.files, dim)
    };
    let plain_windows = if exists(&mut tx, &n.windows, target)? {
        String::new()
    } else {
        plain_storage(&n.windows, dim)
    };
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {files} (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            path text NOT NULL UNIQUE,
            root text NOT NULL,
            content_hash text,
            size bigint NOT NULL,
            mtime_ns bigint NOT NULL,
            duration_s double precision NOT NULL,
            sample_rate integer NOT NULL,
            channels smallint NOT NULL,
            codec text NOT NULL,
            model text NOT NULL,
            source text NOT NULL,
            sync_key bigint NOT NULL,
            embedding vector({dim}) NOT NULL
        ); {plain}",
        files = n.files,
        plain = plain_files
    ))
    .map_err(query_error(target, "cannot create the files table"))?;
    if segments {
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {windows} (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                file_id bigint NOT NULL REFERENCES {files}(id) ON DELETE CASCADE,
                start_s real NOT NULL,
                end_s real NOT NULL,
                embedding vector({dim}) NOT NULL
            );
            CREATE INDEX IF NOT EXISTS {windows}_file_id ON {windows} (file_id); {plain}",
            files = n.files,
            windows = n.windows,
            plain = plain_windows
        ))
        .map_err(query_error(target, "cannot create the windows table"))?;
    }
    tx.commit()
        .map_err(query_error(target, "cannot commit the schema"))
}

/// Vectors up to this dimension are stored inline (`STORAGE PLAIN`): a 512-d vector is 2,056 bytes, just over
/// PostgreSQL's 2 kB TOAST threshold, and compressing and moving it out of line slows loads, index builds and
/// searches for nothing (float data does not compress).
const PLAIN_UP_TO_DIM: u32 = 1_900;

fn plain_storage(table: &str, dim: u32) -> String {
    if dim <= PLAIN_UP_TO_DIM {
        format!("ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE PLAIN;")
    } else {
        String::new()
    }
}

/// The session's staging tables of changed files and of windows (emptied at each commit).
pub(crate) fn create_staging(client: &mut Client, target: &str, dim: u32) -> Result<()> {
    client
        .batch_execute(&format!(
            "CREATE TEMP TABLE IF NOT EXISTS avx_stage_files (path text, root text, content_hash text,
                size bigint, mtime_ns bigint, duration_s double precision, sample_rate integer,
                channels smallint, codec text, model text, source text, sync_key bigint,
                embedding vector({dim})) ON COMMIT DELETE ROWS;
             CREATE TEMP TABLE IF NOT EXISTS avx_stage_windows (path text, start_s real, end_s real,
                embedding vector({dim})) ON COMMIT DELETE ROWS;
             {} {}",
            plain_storage("avx_stage_files", dim),
            plain_storage("avx_stage_windows", dim)
        ))
        .map_err(query_error(target, "cannot create the staging tables"))
}

/// Whether a relation exists.
pub(crate) fn exists(
    client: &mut impl postgres::GenericClient,
    name: &str,
    target: &str,
) -> Result<bool> {
    let r: Option<String> = client
        .query_one("SELECT to_regclass($1)::text", &[&name])
        .map_err(query_error(target, "cannot look up a table"))?
        .get(0);
    Ok(r.is_some())
}

/// Builds the HNSW index of `table` when it has none (under the schema lock, so that concurrent pushes build it
/// once); returns the build time when it built one.
pub(crate) fn ensure_hnsw(
    client: &mut Client,
    n: &Names,
    table: &str,
    target: &str,
    m: u32,
    ef_construction: u32,
) -> Result<Option<Duration>> {
    let name = format!("{table}_embedding_hnsw");
    if exists(client, &name, target)? {
        return Ok(None);
    }
    let mut tx = client
        .transaction()
        .map_err(query_error(target, "cannot begin"))?;
    lock(&mut tx, n, target)?;
    if exists(&mut tx, &name, target)? {
        return Ok(None);
    }
    let t = Instant::now();
    tx.batch_execute(&format!(
        "CREATE INDEX {name} ON {table} USING hnsw (embedding vector_cosine_ops) \
         WITH (m = {m}, ef_construction = {ef_construction})"
    ))
    .map_err(query_error(target, "cannot build the HNSW index"))?;
    tx.commit()
        .map_err(query_error(target, "cannot commit the HNSW index"))?;
    Ok(Some(t.elapsed()))
}
