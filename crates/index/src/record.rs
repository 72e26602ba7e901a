//! The binary encoding of the manifest's records (`State`, `FileEntry`), written by hand.
//!
//! The bytes are those bincode 1 wrote with fixed-width little-endian integers (the encoding of
//! format version 1, `index-format.md`, "`meta.redb` tables"), so indexes written before this
//! module read back unchanged and new ones are byte-identical:
//!
//! * integers and floats: their little-endian bytes at full width (`u16` 2, `u32`/`f32` 4,
//!   `u64`/`i64`/`f64` 8, `u128` 16); `bool`: one byte, 0 or 1;
//! * `Option<T>`: one byte, 0 (`None`) or 1 followed by `T`;
//! * byte strings, `String` and `Vec<T>`: a `u64` element count, then the elements;
//! * a fixed-size array, a tuple or a struct: its elements or fields in order, no prefix;
//! * a unit enum variant: its index as `u32`.
//!
//! Decoding rejects unknown tags, invalid UTF-8, counts larger than the bytes left, and trailing
//! bytes, with a message naming what was wrong; it never panics and never allocates more than the
//! input could hold.

/// A record type of the manifest.
pub(crate) trait Record: Sized {
    fn put(&self, out: &mut Vec<u8>);
    fn take(r: &mut Reader<'_>) -> Result<Self, String>;
}

/// Encodes a record.
pub(crate) fn to_bytes<T: Record>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    v.put(&mut out);
    out
}

/// Decodes a record that must span all of `b`.
pub(crate) fn from_bytes<T: Record>(b: &[u8]) -> Result<T, String> {
    let mut r = Reader { b, at: 0 };
    let v = T::take(&mut r)?;
    if r.at != b.len() {
        return Err(format!(
            "{} trailing bytes after the record",
            b.len() - r.at
        ));
    }
    Ok(v)
}

/// A cursor over the bytes being decoded.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| {
                format!(
                    "record ends early (needs {n} more bytes at byte {})",
                    self.at
                )
            })?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    /// An element count, checked against the bytes left (`min_size` bytes per element at least).
    fn count(&mut self, min_size: usize) -> Result<usize, String> {
        let n = u64::take(self)?;
        let left = (self.b.len() - self.at) as u64;
        if n.saturating_mul(min_size as u64) > left {
            return Err(format!(
                "count {n} at byte {} is larger than the record",
                self.at - 8
            ));
        }
        Ok(n as usize)
    }

    fn tag(&mut self) -> Result<bool, String> {
        match u8::take(self)? {
            0 => Ok(false),
            1 => Ok(true),
            t => Err(format!("bad tag {t} at byte {}", self.at - 1)),
        }
    }
}

macro_rules! number {
    ($($t:ty),*) => {$(
        impl Record for $t {
            fn put(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn take(r: &mut Reader<'_>) -> Result<Self, String> {
                Ok(<$t>::from_le_bytes(r.array()?))
            }
        }
    )*};
}
number!(u8, u16, u32, u64, i64, u128, f32, f64);

impl Record for bool {
    fn put(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, String> {
        r.tag()
    }
}

impl<T: Record> Record for Option<T> {
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.put(out);
            }
        }
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, String> {
        Ok(if r.tag()? { Some(T::take(r)?) } else { None })
    }
}

impl Record for String {
    fn put(&self, out: &mut Vec<u8>) {
        (self.len() as u64).put(out);
        out.extend_from_slice(self.as_bytes());
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, String> {
        let n = r.count(1)?;
        let at = r.at;
        String::from_utf8(r.bytes(n)?.to_vec())
            .map_err(|_| format!("invalid UTF-8 in the text at byte {at}"))
    }
}

impl Record for Vec<u8> {
    fn put(&self, out: &mut Vec<u8>) {
        (self.len() as u64).put(out);
        out.extend_from_slice(self);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, String> {
        let n = r.count(1)?;
        Ok(r.bytes(n)?.to_vec())
    }
}

/// Window spans: `(start, end)` pairs of `f32`.
impl Record for Vec<(f32, f32)> {
    fn put(&self, out: &mut Vec<u8>) {
        (self.len() as u64).put(out);
        for v in self {
            v.put(out);
        }
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, String> {
        let n = r.count(8)?;
        (0..n).map(|_| <(f32, f32)>::take(r)).collect()
    }
}

impl<A: Record, B: Record> Record for (A, B) {
    fn put(&self, out: &mut Vec<u8>) {
        self.0.put(out);
        self.1.put(out);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, String> {
        Ok((A::take(r)?, B::take(r)?))
    }
}

impl<T: Record> Record for [T; 2] {
    fn put(&self, out: &mut Vec<u8>) {
        self[0].put(out);
        self[1].put(out);
    }
    fn take(r: &mut Reader<'_>) -> Result<Self, String> {
        Ok([T::take(r)?, T::take(r)?])
    }
}

/// Implements [`Record`] for a struct as its fields in order.
macro_rules! record_struct {
    ($t:ty { $($f:ident),* $(,)? }) => {
        impl $crate::record::Record for $t {
            fn put(&self, out: &mut Vec<u8>) {
                $( $crate::record::Record::put(&self.$f, out); )*
            }
            fn take(r: &mut $crate::record::Reader<'_>) -> Result<Self, String> {
                Ok(Self { $( $f: $crate::record::Record::take(r)? ),* })
            }
        }
    };
}
pub(crate) use record_struct;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_past_the_end_are_errors_not_allocations() {
        let mut b = u64::MAX.to_le_bytes().to_vec();
        b.push(0);
        assert!(from_bytes::<Vec<u8>>(&b)
            .unwrap_err()
            .contains("larger than the record"));
        assert!(from_bytes::<String>(&b).is_err());
    }

    #[test]
    fn trailing_bytes_and_bad_tags_are_errors() {
        assert!(from_bytes::<u32>(&[1, 0, 0, 0, 9])
            .unwrap_err()
            .contains("trailing"));
        assert!(from_bytes::<Option<u8>>(&[2, 0])
            .unwrap_err()
            .contains("bad tag"));
        assert!(from_bytes::<u64>(&[1, 2])
            .unwrap_err()
            .contains("ends early"));
    }
}
