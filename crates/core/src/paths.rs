//! Paths as avx prints them, losslessly: the index stores a path's raw bytes, and so does every output meant for
//! programs.
//!
//! * JSON ([`path_json`]): a path that is valid UTF-8 is a JSON string, as README.md's "JSON output" has always
//!   promised; any other path (possible on Unix) is the object `{"bytes": BASE64}` with the standard base64 of its
//!   raw bytes, as ripgrep's JSON printer does for non-UTF-8 data. A reader that sees an object decodes the bytes.
//! * Path lists, M3U playlists ([`path_bytes`]): the raw bytes, one path per line.
//! * Tables and messages for people ([`path_text`]): lossy (U+FFFD for bytes that are not UTF-8).

use std::borrow::Cow;
use std::path::Path;

use base64::Engine as _;
use serde_json::{json, Value};

/// The JSON form of a path: a string when it is valid UTF-8, else `{"bytes": BASE64}` of its raw bytes.
pub fn path_json(p: &Path) -> Value {
    match p.to_str() {
        Some(s) => Value::String(s.to_string()),
        None => json!({"bytes": base64::engine::general_purpose::STANDARD.encode(path_bytes(p))}),
    }
}

/// The raw bytes of a path, for path lists and playlists (on platforms whose paths are not bytes, the UTF-8 of
/// the path, lossy only for unpaired surrogates).
pub fn path_bytes(p: &Path) -> Cow<'_, [u8]> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Cow::Borrowed(p.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        match p.to_string_lossy() {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        }
    }
}

/// A path as text for people (tables, messages): lossy for names that are not UTF-8.
pub fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_paths_are_strings() {
        assert_eq!(path_json(Path::new("/a/ß b.wav")), json!("/a/ß b.wav"));
        assert_eq!(&*path_bytes(Path::new("/a/b.wav")), b"/a/b.wav");
    }

    #[cfg(unix)]
    #[test]
    fn other_paths_are_base64_of_their_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(std::ffi::OsStr::from_bytes(b"/a/\xff.wav"));
        // base64("/a/\xff.wav") = "L2Ev/y53YXY="
        assert_eq!(path_json(p), json!({"bytes": "L2Ev/y53YXY="}));
        assert_eq!(&*path_bytes(p), b"/a/\xff.wav");
        assert_eq!(path_text(p), "/a/\u{fffd}.wav");
    }
}
