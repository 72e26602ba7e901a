//! Crash safety, two ways.
//!
//! * Lost writes ([`LostWrites`], after redb's `tests/crash_consistency.rs`): the writer runs a
//!   scripted sequence of commits, a compaction and graph builds through a storage backend that
//!   "crashes" at its n-th write, sync, rename, deletion or directory sync, for every n: the
//!   operation and all later ones fail, and the directory is then reset to what was durable, so
//!   every write not followed by a sync (and every name change not followed by a directory sync) is
//!   lost. The reopened index must equal the last commit exactly (or the one in flight, all or
//!   nothing), pass `verify`, and accept the next writer.
//! * A child process (this test binary, re-invoked) running the script is killed with SIGKILL at
//!   random moments, with the same checks.

#![cfg(unix)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::ops::Bound;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use avx_index::{Index, Level, MaintenancePolicy, Storage, StorageFile, Writer};
use common::*;

const DIM: usize = 8;
const BATCHES: u64 = 6;
const DIR_ENV: &str = "AVX_TEST_CRASH_DIR";
const LOOP_ENV: &str = "AVX_TEST_CRASH_LOOP";

/// The operations of batch `b`: (path, Some(vector seed)) to upsert, (path, None) to remove.
fn batch_ops(b: u64) -> Vec<(String, Option<u64>)> {
    let mut ops: Vec<(String, Option<u64>)> = (0..4)
        .map(|i| (format!("/a/{b}-{i}.wav"), Some(b * 100 + i)))
        .collect();
    if b >= 2 {
        ops.push((format!("/a/{}-0.wav", b - 2), None));
        ops.push((format!("/a/{}-1.wav", b - 1), Some(b * 100 + 50)));
    }
    ops
}

fn vector(seed: u64) -> Vec<f32> {
    random_unit(&mut Rng(seed), DIM)
}

/// The expected path -> first vector component after `k` committed batches.
fn model(k: u64) -> BTreeMap<PathBuf, f32> {
    let mut m = BTreeMap::new();
    for b in 0..k {
        for (p, op) in batch_ops(b) {
            match op {
                Some(s) => m.insert(PathBuf::from(p), vector(s)[0]),
                None => m.remove(&PathBuf::from(p)),
            };
        }
    }
    m
}

fn observed(dir: &Path) -> BTreeMap<PathBuf, f32> {
    // A child killed before it created the index (a slow start on a loaded machine) leaves no index at all:
    // nothing was committed, so nothing is there. Any other error is a real failure.
    let ix = match Index::open(dir, read_opts()) {
        Ok(ix) => ix,
        Err(avx_index::IndexError::NotFound { .. }) => return BTreeMap::new(),
        Err(e) => panic!("{}: {e}", dir.display()),
    };
    ix.files()
        .map(|f| (f.path.clone(), ix.file_vector(f).unwrap()[0]))
        .collect()
}

fn apply(w: &mut Writer, b: u64) {
    for (p, op) in batch_ops(b) {
        match op {
            Some(s) => {
                let wins = vec![vector(s + 7), vector(s + 9)];
                w.upsert(record(p, vector(s), wins)).unwrap();
            }
            None => {
                w.remove(Path::new(&p)).unwrap();
            }
        }
    }
}

/// The scripted writer. As a child (the parent set `AVX_TEST_CRASH_DIR`) it runs on that directory and may be
/// crashed or killed; run directly, it runs on a fresh directory and the index must end as [`model`] says.
#[test]
fn scripted_writer() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        let tmp = tempfile::tempdir().unwrap();
        script(tmp.path());
        assert_eq!(observed(tmp.path()), model(BATCHES));
        assert_eq!(observed_batches(tmp.path()), BATCHES);
        let r = avx_index::verify(tmp.path());
        assert!(r.is_ok() && r.notes.is_empty(), "{r:?}");
        return;
    };
    script(Path::new(&dir));
}

fn script(dir: &Path) {
    let ix = Index::open(dir, write_opts(DIM as u32)).unwrap();
    let mut w = ix.writer().unwrap();
    w.set_policy(MaintenancePolicy {
        graph_min_rows: 8,
        graph_tail_fraction: 0.5,
        ..MaintenancePolicy::default()
    });
    let batches = if std::env::var(LOOP_ENV).is_ok() {
        10_000
    } else {
        BATCHES
    };
    let start = observed_batches(dir);
    for b in start..batches {
        apply(&mut w, b);
        w.commit().unwrap();
        println!("COMMITTED {}", b + 1);
        if b == 3 {
            w.compact().unwrap();
            w.rebuild_graph(Level::Window).unwrap();
            println!("MAINTAINED");
        }
    }
}

/// How many batches a (fresh or reopened) index holds, by the presence of their files.
fn observed_batches(dir: &Path) -> u64 {
    let Ok(ix) = Index::open(dir, read_opts()) else {
        return 0;
    };
    (0..10_000)
        .take_while(|b| {
            ix.file_by_path(Path::new(&format!("/a/{b}-2.wav")))
                .is_some()
        })
        .count() as u64
}

fn run_child(dir: &Path, looping: bool) -> (std::process::Child, std::process::ChildStdout) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "scripted_writer",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(DIR_ENV, dir)
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    if looping {
        cmd.env(LOOP_ENV, "1");
    } else {
        cmd.env_remove(LOOP_ENV);
    }
    let mut child = cmd.spawn().unwrap();
    let out = child.stdout.take().unwrap();
    (child, out)
}

fn committed_lines(out: std::process::ChildStdout) -> u64 {
    BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| {
            let at = l.find("COMMITTED ")?;
            l[at + 10..].trim().parse().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Every file of `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<std::ffi::OsString, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name(), std::fs::read(e.path()).unwrap())
        })
        .collect()
}

#[test]
fn sigkill_at_random_moments() {
    let seed = std::env::var("AVX_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20240601u64);
    eprintln!("sigkill seed {seed}");
    let mut rng = Rng(seed);
    for round in 0..6 {
        let tmp = tempfile::tempdir().unwrap();
        let (mut child, out) = run_child(tmp.path(), true);
        let reader = std::thread::spawn(move || committed_lines(out));
        std::thread::sleep(std::time::Duration::from_millis(100 + rng.below(600)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let k = reader.join().unwrap();
        let n = observed_batches(tmp.path());
        assert!(
            n == k || n == k + 1,
            "round {round}: reported {k}, found {n}"
        );
        // Loop batches past BATCHES follow the same ops, so the model applies.
        assert_eq!(observed(tmp.path()), model(n), "round {round}");
        let ix = Index::open(tmp.path(), write_opts(DIM as u32)).unwrap();
        let mut w = ix.writer().unwrap();
        apply(&mut w, n);
        w.commit().unwrap();
        drop(w);
        assert_eq!(observed(tmp.path()), model(n + 1), "round {round}: resume");
        let r = avx_index::verify(tmp.path());
        assert!(r.is_ok(), "round {round}: {r:?}");
        eprintln!("round {round}: killed after {k} reported commits, found {n}");
    }
}

/// A file's identity across renames.
type Ino = u64;

/// The state of the simulated disk: what the process sees and what would survive a crash.
#[derive(Debug, Default)]
struct Disk {
    ops: u64,
    crash_at: u64,
    crashed: bool,
    next_ino: Ino,
    /// The directory as the process sees it.
    names: HashMap<PathBuf, Ino>,
    /// The directory as of its last sync.
    durable_names: HashMap<PathBuf, Ino>,
    /// Each file's contents as of its last sync.
    durable_data: HashMap<Ino, Vec<u8>>,
}

/// A storage backend that writes through to the real directory and remembers what was synced; see the
/// module documentation.
#[derive(Debug, Clone)]
struct LostWrites {
    dir: PathBuf,
    disk: Arc<Mutex<Disk>>,
}

fn crashed() -> io::Error {
    io::Error::other("simulated crash")
}

impl LostWrites {
    /// Takes the files of `dir` (except `LOCK`, which is not index data) as durable; crashes at the
    /// `crash_at`-th operation (never with `u64::MAX`).
    fn new(dir: &Path, crash_at: u64) -> LostWrites {
        let mut disk = Disk {
            crash_at,
            ..Disk::default()
        };
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            if e.file_name() == "LOCK" {
                continue;
            }
            let ino = disk.next_ino;
            disk.next_ino += 1;
            disk.names.insert(e.path(), ino);
            disk.durable_data
                .insert(ino, std::fs::read(e.path()).unwrap());
        }
        disk.durable_names = disk.names.clone();
        LostWrites {
            dir: dir.to_path_buf(),
            disk: Arc::new(Mutex::new(disk)),
        }
    }

    /// Counts an operation that changes the disk; fails it (and every later one) at the crash point.
    fn step(&self) -> io::Result<()> {
        let mut d = self.disk.lock().unwrap();
        if d.crashed {
            return Err(crashed());
        }
        d.ops += 1;
        if d.ops == d.crash_at {
            d.crashed = true;
            return Err(crashed());
        }
        Ok(())
    }

    fn ops(&self) -> u64 {
        self.disk.lock().unwrap().ops
    }

    fn has_crashed(&self) -> bool {
        self.disk.lock().unwrap().crashed
    }

    fn ino(&self, path: &Path, create: bool) -> io::Result<Ino> {
        let mut d = self.disk.lock().unwrap();
        if let Some(&i) = d.names.get(path) {
            return Ok(i);
        }
        if !create {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such file"));
        }
        let ino = d.next_ino;
        d.next_ino += 1;
        d.names.insert(path.to_path_buf(), ino);
        Ok(ino)
    }

    fn synced(&self, ino: Ino, data: Vec<u8>) {
        self.disk.lock().unwrap().durable_data.insert(ino, data);
    }

    /// The crash: every file of the directory (but `LOCK`) is replaced by what was durable.
    fn restore(&self) {
        let d = self.disk.lock().unwrap();
        for e in std::fs::read_dir(&self.dir).unwrap() {
            let e = e.unwrap();
            if e.file_name() != "LOCK" {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
        for (name, ino) in &d.durable_names {
            let data = d.durable_data.get(ino).map_or(&[][..], |v| v.as_slice());
            std::fs::write(name, data).unwrap();
        }
    }
}

fn real_open(path: &Path, create: bool) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(path)
}

fn read_all(f: &File) -> io::Result<Vec<u8>> {
    let mut v = vec![0u8; f.metadata()?.len() as usize];
    f.read_exact_at(&mut v, 0)?;
    Ok(v)
}

#[derive(Debug)]
struct LostWritesFile {
    fs: LostWrites,
    ino: Ino,
    file: File,
}

impl StorageFile for LostWritesFile {
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
    fn write_at(&self, data: &[u8], offset: u64) -> io::Result<()> {
        self.fs.step()?;
        self.file.write_all_at(data, offset)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.fs.step()?;
        self.file.set_len(len)
    }
    fn sync(&self) -> io::Result<()> {
        self.fs.step()?;
        self.fs.synced(self.ino, read_all(&self.file)?);
        Ok(())
    }
}

/// redb's file backend (its locks included), with writes and syncs going through [`LostWrites`].
#[derive(Debug)]
struct LostWritesRedb {
    fs: LostWrites,
    ino: Ino,
    inner: redb::backends::FileBackend,
}

impl redb::StorageBackend for LostWritesRedb {
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.fs.step()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.fs.step()?;
        let mut v = vec![0u8; self.inner.len()? as usize];
        self.inner.read(0, &mut v)?;
        self.fs.synced(self.ino, v);
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.fs.step()?;
        self.inner.write(offset, data)
    }
    fn close(&self) -> io::Result<()> {
        self.inner.close()
    }
    fn try_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_range(s, e)
    }
    fn try_lock_shared_range(
        &self,
        s: Bound<u64>,
        e: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_shared_range(s, e)
    }
    fn lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.lock_range(s, e)
    }
    fn lock_shared_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.lock_shared_range(s, e)
    }
    fn unlock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.unlock_range(s, e)
    }
    fn query_lock_range(&self, s: Bound<u64>, e: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.inner.query_lock_range(s, e)
    }
}

impl Storage for LostWrites {
    fn open(&self, path: &Path, create: bool) -> io::Result<Box<dyn StorageFile>> {
        let known = self.disk.lock().unwrap().names.contains_key(path);
        if !known && create {
            self.step()?;
        }
        let ino = self.ino(path, create)?;
        Ok(Box::new(LostWritesFile {
            fs: self.clone(),
            ino,
            file: real_open(path, create)?,
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.step()?;
        std::fs::rename(from, to)?;
        let mut d = self.disk.lock().unwrap();
        let ino = d.names.remove(from).expect("renamed file is known");
        d.names.insert(to.to_path_buf(), ino);
        Ok(())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.step()?;
        std::fs::remove_file(path)?;
        self.disk.lock().unwrap().names.remove(path);
        Ok(())
    }
    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        self.step()?;
        let mut d = self.disk.lock().unwrap();
        d.durable_names = d.names.clone();
        Ok(())
    }
    fn open_redb(
        &self,
        builder: &redb::Builder,
        path: &Path,
        create: bool,
    ) -> Result<redb::Database, redb::DatabaseError> {
        let known = self.disk.lock().unwrap().names.contains_key(path);
        if !known && create {
            self.step()?;
        }
        let ino = self.ino(path, create)?;
        let inner = redb::backends::FileBackend::new(real_open(path, create)?)?;
        builder.create_with_backend(LostWritesRedb {
            fs: self.clone(),
            ino,
            inner,
        })
    }
}

/// Batches of the lost-writes script, and the batch after which it compacts and builds both graphs (after the
/// last batch it inserts that batch's rows into both graphs).
const LW_BATCHES: u64 = 3;
const LW_MAINTAIN_AFTER: u64 = 1;

/// Runs the script through `fs` from the state of `dir` until the first error. Returns the batches whose
/// `commit` returned, and whether a commit was in flight when it stopped.
/// Whether this binary's writers wait for the lock: `sigkill_at_random_moments` spawns children from another
/// thread, and a child holds a copy of every open file description, the writer lock's included, from its fork to
/// its exec (close-on-exec), so a lock just released can look held for that moment. No other writer runs here.
const WAIT: bool = true;

fn lost_writes_script(dir: &Path, fs: &LostWrites) -> (u64, bool) {
    let start = observed_batches(dir);
    let Ok(mut w) =
        Writer::open_with_storage(dir, Some(settings(DIM as u32)), WAIT, Arc::new(fs.clone()))
    else {
        return (start, false);
    };
    w.set_policy(MaintenancePolicy {
        enabled: false,
        ..MaintenancePolicy::default()
    });
    for b in start..LW_BATCHES {
        apply(&mut w, b);
        if w.commit().is_err() {
            return (b, true);
        }
        if b == LW_MAINTAIN_AFTER
            && (w.compact().is_err()
                || w.rebuild_graph(Level::File).is_err()
                || w.rebuild_graph(Level::Window).is_err())
        {
            return (b + 1, false);
        }
        // The last batch's rows are inserted into the graphs built above (a new generation each).
        if b == LW_BATCHES - 1 {
            // (A crash in the maintenance above can have left a level without a graph: it is built then.)
            let points = Index::open(dir, read_opts()).map_or([0; 2], |ix| ix.stats().graph_points);
            for level in [Level::File, Level::Window] {
                match w.extend_graph(level) {
                    Ok(rep) => assert!(
                        rep.is_some_and(|r| r.inserted > 0)
                            || points[(level == Level::Window) as usize] == 0,
                        "{level:?}: the graph was not extended: {rep:?}"
                    ),
                    Err(_) => return (b + 1, false),
                }
            }
        }
    }
    (LW_BATCHES, false)
}

/// A fresh index (made on the real file system, so all of it is durable).
fn fresh_index(dir: &Path) {
    drop(Writer::open(dir, Some(settings(DIM as u32)), WAIT).unwrap());
}

#[test]
fn lost_writes_at_every_operation() {
    let tmp = tempfile::tempdir().unwrap();
    let clean = tmp.path().join("clean");
    std::fs::create_dir(&clean).unwrap();
    fresh_index(&clean);
    let fs = LostWrites::new(&clean, u64::MAX);
    assert_eq!(lost_writes_script(&clean, &fs), (LW_BATCHES, false));
    assert_eq!(observed(&clean), model(LW_BATCHES));
    let total = fs.ops();
    assert!(
        total > 50,
        "only {total} operations: the backend is not in the path"
    );
    let (mut in_flight, mut maintenance, mut extending) = (0, 0, 0);
    // Nothing below syncs the real disk (fsyncs would make this minutes): each case starts from a copy of a
    // fresh index, and the recovering writer runs on a backend that never crashes.
    let pristine = tmp.path().join("pristine");
    std::fs::create_dir(&pristine).unwrap();
    fresh_index(&pristine);
    for n in 1..=total {
        let dir = tmp.path().join(format!("crash-{n}"));
        std::fs::create_dir(&dir).unwrap();
        for (name, bytes) in snapshot(&pristine) {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let fs = LostWrites::new(&dir, n);
        let (k, flying) = lost_writes_script(&dir, &fs);
        assert!(fs.has_crashed(), "operation {n} of {total} was not reached");
        fs.restore();
        let what = format!(
            "crash at operation {n} of {total} ({k} batches committed, one in flight: {flying})"
        );
        // Readers see the last commit and change nothing.
        let before = snapshot(&dir);
        let got = observed(&dir);
        assert!(
            snapshot(&dir) == before,
            "{what}: a read-only open changed the directory"
        );
        let found = if got == model(k) {
            k
        } else if flying && got == model(k + 1) {
            k + 1
        } else {
            panic!(
                "{what}: the index holds neither the last commit nor the one in flight: {got:?}"
            );
        };
        // `verify` reads the interrupted index too (a commit cut short is recovered in memory, not reported).
        let report = avx_index::verify(&dir);
        assert!(
            report.is_ok() && snapshot(&dir) == before,
            "{what}: verify before recovery: {report:?}"
        );
        in_flight += (flying && found == k + 1) as u32;
        maintenance += (!flying && k == LW_MAINTAIN_AFTER + 1 && k < LW_BATCHES) as u32;
        extending += (!flying && k == LW_BATCHES) as u32;
        // The next writer recovers; verify is then clean, and the script resumes to the end.
        let recover = Arc::new(LostWrites::new(&dir, u64::MAX));
        drop(Writer::open_with_storage(&dir, Some(settings(DIM as u32)), WAIT, recover).unwrap());
        let report = avx_index::verify(&dir);
        assert!(
            report.is_ok() && report.notes.is_empty(),
            "{what}: {report:?}"
        );
        let fs = LostWrites::new(&dir, u64::MAX);
        assert_eq!(
            lost_writes_script(&dir, &fs),
            (LW_BATCHES, false),
            "{what}: resume"
        );
        assert_eq!(observed(&dir), model(LW_BATCHES), "{what}: after resuming");
        std::fs::remove_dir_all(&dir).unwrap();
    }
    eprintln!(
        "{total} crash points: {in_flight} found the batch in flight committed, {maintenance} crashed in maintenance, \
         {extending} while extending the graphs"
    );
    assert!(
        in_flight > 0 && maintenance > 0 && extending > 0,
        "the crash points missed the commit point, maintenance or the graph extension"
    );
}
