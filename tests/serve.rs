//! API tests of `avx serve` against a server on an ephemeral loopback port: every endpoint, Range requests,
//! authentication, bad uploads, traversal attempts, CORS, and a concurrent commit becoming visible.

#[path = "serve_harness.rs"]
mod harness;
mod util;

use harness::{agent, Library, Served};
use serde_json::{json, Value};

fn get(s: &Served, path: &str) -> (u16, Vec<u8>, ureq::http::HeaderMap) {
    let mut r = agent().get(&s.url(path)).call().unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap();
    (status, body, headers)
}

fn get_json(s: &Served, path: &str) -> Value {
    let (status, body, _) = get(s, path);
    let v: Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{path}: not JSON ({e}): {:?}",
            String::from_utf8_lossy(&body)
        )
    });
    assert_eq!(status, 200, "{path}: {v}");
    v
}

fn post(s: &Served, path: &str, body: &[u8]) -> (u16, Value) {
    let mut r = agent()
        .post(&s.url(path))
        .header("Content-Type", "application/octet-stream")
        .send(body)
        .unwrap();
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}")),
    )
}

/// The id of the indexed file at `suffix` under the library (found through the map and the file endpoint).
fn id_of(s: &Served, lib: &Library, suffix: &str) -> u64 {
    let path = lib.lib().join(suffix);
    let map = get_json(s, "/api/map");
    for p in map["points"].as_array().unwrap() {
        let id = p[0].as_u64().unwrap();
        if get_json(s, &format!("/api/files/{id}"))["path"] == path.to_str().unwrap() {
            return id;
        }
    }
    panic!("{suffix} is not indexed")
}

#[test]
fn every_endpoint_answers_with_the_cli_objects() {
    let lib = Library::new();
    let s = lib.serve(&[]);

    let info = get_json(&s, "/api/info");
    assert_eq!(info["type"], "info");
    assert_eq!(info["text"], true, "tiny-clap has a text tower: {info}");
    let files = info["files"].as_u64().unwrap();
    assert!(files >= 20, "{info}");

    // Text search: k hits, each the CLI's `hit` object plus the file's id.
    let hits = get_json(&s, "/api/search?q=a%20kick%20drum&k=5");
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 5);
    for (i, h) in hits.iter().enumerate() {
        assert_eq!(h["type"], "hit");
        assert_eq!(h["rank"], i + 1);
        assert!(
            h["id"].is_u64()
                && h["path"].is_string()
                && h["score"].is_f64()
                && h["duration"].is_f64(),
            "{h}"
        );
    }
    let args = ["--json", "search", "a kick drum", "-k", "5"];
    let cli = util::json_lines(&util::stdout_with_code(
        lib.cmd().args(args).output().unwrap(),
        &args,
        0,
    ));
    assert_eq!(cli.len(), 5);
    for (a, b) in hits.iter().zip(&cli) {
        let mut a = a.clone();
        a.as_object_mut().unwrap().remove("id");
        assert_eq!(&a, b, "the API's hit is the CLI's hit plus its id");
    }

    // Similar to an indexed file: its exact copy comes first with cosine 1; the file itself is excluded.
    let snare = id_of(&s, &lib, "examples/snare_tight.wav");
    let sim = get_json(&s, &format!("/api/similar?id={snare}&k=3"));
    let sim = sim.as_array().unwrap();
    assert_eq!(sim.len(), 3);
    assert!(
        sim[0]["path"]
            .as_str()
            .unwrap()
            .ends_with("snare_tight_copy.wav"),
        "{sim:?}"
    );
    assert!(sim[0]["score"].as_f64().unwrap() > 0.999);
    assert!(sim.iter().all(|h| h["id"] != snare));
    // `exact=1` (the CLI's --exact): a scan of every vector, the same answer on a library this small.
    assert_eq!(
        get_json(&s, &format!("/api/similar?id={snare}&k=3&exact=1")),
        Value::Array(sim.clone())
    );

    // Similar to uploaded audio: the bytes of an indexed file find that file first.
    let bytes = std::fs::read(lib.lib().join("examples/kick_808.wav")).unwrap();
    let (status, up) = post(&s, "/api/similar?k=3&name=ref.wav", &bytes);
    assert_eq!(status, 200, "{up}");
    let top = &up.as_array().unwrap()[0];
    assert!(
        top["path"].as_str().unwrap().ends_with("kick_808.wav"),
        "{up}"
    );
    assert!(top["score"].as_f64().unwrap() > 0.999, "{up}");
    // ... and with segments=1 the hits are windows with offsets.
    let (status, seg) = post(&s, "/api/similar?k=4&segments=1&name=ref.wav", &bytes);
    assert_eq!(status, 200, "{seg}");
    assert!(
        seg.as_array()
            .unwrap()
            .iter()
            .all(|h| h["start"].is_f64() && h["end"].is_f64()),
        "{seg}"
    );

    // Duplicates: the exact copy forms a group at the default threshold.
    let groups = get_json(&s, "/api/dupes");
    let groups = groups.as_array().unwrap();
    assert!(
        groups.iter().any(|g| {
            g["type"] == "group"
                && g["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|m| m["id"] == snare)
        }),
        "{groups:?}"
    );

    // Clusters: k clusters covering every file, labelled (the model has a text tower).
    let clusters = get_json(&s, "/api/clusters?k=3");
    let clusters = clusters.as_array().unwrap();
    assert_eq!(clusters.len(), 3);
    let total: u64 = clusters.iter().map(|c| c["size"].as_u64().unwrap()).sum();
    assert_eq!(total, files);
    assert!(clusters
        .iter()
        .all(|c| c["labels"].as_array().unwrap().len() == 3 && c["exemplar_id"].is_u64()));

    // Map: one point per file, inside [-1, 1]; the second request is served from the cache file.
    let map = get_json(&s, "/api/map");
    let points = map["points"].as_array().unwrap();
    assert_eq!(points.len() as u64, files);
    assert!(points
        .iter()
        .all(|p| p[1].as_f64().unwrap().abs() <= 1.0 && p[2].as_f64().unwrap().abs() <= 1.0));
    assert!(lib.index_dir().join("cache/map.json").is_file());
    assert_eq!(get_json(&s, "/api/map"), map);

    // File metadata and peaks; the loudness is stored in the cache beside the index.
    let f = get_json(&s, &format!("/api/files/{snare}"));
    assert_eq!(f["type"], "file");
    assert!(
        f["name"] == "snare_tight.wav" && f["duration"].as_f64().unwrap() > 0.0,
        "{f}"
    );
    let p = get_json(&s, &format!("/api/files/{snare}/peaks?n=50"));
    let peaks = p["peaks"].as_array().unwrap();
    assert!(!peaks.is_empty() && peaks.len() <= 50, "{p}");
    assert!(peaks.iter().any(|x| x.as_f64().unwrap() > 0.01), "{p}");
    let lufs = p["lufs"].as_f64().expect("a snare has a loudness");
    assert!((-70.0..0.0).contains(&lufs), "{lufs}");
    let cache = std::fs::read_to_string(lib.index_dir().join("cache/loudness.json")).unwrap();
    assert!(cache.contains(&format!("\"{snare}\"")), "{cache}");
    assert_eq!(
        get_json(&s, &format!("/api/files/{snare}"))["lufs"].as_f64(),
        Some(lufs)
    );
    // `avx verify` does not count the cache as a problem.
    let verify = lib.cmd().arg("verify").output().unwrap();
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    // The page and its assets, embedded.
    let (status, page, headers) = get(&s, "/");
    assert_eq!(status, 200);
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(String::from_utf8_lossy(&page).contains("/assets/app.js"));
    assert_eq!(get(&s, "/assets/app.js").0, 200);
    assert_eq!(get(&s, "/assets/app.css").0, 200);
    assert_eq!(get(&s, "/no/such/thing").0, 404);
}

#[test]
fn audio_is_served_with_ranges_and_unplayable_formats_as_wav() {
    let lib = Library::new();
    let s = lib.serve(&[]);
    let wav = id_of(&s, &lib, "examples/kick_808.wav");
    let original = std::fs::read(lib.lib().join("examples/kick_808.wav")).unwrap();
    let (status, body, headers) = get(&s, &format!("/audio/{wav}"));
    assert_eq!(status, 200);
    assert_eq!(body, original);
    assert_eq!(headers["content-type"], "audio/wav");
    assert_eq!(headers["accept-ranges"], "bytes");

    let range = |h: &str| {
        let mut r = agent()
            .get(&s.url(&format!("/audio/{wav}")))
            .header("Range", h)
            .call()
            .unwrap();
        let status = r.status().as_u16();
        let cr = r
            .headers()
            .get("content-range")
            .map(|v| v.to_str().unwrap().to_string());
        (status, cr, r.body_mut().read_to_vec().unwrap())
    };
    let n = original.len();
    let (st, cr, b) = range("bytes=0-99");
    assert_eq!(
        (st, cr.as_deref()),
        (206, Some(format!("bytes 0-99/{n}").as_str()))
    );
    assert_eq!(b, &original[..100]);
    let (st, _, b) = range("bytes=-10");
    assert_eq!(st, 206);
    assert_eq!(b, &original[n - 10..]);
    let (st, _, b) = range("bytes=100-");
    assert_eq!(st, 206);
    assert_eq!(b, &original[100..]);
    let (st, cr, _) = range(&format!("bytes={n}-"));
    assert_eq!((st, cr), (416, Some(format!("bytes */{n}"))));

    for (file, mp) in [
        ("examples/riser_sweep.mp3", "audio/mpeg"),
        ("examples/pad_chord.flac", "audio/flac"),
    ] {
        let id = id_of(&s, &lib, file);
        let (status, body, headers) = get(&s, &format!("/audio/{id}"));
        assert_eq!(
            (status, headers["content-type"].to_str().unwrap()),
            (200, mp)
        );
        assert_eq!(body, std::fs::read(lib.lib().join(file)).unwrap());
        // The file's metadata says how it is served (the page's drag out names the download with it).
        let name = file.rsplit('/').next().unwrap();
        assert_eq!(
            get_json(&s, &format!("/api/files/{id}"))["audio"],
            json!({"type": mp, "name": name})
        );
    }
    // AIFF and ALAC: transcoded to WAV on the fly, Range included.
    for file in ["data/stereo44k_s16_4s.aiff", "data/stereo44k_alac_4s.m4a"] {
        let id = id_of(&s, &lib, file);
        let (status, body, headers) = get(&s, &format!("/audio/{id}"));
        assert_eq!(status, 200, "{file}");
        assert_eq!(headers["content-type"], "audio/wav", "{file}");
        assert_eq!(&body[..4], b"RIFF");
        let stem = file.rsplit('/').next().unwrap().split('.').next().unwrap();
        assert_eq!(
            get_json(&s, &format!("/api/files/{id}/peaks?n=10"))["audio"],
            json!({"type": "audio/wav", "name": format!("{stem}.wav")}),
            "{file}"
        );
        let seconds = (body.len() - 44) as f64 / 2.0 / 44_100.0;
        assert!((seconds - 4.0).abs() < 0.1, "{file}: {seconds} s");
        let mut r = agent()
            .get(&s.url(&format!("/audio/{id}")))
            .header("Range", "bytes=0-3")
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 206);
        assert_eq!(r.body_mut().read_to_vec().unwrap(), b"RIFF");
    }
}

#[test]
fn bad_uploads_get_a_4xx_with_the_decoders_message_and_leave_no_file() {
    let lib = Library::new();
    let s = lib.serve(&["--upload-limit", "1"]);
    let wav = std::fs::read(lib.lib().join("examples/kick_808.wav")).unwrap();
    let wma = std::fs::read(lib.lib().join("data/stereo44k_1s.wma")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "notes.txt",
            b"this is not audio at all, just some words\n".repeat(20),
            "notes.txt",
        ),
        ("cut.wav", wav[..30].to_vec(), "cut.wav"),
        ("empty.wav", Vec::new(), "empty"),
        ("voice.wma", wma, "unsupported"),
    ];
    for (name, body, needle) in cases {
        let (status, v) = post(&s, &format!("/api/similar?name={name}"), &body);
        assert!((400..500).contains(&status), "{name}: {status} {v}");
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains(needle) && msg.contains(name), "{name}: {msg}");
        eprintln!("{name}: {status} {msg}");
        assert!(
            !msg.contains("avx-upload-"),
            "{name}: the message names the upload, not the temporary file: {msg}"
        );
    }
    // Over the limit (1 MB here): 413 from the Content-Length alone, before any of the body is sent (over a raw
    // socket: an HTTP client still sending the body may see the connection close first).
    let addr = s.base.trim_start_matches("http://");
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    std::io::Write::write_all(
        &mut tcp,
        b"POST /api/similar?name=big.wav HTTP/1.1\r\nHost: localhost\r\nContent-Type: audio/wav\r\n\
          Content-Length: 2097152\r\n\r\n",
    )
    .unwrap();
    let mut head = [0u8; 12];
    std::io::Read::read_exact(&mut tcp, &mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 413", "{}", String::from_utf8_lossy(&head));
    drop(tcp);
    // The server is still up, and no upload was left behind.
    assert_eq!(get_json(&s, "/api/info")["type"], "info");
    let left: Vec<_> = std::fs::read_dir(lib.tmp())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("avx-upload-"))
        .collect();
    assert!(
        left.is_empty(),
        "uploads left in the temporary directory: {left:?}"
    );
    // Bad parameters are 400 with a message.
    for q in [
        "/api/search?q=",
        "/api/search?q=x&k=0",
        "/api/search?q=x&k=abc",
        "/api/similar?id=abc",
        "/api/dupes?threshold=2",
        "/api/search?q=x&in=relative/dir",
    ] {
        let (status, body, _) = get(&s, q);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 400, "{q}: {v}");
        assert!(v["error"].is_string());
    }
    assert_eq!(get(&s, "/api/similar?id=999999").0, 404);
}

#[test]
fn files_are_served_by_id_only_and_never_outside_the_roots() {
    let lib = Library::new();
    // A file that will be replaced by a link leaving the library after indexing.
    let outside = lib.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.wav"), b"RIFF secret").unwrap();
    let s = lib.serve(&[]);
    for path in [
        "/audio/../../../etc/passwd",
        "/audio/..%2f..%2f..%2fetc%2fpasswd",
        "/audio/%2e%2e/%2e%2e/etc/passwd",
        "/audio//etc/passwd",
        "/audio/%2Fetc%2Fpasswd",
        "/api/files/..%2f1",
        "/api/files/1%2f..%2f..%2fetc%2fpasswd/peaks",
        "/audio/1.0",
        "/audio/-1",
    ] {
        let (status, body, _) = get(&s, path);
        assert!(status == 400 || status == 404, "{path}: {status}");
        assert!(!String::from_utf8_lossy(&body).contains("root:"), "{path}");
    }
    // A directory of the library replaced by a link to a directory outside it, holding a file of the same name.
    let kick = id_of(&s, &lib, "examples/kick_808.wav");
    assert_eq!(get(&s, &format!("/audio/{kick}")).0, 200);
    let examples = lib.lib().join("examples");
    std::fs::rename(&examples, lib.dir.path().join("moved")).unwrap();
    std::fs::copy(
        lib.dir.path().join("moved/kick_808.wav"),
        outside.join("kick_808.wav"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, &examples).unwrap();
    let (status, body, _) = get(&s, &format!("/audio/{kick}"));
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("avx index"));
    assert_eq!(get(&s, &format!("/api/files/{kick}/peaks")).0, 404);
    // A file changed since indexing is not served either.
    let flac = id_of(&s, &lib, "data/mono22k_5s.flac");
    std::fs::write(lib.lib().join("data/mono22k_5s.flac"), b"changed").unwrap();
    assert_eq!(get(&s, &format!("/audio/{flac}")).0, 404);
}

#[test]
fn a_token_guards_every_request_and_a_non_loopback_bind_gets_one() {
    let lib = Library::new();
    let s = lib.serve(&["--token", "s3cret"]);
    assert_eq!(get(&s, "/api/info").0, 401);
    assert_eq!(get(&s, "/").0, 401);
    assert_eq!(get(&s, "/audio/1").0, 401);
    let ok = |req: ureq::RequestBuilder<ureq::typestate::WithoutBody>| {
        req.call().unwrap().status().as_u16()
    };
    assert_eq!(
        ok(agent()
            .get(&s.url("/api/info"))
            .header("Authorization", "Bearer s3cret")),
        200
    );
    assert_eq!(
        ok(agent()
            .get(&s.url("/api/info"))
            .header("Authorization", "Bearer wrong")),
        401
    );
    assert_eq!(
        ok(agent()
            .get(&s.url("/api/info"))
            .header("Cookie", "avx_token=s3cret")),
        200
    );
    let no_redirect: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .build()
        .into();
    let r = no_redirect.get(&s.url("/?token=s3cret")).call().unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("avx_token=s3cret"));
    drop(s);

    // Bound to every interface without --token: a token is generated, printed, and required.
    let mut c = lib.cmd();
    c.args(["serve", "--bind", "0.0.0.0:0"]);
    let s = lib.serve_with(c);
    let token = s.token.clone().expect("a generated token is printed");
    assert!(token.len() >= 32);
    let port = s.base.rsplit(':').next().unwrap();
    let local = format!("http://127.0.0.1:{port}/api/info");
    assert_eq!(agent().get(&local).call().unwrap().status().as_u16(), 401);
    assert_eq!(
        agent()
            .get(&local)
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[test]
fn no_cors_unless_asked_and_a_commit_is_visible_without_restart() {
    let lib = Library::new();
    let s = lib.serve(&[]);
    let r = agent()
        .get(&s.url("/api/info"))
        .header("Origin", "http://evil.example")
        .call()
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let files = get_json(&s, "/api/info")["files"].as_u64().unwrap();

    // A concurrent `avx index` adds a file: the running server sees it.
    std::fs::copy(
        lib.lib().join("examples/kick_punchy.wav"),
        lib.lib().join("examples/kick_new.wav"),
    )
    .unwrap();
    lib.index();
    assert_eq!(
        get_json(&s, "/api/info")["files"].as_u64().unwrap(),
        files + 1
    );
    let map = get_json(&s, "/api/map");
    assert_eq!(
        map["points"].as_array().unwrap().len() as u64,
        files + 1,
        "the map is recomputed after a commit"
    );
    drop(s);

    let s = lib.serve(&["--cors", "http://localhost:3000"]);
    let r = agent()
        .get(&s.url("/api/info"))
        .header("Origin", "http://localhost:3000")
        .call()
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
}

/// Text queries use the int8 text tower when the model has one, as `avx search` does; `--variant` overrides.
#[test]
fn text_queries_use_the_int8_text_tower_unless_a_variant_is_given() {
    let lib = Library::new();
    let info = get_json(&lib.serve(&[]), "/api/info");
    assert_eq!(
        info["text_variant"], "fp32",
        "tiny-clap has only fp32: {info}"
    );
    // The same model with an int8 text tower beside (its audio tower, so the index accepts it, is unchanged).
    let model = lib.dir.path().join("models/tiny-clap");
    let from = harness::repo().join("tests/fixtures/tiny-clap");
    for sub in ["", "onnx"] {
        std::fs::create_dir_all(model.join(sub)).unwrap();
        for e in std::fs::read_dir(from.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, model.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    std::fs::copy(
        model.join("onnx/text_model.onnx"),
        model.join("onnx/text_model_quantized.onnx"),
    )
    .unwrap();
    for (variant, want) in [(None, "int8"), (Some("fp32"), "fp32")] {
        let mut c = lib.cmd();
        c.env("AVX_MODEL_DIR", &model);
        if let Some(v) = variant {
            c.args(["--variant", v]);
        }
        c.args(["serve", "--bind", "127.0.0.1:0"]);
        let s = lib.serve_with(c);
        let info = get_json(&s, "/api/info");
        assert_eq!(info["text_variant"], want, "--variant {variant:?}: {info}");
        let hits = get_json(&s, "/api/search?q=a%20kick%20drum&k=3");
        assert_eq!(hits.as_array().unwrap().len(), 3, "{hits}");
    }
}

/// `/api/files/ID/timeline` gives the segments `avx timeline` prints for the same file, labels, example and saved
/// motifs (`avx serve --motifs`, `avx timeline --motifs`): contiguous from 0 to the file's end, the saved
/// occurrence a motif segment; bad examples and too many labels are refused.
#[test]
fn a_file_timeline_is_the_cli_timeline() {
    let lib = Library::new();
    let long = lib.lib().join("data/stereo48k_12p5s.flac");
    let rain = lib.lib().join("examples/rain_ambience.ogg");
    let saved = lib.dir.path().join("rec.jsonl");
    std::fs::write(
        &saved,
        format!(
            "{}\n",
            json!({"type": "occurrence", "motif": 7, "path": long.to_str().unwrap(), "start": 2.0, "end": 5.0, "score": 0.9})
        ),
    )
    .unwrap();
    let s = lib.serve(&["--motifs", saved.to_str().unwrap()]);
    let id = id_of(&s, &lib, "data/stereo48k_12p5s.flac");
    let ex = id_of(&s, &lib, "examples/rain_ambience.ogg");
    let t = get_json(
        &s,
        &format!("/api/files/{id}/timeline?labels=speech,music&like={ex}"),
    );
    assert_eq!(t["type"], "timeline");
    let segs = t["segments"].as_array().unwrap();
    assert!(!segs.is_empty(), "{t}");
    let at = |v: &Value| v.as_f64().unwrap();
    assert!(at(&segs[0]["start"]).abs() < 1e-6, "{t}");
    for w in segs.windows(2) {
        assert!((at(&w[0]["end"]) - at(&w[1]["start"])).abs() < 1e-6, "{t}");
    }
    assert!(
        (at(&segs[segs.len() - 1]["end"]) - at(&t["duration"])).abs() < 0.05,
        "{t}"
    );
    assert!(
        segs.iter().any(|g| g["kind"] == "motif"
            && g["motif"] == 7
            && (at(&g["start"]) - 2.0).abs() < 1e-3
            && (at(&g["end"]) - 5.0).abs() < 1e-3),
        "the saved occurrence 2 s to 5 s is a motif segment: {t}"
    );
    assert!(
        segs.iter().any(|g| g["like"]["id"] == ex
            && ["speech", "music"].contains(&g["label"]["label"].as_str().unwrap_or(""))),
        "segments are named by the example and the labels: {t}"
    );

    let (long, rain, saved) = (
        long.to_str().unwrap(),
        rain.to_str().unwrap(),
        saved.to_str().unwrap(),
    );
    let args = [
        "--json",
        "timeline",
        long,
        "--labels",
        "speech,music",
        "--like",
        rain,
        "--motifs",
        saved,
    ];
    let cli = util::json_lines(&util::stdout_with_code(
        lib.cmd().args(args).output().unwrap(),
        &args,
        0,
    ));
    assert_eq!(cli.len(), segs.len(), "CLI {cli:?}\nAPI {t}");
    for (c, a) in cli.iter().zip(segs) {
        for key in ["start", "end"] {
            assert!(
                (at(&c[key]) - at(&a[key])).abs() < 1e-6,
                "{key}: CLI {c} API {a}"
            );
        }
        assert_eq!(c["kind"], a["kind"], "CLI {c} API {a}");
        assert_eq!(c["motif"], a["motif"], "CLI {c} API {a}");
        assert_eq!(c["label"]["label"], a["label"]["label"], "CLI {c} API {a}");
        if c["like"].is_object() {
            // The CLI embeds the example file; the server takes its stored vector: the same numbers.
            assert!(
                (at(&c["like"]["score"]) - at(&a["like"]["score"])).abs() < 1e-5,
                "CLI {c} API {a}"
            );
        } else {
            assert!(a["like"].is_null(), "CLI {c} API {a}");
        }
    }

    let (status, body, _) = get(&s, &format!("/api/files/{id}/timeline?like=99999999"));
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    let many = vec!["x"; 65].join(",");
    let (status, body, _) = get(&s, &format!("/api/files/{id}/timeline?labels={many}"));
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
}
