//! Shared by tests/serve.rs and tests/browser.rs: a temporary library made of the example audio
//! (examples/audio, tests/data/audio), indexed with the committed tiny CLAP model (tests/fixtures/tiny-clap, which
//! has a text tower), and `avx serve` started on an ephemeral loopback port as a child process.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A library, its index, and a private temporary directory for the server.
pub struct Library {
    pub dir: tempfile::TempDir,
}

impl Library {
    /// Copies the example audio into `lib/` (examples in `lib/examples`, test files in `lib/data`, plus an exact
    /// copy of one example so that the duplicate view has a group) and indexes it.
    pub fn new() -> Library {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("lib");
        for (from, to) in [("examples/audio", "examples"), ("tests/data/audio", "data")] {
            let dest = lib.join(to);
            std::fs::create_dir_all(&dest).unwrap();
            for e in std::fs::read_dir(repo().join(from)).unwrap() {
                let e = e.unwrap();
                if !e.path().is_file() {
                    continue; // tests/data/audio/short: the front end's parity files, not needed here
                }
                std::fs::copy(e.path(), dest.join(e.file_name())).unwrap();
            }
        }
        std::fs::copy(
            lib.join("examples/snare_tight.wav"),
            lib.join("examples/snare_tight_copy.wav"),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        let l = Library { dir };
        l.index();
        l
    }

    pub fn lib(&self) -> PathBuf {
        self.dir.path().join("lib").canonicalize().unwrap()
    }

    pub fn index_dir(&self) -> PathBuf {
        self.dir.path().join("index")
    }

    /// The server's private TMPDIR (uploads must leave nothing there).
    pub fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_avx"));
        c.env("AVX_INDEX", self.index_dir())
            .env("AVX_MODEL_DIR", repo().join("tests/fixtures/tiny-clap"))
            .env("TMPDIR", self.tmp())
            .env_remove("AVX_MODEL")
            .env_remove("AVX_TOKEN")
            .args(["--threads", "2"])
            .current_dir(self.dir.path());
        c
    }

    /// `avx index lib` (fails the test with avx's stderr when it fails).
    pub fn index(&self) {
        let out = self
            .cmd()
            .args(["--quiet", "index"])
            .arg(self.dir.path().join("lib"))
            .output()
            .unwrap();
        assert!(
            out.status.code() == Some(0) || out.status.code() == Some(2),
            "avx index failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts `avx serve --bind 127.0.0.1:0 ARGS...` and waits for the address it prints.
    pub fn serve(&self, args: &[&str]) -> Served {
        let mut c = self.cmd();
        c.arg("serve").args(["--bind", "127.0.0.1:0"]).args(args);
        self.serve_with(c)
    }

    /// Starts a prepared `avx ... serve` command and waits for the address it prints.
    pub fn serve_with(&self, mut c: Command) -> Served {
        let mut child = c
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("avx serve starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        let (mut base, mut token) = (None, None);
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(url) = line
                        .split(" at ")
                        .nth(1)
                        .filter(|_| line.starts_with("avx: serving"))
                    {
                        base = Some(
                            url.split('?')
                                .next()
                                .unwrap()
                                .trim_end_matches('/')
                                .to_string(),
                        );
                    }
                    if let Some(t) = line.strip_prefix("avx: token: ") {
                        token = Some(t.split_whitespace().next().unwrap().to_string());
                    }
                    let done = line.contains("Ctrl-C");
                    seen.push(line);
                    if done {
                        break;
                    }
                }
                Err(_) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!("avx serve exited ({status}): {}", seen.join("\n"));
                    }
                }
            }
        }
        let base =
            base.unwrap_or_else(|| panic!("avx serve printed no address: {}", seen.join("\n")));
        Served {
            child,
            base,
            token,
            lines: rx,
        }
    }
}

/// A running `avx serve`, stopped when dropped.
pub struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The token it printed, if any.
    pub token: Option<String>,
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Served {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A ureq agent that returns 4xx/5xx responses instead of errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}
