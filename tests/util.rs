//! Helpers shared by the test files that drive the `avx` binary (`cli.rs`, `pg_cli.rs`, `archive.rs`): exit-code
//! checks that show what avx printed, and JSON Lines parsing.

use std::process::Output;

use serde_json::Value;

/// Asserts `out`'s exit code, showing the arguments and what avx printed when it differs, and returns stdout.
pub fn stdout_with_code(out: Output, args: &[&str], code: i32) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "avx {args:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("avx prints UTF-8")
}

/// One JSON value per line of `s` (`--json` output); a line that is not JSON fails the test, naming it.
pub fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}
