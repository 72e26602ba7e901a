//! Index benchmarks: build, size on disk, open time, RSS after open, query latency (graph vs
//! exact scan, single thread), recall@10 against exact search.
//!
//! `cargo bench -p avx-index --bench index` runs with small defaults (10k x 512) in a few
//! minutes. Environment:
//!
//! * `AVX_BENCH_N` (default 10000), `AVX_BENCH_DIM` (512), `AVX_BENCH_QUERIES` (1000),
//!   `AVX_BENCH_CENTRES` (1000: 1M vectors have 1000 per cluster, as do 100k with 100 centres);
//! * `AVX_BENCH_DIR`: keep the index there and reuse it on the next run (for 1M vectors);
//! * `AVX_BENCH_REBUILD_GRAPH=1`: with a reused index, build its graph again (and time it);
//! * `AVX_BENCH_REPORT_ONLY=1`: print the figures and skip the criterion groups;
//! * `AVX_BENCH_EXPORT=DIR`: first write the vectors and queries there as raw little-endian f32
//!   (`vectors.f32`, `queries.f32`) for `benches/hnswlib_compare.py`, which times `hnswlib` and a
//!   NumPy brute-force scan on the same data.
//! * `AVX_BENCH_MODE=incremental`: instead of the above, N files in 100 directories with ids in path
//!   order (as `avx index` hands them out), a graph built over the first `N - N * AVX_BENCH_ADD_PERMILLE /
//!   1000` (default 10 per mille: 1 %), the rest inserted into it (`Writer::extend_graph`), against a fresh
//!   build over all N in the same run (vectors/s, CPU time, the insertion's phases, the graph and int8 code
//!   files before and after, recall@10 of both at five beams over up to 1,000 queries, and over as many
//!   queries near the inserted points), then path-filtered searches (one directory = 1 %, ten = 10 %, all,
//!   none) against exact filtered searches. `AVX_BENCH_BASE_CACHE=DIR` keeps a copy of the base index
//!   there and reuses it on a run with the same N and data; `AVX_BENCH_FRESH=0` stops after the insertion.
//!   `AVX_BENCH_MODE=filtered`: the path-filtered searches alone (all the searches, then the exact scans),
//!   on an index without a graph (1M files in minutes), or on the index in `AVX_BENCH_DIR` when it holds N
//!   files (with its graph, if it has one).
//! * `AVX_BENCH_VECTORS=DIR`: instead of the synthetic vectors, read `DIR/vectors.f32` and
//!   `DIR/queries.f32` (the layout `AVX_BENCH_EXPORT` writes, of dimension `AVX_BENCH_DIM`; N and the
//!   query count are the files' rows), e.g. the real aiSFX window vectors `benches/real_set.sh` makes, so
//!   that `benches/hnswlib_compare.py` runs on exactly the same vectors.
//!
//! Vectors are clustered synthetic unit vectors (seeded): 1000 centres by default, noise 0.6/sqrt(dim) per
//! component, queries are stored vectors perturbed by the same noise.

mod util;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use avx_index::analysis::Rng;
use avx_index::{
    FileRecord, Index, IndexSettings, Level, MaintenancePolicy, OpenOptions, SearchOptions,
};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use util::{env_or, timed};

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

/// Beam widths of the report, the same list as `benches/hnswlib_compare.py`'s: they bracket recall@10 0.95
/// and 0.99 on both sides from 100k synthetic vectors to 1M.
const EFS: [usize; 13] = [10, 16, 24, 32, 48, 64, 96, 128, 200, 300, 400, 600, 800];

struct Data {
    dim: usize,
    centres: Vec<Vec<f32>>,
    seed: u64,
    /// `AVX_BENCH_VECTORS`: the vectors and queries, mapped from their files.
    file: Option<(memmap2::Mmap, memmap2::Mmap)>,
}

/// Maps a raw little-endian f32 file of `dim` columns; panics with the file's name when it is not one.
fn map_f32(path: &Path, dim: usize) -> memmap2::Mmap {
    let f = std::fs::File::open(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (AVX_BENCH_VECTORS needs vectors.f32 and queries.f32)",
            path.display()
        )
    });
    // SAFETY: the bench only reads the file, and nothing writes it while the bench runs.
    let m = unsafe { memmap2::Mmap::map(&f) }.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        !m.is_empty() && m.len().is_multiple_of(dim * 4),
        "{}: {} bytes is not a whole number of {dim}-d f32 rows (set AVX_BENCH_DIM)",
        path.display(),
        m.len()
    );
    m
}

fn row(m: &[u8], dim: usize, i: u64) -> Vec<f32> {
    m[i as usize * dim * 4..(i as usize + 1) * dim * 4]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

impl Data {
    fn vector(&self, i: u64) -> Vec<f32> {
        if let Some((v, _)) = &self.file {
            return row(v, self.dim, i);
        }
        let mut r = Rng::new(self.seed ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let c = &self.centres[r.below(self.centres.len())];
        let s = 0.6 / (self.dim as f32).sqrt();
        unit(c.iter().map(|x| x + s * r.gaussian() as f32).collect())
    }
    fn query(&self, i: u64, n: u64) -> Vec<f32> {
        if let Some((_, q)) = &self.file {
            return row(q, self.dim, i);
        }
        self.query_near((i * 7919) % n, i)
    }
    /// Stored vector `row` perturbed by the data's own noise (seed `i`).
    fn query_near(&self, row: u64, i: u64) -> Vec<f32> {
        let base = self.vector(row);
        let mut r = Rng::new(0xABCD ^ i);
        let s = 0.6 / (self.dim as f32).sqrt();
        unit(base.iter().map(|x| x + s * r.gaussian() as f32).collect())
    }
}

fn settings(dim: usize) -> IndexSettings {
    IndexSettings {
        model: "bench".into(),
        model_hashes: vec![],
        family: String::new(),
        frontend: String::new(),
        pipeline_version: 1,
        dim: dim as u32,
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn bench_path(i: u64) -> PathBuf {
    PathBuf::from(format!("/bench/{:03}/{i}.flac", i % 1000))
}

fn build(dir: &Path, data: &Data, n: u64) {
    if let Ok(ix) = Index::open(dir, OpenOptions::default()) {
        if ix.live_rows(Level::File) == n && ix.stats().tail_rows[0] == 0 {
            println!("reusing index at {}", dir.display());
            if std::env::var_os("AVX_BENCH_REBUILD_GRAPH").is_some() {
                drop(ix);
                let opts = OpenOptions {
                    write: true,
                    wait: false,
                    settings: Some(settings(data.dim)),
                };
                let mut w = Index::open(dir, opts).unwrap().writer().unwrap();
                time_graph(dir, &mut w, n);
            }
            return;
        }
    }
    let _ = std::fs::remove_dir_all(dir);
    let t = Instant::now();
    let mut w = store(dir, data, 0..n, bench_path);
    let store = t.elapsed();
    println!(
        "build: store {n} rows {:.1} s ({:.0} rows/s)",
        store.as_secs_f64(),
        n as f64 / store.as_secs_f64(),
    );
    time_graph(dir, &mut w, n);
}

/// Builds the file level's graph and prints its wall and CPU time, then (untimed) searches the graph of the
/// index in `dir` for every point's own vector.
fn time_graph(dir: &Path, w: &mut avx_index::Writer, n: u64) {
    let (rep, g, cpu) = timed(|| w.rebuild_graph(Level::File).unwrap().unwrap());
    println!(
        "build: graph {g:.1} s ({:.0} vectors/s, {} threads, {cpu:.1} s CPU); {rep:?}",
        n as f64 / g,
        rayon::current_num_threads()
    );
    self_search(dir);
}

/// Prints how many points of the file level's graph in `dir` a search (beam 64, as the build's check) for
/// their own vector misses: the build searches only the points with few links back from their neighbours
/// (`AVX_BENCH_SELF_SEARCH=0` skips this).
fn self_search(dir: &Path) {
    if env_or::<u8>("AVX_BENCH_SELF_SEARCH", 1) == 0 {
        return;
    }
    let ix = Index::open(dir, OpenOptions::default()).unwrap();
    let t = Instant::now();
    let missed = ix.graph_self_misses(Level::File, 64).unwrap_or_default();
    println!(
        "self-search of every point (untimed, {:.1} s): {} not found {:?}",
        t.elapsed().as_secs_f64(),
        missed.len(),
        &missed[..missed.len().min(20)]
    );
}

/// Writes the bench's vectors and queries as raw little-endian f32 for `benches/hnswlib_compare.py`.
fn export(out: &Path, data: &Data, n: u64, queries: u64) {
    use std::io::Write;
    std::fs::create_dir_all(out).unwrap();
    let write = |name: &str, rows: &mut dyn Iterator<Item = Vec<f32>>| {
        let mut f = std::io::BufWriter::new(std::fs::File::create(out.join(name)).unwrap());
        for v in rows {
            for x in v {
                f.write_all(&x.to_le_bytes()).unwrap();
            }
        }
        f.flush().unwrap();
    };
    write("vectors.f32", &mut (0..n).map(|i| data.vector(i)));
    write("queries.f32", &mut (0..queries).map(|i| data.query(i, n)));
    println!(
        "exported {n} vectors and {queries} queries of dimension {} to {}",
        data.dim,
        out.display()
    );
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn report(dir: &Path, data: &Data, n: u64, queries: u64) {
    let t = Instant::now();
    let ix = Index::open(dir, OpenOptions::default()).unwrap();
    let open = t.elapsed();
    let rss = rss_kib();
    let mut again: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            drop(Index::open(dir, OpenOptions::default()).unwrap());
            t.elapsed()
        })
        .collect();
    let t = Instant::now();
    assert!(ix.file_by_path(&bench_path(n - 1)).is_some());
    let first_lookup = t.elapsed();
    let vec_bytes = n * data.dim as u64 * 4;
    println!(
        "first lookup by path (sorts the paths; ids here are not in path order): {:.1} ms",
        first_lookup.as_secs_f64() * 1e3
    );
    println!(
        "open: {:.1} ms (then the median of five more: {:.1} ms); RSS after the first open {:.1} MiB \
         ({:.2}x the {:.1} MiB of vectors); size on disk {:.1} MiB",
        open.as_secs_f64() * 1e3,
        percentile(&mut again, 0.5).as_secs_f64() * 1e3,
        rss as f64 / 1024.0,
        rss as f64 * 1024.0 / vec_bytes as f64,
        vec_bytes as f64 / (1 << 20) as f64,
        dir_size(dir) as f64 / (1 << 20) as f64
    );
    let qs: Vec<Vec<f32>> = (0..queries).map(|i| data.query(i, n)).collect();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    one.install(|| {
        let exact_n = queries.min(200);
        let mut exact_t = Vec::new();
        let mut truth = Vec::new();
        for q in &qs[..exact_n as usize] {
            let t = Instant::now();
            truth.push(ix.search(q, &SearchOptions { k: 10, exact: true, ..Default::default() }).unwrap());
            exact_t.push(t.elapsed());
        }
        // Recall over every query, as benches/hnswlib_compare.py measures it (the rest untimed, on all cores).
        let rest: Vec<_> = rayon::ThreadPoolBuilder::new().build().unwrap().install(|| {
            use rayon::prelude::*;
            qs[exact_n as usize..]
                .par_iter()
                .map(|q| ix.search(q, &SearchOptions { k: 10, exact: true, ..Default::default() }).unwrap())
                .collect()
        });
        truth.extend(rest);
        let ex50 = percentile(&mut exact_t, 0.5);
        println!("exact scan (1 thread): p50 {:.2} ms over {n} rows", ex50.as_secs_f64() * 1e3);
        for ef in EFS {
            let mut lat = Vec::new();
            let mut found = 0;
            for (i, q) in qs.iter().enumerate() {
                let t = Instant::now();
                let hits = ix.search(q, &SearchOptions { k: 10, ef: Some(ef), exact_below_rows: 0, ..Default::default() }).unwrap();
                lat.push(t.elapsed());
                if let Some(tr) = truth.get(i) {
                    found += hits.iter().filter(|h| tr.iter().any(|e| e.row == h.row)).count();
                }
            }
            let recall = found as f64 / (truth.len() * 10) as f64;
            let p50 = percentile(&mut lat, 0.5);
            let p99 = percentile(&mut lat, 0.99);
            println!(
                "graph ef={ef}: p50 {:.3} ms, p99 {:.3} ms, recall@10 {recall:.4}; crossover estimate {:.0} rows",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3,
                p50.as_secs_f64() / (ex50.as_secs_f64() / n as f64)
            );
        }
    });
}

fn setup() -> (PathBuf, Option<tempfile::TempDir>, Data, u64, u64) {
    let mut n = env_or::<usize>("AVX_BENCH_N", 10_000) as u64;
    let dim = env_or::<usize>("AVX_BENCH_DIM", 512);
    let mut queries = env_or::<usize>("AVX_BENCH_QUERIES", 1000) as u64;
    let file = std::env::var_os("AVX_BENCH_VECTORS").map(|d| {
        let d = PathBuf::from(d);
        let (v, q) = (
            map_f32(&d.join("vectors.f32"), dim),
            map_f32(&d.join("queries.f32"), dim),
        );
        n = (v.len() / (dim * 4)) as u64;
        queries = (q.len() / (dim * 4)) as u64;
        println!(
            "{n} vectors and {queries} queries of dimension {dim} from {}",
            d.display()
        );
        (v, q)
    });
    let mut r = Rng::new(7);
    let centres = (0..env_or::<usize>("AVX_BENCH_CENTRES", 1000))
        .map(|_| unit((0..dim).map(|_| r.gaussian() as f32).collect()))
        .collect();
    let data = Data {
        dim,
        centres,
        seed: 12345,
        file,
    };
    let (dir, tmp) = match std::env::var("AVX_BENCH_DIR") {
        Ok(d) => (PathBuf::from(d), None),
        Err(_) => {
            let t = tempfile::tempdir().unwrap();
            (t.path().join("ix"), Some(t))
        }
    };
    (dir, tmp, data, n, queries)
}

fn benches(c: &mut Criterion) {
    let (dir, _tmp, data, n, _) = setup();
    build(&dir, &data, n);
    let ix = Index::open(&dir, OpenOptions::default()).unwrap();
    let q = data.query(1, n);
    let mut g = c.benchmark_group("search");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30);
    g.bench_with_input(BenchmarkId::new("graph", n), &q, |b, q| {
        b.iter(|| {
            ix.search(
                q,
                &SearchOptions {
                    exact_below_rows: 0,
                    ..Default::default()
                },
            )
            .unwrap()
        })
    });
    g.bench_with_input(BenchmarkId::new("exact", n), &q, |b, q| {
        b.iter(|| {
            ix.search(
                q,
                &SearchOptions {
                    exact: true,
                    ..Default::default()
                },
            )
            .unwrap()
        })
    });
    g.finish();
    let mut g = c.benchmark_group("open");
    g.sample_size(20);
    g.bench_function(BenchmarkId::new("open", n), |b| {
        b.iter(|| Index::open(&dir, OpenOptions::default()).unwrap())
    });
    g.finish();
}

criterion_group!(group, benches);

/// Path of file `i` of `n` in the incremental and filtered modes: 10 directories of 10 of `n / 100` files
/// each, ids in path order.
fn ordered_path(i: u64, n: u64) -> PathBuf {
    let d = i * 100 / n;
    PathBuf::from(format!("/lib/{}/{}/{i:09}.flac", d / 10, d % 10))
}

/// Stores files `range` (named by `path`) with maintenance off and commits.
fn store(
    dir: &Path,
    data: &Data,
    range: std::ops::Range<u64>,
    path: impl Fn(u64) -> PathBuf,
) -> avx_index::Writer {
    let opts = OpenOptions {
        write: true,
        wait: false,
        settings: Some(settings(data.dim)),
    };
    let ix = Index::open(dir, opts).unwrap();
    let mut w = ix.writer().unwrap();
    w.set_policy(MaintenancePolicy {
        enabled: false,
        ..MaintenancePolicy::default()
    });
    for i in range {
        w.upsert(FileRecord {
            path: path(i),
            size: i,
            mtime_ns: 0,
            content_hash: i as u128,
            duration_s: 1.0,
            sample_rate: 48_000,
            channels: 2,
            codec: "flac".into(),
            vector: data.vector(i),
            windows: vec![],
        })
        .unwrap();
        if i % 10_000 == 9_999 {
            w.commit().unwrap();
        }
    }
    w.commit().unwrap();
    w
}

/// Recall@10 and p50 of graph searches at `ef` (one thread) against exact ones.
fn graph_recall(
    ix: &Index,
    qs: &[Vec<f32>],
    truth: &[Vec<avx_index::Hit>],
    ef: usize,
) -> (f64, Duration) {
    let mut lat = Vec::new();
    let mut found = 0;
    for (q, tr) in qs.iter().zip(truth) {
        let t = Instant::now();
        let hits = ix
            .search(
                q,
                &SearchOptions {
                    k: 10,
                    ef: Some(ef),
                    exact_below_rows: 0,
                    ..Default::default()
                },
            )
            .unwrap();
        lat.push(t.elapsed());
        found += hits
            .iter()
            .filter(|h| tr.iter().any(|e| e.row == h.row))
            .count();
    }
    (
        found as f64 / (qs.len() * 10) as f64,
        percentile(&mut lat, 0.5),
    )
}

fn incremental(root: &Path, data: &Data, n: u64, queries: u64) {
    let added = n * env_or::<usize>("AVX_BENCH_ADD_PERMILLE", 10) as u64 / 1000;
    let base = n - added;
    let (inc, fresh) = (root.join("incremental"), root.join("fresh"));
    let _ = std::fs::remove_dir_all(&inc);
    let _ = std::fs::remove_dir_all(&fresh);
    // `AVX_BENCH_BASE_CACHE`: a copy of the base index (with its graph) kept there and reused by the next
    // run with the same N, dimension, centres and seed, to time insertions without building the base again.
    let cache = std::env::var_os("AVX_BENCH_BASE_CACHE").map(PathBuf::from);
    let made_for = format!(
        "{base} of {n}, dim {}, {} centres, seed {}",
        data.dim,
        data.centres.len(),
        data.seed
    );
    match &cache {
        Some(c) if std::fs::read_to_string(c.join("done")).is_ok_and(|d| d == made_for) => {
            copy_dir(c, &inc);
            println!("base index over {base} copied from {}", c.display());
        }
        _ => {
            let mut w = store(&inc, data, 0..base, |i| ordered_path(i, n));
            let (rep, b, bc) = timed(|| w.rebuild_graph(Level::File).unwrap().unwrap());
            println!(
                "base graph over {base}: {b:.1} s, CPU {bc:.1} s ({:.0} vectors/s); {rep:?}",
                base as f64 / b
            );
            drop(w);
            if let Some(c) = &cache {
                let _ = std::fs::remove_dir_all(c);
                copy_dir(&inc, c);
                std::fs::write(c.join("done"), &made_for).unwrap();
            }
        }
    }
    let mut w = store(&inc, data, base..n, |i| ordered_path(i, n));
    let before = sizes(&graph_files(&inc));
    let (rep, e, ec) = timed(|| w.extend_graph(Level::File).unwrap().unwrap());
    println!(
        "incremental: {added} inserted into the graph of {base} in {e:.2} s, CPU {ec:.2} s ({:.0} vectors/s, \
         load of the old graph and write of the new generation included); {rep:?}",
        added as f64 / e
    );
    let (build, check) = (rep.build_ms as f64 / 1e3, rep.check_ms as f64 / 1e3);
    println!(
        "phases (wall): the old graph's lists read and the new nodes inserted {:.2} s, check {check:.2} s, \
         writing and committing the generation {:.2} s",
        build - check,
        e - build
    );
    println!(
        "graph files before: {before:?}; after: {:?}",
        sizes(&graph_files(&inc))
    );
    self_search(&inc);
    drop(w);
    if env_or::<u8>("AVX_BENCH_FRESH", 1) == 0 {
        return;
    }
    let mut w = store(&fresh, data, 0..n, |i| ordered_path(i, n));
    let (rep, f, fc) = timed(|| w.rebuild_graph(Level::File).unwrap().unwrap());
    println!(
        "fresh build over {n}: {f:.1} s, CPU {fc:.1} s ({:.0} vectors/s); {rep:?}",
        n as f64 / f
    );
    self_search(&fresh);
    println!(
        "per vector: incremental {:.2} ms wall, {:.2} ms CPU; fresh build {:.2} ms wall, {:.2} ms CPU \
         (ratio incremental / fresh: wall {:.2}, CPU {:.2})",
        e * 1e3 / added as f64,
        ec * 1e3 / added as f64,
        f * 1e3 / n as f64,
        fc * 1e3 / n as f64,
        (e / added as f64) / (f / n as f64),
        (ec / added as f64) / (fc / n as f64)
    );
    drop(w);
    let (inc_ix, fresh_ix) = (
        Index::open(&inc, OpenOptions::default()).unwrap(),
        Index::open(&fresh, OpenOptions::default()).unwrap(),
    );
    let qs: Vec<Vec<f32>> = (0..queries.min(1000)).map(|i| data.query(i, n)).collect();
    // Queries near the inserted points alone: each an inserted vector perturbed as `Data::query` does.
    let near = queries.min(1000).min(added);
    let near_new: Vec<Vec<f32>> = (0..near)
        .map(|i| data.query_near(base + i * added / near, i))
        .collect();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    one.install(|| {
        for (what, qs) in [("queries", &qs), ("queries near the inserted points", &near_new)] {
            // The exact answers on every thread (0.4 s a query at 1M), the timed searches on one.
            let truth: Vec<_> = rayon::ThreadPoolBuilder::new().build().unwrap().install(|| {
                use rayon::prelude::*;
                qs.par_iter()
                    .map(|q| inc_ix.search(q, &SearchOptions { k: 10, exact: true, ..Default::default() }).unwrap())
                    .collect()
            });
            // Both indexes once through the queries first: the first one searched would pay the page faults.
            graph_recall(&inc_ix, qs, &truth, 96);
            graph_recall(&fresh_ix, qs, &truth, 96);
            println!("{} {what}:", qs.len());
            for ef in [16usize, 32, 48, 64, 96] {
                let (ri, ti) = graph_recall(&inc_ix, qs, &truth, ef);
                let (rf, tf) = graph_recall(&fresh_ix, qs, &truth, ef);
                println!(
                    "ef {ef}: recall@10 incremental {ri:.4} (p50 {:.3} ms), fresh {rf:.4} (p50 {:.3} ms), difference {:+.4}",
                    ti.as_secs_f64() * 1e3,
                    tf.as_secs_f64() * 1e3,
                    ri - rf
                );
            }
        }
    });
    filtered(&inc_ix, data, n, queries);
}

/// Copies the files of directory `from` (no subdirectories) into `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Names and sizes of `files`.
fn sizes(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|p| {
            let len = std::fs::metadata(p).map_or(0, |m| m.len());
            format!(
                "{} {:.1} MB",
                p.file_name().unwrap().to_string_lossy(),
                len as f64 / 1e6
            )
        })
        .collect()
}

/// The graph and int8 code files in index directory `dir`, sorted.
fn graph_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("graph-")
        })
        .collect();
    v.sort();
    v
}

/// Path-filtered searches (k 10, default beam, one thread) on `ix` against exact filtered searches.
fn filtered(ix: &Index, data: &Data, n: u64, queries: u64) {
    let qs: Vec<Vec<f32>> = (0..queries.min(200)).map(|i| data.query(i, n)).collect();
    let t = Instant::now();
    let first = ix
        .search(
            &qs[0],
            &SearchOptions {
                path_prefix: Some(Path::new("/lib/4/2")),
                ..Default::default()
            },
        )
        .unwrap();
    println!(
        "first filtered search after open (checks the path order): {:.1} ms, {} hits",
        t.elapsed().as_secs_f64() * 1e3,
        first.len()
    );
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    one.install(|| {
        for (what, dirs) in [("1 %", 1usize), ("10 %", 10), ("100 %", 100), ("none", 0)] {
            let prefixes: Vec<PathBuf> = (0..qs.len())
                .map(|i| match dirs {
                    0 => PathBuf::from("/lib/nothing"),
                    1 => PathBuf::from(format!("/lib/{}/{}", i % 10, (i / 10) % 10)),
                    10 => PathBuf::from(format!("/lib/{}", i % 10)),
                    _ => PathBuf::from("/lib"),
                })
                .collect();
            let (mut lat, mut exact_lat) = (Vec::new(), Vec::new());
            let (mut found, mut wanted) = (0, 0);
            // The searches first, then the exact ones: interleaved, each exact scan of a wide filter (2 GB of
            // rows at 100 %) evicted what the next search reads from the caches.
            let mut all_hits = Vec::new();
            for (q, p) in qs.iter().zip(&prefixes) {
                let opts = SearchOptions { k: 10, path_prefix: Some(p), ..Default::default() };
                let t = Instant::now();
                all_hits.push(ix.search(q, &opts).unwrap());
                lat.push(t.elapsed());
            }
            for ((q, p), hits) in qs.iter().zip(&prefixes).zip(all_hits) {
                let opts = SearchOptions { k: 10, path_prefix: Some(p), exact: true, ..Default::default() };
                let t = Instant::now();
                let truth = ix.search(q, &opts).unwrap();
                exact_lat.push(t.elapsed());
                assert!(hits.iter().all(|h| h.path.starts_with(p)));
                wanted += truth.len();
                found += hits.iter().filter(|h| truth.iter().any(|e| e.row == h.row)).count();
            }
            println!(
                "filter {what} of {n} files: p50 {:.3} ms, p99 {:.3} ms, recall@10 {:.4} against exact filtered \
                 (exact filtered p50 {:.3} ms)",
                percentile(&mut lat, 0.5).as_secs_f64() * 1e3,
                percentile(&mut lat, 0.99).as_secs_f64() * 1e3,
                if wanted == 0 { 1.0 } else { found as f64 / wanted as f64 },
                percentile(&mut exact_lat, 0.5).as_secs_f64() * 1e3,
            );
        }
    });
}

fn main() {
    let (dir, _tmp, data, n, queries) = setup();
    match std::env::var("AVX_BENCH_MODE").as_deref() {
        Ok("incremental") => return incremental(&dir, &data, n, queries),
        Ok("filtered") => {
            if Index::open(&dir, OpenOptions::default())
                .map_or(true, |ix| ix.live_rows(Level::File) != n)
            {
                let _ = std::fs::remove_dir_all(&dir);
                drop(store(&dir, &data, 0..n, |i| ordered_path(i, n)));
            }
            let t = Instant::now();
            let ix = Index::open(&dir, OpenOptions::default()).unwrap();
            println!("open: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
            return filtered(&ix, &data, n, queries);
        }
        _ => {}
    }
    if std::env::var("AVX_BENCH_OPEN_ONLY").is_ok() {
        report(&dir, &data, n, queries);
        return;
    }
    if let Ok(out) = std::env::var("AVX_BENCH_EXPORT") {
        export(Path::new(&out), &data, n, queries);
    }
    build(&dir, &data, n);
    // Figures in a fresh process, so that RSS is that of an opened index only.
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env("AVX_BENCH_OPEN_ONLY", "1")
        .env("AVX_BENCH_DIR", &dir)
        .status()
        .unwrap();
    assert!(status.success());
    if std::env::var("AVX_BENCH_REPORT_ONLY").is_err() {
        group();
        criterion::Criterion::default()
            .configure_from_args()
            .final_summary();
    }
}
