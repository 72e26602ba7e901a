//! TLS connections of `avx_pg::Target` against a real TLS-only PostgreSQL server (tests/pg_tls_server) with
//! libpq's `sslmode` semantics: encrypted when asked (checked in `pg_stat_ssl`), verified against `sslrootcert`,
//! and clear errors for an untrusted certificate, a host name mismatch, a plain connection to a server that
//! demands TLS, and TLS asked of a server without it (the embedded test server, tests/pg_server).

mod pg_server;
mod pg_tls_server;

use avx_pg::Target;
use pg_tls_server::{tls_server, PASSWORD};

/// Connects and returns whether the session is encrypted, as the server sees it.
fn encrypted(url: &str) -> bool {
    let mut c = Target::parse(url)
        .unwrap()
        .connect()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    c.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .unwrap()
    .get(0)
}

/// The connection error of `url`, checked not to show the password.
fn refused(url: &str) -> String {
    let e = match Target::parse(url).unwrap().connect() {
        Ok(_) => panic!("{url} connected, but should have been refused"),
        Err(e) => e.to_string(),
    };
    assert!(!e.contains(PASSWORD), "the error shows the password: {e}");
    e
}

#[test]
fn require_and_prefer_are_encrypted() {
    let s = tls_server();
    assert!(encrypted(&s.url("127.0.0.1", "sslmode=require")));
    // libpq's default, prefer, uses TLS when the server offers it.
    assert!(encrypted(&s.url("127.0.0.1", "")));
    // require without sslrootcert does not check the certificate (libpq's semantics).
    assert!(encrypted(
        &s.url("localhost", "sslmode=require&hostaddr=127.0.0.1")
    ));
}

#[test]
fn verify_full_with_the_servers_ca_connects_by_ip_and_by_name() {
    let s = tls_server();
    let q = format!("sslmode=verify-full&sslrootcert={}", s.ca());
    assert!(encrypted(&s.url("127.0.0.1", &q)));
    assert!(encrypted(
        &s.url("localhost", &format!("{q}&hostaddr=127.0.0.1"))
    ));
}

#[test]
fn verify_full_with_another_ca_is_refused_as_not_trusted() {
    let s = tls_server();
    for mode in ["verify-full", "verify-ca", "require"] {
        let e = refused(&s.url(
            "127.0.0.1",
            &format!("sslmode={mode}&sslrootcert={}", s.other_ca()),
        ));
        assert!(e.contains("certificate not trusted"), "{mode}: {e}");
        assert!(e.contains("postgres://postgres@127.0.0.1"), "{e}");
    }
}

#[test]
fn verify_full_with_a_wrong_host_name_is_refused_but_verify_ca_accepts_it() {
    let s = tls_server();
    let q = format!("sslrootcert={}&hostaddr=127.0.0.1", s.ca());
    let e = refused(&s.url("db.example.org", &format!("sslmode=verify-full&{q}")));
    assert!(e.contains("host name mismatch"), "{e}");
    assert!(encrypted(
        &s.url("db.example.org", &format!("sslmode=verify-ca&{q}"))
    ));
}

#[test]
fn disable_against_a_server_that_demands_tls_is_refused_clearly() {
    let e = refused(&tls_server().url("127.0.0.1", "sslmode=disable"));
    assert!(e.contains("accepts only encrypted connections"), "{e}");
    assert!(e.contains("sslmode=require"), "{e}");
}

#[test]
fn require_against_a_server_without_tls_is_refused_clearly() {
    let url = format!("{}?sslmode=require", pg_server::server().url());
    let e = refused(&url);
    assert!(e.contains("does not support TLS"), "{e}");
}

#[test]
fn an_unreadable_root_certificate_is_named() {
    let e = refused(&tls_server().url(
        "127.0.0.1",
        "sslmode=verify-full&sslrootcert=/nonexistent/avx-ca.crt",
    ));
    assert!(e.contains("/nonexistent/avx-ca.crt"), "{e}");
}
