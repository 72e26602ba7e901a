//! Resumable, verified model downloads.
//!
//! Each file is downloaded to `<name>.part` and renamed into place only after its size matches the server's
//! `Content-Length` and its sha256 matches the pinned sum (when one is pinned): a partial or wrong file is never
//! used. An interrupted transfer resumes with an HTTP `Range` request, on retry within the same run or on the
//! next run. Every completed file's size and sha256 are recorded in `avx-manifest.json` in the model directory,
//! and a later fetch re-verifies files against it.
//!
//! The server is `https://huggingface.co` unless `AVX_HF_ENDPOINT` names another (a mirror, or a local server
//! in tests).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::model::Variant;
use crate::registry::KnownModel;
use crate::{EmbedError, Result};

/// The default server.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// How many times one file's transfer is resumed after a broken connection before giving up.
const MAX_ATTEMPTS: usize = 4;

/// The file that records what was downloaded.
pub const MANIFEST: &str = "avx-manifest.json";

/// Progress of a download, reported to a caller's callback.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    /// The repository path of the file.
    pub file: &'a str,
    /// Bytes of this file on disk so far.
    pub done: u64,
    /// The file's total size, once the server said it.
    pub total: Option<u64>,
}

/// The server in use: `AVX_HF_ENDPOINT` or [`DEFAULT_ENDPOINT`].
pub fn endpoint() -> String {
    std::env::var("AVX_HF_ENDPOINT")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string())
}

/// The download address of one repository file.
pub fn file_url(endpoint: &str, repo: &str, revision: &str, file: &str) -> String {
    format!(
        "{}/{repo}/resolve/{revision}/{file}",
        endpoint.trim_end_matches('/')
    )
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Manifest {
    repo: String,
    revision: String,
    files: BTreeMap<String, ManifestEntry>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ManifestEntry {
    size: u64,
    sha256: String,
}

fn read_manifest(dir: &Path) -> Manifest {
    fs::read(dir.join(MANIFEST))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    let path = dir.join(MANIFEST);
    let tmp = dir.join(format!("{MANIFEST}.tmp"));
    let bytes = serde_json::to_vec_pretty(m).expect("manifest serialises");
    fs::write(&tmp, bytes).map_err(|e| EmbedError::io(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| EmbedError::io(&path, e))
}

/// The sha256 of a file on disk, as lower-case hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| EmbedError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| EmbedError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// One model file checked by [`verify_model_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    /// Path relative to the model directory (`onnx/audio_model.onnx`).
    pub file: String,
    /// Its sha256, just computed.
    pub sha256: String,
    /// What it should be: the registry's pinned hash, else the one recorded at download; `None` when neither.
    pub expected: Option<String>,
}

impl FileCheck {
    /// Whether the file matches what is expected (a file with no expectation matches).
    pub fn ok(&self) -> bool {
        self.expected.as_ref().is_none_or(|e| *e == self.sha256)
    }
}

/// Rehashes every ONNX file of the model directory `dir` (`onnx/*.onnx`), records the hashes for cheap later
/// loads ([`crate::hashes`]), and compares each with `pinned(file)` or, failing that, the hash recorded when it
/// was downloaded.
pub fn verify_model_dir(
    dir: &Path,
    pinned: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<FileCheck>> {
    let onnx = dir.join("onnx");
    let mut files: Vec<PathBuf> = fs::read_dir(&onnx)
        .map_err(|e| EmbedError::io(&onnx, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "onnx"))
        .collect();
    files.sort();
    let manifest = read_manifest(dir);
    files
        .iter()
        .map(|path| {
            let file = format!(
                "onnx/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            let sha256 = crate::hashes::verify_sha256(path)?;
            let expected =
                pinned(&file).or_else(|| manifest.files.get(&file).map(|e| e.sha256.clone()));
            Ok(FileCheck {
                file,
                sha256,
                expected,
            })
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn fetch_error(url: &str, message: impl Into<String>) -> EmbedError {
    EmbedError::Fetch {
        url: url.to_string(),
        message: message.into(),
    }
}

/// Downloads every file `variant` of `model` needs, and the text tower text queries use by default
/// ([`KnownModel::query_files`]), into `model.local_dir(root)`, skipping files already present and verified.
/// Returns the model directory.
pub fn fetch_model(
    model: &KnownModel,
    variant: Variant,
    root: &Path,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<PathBuf> {
    fetch_model_from(&endpoint(), model, variant, root, progress)
}

/// [`fetch_model`] from a given server.
pub fn fetch_model_from(
    endpoint: &str,
    model: &KnownModel,
    variant: Variant,
    root: &Path,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<PathBuf> {
    let dir = model.local_dir(root);
    fs::create_dir_all(dir.join("onnx")).map_err(|e| EmbedError::io(&dir, e))?;
    let mut manifest = read_manifest(&dir);
    manifest.repo = model.repo.to_string();
    manifest.revision = model.revision.to_string();
    let mut files = model.files(variant);
    files.extend(model.query_files(variant));
    for file in files {
        let dest = dir.join(&file);
        let url = file_url(endpoint, model.repo, model.revision, &file);
        let expected = model
            .pinned_sha256(&file)
            .map(str::to_string)
            .or_else(|| manifest.files.get(&file).map(|e| e.sha256.clone()));
        if dest.is_file() {
            let have = sha256_file(&dest)?;
            match &expected {
                Some(want) if *want != have => {
                    // A damaged or replaced file: fetch it again.
                    fs::remove_file(&dest).map_err(|e| EmbedError::io(&dest, e))?;
                }
                _ => {
                    crate::hashes::remember(&dest, &have);
                    let size = fs::metadata(&dest)
                        .map_err(|e| EmbedError::io(&dest, e))?
                        .len();
                    manifest
                        .files
                        .insert(file.clone(), ManifestEntry { size, sha256: have });
                    continue;
                }
            }
        }
        let (size, sha) = fetch_file(&url, &dest, expected.as_deref(), &mut |done, total| {
            progress(Progress {
                file: &file,
                done,
                total,
            })
        })?;
        crate::hashes::remember(&dest, &sha);
        manifest
            .files
            .insert(file.clone(), ManifestEntry { size, sha256: sha });
        write_manifest(&dir, &manifest)?;
    }
    write_manifest(&dir, &manifest)?;
    Ok(dir)
}

/// Downloads `url` to `dest` through `dest.part`, resuming a partial file, and returns its size and sha256.
/// The file is renamed into place only when complete and, if `sha256` is given, matching.
pub fn fetch_file(
    url: &str,
    dest: &Path,
    sha256: Option<&str>,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<(u64, String)> {
    let part = part_path(dest);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_body(None)
        .build()
        .into();
    let mut last_err = String::new();
    for _ in 0..MAX_ATTEMPTS {
        match transfer(&agent, url, &part, progress) {
            Ok(Transfer::Complete) => {
                let size = fs::metadata(&part)
                    .map_err(|e| EmbedError::io(&part, e))?
                    .len();
                let have = sha256_file(&part)?;
                if let Some(want) = sha256 {
                    if have != want {
                        let _ = fs::remove_file(&part);
                        return Err(fetch_error(
                            url,
                            format!(
                                "sha256 mismatch: expected {want}, got {have}; the download was deleted, \
                                 run the command again or use --model-dir with files you trust"
                            ),
                        ));
                    }
                }
                fs::rename(&part, dest).map_err(|e| EmbedError::io(dest, e))?;
                return Ok((size, have));
            }
            Ok(Transfer::Fatal(msg)) => return Err(fetch_error(url, msg)),
            Err(msg) => last_err = msg,
        }
    }
    let kept = if part.exists() {
        format!(
            "; the partial file {} is kept and the next `avx model fetch` resumes it",
            part.display()
        )
    } else {
        String::new()
    };
    Err(fetch_error(
        url,
        format!(
            "download failed {MAX_ATTEMPTS} times ({last_err}){kept}. Offline? Download the files elsewhere \
             and use --model-dir PATH"
        ),
    ))
}

fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

enum Transfer {
    Complete,
    Fatal(String),
}

/// One HTTP request, appending to `part`. `Err` means "worth retrying".
fn transfer(
    agent: &ureq::Agent,
    url: &str,
    part: &Path,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> std::result::Result<Transfer, String> {
    let have = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let mut req = agent.get(url);
    if have > 0 {
        req = req.header("Range", format!("bytes={have}-"));
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(e) => return Err(e.to_string()),
    };
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (start, total) =
        match status {
            200 => (
                0,
                header("content-length").and_then(|v| v.parse::<u64>().ok()),
            ),
            206 => {
                // Content-Range: bytes START-END/TOTAL
                let cr = header("content-range").unwrap_or_default();
                let start = cr
                    .strip_prefix("bytes ")
                    .and_then(|r| r.split('-').next())
                    .and_then(|s| s.parse::<u64>().ok());
                let total = cr.rsplit('/').next().and_then(|s| s.parse::<u64>().ok());
                match start {
                    Some(s) if s == have => (s, total),
                    _ => {
                        let _ = fs::remove_file(part);
                        return Err(format!("server resumed at an unexpected offset ({cr})"));
                    }
                }
            }
            416 => {
                // Our partial file is longer than the server's: start over.
                let _ = fs::remove_file(part);
                return Err("server rejected the resume range".into());
            }
            404 => return Ok(Transfer::Fatal(
                "not found (HTTP 404): check the model name and revision, or use --model-dir PATH"
                    .into(),
            )),
            401 | 403 => {
                return Ok(Transfer::Fatal(format!(
                "access denied (HTTP {status}); download the files by hand and use --model-dir PATH"
            )))
            }
            s if s >= 500 => return Err(format!("server error HTTP {s}")),
            s => return Ok(Transfer::Fatal(format!("unexpected HTTP status {s}"))),
        };
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(start == 0)
        .append(start > 0)
        .open(part)
        .map_err(|e| format!("{}: {e}", part.display()))?;
    let mut reader = resp.into_body().into_reader();
    let mut done = start;
    let mut buf = vec![0u8; 1 << 16];
    progress(done, total);
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let _ = file.sync_all();
                return Err(format!("connection broken after {done} bytes: {e}"));
            }
        };
        file.write_all(&buf[..n])
            .map_err(|e| format!("{}: {e}", part.display()))?;
        done += n as u64;
        progress(done, total);
    }
    file.sync_all()
        .map_err(|e| format!("{}: {e}", part.display()))?;
    match total {
        Some(t) if done != t => Err(format!("got {done} of {t} bytes")),
        _ => Ok(Transfer::Complete),
    }
}
