//! Corruption: flipping any single byte of any index file is reported by `verify`, and opening
//! the damaged index is an error or a working index, never a panic; a writer refuses the damaged index (damage
//! inside row data, which a writer never reads, stays reported by `verify` after a writer's commit: never re-sealed).
//!
//! Positions: every byte of every header (first 64 bytes of each file, last 24 of graph files)
//! plus a seeded sample of the rest of each file. Set `AVX_TEST_SEED` to vary the sample.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use avx_index::{Index, Level, SearchOptions};
use common::*;

const DIM: usize = 16;

fn pristine(dir: &Path) {
    let mut rng = Rng(77);
    let ix = Index::open(dir, write_opts(DIM as u32)).unwrap();
    let mut w = ix.writer().unwrap();
    for i in 0..40 {
        let wins = (0..3).map(|_| random_unit(&mut rng, DIM)).collect();
        w.upsert(record(
            format!("/c/{i}.ogg"),
            random_unit(&mut rng, DIM),
            wins,
        ))
        .unwrap();
        if i % 10 == 9 {
            w.commit().unwrap();
        }
    }
    w.remove(Path::new("/c/3.ogg")).unwrap();
    w.record_failure(Path::new("/c/bad.ogg"), 1, 2, "boom")
        .unwrap();
    w.commit().unwrap();
    w.rebuild_graph(Level::File).unwrap();
    w.rebuild_graph(Level::Window).unwrap();
}

#[test]
fn every_flipped_byte_is_reported_and_never_panics() {
    let seed = std::env::var("AVX_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4242u64);
    eprintln!("corruption seed {seed}");
    let mut rng = Rng(seed);
    let base = tempfile::tempdir().unwrap();
    let good = base.path().join("good");
    std::fs::create_dir(&good).unwrap();
    pristine(&good);
    let r = avx_index::verify(&good);
    assert!(r.is_ok() && r.notes.is_empty(), "{r:?}");

    let mut files: Vec<_> = std::fs::read_dir(&good)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "LOCK")
        .collect();
    files.sort();
    assert_eq!(files.len(), 8, "{files:?}");
    let mut cases = 0;
    let mut accepted = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_owned();
        let len = std::fs::metadata(f).unwrap().len() as usize;
        let mut positions: Vec<usize> = (0..64.min(len)).collect();
        if f.extension().is_some_and(|e| e == "hnsw") {
            positions.extend(len - 24..len);
        }
        positions.extend((0..60).map(|_| rng.below(len as u64) as usize));
        positions.sort_unstable();
        positions.dedup();
        for at in positions {
            let case = base.path().join("case");
            let _ = std::fs::remove_dir_all(&case);
            copy_dir(&good, &case);
            let p = case.join(&name);
            let mut bytes = std::fs::read(&p).unwrap();
            bytes[at] ^= 1 + rng.below(255) as u8;
            std::fs::write(&p, &bytes).unwrap();
            let what = format!("{} byte {at}", name.to_string_lossy());
            let report = catch_unwind(|| avx_index::verify(&case))
                .unwrap_or_else(|_| panic!("verify panicked: {what}"));
            assert!(!report.is_ok(), "not reported: {what}");
            let opened = catch_unwind(AssertUnwindSafe(|| {
                if let Ok(ix) = Index::open(&case, read_opts()) {
                    // Damage that open cannot see cheaply (row data) must still search safely.
                    let q = vec![0.25f32; DIM];
                    for level in [Level::File, Level::Window] {
                        let _ = ix.search(
                            &q,
                            &SearchOptions {
                                level,
                                ..Default::default()
                            },
                        );
                        let _ = ix.search(
                            &q,
                            &SearchOptions {
                                level,
                                exact: true,
                                ..Default::default()
                            },
                        );
                    }
                    let _ = ix.vectors(Level::Window).count();
                }
            }));
            assert!(opened.is_ok(), "open or search panicked: {what}");
            // Row data (past the 64-byte header of a row file) is not read by a writer: that would cost a full
            // read of every row at each open. Its damage must stay reported; any other damage is refused.
            let row_data = name.to_string_lossy().ends_with(".f32") && at >= 64;
            if writer_accepts(&case) && !row_data {
                accepted.push(what);
            }
            cases += 1;
        }
    }
    eprintln!("{cases} flipped bytes, all reported");
    assert!(cases > 300);
    assert!(
        accepted.is_empty(),
        "a writer opened on damage: {accepted:?}"
    );
}

/// Opens a writer on a damaged index and, if it opens, commits one file through it. Returns whether the writer
/// accepted the index; either way the damage must still be reported afterwards (never re-sealed as good).
fn writer_accepts(dir: &Path) -> bool {
    let outcome = catch_unwind(AssertUnwindSafe(|| -> avx_index::Result<()> {
        let ix = Index::open(dir, write_opts(DIM as u32))?;
        let mut w = ix.writer()?;
        let mut rng = Rng(5);
        w.upsert(record(
            "/c/new.ogg".to_string(),
            random_unit(&mut rng, DIM),
            vec![random_unit(&mut rng, DIM)],
        ))?;
        w.commit()?;
        Ok(())
    }));
    let what = dir.display();
    let accepted = outcome
        .unwrap_or_else(|_| panic!("writer panicked on {what}"))
        .is_ok();
    assert!(
        !avx_index::verify(dir).is_ok(),
        "damage no longer reported after a writer (accepted: {accepted}) on {what}"
    );
    accepted
}

#[test]
fn truncated_and_missing_files_are_errors() {
    let base = tempfile::tempdir().unwrap();
    let good = base.path().join("good");
    std::fs::create_dir(&good).unwrap();
    pristine(&good);
    for name in ["vectors-1.f32", "windows-1.f32", "meta.redb", "meta.sum"] {
        for cut in [true, false] {
            let case = base.path().join(format!("{name}-{cut}"));
            copy_dir(&good, &case);
            let p = case.join(name);
            if cut {
                let len = std::fs::metadata(&p).unwrap().len();
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .unwrap()
                    .set_len(len - 7)
                    .unwrap();
            } else {
                std::fs::remove_file(&p).unwrap();
            }
            assert!(!avx_index::verify(&case).is_ok(), "{name} cut={cut}");
            let r = catch_unwind(|| Index::open(&case, read_opts()).map(|_| ()));
            assert!(r.is_ok(), "{name} cut={cut}: panic");
            assert!(!writer_accepts(&case), "{name} cut={cut}: a writer opened");
        }
    }
}
