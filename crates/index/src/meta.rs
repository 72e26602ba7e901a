//! The manifest: redb tables for files, windows, row batches and index-wide settings, plus the
//! `meta.sum` sidecar holding a whole-file checksum of `meta.redb` as of the last commit.
//!
//! redb locks its file per process, so nobody keeps the database open: readers open it read-only,
//! copy what they need in one read transaction, and close; the writer opens it for each commit.
//! Both retry with a short backoff while the other holds it. The redb commit is the one atomic
//! commit point of the index (see `index-format.md`, "Commit protocol").

use std::collections::BTreeSet;
use std::fs;
use std::ops::Bound;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redb::{
    MultimapTableDefinition, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::error::{IndexError, Result};
use crate::graph::GraphView;
use crate::record::{record_struct, Reader, Record};
use crate::storage::{FileSystem, Storage};
use crate::vectors::{sync_dir, u32_at, u64_at, Level};

/// Version of the index format as a whole (manifest schema, file layouts) written by this build.
pub const FORMAT_VERSION: u32 = 1;

pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(crate) const FILES: TableDefinition<u64, &[u8]> = TableDefinition::new("files");
pub(crate) const PATHS: TableDefinition<&[u8], u64> = TableDefinition::new("paths");
pub(crate) const HASHES: MultimapTableDefinition<u128, u64> =
    MultimapTableDefinition::new("hashes");
/// (level code, first row) -> (row count, xxh3-64 of the rows' bytes)
pub(crate) const BATCHES: TableDefinition<(u32, u64), (u64, u64)> = TableDefinition::new("batches");

pub(crate) const KEY_FORMAT: &str = "format";
pub(crate) const KEY_SETTINGS: &str = "settings";
pub(crate) const KEY_STATE: &str = "state";

const SUM_MAGIC: [u8; 8] = *b"AVXMSUM\0";
const SUM_LEN: usize = 64;
/// How long readers and the writer wait for each other's hold on `meta.redb`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
const CACHE_BYTES: usize = 64 << 20;
/// redb page cache of the read-only open in [`MetaPaths::load`]: none. That open reads every record
/// once and is closed, so a cache only adds insertion and eviction work (1M files on 2 cores, when
/// the records were still read on one core: the whole `Index::open` took 740 ms without it, 850 ms
/// with 64 MiB).
const LOAD_CACHE_BYTES: usize = 0;

/// Exponential back-off (1 ms doubling to 50 ms) while another process holds `meta.redb`, giving up with
/// [`IndexError::Busy`] after [`BUSY_TIMEOUT`].
struct Backoff {
    start: Instant,
    pause: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff {
            start: Instant::now(),
            pause: Duration::from_millis(1),
        }
    }

    fn wait(&mut self, db: &Path) -> Result<()> {
        if self.start.elapsed() > BUSY_TIMEOUT {
            return Err(IndexError::Busy {
                path: db.to_path_buf(),
                waited_ms: self.start.elapsed().as_millis() as u64,
            });
        }
        std::thread::sleep(self.pause);
        self.pause = (self.pause * 2).min(Duration::from_millis(50));
        Ok(())
    }
}

/// How the canonical front-end text starts; settings whose `frontend` does not start so come from an index
/// made before it and are compared without the front end.
const CANONICAL_FRONTEND_PREFIX: &str = "avx-frontend/";

/// Index-wide settings: which model and pipeline produced the vectors. An index refuses to be
/// written or searched with vectors from different settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSettings {
    /// Model name, e.g. `laion/clap-htsat-unfused`.
    pub model: String,
    /// Hashes of the model files, as (file name, hex digest) pairs.
    pub model_hashes: Vec<(String, String)>,
    /// The model family (`clap`, `aisfx`); empty in indexes made before this field existed.
    #[serde(default)]
    pub family: String,
    /// The front end as text, as given by the caller (avx: the canonical text of `index-format.md`, "Front-end
    /// text", starting `avx-frontend/`).
    pub frontend: String,
    /// Version of the embedding pipeline (decode, resample, window, pool).
    pub pipeline_version: u32,
    /// Vector dimension.
    pub dim: u32,
}

impl IndexSettings {
    /// Settings for vectors of dimension `dim` that no model made (tests, benchmarks, examples): model and front
    /// end `synthetic`, no model files, pipeline version 1.
    pub fn synthetic(dim: u32) -> IndexSettings {
        IndexSettings {
            model: "synthetic".into(),
            model_hashes: vec![],
            family: String::new(),
            frontend: "synthetic".into(),
            pipeline_version: 1,
            dim,
        }
    }

    /// Compares with the settings an index was built with (`stored`, of the index in `dir`); `Err`
    /// ([`IndexError::ModelMismatch`]) names what differs, stored value and this one. Indexes made before the
    /// `family` field and the canonical front-end text (a Rust `Debug` string) are compared on everything
    /// else: model, model files, pipeline version and dimension.
    pub fn check_against(&self, stored: &IndexSettings, dir: &Path) -> Result<()> {
        match stored.difference(self) {
            Some((found, expected)) => Err(IndexError::ModelMismatch {
                path: dir.to_path_buf(),
                found,
                expected,
            }),
            None => Ok(()),
        }
    }

    /// The first setting in which `self` (the stored side) differs from `other`, as (`self`'s value, `other`'s
    /// value), each named (e.g. "dimension 512"); `None` when they are equal. A `self` without a family, or with
    /// a front-end text older than the canonical one, is not compared on those.
    pub fn difference(&self, other: &IndexSettings) -> Option<(String, String)> {
        let named =
            |what: &str, a: String, b: String| Some((format!("{what} {a}"), format!("{what} {b}")));
        if self.model != other.model {
            return named("model", self.model.clone(), other.model.clone());
        }
        if self.model_hashes != other.model_hashes {
            return named(
                "model files",
                format!("{:?}", self.model_hashes),
                format!("{:?}", other.model_hashes),
            );
        }
        if self.pipeline_version != other.pipeline_version {
            return named(
                "pipeline version",
                self.pipeline_version.to_string(),
                other.pipeline_version.to_string(),
            );
        }
        if self.dim != other.dim {
            return named("dimension", self.dim.to_string(), other.dim.to_string());
        }
        if !self.family.is_empty() && self.family != other.family {
            return named("model family", self.family.clone(), other.family.clone());
        }
        let canonical = |f: &str| f.starts_with(CANONICAL_FRONTEND_PREFIX);
        if canonical(&self.frontend) && self.frontend != other.frontend {
            return named(
                "front-end parameters",
                self.frontend.clone(),
                other.frontend.clone(),
            );
        }
        None
    }
}

/// Whether a file was embedded or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileStatus {
    Ok,
    Failed,
}

/// A file's record as stored in the `files` table (see [`crate::record`] for the encoding).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FileEntry {
    pub path: Vec<u8>,
    pub size: u64,
    pub mtime_ns: i64,
    pub content_hash: Option<u128>,
    pub duration_s: f64,
    pub sample_rate: u32,
    pub channels: u16,
    pub codec: String,
    pub status: FileStatus,
    pub error: Option<String>,
    pub vector_row: Option<u64>,
    pub window_first_row: u64,
    pub windows: Vec<(f32, f32)>,
}

record_struct!(FileEntry {
    path,
    size,
    mtime_ns,
    content_hash,
    duration_s,
    sample_rate,
    channels,
    codec,
    status,
    error,
    vector_row,
    window_first_row,
    windows,
});

/// A unit variant: its index as `u32` (`Ok` 0, `Failed` 1).
impl Record for FileStatus {
    fn put(&self, out: &mut Vec<u8>) {
        (*self as u32).put(out);
    }
    fn take(r: &mut Reader<'_>) -> std::result::Result<Self, String> {
        match u32::take(r)? {
            0 => Ok(FileStatus::Ok),
            1 => Ok(FileStatus::Failed),
            t => Err(format!("unknown file status {t}")),
        }
    }
}

impl FileEntry {
    pub fn window_rows(&self) -> std::ops::Range<u64> {
        self.window_first_row..self.window_first_row + self.windows.len() as u64
    }
}

/// Where a level's graph file is and what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GraphRef {
    pub generation: u64,
    /// The graph indexes live rows below this row number; rows at or past it are the "tail".
    pub rows_covered: u64,
    pub points: u64,
    pub file_len: u64,
    /// xxh3-64 in the graph file's footer, repeated here to tie the file to this commit.
    pub checksum: u64,
}

impl GraphRef {
    /// Maps the graph file of `level` in `dir` that this reference names and checks that it is that file: its
    /// header, footer and section bounds, its footer checksum, point count, covered rows and level, and (if
    /// `full`) the checksum of its whole body.
    pub fn open(&self, dir: &Path, level: Level, full: bool) -> Result<GraphView> {
        let p = dir.join(level.graph_file_name(self.generation));
        let view = GraphView::open(&p, full)?;
        if view.checksum() != self.checksum
            || view.points != self.points
            || view.rows_covered != self.rows_covered
            || view.level != level
        {
            return Err(IndexError::corrupt(
                &p,
                "graph file does not match the manifest",
            ));
        }
        Ok(view)
    }
}

record_struct!(GraphRef {
    generation,
    rows_covered,
    points,
    file_len,
    checksum,
});

/// Per-level state in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LevelState {
    pub generation: u64,
    pub rows: u64,
    pub graph: Option<GraphRef>,
}

record_struct!(LevelState {
    generation,
    rows,
    graph,
});

/// The `state` record: everything that changes at each commit besides file records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct State {
    pub next_file_id: u64,
    pub levels: [LevelState; 2],
    /// Number of commits so far (diagnostics and tests).
    pub commits: u64,
}

record_struct!(State {
    next_file_id,
    levels,
    commits,
});

impl State {
    pub fn level(&self, l: Level) -> &LevelState {
        &self.levels[l.code() as usize]
    }

    /// The names of the files of an index directory that this commit needs: the manifest, its sidecar, the
    /// writer lock, and the current row file and graph of each level. Anything else of ours is garbage.
    pub fn referenced_files(&self) -> BTreeSet<String> {
        let mut keep: BTreeSet<String> = ["meta.redb", "meta.sum", "LOCK"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for level in [Level::File, Level::Window] {
            let ls = self.level(level);
            keep.insert(level.row_file_name(ls.generation));
            if let Some(g) = ls.graph {
                keep.insert(level.graph_file_name(g.generation));
            }
        }
        keep
    }
}

pub(crate) fn encode<T: Record>(v: &T) -> Vec<u8> {
    crate::record::to_bytes(v)
}

pub(crate) fn decode<T: Record>(b: &[u8], path: &Path, what: &str) -> Result<T> {
    crate::record::from_bytes(b)
        .map_err(|e| IndexError::corrupt(path, format!("undecodable {what}: {e}")))
}

/// Everything a reader copies out of the manifest; `T` is what each file record becomes.
#[derive(Debug, Clone)]
pub(crate) struct Loaded<T = (u64, FileEntry)> {
    pub settings: IndexSettings,
    pub state: State,
    /// In file id order.
    pub files: Vec<T>,
}

/// The sidecar `meta.sum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sidecar {
    /// True between the start of a commit and the moment its checksum is recorded.
    pub in_commit: bool,
    pub len: u64,
    pub hash: u64,
}

impl Sidecar {
    pub fn encode(&self) -> [u8; SUM_LEN] {
        let mut b = [0u8; SUM_LEN];
        b[0..8].copy_from_slice(&SUM_MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(self.in_commit as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.len.to_le_bytes());
        b[24..32].copy_from_slice(&self.hash.to_le_bytes());
        let s = xxh3_64(&b[0..56]);
        b[56..64].copy_from_slice(&s.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8], path: &Path) -> Result<Sidecar> {
        if b.len() != SUM_LEN || b[0..8] != SUM_MAGIC {
            return Err(IndexError::corrupt(path, "bad length or magic number"));
        }
        let version = u32_at(b, 8);
        if version > FORMAT_VERSION {
            return Err(IndexError::NewerFormat {
                path: path.to_path_buf(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if u64_at(b, 56) != xxh3_64(&b[0..56]) {
            return Err(IndexError::corrupt(path, "checksum mismatch"));
        }
        let flag = u32_at(b, 12);
        if version == 0 || flag > 1 || b[32..56] != [0; 24] {
            return Err(IndexError::corrupt(path, "inconsistent fields"));
        }
        Ok(Sidecar {
            in_commit: flag == 1,
            len: u64_at(b, 16),
            hash: u64_at(b, 24),
        })
    }
}

/// Paths of the manifest files of an index directory, and the storage its writes go through.
#[derive(Debug, Clone)]
pub(crate) struct MetaPaths {
    pub dir: PathBuf,
    pub db: PathBuf,
    pub sum: PathBuf,
    pub storage: Arc<dyn Storage>,
}

impl MetaPaths {
    /// The manifest of `dir` on the real file system (readers: they never write).
    pub fn new(dir: &Path) -> MetaPaths {
        MetaPaths::with_storage(dir, Arc::new(FileSystem))
    }

    pub fn with_storage(dir: &Path, storage: Arc<dyn Storage>) -> MetaPaths {
        MetaPaths {
            dir: dir.to_path_buf(),
            db: dir.join("meta.redb"),
            sum: dir.join("meta.sum"),
            storage,
        }
    }

    pub fn read_sidecar(&self) -> Result<Option<Sidecar>> {
        match fs::read(&self.sum) {
            Ok(b) => Sidecar::decode(&b, &self.sum).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(IndexError::io(&self.sum, e)),
        }
    }

    /// Writes the sidecar atomically (temporary file, fsync, rename, fsync of the directory).
    pub fn write_sidecar(&self, s: &Sidecar) -> Result<()> {
        let tmp = self.dir.join("meta.sum.tmp");
        let st = &*self.storage;
        {
            let f = st.open(&tmp, true).map_err(|e| IndexError::io(&tmp, e))?;
            let bytes = s.encode();
            f.set_len(0).map_err(|e| IndexError::io(&tmp, e))?;
            f.write_at(&bytes, 0).map_err(|e| IndexError::io(&tmp, e))?;
            f.sync().map_err(|e| IndexError::io(&tmp, e))?;
        }
        st.rename(&tmp, &self.sum)
            .map_err(|e| IndexError::io(&self.sum, e))?;
        sync_dir(st, &self.dir)
    }

    /// xxh3-64 and length of `meta.redb` as it is now.
    pub fn hash_db(&self) -> Result<(u64, u64)> {
        hash_file(&self.db)
    }

    /// Records the current `meta.redb` as the committed one.
    pub fn seal(&self) -> Result<()> {
        let (len, hash) = self.hash_db()?;
        self.write_sidecar(&Sidecar {
            in_commit: false,
            len,
            hash,
        })
    }

    pub fn mark_in_commit(&self) -> Result<()> {
        let prev = self.read_sidecar().ok().flatten();
        self.write_sidecar(&Sidecar {
            in_commit: true,
            len: prev.map_or(0, |p| p.len),
            hash: prev.map_or(0, |p| p.hash),
        })
    }

    /// Checks `meta.redb` against a sealed sidecar. `Ok(false)`: mismatch.
    pub fn matches(&self, s: &Sidecar) -> Result<bool> {
        if s.in_commit {
            return Ok(true);
        }
        let (len, hash) = self.hash_db()?;
        Ok(len == s.len && hash == s.hash)
    }

    /// Opens the database for writing, waiting while readers hold it. Runs under `catch_unwind`:
    /// redb may panic on a damaged file, and that must be an error.
    pub fn open_write(&self, create: bool) -> Result<redb::Database> {
        let mut backoff = Backoff::new();
        loop {
            let mut b = redb::Builder::new();
            b.set_cache_size(CACHE_BYTES);
            let r = catch_unwind(AssertUnwindSafe(|| {
                self.storage.open_redb(&b, &self.db, create)
            }));
            match r {
                Ok(Ok(db)) => return Ok(db),
                Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {}
                Ok(Err(e)) => return Err(db_error(&self.db, e)),
                Err(_) => {
                    return Err(IndexError::corrupt(
                        &self.db,
                        "redb failed while opening the database",
                    ))
                }
            }
            backoff.wait(&self.db)?;
        }
    }

    /// Reads the whole manifest in one read transaction. Cheap: `meta.sum` is decoded, not compared with a
    /// hash of `meta.redb` (that is [`crate::verify`]'s and the writer's job); redb's own checks and
    /// `catch_unwind` turn damage into an error. Never writes and never takes `LOCK`: a database left
    /// needing recovery by a writer that died is recovered in a private in-memory copy.
    pub fn load(&self) -> Result<Loaded> {
        self.load_map(&|id, e| (id, e))
    }

    /// [`MetaPaths::load`], turning each file record into a `T` as it is read (one allocation of
    /// the record list instead of two).
    pub fn load_map<T: Send>(
        &self,
        map: &(dyn Fn(u64, FileEntry) -> T + Sync),
    ) -> Result<Loaded<T>> {
        // A damaged sidecar is reported here too: it is 64 bytes.
        self.read_sidecar()?;
        let failed =
            |what: &str| IndexError::corrupt(&self.db, format!("redb failed while {what}"));
        let mut backoff = Backoff::new();
        loop {
            let mut b = redb::Builder::new();
            b.set_cache_size(LOAD_CACHE_BYTES);
            let opened = catch_unwind(AssertUnwindSafe(|| b.open_read_only(&self.db)));
            match opened {
                Ok(Ok(db)) => {
                    let r = catch_unwind(AssertUnwindSafe(|| read_all(&db, &self.db, map)));
                    drop(db);
                    return r.map_err(|_| failed("reading the manifest"))?;
                }
                Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {}
                Ok(Err(redb::DatabaseError::RepairAborted)) => {
                    return catch_unwind(AssertUnwindSafe(|| self.load_recovered(map)))
                        .map_err(|_| failed("recovering a copy of the manifest"))?;
                }
                Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Io(e))))
                    if e.kind() == std::io::ErrorKind::NotFound =>
                {
                    return Err(IndexError::NotFound {
                        path: self.dir.clone(),
                    })
                }
                Ok(Err(e)) => return Err(db_error(&self.db, e)),
                Err(_) => return Err(failed("opening the database")),
            }
            backoff.wait(&self.db)?;
        }
    }

    /// Reads a manifest whose writer died inside a commit: redb's recovery runs on an in-memory copy,
    /// giving the state the next writer will recover to, and the index directory is left untouched.
    fn load_recovered<T: Send>(
        &self,
        map: &(dyn Fn(u64, FileEntry) -> T + Sync),
    ) -> Result<Loaded<T>> {
        let db = recovered_in_memory(&self.db)?;
        read_all(&db, &self.db, map)
    }
}

/// `db` opened from an in-memory copy, which redb repairs after an interrupted commit (back to the last one)
/// without touching the file: how readers, and `verify`, read an index whose writer was killed mid-commit.
pub(crate) fn recovered_in_memory(db: &Path) -> Result<redb::Database> {
    use redb::StorageBackend;
    let bytes = fs::read(db).map_err(|e| IndexError::io(db, e))?;
    let mem = redb::backends::InMemoryBackend::new();
    let io = |e: std::io::Error| IndexError::io(db, e);
    mem.set_len(bytes.len() as u64).map_err(io)?;
    mem.write(0, &bytes).map_err(io)?;
    drop(bytes);
    redb::Builder::new()
        .create_with_backend(mem)
        .map_err(|e| db_error(db, e))
}

/// `map_err` adapter for any redb error type.
pub(crate) fn dbe<E: Into<redb::Error>>(path: &Path) -> impl Fn(E) -> IndexError + '_ {
    move |e| db_error(path, e)
}

pub(crate) fn db_error(path: &Path, e: impl Into<redb::Error>) -> IndexError {
    let e: redb::Error = e.into();
    match e {
        redb::Error::Corrupted(d) => IndexError::corrupt(path, d),
        redb::Error::Io(io) => IndexError::io(path, io),
        other => IndexError::db(path, other),
    }
}

fn read_all<T: Send>(
    db: &impl ReadableDatabase,
    path: &Path,
    map: &(dyn Fn(u64, FileEntry) -> T + Sync),
) -> Result<Loaded<T>> {
    let tx = db.begin_read().map_err(|e| db_error(path, e))?;
    let meta = match tx.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => {
            return Err(IndexError::NotFound {
                path: path.parent().unwrap_or(path).to_path_buf(),
            })
        }
        Err(e) => return Err(db_error(path, e)),
    };
    let (settings, state) = read_meta(&meta, path)?;
    let files_t = tx.open_table(FILES).map_err(|e| db_error(path, e))?;
    let n = files_t.len().map_err(|e| db_error(path, e))? as usize;
    // Two halves of the id range, read and decoded side by side (ids are handed out in sequence, so
    // the halves are about even); a 1M-file open spends most of its time here.
    let mid = state.next_file_id / 2;
    let half = |range: (Bound<u64>, Bound<u64>), cap: usize| -> Result<Vec<T>> {
        let mut out = Vec::with_capacity(cap);
        for item in files_t.range(range).map_err(|e| db_error(path, e))? {
            let (k, v) = item.map_err(|e| db_error(path, e))?;
            out.push(map(
                k.value(),
                decode::<FileEntry>(v.value(), path, "file record")?,
            ));
        }
        Ok(out)
    };
    // The low half has room for both, so that appending the high half does not reallocate.
    let (low, high) = rayon::join(
        || half((Bound::Unbounded, Bound::Excluded(mid)), n),
        || half((Bound::Included(mid), Bound::Unbounded), n / 2),
    );
    let mut files = low?;
    files.append(&mut high?);
    Ok(Loaded {
        settings,
        state,
        files,
    })
}

pub(crate) fn read_meta(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    path: &Path,
) -> Result<(IndexSettings, State)> {
    let get = |k: &str| -> Result<Vec<u8>> {
        meta.get(k)
            .map_err(|e| db_error(path, e))?
            .map(|v| v.value().to_vec())
            .ok_or_else(|| IndexError::corrupt(path, format!("manifest has no `{k}` record")))
    };
    let fv = get(KEY_FORMAT)?;
    let version = match <[u8; 4]>::try_from(fv.as_slice()) {
        Ok(b) => u32::from_le_bytes(b),
        Err(_) => return Err(IndexError::corrupt(path, "bad `format` record")),
    };
    if version > FORMAT_VERSION {
        return Err(IndexError::NewerFormat {
            path: path.to_path_buf(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let settings: IndexSettings = serde_json::from_slice(&get(KEY_SETTINGS)?)
        .map_err(|e| IndexError::corrupt(path, format!("undecodable settings: {e}")))?;
    let state: State = decode(&get(KEY_STATE)?, path, "state record")?;
    Ok((settings, state))
}

pub(crate) fn hash_file(path: &Path) -> Result<(u64, u64)> {
    use std::io::Read;
    let mut f = fs::File::open(path).map_err(|e| IndexError::io(path, e))?;
    let mut h = Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| IndexError::io(path, e))?;
        if n == 0 {
            break;
        }
        len += n as u64;
        h.update(&buf[..n]);
    }
    Ok((len, h.digest()))
}

/// Converts a path to the bytes stored for it: lossless on Unix, UTF-8 elsewhere.
pub(crate) fn path_bytes(p: &Path) -> Result<Vec<u8>> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(p.as_os_str().as_bytes().to_vec())
    }
    #[cfg(not(unix))]
    {
        p.to_str()
            .map(|s| s.as_bytes().to_vec())
            .ok_or_else(|| IndexError::UnsupportedPath {
                path: p.to_path_buf(),
            })
    }
}

/// The inverse of [`path_bytes`], without a copy on Unix.
pub(crate) fn into_path(b: Vec<u8>) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        PathBuf::from(std::ffi::OsString::from_vec(b))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(&b).into_owned())
    }
}

/// Bytes of one level for the checksum table key.
pub(crate) fn level_key(l: Level) -> u32 {
    l.code()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed v1 fixture's records decode and encode back to exactly the bytes on disk: the
    /// hand-written encoding of [`crate::record`] is bincode 1's (fixed-width little-endian) byte for byte.
    #[test]
    fn v1_fixture_records_round_trip_byte_for_byte() {
        let db = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1/meta.redb");
        let opened = redb::Builder::new()
            .open_read_only(&db)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (restore it: git checkout -- crates/index/tests/fixtures)",
                    db.display()
                )
            });
        let tx = opened.begin_read().unwrap();
        let meta = tx.open_table(META).unwrap();
        let stored = meta.get(KEY_STATE).unwrap().unwrap().value().to_vec();
        let state: State = decode(&stored, &db, "state").unwrap();
        assert_eq!(encode(&state), stored);
        assert!(
            state.levels.iter().all(|l| l.graph.is_some()),
            "the fixture has both graphs"
        );
        let files = tx.open_table(FILES).unwrap();
        let mut statuses = Vec::new();
        for item in files.iter().unwrap() {
            let (id, v) = item.unwrap();
            let e: FileEntry = decode(v.value(), &db, "file record").unwrap();
            assert_eq!(encode(&e), v.value(), "file {}", id.value());
            statuses.push((e.status, e.error.is_some(), e.content_hash.is_some()));
        }
        assert!(statuses.contains(&(FileStatus::Ok, false, true)));
        assert!(statuses.contains(&(FileStatus::Failed, true, false)));
    }

    /// The layout spelled out field by field, as `index-format.md` documents it.
    #[test]
    fn file_entry_layout_is_pinned() {
        let e = FileEntry {
            path: b"/a".to_vec(),
            size: 3,
            mtime_ns: -1,
            content_hash: Some(5),
            duration_s: 0.5,
            sample_rate: 48_000,
            channels: 2,
            codec: "flac".into(),
            status: FileStatus::Failed,
            error: None,
            vector_row: Some(7),
            window_first_row: 9,
            windows: vec![(0.0, 1.0)],
        };
        let mut want = Vec::new();
        want.extend_from_slice(&2u64.to_le_bytes());
        want.extend_from_slice(b"/a");
        want.extend_from_slice(&3u64.to_le_bytes());
        want.extend_from_slice(&(-1i64).to_le_bytes());
        want.push(1);
        want.extend_from_slice(&5u128.to_le_bytes());
        want.extend_from_slice(&0.5f64.to_le_bytes());
        want.extend_from_slice(&48_000u32.to_le_bytes());
        want.extend_from_slice(&2u16.to_le_bytes());
        want.extend_from_slice(&4u64.to_le_bytes());
        want.extend_from_slice(b"flac");
        want.extend_from_slice(&1u32.to_le_bytes());
        want.push(0);
        want.push(1);
        want.extend_from_slice(&7u64.to_le_bytes());
        want.extend_from_slice(&9u64.to_le_bytes());
        want.extend_from_slice(&1u64.to_le_bytes());
        want.extend_from_slice(&0f32.to_le_bytes());
        want.extend_from_slice(&1f32.to_le_bytes());
        assert_eq!(encode(&e), want);
        assert_eq!(decode::<FileEntry>(&want, Path::new("x"), "x").unwrap(), e);
        for cut in 0..want.len() {
            assert!(decode::<FileEntry>(&want[..cut], Path::new("x"), "x").is_err());
        }
    }
}
