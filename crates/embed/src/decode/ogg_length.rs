//! The length of an Ogg Vorbis stream as its last page declares it, for trimming the final block's padding.
//!
//! A Vorbis stream ends on a whole block; the last page's granule position says how many samples of it are real
//! (libvorbis, libsndfile and so `librosa.load` stop there). symphonia 0.5.5 derives that end trim from the last two
//! pages, so a stream whose audio fits on one page (a one-shot of a fraction of a second) keeps up to a block of
//! padding: 158 samples on a 0.5 s file. [`last_granule`] reads the granule position of the file's last page from
//! its final bytes; the decoder stops after `granule - start` samples.
//!
//! Bounded and never panicking: it reads at most [`TAIL`] bytes, checks each page header's length against what
//! was read, and answers `None` for anything unexpected (another logical stream's page at the end, no granule).

use std::io::{Read, Seek, SeekFrom};

/// Bytes read from the end of the file (an Ogg page is at most 65307 bytes).
const TAIL: u64 = 65_536 + 65_307;

/// The granule position of the last complete page of the logical stream `serial` in `src`, if that page is in the
/// file's final [`TAIL`] bytes and is the last page of the file.
pub fn last_granule<R: Read + Seek>(src: &mut R, serial: u32) -> Option<u64> {
    let len = src.seek(SeekFrom::End(0)).ok()?;
    let from = len.saturating_sub(TAIL);
    src.seek(SeekFrom::Start(from)).ok()?;
    let mut tail = Vec::with_capacity((len - from) as usize);
    src.take(len - from).read_to_end(&mut tail).ok()?;
    // The last page that ends exactly at the end of the file.
    let mut at = tail.len().checked_sub(27)?;
    loop {
        if let Some(end) = page_end(&tail, at) {
            if end == tail.len() {
                let h = &tail[at..];
                let granule = i64::from_le_bytes(h[6..14].try_into().ok()?);
                let page_serial = u32::from_le_bytes(h[14..18].try_into().ok()?);
                return (page_serial == serial && granule >= 0).then_some(granule as u64);
            }
        }
        at = at.checked_sub(1)?;
    }
}

/// The serial number of the logical stream whose first page starts `head`.
pub fn first_serial(head: &[u8]) -> Option<u32> {
    (head.get(..4)? == b"OggS").then_some(())?;
    Some(u32::from_le_bytes(head.get(14..18)?.try_into().ok()?))
}

/// Where the page whose header starts at `at` ends, if a valid-looking header is there.
fn page_end(b: &[u8], at: usize) -> Option<usize> {
    let h = b.get(at..at + 27)?;
    if &h[..4] != b"OggS" || h[4] != 0 {
        return None;
    }
    let segments = h[26] as usize;
    let table = b.get(at + 27..at + 27 + segments)?;
    let body: usize = table.iter().map(|&s| s as usize).sum();
    Some(at + 27 + segments + body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(serial: u32, granule: i64, body: &[u8]) -> Vec<u8> {
        let mut p = b"OggS\0\x04".to_vec();
        p.extend_from_slice(&granule.to_le_bytes());
        p.extend_from_slice(&serial.to_le_bytes());
        p.extend_from_slice(&[0; 8]); // sequence, CRC (not checked)
        let mut segs = vec![255u8; body.len() / 255];
        segs.push((body.len() % 255) as u8);
        p.push(segs.len() as u8);
        p.extend_from_slice(&segs);
        p.extend_from_slice(body);
        p
    }

    fn check(file: &[u8], serial: u32, want: Option<u64>) {
        assert_eq!(last_granule(&mut std::io::Cursor::new(file), serial), want);
    }

    #[test]
    fn last_page_granule() {
        let file = [page(7, 0, b"head"), page(7, 22_050, &[1u8; 600])].concat();
        assert_eq!(first_serial(&file), Some(7));
        check(&file, 7, Some(22_050));
        // Another stream's page at the end, or a granule of -1: nothing applied.
        check(&file, 8, None);
        check(&[page(7, 0, b"x"), page(7, -1, b"y")].concat(), 7, None);
        // A body that contains "OggS" does not fool it: the real header is the one that ends at the file's end.
        let tricky = [page(7, 0, b"a"), page(7, 500, b"xxOggS\0\0yy")].concat();
        check(&tricky, 7, Some(500));
    }

    #[test]
    fn truncated_or_garbage_never_panics() {
        let file = [page(7, 0, b"head"), page(7, 22_050, &[1u8; 600])].concat();
        for cut in 0..file.len() {
            let _ = last_granule(&mut std::io::Cursor::new(&file[..cut]), 7);
            let _ = first_serial(&file[..cut]);
        }
        check(b"", 7, None);
        check(b"OggS", 7, None);
    }
}
