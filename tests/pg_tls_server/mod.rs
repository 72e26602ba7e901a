//! The TLS-only PostgreSQL server of the TLS tests: started once per test binary by
//! `scripts/pg-tls-test-server.sh` (Debian's `postgresql`, `ssl=on`, `hostssl` lines only, a test CA made with
//! openssl) on a free 127.0.0.1 port, and stopped by the script's watcher when the test binary exits. A server
//! that cannot start fails the tests with the script's message; nothing is skipped.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::pg_server::{free_port, start_script};

/// The server's password for user `postgres`.
pub const PASSWORD: &str = "avx-tls-Pa55";

pub struct TlsServer {
    pub port: u16,
    /// Holds `ca.crt` (the CA that signed the server's certificate) and `other-ca.crt` (an unrelated CA).
    pub dir: PathBuf,
}

/// The server, started on first use.
pub fn tls_server() -> &'static TlsServer {
    static SERVER: OnceLock<TlsServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let port = free_port();
        let dir = start_script(
            "scripts/pg-tls-test-server.sh",
            port,
            PASSWORD,
            "it needs Debian's postgresql and openssl packages: the script installs them with apt-get when run \
             as root",
        );
        TlsServer { port, dir }
    })
}

impl TlsServer {
    /// `postgres://postgres:PASSWORD@HOST:PORT/postgres?QUERY`.
    pub fn url(&self, host: &str, query: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@{host}:{}/postgres?{query}",
            self.port
        )
    }

    pub fn ca(&self) -> String {
        self.dir.join("ca.crt").display().to_string()
    }

    pub fn other_ca(&self) -> String {
        self.dir.join("other-ca.crt").display().to_string()
    }
}
