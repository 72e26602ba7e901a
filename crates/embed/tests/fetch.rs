//! Model downloads against a local HTTP server on loopback: complete, interrupted and resumed, wrong hash,
//! missing file. No network beyond 127.0.0.1 is used.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use avx_embed::fetch::{fetch_file, fetch_model_from, file_url, sha256_file, MANIFEST};
use avx_embed::model::Variant;
use avx_embed::registry::KnownModel;

#[derive(Default)]
struct Server {
    files: HashMap<String, Vec<u8>>,
    /// Paths whose first full-body response is cut off half way.
    cut_once: Mutex<Vec<String>>,
    /// Range headers seen, in order.
    ranges: Mutex<Vec<Option<String>>>,
    requests: AtomicUsize,
}

/// Serves `files` on 127.0.0.1 and returns the base URL.
fn serve(server: Arc<Server>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(mut stream) = stream else { continue };
            let server = server.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    return;
                }
                let mut range = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                        range = Some(v.trim().trim_end_matches('-').to_string());
                    }
                }
                server.requests.fetch_add(1, Ordering::SeqCst);
                server.ranges.lock().unwrap().push(range.clone());
                let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
                let Some(body) = server.files.get(&path) else {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    return;
                };
                let start: usize = range.as_deref().and_then(|r| r.parse().ok()).unwrap_or(0);
                if start > 0 {
                    let head = format!(
                        "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {}-{}/{}\r\nConnection: close\r\n\r\n",
                        body.len() - start, start, body.len() - 1, body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&body[start..]);
                    return;
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let cut = {
                    let mut c = server.cut_once.lock().unwrap();
                    let hit = c.iter().position(|p| *p == path);
                    hit.map(|i| c.remove(i)).is_some()
                };
                if cut {
                    let _ = stream.write_all(&body[..body.len() / 2]);
                    let _ = stream.flush();
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                } else {
                    let _ = stream.write_all(body);
                }
            });
        }
    });
    format!("http://{addr}")
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn sha(b: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x");
    std::fs::write(&p, b).unwrap();
    sha256_file(&p).unwrap()
}

fn no_progress() -> impl FnMut(u64, Option<u64>) {
    |_, _| {}
}

#[test]
fn interrupted_transfer_resumes_with_a_range_request() {
    let body = bytes(300_000, 1);
    let mut s = Server::default();
    s.files.insert("/f.bin".into(), body.clone());
    s.cut_once.lock().unwrap().push("/f.bin".into());
    let s = Arc::new(s);
    let base = serve(s.clone());
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("f.bin");
    let (size, digest) = fetch_file(
        &format!("{base}/f.bin"),
        &dest,
        Some(&sha(&body)),
        &mut no_progress(),
    )
    .unwrap();
    assert_eq!(size, body.len() as u64);
    assert_eq!(std::fs::read(&dest).unwrap(), body);
    assert_eq!(digest, sha(&body));
    let ranges = s.ranges.lock().unwrap().clone();
    assert_eq!(
        ranges,
        vec![None, Some((body.len() / 2).to_string())],
        "second request resumes"
    );
    assert!(!dir.path().join("f.bin.part").exists());
}

#[test]
fn a_partial_file_from_an_earlier_run_is_resumed() {
    let body = bytes(100_000, 2);
    let mut s = Server::default();
    s.files.insert("/f.bin".into(), body.clone());
    let s = Arc::new(s);
    let base = serve(s.clone());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.bin.part"), &body[..40_000]).unwrap();
    fetch_file(
        &format!("{base}/f.bin"),
        &dir.path().join("f.bin"),
        None,
        &mut no_progress(),
    )
    .unwrap();
    assert_eq!(std::fs::read(dir.path().join("f.bin")).unwrap(), body);
    assert_eq!(
        s.ranges.lock().unwrap().clone(),
        vec![Some("40000".to_string())]
    );
}

#[test]
fn wrong_hash_is_an_error_and_leaves_no_file() {
    let body = bytes(10_000, 3);
    let mut s = Server::default();
    s.files.insert("/f.bin".into(), body);
    let base = serve(Arc::new(s));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("f.bin");
    let err = fetch_file(
        &format!("{base}/f.bin"),
        &dest,
        Some(&"0".repeat(64)),
        &mut no_progress(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("sha256 mismatch"), "{err}");
    assert!(!dest.exists() && !dir.path().join("f.bin.part").exists());
}

#[test]
fn missing_file_says_how_to_use_a_local_directory() {
    let base = serve(Arc::new(Server::default()));
    let dir = tempfile::tempdir().unwrap();
    let err = fetch_file(
        &format!("{base}/nope"),
        &dir.path().join("nope"),
        None,
        &mut no_progress(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("404") && err.to_string().contains("--model-dir"),
        "{err}"
    );
}

#[test]
fn a_model_is_fetched_into_its_revision_directory_and_verified_later() {
    static SHA: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let repo = "test/tiny-model";
    let rev = "abc123";
    let files = [
        "config.json",
        "preprocessor_config.json",
        "tokenizer.json",
        "onnx/audio_model_quantized.onnx",
        "onnx/text_model_quantized.onnx",
    ];
    let mut s = Server::default();
    for (i, f) in files.iter().enumerate() {
        let body = bytes(5_000 + i * 1_000, i as u8);
        if f.starts_with("onnx/audio") {
            SHA.set(sha(&body)).unwrap();
        }
        s.files.insert(format!("/{repo}/resolve/{rev}/{f}"), body);
    }
    let s = Arc::new(s);
    let base = serve(s.clone());
    let pinned: &'static [(&'static str, &'static str)] = Box::leak(Box::new([(
        "onnx/audio_model_quantized.onnx",
        SHA.get().unwrap().as_str(),
    )]));
    let model = KnownModel {
        name: "tiny",
        repo,
        revision: rev,
        revision_pinned: true,
        dim: 512,
        has_text: true,
        size_mb: [(0, 0); 3],
        sha256: pinned,
        summary: "test",
    };
    let root = tempfile::tempdir().unwrap();
    let dir = fetch_model_from(&base, &model, Variant::Int8, root.path(), &mut |_| {}).unwrap();
    assert_eq!(dir, root.path().join("models/tiny/abc123"));
    for f in files {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert!(model.is_present(root.path(), Variant::Int8));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(MANIFEST)).unwrap()).unwrap();
    assert_eq!(
        manifest["files"]["onnx/audio_model_quantized.onnx"]["sha256"],
        SHA.get().unwrap().as_str()
    );

    // A second fetch downloads nothing; a damaged file is detected by its recorded hash and fetched again.
    let before = s.requests.load(Ordering::SeqCst);
    fetch_model_from(&base, &model, Variant::Int8, root.path(), &mut |_| {}).unwrap();
    assert_eq!(s.requests.load(Ordering::SeqCst), before);
    std::fs::write(dir.join("tokenizer.json"), b"damaged").unwrap();
    fetch_model_from(&base, &model, Variant::Int8, root.path(), &mut |_| {}).unwrap();
    assert_eq!(s.requests.load(Ordering::SeqCst), before + 1);
    assert_ne!(
        std::fs::read(dir.join("tokenizer.json")).unwrap(),
        b"damaged"
    );
}

#[test]
fn urls_follow_the_hugging_face_resolve_form() {
    assert_eq!(
        file_url(
            "https://huggingface.co/",
            "Xenova/clap-htsat-unfused",
            "c28f288",
            "onnx/audio_model.onnx"
        ),
        "https://huggingface.co/Xenova/clap-htsat-unfused/resolve/c28f288/onnx/audio_model.onnx"
    );
}

#[test]
fn an_fp32_fetch_also_brings_the_int8_text_tower_for_queries() {
    let repo = "test/query-model";
    let rev = "def456";
    let fp32 = [
        "config.json",
        "preprocessor_config.json",
        "tokenizer.json",
        "onnx/audio_model.onnx",
        "onnx/text_model.onnx",
    ];
    let query = "onnx/text_model_quantized.onnx";
    let mut s = Server::default();
    for (i, f) in fp32.iter().chain([&query]).enumerate() {
        s.files.insert(
            format!("/{repo}/resolve/{rev}/{f}"),
            bytes(4_000 + i * 500, 9 + i as u8),
        );
    }
    let s = Arc::new(s);
    let base = serve(s.clone());
    let model = KnownModel {
        name: "query",
        repo,
        revision: rev,
        revision_pinned: true,
        dim: 512,
        has_text: true,
        size_mb: [(10, 20), (5, 10), (3, 4)],
        sha256: &[],
        summary: "test",
    };
    assert_eq!(model.query_files(Variant::Fp32), vec![query.to_string()]);
    assert!(model.query_files(Variant::Int8).is_empty());
    assert_eq!(model.approx_size_mb(Variant::Fp32), 10 + 20 + 4);
    assert_eq!(model.approx_size_mb(Variant::Int8), 3 + 4);
    let root = tempfile::tempdir().unwrap();
    let dir = fetch_model_from(&base, &model, Variant::Fp32, root.path(), &mut |_| {}).unwrap();
    for f in fp32.iter().chain([&query]) {
        assert!(dir.join(f).is_file(), "{f} not fetched");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(MANIFEST)).unwrap()).unwrap();
    assert!(manifest["files"][query]["sha256"].is_string(), "{manifest}");
    assert_eq!(s.requests.load(Ordering::SeqCst), 6);

    // A model without a text tower gets no text file at all.
    let audio_only = KnownModel {
        has_text: false,
        ..model
    };
    assert!(audio_only.query_files(Variant::Fp32).is_empty());
    assert_eq!(audio_only.approx_size_mb(Variant::Fp32), 10);
}
