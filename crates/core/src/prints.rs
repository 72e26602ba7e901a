//! The sound-print log `<index>/prints.avp`: each indexed file's [`SoundPrint`], keyed by content hash.
//!
//! Written by `avx index` beside the index (never inside a commit: the manifest does not name it), read by
//! [`crate::dupes`] to confirm near-duplicate candidates. The file is append-only; every record carries its own
//! checksum, so a crash can at worst leave a torn last record, which readers ignore and the next writer cuts off.
//! A file without a print (an index made before prints existed, a torn record) falls back to its vectors. Format:
//! index-format.md, "Sound prints".

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use avx_embed::soundprint::{SoundPrint, BANDS, DETAIL_BINS};
use avx_embed::speckle::SPECKLE_BINS;
use avx_embed::wave::WAVE_LEN;
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{CoreError, Result};

/// First eight bytes of the file.
pub const MAGIC: &[u8; 8] = b"AVXPRNT\0";
/// Format version (bytes 8..12). Version 1 printed a sound that starts at the file's first sample without the
/// frames over its onset that the same sound after silence gets; version 2 kept a click after a sound's end (a
/// decoder's stray samples) as part of the sound and gave each FFT bin to one band; version 3 trims such bursts
/// and shares each bin between the bands it overlaps; version 4 adds the detail view (half-semitone spectra of the
/// first 3 s, [`avx_embed::soundprint::detail_score`]), which confirms candidates; version 5 adds the speckle view
/// (the onset's fine spectro-temporal texture, [`avx_embed::speckle`]), which tells a copy from a second take;
/// version 6 adds the wave view (the onset's band-limited waveform, [`avx_embed::wave`]), which finds trimmed,
/// faded and re-encoded copies of short hits. Older prints are not comparable with the current ones, so
/// an older log reads as empty and the next writer starts it again (`avx index` prints every file anew, without
/// re-embedding). It is the printer's own version, [`avx_embed::soundprint::PRINT_VERSION`], whose bytes
/// `crates/embed/tests/print_golden.rs` holds fixed.
pub const VERSION: u32 = avx_embed::soundprint::PRINT_VERSION;
const HEADER: usize = 16;
/// Bytes before a record's payload: payload length (u32) and xxh3-64 of the payload (u64).
const RECORD_HEAD: usize = 12;
/// Payload bytes before the cells.
const PAYLOAD_HEAD: usize = 16 + 4 + 4 + 4 + 4 + 4 + 4 + 4;

/// The largest payload a print can have (every view at its longest).
const MAX_PAYLOAD: usize = PAYLOAD_HEAD
    + avx_embed::soundprint::FINE_FRAMES * BANDS
    + avx_embed::soundprint::COARSE_FRAMES * BANDS
    + avx_embed::soundprint::DETAIL_ROWS * DETAIL_BINS
    + avx_embed::speckle::SPECKLE_FRAMES * SPECKLE_BINS
    + WAVE_LEN;

/// The log's path in an index directory.
pub fn prints_path(index_dir: &Path) -> PathBuf {
    index_dir.join("prints.avp")
}

/// The prints of an index, by content hash.
#[derive(Debug, Default, Clone)]
pub struct Prints {
    by_hash: HashMap<u128, SoundPrint>,
    /// Bytes of whole, valid records (where the next record goes).
    valid_len: u64,
}

impl Prints {
    /// Reads the log of the index in `index_dir` (a missing file is an empty set). A torn or damaged record ends
    /// the read (what follows it is ignored); a file that is not a print log is an error naming it.
    pub fn open(index_dir: &Path) -> Result<Prints> {
        let path = prints_path(index_dir);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Prints::default()),
            Err(e) => return Err(CoreError::io(&path, e)),
        };
        // Record by record: the log of 100k files is over 1 GB, and reading it whole first doubled the peak memory
        // of `avx dupes`.
        Self::read(std::io::BufReader::with_capacity(1 << 20, file))
            .map_err(|e| CoreError::io(&path, e))?
            .ok_or_else(|| {
                CoreError::Invalid(format!(
                    "{}: not an avx sound-print log (or one of a newer version): delete it and run `avx index` \
                     to print the files again",
                    path.display()
                ))
            })
    }

    /// The log read from `r`: `None` when it is not a print log (or one of a newer version).
    fn read(mut r: impl Read) -> std::io::Result<Option<Prints>> {
        let mut header = [0u8; HEADER];
        match read_full(&mut r, &mut header)? {
            0 => return Ok(Some(Prints::default())),
            HEADER => {}
            _ => return Ok(None),
        }
        if &header[..8] != MAGIC {
            return Ok(None);
        }
        match u32::from_le_bytes(header[8..12].try_into().expect("4 bytes")) {
            VERSION => {}
            // An older log: its prints are not comparable, the files are printed again.
            v if v < VERSION => return Ok(Some(Prints::default())),
            _ => return Ok(None),
        }
        let mut me = Prints {
            by_hash: HashMap::new(),
            valid_len: HEADER as u64,
        };
        let mut head = [0u8; RECORD_HEAD];
        let mut payload = Vec::new();
        while read_full(&mut r, &mut head)? == RECORD_HEAD {
            let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
            if len > MAX_PAYLOAD {
                // A damaged length: not read (nor allocated).
                break;
            }
            payload.resize(len, 0);
            if read_full(&mut r, &mut payload)? != len {
                break;
            }
            let Some((hash, print)) = record_payload(&head, &payload) else {
                break;
            };
            me.by_hash.insert(hash, print);
            me.valid_len += (RECORD_HEAD + len) as u64;
        }
        Ok(Some(me))
    }

    /// The print of the content with this hash.
    pub fn get(&self, hash: u128) -> Option<&SoundPrint> {
        self.by_hash.get(&hash)
    }

    /// Whether the log holds no print.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Number of prints.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }
}

/// Bytes read into `buf` until it is full or the input ends.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// One record (its head and payload): (content hash, print), or `None` when it is damaged.
fn record_payload(head: &[u8; RECORD_HEAD], payload: &[u8]) -> Option<(u128, SoundPrint)> {
    let len = payload.len();
    let sum = u64::from_le_bytes(head[4..12].try_into().ok()?);
    if xxh3_64(payload) != sum || len < PAYLOAD_HEAD {
        return None;
    }
    let u32_at = |o: usize| u32::from_le_bytes(payload[o..o + 4].try_into().expect("4 bytes"));
    let hash = u128::from_le_bytes(payload[..16].try_into().ok()?);
    let lead_s = f32::from_bits(u32_at(16));
    let frames = u32_at(20);
    let (nf, nc, nd, ns, nw) = (
        u32_at(24) as usize,
        u32_at(28) as usize,
        u32_at(32) as usize,
        u32_at(36) as usize,
        u32_at(40) as usize,
    );
    if PAYLOAD_HEAD + nf + nc + nd + ns + nw != len
        || nf % BANDS != 0
        || nc % BANDS != 0
        || nd % DETAIL_BINS != 0
        || ns % SPECKLE_BINS != 0
        || (nw != 0 && nw != WAVE_LEN)
        || !lead_s.is_finite()
    {
        return None;
    }
    let mut at_cells = PAYLOAD_HEAD;
    let mut cells = |n: usize| {
        let v = payload[at_cells..at_cells + n].to_vec();
        at_cells += n;
        v
    };
    let (fine, coarse, detail, speckle, wave) =
        (cells(nf), cells(nc), cells(nd), cells(ns), cells(nw));
    Some((
        hash,
        SoundPrint {
            lead_s,
            frames,
            fine,
            coarse,
            detail,
            speckle,
            wave,
        },
    ))
}

/// One record's bytes.
fn record(hash: u128, p: &SoundPrint) -> Vec<u8> {
    let views = [&p.fine, &p.coarse, &p.detail, &p.speckle, &p.wave];
    let mut payload =
        Vec::with_capacity(PAYLOAD_HEAD + views.iter().map(|v| v.len()).sum::<usize>());
    payload.extend_from_slice(&hash.to_le_bytes());
    payload.extend_from_slice(&p.lead_s.to_bits().to_le_bytes());
    payload.extend_from_slice(&p.frames.to_le_bytes());
    for v in views {
        payload.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for v in views {
        payload.extend_from_slice(v);
    }
    let mut out = Vec::with_capacity(RECORD_HEAD + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&xxh3_64(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// The checksum field of one record's bytes ([`record`]): equal for equal prints of the same content hash.
fn record_sum(record: &[u8]) -> u64 {
    u64::from_le_bytes(record[4..12].try_into().expect("a record has its head"))
}

/// Appends prints to an index's log.
#[derive(Debug)]
pub struct PrintWriter {
    path: PathBuf,
    file: std::fs::File,
    /// Each content hash in the log with its latest record's checksum (not the print itself, so the writer's
    /// memory is 16 + 8 bytes per file however large the library, not the whole log).
    known: HashMap<u128, u64>,
}

impl PrintWriter {
    /// Opens (or creates) the log of the index in `index_dir`, cutting off a torn last record.
    pub fn open(index_dir: &Path) -> Result<PrintWriter> {
        let prints = Prints::open(index_dir)?;
        let valid_len = prints.valid_len;
        let known: HashMap<u128, u64> = prints
            .by_hash
            .into_iter()
            .map(|(h, p)| (h, record_sum(&record(h, &p))))
            .collect();
        let path = prints_path(index_dir);
        let io = |e| CoreError::io(&path, e);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        let mut len = file.metadata().map_err(io)?.len();
        if valid_len == 0 && len > 0 {
            // An older version's log (parsed as empty): start it again.
            file.set_len(0).map_err(io)?;
            len = 0;
        }
        if len == 0 {
            let mut head = Vec::with_capacity(HEADER);
            head.extend_from_slice(MAGIC);
            head.extend_from_slice(&VERSION.to_le_bytes());
            head.extend_from_slice(&0u32.to_le_bytes());
            file.write_all(&head).map_err(io)?;
        } else if len != valid_len {
            file.set_len(valid_len).map_err(io)?;
        }
        use std::io::Seek;
        file.seek(std::io::SeekFrom::End(0)).map_err(io)?;
        Ok(PrintWriter { path, file, known })
    }

    /// Whether the log already holds a print for this content.
    pub fn has(&self, hash: u128) -> bool {
        self.known.contains_key(&hash)
    }

    /// Appends the print of the content with this hash (unless the same print is stored already).
    pub fn append(&mut self, hash: u128, print: &SoundPrint) -> Result<()> {
        let bytes = record(hash, print);
        let sum = record_sum(&bytes);
        if self.known.get(&hash) == Some(&sum) {
            return Ok(());
        }
        self.file
            .write_all(&bytes)
            .map_err(|e| CoreError::io(&self.path, e))?;
        self.known.insert(hash, sum);
        Ok(())
    }

    /// Makes what was appended durable (called after each index commit).
    pub fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| CoreError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn print(n: usize, seed: u8) -> SoundPrint {
        SoundPrint {
            lead_s: 0.25,
            frames: n as u32,
            fine: (0..n * BANDS)
                .map(|i| (i as u8).wrapping_mul(seed))
                .collect(),
            coarse: (0..n.div_ceil(10) * BANDS)
                .map(|i| i as u8 ^ seed)
                .collect(),
            detail: (0..n.div_ceil(10).min(30) * DETAIL_BINS)
                .map(|i| (i as u8).wrapping_add(seed))
                .collect(),
            speckle: (0..(n % 2) * 40 * SPECKLE_BINS)
                .map(|i| (i as u8).wrapping_mul(seed ^ 5))
                .collect(),
            wave: (0..(n % 3).min(1) * WAVE_LEN)
                .map(|i| (i as u8).wrapping_mul(seed ^ 9))
                .collect(),
        }
    }

    #[test]
    fn round_trip_and_a_torn_tail_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = PrintWriter::open(dir.path()).unwrap();
        w.append(7, &print(5, 3)).unwrap();
        w.append(9, &print(40, 5)).unwrap();
        w.append(7, &print(6, 11)).unwrap(); // a changed file: the later record wins
        w.sync().unwrap();
        drop(w);
        let p = Prints::open(dir.path()).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p.get(7), Some(&print(6, 11)));
        assert_eq!(p.get(9), Some(&print(40, 5)));

        // A crash mid-append: half a record at the end is ignored, then cut off by the next writer.
        let path = prints_path(dir.path());
        let whole = std::fs::metadata(&path).unwrap().len();
        let rec = record(12, &print(8, 7));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&rec[..rec.len() / 2]).unwrap();
        drop(f);
        assert_eq!(Prints::open(dir.path()).unwrap().len(), 2);
        let mut w = PrintWriter::open(dir.path()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
        w.append(12, &print(8, 7)).unwrap();
        drop(w);
        assert_eq!(Prints::open(dir.path()).unwrap().len(), 3);

        // A damaged length field (4 GB) ends the read without reading or allocating it, and is cut off too.
        let whole = std::fs::metadata(&path).unwrap().len();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&[0xff; RECORD_HEAD + 64]).unwrap();
        drop(f);
        assert_eq!(Prints::open(dir.path()).unwrap().len(), 3);
        drop(PrintWriter::open(dir.path()).unwrap());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), whole);
    }

    #[test]
    fn an_older_version_reads_as_empty_and_is_started_again() {
        for old in 1..VERSION {
            older_version_is_started_again(old);
        }
    }

    fn older_version_is_started_again(old: u32) {
        let dir = tempfile::tempdir().unwrap();
        let mut w = PrintWriter::open(dir.path()).unwrap();
        w.append(1, &print(3, 1)).unwrap();
        drop(w);
        let path = prints_path(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8..12].copy_from_slice(&old.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        assert!(Prints::open(dir.path()).unwrap().is_empty());
        let mut w = PrintWriter::open(dir.path()).unwrap();
        assert!(!w.has(1));
        w.append(2, &print(4, 2)).unwrap();
        drop(w);
        let p = Prints::open(dir.path()).unwrap();
        assert_eq!(
            (p.len(), p.get(1).is_none(), p.get(2).is_some()),
            (1, true, true)
        );
        assert_eq!(std::fs::read(&path).unwrap()[8..12], VERSION.to_le_bytes());

        bytes[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let e = Prints::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("newer version"), "{e}");
    }

    #[test]
    fn a_damaged_record_ends_the_read_and_a_foreign_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = PrintWriter::open(dir.path()).unwrap();
        w.append(1, &print(3, 1)).unwrap();
        w.append(2, &print(3, 2)).unwrap();
        drop(w);
        let path = prints_path(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let p = Prints::open(dir.path()).unwrap();
        assert_eq!((p.len(), p.get(1).is_some()), (1, true));

        std::fs::write(&path, b"not a print log at all").unwrap();
        let e = Prints::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("prints.avp") && e.contains("avx index"), "{e}");
    }
}
