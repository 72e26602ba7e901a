//! The dependency policy that `cargo deny check licenses bans sources` would enforce, checked from
//! `cargo metadata` so that CI needs no extra tool (issue 13: installing cargo-deny costs CI a long build on two
//! cores; and its advisory database cannot be fetched from the build machines, so advisories are not checked
//! here: run `cargo deny check advisories` or `cargo audit` on a machine with network access before a release).
//!
//! * licenses: every package's SPDX expression must be satisfiable with the allowed licenses below (`OR`: one
//!   side allowed is enough; `AND`: both sides must be);
//! * sources: every package comes from crates.io or from this workspace (no git or other registries);
//! * bans: crates we do not want (OpenSSL: TLS is rustls through ureq).

use std::process::Command;

use serde_json::Value;

/// Licenses compatible with shipping avx as MIT OR Apache-2.0.
const ALLOWED: &[&str] = &[
    "MIT",
    "MIT-0",
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Zlib",
    "0BSD",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "Unlicense",
    "CC0-1.0",
    "BSL-1.0",
    "MPL-2.0",
    "CDLA-Permissive-2.0",
];

const BANNED: &[&str] = &["openssl", "openssl-sys", "native-tls"];

const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// Whether an SPDX expression (as crates.io writes them: `A OR B`, `A AND B`, parentheses, `A WITH E`, the legacy
/// `A/B`) is satisfiable with the allowed licenses: `AND` binds tighter than `OR`, as SPDX says.
fn allowed(expr: &str) -> bool {
    let spaced = expr
        .replace('(', " ( ")
        .replace(')', " ) ")
        .replace('/', " OR ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut pos = 0;
    let ok = or_expr(&tokens, &mut pos);
    ok && pos == tokens.len()
}

fn or_expr(t: &[&str], pos: &mut usize) -> bool {
    let mut ok = and_expr(t, pos);
    while t.get(*pos) == Some(&"OR") {
        *pos += 1;
        ok |= and_expr(t, pos);
    }
    ok
}

fn and_expr(t: &[&str], pos: &mut usize) -> bool {
    let mut ok = atom(t, pos);
    while t.get(*pos) == Some(&"AND") {
        *pos += 1;
        ok &= atom(t, pos);
    }
    ok
}

fn atom(t: &[&str], pos: &mut usize) -> bool {
    match t.get(*pos) {
        Some(&"(") => {
            *pos += 1;
            let ok = or_expr(t, pos);
            if t.get(*pos) == Some(&")") {
                *pos += 1;
                ok
            } else {
                false
            }
        }
        Some(id) => {
            *pos += 1;
            let mut id = id.to_string();
            if t.get(*pos) == Some(&"WITH") {
                id = format!("{id} WITH {}", t.get(*pos + 1).unwrap_or(&""));
                *pos += 2;
            }
            ALLOWED.contains(&id.as_str())
        }
        None => false,
    }
}

#[test]
fn spdx_expressions_are_evaluated() {
    assert!(allowed("MIT OR Apache-2.0"));
    assert!(allowed("MIT/Apache-2.0"));
    assert!(allowed("(MIT OR Apache-2.0) AND Unicode-3.0"));
    assert!(allowed(
        "Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT"
    ));
    assert!(!allowed("GPL-3.0"));
    assert!(!allowed("MIT AND GPL-2.0"));
    assert!(allowed("GPL-2.0 OR MIT"));
    assert!(!allowed("(MIT OR Apache-2.0) AND GPL-3.0"));
    assert!(allowed("Apache-2.0 / MIT"));
    assert!(!allowed("Apache-2.0 WITH Some-exception"));
    assert!(!allowed("(MIT"));
}

#[test]
fn every_dependency_has_an_allowed_license_a_known_source_and_is_not_banned() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{cargo} metadata`: {e}"));
    assert!(
        out.status.success(),
        "`cargo metadata --locked --offline` failed (run `cargo fetch` first): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let packages = meta["packages"].as_array().expect("a package list");
    assert!(packages.len() > 100, "only {} packages?", packages.len());
    let mut problems = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap_or("?");
        let version = p["version"].as_str().unwrap_or("?");
        match p["license"].as_str() {
            Some(l) if allowed(l) => {}
            Some(l) => problems.push(format!("{name} {version}: license '{l}' is not allowed")),
            None => problems.push(format!("{name} {version}: no SPDX license expression")),
        }
        match p["source"].as_str() {
            None | Some(CRATES_IO) => {}
            Some(s) => problems.push(format!(
                "{name} {version}: source {s} is neither crates.io nor the workspace"
            )),
        }
        if BANNED.contains(&name) {
            problems.push(format!("{name} {version}: banned crate"));
        }
    }
    assert!(
        problems.is_empty(),
        "dependency policy (tests/deps.rs) violated; change the dependency or, with a reason, the policy:\n{}",
        problems.join("\n")
    );
}
