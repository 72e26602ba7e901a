//! NumPy `.npy` files (format version 1.0), float32 only.
//!
//! `avx debug mel` and `avx export --format npy` write model inputs and vectors with [`write_npy_f32`]; tests read
//! golden arrays back with [`read_npy_f32`]. The layout is the one `numpy.save` writes: the magic `\x93NUMPY`,
//! version `1.0`, a little-endian `u16` header length, an ASCII Python dict literal
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (..), }` padded with spaces and a newline so that the data
//! starts on a 64-byte boundary, then the values, little-endian, C (row-major) order.

use std::io::{self, Read, Write};

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Writes `data` with the given `shape` as a NumPy v1.0 `.npy` file of `<f4` values in C order.
///
/// Fails with `InvalidInput` when the product of `shape` is not `data.len()`, or the header would not fit v1.0.
pub fn write_npy_f32(mut w: impl Write, shape: &[usize], data: &[f32]) -> io::Result<()> {
    let count = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if count != Some(data.len()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("npy shape {shape:?} does not hold {} values", data.len()),
        ));
    }
    let shape_text = match shape {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    // magic (6) + version (2) + header length (2) + header, padded with spaces, ending in '\n', to a multiple of 64.
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let header_len = u16::try_from(header.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "npy header too long for format 1.0",
        )
    })?;
    w.write_all(MAGIC)?;
    w.write_all(&[1, 0])?;
    w.write_all(&header_len.to_le_bytes())?;
    w.write_all(header.as_bytes())?;
    let mut buf = Vec::with_capacity(data.len().min(16384) * 4);
    for chunk in data.chunks(16384) {
        buf.clear();
        for v in chunk {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        w.write_all(&buf)?;
    }
    Ok(())
}

/// Reads a `.npy` file of little-endian `f4` values in C order (versions 1.0 to 3.0), returning its shape and data.
///
/// Anything else (another dtype, Fortran order, a malformed header, a short file) is an `InvalidData` error.
pub fn read_npy_f32(mut r: impl Read) -> io::Result<(Vec<usize>, Vec<f32>)> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, format!("npy: {m}"));
    let mut pre = [0u8; 8];
    r.read_exact(&mut pre)?;
    if &pre[..6] != MAGIC {
        return Err(bad("not a .npy file (bad magic)"));
    }
    let header_len = match pre[6] {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b)?;
            u16::from_le_bytes(b) as usize
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b)?;
            u32::from_le_bytes(b) as usize
        }
        v => return Err(bad(&format!("unsupported format version {v}"))),
    };
    if header_len > 1 << 20 {
        return Err(bad("header too long"));
    }
    let mut header = vec![0u8; header_len];
    r.read_exact(&mut header)?;
    let header = String::from_utf8(header).map_err(|_| bad("header is not text"))?;
    let descr = dict_value(&header, "descr").ok_or_else(|| bad("no descr"))?;
    if !matches!(descr.trim_matches(|c| c == '\'' || c == '"'), "<f4" | "f4") {
        return Err(bad(&format!("dtype {descr} is not little-endian float32")));
    }
    let fortran = dict_value(&header, "fortran_order").ok_or_else(|| bad("no fortran_order"))?;
    if fortran != "False" {
        return Err(bad("Fortran order is not supported"));
    }
    let shape_text = dict_value(&header, "shape").ok_or_else(|| bad("no shape"))?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| bad("malformed shape"))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| bad("malformed shape")))
        .collect::<io::Result<Vec<usize>>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&c| c <= isize::MAX as usize / 4)
        .ok_or_else(|| bad("shape too large"))?;
    // Read through a bounded buffer so a lying header cannot make us allocate more than the file holds.
    let mut bytes = Vec::new();
    r.take(count as u64 * 4).read_to_end(&mut bytes)?;
    if bytes.len() != count * 4 {
        return Err(bad("file shorter than its shape"));
    }
    let data = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((shape, data))
}

/// The text of `key`'s value in a Python dict literal as NumPy writes it (values: a quoted string, a bool, a tuple).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = header[start + key.len() + 2..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}'])?
    };
    Some(rest[..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_64_byte_aligned_and_round_trips() {
        for shape in [vec![], vec![3], vec![2, 3], vec![2, 1001, 64]] {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
            let mut buf = Vec::new();
            write_npy_f32(&mut buf, &shape, &data).unwrap();
            assert_eq!((buf.len() - n * 4) % 64, 0);
            let (s, d) = read_npy_f32(&buf[..]).unwrap();
            assert_eq!(s, shape);
            assert_eq!(d, data);
        }
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        assert!(write_npy_f32(Vec::new(), &[2, 2], &[1.0]).is_err());
    }

    #[test]
    fn lying_shape_is_an_error_not_an_allocation() {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (9999999999999, 1000), }\n";
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&[0; 16]);
        assert!(read_npy_f32(&bytes[..]).is_err());
    }
}
