//! `avx recurring`: motifs that recur across the indexed recordings, each with every occurrence.
//!
//! Glue only: gathers the window vectors, picks a candidate source (exact below 5,000 windows, k-means buckets
//! above: never all pairs), calls `avx_index::analysis::recurring`, refines each occurrence's boundaries from the
//! audio (`avx_embed::refine`) and drops the occurrences whose audio does not repeat the motif's
//! representative (`AudioMatch::is_repeat`), then prints.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use avx_core::{path_bytes, path_text};
use avx_embed::refine::{refine_motif, Clip};
use avx_index::analysis::{
    center, recurring, sort_motifs, BucketNeighbours, ExactNeighbours, Motif, Occurrence,
    RecurringConfig, Span,
};
use avx_index::{Index, Level};
use serde_json::json;

use crate::cli::{ArchiveFormat, MotifArgs, RecurringArgs};
use crate::context::{absolute, Ctx};
use crate::output::{clock, Out};
use crate::Outcome;

/// Below this many windows candidates come from an exact scan.
const EXACT_CANDIDATES_BELOW: usize = 5_000;

/// Motifs found over the index, with the path of every track number.
pub struct Found {
    pub paths: Vec<PathBuf>,
    pub motifs: Vec<Motif>,
}

/// Gathers window vectors (under `--in`) and finds the motifs. With `only`, the boundaries of the occurrences
/// in that file (and of each motif's representative) are refined from the audio, the others are left as the
/// window matches placed them (the file's timeline needs no more, and decoding every file costs time).
pub fn discover(index: &Index, args: &MotifArgs, only: Option<&Path>) -> Result<Found> {
    let threshold = args
        .threshold
        .unwrap_or(RecurringConfig::default().threshold);
    if !(0.0..=1.0).contains(&threshold) {
        bail!("--threshold must be between 0 and 1");
    }
    if args.min_occurrences < 2 {
        bail!("--min-occurrences must be at least 2");
    }
    let within = args.within.as_deref().map(absolute).transpose()?;
    let (refs, mut data) = avx_core::gather(index, Level::Window, within.as_deref());
    let mut paths = Vec::new();
    let mut track_of = std::collections::HashMap::new();
    let spans: Vec<Span> = refs
        .iter()
        .map(|r| {
            let track = *track_of.entry(r.file_id).or_insert_with(|| {
                paths.push(
                    index
                        .file_by_id(r.file_id)
                        .map(|f| f.path.clone())
                        .unwrap_or_default(),
                );
                (paths.len() - 1) as u32
            });
            let (start, end) = r.window.unwrap_or((0.0, 0.0));
            Span { track, start, end }
        })
        .collect();
    let dim = index.settings().dim as usize;
    center(&mut data, dim)?;
    let cfg = RecurringConfig {
        threshold,
        k: args.candidates.max(1),
        min_length: args.min_length,
        min_occurrences: args.min_occurrences,
        ..RecurringConfig::default()
    };
    let motifs = if refs.len() < EXACT_CANDIDATES_BELOW {
        let exact = ExactNeighbours::new(&data, dim)?;
        recurring(&data, dim, &spans, &exact, &cfg)?
    } else {
        let buckets = BucketNeighbours::build(&data, dim, 0)?;
        recurring(&data, dim, &spans, &buckets, &cfg)?
    };
    // A motif whose occurrences do not all repeat its representative's audio is split: the confirmed ones
    // stay, the rest become a motif of their own (led by the occurrence with the most links), up to
    // MAX_SPLITS times (window links chain passages that merely sound alike into one motif).
    let mut queue: Vec<(Motif, usize)> = motifs.into_iter().map(|m| (m, 0)).collect();
    let mut motifs = Vec::new();
    while let Some((mut m, splits)) = queue.pop() {
        let rest = refine(&paths, &mut m, only)?;
        motifs.push(m);
        if splits < MAX_SPLITS && rest.len() >= args.min_occurrences {
            let mut representative = 0;
            for (i, o) in rest.iter().enumerate() {
                if o.links > rest[representative].links {
                    representative = i;
                }
            }
            let occurrences = rest;
            queue.push((
                Motif {
                    occurrences,
                    representative,
                },
                splits + 1,
            ));
        }
    }
    // The audio must match for at least --min-length: refined occurrences shorter than that go, and so do
    // motifs left with too few occurrences.
    motifs.retain_mut(|m| {
        let rep = m.occurrences[m.representative].clone();
        m.occurrences.retain(|o| o.end - o.start >= args.min_length);
        m.representative = m
            .occurrences
            .iter()
            .position(|o| o.track == rep.track && o.start == rep.start)
            .unwrap_or(0);
        m.occurrences.len() >= args.min_occurrences
    });
    sort_motifs(&mut motifs);
    Ok(Found { paths, motifs })
}

/// Seconds searched beyond a coarse occurrence (about one aiSFX block) and around its lag.
const REFINE_MARGIN_S: f64 = 2.5;
const REFINE_LAG_S: f64 = 2.5;

/// Times a motif is split by the audio confirmation.
const MAX_SPLITS: usize = 3;

/// Window matches place an occurrence to about a window; the audio places it to about 10 ms
/// (`avx_embed::refine`). Occurrences whose audio does not measurably repeat the representative's are taken
/// out and returned, with their window-match spans.
fn refine(paths: &[PathBuf], motif: &mut Motif, only: Option<&Path>) -> Result<Vec<Occurrence>> {
    let chosen: Vec<usize> = (0..motif.occurrences.len())
        .filter(|&i| {
            i == motif.representative
                || only.is_none_or(|p| paths[motif.occurrences[i].track as usize] == p)
        })
        .collect();
    let clips: Vec<Clip> = chosen
        .iter()
        .map(|&i| {
            let o = &motif.occurrences[i];
            Clip {
                path: paths[o.track as usize].clone(),
                start: o.start as f64,
                end: o.end as f64,
            }
        })
        .collect();
    let reference = chosen
        .iter()
        .position(|&i| i == motif.representative)
        .unwrap_or(0);
    let refined = refine_motif(&clips, reference, REFINE_MARGIN_S, REFINE_LAG_S)?;
    let coarse = motif.occurrences.clone();
    let mut keep = vec![true; motif.occurrences.len()];
    for (&i, r) in chosen.iter().zip(refined) {
        let o = &mut motif.occurrences[i];
        o.start = r.start as f32;
        o.end = r.end as f32;
        keep[i] = i == motif.representative || r.matched.is_some_and(|m| m.is_repeat());
    }
    // Occurrences whose audio does not measurably repeat the representative's go.
    let rep = motif.representative;
    let mut i = 0;
    motif.occurrences.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    motif.representative = keep[..rep].iter().filter(|&&k| k).count();
    Ok(coarse
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| !k)
        .map(|(o, _)| o)
        .collect())
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
    let found = discover(&index, &args.motifs, only.as_deref())?;
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
