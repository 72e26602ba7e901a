//! Helpers shared by the test files that drive the `avx` binary (`cli.rs`, `pg_cli.rs`, `archive.rs`, `dupes.rs`):
//! exit-code checks that show what avx printed, JSON Lines parsing, and avx with the committed aiSFX model.

use std::path::Path;
use std::process::{Command, Output};

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

/// Runs avx with the committed aiSFX model (`models/aisfx`) and the index `dir/index`; asserts the exit code;
/// returns stdout.
#[allow(dead_code)] // used by archive.rs and dupes.rs, not by every test file that includes this module
pub fn avx_aisfx(dir: &Path, args: &[&str], code: i32) -> String {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/aisfx");
    assert!(
        model.join("onnx/audio_model.onnx").exists(),
        "the aiSFX model is missing from models/aisfx: restore it with `git checkout models/aisfx`"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_avx"))
        .env("AVX_INDEX", dir.join("index"))
        .env("AVX_MODEL_DIR", &model)
        .env_remove("AVX_MODEL")
        .args(["--threads", "2"])
        .args(args)
        .output()
        .expect("avx runs");
    stdout_with_code(out, args, code)
}
