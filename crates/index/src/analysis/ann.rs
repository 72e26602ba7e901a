//! Graph candidates: nearest rows from avx's own HNSW graph ([`crate::graph`]) built over the rows.
//!
//! [`GraphNeighbours::build`] builds an in-memory graph over every row of `data` (the index's construction:
//! parallel insertion walking int8 copies of the rows, then a self-search check and repair of every point),
//! and a query searches it with the row's own vector (beam `max(ef, k)` on the int8 codes, the candidates
//! re-scored exactly on the f32 rows). The rows are borrowed, not copied: memory beyond them is the int8
//! codes (`dim` bytes per row) and the adjacency lists (up to `2 m` links per row on layer 0).
//!
//! Cost: building is about `O(n log n)` searches of beam `ef_construction`, a query one search of beam `ef`,
//! so all rows' neighbours cost `O(n log n)` too, where [`BucketNeighbours`](super::BucketNeighbours) costs
//! `O(n √n)`.
//!
//! Candidates are **approximate** and ranked by **dot product**: rows should be L2-normalised (after
//! [`center`](super::center), call [`normalize`]) so that the graph ranks by cosine; callers such as
//! [`recurring`](super::recurring()) re-verify every candidate with an exact cosine anyway.

use crate::graph::{search, BuildParams, GraphData};
use crate::vectors::Level;

use super::linalg::{dot, rows_of};
use super::{AnalysisError, Neighbours};

/// Parameters of [`GraphNeighbours::build_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphConfig {
    /// Links per point on layers above 0 (layer 0 keeps up to `2 m`).
    pub m: usize,
    /// Beam width of the insertion searches.
    pub ef_construction: usize,
    /// Beam width of a query (a query for `k` rows uses `max(ef, k)`).
    pub ef: usize,
}

impl Default for GraphConfig {
    /// `m` 16, `ef_construction` 64, `ef` 48: on the planted-motif archive of `recurring_scale` (README,
    /// "Scale of the window vectors") every planted occurrence is found at 100,000 windows.
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 64,
            ef: 48,
        }
    }
}

/// Approximate candidate source over an HNSW graph of the rows; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct GraphNeighbours<'a> {
    data: &'a [f32],
    dim: usize,
    graph: GraphData,
    ef: usize,
}

impl<'a> GraphNeighbours<'a> {
    /// Builds the graph over all rows of `data` (`n × dim`, row-major) with the default [`GraphConfig`].
    /// Errors: bad shape, a non-finite value, more than `u32::MAX` rows.
    pub fn build(data: &'a [f32], dim: usize) -> Result<Self, AnalysisError> {
        Self::build_with(data, dim, &GraphConfig::default())
    }

    /// [`build`](Self::build) with explicit parameters.
    pub fn build_with(
        data: &'a [f32],
        dim: usize,
        cfg: &GraphConfig,
    ) -> Result<Self, AnalysisError> {
        let n = rows_of(data, dim)?;
        if n > u32::MAX as usize {
            return Err(AnalysisError::RowOutOfRange {
                row: n - 1,
                n: u32::MAX as usize,
            });
        }
        if let Some(bad) = data.iter().position(|x| !x.is_finite()) {
            return Err(AnalysisError::NonFinite { row: bad / dim });
        }
        let rows: Vec<u64> = (0..n as u64).collect();
        let params = BuildParams {
            m: cfg.m.max(2),
            ef_construction: cfg.ef_construction.max(1),
            ..BuildParams::default()
        };
        let (graph, _report) = GraphData::build(
            Level::Window,
            dim as u32,
            n as u64,
            &rows,
            |r| &data[r as usize * dim..(r as usize + 1) * dim],
            params,
        );
        Ok(Self {
            data,
            dim,
            graph,
            ef: cfg.ef.max(1),
        })
    }

    /// Number of rows in the graph.
    pub fn len(&self) -> usize {
        self.graph.rows.len()
    }

    /// Whether the graph is empty.
    pub fn is_empty(&self) -> bool {
        self.graph.rows.is_empty()
    }

    fn row(&self, r: usize) -> &'a [f32] {
        &self.data[r * self.dim..(r + 1) * self.dim]
    }
}

/// The query row itself is left out of its answer: a caller such as [`recurring`](super::recurring()) never
/// links a row to itself, and counting it would make every row ask again for twice as many.
impl Neighbours for GraphNeighbours<'_> {
    fn neighbours(&self, row: usize, k: usize) -> Vec<(usize, f32)> {
        if k == 0 || row >= self.len() {
            return Vec::new();
        }
        // Nodes are rows: the graph was built over rows 0..n in order.
        let vec_of = |node: u32| self.row(node as usize);
        let mut found: Vec<(usize, f32)> =
            search(&self.graph, self.row(row), self.ef.max(k + 1), &vec_of)
                .into_iter()
                .filter(|c| c.node as usize != row)
                .map(|c| (c.node as usize, c.score))
                .collect();
        // Fewer than `k` only when the walk reached fewer rows (a graph of `k` rows or fewer): no more.
        found.truncate(k);
        found
    }
}

/// Scales every non-zero row of `data` (`n × dim`) to unit length, in place; zero rows stay zero.
/// Errors: bad shape.
pub fn normalize(data: &mut [f32], dim: usize) -> Result<(), AnalysisError> {
    rows_of(data, dim)?;
    use rayon::prelude::*;
    data.par_chunks_mut(dim).with_min_len(1024).for_each(|row| {
        let n = dot(row, row).sqrt();
        if n > 0.0 {
            row.iter_mut().for_each(|x| *x /= n);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{center, recurring, ExactNeighbours, RecurringConfig, Rng, Span};

    /// Planted motifs: `(motif, track, first window)`.
    type Plants = Vec<(usize, usize, usize)>;

    fn unit(rng: &mut Rng, dim: usize, base: Option<&[f32]>, noise: f32) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dim)
            .map(|i| base.map_or(0.0, |b| b[i]) + noise * rng.gaussian() as f32)
            .collect();
        let s = dot(&v, &v).sqrt();
        v.iter_mut().for_each(|x| *x /= s);
        v
    }

    /// Tracks of `len` windows at a 1 s hop (2 s windows) around 16 background centres (two windows around
    /// one centre have cosine about 0.3 at 64 dimensions, 0.45 at 32), with `motifs`
    /// motifs of 4 windows planted 4 times each at known places; returns the rows, spans and plants
    /// `(motif, track, first window)`.
    fn archive(
        tracks: usize,
        len: usize,
        motifs: usize,
        dim: usize,
    ) -> (Vec<f32>, Vec<Span>, Plants) {
        let mut rng = Rng::new(29);
        let centres: Vec<Vec<f32>> = (0..16).map(|_| unit(&mut rng, dim, None, 1.0)).collect();
        let shapes: Vec<Vec<Vec<f32>>> = (0..motifs)
            .map(|_| (0..4).map(|_| unit(&mut rng, dim, None, 1.0)).collect())
            .collect();
        let mut plants = Vec::new();
        for m in 0..motifs {
            for o in 0..4 {
                // Spread over tracks and offsets, never overlapping: slot `m` of every track.
                let t = (m + o * 3) % tracks;
                let w = 10 + m * 12 + o % 2;
                plants.push((m, t, w));
            }
        }
        let mut data = Vec::with_capacity(tracks * len * dim);
        let mut spans = Vec::new();
        for t in 0..tracks {
            for w in 0..len {
                let planted = plants
                    .iter()
                    .find(|&&(_, pt, pw)| pt == t && (pw..pw + 4).contains(&w));
                let v = match planted {
                    Some(&(m, _, pw)) => unit(&mut rng, dim, Some(&shapes[m][w - pw]), 0.005),
                    None => {
                        let c = rng.below(centres.len());
                        unit(&mut rng, dim, Some(&centres[c]), 0.2)
                    }
                };
                data.extend(v);
                spans.push(Span {
                    track: t as u32,
                    start: w as f32,
                    end: w as f32 + 2.0,
                });
            }
        }
        (data, spans, plants)
    }

    #[test]
    fn graph_source_finds_every_planted_motif() {
        let dim = 64;
        let (mut data, spans, plants) = archive(8, 400, 6, dim);
        center(&mut data, dim).unwrap();
        normalize(&mut data, dim).unwrap();
        let nb = GraphNeighbours::build(&data, dim).unwrap();
        assert_eq!(nb.len(), spans.len());
        let cfg = RecurringConfig {
            min_length: 3.0,
            ..RecurringConfig::default()
        };
        let found = recurring(&data, dim, &spans, &nb, &cfg).unwrap();
        assert_eq!(found.len(), 6, "one motif per planted one: {found:?}");
        for &(m, t, w) in &plants {
            let hit = found.iter().any(|f| {
                f.occurrences
                    .iter()
                    .any(|o| o.track as usize == t && (o.start - w as f32).abs() <= 0.5)
            });
            assert!(
                hit,
                "motif {m} planted in track {t} at {w} s not found: {found:?}"
            );
        }
        // The same motifs as the exact source.
        let exact = ExactNeighbours::new(&data, dim).unwrap();
        assert_eq!(recurring(&data, dim, &spans, &exact, &cfg).unwrap(), found);
    }

    #[test]
    fn neighbours_are_the_exact_nearest_on_clear_data() {
        let dim = 32;
        let (mut data, _, plants) = archive(4, 100, 3, dim);
        normalize(&mut data, dim).unwrap();
        let nb = GraphNeighbours::build(&data, dim).unwrap();
        let exact = ExactNeighbours::new(&data, dim).unwrap();
        // A planted window's 3 nearest other rows are its motif's other occurrences, as exact says.
        for &(_, t, w) in &plants {
            let row = t * 100 + w;
            let ids = |v: Vec<(usize, f32)>| {
                let mut ids: Vec<usize> = v.into_iter().map(|p| p.0).collect();
                ids.sort_unstable();
                ids
            };
            let want = ids(exact.neighbours(row, 3));
            assert!(!want.contains(&row));
            assert_eq!(ids(nb.neighbours(row, 3)), want);
        }
        // Fewer rows than asked: all of them, best first.
        let small = &data[..3 * dim];
        let nb = GraphNeighbours::build(small, dim).unwrap();
        let mut got: Vec<usize> = nb.neighbours(0, 10).into_iter().map(|p| p.0).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2], "every other row, not the row itself");
        assert!(nb.neighbours(3, 2).is_empty());
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(matches!(
            GraphNeighbours::build(&[1.0, 2.0, 3.0], 2),
            Err(AnalysisError::DimMismatch { .. })
        ));
        assert!(matches!(
            GraphNeighbours::build(&[1.0, 0.0, f32::NAN, 1.0], 2),
            Err(AnalysisError::NonFinite { row: 1 })
        ));
        let empty = GraphNeighbours::build(&[], 4).unwrap();
        assert!(empty.is_empty() && empty.neighbours(0, 5).is_empty());
        let mut z = vec![0.0, 0.0, 3.0, 4.0];
        normalize(&mut z, 2).unwrap();
        assert_eq!(z, [0.0, 0.0, 0.6, 0.8]);
    }
}
