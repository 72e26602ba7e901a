//! Encoder delay and padding declared by an MP4/M4A container: the edit list (`elst`) and iTunes' `iTunSMPB`.
//!
//! AAC encoders put priming samples (1024 for ffmpeg's and Apple's encoders, 2112 counting Apple's decoder delay)
//! before the audio and pad the last frame. The container says which samples to play: ffmpeg reads the first audio
//! track's edit list (`moov/trak/edts/elst`: play `segment_duration` movie-timescale units from `media_time`
//! media-timescale units), and, when there is no usable edit, iTunes' `iTunSMPB` tag (`moov/udta/meta/ilst/----`,
//! hex fields: priming, padding, original sample count). symphonia 0.5.5 parses `elst` but keeps it private and
//! ignores `iTunSMPB`, so [`read`] reads the boxes from the file's bytes and the decoder trims the samples itself.
//!
//! The parser is small and bounded: it walks top-level boxes by their headers (seeking over `mdat`), reads `moov`
//! only when it is at most [`MAX_MOOV`] bytes, never indexes outside a slice, and answers `None` for anything it
//! does not understand (several non-empty edits, a rate other than 1, no audio track): the file then decodes
//! untrimmed, as before.

use std::io::{Read, Seek, SeekFrom};

/// Largest `moov` box read (a few minutes of AAC need some kilobytes; 100-hour files some megabytes).
const MAX_MOOV: u64 = 32 << 20;
/// Most top-level boxes looked at before giving up.
const MAX_TOP_BOXES: usize = 1024;

/// Samples to drop at the start and the number to keep after them, in the audio track's sample frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    /// Priming samples to drop before the first one played.
    pub skip: u64,
    /// Samples to play after them; `None`: to the end of the stream.
    pub frames: Option<u64>,
}

/// A trim as the container states it: in units of `timescale` per second (the media timescale of an edit list),
/// or in samples (`timescale: None`, iTunSMPB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declared {
    skip: u64,
    frames: Option<u64>,
    timescale: Option<u64>,
}

impl Declared {
    /// The trim in sample frames of a stream at `sample_rate` Hz (rounded to the nearest frame).
    pub fn at_rate(&self, sample_rate: u32) -> Trim {
        let conv = |t: u64| match self.timescale {
            Some(ts) if ts != sample_rate as u64 => {
                ((t as u128 * sample_rate as u128 + ts as u128 / 2) / ts as u128) as u64
            }
            _ => t,
        };
        Trim {
            skip: conv(self.skip),
            frames: self.frames.map(conv),
        }
    }
}

/// The trim declared by the MP4 file read from `src` (which starts at offset 0), or `None` when it declares none
/// this parser can apply.
pub fn read<R: Read + Seek>(src: &mut R) -> Option<Declared> {
    let moov = find_moov(src)?;
    from_moov(&moov)
}

/// The body of the top-level `moov` box.
fn find_moov<R: Read + Seek>(src: &mut R) -> Option<Vec<u8>> {
    let mut pos = 0u64;
    for _ in 0..MAX_TOP_BOXES {
        src.seek(SeekFrom::Start(pos)).ok()?;
        let mut h = [0u8; 16];
        src.read_exact(&mut h[..8]).ok()?;
        let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
        let (size, header) = match size32 {
            1 => {
                src.read_exact(&mut h[8..16]).ok()?;
                (u64::from_be_bytes(h[8..16].try_into().ok()?), 16)
            }
            // Size 0: the box runs to the end of the file.
            0 => {
                let end = src.seek(SeekFrom::End(0)).ok()?;
                src.seek(SeekFrom::Start(pos + 8)).ok()?;
                (end.checked_sub(pos)?, 8)
            }
            s => (s, 8),
        };
        if size < header {
            return None;
        }
        if &h[4..8] == b"moov" {
            let body = size - header;
            if body > MAX_MOOV {
                return None;
            }
            let mut buf = Vec::with_capacity(body as usize);
            src.take(body).read_to_end(&mut buf).ok()?;
            return (buf.len() as u64 == body).then_some(buf);
        }
        pos = pos.checked_add(size)?;
    }
    None
}

/// Iterates the boxes of `data` as `(type, body)`; stops at the first malformed header.
fn boxes(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as u64;
        let kind: [u8; 4] = data.get(4..8)?.try_into().ok()?;
        let (size, header) = match size {
            1 => (u64::from_be_bytes(data.get(8..16)?.try_into().ok()?), 16),
            0 => (data.len() as u64, 8),
            s => (s, 8),
        };
        if size < header || size > data.len() as u64 {
            data = &[];
            return None;
        }
        let body = &data[header as usize..size as usize];
        data = &data[size as usize..];
        Some((kind, body))
    })
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).find(|(k, _)| k == kind).map(|(_, b)| b)
}

fn be_u32(b: &[u8], at: usize) -> Option<u64> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?) as u64)
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// A full box's version byte and the timescale of an `mvhd` or `mdhd` body.
fn timescale(full_box: &[u8]) -> Option<u64> {
    let ts = match *full_box.first()? {
        0 => be_u32(full_box, 12)?,
        1 => be_u32(full_box, 20)?,
        _ => return None,
    };
    (ts > 0).then_some(ts)
}

fn from_moov(moov: &[u8]) -> Option<Declared> {
    let movie_ts = timescale(child(moov, b"mvhd")?)?;
    // The first audio track (symphonia decodes the first track with a codec, in practice the first `soun` one).
    let trak = boxes(moov)
        .filter(|(k, _)| k == b"trak")
        .map(|(_, b)| b)
        .find(|t| {
            child(t, b"mdia")
                .and_then(|m| child(m, b"hdlr"))
                .and_then(|h| h.get(8..12))
                == Some(b"soun")
        })?;
    let mdia = child(trak, b"mdia")?;
    let media_ts = timescale(child(mdia, b"mdhd")?)?;
    let from_elst = child(trak, b"edts")
        .and_then(|e| child(e, b"elst"))
        .and_then(|e| elst(e, movie_ts, media_ts));
    match from_elst {
        Some((media_time, duration)) if media_time > 0 => {
            return Some(Declared {
                skip: media_time,
                frames: duration,
                timescale: Some(media_ts),
            })
        }
        _ => {}
    }
    // No edit that skips anything: iTunes' tag, if present (ffmpeg reads it the same way).
    let meta = child(moov, b"udta").and_then(|u| child(u, b"meta"))?;
    // iTunes writes `meta` as a full box (4 bytes of version and flags), QuickTime without them.
    let ilst = child(meta.get(4..)?, b"ilst").or_else(|| child(meta, b"ilst"))?;
    let smpb = boxes(ilst)
        .filter(|(k, _)| k == b"----")
        .find_map(|(_, b)| itunes_custom(b, "iTunSMPB"))?;
    itunsmpb(&smpb)
}

/// The one non-empty edit of an `elst` body as `(media_time, duration)` in media-timescale units (`duration`
/// `None` when the edit runs to the end). Leading empty edits (`media_time == -1`, a presentation delay) are
/// skipped; several non-empty edits or a rate other than 1 give `None`.
fn elst(body: &[u8], movie_ts: u64, media_ts: u64) -> Option<(u64, Option<u64>)> {
    let version = *body.first()?;
    let count = be_u32(body, 4)? as usize;
    let entry_len = if version == 1 { 20 } else { 12 };
    let mut found = None;
    for i in 0..count.min(64) {
        let at = 8 + i * entry_len;
        let (duration, media_time, rate_at) = if version == 1 {
            (be_u64(body, at)?, be_u64(body, at + 8)? as i64, at + 16)
        } else {
            (
                be_u32(body, at)?,
                be_u32(body, at + 4)? as u32 as i32 as i64,
                at + 8,
            )
        };
        if media_time == -1 {
            continue;
        }
        if media_time < 0 || found.is_some() || be_u32(body, rate_at)? != 0x0001_0000 {
            return None;
        }
        let dur = (duration > 0).then(|| {
            ((duration as u128 * media_ts as u128 + movie_ts as u128 / 2) / movie_ts as u128) as u64
        });
        found = Some((media_time as u64, dur));
    }
    found
}

/// The value of an iTunes custom tag (`----` box with `mean`, `name` and `data` children) named `name`.
fn itunes_custom(body: &[u8], name: &str) -> Option<String> {
    let n = child(body, b"name")?;
    if n.get(4..)? != name.as_bytes() {
        return None;
    }
    let data = child(body, b"data")?;
    let text = data.get(8..)?;
    Some(String::from_utf8_lossy(text).into_owned())
}

/// `iTunSMPB`: " 00000000 00000840 000001CA 00000000003F31F6 ..." (hex: zero, priming, padding, original
/// samples). The original count is taken as the number of samples to play.
fn itunsmpb(value: &str) -> Option<Declared> {
    let mut f = value.split_whitespace().map(|w| u64::from_str_radix(w, 16));
    let _zero = f.next()?.ok()?;
    let priming = f.next()?.ok()?;
    let _padding = f.next()?.ok()?;
    let frames = f.next()?.ok()?;
    (priming > 0 || frames > 0).then_some(Declared {
        skip: priming,
        frames: (frames > 0).then_some(frames),
        timescale: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn full(version: u8, rest: &[u8]) -> Vec<u8> {
        let mut v = vec![version, 0, 0, 0];
        v.extend_from_slice(rest);
        v
    }

    fn hd(ts: u32) -> Vec<u8> {
        // mvhd/mdhd version 0: creation, modification, timescale, duration.
        let mut r = vec![0u8; 8];
        r.extend_from_slice(&ts.to_be_bytes());
        r.extend_from_slice(&[0u8; 4]);
        full(0, &r)
    }

    fn movie(elst_entries: &[(u32, i32)], smpb: Option<&str>) -> Vec<u8> {
        let mut e = (elst_entries.len() as u32).to_be_bytes().to_vec();
        for &(d, t) in elst_entries {
            e.extend_from_slice(&d.to_be_bytes());
            e.extend_from_slice(&t.to_be_bytes());
            e.extend_from_slice(&0x0001_0000u32.to_be_bytes());
        }
        let edts = bx(b"edts", &bx(b"elst", &full(0, &e)));
        let hdlr = bx(b"hdlr", &full(0, b"\0\0\0\0soun"));
        let mdia = bx(b"mdia", &[bx(b"mdhd", &hd(44_100)), hdlr].concat());
        let trak = bx(b"trak", &[edts, mdia].concat());
        let mut moov = [bx(b"mvhd", &hd(1000)), trak].concat();
        if let Some(s) = smpb {
            let tag = [
                bx(b"mean", &full(0, b"com.apple.iTunes")),
                bx(b"name", &full(0, b"iTunSMPB")),
                bx(
                    b"data",
                    &[&[0, 0, 0, 1, 0, 0, 0, 0][..], s.as_bytes()].concat(),
                ),
            ]
            .concat();
            let ilst = bx(b"ilst", &bx(b"----", &tag));
            moov.extend(bx(b"udta", &bx(b"meta", &full(0, &ilst))));
        }
        [
            bx(b"ftyp", b"M4A \0\0\0\0"),
            bx(b"mdat", &[0u8; 100]),
            bx(b"moov", &moov),
        ]
        .concat()
    }

    fn check(file: &[u8], want: Option<Trim>) {
        let got = read(&mut std::io::Cursor::new(file)).map(|d| d.at_rate(44_100));
        assert_eq!(got, want);
    }

    #[test]
    fn edit_list_as_ffmpeg_writes_it() {
        // ffmpeg's AAC M4A of 4 s at 44.1 kHz: 4000 ms from media time 1024.
        let want = Trim {
            skip: 1024,
            frames: Some(176_400),
        };
        check(&movie(&[(4000, 1024)], None), Some(want));
        // A leading empty edit is a presentation delay, not a trim.
        check(&movie(&[(500, -1), (4000, 1024)], None), Some(want));
    }

    #[test]
    fn itunsmpb_when_the_edit_skips_nothing() {
        let smpb = " 00000000 00000840 000001CA 00000000003F31F6 00000000 00000000";
        let want = Trim {
            skip: 0x840,
            frames: Some(0x3F31F6),
        };
        check(&movie(&[(4000, 0)], Some(smpb)), Some(want));
        check(&movie(&[], Some(smpb)), Some(want));
        // The edit list wins when it trims.
        check(
            &movie(&[(4000, 1024)], Some(smpb)),
            Some(Trim {
                skip: 1024,
                frames: Some(176_400),
            }),
        );
    }

    #[test]
    fn media_timescale_other_than_the_rate() {
        let d = Declared {
            skip: 2048,
            frames: Some(352_800),
            timescale: Some(88_200),
        };
        assert_eq!(
            d.at_rate(44_100),
            Trim {
                skip: 1024,
                frames: Some(176_400)
            }
        );
    }

    #[test]
    fn nothing_applicable_is_none() {
        check(&movie(&[(4000, 0)], None), None);
        check(&movie(&[(2000, 1024), (2000, 5000)], None), None);
        check(&movie(&[], Some("garbage")), None);
    }

    #[test]
    fn malformed_input_never_panics() {
        let good = movie(&[(4000, 1024)], Some(" 0 840 1CA 3F31F6"));
        for cut in 0..good.len() {
            let _ = read(&mut std::io::Cursor::new(&good[..cut]));
        }
        let mut x = 0x1234_5678u32;
        for _ in 0..2000 {
            let mut bad = good.clone();
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = x as usize % bad.len();
                bad[i] = (x >> 24) as u8;
            }
            let _ = read(&mut std::io::Cursor::new(&bad));
        }
    }
}
