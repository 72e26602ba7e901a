//! HTTP details: tokens, byte ranges, content types, and [`open_indexed`], the only way a file reaches a client:
//! by index id, and only while it is still the file that was indexed.

use std::fs::File;
use std::io::{Read as _, Seek, SeekFrom};
use std::path::Path;

use avx_index::FileMeta;

/// A new random token (128 bits, hex).
pub fn new_token() -> String {
    let mut b = [0u8; 16];
    // The OS generator does not fail on supported platforms; a zero token would still be long and unguessable
    // only if it did not, so fall back to time-and-pid entropy rather than a constant.
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b = (t ^ ((std::process::id() as u128) << 64)).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares two strings in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token a request carries: `Authorization: Bearer T`, `X-Avx-Token: T` or the `avx_token` cookie.
pub fn request_token(headers: &axum::http::HeaderMap) -> Option<String> {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(t) = h("authorization").and_then(|v| v.strip_prefix("Bearer ")) {
        return Some(t.trim().to_string());
    }
    if let Some(t) = h("x-avx-token") {
        return Some(t.trim().to_string());
    }
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("avx_token=").map(str::to_string))
}

/// A byte range of a file of `len` bytes, from a `Range` header (one range; `None`: the whole file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    Whole,
    /// Inclusive start and end.
    Part(u64, u64),
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` (the first range of a list); anything else is the whole file,
/// as RFC 9110 allows a server to ignore a Range header it does not understand.
pub fn parse_range(header: Option<&str>, len: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    let first = spec.split(',').next().unwrap_or("").trim();
    let Some((a, b)) = first.split_once('-') else {
        return RangeRequest::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.is_empty(), b.is_empty()) {
        (true, true) => return RangeRequest::Whole,
        (true, false) => {
            let Ok(n) = b.parse::<u64>() else {
                return RangeRequest::Whole;
            };
            if n == 0 || len == 0 {
                return RangeRequest::Unsatisfiable;
            }
            (len.saturating_sub(n), len - 1)
        }
        (false, _) => {
            let Ok(start) = a.parse::<u64>() else {
                return RangeRequest::Whole;
            };
            let end = if b.is_empty() {
                len.saturating_sub(1)
            } else {
                match b.parse::<u64>() {
                    Ok(e) if e >= start => e.min(len.saturating_sub(1)),
                    _ => return RangeRequest::Whole,
                }
            };
            if start >= len {
                return RangeRequest::Unsatisfiable;
            }
            (start, end)
        }
    };
    RangeRequest::Part(range.0, range.1)
}

/// Why an indexed file cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeFileError {
    #[error("{}: the file has changed, moved or been replaced by a link since it was indexed: run `avx index` again", path.display())]
    Changed { path: std::path::PathBuf },
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Opens the indexed file `f` for serving. Only its stored (canonical) path is used, and only while that path
/// still resolves to itself (no component became a link leading elsewhere) and the file has the size and mtime
/// it was indexed with, so a file outside the indexed roots is never served.
pub fn open_indexed(f: &FileMeta) -> Result<File, ServeFileError> {
    let changed = || ServeFileError::Changed {
        path: f.path.clone(),
    };
    let canonical = f.path.canonicalize().map_err(|_| changed())?;
    if canonical != f.path {
        return Err(changed());
    }
    let file = File::open(&canonical).map_err(|source| ServeFileError::Io {
        path: f.path.clone(),
        source,
    })?;
    let m = file.metadata().map_err(|source| ServeFileError::Io {
        path: f.path.clone(),
        source,
    })?;
    let mtime = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64);
    if !m.is_file() || m.len() != f.size || mtime != Some(f.mtime_ns) {
        return Err(changed());
    }
    Ok(file)
}

/// Bytes `start..=end` of `file` as a response body streamed in 64 KiB reads, so a response never holds a whole
/// file in memory.
pub fn file_body(
    mut file: File,
    path: &Path,
    start: u64,
    end: u64,
) -> Result<axum::body::Body, ServeFileError> {
    file.seek(SeekFrom::Start(start))
        .map_err(|source| ServeFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(axum::body::Body::new(FileBody {
        file,
        remaining: end + 1 - start,
    }))
}

/// A body reading the next `remaining` bytes of a file. The reads are small local-file reads done inline.
struct FileBody {
    file: File,
    remaining: u64,
}

impl http_body::Body for FileBody {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            return std::task::Poll::Ready(None);
        }
        let mut buf = vec![0u8; this.remaining.min(64 * 1024) as usize];
        let frame = match this.file.read(&mut buf) {
            Ok(0) => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the file became shorter while it was being sent",
            )),
            Ok(n) => {
                buf.truncate(n);
                this.remaining -= n as u64;
                Ok(http_body::Frame::data(buf.into()))
            }
            Err(e) => Err(e),
        };
        std::task::Poll::Ready(Some(frame))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

/// The Content-Type of a file a browser can play as it is, or `None` when it must be transcoded to WAV (AIFF,
/// ALAC, and anything unknown).
pub fn playable_type(f: &FileMeta) -> Option<&'static str> {
    let ext = f
        .path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let codec = f.codec.to_ascii_lowercase();
    match ext.as_str() {
        "wav" | "wave" if codec.starts_with("pcm") => Some("audio/wav"),
        "mp3" => Some("audio/mpeg"),
        "ogg" | "oga" => Some("audio/ogg"),
        "opus" => Some("audio/ogg"),
        "flac" => Some("audio/flac"),
        "m4a" | "mp4" | "aac" if codec.contains("aac") => Some("audio/mp4"),
        "webm" => Some("audio/webm"),
        _ => None,
    }
}

/// How `/audio/ID` serves an indexed file: its Content-Type, and the name a download of it (a drag out of the
/// page) gets: the original name, or `STEM.wav` when the file is converted to WAV.
pub fn served_as(f: &FileMeta) -> (&'static str, String) {
    let name = f
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match playable_type(f) {
        Some(t) => (t, name),
        None => {
            let stem = f
                .path
                .file_stem()
                .map_or(name, |s| s.to_string_lossy().into_owned());
            ("audio/wav", format!("{stem}.wav"))
        }
    }
}

/// A 16-bit PCM WAV of mono `samples` at `rate`.
pub fn wav_bytes(samples: &[f32], rate: u32) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{parse_range, same_secret, RangeRequest::*};

    #[test]
    fn ranges() {
        let check = |h: Option<&str>, want| assert_eq!(parse_range(h, 100), want, "{h:?}");
        check(None, Whole);
        check(Some("bytes=0-9"), Part(0, 9));
        check(Some("bytes=90-"), Part(90, 99));
        check(Some("bytes=-10"), Part(90, 99));
        check(Some("bytes=95-200"), Part(95, 99));
        check(Some("bytes=100-"), Unsatisfiable);
        check(Some("bytes=-0"), Unsatisfiable);
        check(Some("bytes=5-1"), Whole);
        check(Some("items=0-1"), Whole);
        check(Some("bytes=0-1, 5-6"), Part(0, 1));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
