//! Paths in `text` columns, losslessly. The index stores a path's raw bytes, but PostgreSQL `text` must be valid
//! UTF-8, so a path is stored as its UTF-8 text with one escape: each byte that is not part of valid UTF-8 (and
//! each byte of a literal U+FFFD, so that the escape is unambiguous) is written as U+FFFD followed by its two
//! lower-case hex digits (`caf\xE9.wav` is `caf�e9.wav`). A valid UTF-8 path without U+FFFD, i.e. nearly every
//! path, is stored unchanged; the escape of a directory is a prefix of the escape of every path under it, so
//! `starts_with` filters still work. README.md ("Sharing a library: PostgreSQL") documents it.

use std::path::{Path, PathBuf};

const MARK: char = '\u{fffd}';

/// The `text` column form of `p`.
pub(crate) fn to_text(p: &Path) -> String {
    let bytes = raw(p);
    let mut out = String::with_capacity(bytes.len());
    let escape = |out: &mut String, b: &[u8]| {
        for x in b {
            out.push(MARK);
            out.push_str(&format!("{x:02x}"));
        }
    };
    for chunk in bytes.utf8_chunks() {
        for (i, part) in chunk.valid().split(MARK).enumerate() {
            if i > 0 {
                escape(&mut out, MARK.encode_utf8(&mut [0; 3]).as_bytes());
            }
            out.push_str(part);
        }
        escape(&mut out, chunk.invalid());
    }
    out
}

/// The path stored as `s` by [`to_text`]; text that was not written by it (a U+FFFD without two hex digits) is
/// kept as it is.
pub(crate) fn from_text(s: &str) -> PathBuf {
    if !s.contains(MARK) {
        return PathBuf::from(s);
    }
    let mut bytes = Vec::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find(MARK) {
        bytes.extend_from_slice(&rest.as_bytes()[..at]);
        let after = &rest[at + MARK.len_utf8()..];
        match after.get(..2).and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) if after.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit) => {
                bytes.push(b);
                rest = &after[2..];
            }
            _ => {
                bytes.extend_from_slice(MARK.encode_utf8(&mut [0; 3]).as_bytes());
                rest = after;
            }
        }
    }
    bytes.extend_from_slice(rest.as_bytes());
    from_raw(bytes)
}

#[cfg(unix)]
fn raw(p: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes()
}

#[cfg(not(unix))]
fn raw(p: &Path) -> std::borrow::Cow<'_, [u8]> {
    match p.to_string_lossy() {
        std::borrow::Cow::Borrowed(s) => std::borrow::Cow::Borrowed(s.as_bytes()),
        std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(s.into_bytes()),
    }
}

#[cfg(unix)]
fn from_raw(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn from_raw(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_paths_are_unchanged() {
        for p in ["/a/b.wav", "/ß/x,y %_.flac", ""] {
            assert_eq!(to_text(Path::new(p)), p);
            assert_eq!(from_text(p), Path::new(p));
        }
    }

    #[test]
    fn a_literal_replacement_character_is_escaped() {
        let p = Path::new("/a/\u{fffd}.wav");
        assert_eq!(to_text(p), "/a/\u{fffd}ef\u{fffd}bf\u{fffd}bd.wav");
        assert_eq!(from_text(&to_text(p)), p);
    }

    #[cfg(unix)]
    #[test]
    fn other_paths_round_trip_and_keep_their_directory_prefix() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(std::ffi::OsStr::from_bytes(b"/lib/caf\xe9 \xff/x.wav"));
        let dir = Path::new(std::ffi::OsStr::from_bytes(b"/lib/caf\xe9 \xff"));
        let t = to_text(p);
        assert_eq!(t, "/lib/caf\u{fffd}e9 \u{fffd}ff/x.wav");
        assert_eq!(from_text(&t), p);
        assert!(t.starts_with(&to_text(dir)));
        // Two names that differ only in their invalid bytes stay distinct.
        let q = Path::new(std::ffi::OsStr::from_bytes(b"/lib/caf\xe8 \xff/x.wav"));
        assert_ne!(to_text(q), t);
    }
}
