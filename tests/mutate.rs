//! Mutated copies of real audio files, for the damaged-library campaign (`examples/mutate_campaign.rs`) and its
//! small CI version (`tests/cli.rs`): truncations, byte flips biased to headers, splices of two files, inserted
//! runs, and 32-bit float WAVs holding NaN, infinities and values near `f32::MAX`.

use std::path::{Path, PathBuf};

/// A small deterministic generator (64-bit LCG, high bits out).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The committed test audio (`tests/data/audio`), every file's bytes with its extension.
pub fn sources(repo: &Path) -> Vec<(String, Vec<u8>)> {
    let dir = repo.join("tests/data/audio");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (restore it: git checkout -- tests/data)",
                dir.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "sh" && e != "md"))
        .map(|p| {
            let ext = p.extension().unwrap().to_string_lossy().into_owned();
            (ext, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 10,
        "only {} files in {}",
        out.len(),
        dir.display()
    );
    out
}

/// A 32-bit float mono WAV of a 440 Hz tone whose every `step`-th sample from 100 on is `bad`.
pub fn float_wav(bad: f32, step: usize) -> Vec<u8> {
    let n = 24_000usize;
    let data: Vec<u8> = (0..n)
        .map(|i| {
            if i >= 100 && (i - 100) % step == 0 {
                bad
            } else {
                0.3 * (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin()
            }
        })
        .flat_map(f32::to_le_bytes)
        .collect();
    wav_bytes(3, 32, 48_000, &data)
}

/// A mono WAV file's bytes: `format_tag` 1 (PCM) or 3 (IEEE float), `data` as stored.
pub fn wav_bytes(format_tag: u16, bits: u16, rate: u32, data: &[u8]) -> Vec<u8> {
    let bytes_per_sample = u32::from(bits / 8);
    let mut b = Vec::with_capacity(44 + data.len());
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&format_tag.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * bytes_per_sample).to_le_bytes());
    b.extend_from_slice(&(bytes_per_sample as u16).to_le_bytes());
    b.extend_from_slice(&bits.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(data);
    b
}

/// One mutated copy of a source (or a damaged float WAV), with the extension it is written under.
pub fn mutant(rng: &mut Rng, sources: &[(String, Vec<u8>)]) -> (String, Vec<u8>) {
    let (ext, src) = &sources[rng.below(sources.len())];
    let mut b = src.clone();
    match rng.below(6) {
        0 => b.truncate(rng.below(b.len())),
        1 => {
            // Byte flips, three in four within the first 256 bytes (headers).
            for _ in 0..1 + rng.below(16) {
                let at = if rng.below(4) < 3 {
                    rng.below(b.len().min(256))
                } else {
                    rng.below(b.len())
                };
                b[at] ^= 1 + rng.below(255) as u8;
            }
        }
        2 => {
            let (_, other) = &sources[rng.below(sources.len())];
            let cut = rng.below(b.len());
            let from = rng.below(other.len());
            b.truncate(cut);
            b.extend_from_slice(&other[from..]);
        }
        3 => {
            let at = rng.below(b.len());
            let byte = [0u8, 0xFF, rng.below(256) as u8][rng.below(3)];
            let run = vec![byte; 1 + rng.below(4096)];
            b.splice(at..at, run);
        }
        4 => {
            let bad = [f32::NAN, f32::INFINITY, -f32::INFINITY, 2.5e38, -3.4e38][rng.below(5)];
            return ("wav".into(), float_wav(bad, 1 + rng.below(5000)));
        }
        _ => {
            // Unchanged: the good files of the library.
        }
    }
    (ext.clone(), b)
}

/// Writes `n` mutants into `dir` as `m00000.EXT` ...; returns their paths.
pub fn write_library(dir: &Path, repo: &Path, n: usize, seed: u64) -> Vec<PathBuf> {
    let sources = sources(repo);
    let mut rng = Rng(seed);
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let (ext, bytes) = mutant(&mut rng, &sources);
            let p = dir.join(format!("m{i:05}.{ext}"));
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect()
}

/// What one `avx --json index` run over a mutated library did.
#[derive(Debug)]
pub struct RunCheck {
    /// Files embedded now or unchanged since an earlier run.
    pub indexed: u64,
    /// Files that failed in this run.
    pub failed: u64,
    /// Files that failed in an earlier run, skipped.
    pub skipped: u64,
    /// Failures that were a decoder panic caught by avx.
    pub caught_panics: u64,
}

/// Checks a run over `n` mutated files: exit 0 or 2, no panic, a summary, and every file accounted for (indexed,
/// failed with a failure line naming it, or skipped as an earlier failure).
pub fn check_run(
    status: &std::process::ExitStatus,
    stdout: &str,
    stderr: &str,
    n: usize,
) -> Result<RunCheck, String> {
    // A panic avx catches inside symphonia is that file's failure ("the decoder panicked on malformed data"),
    // though Rust's panic hook still prints it; an uncaught one ends the process with another status.
    if !matches!(status.code(), Some(0 | 2)) {
        return Err(format!("exit status {status}:\n{stderr}"));
    }
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("bad JSON line {l:?}: {e}")))
        .collect::<Result<_, _>>()?;
    let failures = lines.iter().filter(|l| l["type"] == "failure").count() as u64;
    let s = lines
        .iter()
        .find(|l| l["type"] == "summary")
        .ok_or_else(|| format!("no summary line (the run was aborted?):\n{stderr}"))?;
    let get = |k: &str| s[k].as_u64().unwrap_or(0);
    let failed = get("failed");
    if failed != failures {
        return Err(format!("{failures} failure lines, summary says {failed}"));
    }
    // `new` and `changed` count files stored; a file that failed counts in `failed` only.
    let indexed = get("new") + get("changed") + get("unchanged");
    let skipped = get("skipped_failed");
    if indexed + failed + skipped != n as u64 || s["interrupted"] != false {
        return Err(format!("{n} files, but the summary accounts for {indexed} indexed, {failed} failed, {skipped} skipped: {s}"));
    }
    let caught_panics = lines
        .iter()
        .filter(|l| {
            l["type"] == "failure" && l["error"].as_str().is_some_and(|e| e.contains("panicked"))
        })
        .count() as u64;
    Ok(RunCheck {
        indexed,
        failed,
        skipped,
        caught_panics,
    })
}
