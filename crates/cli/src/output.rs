//! Printing results: tables for people, JSON Lines (`--json`), and plain path lists or M3U playlists (paths
//! as raw bytes, see [`avx_core::paths`]).
//!
//! # JSON Lines format
//!
//! Every line is one JSON object with a `"type"` field. The types are documented in README.md
//! ("JSON output"); fields are only ever added, never renamed.

use avx_core::{path_bytes, Hit};
use serde_json::Value;
use std::io::{self, BufWriter, Stdout, Write};

use crate::cli::ListFormat;

/// Buffered stdout. Write errors (a closed pipe included) propagate to `main`, which exits quietly on EPIPE.
pub struct Out {
    w: BufWriter<Stdout>,
}

impl Out {
    pub fn new() -> Out {
        Out {
            w: BufWriter::new(io::stdout()),
        }
    }

    pub fn line(&mut self, s: impl AsRef<str>) -> io::Result<()> {
        self.w.write_all(s.as_ref().as_bytes())?;
        self.w.write_all(b"\n")
    }

    /// One line of raw bytes (a path as the file system spells it).
    pub fn bytes_line(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)?;
        self.w.write_all(b"\n")
    }

    pub fn json(&mut self, v: &Value) -> io::Result<()> {
        serde_json::to_writer(&mut self.w, v)?;
        self.w.write_all(b"\n")
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// `m:ss.s` for offsets and durations under an hour, `h:mm:ss` beyond.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s >= 3600.0 {
        let t = s.round() as u64;
        format!("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60)
    } else {
        let m = (s / 60.0).floor();
        format!("{}:{:04.1}", m as u64, s - m * 60.0)
    }
}

/// Prints a result list (`print_hits`) and says whether it had results, for the exit code.
pub fn print_result_list(rows: &[Hit], format: ListFormat, json: bool) -> io::Result<bool> {
    print_hits(&mut Out::new(), rows, format, json)?;
    Ok(!rows.is_empty())
}

/// Prints a result list in the chosen format.
pub fn print_hits(out: &mut Out, rows: &[Hit], format: ListFormat, json: bool) -> io::Result<()> {
    if json {
        for r in rows {
            out.json(&r.json(false))?;
        }
        return out.flush();
    }
    match format {
        ListFormat::Paths => {
            for r in rows {
                out.bytes_line(&path_bytes(&r.path))?;
            }
        }
        ListFormat::M3u => {
            out.line("#EXTM3U")?;
            for r in rows {
                let title = r
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default();
                out.line(format!("#EXTINF:{},{title}", r.duration_s.round() as i64))?;
                if let Some((s, e)) = r.window {
                    out.line(format!("#EXTVLCOPT:start-time={s:.2}"))?;
                    out.line(format!("#EXTVLCOPT:stop-time={e:.2}"))?;
                }
                out.bytes_line(&path_bytes(&r.path))?;
            }
        }
        ListFormat::Table => {
            let segments = rows.iter().any(|r| r.window.is_some());
            if segments {
                out.line(format!(
                    "{:>4}  {:>6}  {:>15}  {:>8}  path",
                    "rank", "score", "offset", "duration"
                ))?;
            } else {
                out.line(format!(
                    "{:>4}  {:>6}  {:>8}  path",
                    "rank", "score", "duration"
                ))?;
            }
            for r in rows {
                let path = r.path.to_string_lossy();
                match r.window {
                    Some((s, e)) => out.line(format!(
                        "{:>4}  {:>6.3}  {:>15}  {:>8}  {path}",
                        r.rank,
                        r.score,
                        format!("{}-{}", clock(s as f64), clock(e as f64)),
                        clock(r.duration_s),
                    ))?,
                    None => out.line(format!(
                        "{:>4}  {:>6.3}  {:>8}  {path}",
                        r.rank,
                        r.score,
                        clock(r.duration_s)
                    ))?,
                }
            }
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::clock;

    #[test]
    fn clock_formats() {
        assert_eq!(clock(0.0), "0:00.0");
        assert_eq!(clock(75.25), "1:15.2");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
