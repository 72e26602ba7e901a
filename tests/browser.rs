//! Browser tests of `avx serve`'s page in headless Chromium, driven through chromedriver's WebDriver protocol
//! (a small client over `ureq`): load the page, type a query and see results, play one (the audio element's time
//! advances), upload a reference file and see its neighbours, open the duplicates, clusters, map and timeline
//! views. Needs Debian's `chromium` and `chromium-driver`: scripts/test.sh installs them
//! (scripts/setup-chromium.sh). With `AVX_SCREENSHOTS=DIR` the screenshots of each view are saved there (the
//! README's are made with `AVX_SCREENSHOTS=docs/img`).

#[path = "serve_harness.rs"]
mod harness;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harness::{agent, Library};
use serde_json::{json, Value};

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
}

/// A chromedriver process and one headless Chromium session.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let chromium = which("chromium").or_else(|| which("chromium-browser")).unwrap_or_else(|| {
            panic!("chromium is not installed: run scripts/setup-chromium.sh (Debian: apt-get install chromium chromium-driver)")
        });
        let driver_bin = which("chromedriver").unwrap_or_else(|| {
            panic!("chromedriver is not installed: run scripts/setup-chromium.sh (Debian: apt-get install chromium-driver)")
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while agent().get(&format!("{base}/status")).call().is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {base}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--autoplay-policy=no-user-gesture-required",
            "--window-size=1280,860",
            "--hide-scrollbars",
        ];
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let mut b = Browser {
            driver,
            base,
            session: String::new(),
            _profile: profile,
        };
        let v = b.call("POST", "/session", Some(caps));
        b.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        b
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let mut r = match method {
            "GET" => agent().get(&url).call(),
            "DELETE" => agent().delete(&url).call(),
            _ => agent()
                .post(&url)
                .header("Content-Type", "application/json")
                .send(serde_json::to_vec(&body.unwrap_or(json!({}))).unwrap()),
        }
        .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let v: Value = serde_json::from_slice(
            &r.body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_vec()
                .unwrap(),
        )
        .unwrap();
        if r.status().as_u16() >= 400 {
            panic!("WebDriver {method} {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    fn js(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    fn element(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    }

    fn click(&self, css: &str) {
        let e = self.element(css);
        self.call("POST", &format!("/element/{e}/click"), None);
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css);
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        );
    }

    /// Waits until `script` (an expression) is truthy, failing with `what` after 60 s.
    fn wait_for(&self, script: &str, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.js(&format!("return ({script});"));
            if !(v.is_null() || v == json!(false) || v == json!(0) || v == json!("")) {
                return v;
            }
            if Instant::now() > deadline {
                let page = self.js("return document.body.innerText;");
                panic!("timed out waiting for {what} ({script}); page text: {page}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a PNG screenshot as `name` in `$AVX_SCREENSHOTS`, when set; always checks one can be taken.
    fn screenshot(&self, name: &str) {
        let b64 = self.call("GET", "/screenshot", None);
        let png = base64_decode(b64.as_str().unwrap());
        assert_eq!(&png[1..4], b"PNG");
        if let Some(dir) = std::env::var_os("AVX_SCREENSHOTS") {
            let dir = harness::repo().join(dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), png).unwrap();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = agent()
                .delete(&format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= (val(c) as u32) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn the_page_searches_plays_uploads_and_shows_every_view() {
    let lib = Library::new();
    let s = lib.serve(&[]);
    let b = Browser::start();
    b.goto(&s.url("/"));
    b.wait_for(
        "document.querySelector('#status').textContent.includes('files')",
        "the library's size in the status line",
    );

    // Type a query: results appear while typing, with their waveforms.
    b.type_into("#q", "punchy kick drum");
    let n = b.wait_for(
        "document.querySelectorAll('#results .result').length",
        "search results",
    );
    assert_eq!(n, json!(20));
    b.wait_for(
        "window.avx.peaks.size >= 20",
        "the waveforms of the results",
    );

    // Keyboard: down selects the first result, space plays it; the audio element's time advances.
    b.js("document.querySelector('#q').blur();");
    b.js("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowDown'}));");
    b.wait_for(
        "document.querySelector('#results .result.selected')",
        "a selected row",
    );
    b.click("#results .result .play");
    b.wait_for(
        "document.querySelector('#player').currentTime > 0.05",
        "playback to advance",
    );
    // Loudness match: the playing file's measured loudness sets the preview gain (-20 LUFS target); the switch
    // turns it off.
    let gain = b.wait_for(
        "(() => { const p = window.avx.peaks.get(window.avx.playingId); \
          return p && p.lufs != null && gainNode ? [gainNode.gain.value, p.lufs] : null; })()",
        "a loudness-matched gain",
    );
    let (g, lufs) = (gain[0].as_f64().unwrap(), gain[1].as_f64().unwrap());
    let want = 10f64.powf((-20.0 - lufs) / 20.0).clamp(0.05, 4.0);
    assert!(
        (g - want).abs() < 1e-3 * want.max(1.0),
        "gain {g} for {lufs} LUFS, want {want}"
    );
    b.click("label.switch");
    b.wait_for(
        "gainNode.gain.value === 1",
        "unity gain with loudness match off",
    );
    b.click("label.switch");
    b.screenshot("serve-search.png");
    b.js("document.querySelector('#player').pause();");

    // Upload a reference file through the file picker: its own copy in the library comes first.
    let reference = lib.lib().join("examples/hihat_open.flac");
    b.type_into("#file", reference.to_str().unwrap());
    b.wait_for(
        "document.querySelector('#query-label').textContent.includes('hihat_open.flac')",
        "neighbours of the upload",
    );
    let first = b.wait_for(
        "document.querySelector('#results .result .name').textContent",
        "a first result",
    );
    assert_eq!(first, json!("hihat_open.flac"));

    // "More like this" on a result.
    b.click("#results .result .more");
    b.wait_for(
        "document.querySelector('#query-label').textContent.startsWith('More like')",
        "more like this",
    );

    // Duplicates: the exact copy forms a group.
    b.click(".tab[data-view=dupes]");
    b.wait_for(
        "document.querySelectorAll('#dupes .group').length",
        "a duplicate group",
    );
    b.wait_for("[...document.querySelectorAll('#dupes .name')].some(e => e.textContent === 'snare_tight_copy.wav')", "the copy in a group");
    b.screenshot("serve-dupes.png");

    // Clusters, labelled.
    b.click(".tab[data-view=clusters]");
    let clusters = b.wait_for(
        "document.querySelectorAll('#clusters .cluster').length",
        "clusters",
    );
    assert_eq!(clusters, json!(8));
    b.wait_for(
        "document.querySelectorAll('#clusters .cluster .pill').length > 8",
        "cluster labels",
    );
    b.screenshot("serve-clusters.png");

    // Map: every file is a point; hovering one plays it.
    b.click(".tab[data-view=map]");
    let points = b.wait_for("window.avx.map && window.avx.map.points.length", "the map");
    let files = b.js("return window.avx.info.files;");
    assert_eq!(points, files);
    b.js("const c = document.querySelector('#map'); const r = c.getBoundingClientRect(); const p = window.avx.map.points[0]; \
          const [x, y] = mapXY(p, r.width, r.height); \
          c.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + x, clientY: r.top + y, bubbles: true}));");
    b.wait_for(
        "window.avx.playingId === window.avx.map.points[0][0]",
        "hover to play a point",
    );
    b.screenshot("serve-map.png");
    b.js("document.querySelector('#player').pause();");

    // Timeline: a text query in the timeline view shows window hits at their offsets; clicking one plays from there.
    b.click(".tab[data-view=timeline]");
    b.js("const q = document.querySelector('#q'); q.value = 'rain on a window'; q.dispatchEvent(new Event('input'));");
    b.wait_for(
        "document.querySelectorAll('#timeline .tl-hit').length",
        "timeline hits",
    );
    b.js("document.querySelector('#timeline .tl-hit').click();");
    b.wait_for(
        "document.querySelector('#player').currentTime > 0",
        "playback from a hit",
    );
    b.screenshot("serve-timeline.png");
}
