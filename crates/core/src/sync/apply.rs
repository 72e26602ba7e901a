//! [`apply()`]: carries out a [`Plan`]: relinks moves, embeds, stores and commits in batches, removes, and runs
//! index maintenance once at the end.
//!
//! Threads: the embedding pipeline's decoder threads and its inference thread (the caller's) produce finished
//! files; a storing thread takes them through a bounded channel, hashes each file's content, writes it to the
//! index and commits every `commit_every_files` files or `commit_every`, so that neither the hash nor the commit's
//! fsyncs hold up the model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use avx_embed::pipeline::{embed_files, FileOutcome, PipelineOptions};
use avx_embed::Embedder;
use avx_index::{FileRecord, MaintenancePolicy, WindowRecord, Writer};

use super::{content_hash, Plan, Reason, Stat};
use crate::error::{CoreError, Result};
use crate::prints::PrintWriter;

/// How [`apply()`] runs.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Commit after this many stored files...
    pub commit_every_files: usize,
    /// ...or after this much time, whichever comes first.
    pub commit_every: Duration,
    /// Decoder threads of the embedding pipeline.
    pub decoders: usize,
    /// Windows per model call.
    pub batch: usize,
    /// Build the search graph at the end even for a small index.
    pub graph: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            commit_every_files: 64,
            commit_every: Duration::from_secs(30),
            decoders: 1,
            batch: PipelineOptions::default().batch,
            graph: false,
        }
    }
}

/// What [`apply()`] reports while it runs (from the storing thread, then the calling thread).
#[derive(Debug)]
pub enum Progress<'a> {
    /// A file is embedded and stored.
    Stored {
        path: &'a Path,
        seconds_of_audio: f64,
    },
    /// A file could not be embedded or stored; the message names it. The run goes on.
    Failed { path: &'a Path, message: &'a str },
    /// All files are committed; compaction and graph builds start.
    Maintenance,
}

/// What [`apply()`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Files stored that were not in the index (or had failed before and were retried).
    pub new: u64,
    /// Files stored again because their size or modification time changed.
    pub changed: u64,
    pub removed: u64,
    pub moved: u64,
    pub unchanged: u64,
    pub skipped_failed: u64,
    /// Files that failed (the plan's unreadable ones first), with a message naming the file.
    pub failed: Vec<(PathBuf, String)>,
    pub seconds_of_audio: f64,
    pub windows: u64,
    /// The cancel flag was set: removals and maintenance were skipped; finished files are committed.
    pub interrupted: bool,
}

/// Carries out `plan` with `writer` (which holds the writer lock and sees the state the plan was made from).
///
/// `load_model` is called only when the plan has files to embed; it returns the embedder and the hop in seconds.
/// Setting `cancel` stops new files from starting; the files in flight are stored and committed, removals and
/// maintenance are skipped. A failure to write the index sets `cancel` too, and is returned after what was
/// stored before it is committed.
pub fn apply<E: From<CoreError>>(
    writer: &mut Writer,
    plan: Plan,
    opts: &ApplyOptions,
    load_model: impl FnOnce() -> std::result::Result<(Embedder, f64), E>,
    cancel: &AtomicBool,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> std::result::Result<Report, E> {
    let mut report = Report {
        unchanged: plan.unchanged,
        skipped_failed: plan.skipped_failed,
        failed: plan.unreadable,
        ..Report::default()
    };
    // Bulk load: batches commit without maintenance; compaction and graph builds run once, at the end.
    let mut policy = *writer.policy();
    if opts.graph {
        policy.graph_min_rows = 1;
    }
    writer.set_policy(MaintenancePolicy {
        enabled: false,
        ..policy
    });

    // Sound prints (for `avx dupes`) go to their own log beside the index, keyed by content hash.
    let mut prints = PrintWriter::open(writer.dir())?;
    let unprinted: Vec<(PathBuf, u128)> = plan
        .unchanged_files
        .iter()
        .filter(|(_, h)| !prints.has(*h))
        .cloned()
        .collect();

    for m in &plan.moves {
        writer
            .relink(&m.from, &m.to, m.stat.size, m.stat.mtime_ns)
            .map_err(CoreError::from)?;
        report.moved += 1;
    }
    if !plan.moves.is_empty() {
        writer.commit().map_err(CoreError::from)?;
    }

    let mut pipeline = Ok(());
    if !plan.embed.is_empty() {
        log::info!("{} file(s) to embed", plan.embed.len());
        let (mut embedder, hop) = load_model()?;
        let files: Vec<PathBuf> = plan.embed.iter().map(|e| e.path.clone()).collect();
        let known: HashMap<PathBuf, (Stat, Option<u128>, Reason)> = plan
            .embed
            .into_iter()
            .map(|e| (e.path, (e.stat, e.content_hash, e.reason)))
            .collect();
        let popts = PipelineOptions {
            hop_s: Some(hop),
            batch: opts.batch,
            decoders: opts.decoders,
            queue: 32,
            prints: true,
            ..PipelineOptions::default()
        };
        let (tx, rx) = mpsc::sync_channel::<FileOutcome>(16);
        let (embedded, stored) = std::thread::scope(|scope| {
            let mut store = Store {
                writer: &mut *writer,
                prints: &mut prints,
                known: &known,
                opts,
                report: &mut report,
                progress: &mut *progress,
                since_commit: 0,
                last_commit: Instant::now(),
            };
            let storing = scope.spawn(move || {
                let res = rx.iter().try_for_each(|o| store.store(o));
                if res.is_err() {
                    cancel.store(true, Ordering::SeqCst);
                }
                res
            });
            let embedded = embed_files(&mut embedder, &files, &popts, cancel, &mut |o| {
                // A send fails only when the storing thread stopped on an error, which it reports.
                let _ = tx.send(o);
            });
            drop(tx);
            let stored = match storing.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            (embedded, stored)
        });
        if let Err(e) = stored {
            return Err(CoreError::context(
                "writing the index failed; everything committed before this point is kept",
                e,
            )
            .into());
        }
        pipeline = embedded.map(|_stats| ());
    }

    report.interrupted = cancel.load(Ordering::SeqCst);
    if !report.interrupted {
        print_unprinted(&unprinted, &mut prints, cancel)?;
    }
    prints.sync()?;
    if !report.interrupted {
        for p in &plan.remove {
            if writer.remove(p).map_err(CoreError::from)? {
                report.removed += 1;
            }
        }
    }
    writer.commit().map_err(|e| {
        CoreError::context("final commit failed; earlier batches are kept", e.into())
    })?;
    writer.set_policy(policy);
    if !report.interrupted {
        progress(Progress::Maintenance);
        let done = writer.commit().map_err(|e| {
            CoreError::context(
                "index maintenance (compaction, graph build) failed; all vectors are committed",
                e.into(),
            )
        })?;
        if done.compacted {
            log::info!("compacted the row files");
        }
        for (level, graph) in ["file", "window"].iter().zip(&done.graphs) {
            if let Some(g) = graph {
                let how = if g.inserted > 0 { "extended" } else { "built" };
                log::info!("{how} the {level}-level search graph: {g:?}");
            }
        }
    }
    pipeline.map_err(|e| {
        CoreError::context(
            "the model failed; files finished before the failure are committed",
            e.into(),
        )
    })?;
    Ok(report)
}

/// The storing thread's state.
struct Store<'a, 'p> {
    writer: &'a mut Writer,
    prints: &'a mut PrintWriter,
    known: &'a HashMap<PathBuf, (Stat, Option<u128>, Reason)>,
    opts: &'a ApplyOptions,
    report: &'a mut Report,
    progress: &'a mut (dyn FnMut(Progress<'_>) + Send + 'p),
    since_commit: usize,
    last_commit: Instant,
}

impl Store<'_, '_> {
    fn store(&mut self, outcome: FileOutcome) -> Result<()> {
        match outcome {
            FileOutcome::Embedded(f) => {
                let (st, hash, reason) = self.known[&f.path];
                let hash = match hash {
                    Some(h) => h,
                    None => content_hash(&f.path).map_err(|e| CoreError::io(&f.path, e))?,
                };
                if let Some(p) = &f.print {
                    self.prints.append(hash, p)?;
                }
                let (seconds, windows) = (f.info.duration_s, f.windows.len() as u64);
                let path = f.path.clone();
                let stored = self.writer.upsert(FileRecord {
                    path: f.path,
                    size: st.size,
                    mtime_ns: st.mtime_ns,
                    content_hash: hash,
                    duration_s: f.info.duration_s,
                    sample_rate: f.info.sample_rate,
                    channels: f.info.channels,
                    codec: f.info.codec,
                    windows: f
                        .windows
                        .iter()
                        .zip(f.window_vectors)
                        .map(|((s, e), vector)| WindowRecord {
                            start_s: *s as f32,
                            end_s: *e as f32,
                            vector,
                        })
                        .collect(),
                    vector: f.vector,
                });
                match stored {
                    Ok(_) => {
                        // Counted once stored: a file that fails counts in `failed` only.
                        match reason {
                            Reason::Changed => self.report.changed += 1,
                            Reason::New | Reason::RetryFailed => self.report.new += 1,
                        }
                        self.report.seconds_of_audio += seconds;
                        self.report.windows += windows;
                        (self.progress)(Progress::Stored {
                            path: &path,
                            seconds_of_audio: seconds,
                        });
                    }
                    // A vector the index refuses is this file's failure, not the run's.
                    Err(e) if e.is_per_record() => self.failed(path, st, e.to_string())?,
                    Err(e) => return Err(e.into()),
                }
            }
            FileOutcome::Failed(path, err) => {
                let st = self.known[&path].0;
                self.failed(path, st, err.to_string())?;
            }
        }
        self.since_commit += 1;
        if self.since_commit >= self.opts.commit_every_files
            || self.last_commit.elapsed() >= self.opts.commit_every
        {
            self.writer.commit()?;
            self.prints.sync()?;
            self.since_commit = 0;
            self.last_commit = Instant::now();
        }
        Ok(())
    }

    fn failed(&mut self, path: PathBuf, st: Stat, message: String) -> Result<()> {
        self.writer
            .record_failure(&path, st.size, st.mtime_ns, &message)?;
        (self.progress)(Progress::Failed {
            path: &path,
            message: &message,
        });
        self.report.failed.push((path, message));
        Ok(())
    }
}

/// Prints files indexed without a sound print (by an older avx), on the pool's threads; a file that fails to
/// decode now keeps no print (`avx dupes` judges it by its vectors).
fn print_unprinted(
    files: &[(PathBuf, u128)],
    prints: &mut PrintWriter,
    cancel: &AtomicBool,
) -> Result<()> {
    use rayon::prelude::*;
    for chunk in files.chunks(64) {
        if cancel.load(Ordering::SeqCst) {
            break;
        }
        let got: Vec<_> = chunk
            .par_iter()
            .map(|(p, h)| (*h, avx_embed::soundprint::print_file(p).ok()))
            .collect();
        for (h, p) in got.into_iter().filter_map(|(h, p)| Some((h, p?))) {
            prints.append(h, &p)?;
        }
    }
    Ok(())
}
