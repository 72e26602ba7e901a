//! Near-duplicate grouping: candidate pairs from a [`Neighbours`] source, exact verification, star groups.
//!
//! # Semantics
//!
//! 1. **Candidates.** For every eligible row `r` (all rows, or [`DupesFilter::rows`]) the candidate source
//!    is asked for `r`'s `k` nearest rows (all rows in one [`Neighbours::neighbours_batch`] call). Candidates that are `r` itself, outside the row filter, or
//!    excluded by [`DupesFilter::same_item`] do not count towards `k`: while fewer than `k` eligible
//!    candidates came back and the source returned everything it was asked for, the request is doubled
//!    (up to `32 k` rows). Candidate generation may be approximate (an ANN index, [`BucketNeighbours`]);
//!    it decides *recall* only.
//! 2. **Verification.** Every candidate pair is re-scored with the exact cosine computed from `data`
//!    (`dot(a, b) / (|a| |b|)`, clamped to `[-1, 1]`; zero rows score 0). A pair is a *link* when that
//!    score is `>= threshold`. The candidate source's own scores are ignored. Every score reported is exact.
//! 3. **Grouping (star groups, not single linkage).** Links are joined into connected components with
//!    union–find. Single linkage alone would chain (A≈B, B≈C, … while A and Z differ), so each component is
//!    split greedily: its *leader* is the row with the most links inside the component (ties to the lowest
//!    row); the leader's group is every row of the component whose exact cosine to the leader is
//!    `>= threshold` and that is not `same_item` with the leader (whether or not that pair was a
//!    candidate). The remaining rows are split into connected components again (using links among them
//!    only), and the process repeats. Hence **every member of a group scores `>= threshold` against the
//!    group's first member**, groups are disjoint, and every group has at least two members. The price of
//!    star groups is that a row whose only links go to members of other groups, and which is below the
//!    threshold to those groups' leaders, is left ungrouped. *Bridges*: a leader that passes against two sets
//!    of rows that do not pass against each other (one take scoring high against the copies of two sources)
//!    would join both sets; the members other than the leader are therefore split into connected components
//!    over their own links, and when two or more components have [`BRIDGE_MIN_SET`] members or more, the group
//!    keeps the one the leader scores highest with on average (and the smaller components); the others go back
//!    to the remaining rows (groups of at most [`BRIDGE_CHECK_MAX`] members; see `drop_bridged`).
//! 4. **Order.** Within a group the leader comes first with score `1.0`, then members by score descending,
//!    ties to the lower row. Groups are sorted by size descending, then by the leader's row ascending.
//!
//! Two members of one group may be `same_item` with each other (for example two overlapping windows of one
//! file that both match the leader); only pairs with the leader are excluded.
//!
//! *Determinism*: candidate queries run in parallel, but links are collected in row order and sorted, and
//! grouping is sequential, so the result is independent of the thread count (given a deterministic
//! candidate source).
//!
//! [`BucketNeighbours`]: super::BucketNeighbours

use std::collections::HashSet;

use rayon::prelude::*;

use super::linalg::{dot, for_each_dot, inv_norms, rows_of, TopK};
use super::AnalysisError;

/// A source of candidate neighbours (approximate allowed), e.g. an ANN index over the same rows.
///
/// Implementations must be `Sync`: [`duplicate_groups`] queries rows in parallel.
pub trait Neighbours: Sync {
    /// Up to `k` rows likely to be most similar to `row`, best first, with the source's own similarity
    /// estimate (ignored by [`duplicate_groups`], which recomputes every score). Returning `row` itself or
    /// fewer than `k` rows is allowed; returning fewer than `k` tells the caller there are no more.
    fn neighbours(&self, row: usize, k: usize) -> Vec<(usize, f32)>;

    /// [`neighbours`](Self::neighbours) of every row in `rows`, in the same order. The default calls
    /// `neighbours` in parallel; an implementation may override it with a blocked, cache-friendly
    /// computation, but must return what the per-row calls would.
    fn neighbours_batch(&self, rows: &[usize], k: usize) -> Vec<Vec<(usize, f32)>> {
        rows.par_iter()
            .with_min_len(16)
            .map(|&r| self.neighbours(r, k))
            .collect()
    }
}

impl<T: Neighbours + ?Sized> Neighbours for &T {
    fn neighbours(&self, row: usize, k: usize) -> Vec<(usize, f32)> {
        (**self).neighbours(row, k)
    }

    fn neighbours_batch(&self, rows: &[usize], k: usize) -> Vec<Vec<(usize, f32)>> {
        (**self).neighbours_batch(rows, k)
    }
}

/// Exact nearest neighbours by brute force (`O(n · dim)` per query). Fine for small sets and for tests;
/// use [`BucketNeighbours`](super::BucketNeighbours) or an ANN index for large ones.
#[derive(Debug, Clone)]
pub struct ExactNeighbours<'a> {
    data: &'a [f32],
    dim: usize,
    inv: Vec<f32>,
    rows: Option<Vec<usize>>,
}

impl<'a> ExactNeighbours<'a> {
    /// Over all rows of `data` (`n × dim`, row-major).
    pub fn new(data: &'a [f32], dim: usize) -> Result<Self, AnalysisError> {
        rows_of(data, dim)?;
        let inv = inv_norms(data, dim)?;
        Ok(Self {
            data,
            dim,
            inv,
            rows: None,
        })
    }

    /// Over the given rows only (answers use the original row numbers; any row may be queried).
    pub fn with_rows(data: &'a [f32], dim: usize, rows: &[usize]) -> Result<Self, AnalysisError> {
        let mut me = Self::new(data, dim)?;
        let n = me.inv.len();
        if let Some(&row) = rows.iter().find(|&&r| r >= n) {
            return Err(AnalysisError::RowOutOfRange { row, n });
        }
        let mut rows = rows.to_vec();
        rows.sort_unstable();
        rows.dedup();
        me.rows = Some(rows);
        Ok(me)
    }

    /// The vectors.
    pub fn data(&self) -> &'a [f32] {
        self.data
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }
}

impl Neighbours for ExactNeighbours<'_> {
    fn neighbours(&self, row: usize, k: usize) -> Vec<(usize, f32)> {
        let dim = self.dim;
        let q = &self.data[row * dim..(row + 1) * dim];
        let iq = self.inv[row];
        let mut top = TopK::<usize>::new(k);
        let mut visit = |i: usize| {
            if i != row {
                let s = dot(q, &self.data[i * dim..(i + 1) * dim]) * (iq * self.inv[i]);
                top.push(i, s.clamp(-1.0, 1.0));
            }
        };
        match &self.rows {
            Some(rows) => rows.iter().for_each(|&i| visit(i)),
            None => for_each_dot(q, self.data, |i, d| {
                if i != row {
                    top.push(i, (d * (iq * self.inv[i])).clamp(-1.0, 1.0));
                }
            }),
        }
        top.into_pairs()
    }
}

/// Parameters of [`duplicate_groups`].
#[derive(Debug, Clone, PartialEq)]
pub struct DupesConfig {
    /// Minimum exact cosine for two rows to count as near-duplicates.
    pub threshold: f32,
    /// Eligible candidates requested per row.
    pub k: usize,
}

impl Default for DupesConfig {
    fn default() -> Self {
        Self {
            threshold: 0.95,
            k: 10,
        }
    }
}

/// Optional restrictions for [`duplicate_groups_filtered`].
#[derive(Default, Clone, Copy)]
pub struct DupesFilter<'a> {
    /// Only these rows take part (both ends of every pair must be in it). `None`: all rows.
    pub rows: Option<&'a [usize]>,
    /// Returns `true` for pairs that must never be linked, e.g. overlapping windows of one file. Called with
    /// both orders of a pair; should be symmetric.
    pub same_item: Option<&'a (dyn Fn(usize, usize) -> bool + Sync)>,
}

impl std::fmt::Debug for DupesFilter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DupesFilter")
            .field("rows", &self.rows.map(<[usize]>::len))
            .field("same_item", &self.same_item.is_some())
            .finish()
    }
}

/// One group of near-duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct DupGroup {
    /// `(row, exact cosine to the first member)`; the first member (the leader) has score 1.0.
    pub members: Vec<(usize, f32)>,
}

impl DupGroup {
    /// The leader's row.
    pub fn first(&self) -> usize {
        self.members[0].0
    }

    /// Number of members (always >= 2).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always false: groups have at least two members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The member rows.
    pub fn rows(&self) -> impl Iterator<Item = usize> + '_ {
        self.members.iter().map(|m| m.0)
    }
}

/// Groups near-duplicate rows of `data` (`n × dim`, row-major). See the [module documentation](self).
pub fn duplicate_groups(
    data: &[f32],
    dim: usize,
    candidates: &dyn Neighbours,
    cfg: &DupesConfig,
) -> Result<Vec<DupGroup>, AnalysisError> {
    duplicate_groups_filtered(data, dim, candidates, cfg, &DupesFilter::default())
}

/// [`duplicate_groups`] restricted to a row subset and/or excluding `same_item` pairs.
///
/// Errors: bad shape, non-finite values, a NaN threshold, a filter row `>= n`, or a candidate row `>= n`
/// returned by `candidates`.
pub fn duplicate_groups_filtered(
    data: &[f32],
    dim: usize,
    candidates: &dyn Neighbours,
    cfg: &DupesConfig,
    filter: &DupesFilter<'_>,
) -> Result<Vec<DupGroup>, AnalysisError> {
    let n = rows_of(data, dim)?;
    if cfg.threshold.is_nan() {
        return Err(AnalysisError::InvalidThreshold);
    }
    let inv = inv_norms(data, dim)?;
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    let score = |a: usize, b: usize| (dot(row(a), row(b)) * (inv[a] * inv[b])).clamp(-1.0, 1.0);

    let (queries, in_set): (Vec<usize>, Option<Vec<bool>>) = match filter.rows {
        None => ((0..n).collect(), None),
        Some(rows) => {
            let mut mask = vec![false; n];
            for &r in rows {
                if r >= n {
                    return Err(AnalysisError::RowOutOfRange { row: r, n });
                }
                mask[r] = true;
            }
            ((0..n).filter(|&r| mask[r]).collect(), Some(mask))
        }
    };
    let eligible = |a: usize, b: usize| {
        a != b && in_set.as_ref().is_none_or(|m| m[b]) && filter.same_item.is_none_or(|f| !f(a, b))
    };
    let links = verified_links(
        candidates,
        &queries,
        n,
        cfg.k,
        &eligible,
        &score,
        cfg.threshold,
    )?;

    Ok(group_links(
        n,
        &links,
        &score,
        cfg.threshold,
        filter.same_item,
    ))
}

/// Star groups (steps 3 and 4) over links decided by the caller: `candidates` proposes (step 1), a pair
/// `(a, b)` with `eligible(a, b)` is a link when `score(a, b) >= threshold` (step 2, instead of the cosine), and
/// a group's members all score `>= threshold` against its leader. For scores that are not a cosine of `data`
/// (e.g. an audio fingerprint confirming vector candidates); `score` must be symmetric.
pub fn duplicate_groups_scored(
    n: usize,
    candidates: &dyn Neighbours,
    k: usize,
    eligible: &(dyn Fn(usize, usize) -> bool + Sync),
    score: &(dyn Fn(usize, usize) -> f32 + Sync),
    threshold: f32,
) -> Result<Vec<DupGroup>, AnalysisError> {
    if threshold.is_nan() {
        return Err(AnalysisError::InvalidThreshold);
    }
    let queries: Vec<usize> = (0..n).collect();
    let links = verified_links(candidates, &queries, n, k, eligible, score, threshold)?;
    Ok(group_links(n, &links, score, threshold, None))
}

/// Steps 1 and 2: asks `candidates` for the `k` nearest rows of every query row (one batch, then per-row
/// widening, doubling up to `32 k`, where `eligible` rejected some) and keeps the pairs whose exact `score` is
/// `>= threshold`. Returns `(min, max)` row pairs, sorted and deduplicated.
pub(crate) fn verified_links(
    candidates: &dyn Neighbours,
    queries: &[usize],
    n: usize,
    k: usize,
    eligible: &(dyn Fn(usize, usize) -> bool + Sync),
    score: &(dyn Fn(usize, usize) -> f32 + Sync),
    threshold: f32,
) -> Result<Vec<(u32, u32)>, AnalysisError> {
    let max_request = k.saturating_mul(32).min(n);

    // 1 + 2: candidates (one batch, then per-row widening where exclusions ate into k) and exact
    // verification, per row in parallel, collected in row order.
    let first_request = k.min(n);
    let first: Vec<Vec<(usize, f32)>> = if k == 0 || n == 0 {
        vec![Vec::new(); queries.len()]
    } else {
        candidates.neighbours_batch(queries, first_request)
    };
    if first.len() != queries.len() {
        return Err(AnalysisError::BatchLength {
            expected: queries.len(),
            got: first.len(),
        });
    }
    let per_row: Vec<Result<Vec<(u32, u32)>, AnalysisError>> = queries
        .par_iter()
        .zip(first)
        .with_min_len(16)
        .map(|(&r, got)| {
            let mut links = Vec::new();
            if k == 0 {
                return Ok(links);
            }
            let mut request = first_request;
            let mut got = got;
            let mut seen: HashSet<usize> = HashSet::new();
            loop {
                let exhausted = got.len() < request;
                for &(c, _) in &got {
                    if c >= n {
                        return Err(AnalysisError::RowOutOfRange { row: c, n });
                    }
                    if eligible(r, c) && seen.insert(c) && score(r, c) >= threshold {
                        links.push((r.min(c) as u32, r.max(c) as u32));
                    }
                }
                if seen.len() >= k || exhausted || request >= max_request {
                    break;
                }
                request = (request * 2).min(max_request);
                got = candidates.neighbours(r, request);
            }
            Ok(links)
        })
        .collect();
    let mut links = Vec::new();
    for l in per_row {
        links.extend(l?);
    }
    links.sort_unstable();
    links.dedup();
    Ok(links)
}

/// Step 3 and 4: star groups from verified links (`a < b`, sorted, deduplicated).
fn group_links(
    n: usize,
    links: &[(u32, u32)],
    score: &(dyn Fn(usize, usize) -> f32 + Sync),
    threshold: f32,
    same_item: Option<&(dyn Fn(usize, usize) -> bool + Sync)>,
) -> Vec<DupGroup> {
    // Adjacency (CSR) over linked rows.
    let mut deg = vec![0u32; n + 1];
    for &(a, b) in links {
        deg[a as usize] += 1;
        deg[b as usize] += 1;
    }
    let mut start = vec![0usize; n + 1];
    for i in 0..n {
        start[i + 1] = start[i] + deg[i] as usize;
    }
    let mut fill = start.clone();
    let mut adj = vec![0u32; start[n]];
    for &(a, b) in links {
        adj[fill[a as usize]] = b;
        fill[a as usize] += 1;
        adj[fill[b as usize]] = a;
        fill[b as usize] += 1;
    }
    let neighbours = |i: usize| &adj[start[i]..start[i + 1]];

    // Connected components with union-find.
    let mut parent: Vec<u32> = (0..n as u32).collect();
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            let p = parent[parent[x as usize] as usize];
            parent[x as usize] = p;
            x = p;
        }
        x
    }
    for &(a, b) in links {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            parent[hi as usize] = lo;
        }
    }
    let mut comp_of_root: std::collections::HashMap<u32, usize> = Default::default();
    let mut pieces: Vec<Vec<usize>> = Vec::new();
    for (i, &d) in deg.iter().enumerate().take(n) {
        if d == 0 {
            continue;
        }
        let r = find(&mut parent, i as u32);
        let id = *comp_of_root.entry(r).or_insert_with(|| {
            pieces.push(Vec::new());
            pieces.len() - 1
        });
        pieces[id].push(i);
    }

    // Greedy star splitting. `mark[i] == stamp` means "i is in the piece being processed".
    let mut mark = vec![0u32; n];
    let mut stamp = 0u32;
    let mut groups = Vec::new();
    let mut work: Vec<Vec<usize>> = pieces.into_iter().rev().collect();
    while let Some(piece) = work.pop() {
        if piece.len() < 2 {
            continue;
        }
        stamp += 1;
        for &i in &piece {
            mark[i] = stamp;
        }
        // Leader: most links inside the piece, ties to the lowest row (piece is ascending).
        let mut leader = piece[0];
        let mut best = 0usize;
        for &i in &piece {
            let d = neighbours(i)
                .iter()
                .filter(|&&j| mark[j as usize] == stamp)
                .count();
            if d > best {
                best = d;
                leader = i;
            }
        }
        if best == 0 {
            continue;
        }
        let scores: Vec<f32> = if piece.len() > 4096 {
            piece.par_iter().map(|&i| score(leader, i)).collect()
        } else {
            piece.iter().map(|&i| score(leader, i)).collect()
        };
        let mut members = vec![(leader, 1.0f32)];
        let mut rest = Vec::new();
        for (&i, &s) in piece.iter().zip(&scores) {
            if i == leader {
                continue;
            }
            if s >= threshold && same_item.is_none_or(|f| !f(leader, i)) {
                members.push((i, s));
            } else {
                rest.push(i);
            }
        }
        members[1..].sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let left_out = drop_bridged(&mut members, score, threshold);
        rest.extend(left_out);
        rest.sort_unstable();
        groups.push(DupGroup { members });

        // Split the rest into connected components over links among themselves.
        stamp += 1;
        for &i in &rest {
            mark[i] = stamp;
        }
        let rest_stamp = stamp;
        stamp += 1;
        let done = stamp;
        let mut sub_pieces = Vec::new();
        for &s in &rest {
            if mark[s] != rest_stamp {
                continue;
            }
            let mut comp = vec![s];
            mark[s] = done;
            let mut head = 0;
            while head < comp.len() {
                let i = comp[head];
                head += 1;
                for &j in neighbours(i) {
                    if mark[j as usize] == rest_stamp {
                        mark[j as usize] = done;
                        comp.push(j as usize);
                    }
                }
            }
            if comp.len() >= 2 {
                comp.sort_unstable();
                sub_pieces.push(comp);
            }
        }
        work.extend(sub_pieces.into_iter().rev());
    }
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a.first().cmp(&b.first())));
    groups
}

/// Members checked for a bridged group ([`drop_bridged`]); a larger group is kept as the leader found it.
pub const BRIDGE_CHECK_MAX: usize = 64;

/// Members a set needs to count as a bridged second set ([`drop_bridged`]). Smaller sets are copies edited the
/// same way (a +1 semitone pitch and a +1 semitone speed copy, three rate round trips) that match each other and
/// the leader but not the rest: splitting them off cost recall on the eval set (eval/README.md).
pub const BRIDGE_MIN_SET: usize = 4;

/// Step 3's bridge check of one star group (`members[0]` the leader, the rest by score): links among the members
/// other than the leader (`score >= threshold`) split them into connected components; when two or more of these
/// have at least [`BRIDGE_MIN_SET`] members, the leader is a *bridge* between two sets that do not match each other (one take
/// that passes against the copies of two sources), and the group keeps only the component the leader scores
/// highest with on average (ties: the larger, then the first), with the smaller components. Returns the rows taken
/// out. A pair is scored only when its two members are not yet known to be connected, so a group whose members
/// all match costs about one score per member. Groups above [`BRIDGE_CHECK_MAX`] members are not checked.
fn drop_bridged(
    members: &mut Vec<(usize, f32)>,
    score: &(dyn Fn(usize, usize) -> f32 + Sync),
    threshold: f32,
) -> Vec<usize> {
    let rest = &members[1..];
    if rest.len() < 2 * BRIDGE_MIN_SET || rest.len() > BRIDGE_CHECK_MAX {
        return Vec::new();
    }
    let mut parent: Vec<usize> = (0..rest.len()).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for y in 1..rest.len() {
        for x in 0..y {
            let (rx, ry) = (root(&mut parent, x), root(&mut parent, y));
            if rx != ry && score(rest[x].0, rest[y].0) >= threshold {
                parent[rx.max(ry)] = rx.min(ry);
            }
        }
    }
    let mut size = vec![0usize; rest.len()];
    let mut sum = vec![0f32; rest.len()];
    for (i, m) in rest.iter().enumerate() {
        let r = root(&mut parent, i);
        size[r] += 1;
        sum[r] += m.1;
    }
    let parts: Vec<usize> = (0..rest.len())
        .filter(|&r| size[r] >= BRIDGE_MIN_SET)
        .collect();
    if parts.len() < 2 {
        return Vec::new();
    }
    let mean = |r: usize| sum[r] / size[r] as f32;
    let keep = parts
        .iter()
        .copied()
        .reduce(|a, b| {
            if mean(b) > mean(a) || (mean(b) == mean(a) && size[b] > size[a]) {
                b
            } else {
                a
            }
        })
        .unwrap_or(parts[0]);
    let mut out = Vec::new();
    let mut kept = vec![members[0]];
    for (i, &m) in members[1..].iter().enumerate() {
        let r = root(&mut parent, i);
        if r == keep || size[r] < BRIDGE_MIN_SET {
            kept.push(m);
        } else {
            out.push(m.0);
        }
    }
    *members = kept;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pre-verified links on 2-d unit vectors at the given angles (degrees).
    fn angles(deg: &[f32]) -> Vec<f32> {
        deg.iter()
            .flat_map(|d| {
                let r = d.to_radians();
                [r.cos(), r.sin()]
            })
            .collect()
    }

    #[test]
    fn chain_is_split_into_stars() {
        // Rows at 0°, 10°, 20°, 30°, 40°: consecutive pairs have cos(10°) ≈ 0.985, pairs two apart cos(20°)
        // ≈ 0.940. With threshold 0.95 single linkage would give one chain of five.
        let data = angles(&[0.0, 10.0, 20.0, 30.0, 40.0]);
        let nb = ExactNeighbours::new(&data, 2).unwrap();
        let cfg = DupesConfig {
            threshold: 0.95,
            k: 4,
        };
        let groups = duplicate_groups(&data, 2, &nb, &cfg).unwrap();
        // Degrees: 1,2,2,2,1 → leader 1 (lowest of the ties) takes {0, 2}; rest {3, 4} is linked.
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].rows().collect::<Vec<_>>()[0], 1);
        let mut g0: Vec<usize> = groups[0].rows().collect();
        g0.sort_unstable();
        assert_eq!(g0, vec![0, 1, 2]);
        assert_eq!(groups[1].rows().collect::<Vec<_>>(), vec![3, 4]);
        for g in &groups {
            assert_eq!(g.members[0].1, 1.0);
            for &(r, s) in &g.members[1..] {
                assert!(s >= 0.95);
                assert_eq!(
                    s,
                    crate::analysis::cosine(
                        &data[2 * r..2 * r + 2],
                        &data[2 * g.first()..2 * g.first() + 2]
                    )
                );
            }
        }
    }

    #[test]
    fn isolated_remainder_dropped() {
        // 0°, 10°, 20°: leader 1 takes all (both ≥ 0.95).
        let data = angles(&[0.0, 10.0, 20.0, 90.0]);
        let nb = ExactNeighbours::new(&data, 2).unwrap();
        let g = duplicate_groups(
            &data,
            2,
            &nb,
            &DupesConfig {
                threshold: 0.95,
                k: 3,
            },
        )
        .unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].members.len(), 3);
        assert_eq!(g[0].first(), 1);
    }

    /// A score table as a candidate source: every other row, best first.
    struct Table(Vec<Vec<f32>>);

    impl Neighbours for Table {
        fn neighbours(&self, row: usize, k: usize) -> Vec<(usize, f32)> {
            let mut v: Vec<(usize, f32)> = (0..self.0.len())
                .filter(|&j| j != row)
                .map(|j| (j, self.0[row][j]))
                .collect();
            v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            v.truncate(k);
            v
        }
    }

    #[test]
    fn issue_16_a_bridge_does_not_join_two_sources() {
        // Rows 0..6: copies of source A; rows 6..12: copies of source B. Copies of one source score 0.99 with each
        // other, copies of different sources 0.5, except row 5 (say A's stretched copy), which passes against
        // every copy of B too (0.96): a plain star around the row with most links (row 5) would group all 12.
        let n = 12;
        let src = |i: usize| usize::from(i >= 6);
        let s: Vec<Vec<f32>> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| match (i, j) {
                        _ if i == j => 1.0,
                        _ if src(i) == src(j) => 0.99,
                        (5, _) | (_, 5) => 0.96,
                        _ => 0.5,
                    })
                    .collect()
            })
            .collect();
        let table = Table(s.clone());
        let score = |a: usize, b: usize| s[a][b];
        let groups = duplicate_groups_scored(n, &table, 11, &|a, b| a != b, &score, 0.95).unwrap();
        let mut rows: Vec<Vec<usize>> = groups
            .iter()
            .map(|g| {
                let mut r: Vec<usize> = g.rows().collect();
                r.sort_unstable();
                r
            })
            .collect();
        rows.sort();
        assert_eq!(rows, vec![(0..6).collect::<Vec<_>>(), (6..12).collect()]);
        for g in &groups {
            for &(r, sc) in &g.members[1..] {
                assert!(sc >= 0.95 && sc == s[g.first()][r], "{groups:?}");
            }
        }
    }
}
