//! [`push`]: sync one local index into a table, sending only what changed.
//!
//! Each file row carries a `sync_key`: a hash of everything pushed for it (path, root, metadata, the settings'
//! fingerprint, the file vector and, with `--segments`, every window). A push reads `(path, sync_key)` of the
//! table, upserts the files whose key differs or that are missing, and deletes the rows of its own `source`
//! (by default the index directory) whose file is no longer in the index. A second push of an unchanged index
//! therefore writes nothing.
//!
//! Files go in batches, one transaction each. Files the table lacks are sent by binary `COPY` straight into
//! it; changed files by binary `COPY` into a temporary staging table, then one `INSERT ... ON CONFLICT (path)
//! DO UPDATE` (and their windows replaced). A push killed at any point leaves whole batches committed and
//! nothing else; the next push sees the missing keys and completes it. (Two pushes adding the same new path at
//! the same moment make the later batch fail on the unique path; running it again upserts.)

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use avx_index::{FileMeta, Index};
use pgvector::Vector;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use postgres::Transaction;
use xxhash_rust::xxh3::Xxh3;

use crate::conn::Target;
use crate::error::Result;
use crate::pathtext;
use crate::schema::{self, fingerprint, query_error, Names};

/// Test hook: milliseconds to sleep after each committed batch (lets a test kill a push mid-way).
pub const PAUSE_ENV: &str = "AVX_PG_PAUSE_AFTER_BATCH_MS";

/// What to push and how.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Table name (see [`crate::validate_table_name`]).
    pub table: String,
    /// Also push every window's vector into `TABLE_windows`.
    pub segments: bool,
    /// HNSW parameters of the indexes built when missing.
    pub hnsw_m: u32,
    pub hnsw_ef_construction: u32,
    /// Who owns the rows this push writes: a push deletes only its own source's rows of removed files, so that
    /// shards pushed from several machines into one table do not delete each other's files.
    pub source: String,
    /// Library roots: a file's `root` is the longest of these that contains it, else its path's first two
    /// components (e.g. `/mnt/radio`).
    pub roots: Vec<PathBuf>,
    /// Files per batch (one `COPY` and one upsert each).
    pub batch_files: usize,
    /// Build the HNSW indexes when missing (a bulk load from several machines may build once, at the end).
    pub build_hnsw: bool,
}

impl PushOptions {
    /// Defaults: table `avx_files`, no windows, m = 16, ef_construction = 200, batches of 5,000 files.
    pub fn new(source: impl Into<String>) -> PushOptions {
        PushOptions {
            table: crate::DEFAULT_TABLE.to_string(),
            segments: false,
            hnsw_m: 16,
            hnsw_ef_construction: 200,
            source: source.into(),
            roots: Vec::new(),
            batch_files: 5_000,
            build_hnsw: true,
        }
    }
}

/// Progress of the upload, after each batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushProgress {
    pub files_done: u64,
    pub files_total: u64,
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PushReport {
    /// Files already in the table as they are in the index.
    pub unchanged: u64,
    /// Files written (new or changed).
    pub upserted: u64,
    /// Rows deleted because their file left the index.
    pub deleted: u64,
    /// Window rows written.
    pub windows: u64,
    /// Time spent sending and upserting batches.
    pub upload: Duration,
    /// The database's HNSW build times (files, windows) when this push built the indexes.
    pub hnsw_build: [Option<Duration>; 2],
}

/// The `root` column of a file.
fn root_of(path: &Path, roots: &[PathBuf]) -> String {
    let root: PathBuf = roots
        .iter()
        .filter(|r| path.starts_with(r))
        .max_by_key(|r| r.as_os_str().len())
        .cloned()
        .unwrap_or_else(|| path.components().take(3).collect());
    pathtext::to_text(&root)
}

/// One file as pushed.
struct Row<'a> {
    meta: &'a FileMeta,
    path: String,
    root: String,
    vector: &'a [f32],
    windows: Vec<((f32, f32), &'a [f32])>,
    key: i64,
}

fn sync_key(r: &Row<'_>, fp: &str, segments: bool) -> i64 {
    let f = r.meta;
    let mut h = Xxh3::new();
    for s in [r.path.as_str(), r.root.as_str(), fp, f.codec.as_str()] {
        h.update(&(s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    h.update(&f.content_hash.unwrap_or(0).to_le_bytes());
    h.update(&f.size.to_le_bytes());
    h.update(&f.mtime_ns.to_le_bytes());
    h.update(&f.duration_s.to_le_bytes());
    h.update(&f.sample_rate.to_le_bytes());
    h.update(&f.channels.to_le_bytes());
    h.update(&[segments as u8]);
    for x in r.vector {
        h.update(&x.to_le_bytes());
    }
    if segments {
        for ((s, e), v) in &r.windows {
            h.update(&s.to_le_bytes());
            h.update(&e.to_le_bytes());
            for x in *v {
                h.update(&x.to_le_bytes());
            }
        }
    }
    h.digest() as i64
}

/// Pushes `index` into the table of `opts` at `target`; `progress` is called after each batch.
pub fn push(
    target: &Target,
    index: &Index,
    opts: &PushOptions,
    progress: &mut dyn FnMut(PushProgress),
) -> Result<PushReport> {
    let t = target.to_string();
    let n = Names::new(&opts.table)?;
    let settings = index.settings();
    let fp = fingerprint(settings);
    let mut client = target.connect()?;
    schema::ensure_tables(&mut client, &n, &t, settings, opts.segments)?;

    let mut stored: HashMap<String, (i64, String)> = HashMap::new();
    for row in client
        .query(
            &format!("SELECT path, sync_key, source FROM {}", n.files),
            &[],
        )
        .map_err(query_error(&t, "cannot read the table's sync keys"))?
    {
        stored.insert(row.get(0), (row.get(1), row.get(2)));
    }

    let mut report = PushReport::default();
    let mut local: HashSet<String> = HashSet::new();
    // Files the table does not have go straight into it by COPY; changed ones through staging and an upsert.
    let mut fresh: Vec<Row<'_>> = Vec::new();
    let mut changed: Vec<Row<'_>> = Vec::new();
    for f in index.files() {
        let Some(vector) = index.file_vector(f) else {
            continue; // failed files have no vector
        };
        let path = pathtext::to_text(&f.path);
        let mut row = Row {
            meta: f,
            root: root_of(&f.path, &opts.roots),
            path,
            vector,
            windows: if opts.segments {
                index.window_vectors_of(f)
            } else {
                Vec::new()
            },
            key: 0,
        };
        row.key = sync_key(&row, &fp, opts.segments);
        local.insert(row.path.clone());
        match stored.get(&row.path) {
            Some((k, _)) if *k == row.key => report.unchanged += 1,
            Some(_) => changed.push(row),
            None => fresh.push(row),
        }
    }

    let gone: Vec<String> = stored
        .iter()
        .filter(|(p, (_, src))| *src == opts.source && !local.contains(*p))
        .map(|(p, _)| p.clone())
        .collect();
    if !gone.is_empty() {
        let mut tx = client
            .transaction()
            .map_err(query_error(&t, "cannot begin"))?;
        for chunk in gone.chunks(10_000) {
            report.deleted += tx
                .execute(
                    &format!("DELETE FROM {} WHERE path = ANY($1)", n.files),
                    &[&chunk],
                )
                .map_err(query_error(&t, "cannot delete removed files"))?;
        }
        tx.commit()
            .map_err(query_error(&t, "cannot commit deletions"))?;
    }

    let windows_table = schema::exists(&mut client, &n.windows, &t)?;
    let pause = std::env::var(PAUSE_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis);
    let started = Instant::now();
    let total = (fresh.len() + changed.len()) as u64;
    schema::create_staging(&mut client, &t, settings.dim)?;
    let mut done = 0u64;
    progress(PushProgress {
        files_done: 0,
        files_total: total,
    });
    let size = opts.batch_files.max(1);
    let batches = fresh
        .chunks(size)
        .map(|b| (b, true))
        .chain(changed.chunks(size).map(|b| (b, false)));
    for (batch, new) in batches {
        let mut tx = client
            .transaction()
            .map_err(query_error(&t, "cannot begin a batch"))?;
        let ctx = BatchCtx {
            n: &n,
            t: &t,
            fp: &fp,
            opts,
            windows_table,
        };
        report.windows += upload_batch(&mut tx, &ctx, batch, new)?;
        tx.commit()
            .map_err(query_error(&t, "cannot commit a batch"))?;
        done += batch.len() as u64;
        report.upserted += batch.len() as u64;
        progress(PushProgress {
            files_done: done,
            files_total: total,
        });
        if let Some(p) = pause {
            std::thread::sleep(p);
        }
    }
    report.upload = started.elapsed();

    if !opts.build_hnsw {
        return Ok(report);
    }
    report.hnsw_build[0] = schema::ensure_hnsw(
        &mut client,
        &n,
        &n.files,
        &t,
        opts.hnsw_m,
        opts.hnsw_ef_construction,
    )?;
    if opts.segments {
        report.hnsw_build[1] = schema::ensure_hnsw(
            &mut client,
            &n,
            &n.windows,
            &t,
            opts.hnsw_m,
            opts.hnsw_ef_construction,
        )?;
    }
    Ok(report)
}

const FILE_COLUMNS: &str =
    "path, root, content_hash, size, mtime_ns, duration_s, sample_rate, channels, codec, \
                            model, source, sync_key, embedding";

/// What every batch of one push shares.
struct BatchCtx<'a> {
    n: &'a Names,
    t: &'a str,
    fp: &'a str,
    opts: &'a PushOptions,
    windows_table: bool,
}

/// One batch inside its transaction. Files the table lacks (`new`) are copied straight into it; changed ones
/// are copied into the staging table and upserted, and their old windows deleted. Then the batch's windows
/// are staged and inserted. Returns the number of window rows written.
fn upload_batch(
    tx: &mut Transaction<'_>,
    c: &BatchCtx<'_>,
    batch: &[Row<'_>],
    new: bool,
) -> Result<u64> {
    let BatchCtx {
        n,
        t,
        fp,
        opts,
        windows_table,
    } = *c;
    let vector_type = vector_type(tx, t)?;
    let into = if new {
        n.files.as_str()
    } else {
        "avx_stage_files"
    };
    let sink = tx
        .copy_in(&format!(
            "COPY {into} ({FILE_COLUMNS}) FROM STDIN (FORMAT binary)"
        ))
        .map_err(query_error(t, "cannot start COPY"))?;
    let types = [
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::INT8,
        Type::FLOAT8,
        Type::INT4,
        Type::INT2,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        vector_type.clone(),
    ];
    let mut w = BinaryCopyInWriter::new(sink, &types);
    for r in batch {
        let f = r.meta;
        let hash = f.content_hash.map(|h| format!("{h:032x}"));
        let size = f.size as i64;
        let sr = f.sample_rate as i32;
        let ch = f.channels as i16;
        let v = Vector::from(r.vector.to_vec());
        let values: [&(dyn ToSql + Sync); 13] = [
            &r.path,
            &r.root,
            &hash,
            &size,
            &f.mtime_ns,
            &f.duration_s,
            &sr,
            &ch,
            &f.codec,
            &fp,
            &opts.source,
            &r.key,
            &v,
        ];
        w.write(&values)
            .map_err(query_error(t, "cannot send a row"))?;
    }
    w.finish().map_err(query_error(t, "cannot finish COPY"))?;

    if !new {
        let updates = FILE_COLUMNS
            .split(", ")
            .filter(|c| *c != "path")
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        tx.batch_execute(&format!(
            "INSERT INTO {files} ({FILE_COLUMNS}) SELECT {FILE_COLUMNS} FROM avx_stage_files \
             ON CONFLICT (path) DO UPDATE SET {updates}",
            files = n.files
        ))
        .map_err(query_error(t, "cannot upsert a batch"))?;
        if windows_table {
            tx.batch_execute(&format!(
                "DELETE FROM {windows} w USING avx_stage_files s, {files} f \
                 WHERE f.path = s.path AND w.file_id = f.id",
                files = n.files,
                windows = n.windows
            ))
            .map_err(query_error(t, "cannot delete replaced windows"))?;
        }
    }
    if !windows_table || !opts.segments {
        return Ok(0);
    }
    let sink = tx
        .copy_in(
            "COPY avx_stage_windows (path, start_s, end_s, embedding) FROM STDIN (FORMAT binary)",
        )
        .map_err(query_error(t, "cannot start COPY"))?;
    let mut w =
        BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::FLOAT4, Type::FLOAT4, vector_type]);
    let mut written = 0u64;
    for r in batch {
        for ((s, e), v) in &r.windows {
            let v = Vector::from(v.to_vec());
            w.write(&[&r.path, s, e, &v])
                .map_err(query_error(t, "cannot send a window"))?;
            written += 1;
        }
    }
    w.finish().map_err(query_error(t, "cannot finish COPY"))?;
    tx.batch_execute(&format!(
        "INSERT INTO {windows} (file_id, start_s, end_s, embedding) \
         SELECT f.id, s.start_s, s.end_s, s.embedding FROM avx_stage_windows s JOIN {files} f ON f.path = s.path",
        files = n.files,
        windows = n.windows
    ))
    .map_err(query_error(t, "cannot insert windows"))?;
    Ok(written)
}

/// The `vector` type of this database (its OID differs between databases).
pub(crate) fn vector_type(client: &mut impl postgres::GenericClient, t: &str) -> Result<Type> {
    let stmt = client
        .prepare("SELECT NULL::vector")
        .map_err(query_error(t, "cannot look up the vector type"))?;
    Ok(stmt.columns()[0].type_().clone())
}

/// The default `source` of a push: this machine's host name and the index directory, e.g.
/// `studio-3:/home/me/.local/share/avx/index`.
pub fn default_source(index_dir: &Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "localhost".to_string());
    let dir = index_dir
        .canonicalize()
        .unwrap_or_else(|_| index_dir.to_path_buf());
    format!("{}:{}", host.trim(), dir.display())
}
