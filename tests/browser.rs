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

    /// Presses and releases `key` (a character, or a WebDriver key code such as [`ARROW_DOWN`]) as real input:
    /// trusted key events sent to the element that has the focus, with the browser's default actions.
    fn press(&self, key: &str) {
        self.call(
            "POST",
            "/actions",
            Some(
                json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                    {"type": "keyDown", "value": key},
                    {"type": "keyUp", "value": key},
                ]}]}),
            ),
        );
        self.call("DELETE", "/actions", None);
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

/// WebDriver key codes.
const ARROW_UP: &str = "\u{E013}";
const ARROW_DOWN: &str = "\u{E015}";
const ENTER: &str = "\u{E007}";

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

/// Serves `lib`, starts a browser and opens the page, once it shows the library's size.
fn open_page(lib: &Library) -> (harness::Served, Browser) {
    let s = lib.serve(&[]);
    let b = Browser::start();
    b.goto(&s.url("/"));
    b.wait_for(
        "document.querySelector('#status').textContent.includes('files')",
        "the library's size in the status line",
    );
    (s, b)
}

#[test]
fn the_page_searches_plays_uploads_and_shows_every_view() {
    let lib = Library::new();
    let (_server, b) = open_page(&lib);

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
    // The file as a programme (`avx timeline`'s segments, named by the text tower): segments cover the track;
    // clicking one plays from its start.
    b.js("document.querySelector('#player').pause(); document.querySelector('#timeline .tl-program').click();");
    b.wait_for(
        "document.querySelectorAll('#timeline .tl-seg').length",
        "programme segments",
    );
    let named = b.js(
        "return [...document.querySelectorAll('#timeline .tl-file')[0].querySelectorAll('.tl-seg')]\
         .map(e => e.textContent)",
    );
    let labels = ["speech", "music", "jingle", "silence", "applause"];
    assert!(
        named
            .as_array()
            .unwrap()
            .iter()
            .all(|n| labels.contains(&n.as_str().unwrap())
                || n.as_str().unwrap().starts_with("motif ")),
        "each segment is named by a label, silence or a motif: {named}"
    );
    b.js("const s = [...document.querySelectorAll('#timeline .tl-seg')].pop(); window.avxSegStart = +s.dataset.start; s.click();");
    b.wait_for(
        "document.querySelector('#player').currentTime >= window.avxSegStart && !document.querySelector('#player').paused",
        "playback from a segment's start",
    );
    b.screenshot("serve-timeline.png");
}

/// The selection in the result list: `[window.avx.selected, [indices of the rows marked selected]]`.
const SELECTION: &str = "[window.avx.selected, [...document.querySelectorAll('#results .result')]\
                         .flatMap((el, i) => el.classList.contains('selected') ? [i] : [])]";

/// Waits up to 10 s for the expression `script` to equal `want`, then asserts it does (showing what it was).
fn settle(b: &Browser, script: &str, want: Value, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = b.js(&format!("return ({script});"));
        if got == want {
            return;
        }
        if Instant::now() > deadline {
            assert_eq!(got, want, "{what} ({script})");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn keys_move_play_and_ask_for_more_and_results_drag_out_as_files() {
    let lib = Library::new();
    let (s, b) = open_page(&lib);
    b.type_into("#q", "punchy kick drum");
    b.wait_for(
        "document.querySelectorAll('#results .result').length === 20",
        "search results",
    );
    let row_id = |i: usize| b.js(&format!("return window.avx.rows[{i}].id;"));

    // Real key presses (trusted events, with the browser's default actions). The focus is in the search box:
    // down leaves it and selects the first row; down, down, up: the second; up at the top stays there.
    assert_eq!(b.js("return document.activeElement.id;"), json!("q"));
    b.press(ARROW_DOWN);
    settle(&b, SELECTION, json!([0, [0]]), "down from the search box");
    assert_ne!(
        b.js("return document.activeElement.id;"),
        json!("q"),
        "down leaves the search box"
    );
    b.press(ARROW_DOWN);
    b.press(ARROW_DOWN);
    b.press(ARROW_UP);
    settle(&b, SELECTION, json!([1, [1]]), "down, down, up");
    b.press(ARROW_UP);
    b.press(ARROW_UP);
    settle(&b, SELECTION, json!([0, [0]]), "up at the top");
    for _ in 0..25 {
        b.press(ARROW_DOWN);
    }
    settle(&b, SELECTION, json!([19, [19]]), "down past the bottom");
    b.press(ARROW_UP);
    settle(&b, SELECTION, json!([18, [18]]), "up from the bottom");

    // Space plays the selected row (its time advances), space again pauses it. The longest file of the list is
    // used (some examples last a fraction of a second and would end before they are paused).
    let longest = b
        .js("const d = window.avx.rows.map(r => r.duration); return d.indexOf(Math.max(...d));")
        .as_u64()
        .unwrap() as usize;
    let key = if longest < 18 { ARROW_UP } else { ARROW_DOWN };
    for _ in 0..longest.abs_diff(18) {
        b.press(key);
    }
    settle(
        &b,
        SELECTION,
        json!([longest, [longest]]),
        "moving to the longest file",
    );
    let id = row_id(longest);
    b.press(" ");
    b.wait_for(
        &format!("window.avx.playingId === {id} && !player.paused && player.currentTime > 0.05"),
        "space to play the selected row",
    );
    b.press(" ");
    b.wait_for("player.paused", "space again to pause it");

    // A click on a row's ▶ selects that row and plays it; the ▶ keeps the focus, and space then pauses once (the
    // key is not also a press of the focused button, which would play again).
    b.press(if longest == 0 { ARROW_DOWN } else { ARROW_UP });
    let moved = if longest == 0 { 1 } else { longest - 1 };
    settle(
        &b,
        SELECTION,
        json!([moved, [moved]]),
        "moving off the longest file",
    );
    b.click(&format!(
        "#results .result:nth-child({}) .play",
        longest + 1
    ));
    b.wait_for(
        &format!("window.avx.playingId === {id} && !player.paused"),
        "a row's ▶ to play it",
    );
    settle(
        &b,
        SELECTION,
        json!([longest, [longest]]),
        "a click on a row's ▶",
    );
    assert_eq!(
        b.js("return document.activeElement.classList.contains('play');"),
        json!(true),
        "the clicked ▶ has the focus"
    );
    b.press(" ");
    b.wait_for("player.paused", "space to pause the clicked row");
    std::thread::sleep(Duration::from_millis(500));
    settle(
        &b,
        "[player.paused, window.avx.playingId]",
        json!([true, id]),
        "one space, one pause",
    );

    // Enter: more like the selected row, and only that (the focused ▶ is not pressed too).
    let name = b.js(&format!(
        "return window.avx.rows[{longest}].path.split('/').pop();"
    ));
    b.press(ENTER);
    b.wait_for(
        &format!("document.querySelector('#query-label').textContent === 'More like ' + {name}"),
        "enter to show more like the selected row",
    );
    b.wait_for(
        "document.querySelectorAll('#results .result').length",
        "more like this results",
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(b.js("return player.paused;"), json!(true), "enter played");
    assert_eq!(
        b.js(&format!("return window.avx.rows.some(r => r.id === {id});")),
        json!(false),
        "more like a file lists other files"
    );
    settle(
        &b,
        SELECTION,
        json!([-1, []]),
        "a new list has no selection",
    );

    // Drag out: every file of the library in the list (k = the number of files), then a `dragstart` on each row
    // with a DataTransfer, read back: Chromium's `DownloadURL` is "type:name:url", and what the url serves must
    // be that type, and the file itself under its own name (or a WAV named NAME.wav when it is converted).
    let files = b.js("return window.avx.info.files;");
    b.js(&format!(
        "api('/api/search?q=kick&k={files}').then(h => showResults(h, 'every file'));"
    ));
    b.wait_for(
        &format!("document.querySelectorAll('#results .result').length === {files}"),
        "every file in the list",
    );
    b.wait_for(
        "window.avx.rows.every(r => window.avx.peaks.has(r.id))",
        "the waveforms (their answer says how /audio/ID serves each file)",
    );
    let drags = b.js(
        "return [...document.querySelectorAll('#results .result')].map(li => { \
           const dt = new DataTransfer(); \
           li.dispatchEvent(new DragEvent('dragstart', {bubbles: true, cancelable: true, dataTransfer: dt})); \
           return [li.draggable, +li.dataset.id, dt.getData('DownloadURL'), dt.getData('text/uri-list'), \
                   dt.getData('text/plain')]; });",
    );
    let drags = drags.as_array().unwrap();
    assert_eq!(json!(drags.len()), files);
    let mut converted = 0;
    for d in drags {
        let (id, download, path) = (&d[1], d[2].as_str().unwrap(), d[4].as_str().unwrap());
        assert_eq!(d[0], json!(true), "{path}: the row is not draggable");
        let (mime, rest) = download
            .split_once(':')
            .unwrap_or_else(|| panic!("{path}: DownloadURL '{download}' is not type:name:url"));
        let (name, url) = rest
            .split_once(':')
            .unwrap_or_else(|| panic!("{path}: DownloadURL '{download}' is not type:name:url"));
        assert_eq!(
            url,
            s.url(&format!("/audio/{id}")),
            "{path}: DownloadURL's url"
        );
        assert_eq!(d[3], json!(url), "{path}: text/uri-list");
        let mut r = agent().get(url).call().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{url}");
        let served_type = r.headers()["content-type"].to_str().unwrap().to_string();
        assert_eq!(
            mime, served_type,
            "{path}: the drag's type is not what {url} serves"
        );
        let body = r
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_vec()
            .unwrap();
        let original = std::path::Path::new(path);
        if body == std::fs::read(original).unwrap() {
            let own = original.file_name().unwrap().to_str().unwrap();
            assert_eq!(name, own, "{path}: the dragged file's name");
        } else {
            converted += 1;
            let stem = original.file_stem().unwrap().to_str().unwrap();
            assert_eq!(mime, "audio/wav", "{path}: a converted file is a WAV");
            assert_eq!(&body[..4], b"RIFF", "{path}: a converted file is a WAV");
            assert_eq!(
                name,
                format!("{stem}.wav"),
                "{path}: a converted file's name"
            );
        }
    }
    // The library has an AIFF and an ALAC file, which a browser cannot play: they are sent as WAV.
    assert!(
        converted >= 2,
        "{converted} converted files among {drags:?}"
    );
}
