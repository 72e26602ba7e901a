//! A 2-D map of the library: the file vectors projected on their first two principal components, each point
//! coloured by its k-means cluster. Computed from the stored vectors and cached in `<index>/cache/map.json`,
//! keyed by the index's commit count and file count, so it is recomputed after a commit and served from the cache
//! otherwise.

use avx_index::{Index, Level};
use serde_json::{json, Value};

use crate::audio::{cache_dir, write_atomic};
use crate::cluster::run_kmeans;
use crate::dupes::gather;
use crate::error::Result;

/// Colours of the map: k-means clusters (fewer for a small library).
pub const MAP_CLUSTERS: usize = 12;
/// Power iterations per principal component.
const POWER_ITERATIONS: usize = 60;

/// One file on the map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapPoint {
    pub id: u64,
    /// Coordinates scaled to [-1, 1] on the wider axis.
    pub x: f32,
    pub y: f32,
    pub cluster: u32,
}

/// The map of an index at one commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    pub commits: u64,
    pub points: Vec<MapPoint>,
}

impl Map {
    /// `{"type": "map", "commits": n, "clusters": k, "points": [[id, x, y, cluster], ...]}`.
    pub fn json(&self) -> Value {
        let clusters = self.points.iter().map(|p| p.cluster + 1).max().unwrap_or(0);
        json!({
            "type": "map",
            "commits": self.commits,
            "clusters": clusters,
            "points": self.points.iter().map(|p| json!([p.id, p.x, p.y, p.cluster])).collect::<Vec<_>>(),
        })
    }
}

/// Projects the index's file vectors to 2-D and colours them by cluster.
pub fn compute(index: &Index) -> Result<Map> {
    let commits = index.stats().commits;
    let (refs, data) = gather(index, Level::File, None);
    let dim = index.settings().dim as usize;
    let n = refs.len();
    if n == 0 {
        return Ok(Map {
            commits,
            points: Vec::new(),
        });
    }
    let mut mean = vec![0f64; dim];
    for row in data.chunks_exact(dim) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += x as f64;
        }
    }
    let mean: Vec<f32> = mean.iter().map(|m| (m / n as f64) as f32).collect();
    let first = principal_component(&data, &mean, dim, None);
    let second = principal_component(&data, &mean, dim, Some(&first));
    let mut xy: Vec<(f32, f32)> = data
        .chunks_exact(dim)
        .map(|row| {
            (
                centred_dot(row, &mean, &first),
                centred_dot(row, &mean, &second),
            )
        })
        .collect();
    let scale = xy
        .iter()
        .fold(0f32, |m, (x, y)| m.max(x.abs()).max(y.abs()))
        .max(f32::MIN_POSITIVE);
    for p in &mut xy {
        *p = (p.0 / scale, p.1 / scale);
    }
    let k = MAP_CLUSTERS.min(n);
    let km = run_kmeans(&data, dim, k, 0, 30)?;
    Ok(Map {
        commits,
        points: refs
            .iter()
            .zip(xy)
            .zip(&km.assignment)
            .map(|((r, (x, y)), &c)| MapPoint {
                id: r.file_id,
                x,
                y,
                cluster: c,
            })
            .collect(),
    })
}

/// The map as JSON text: from `<index>/cache/map.json` when it was made at the index's current commit, else
/// computed and written there.
pub fn cached_json(index: &Index) -> Result<String> {
    let path = cache_dir(index.dir()).join("map.json");
    let stats = index.stats();
    let key = format!(
        "{{\"commits\":{},\"files\":{}}}\n",
        stats.commits, stats.files
    );
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Some(body) = text.strip_prefix(&key) {
            return Ok(body.to_string());
        }
    }
    let body = compute(index)?.json().to_string();
    write_atomic(&path, format!("{key}{body}").as_bytes())?;
    Ok(body)
}

fn centred_dot(row: &[f32], mean: &[f32], dir: &[f32]) -> f32 {
    row.iter()
        .zip(mean)
        .zip(dir)
        .map(|((x, m), d)| (x - m) * d)
        .sum()
}

/// The leading eigenvector of the centred data's covariance (orthogonal to `against`), by power iteration from a
/// fixed start, so the map is deterministic.
fn principal_component(
    data: &[f32],
    mean: &[f32],
    dim: usize,
    against: Option<&[f32]>,
) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim).map(|i| 1.0 + (i % 7) as f32 * 0.1).collect();
    for _ in 0..POWER_ITERATIONS {
        if let Some(a) = against {
            let p: f32 = v.iter().zip(a).map(|(x, y)| x * y).sum();
            v.iter_mut().zip(a).for_each(|(x, y)| *x -= p * y);
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm <= f32::MIN_POSITIVE {
            break;
        }
        v.iter_mut().for_each(|x| *x /= norm);
        let mut next = vec![0f32; dim];
        for row in data.chunks_exact(dim) {
            let s = centred_dot(row, mean, &v);
            for ((n, x), m) in next.iter_mut().zip(row).zip(mean) {
                *n += s * (x - m);
            }
        }
        v = next;
    }
    if let Some(a) = against {
        let p: f32 = v.iter().zip(a).map(|(x, y)| x * y).sum();
        v.iter_mut().zip(a).for_each(|(x, y)| *x -= p * y);
    }
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    v.iter().map(|x| x / norm).collect()
}

#[cfg(test)]
mod tests {
    use super::principal_component;

    #[test]
    fn the_first_component_follows_the_widest_spread() {
        // Points spread along (1, 1, 0)/sqrt(2) with a little noise on z.
        let mut data = Vec::new();
        for i in 0..50 {
            let t = i as f32 / 10.0 - 2.5;
            data.extend_from_slice(&[t, t, (i % 3) as f32 * 0.01]);
        }
        let mean = [0.0, 0.0, 0.01];
        let pc = principal_component(&data, &mean, 3, None);
        let along = (pc[0] + pc[1]).abs() / 2f32.sqrt();
        assert!(along > 0.999, "{pc:?}");
        let second = principal_component(&data, &mean, 3, Some(&pc));
        let ortho: f32 = pc.iter().zip(&second).map(|(a, b)| a * b).sum();
        assert!(ortho.abs() < 1e-4, "{second:?}");
    }
}
