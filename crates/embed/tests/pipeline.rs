//! The pipeline against the one-file path: `embed_files` (decoder threads, batches across files, sound prints from
//! the same decode) gives bit for bit the vectors of `Embedder::embed_file` and the prints of `print_file`, for the
//! committed test files, with the committed tiny random-weight CLAP (`tests/fixtures/tiny-clap`); the aiSFX block
//! stream's print tap is checked the same way without a model.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use avx_embed::blocks::BlockSpec;
use avx_embed::model::SessionOptions;
use avx_embed::pipeline::{
    embed_files, DecoderPriority, FileOutcome, PipelineOptions, PipelineStats, STARVED,
};
use avx_embed::soundprint::print_file;
use avx_embed::{EmbeddedFile, Embedder, ModelFrontEnd, ModelInputs};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn audio_files() -> Vec<PathBuf> {
    let dir = root().join("tests/data/audio");
    let mut files: Vec<PathBuf> = [
        "mono16k_s16_11s.wav",
        "mono22k_5s.flac",
        "stereo48k_12p5s.flac",
        "stereo44k_4s.mp3",
        "mono8k_u8_3s.wav",
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect();
    files.sort();
    for f in &files {
        assert!(
            f.is_file(),
            "{} missing: run tests/data/make_audio.sh",
            f.display()
        );
    }
    files
}

/// `embed_files` over `files`, every one of which must embed: its stats and the embedded files.
fn embed_all(
    emb: &mut Embedder,
    files: &[PathBuf],
    opts: &PipelineOptions,
) -> (PipelineStats, Vec<EmbeddedFile>) {
    let mut got = Vec::new();
    let stats = embed_files(
        emb,
        files,
        opts,
        &AtomicBool::new(false),
        &mut |o| match o {
            FileOutcome::Embedded(f) => got.push(f),
            FileOutcome::Failed(p, e) => panic!("{}: {e}", p.display()),
        },
    )
    .expect("pipeline");
    (stats, got)
}

#[test]
fn pipeline_vectors_and_prints_equal_the_one_file_path() {
    let model = root().join("tests/fixtures/tiny-clap");
    let files = audio_files();
    for (decoders, batch, decoder_priority) in [
        (1, 1, DecoderPriority::Idle),
        (1, 4, DecoderPriority::Background),
        (2, 3, DecoderPriority::Normal),
    ] {
        let mut emb =
            Embedder::open("tiny", &model, SessionOptions::default()).expect("open model");
        let opts = PipelineOptions {
            batch,
            decoders,
            decoder_priority,
            queue: 2,
            prints: true,
            ..Default::default()
        };
        let (_, got) = embed_all(&mut emb, &files, &opts);
        assert_eq!(got.len(), files.len());
        for f in got {
            let want = emb.embed_file(&f.path, None, 1).expect("embed_file");
            assert_eq!(f.windows, want.windows, "{}", f.path.display());
            assert_eq!(
                f.window_vectors,
                want.window_vectors,
                "{}: window vectors",
                f.path.display()
            );
            assert_eq!(f.vector, want.vector, "{}: file vector", f.path.display());
            let print = print_file(&f.path).expect("print_file");
            assert_eq!(
                f.print.as_ref(),
                Some(&print),
                "{}: print",
                f.path.display()
            );
        }
    }
}

/// A decoder that gives inference nothing for [`STARVED`] gets one more decoder beside it, at nice +10, and the
/// run ends with the same vectors as the one-file path. The starved decoder is made deterministic here: its first
/// file is a FIFO that gets its bytes only once the spare decoder has delivered the second file (in use, the
/// decoder is a `SCHED_IDLE` thread that other busy threads of its scheduling group leave no core, or one waiting
/// on a slow disk; how long a starved `SCHED_IDLE` thread waits is up to the kernel, and a test that spun threads to
/// starve it passed on one kernel and failed on CI's).
#[cfg(target_os = "linux")]
#[test]
fn a_starved_decoder_gets_a_spare_decoder_and_the_vectors_stay() {
    use std::io::Write;
    use std::os::unix::ffi::OsStrExt;

    let model = root().join("tests/fixtures/tiny-clap");
    let source = root().join("tests/data/audio/mono8k_u8_3s.wav");
    let other = root().join("tests/data/audio/stereo44k_4s.mp3");
    assert!(
        source.is_file() && other.is_file(),
        "run tests/data/make_audio.sh"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("slow.wav");
    let c_path =
        std::ffi::CString::new(fifo.as_os_str().as_bytes()).expect("no NUL in a temp path");
    // SAFETY: `c_path` is a NUL-terminated string that lives across the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0, "mkfifo");
    let files = vec![fifo.clone(), other.clone()];

    let mut emb = Embedder::open("tiny", &model, SessionOptions::default()).expect("open model");
    let want_slow = emb
        .embed_file(&source, None, 1)
        .expect("embed_file")
        .window_vectors;
    let want_other = emb
        .embed_file(&other, None, 1)
        .expect("embed_file")
        .window_vectors;
    let opts = PipelineOptions {
        decoders: 1,
        decoder_priority: DecoderPriority::Idle,
        ..Default::default()
    };
    let (other_done, wait_other) = std::sync::mpsc::channel::<()>();
    let bytes = std::fs::read(&source).expect("read the source file");
    let mut got = Vec::new();
    let stats = std::thread::scope(|scope| {
        let fifo = fifo.clone();
        scope.spawn(move || {
            // Bytes for the FIFO once the second file is out, which only a spare decoder can have done: the
            // first decoder is blocked opening the FIFO. Without a spare decoder they come after a minute, and
            // the assertions below fail rather than the test hanging.
            let _ = wait_other.recv_timeout(std::time::Duration::from_secs(60));
            std::fs::OpenOptions::new()
                .write(true)
                .open(&fifo)
                .and_then(|mut w| w.write_all(&bytes))
                .expect("write the FIFO");
        });
        embed_files(
            &mut emb,
            &files,
            &opts,
            &AtomicBool::new(false),
            &mut |o| match o {
                FileOutcome::Embedded(f) => {
                    if f.path == other {
                        let _ = other_done.send(());
                    }
                    got.push(f);
                }
                FileOutcome::Failed(p, e) => {
                    let _ = other_done.send(());
                    panic!("{}: {e}", p.display())
                }
            },
        )
        .expect("embed_files")
    });
    assert_eq!(
        stats.spare_decoders, 1,
        "inference waited {STARVED:?} on an empty queue and should have started one spare decoder"
    );
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].path, other, "the spare decoder's file first");
    assert_eq!(got[0].window_vectors, want_other);
    assert_eq!(got[1].path, fifo);
    assert_eq!(got[1].window_vectors, want_slow, "the FIFO's vectors");
}

#[test]
fn block_stream_prints_from_its_first_pass_equal_print_file() {
    let fe = ModelFrontEnd::from(BlockSpec::aisfx());
    for path in audio_files() {
        let mut inputs = ModelInputs::open_printing(&path, &fe, 1.0, true).expect("open");
        let mut plain = ModelInputs::open(&path, &fe, 1.0).expect("open");
        loop {
            let (a, b) = (inputs.next_window().unwrap(), plain.next_window().unwrap());
            assert_eq!(a, b, "{}: printing changed the inputs", path.display());
            if a.is_none() {
                break;
            }
        }
        let want = print_file(&path).expect("print_file");
        assert_eq!(inputs.take_print(), Some(want), "{}", path.display());
        assert_eq!(plain.take_print(), None);
    }
}
