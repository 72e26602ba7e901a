//! The writer lock: a second writer is refused with the holder's pid, or waits.

mod common;

use std::time::{Duration, Instant};

use avx_index::{Index, IndexError, OpenOptions};
use common::*;

#[test]
fn second_writer_gets_locked_with_pid() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = Index::open(tmp.path(), write_opts(8)).unwrap();
    let w1 = ix.writer().unwrap();
    let err = ix.writer().unwrap_err();
    match &err {
        IndexError::Locked { pid, .. } => assert_eq!(*pid, std::process::id()),
        other => panic!("expected Locked, got {other}"),
    }
    assert!(
        err.to_string().starts_with(&format!(
            "index is locked by process {}",
            std::process::id()
        )),
        "{err}"
    );
    // Readers are not blocked by the writer.
    assert!(Index::open(tmp.path(), read_opts()).is_ok());
    drop(w1);
    assert!(ix.writer().is_ok(), "lock released on drop");
}

#[test]
fn waiting_writer_gets_the_lock_when_released() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = Index::open(tmp.path(), write_opts(8)).unwrap();
    let w1 = ix.writer().unwrap();
    let dir = tmp.path().to_path_buf();
    let t = std::thread::spawn(move || {
        let start = Instant::now();
        let ix = Index::open(
            &dir,
            OpenOptions {
                wait: true,
                ..write_opts(8)
            },
        )
        .unwrap();
        let _w = ix.writer().unwrap();
        start.elapsed()
    });
    std::thread::sleep(Duration::from_millis(300));
    drop(w1);
    let waited = t.join().unwrap();
    assert!(
        waited >= Duration::from_millis(250),
        "did not wait: {waited:?}"
    );
}
