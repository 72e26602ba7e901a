//! [`Shard`]: which files one of N indexing machines takes (`avx index --shard I/N`).
//!
//! A file belongs to shard `I` of `N` (1 ≤ I ≤ N) when `xxh3_64(path bytes) % N == I - 1`, where the path is
//! the absolute, canonical path as the index stores it and its bytes are the platform's encoding (on Unix the
//! raw bytes). The hash is XXH3-64 with seed 0, so the split is deterministic across runs, machines and avx
//! versions: N machines that see the library at the same mount point each index a disjoint part, and together
//! all of it.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use xxhash_rust::xxh3::xxh3_64;

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// Shard `index` of `count`; `None` unless 1 ≤ index ≤ count.
    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (index >= 1 && index <= count).then_some(Shard { index, count })
    }

    /// Whether the file at `path` (absolute, canonical) is in this shard.
    pub fn contains(&self, path: &Path) -> bool {
        shard_of(path, self.count) == self.index
    }
}

/// The shard (1-based) of `count` that `path` belongs to.
pub fn shard_of(path: &Path, count: u32) -> u32 {
    (xxh3_64(path.as_os_str().as_encoded_bytes()) % u64::from(count.max(1))) as u32 + 1
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// Parses `I/N`, e.g. `2/3`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("'{s}' is not a shard: expected I/N with 1 <= I <= N, e.g. 2/3");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (i, n) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        Shard::new(i, n).ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!("2/3".parse::<Shard>(), Ok(Shard::new(2, 3).unwrap()));
        for bad in ["0/3", "4/3", "1", "a/b", "1/0", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_path_is_in_exactly_one_shard_and_the_split_is_stable() {
        let paths: Vec<String> = (0..300)
            .map(|i| format!("/lib/dir{}/f{i}.wav", i % 7))
            .collect();
        let shards: Vec<Shard> = (1..=3).map(|i| Shard::new(i, 3).unwrap()).collect();
        let mut sizes = [0; 3];
        for p in &paths {
            let owners: Vec<usize> = (0..3)
                .filter(|&s| shards[s].contains(Path::new(p)))
                .collect();
            assert_eq!(owners.len(), 1, "{p}");
            sizes[owners[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| n > 70), "{sizes:?}");
        // The documented hash: fixed values, so a change of hash is a visible break.
        assert_eq!(shard_of(Path::new("/lib/a.wav"), 1), 1);
        assert_eq!(
            shard_of(Path::new("/lib/a.wav"), 1000),
            (xxh3_64(b"/lib/a.wav") % 1000) as u32 + 1
        );
    }
}
