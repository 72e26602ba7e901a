//! Model file hashes without rereading the file on every start. The sha256 of a model file is computed when it
//! is downloaded (`avx model fetch`), verified (`avx model verify`) or first used, and recorded with the file's
//! size and modification time in `file-hashes.json` of the cache directory ([`crate::runtime::cache_dir`]).
//! Loading a model then compares size and mtime (one `stat`) and reuses the recorded hash; a file whose size
//! or mtime changed is hashed again. A file rewritten in place with the same size and mtime (a deliberate
//! `touch -r`) keeps its old hash until `avx model verify`, which always rehashes.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::fetch::sha256_file;
use crate::{EmbedError, Result};

/// The name of the record in the cache directory.
pub const HASHES_FILE: &str = "file-hashes.json";

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Entry {
    size: u64,
    mtime_ns: u128,
    sha256: String,
}

/// Size and modification time of `path` (nanoseconds since the epoch).
fn stamp(path: &Path) -> Result<(u64, u128)> {
    let meta = fs::metadata(path).map_err(|e| EmbedError::io(path, e))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Ok((meta.len(), mtime))
}

fn key(path: &Path) -> String {
    fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

fn read(record: &Path) -> BTreeMap<String, Entry> {
    fs::read(record)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Records `sha256` for `path` as it is now. Best effort: a cache directory that cannot be written only costs
/// a rehash on the next start.
fn record(record: &Path, path: &Path, sha256: &str) {
    let Ok((size, mtime_ns)) = stamp(path) else {
        return;
    };
    let mut all = read(record);
    all.insert(
        key(path),
        Entry {
            size,
            mtime_ns,
            sha256: sha256.to_string(),
        },
    );
    let Some(dir) = record.parent() else {
        return;
    };
    let tmp = dir.join(format!("{HASHES_FILE}.{}.tmp", std::process::id()));
    let bytes = serde_json::to_vec_pretty(&all).expect("hashes serialise");
    let ok = fs::create_dir_all(dir).is_ok() && fs::write(&tmp, bytes).is_ok();
    if !ok || fs::rename(&tmp, record).is_err() {
        let _ = fs::remove_file(&tmp);
    }
}

fn default_record() -> PathBuf {
    crate::runtime::cache_dir().join(HASHES_FILE)
}

/// The sha256 of `path`: the recorded one when size and mtime are unchanged, else computed and recorded.
pub fn known_sha256(path: &Path) -> Result<String> {
    known_sha256_in(&default_record(), path)
}

/// Records `sha256`, just computed from `path`'s bytes (a download), for later loads.
pub fn remember(path: &Path, sha256: &str) {
    record(&default_record(), path, sha256);
}

/// Computes the sha256 of `path` (always reading it) and records it: for downloads and `avx model verify`.
pub fn verify_sha256(path: &Path) -> Result<String> {
    verify_sha256_in(&default_record(), path)
}

fn known_sha256_in(rec: &Path, path: &Path) -> Result<String> {
    let (size, mtime_ns) = stamp(path)?;
    if let Some(e) = read(rec).get(&key(path)) {
        if e.size == size && e.mtime_ns == mtime_ns {
            return Ok(e.sha256.clone());
        }
    }
    verify_sha256_in(rec, path)
}

fn verify_sha256_in(rec: &Path, path: &Path) -> Result<String> {
    let sha = sha256_file(path)?;
    record(rec, path, &sha);
    Ok(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorded_hash_is_reused_until_size_or_mtime_change() {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("cache").join(HASHES_FILE);
        let f = dir.path().join("model.onnx");
        fs::write(&f, b"weights").unwrap();
        let real = sha256_file(&f).unwrap();
        assert_eq!(known_sha256_in(&rec, &f).unwrap(), real);
        // Reused: a forged record with the same stamp is believed (no rereading).
        let mut all = read(&rec);
        all.values_mut().next().unwrap().sha256 = "forged".into();
        fs::write(&rec, serde_json::to_vec(&all).unwrap()).unwrap();
        assert_eq!(known_sha256_in(&rec, &f).unwrap(), "forged");
        // verify always rereads, and records the truth.
        assert_eq!(verify_sha256_in(&rec, &f).unwrap(), real);
        assert_eq!(known_sha256_in(&rec, &f).unwrap(), real);
        // Another size: rehashed.
        fs::write(&f, b"other weights").unwrap();
        assert_eq!(known_sha256_in(&rec, &f).unwrap(), sha256_file(&f).unwrap());
    }

    #[test]
    fn an_unwritable_record_only_costs_a_rehash() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("model.onnx");
        fs::write(&f, b"weights").unwrap();
        // The record's directory is a file: nothing can be written under it.
        let blocker = dir.path().join("blocker");
        fs::write(&blocker, b"").unwrap();
        let rec = blocker.join(HASHES_FILE);
        assert_eq!(known_sha256_in(&rec, &f).unwrap(), sha256_file(&f).unwrap());
    }
}
