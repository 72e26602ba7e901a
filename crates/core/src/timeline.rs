//! One recording as a programme (`avx timeline`, and `avx serve`'s timeline view through
//! `/api/files/ID/timeline`): contiguous segments cut at motif occurrences, silences, level jumps and changes of
//! sound, each named after the nearest example vector and the best label vector.
//!
//! The cutting is [`avx_index::analysis::timeline`]; this module gathers what it needs from an open index (the
//! file's window vectors) and from the audio (its levels, [`avx_embed::levels`]), so that the command line and
//! the server give the same segments for the same file.

use avx_index::analysis::{nearest, timeline, LevelTrack, SegmentKind, TimelineConfig};
use avx_index::{FileMeta, Index};

use crate::Result;

/// Frame of the level analysis (silences, level jumps), seconds.
pub const LEVEL_FRAME_S: f64 = 0.05;

/// One segment of a programme.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgrammeSegment {
    /// Start, seconds.
    pub start: f32,
    /// End, seconds.
    pub end: f32,
    /// A motif (its number in the occurrences given), silence, or the rest.
    pub kind: SegmentKind,
    /// The nearest example: its position in the examples given, and the cosine.
    pub like: Option<(usize, f32)>,
    /// The best label: its position in the label vectors given, and the cosine.
    pub label: Option<(usize, f32)>,
}

impl ProgrammeSegment {
    /// `motif`, `silence` or `other`: the `kind` of `avx timeline`'s JSON and CSV.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            SegmentKind::Motif(_) => "motif",
            SegmentKind::Silence => "silence",
            SegmentKind::Other => "other",
        }
    }

    /// The motif's number, for a motif segment.
    pub fn motif(&self) -> Option<usize> {
        match self.kind {
            SegmentKind::Motif(m) => Some(m),
            _ => None,
        }
    }
}

/// What to name the segments with.
#[derive(Debug, Clone, Default)]
pub struct ProgrammeOptions<'a> {
    /// `(motif, start, end)` of this file's motif occurrences, seconds (e.g.
    /// [`saved_occurrences`](crate::recurring::saved_occurrences)).
    pub occurrences: &'a [(usize, f32, f32)],
    /// Example vectors (`--like` clips, or indexed files), in the index's model.
    pub examples: &'a [Vec<f32>],
    /// Label vectors from the text tower (prompts already applied).
    pub labels: &'a [Vec<f32>],
    /// Cutting parameters ([`TimelineConfig::default`] unless changed).
    pub config: TimelineConfig,
}

/// The programme of the indexed file `meta`: decodes it once for its levels and reads its window vectors from
/// `index`. Errors: the file cannot be decoded (the error names it), or its vectors do not match the index.
pub fn programme(
    index: &Index,
    meta: &FileMeta,
    opts: &ProgrammeOptions<'_>,
) -> Result<Vec<ProgrammeSegment>> {
    let levels = avx_embed::levels::levels(&meta.path, LEVEL_FRAME_S)?;
    let windows = index.window_vectors_of(meta);
    let spans: Vec<(f32, f32)> = windows.iter().map(|(w, _)| *w).collect();
    let vectors: Vec<f32> = windows
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    let segments = timeline(
        meta.duration_s as f32,
        &spans,
        &vectors,
        index.settings().dim as usize,
        opts.occurrences,
        Some(LevelTrack {
            frame_s: levels.frame_s as f32,
            db: &levels.db,
        }),
        &opts.config,
    )?;
    Ok(segments
        .into_iter()
        .map(|s| ProgrammeSegment {
            like: nearest(&s.vector, opts.examples),
            label: nearest(&s.vector, opts.labels),
            start: s.start,
            end: s.end,
            kind: s.kind,
        })
        .collect())
}
