//! Many files through one model: decoding and front end on worker threads, overlapped with batched inference.
//!
//! Decoder threads take files from a shared queue and send model-input windows through a bounded channel, so
//! memory stays bounded when decoding outruns inference (at most `queue` windows wait, plus one per decoder).
//!
//! **Threads.** ONNX Runtime's intra-op threads take every core; decoder threads run at the lowest scheduling
//! priority, `SCHED_IDLE` on Linux ([`PipelineOptions::decoder_priority`]), so the front end fills the gaps
//! between operators (a core an intra-op thread leaves idle while the other finishes an operator or runs a serial
//! one) instead of competing with an intra-op thread: an operator waits for its slowest thread, so an intra-op
//! thread sharing a core with a decoder slows the whole model, and at nice +10 a decoder still took a tenth of a
//! contended core. While inference waits for input (the queue is empty), the decoders get the cores. Other
//! processes of the same scheduling group (on Linux desktops, the same session's autogroup) also come before the
//! decoders; [`DecoderPriority::Background`] is the gentler choice when avx shares its group with other busy
//! programs.
//! The calling thread batches windows across files, runs the audio tower, and hands each finished file to a
//! callback in completion order. Setting the cancel flag stops new files from starting; files already started
//! are finished and reported.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::embedder::{EmbeddedFile, Embedder};
use crate::family::{ModelFrontEnd, ModelInputs};
use crate::model::pool;
use crate::soundprint::SoundPrint;
use crate::window::AudioInfo;
use crate::{EmbedError, Result};

/// How the pipeline runs.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// Seconds between window starts in long files (None: the front end's default: one window length for CLAP,
    /// half a block for aiSFX).
    pub hop_s: Option<f64>,
    /// Windows per model call (windows of several files share a call). 4 by default: on quiet machines a
    /// batch of 4 was faster per window than batches of 1 in every comparison measured (two CPUs, README
    /// "Performance", benches/pipeline.rs); the output does not depend on it.
    pub batch: usize,
    /// Decoder threads.
    pub decoders: usize,
    /// Windows that may wait for inference.
    pub queue: usize,
    /// The decoder threads' scheduling priority against inference (Linux; elsewhere no effect): `SCHED_IDLE` by
    /// default (docs/performance.md: the pipeline's wall time per window closest to the bare session's); see the
    /// module documentation.
    pub decoder_priority: DecoderPriority,
    /// Also compute each file's [`SoundPrint`](crate::soundprint::SoundPrint) from the same decoded samples as
    /// its windows, returned in [`EmbeddedFile::print`].
    pub prints: bool,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            hop_s: None,
            batch: 4,
            decoders: 1,
            queue: 32,
            decoder_priority: DecoderPriority::Idle,
            prints: false,
        }
    }
}

/// How decoder threads are scheduled against the inference threads (Linux; elsewhere all are [`Normal`]).
///
/// [`Normal`]: DecoderPriority::Normal
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoderPriority {
    /// The process's own priority, as the inference threads.
    Normal,
    /// Nice +10 (a tenth of an inference thread's share of a contended core).
    Background,
    /// `SCHED_IDLE` (the default): a decoder runs only on a core no other thread of its scheduling group wants,
    /// and yields it at once when an inference thread wakes up. A thread cannot leave `SCHED_IDLE` without
    /// privileges, so each decoder thread (one per run) is set once.
    Idle,
}

/// The result for one input file.
#[derive(Debug)]
pub enum FileOutcome {
    /// Embedded.
    Embedded(EmbeddedFile),
    /// Could not be embedded; the error names the file.
    Failed(PathBuf, EmbedError),
}

enum Msg {
    Window {
        file: usize,
        start_s: f64,
        end_s: f64,
        features: Vec<f32>,
    },
    Done {
        file: usize,
        info: AudioInfo,
        windows: usize,
        print: Option<SoundPrint>,
    },
    Failed {
        file: usize,
        error: EmbedError,
    },
}

#[derive(Default)]
struct Partial {
    times: Vec<(f64, f64)>,
    vectors: Vec<Vec<f32>>,
    expected: Option<(AudioInfo, usize)>,
    print: Option<SoundPrint>,
}

/// What a run of the pipeline did besides its outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PipelineStats {
    /// Decoders started at nice +10 because the `SCHED_IDLE` ones were starved (inference waited [`STARVED`] on an
    /// empty queue while files were left): 0 or 1.
    pub spare_decoders: usize,
}

/// Embeds `files` and calls `on_file` once per file. An error returned here means the model failed (not a file):
/// the run cannot go on.
pub fn embed_files(
    embedder: &mut Embedder,
    files: &[PathBuf],
    opts: &PipelineOptions,
    cancel: &AtomicBool,
    on_file: &mut dyn FnMut(FileOutcome),
) -> Result<PipelineStats> {
    let mut stats = PipelineStats::default();
    let spec = embedder.spec().clone();
    let hop = opts.hop_s.unwrap_or_else(|| spec.default_hop_seconds());
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<Msg>(opts.queue.max(1));
    std::thread::scope(|scope| -> Result<PipelineStats> {
        let spawn_decoder = |tx: mpsc::SyncSender<Msg>, priority: DecoderPriority| {
            let (spec, next) = (&spec, &next);
            scope.spawn(move || {
                yield_to_inference(priority);
                loop {
                    if cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { return };
                    if decode_one(i, path, spec, hop, opts.prints, &tx).is_err() {
                        return; // receiver gone
                    }
                }
            });
        };
        for _ in 0..opts.decoders.max(1).min(files.len().max(1)) {
            spawn_decoder(tx.clone(), opts.decoder_priority);
        }
        // Kept for one more decoder at nice +10 should `SCHED_IDLE` decoders starve (see `STARVED`); dropped once
        // every file has been taken, so that the channel closes when the last decoder ends.
        let mut spare = (opts.decoder_priority == DecoderPriority::Idle).then_some(tx);
        let mut partial: HashMap<usize, Partial> = HashMap::new();
        let mut batch: Vec<(usize, f64, f64, Vec<f32>)> = Vec::new();
        let mut result = Ok(());
        let flush = |embedder: &mut Embedder,
                     batch: &mut Vec<(usize, f64, f64, Vec<f32>)>,
                     partial: &mut HashMap<usize, Partial>|
         -> Result<()> {
            if batch.is_empty() {
                return Ok(());
            }
            let refs: Vec<&[f32]> = batch.iter().map(|b| b.3.as_slice()).collect();
            let vectors = embedder.embed_windows(&refs)?;
            for ((file, s, e, _), v) in batch.drain(..).zip(vectors) {
                let p = partial.entry(file).or_default();
                p.times.push((s, e));
                p.vectors.push(v);
            }
            Ok(())
        };
        loop {
            let msg = match rx.try_recv() {
                Ok(m) => m,
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(mpsc::TryRecvError::Empty) => {
                    // Decoders are behind: run what we have rather than sit idle, then wait.
                    if result.is_ok() {
                        result = flush(embedder, &mut batch, &mut partial);
                        emit_finished(files, &mut partial, on_file);
                    }
                    if spare.is_some() && next.load(Ordering::Relaxed) >= files.len() {
                        spare = None;
                    }
                    match spare.take() {
                        Some(tx) => match rx.recv_timeout(STARVED) {
                            Ok(m) => {
                                spare = Some(tx);
                                m
                            }
                            Err(mpsc::RecvTimeoutError::Timeout) => {
                                // Other busy threads of our scheduling group leave the idle decoders no core.
                                log::debug!(
                                    "decoders starved for {STARVED:?}: one more decoder at nice +10"
                                );
                                spawn_decoder(tx, DecoderPriority::Background);
                                stats.spare_decoders += 1;
                                match rx.recv() {
                                    Ok(m) => m,
                                    Err(_) => break,
                                }
                            }
                            Err(mpsc::RecvTimeoutError::Disconnected) => break,
                        },
                        None => match rx.recv() {
                            Ok(m) => m,
                            Err(_) => break,
                        },
                    }
                }
            };
            if result.is_err() {
                cancel_decoders(&next, files.len());
                continue; // drain so decoders can exit
            }
            match msg {
                Msg::Window {
                    file,
                    start_s,
                    end_s,
                    features,
                } => {
                    batch.push((file, start_s, end_s, features));
                    if batch.len() >= opts.batch.max(1) {
                        result = flush(embedder, &mut batch, &mut partial);
                    }
                }
                Msg::Done {
                    file,
                    info,
                    windows,
                    print,
                } => {
                    let p = partial.entry(file).or_default();
                    p.expected = Some((info, windows));
                    p.print = print;
                }
                Msg::Failed { file, error } => {
                    partial.remove(&file);
                    batch.retain(|b| b.0 != file);
                    on_file(FileOutcome::Failed(files[file].clone(), error));
                }
            }
            emit_finished(files, &mut partial, on_file);
        }
        if result.is_ok() {
            result = flush(embedder, &mut batch, &mut partial);
            emit_finished(files, &mut partial, on_file);
        }
        result.map(|()| stats)
    })
}

/// [`embed_files`], handing outcomes to `on_file` in the order of `files` (a file finished early waits, with
/// only its vectors held, for the files before it). After a cancel, the files that did finish are handed on, in
/// order.
pub fn embed_files_in_order(
    embedder: &mut Embedder,
    files: &[PathBuf],
    opts: &PipelineOptions,
    cancel: &AtomicBool,
    on_file: &mut dyn FnMut(FileOutcome),
) -> Result<PipelineStats> {
    let mut positions: HashMap<&std::path::Path, std::collections::VecDeque<usize>> =
        HashMap::new();
    for (i, f) in files.iter().enumerate() {
        positions.entry(f.as_path()).or_default().push_back(i);
    }
    let mut waiting = std::collections::BTreeMap::new();
    let mut next = 0;
    let result = embed_files(embedder, files, opts, cancel, &mut |o| {
        let path = match &o {
            FileOutcome::Embedded(f) => f.path.as_path(),
            FileOutcome::Failed(p, _) => p.as_path(),
        };
        let i = positions
            .get_mut(path)
            .and_then(|q| q.pop_front())
            .expect("the pipeline reports only the files it was given, once each");
        waiting.insert(i, o);
        while let Some(o) = waiting.remove(&next) {
            on_file(o);
            next += 1;
        }
    });
    for (_, o) in waiting {
        on_file(o);
    }
    result
}

/// How long inference waits on an empty queue before it takes `SCHED_IDLE` decoders for starved (other threads of
/// the scheduling group keep every core busy) and starts one more decoder at nice +10. A decoder that has a core
/// gives the first window of a 10 s file in about 20 ms.
pub const STARVED: std::time::Duration = std::time::Duration::from_millis(200);

/// How much lower than inference the decoder threads run at [`DecoderPriority::Background`] (a nice value, added
/// to the process's).
#[cfg(target_os = "linux")]
const DECODER_NICE: libc::c_int = 10;

/// Lowers the calling thread's scheduling priority as `priority` says (Linux; elsewhere nothing), so the inference
/// threads preempt it.
fn yield_to_inference(priority: DecoderPriority) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid, getpriority, setpriority and sched_setscheduler take no pointers but `param`, which
        // lives across the call; on Linux a thread id is a valid PRIO_PROCESS target and pid 0 is the calling
        // thread, so only this thread changes. A failure (e.g. a sandbox forbidding it) leaves the priority as it
        // was.
        unsafe {
            match priority {
                DecoderPriority::Normal => {}
                DecoderPriority::Background => {
                    let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                    let now = libc::getpriority(libc::PRIO_PROCESS, tid);
                    libc::setpriority(
                        libc::PRIO_PROCESS,
                        tid,
                        now.saturating_add(DECODER_NICE).min(19),
                    );
                }
                DecoderPriority::Idle => {
                    let param = libc::sched_param { sched_priority: 0 };
                    libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
                }
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = priority;
}

/// Makes decoders stop taking new files (after a model error).
fn cancel_decoders(next: &AtomicUsize, n: usize) {
    next.store(n, Ordering::Relaxed);
}

fn emit_finished(
    files: &[PathBuf],
    partial: &mut HashMap<usize, Partial>,
    on_file: &mut dyn FnMut(FileOutcome),
) {
    let done: Vec<usize> = partial
        .iter()
        .filter(|(_, p)| matches!(&p.expected, Some((_, n)) if p.vectors.len() == *n))
        .map(|(i, _)| *i)
        .collect();
    for i in done {
        let p = partial.remove(&i).expect("present");
        let (info, _) = p.expected.expect("checked");
        if p.vectors.is_empty() {
            on_file(FileOutcome::Failed(
                files[i].clone(),
                EmbedError::NoAudio {
                    path: files[i].clone(),
                },
            ));
            continue;
        }
        let file = EmbeddedFile {
            path: files[i].clone(),
            info,
            windows: p.times,
            vector: pool(&p.vectors),
            window_vectors: p.vectors,
            print: p.print,
        };
        on_file(match file.check_finite() {
            Ok(()) => FileOutcome::Embedded(file),
            Err(e) => FileOutcome::Failed(file.path, e),
        });
    }
}

/// Decodes one file, sending its windows; `Err` only when the receiver has gone away.
fn decode_one(
    file: usize,
    path: &std::path::Path,
    spec: &ModelFrontEnd,
    hop: f64,
    prints: bool,
    tx: &mpsc::SyncSender<Msg>,
) -> std::result::Result<(), ()> {
    let mut stream = match ModelInputs::open_printing(path, spec, hop, prints) {
        Ok(s) => s,
        Err(error) => return tx.send(Msg::Failed { file, error }).map_err(|_| ()),
    };
    let mut n = 0;
    loop {
        match stream.next_window() {
            Ok(Some(w)) => {
                n += 1;
                tx.send(Msg::Window {
                    file,
                    start_s: w.start_s,
                    end_s: w.end_s,
                    features: w.features,
                })
                .map_err(|_| ())?;
            }
            Ok(None) => {
                // The print comes from the same decode as the windows (no second pass over the file).
                let print = stream.take_print();
                return tx
                    .send(Msg::Done {
                        file,
                        info: stream.info().clone(),
                        windows: n,
                        print,
                    })
                    .map_err(|_| ());
            }
            Err(error) => return tx.send(Msg::Failed { file, error }).map_err(|_| ()),
        }
    }
}
