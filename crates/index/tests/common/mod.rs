//! Shared helpers of the integration tests: settings, seeded synthetic vectors, records.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use avx_index::{FileRecord, IndexSettings, OpenOptions, WindowRecord};

pub fn settings(dim: u32) -> IndexSettings {
    IndexSettings {
        model: "test-model".into(),
        model_hashes: vec![("model.onnx".into(), "abc123".into())],
        family: String::new(),
        frontend: r#"{"sr":48000}"#.into(),
        pipeline_version: 1,
        dim,
    }
}

pub fn write_opts(dim: u32) -> OpenOptions {
    OpenOptions {
        write: true,
        wait: false,
        settings: Some(settings(dim)),
    }
}

pub fn read_opts() -> OpenOptions {
    OpenOptions::default()
}

/// SplitMix64: small, seeded, reproducible.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub fn normal(&mut self) -> f32 {
        let u1 = self.uniform().max(1e-7);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

pub fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
    v
}

pub fn random_unit(rng: &mut Rng, dim: usize) -> Vec<f32> {
    normalise((0..dim).map(|_| rng.normal()).collect())
}

/// `n` unit vectors around `clusters` random centres (spread `spread`).
pub fn clustered(
    rng: &mut Rng,
    n: usize,
    dim: usize,
    clusters: usize,
    spread: f32,
) -> Vec<Vec<f32>> {
    let centres: Vec<Vec<f32>> = (0..clusters).map(|_| random_unit(rng, dim)).collect();
    (0..n)
        .map(|_| {
            let c = &centres[rng.below(clusters as u64) as usize];
            normalise(c.iter().map(|x| x + spread * rng.normal()).collect())
        })
        .collect()
}

pub fn record(path: impl Into<PathBuf>, vector: Vec<f32>, windows: Vec<Vec<f32>>) -> FileRecord {
    let path = path.into();
    FileRecord {
        size: 1000 + path.as_os_str().len() as u64,
        mtime_ns: 1_700_000_000_000_000_000,
        content_hash: xxhash(path.as_os_str().as_encoded_bytes()) as u128,
        duration_s: windows.len() as f64 * 10.0,
        sample_rate: 48_000,
        channels: 2,
        codec: "flac".into(),
        windows: windows
            .into_iter()
            .enumerate()
            .map(|(i, v)| WindowRecord {
                start_s: i as f32 * 10.0,
                end_s: i as f32 * 10.0 + 10.0,
                vector: v,
            })
            .collect(),
        vector,
        path,
    }
}

fn xxhash(b: &[u8]) -> u64 {
    let mut h = 0xcbf29ce484222325u64;
    for &x in b {
        h = (h ^ x as u64).wrapping_mul(0x100000001b3);
    }
    h
}

/// Copies a directory (flat) to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}
