//! `avx recurring`: motifs that recur across the indexed recordings, each with every occurrence.
//!
//! Glue only: the motifs, confirmed by the audio and split where it does not confirm them, come from
//! `avx_core::recurring::discover`; this module turns the arguments into its options and prints.

use std::path::Path;

use anyhow::{bail, Result};
use avx_core::recurring::{Found, MotifOptions};
use avx_core::{path_bytes, path_text};
use avx_index::Index;
use serde_json::json;

use crate::cli::{ArchiveFormat, MotifArgs, RecurringArgs};
use crate::context::{absolute, Ctx};
use crate::output::{clock, Out};
use crate::Outcome;

/// Finds the motifs with the options of `args` (its `--in` made absolute); see [`avx_core::recurring::discover`].
pub fn discover(
    index: &Index,
    args: &MotifArgs,
    only: Option<&Path>,
    threads: usize,
) -> Result<Found> {
    let mut opts = MotifOptions {
        within: None,
        min_occurrences: args.min_occurrences,
        min_length: args.min_length,
        threshold: args.threshold,
        candidates: args.candidates,
        only,
        method: args.method.into(),
        threads,
    };
    // Bad numbers are reported before a bad --in, as they always were.
    opts.check()?;
    let within = args.within.as_deref().map(absolute).transpose()?;
    opts.within = within.as_deref();
    Ok(avx_core::recurring::discover(index, &opts)?)
}

pub fn run(ctx: &Ctx, args: RecurringArgs) -> Result<Outcome> {
    let index = ctx.open_index()?;
    let only = args.file.as_deref().map(absolute).transpose()?;
    if args.format == ArchiveFormat::Audacity && only.is_none() && !ctx.global.json {
        bail!("--format audacity writes one recording's label track: add --file FILE");
    }
    if let Some(f) = &only {
        if index.file_by_path(f).is_none() {
            bail!(
                "{}: not in the index: run `avx index {}` first",
                f.display(),
                f.display()
            );
        }
    }
    let found = discover(&index, &args.motifs, only.as_deref(), ctx.threads)?;
    let shown = |p: &Path| only.as_deref().is_none_or(|o| o == p);
    let mut out = Out::new();
    let mut any = false;
    if args.format == ArchiveFormat::Csv && !ctx.global.json {
        out.line("motif,path,start,end,score,representative")?;
    }
    for (m, motif) in found.motifs.iter().enumerate() {
        let id = m + 1;
        let rep = motif.representative();
        let rep_path = path_text(&found.paths[rep.track as usize]);
        if !motif
            .occurrences
            .iter()
            .any(|o| shown(&found.paths[o.track as usize]))
        {
            continue;
        }
        any = true;
        if ctx.global.json {
            out.json(&json!({
                "type": "motif", "motif": id, "occurrences": motif.occurrences.len(),
                "path": avx_core::path_json(&found.paths[rep.track as usize]), "start": rep.start, "end": rep.end,
            }))?;
        } else if args.format == ArchiveFormat::Table {
            out.line(format!(
                "motif {id}: {} occurrences, like {} in {rep_path}",
                motif.occurrences.len(),
                span(rep.start, rep.end)
            ))?;
        }
        for (i, o) in motif.occurrences.iter().enumerate() {
            let path = &found.paths[o.track as usize];
            if !shown(path) {
                continue;
            }
            let is_rep = i == motif.representative;
            if ctx.global.json {
                out.json(&json!({
                    "type": "occurrence", "motif": id, "path": avx_core::path_json(path), "start": o.start, "end": o.end,
                    "score": o.score, "representative": is_rep,
                }))?;
                continue;
            }
            match args.format {
                ArchiveFormat::Table => out.line(format!(
                    "  {:>17}  {:.3}  {}",
                    span(o.start, o.end),
                    o.score,
                    path_text(path)
                ))?,
                ArchiveFormat::Csv => {
                    let mut line = format!("{id},").into_bytes();
                    line.extend(csv_field(&path_bytes(path)));
                    line.extend(
                        format!(",{:.3},{:.3},{:.4},{is_rep}", o.start, o.end, o.score).bytes(),
                    );
                    out.bytes_line(&line)?
                }
                ArchiveFormat::Audacity => {
                    out.line(format!("{:.3}\t{:.3}\tmotif {id}", o.start, o.end))?
                }
            }
        }
    }
    out.flush()?;
    Ok(if any {
        Outcome::Found
    } else {
        Outcome::NothingFound
    })
}

/// `m:ss.s-m:ss.s`.
pub fn span(start: f32, end: f32) -> String {
    format!("{}-{}", clock(start as f64), clock(end as f64))
}

/// A CSV field of raw bytes, quoted when it holds a comma, a quote or a line break. A path goes in as its raw
/// bytes ([`path_bytes`]), so a file name that is not UTF-8 is written as the file system spells it (README.md,
/// "Recurring sounds in long recordings").
pub fn csv_field(s: &[u8]) -> Vec<u8> {
    if !s.iter().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        return s.to_vec();
    }
    let mut out = Vec::with_capacity(s.len() + 2);
    out.push(b'"');
    for &b in s {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field(b"/a/b.wav"), b"/a/b.wav");
        assert_eq!(csv_field(b"/a,b/\"c\".wav"), b"\"/a,b/\"\"c\"\".wav\"");
    }

    #[test]
    fn csv_fields_keep_bytes_that_are_not_utf8() {
        assert_eq!(csv_field(b"/a/caf\xe9 \xff.wav"), b"/a/caf\xe9 \xff.wav");
        assert_eq!(csv_field(b"/a,\xff.wav"), b"\"/a,\xff.wav\"");
    }
}
