//! The pipeline against the one-file path: `embed_files` (decoder threads, batches across files, sound prints from
//! the same decode) gives bit for bit the vectors of `Embedder::embed_file` and the prints of `print_file`, for the
//! committed test files, with the committed tiny random-weight CLAP (`tests/fixtures/tiny-clap`); the aiSFX block
//! stream's print tap is checked the same way without a model.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

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

/// `SCHED_IDLE` decoders get a core only when no other thread of their scheduling group wants one. Threads of this
/// process spinning on every core starve them; inference then waits [`STARVED`] on an empty queue, starts one more
/// decoder at nice +10 and finishes the run with the same vectors as the one-file path. Without that fallback the
/// idle decoder would crawl at a few thousandths of a core and `spare_decoders` would stay 0.
#[cfg(target_os = "linux")]
#[test]
fn starved_idle_decoders_get_a_spare_decoder_at_nice_10() {
    let model = root().join("tests/fixtures/tiny-clap");
    // The two shortest files: the spare decoder has a tenth of a contended core.
    let files: Vec<PathBuf> = audio_files()
        .into_iter()
        .filter(|f| f.ends_with("mono8k_u8_3s.wav") || f.ends_with("stereo44k_4s.mp3"))
        .collect();
    assert_eq!(files.len(), 2);
    let mut emb = Embedder::open("tiny", &model, SessionOptions::default()).expect("open model");
    let want: Vec<_> = files
        .iter()
        .map(|f| {
            emb.embed_file(f, None, 1)
                .expect("embed_file")
                .window_vectors
        })
        .collect();
    let opts = PipelineOptions {
        decoders: 1,
        decoder_priority: DecoderPriority::Idle,
        ..Default::default()
    };
    let spin = AtomicBool::new(true);
    let spinning = std::sync::atomic::AtomicUsize::new(0);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (stats, got) = std::thread::scope(|scope| {
        for _ in 0..cores {
            scope.spawn(|| {
                spinning.fetch_add(1, Ordering::Relaxed);
                while spin.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
        }
        // Every spinner on a core before the decoder starts: a spinner not yet scheduled left the decoder a
        // core for the two short files (failed once in `.ci/run`).
        while spinning.load(Ordering::Relaxed) < cores {
            std::thread::yield_now();
        }
        let done = embed_all(&mut emb, &files, &opts);
        spin.store(false, Ordering::Relaxed);
        done
    });
    assert_eq!(
        stats.spare_decoders, 1,
        "{cores} spinning threads should starve the SCHED_IDLE decoder for {STARVED:?}"
    );
    assert_eq!(got.len(), files.len());
    for f in got {
        let i = files
            .iter()
            .position(|p| *p == f.path)
            .expect("one of ours");
        assert_eq!(f.window_vectors, want[i], "{}", f.path.display());
    }
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
