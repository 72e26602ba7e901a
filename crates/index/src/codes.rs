//! Int8 code files (`graph-<level>-<gen>.i8`, graph format 3): the int8 rows of a graph's nodes, in node
//! order, kept out of the graph file so that an incremental generation appends the new nodes' codes to the
//! file its previous generation uses instead of rewriting (and re-hashing) every unchanged row.
//!
//! The file is append-only like a row file: a graph generation reads the codes of its `points` nodes, the
//! prefix `64 + points * dim` bytes long, and checks them against the segment checksums its graph file lists
//! (each extension appends one segment). Bytes past a committed generation's prefix belong to a newer
//! generation or to an interrupted one, and the next extension overwrites them. See `index-format.md`,
//! "Int8 code files".

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapOptions};
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{IndexError, Result};
use crate::storage::Storage;
use crate::vectors::{u32_at, u64_at, Level};

/// Magic of an int8 code file.
pub const CODES_MAGIC: [u8; 8] = *b"AVXI8CD\0";
/// Version of the int8 code file layout.
pub const CODES_VERSION: u32 = 1;
/// Bytes before node 0's codes (a multiple of 64, so that 512 codes are 8 whole cache lines).
pub const CODES_HEADER: usize = 64;

/// Name of the int8 code file of `level` started by graph generation `generation`.
pub fn codes_file_name(level: Level, generation: u64) -> String {
    match level {
        Level::File => format!("graph-file-{generation}.i8"),
        Level::Window => format!("graph-window-{generation}.i8"),
    }
}

/// A run of consecutive nodes' codes appended at once, with the xxh3-64 of its bytes, as a format-3 graph
/// file lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub first: u64,
    pub count: u64,
    pub checksum: u64,
}

fn header(level: Level, dim: u32, generation: u64) -> [u8; CODES_HEADER] {
    let mut h = [0u8; CODES_HEADER];
    h[0..8].copy_from_slice(&CODES_MAGIC);
    h[8..12].copy_from_slice(&CODES_VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&level.code().to_le_bytes());
    h[16..20].copy_from_slice(&dim.to_le_bytes());
    h[24..32].copy_from_slice(&generation.to_le_bytes());
    let s = xxh3_64(&h[0..56]);
    h[56..64].copy_from_slice(&s.to_le_bytes());
    h
}

/// The mapped codes of a format-3 graph's nodes, checked against their header.
#[derive(Debug)]
pub(crate) struct CodesFile {
    pub path: PathBuf,
    pub generation: u64,
    pub segments: Vec<Segment>,
    map: Mmap,
}

impl CodesFile {
    /// Maps the codes of nodes `0..points` from code file `generation` of `level` in `dir` and checks its
    /// header and that `segments` cover exactly those nodes, in order; (if `full`) hashes every segment.
    pub fn open(
        dir: &Path,
        level: Level,
        dim: u32,
        generation: u64,
        points: u64,
        segments: Vec<Segment>,
        full: bool,
    ) -> Result<CodesFile> {
        let path = dir.join(codes_file_name(level, generation));
        let bad = |d: &str| IndexError::corrupt(&path, d.to_string());
        let mut next = 0u64;
        for s in &segments {
            if s.first != next || s.count == 0 {
                return Err(bad("graph int8 code segments are not consecutive"));
            }
            next = s.first.saturating_add(s.count);
        }
        if next != points {
            return Err(bad(
                "graph int8 code segments do not cover the graph's nodes",
            ));
        }
        let f = File::open(&path).map_err(|e| IndexError::io(&path, e))?;
        let len = f.metadata().map_err(|e| IndexError::io(&path, e))?.len();
        let need = (points as u128) * dim as u128 + CODES_HEADER as u128;
        if (len as u128) < need {
            return Err(bad("int8 code file shorter than its graph's nodes need"));
        }
        // SAFETY: the prefix mapped is never modified: a newer generation only appends past it (see the
        // module docs), and `RowMap::open`'s reasoning applies.
        let map = unsafe { MmapOptions::new().len(need as usize).map(&f) }
            .map_err(|e| IndexError::io(&path, e))?;
        let h = &map[..CODES_HEADER];
        if h[0..8] != CODES_MAGIC {
            return Err(bad("bad magic number in int8 code file header"));
        }
        if u32_at(h, 8) > CODES_VERSION {
            return Err(IndexError::NewerFormat {
                path: path.clone(),
                found: u32_at(h, 8),
                supported: CODES_VERSION,
            });
        }
        if u64_at(h, 56) != xxh3_64(&h[0..56]) {
            return Err(bad("int8 code file header checksum mismatch"));
        }
        if h[..56] != header(level, dim, generation)[..56] {
            return Err(bad("int8 code file header does not match its graph"));
        }
        let c = CodesFile {
            path,
            generation,
            segments,
            map,
        };
        if full {
            if let Some(p) = c.damaged(dim) {
                return Err(IndexError::corrupt(&c.path, p));
            }
        }
        Ok(c)
    }

    /// The codes of every node (`points * dim`).
    pub fn codes(&self) -> &[i8] {
        let b = &self.map[CODES_HEADER..];
        // SAFETY: i8 and u8 have the same layout.
        unsafe { std::slice::from_raw_parts(b.as_ptr().cast::<i8>(), b.len()) }
    }

    /// The first segment whose bytes do not hash to its checksum, as a problem, or `None`.
    pub fn damaged(&self, dim: u32) -> Option<String> {
        let d = dim as usize;
        self.segments.iter().find_map(|s| {
            let b = &self.map[CODES_HEADER + s.first as usize * d..][..s.count as usize * d];
            (xxh3_64(b) != s.checksum).then(|| {
                format!(
                    "int8 codes of nodes {}..{} do not match their checksum",
                    s.first,
                    s.first + s.count
                )
            })
        })
    }
}

/// Writes `codes` (whole rows of `dim`) as the codes of nodes `first..` into code file `generation` of
/// `level` in `dir`: a new file when `first` is 0, else appended to the file at node `first` (overwriting
/// what an interrupted generation left there); truncates after them and syncs the file (not the directory).
/// Returns their segment.
pub(crate) fn write_codes(
    storage: &dyn Storage,
    dir: &Path,
    level: Level,
    dim: u32,
    generation: u64,
    first: u64,
    codes: &[i8],
) -> Result<Segment> {
    let path = dir.join(codes_file_name(level, generation));
    let io = |e| IndexError::io(&path, e);
    let f = storage.open(&path, first == 0).map_err(io)?;
    if first == 0 {
        f.write_at(&header(level, dim, generation), 0).map_err(io)?;
    }
    // SAFETY: i8 and u8 have the same layout.
    let bytes = unsafe { std::slice::from_raw_parts(codes.as_ptr().cast::<u8>(), codes.len()) };
    let at = CODES_HEADER as u64 + first * dim as u64;
    f.write_at(bytes, at).map_err(io)?;
    f.set_len(at + bytes.len() as u64).map_err(io)?;
    f.sync().map_err(io)?;
    Ok(Segment {
        first,
        count: (codes.len() / dim.max(1) as usize) as u64,
        checksum: xxh3_64(bytes),
    })
}

/// The code-file generation a graph file names in its header (format 3), or `None` (older formats, no code
/// file, unreadable header).
pub(crate) fn codes_generation_of(graph: &Path) -> Option<u64> {
    use std::io::Read;
    let mut h = [0u8; 64];
    File::open(graph).ok()?.read_exact(&mut h).ok()?;
    let ok = h[0..8] == crate::graph::GRAPH_MAGIC
        && u32_at(&h, 8) >= 3
        && u64_at(&h, 56) == xxh3_64(&h[0..56]);
    let g = u64_at(&h, 48);
    (ok && g > 0).then_some(g)
}

/// Names of the code files that the graphs of commit `state` in `dir` use (read from their headers): with
/// `State::referenced_files`, the files of that commit.
pub(crate) fn codes_in_use(dir: &Path, state: &crate::meta::State) -> BTreeSet<String> {
    [Level::File, Level::Window]
        .into_iter()
        .filter_map(|level| {
            let g = state.level(level).graph?.generation;
            let c = codes_generation_of(&dir.join(level.graph_file_name(g)))?;
            Some(codes_file_name(level, c))
        })
        .collect()
}

/// Deletes graph file `generation` of `level` and the code file it uses unless that is `keep_codes` (the
/// code file of the graph that replaces it). Errors are ignored: what is left is garbage that the next
/// writer deletes.
pub(crate) fn remove_graph(
    storage: &dyn Storage,
    dir: &Path,
    level: Level,
    generation: u64,
    keep_codes: Option<u64>,
) {
    let graph = dir.join(level.graph_file_name(generation));
    if let Some(c) = codes_generation_of(&graph).filter(|&c| Some(c) != keep_codes) {
        let _ = storage.remove(&dir.join(codes_file_name(level, c)));
    }
    let _ = storage.remove(&graph);
}
