//! Sound prints are stored in every index (`prints.avp`, `avx_core::prints::VERSION`), so the printer must give
//! the same bytes for the same audio until that version changes: this test prints every committed test file
//! (`tests/data/audio`, `tests/data/dupes`) and checks each print's SHA-256 against `tests/golden/prints.txt`,
//! written by the printer of the version named there. A speed-up that changed one bit fails here; a deliberate
//! change of the print bumps the version and rewrites the list (`AVX_WRITE_PRINT_GOLDEN=1 cargo test -p avx-embed
//! --test print_golden`).
//!
//! The FFTs pick their code path by CPU at run time (rustfft), so the bytes are those of an x86-64 CPU with AVX2
//! and FMA, where the list was written; the test runs on x86-64 only and says so on a CPU without them.

use std::path::{Path, PathBuf};

use avx_embed::soundprint::{print_file, SoundPrint};
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every field of the print, in a fixed order.
fn digest(p: &SoundPrint) -> String {
    let mut h = Sha256::new();
    h.update(p.lead_s.to_bits().to_le_bytes());
    h.update(p.frames.to_le_bytes());
    for view in [&p.fine, &p.coarse, &p.detail, &p.speckle, &p.wave] {
        h.update((view.len() as u64).to_le_bytes());
        h.update(view);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}: run tests/data/make_audio.sh", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if !p
            .extension()
            .is_some_and(|e| e == "sh" || e == "md" || e == "txt")
        {
            out.push(p);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn prints_of_the_committed_audio_are_the_golden_bytes() {
    assert!(
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
        "tests/golden/prints.txt holds the prints of rustfft's AVX2/FMA code path; this CPU lacks it"
    );
    let root = root();
    let mut all = Vec::new();
    files(&root.join("tests/data/audio"), &mut all);
    files(&root.join("tests/data/dupes"), &mut all);
    assert!(all.len() >= 60, "only {} test files", all.len());
    let mut got = String::new();
    for f in &all {
        let rel = f.strip_prefix(&root).unwrap().display().to_string();
        let line = match print_file(f) {
            Ok(p) => digest(&p),
            Err(e) => format!("error: {e}").replace(&root.display().to_string(), "."),
        };
        got.push_str(&format!("{rel} {line}\n"));
    }
    let golden = root.join("tests/golden/prints.txt");
    let header = format!(
        "# sound prints version {}: SHA-256 of each print's fields (crates/embed/tests/print_golden.rs)\n",
        avx_embed::soundprint::PRINT_VERSION
    );
    if std::env::var_os("AVX_WRITE_PRINT_GOLDEN").is_some() {
        std::fs::write(&golden, format!("{header}{got}")).unwrap();
    }
    let want =
        std::fs::read_to_string(&golden).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
    let (want_header, want_body) = want.split_once('\n').expect("a header line");
    assert_eq!(
        format!("{want_header}\n"),
        header,
        "the print version changed: rewrite the list with AVX_WRITE_PRINT_GOLDEN=1"
    );
    for (g, w) in got.lines().zip(want_body.lines()) {
        assert_eq!(g, w, "a print changed without a new print version");
    }
    assert_eq!(
        got.lines().count(),
        want_body.lines().count(),
        "the test files changed"
    );
}
