//! Append-only, memory-mapped f32 row files (`vectors-<gen>.f32`, `windows-<gen>.f32`).
//!
//! A row file is a 64-byte header followed by rows of `stride` bytes each; `stride` is `dim * 4`
//! rounded up to a multiple of 64, so every row starts on a 64-byte boundary of the file (and of the
//! page-aligned map). The header does not hold the row count: the committed count lives in the
//! manifest (`meta.redb`), and bytes past it are an interrupted append that the next writer
//! truncates. See `index-format.md` for the layout.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapOptions};
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{IndexError, Result};
use crate::storage::{Storage, StorageFile};

#[cfg(target_endian = "big")]
compile_error!(
    "avx_index maps little-endian f32 rows directly and supports little-endian targets only"
);

/// Magic number at offset 0 of every row file.
pub const ROW_MAGIC: [u8; 8] = *b"AVXVECS\0";
/// Row-file format version written by this build.
pub const ROW_VERSION: u32 = 1;
/// Length of the row-file header in bytes.
pub const HEADER_LEN: usize = 64;

/// Which vectors a row file (or a search) is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Level {
    /// One vector per audio file.
    File,
    /// One vector per analysis window of a file.
    Window,
}

impl Level {
    pub(crate) fn code(self) -> u32 {
        match self {
            Level::File => 0,
            Level::Window => 1,
        }
    }

    pub(crate) fn from_code(c: u32) -> Option<Level> {
        match c {
            0 => Some(Level::File),
            1 => Some(Level::Window),
            _ => None,
        }
    }

    /// The file name of the row file of this level at `generation`.
    pub fn row_file_name(self, generation: u64) -> String {
        match self {
            Level::File => format!("vectors-{generation}.f32"),
            Level::Window => format!("windows-{generation}.f32"),
        }
    }

    /// The file name of the graph file of this level at `generation`.
    pub fn graph_file_name(self, generation: u64) -> String {
        match self {
            Level::File => format!("graph-file-{generation}.hnsw"),
            Level::Window => format!("graph-window-{generation}.hnsw"),
        }
    }
}

/// Bytes per row for a dimension: `dim * 4` rounded up to a multiple of 64.
pub fn stride_for(dim: u32) -> u32 {
    (dim * 4).div_ceil(64) * 64
}

/// The decoded header of a row file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowHeader {
    pub version: u32,
    pub dim: u32,
    pub stride: u32,
    pub level: Level,
    pub generation: u64,
}

impl RowHeader {
    pub fn new(dim: u32, level: Level, generation: u64) -> RowHeader {
        RowHeader {
            version: ROW_VERSION,
            dim,
            stride: stride_for(dim),
            level,
            generation,
        }
    }

    /// Encodes the header (64 bytes, checksum in the last 8).
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&ROW_MAGIC);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[12..16].copy_from_slice(&self.dim.to_le_bytes());
        b[16..20].copy_from_slice(&self.stride.to_le_bytes());
        b[20..24].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        b[24..28].copy_from_slice(&self.level.code().to_le_bytes());
        b[32..40].copy_from_slice(&self.generation.to_le_bytes());
        let sum = xxh3_64(&b[0..56]);
        b[56..64].copy_from_slice(&sum.to_le_bytes());
        b
    }

    /// Decodes and checks a header: magic, version, checksum, then field consistency.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<RowHeader> {
        if bytes.len() < HEADER_LEN {
            return Err(IndexError::corrupt(
                path,
                format!(
                    "file is {} bytes, shorter than its 64-byte header",
                    bytes.len()
                ),
            ));
        }
        if bytes[0..8] != ROW_MAGIC {
            return Err(IndexError::corrupt(
                path,
                "bad magic number in row-file header",
            ));
        }
        let version = u32_at(bytes, 8);
        if version > ROW_VERSION {
            return Err(IndexError::NewerFormat {
                path: path.to_path_buf(),
                found: version,
                supported: ROW_VERSION,
            });
        }
        let sum = u64_at(bytes, 56);
        if sum != xxh3_64(&bytes[0..56]) {
            return Err(IndexError::corrupt(
                path,
                "row-file header checksum mismatch",
            ));
        }
        let dim = u32_at(bytes, 12);
        let stride = u32_at(bytes, 16);
        let header_len = u32_at(bytes, 20);
        let level = Level::from_code(u32_at(bytes, 24))
            .ok_or_else(|| IndexError::corrupt(path, "unknown level in row-file header"))?;
        if version == 0
            || dim == 0
            || dim > 1 << 20
            || stride != stride_for(dim)
            || header_len as usize != HEADER_LEN
            || bytes[28..32] != [0; 4]
            || bytes[40..56] != [0; 16]
        {
            return Err(IndexError::corrupt(
                path,
                "inconsistent row-file header fields",
            ));
        }
        Ok(RowHeader {
            version,
            dim,
            stride,
            level,
            generation: u64_at(bytes, 32),
        })
    }

    /// File length holding exactly `rows` rows.
    pub fn file_len(&self, rows: u64) -> u64 {
        HEADER_LEN as u64 + rows * self.stride as u64
    }
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Encodes rows (each `dim` floats) into their on-disk bytes, zero-padded to `stride`.
pub fn encode_rows<'a>(dim: u32, rows: impl IntoIterator<Item = &'a [f32]>) -> Vec<u8> {
    let stride = stride_for(dim) as usize;
    let mut out = Vec::new();
    for row in rows {
        debug_assert_eq!(row.len(), dim as usize);
        let start = out.len();
        for x in row {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out.resize(start + stride, 0);
    }
    out
}

/// Decodes one on-disk row back into floats (used by tests and tools; search reads the map).
pub fn decode_row(bytes: &[u8], dim: u32) -> Vec<f32> {
    bytes[..dim as usize * 4]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// A read-only map of the committed rows of one row file.
#[derive(Debug)]
pub struct RowMap {
    path: PathBuf,
    map: Mmap,
    header: RowHeader,
    rows: u64,
}

impl RowMap {
    /// Maps the first `rows` rows of `path`, checking the header, the dimension and the length.
    ///
    /// The map never covers bytes past the committed rows, and a writer only ever truncates a
    /// row file down to its committed length, so pages under the map are never removed while
    /// mapped (see "Invariants" in `index-format.md`).
    pub fn open(path: &Path, dim: u32, level: Level, rows: u64) -> Result<RowMap> {
        let file = File::open(path).map_err(|e| IndexError::io(path, e))?;
        let len = file.metadata().map_err(|e| IndexError::io(path, e))?.len();
        let mut head = [0u8; HEADER_LEN];
        read_exact_at(&file, &mut head, 0, path)?;
        let header = RowHeader::decode(&head, path)?;
        if header.dim != dim || header.level != level {
            return Err(IndexError::corrupt(
                path,
                format!(
                    "row file holds {:?} vectors of dimension {}, the manifest expects {:?} of dimension {}",
                    header.level, header.dim, level, dim
                ),
            ));
        }
        let want = header.file_len(rows);
        if len < want {
            return Err(IndexError::corrupt(
                path,
                format!("file is {len} bytes, but {rows} committed rows need {want}"),
            ));
        }
        let map_len = usize::try_from(want)
            .map_err(|_| IndexError::corrupt(path, "row file too large for this platform"))?;
        // SAFETY: the map is read-only and covers committed rows only; writers append past it and
        // never truncate below it (index-format.md, invariant 3). Modifying index files behind
        // avx's back is outside the contract, as for any memory-mapped database.
        let map = unsafe { MmapOptions::new().len(map_len).map(&file) }
            .map_err(|e| IndexError::io(path, e))?;
        Ok(RowMap {
            path: path.to_path_buf(),
            map,
            header,
            rows,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &RowHeader {
        &self.header
    }

    /// Number of committed rows mapped.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn dim(&self) -> usize {
        self.header.dim as usize
    }

    /// The floats of row `i`. Panics if `i >= rows()` (callers index with checked row numbers).
    #[inline]
    pub fn row(&self, i: u64) -> &[f32] {
        assert!(i < self.rows, "row {i} out of range");
        let stride = self.header.stride as usize;
        let start = HEADER_LEN + i as usize * stride;
        let bytes = &self.map[start..start + self.dim() * 4];
        // SAFETY: the map is page aligned, HEADER_LEN and stride are multiples of 64, so `bytes`
        // is 4-byte aligned; every bit pattern is a valid f32; the target is little-endian.
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<f32>(), self.dim()) }
    }

    /// Raw bytes of rows `first..first + n` (with padding), as covered by batch checksums.
    pub fn row_bytes(&self, first: u64, n: u64) -> Option<&[u8]> {
        if first.checked_add(n)? > self.rows {
            return None;
        }
        let stride = self.header.stride as usize;
        let start = HEADER_LEN + first as usize * stride;
        Some(&self.map[start..start + n as usize * stride])
    }
}

pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64, path: &Path) -> Result<()> {
    use std::io::Read;
    let mut f = file;
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| IndexError::io(path, e))?;
    f.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            IndexError::corrupt(
                path,
                format!("file shorter than {} bytes", offset + buf.len() as u64),
            )
        } else {
            IndexError::io(path, e)
        }
    })
}

/// The writer's handle on a row file: creates it with its header, truncates an interrupted append,
/// appends and syncs.
#[derive(Debug)]
pub struct RowAppender {
    path: PathBuf,
    file: Box<dyn StorageFile>,
    header: RowHeader,
    rows: u64,
}

impl RowAppender {
    /// Opens (creating if missing and `rows == 0`) the row file and truncates it to `rows` rows.
    pub fn open(
        storage: &dyn Storage,
        path: &Path,
        header: RowHeader,
        rows: u64,
    ) -> Result<RowAppender> {
        let exists = path.exists();
        if !exists && rows > 0 {
            return Err(IndexError::corrupt(
                path,
                format!("row file is missing but the manifest records {rows} committed rows"),
            ));
        }
        let file = storage
            .open(path, true)
            .map_err(|e| IndexError::io(path, e))?;
        let len = file.len().map_err(|e| IndexError::io(path, e))?;
        if len < HEADER_LEN as u64 {
            if rows > 0 {
                return Err(IndexError::corrupt(path, "row file lost its header"));
            }
            // New file (or a crash before its header reached the disk): write the header.
            file.set_len(0).map_err(|e| IndexError::io(path, e))?;
            file.write_at(&header.encode(), 0)
                .map_err(|e| IndexError::io(path, e))?;
            file.sync().map_err(|e| IndexError::io(path, e))?;
            if let Some(dir) = path.parent() {
                sync_dir(storage, dir)?;
            }
        } else {
            let mut head = [0u8; HEADER_LEN];
            file.read_at(&mut head, 0)
                .map_err(|e| IndexError::io(path, e))?;
            let found = RowHeader::decode(&head, path)?;
            if found.dim != header.dim || found.level != header.level {
                return Err(IndexError::corrupt(
                    path,
                    "row-file header does not match the manifest",
                ));
            }
            let want = header.file_len(rows);
            if len < want {
                return Err(IndexError::corrupt(
                    path,
                    format!("file is {len} bytes, but {rows} committed rows need {want}"),
                ));
            }
            if len > want {
                // Rows of an interrupted commit: never committed, so drop them.
                file.set_len(want).map_err(|e| IndexError::io(path, e))?;
                file.sync().map_err(|e| IndexError::io(path, e))?;
            }
        }
        Ok(RowAppender {
            path: path.to_path_buf(),
            file,
            header,
            rows,
        })
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends already-encoded rows (a multiple of the stride) without syncing.
    pub fn append(&mut self, bytes: &[u8]) -> Result<()> {
        let stride = self.header.stride as u64;
        debug_assert_eq!(bytes.len() as u64 % stride, 0);
        let at = self.header.file_len(self.rows);
        self.file
            .write_at(bytes, at)
            .map_err(|e| IndexError::io(&self.path, e))?;
        self.rows += bytes.len() as u64 / stride;
        Ok(())
    }

    /// Makes appended rows durable.
    pub fn sync(&self) -> Result<()> {
        self.file.sync().map_err(|e| IndexError::io(&self.path, e))
    }

    /// Forgets appended rows (after a failed commit): truncates back to `rows`.
    pub fn rollback(&mut self, rows: u64) -> Result<()> {
        self.file
            .set_len(self.header.file_len(rows))
            .map_err(|e| IndexError::io(&self.path, e))?;
        self.rows = rows;
        Ok(())
    }
}

/// fsyncs a directory so that file creations, renames and deletions in it are durable.
pub(crate) fn sync_dir(storage: &dyn Storage, dir: &Path) -> Result<()> {
    storage.sync_dir(dir).map_err(|e| IndexError::io(dir, e))
}
