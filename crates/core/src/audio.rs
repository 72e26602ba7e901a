//! What the web page needs from an indexed file's audio: its integrated loudness (EBU R128, via the `ebur128`
//! crate) and its waveform peaks, both from one decode; and [`LoudnessCache`], which stores each file's loudness
//! beside the index so it is measured once.
//!
//! Loudness is measured on the mono mix avx decodes (the average of the channels), which is what the preview
//! gain needs: a relative level between files, not a broadcast compliance figure.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use avx_embed::decode::Decoder;
use avx_index::FileMeta;
use serde_json::{json, Value};

use crate::error::{CoreError, Result};

/// Loudness and waveform of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Integrated loudness in LUFS (a file shorter than R128's 400 ms block is measured looped); `None` for
    /// silence.
    pub lufs: Option<f64>,
    /// Peak absolute sample of each of the requested number of equal slices of the file (fewer for a short file).
    pub peaks: Vec<f32>,
    /// Duration in seconds, as decoded.
    pub duration_s: f64,
}

/// Decodes `path` once and measures its loudness and `buckets` waveform peaks.
pub fn analyse(path: &Path, buckets: usize) -> Result<Analysis> {
    let buckets = buckets.clamp(1, 100_000);
    let mut dec = Decoder::open(path)?;
    let rate = dec.info().sample_rate.max(1);
    let expected = dec.info().frames;
    let mut meter = ebur128::EbuR128::new(1, rate, ebur128::Mode::I).map_err(|e| {
        CoreError::Invalid(format!("{}: cannot measure loudness: {e}", path.display()))
    })?;
    // Fine bins of `per` frames, merged down to `buckets` at the end (the header's frame count can be missing or
    // wrong, so the bin width is only a first guess).
    let per = (expected / buckets as u64).max(1) as usize;
    let mut fine: Vec<f32> = Vec::with_capacity(buckets + 1);
    let (mut current, mut filled) = (0f32, 0usize);
    let mut frames = 0u64;
    let meter_err = |e: ebur128::Error| {
        CoreError::Invalid(format!("{}: cannot measure loudness: {e}", path.display()))
    };
    // R128 gates 400 ms blocks: a shorter file (a click, a hi-hat) is measured looped to one block, which keeps
    // its level, instead of having no loudness at all.
    let block = (rate as usize * 2) / 5 + 1;
    let mut head: Vec<f32> = Vec::new();
    while let Some(chunk) = dec.next_chunk()? {
        meter.add_frames_f32(chunk).map_err(meter_err)?;
        if head.len() < block {
            head.extend_from_slice(&chunk[..chunk.len().min(block - head.len())]);
        }
        frames += chunk.len() as u64;
        for &s in chunk {
            current = current.max(s.abs());
            filled += 1;
            if filled == per {
                fine.push(current);
                current = 0.0;
                filled = 0;
            }
        }
    }
    if filled > 0 {
        fine.push(current);
    }
    if !head.is_empty() && (frames as usize) < block {
        let mut fed = frames as usize;
        while fed < block {
            meter.add_frames_f32(&head).map_err(meter_err)?;
            fed += head.len();
        }
    }
    let lufs = meter.loudness_global().ok().filter(|l| l.is_finite());
    Ok(Analysis {
        lufs,
        peaks: merge_peaks(&fine, buckets),
        duration_s: frames as f64 / rate as f64,
    })
}

/// Merges peaks down to at most `n` by taking the maximum of consecutive runs.
fn merge_peaks(fine: &[f32], n: usize) -> Vec<f32> {
    if fine.len() <= n {
        return fine.to_vec();
    }
    (0..n)
        .map(|i| {
            let a = i * fine.len() / n;
            let b = ((i + 1) * fine.len() / n).max(a + 1);
            fine[a..b].iter().copied().fold(0.0, f32::max)
        })
        .collect()
}

/// What identifies a file's content for the cache: its content hash, else its size and mtime.
fn content_key(f: &FileMeta) -> String {
    match f.content_hash {
        Some(h) => format!("{h:032x}"),
        None => format!("{}-{}", f.size, f.mtime_ns),
    }
}

/// Each indexed file's loudness, stored in `<index>/cache/loudness.json` keyed by file id and content hash (see
/// index-format.md, "Caches"). A missing or unreadable cache file is an empty cache; an entry whose content hash
/// no longer matches the file's is ignored.
#[derive(Debug, Clone)]
pub struct LoudnessCache {
    path: PathBuf,
    entries: HashMap<u64, (String, Option<f64>)>,
    dirty: bool,
    last_save: Option<std::time::Instant>,
}

impl LoudnessCache {
    /// The cache of the index in `index_dir`.
    pub fn open(index_dir: &Path) -> LoudnessCache {
        let path = cache_dir(index_dir).join("loudness.json");
        let entries = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| {
                let files = v.get("files")?.as_object()?;
                Some(
                    files
                        .iter()
                        .filter_map(|(id, e)| {
                            Some((
                                id.parse().ok()?,
                                (
                                    e.get("hash")?.as_str()?.to_string(),
                                    e.get("lufs")?.as_f64(),
                                ),
                            ))
                        })
                        .collect(),
                )
            })
            .unwrap_or_default();
        LoudnessCache {
            path,
            entries,
            dirty: false,
            last_save: None,
        }
    }

    /// The stored loudness of `f`: `Some(None)` for a measured silent file, `None` when not measured.
    pub fn get(&self, f: &FileMeta) -> Option<Option<f64>> {
        self.entries
            .get(&f.id)
            .filter(|(key, _)| *key == content_key(f))
            .map(|(_, l)| *l)
    }

    pub fn insert(&mut self, f: &FileMeta, lufs: Option<f64>) {
        self.entries.insert(f.id, (content_key(f), lufs));
        self.dirty = true;
    }

    /// [`LoudnessCache::save`], unless the last save was less than `every` ago: a page showing 20 new results
    /// then writes the file once or twice, not 20 times. The owner saves once more when it is done.
    pub fn save_if_due(&mut self, every: std::time::Duration) -> Result<()> {
        if self.last_save.is_some_and(|t| t.elapsed() < every) {
            return Ok(());
        }
        self.save()
    }

    /// Writes the cache if it changed (to a temporary file renamed over the old one, so readers see a whole file).
    pub fn save(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let files: serde_json::Map<String, Value> = self
            .entries
            .iter()
            .map(|(id, (key, lufs))| (id.to_string(), json!({"hash": key, "lufs": lufs})))
            .collect();
        write_atomic(
            &self.path,
            &serde_json::to_vec(&json!({"version": 1, "files": files})).unwrap_or_default(),
        )?;
        self.dirty = false;
        self.last_save = Some(std::time::Instant::now());
        Ok(())
    }
}

/// `<index>/cache`: avx's derived data beside the index, never part of a commit.
pub fn cache_dir(index_dir: &Path) -> PathBuf {
    index_dir.join("cache")
}

/// Writes `bytes` to `path` through a sibling `.partial` file and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    }
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).map_err(|e| CoreError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| CoreError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::merge_peaks;

    #[test]
    fn peaks_merge_to_the_maximum_of_each_run() {
        assert_eq!(merge_peaks(&[0.1, 0.5, 0.2, 0.9], 2), vec![0.5, 0.9]);
        assert_eq!(merge_peaks(&[0.1, 0.5], 4), vec![0.1, 0.5]);
        assert_eq!(merge_peaks(&[0.3, 0.1, 0.2], 2), vec![0.3, 0.2]);
    }
}
