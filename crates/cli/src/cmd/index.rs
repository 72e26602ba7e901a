//! `avx index PATH...`: walk, compare with the index, embed what is new or changed, relink moved files, remove
//! missing ones, commit in batches.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use avx_embed::pipeline::{embed_files, FileOutcome, PipelineOptions};
use avx_embed::Embedder;
use avx_index::{
    FileRecord, FileStatus, Index, IndexSettings, MaintenancePolicy, OpenOptions, WindowRecord,
};
use globset::{Glob, GlobSet, GlobSetBuilder};
use serde_json::json;

use crate::cli::IndexArgs;
use crate::context::{absolute, describe_space, Ctx};
use crate::output::Out;
use crate::Outcome;

/// File name extensions avx looks at when walking a directory. Formats avx cannot decode (Opus, WMA) are listed
/// so that they are reported as unsupported rather than silently ignored.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "aif", "aiff", "aifc", "flac", "mp3", "mp2", "m4a", "mp4", "aac", "adts",
    "alac", "caf", "ogg", "oga", "mka", "opus", "wma", "webm",
];

/// Commit after this many embedded files, or this much time, whichever first. `AVX_COMMIT_FILES` overrides the
/// count (crash tests use small batches).
const COMMIT_EVERY_FILES: usize = 64;
const COMMIT_EVERY: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Summary {
    new: u64,
    changed: u64,
    removed: u64,
    moved: u64,
    unchanged: u64,
    failed: Vec<(PathBuf, String)>,
    skipped_failed: u64,
    seconds_of_audio: f64,
    windows: u64,
}

/// Metadata of a file on disk.
#[derive(Debug, Clone, Copy)]
struct Stat {
    size: u64,
    mtime_ns: i64,
}

fn stat(path: &Path) -> std::io::Result<Stat> {
    let m = std::fs::metadata(path)?;
    let mtime_ns = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i64);
    Ok(Stat {
        size: m.len(),
        mtime_ns,
    })
}

/// xxh3-128 of a file's bytes: the content hash used to recognise moved files.
pub fn content_hash(path: &Path) -> std::io::Result<u128> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.digest128())
}

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn excludes(globs: &[String]) -> Result<GlobSet> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(Glob::new(g).with_context(|| format!("bad --exclude glob '{g}'"))?);
    }
    Ok(b.build()?)
}

/// Every audio file under the roots (of `--shard` only, when given), sorted, with the roots themselves (canonical).
fn walk(args: &IndexArgs, warn: &mut dyn FnMut(String)) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let ex = excludes(&args.exclude)?;
    let mut roots = Vec::new();
    let mut found = Vec::new();
    for p in &args.paths {
        let root = absolute(p)?;
        if root.is_file() {
            found.push(root.clone());
        } else {
            for entry in walkdir::WalkDir::new(&root).follow_links(args.follow_links) {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        warn(format!("{e}"));
                        continue;
                    }
                };
                let path = entry.path();
                if !(entry.file_type().is_file() || args.follow_links && path.is_file()) {
                    continue;
                }
                let rel = path.strip_prefix(&root).unwrap_or(path);
                if ex.is_match(path) || ex.is_match(rel) || !is_audio(path) {
                    continue;
                }
                found.push(path.to_path_buf());
            }
        }
        roots.push(root);
    }
    if let Some(shard) = args.shard {
        found.retain(|p| shard.contains(p));
    }
    found.sort();
    found.dedup();
    Ok((roots, found))
}

pub fn run(ctx: &Ctx, args: IndexArgs) -> Result<Outcome> {
    if let Some(h) = args.hop {
        if h.is_nan() || h <= 0.0 {
            anyhow::bail!("--hop must be a positive number of seconds");
        }
    }
    let dir = ctx.index_dir();
    // The model is loaded only when something needs embedding: re-indexing an unchanged library, removals and
    // relinks need no model (and so cost no model load).
    // An existing index's model and hop are the defaults.
    let load_model = |stored: Option<&IndexSettings>| -> Result<(Embedder, IndexSettings, f64)> {
        let mut emb = ctx.embedder(stored.map(|s| s.model.as_str()))?;
        let stored_hop = stored.and_then(|s| avx_embed::family::frontend_text_hop(&s.frontend));
        let hop = args
            .hop
            .or(stored_hop)
            .unwrap_or_else(|| emb.spec().default_hop_seconds());
        let settings = ctx.settings_for(&mut emb, hop)?;
        Ok((emb, settings, hop))
    };
    let mut model = None;
    let mut index = if dir.join("meta.redb").exists() {
        Index::open(
            &dir,
            OpenOptions {
                write: true,
                wait: args.wait,
                settings: None,
            },
        )?
    } else {
        let (emb, settings, hop) = load_model(None)?;
        model = Some((emb, hop));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create index directory {}", dir.display()))?;
        Index::open(
            &dir,
            OpenOptions {
                write: true,
                wait: args.wait,
                settings: Some(settings),
            },
        )?
    };
    let mut writer = index.writer()?;
    // Sound prints (for `avx dupes`) go to their own log beside the index, keyed by content hash.
    let mut prints = avx_core::prints::PrintWriter::open(&dir)?;
    index.refresh()?; // the state as of the lock
                      // Bulk load: batches commit without maintenance; compaction and graph builds run once, at the end.
    let mut policy = *writer.policy();
    if args.graph {
        policy.graph_min_rows = 1;
    }
    writer.set_policy(MaintenancePolicy {
        enabled: false,
        ..policy
    });

    let chatty = ctx.chatty();
    let mut warn = |m: String| {
        if chatty {
            eprintln!("avx: warning: {m}");
        }
    };
    let (roots, found) = walk(&args, &mut warn)?;
    let mut summary = Summary::default();

    // Classify what is on disk against the index.
    let mut todo: Vec<(PathBuf, Stat)> = Vec::new();
    // Unchanged files without a sound print (indexed by an older avx): printed without re-embedding.
    let mut unprinted: Vec<(PathBuf, u128)> = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    for path in &found {
        let st = match stat(path) {
            Ok(s) => s,
            Err(e) => {
                // Every failure message names its file, as the embedder's errors do.
                summary
                    .failed
                    .push((path.clone(), format!("{}: {e}", path.display())));
                continue;
            }
        };
        seen.insert(path.clone());
        match index.file_by_path(path) {
            Some(fm) if fm.size == st.size && fm.mtime_ns == st.mtime_ns => {
                if fm.status == FileStatus::Ok {
                    summary.unchanged += 1;
                    if let Some(h) = fm.content_hash.filter(|h| !prints.has(*h)) {
                        unprinted.push((path.clone(), h));
                    }
                } else if args.retry_failed {
                    todo.push((path.clone(), st));
                } else {
                    summary.skipped_failed += 1;
                }
            }
            Some(_) => {
                summary.changed += 1;
                todo.push((path.clone(), st));
            }
            None => {
                summary.new += 1;
                todo.push((path.clone(), st));
            }
        }
    }
    // Indexed files under these roots that are gone.
    let missing: Vec<(PathBuf, Option<u128>)> = index
        .files()
        .filter(|f| {
            roots.iter().any(|r| f.path.starts_with(r))
                && !seen.contains(&f.path)
                && !f.path.exists()
        })
        .map(|f| (f.path.clone(), f.content_hash))
        .collect();

    // Moved files: a new path whose content hash is a missing file's.
    let mut gone_by_hash: HashMap<u128, PathBuf> = missing
        .iter()
        .filter_map(|(p, h)| h.map(|h| (h, p.clone())))
        .collect();
    let mut hashes: HashMap<PathBuf, u128> = HashMap::new();
    let mut relinked_old: HashSet<PathBuf> = HashSet::new();
    if !gone_by_hash.is_empty() {
        let mut keep = Vec::new();
        for (path, st) in todo {
            let is_new = index.file_by_path(&path).is_none();
            if is_new {
                if let Ok(h) = content_hash(&path) {
                    if let Some(old) = gone_by_hash.remove(&h) {
                        writer.relink(&old, &path, st.size, st.mtime_ns)?;
                        relinked_old.insert(old);
                        summary.moved += 1;
                        summary.new -= 1;
                        continue;
                    }
                    hashes.insert(path.clone(), h);
                }
            }
            keep.push((path, st));
        }
        todo = keep;
        if summary.moved > 0 {
            writer.commit()?;
        }
    }
    let to_remove: Vec<PathBuf> = missing
        .iter()
        .map(|(p, _)| p.clone())
        .filter(|p| !relinked_old.contains(p))
        .collect();

    // Ctrl-C: stop starting files, commit the finished ones.
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        let _ = ctrlc::set_handler(move || {
            if cancel.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        });
    }

    if model.is_none() && !todo.is_empty() {
        let stored = index.settings().clone();
        let (emb, settings, hop) = load_model(Some(&stored))?;
        if let Err(e) = settings.check_against(&stored, &dir) {
            anyhow::bail!(
                "{e}; the index {} holds vectors of model '{}' ({}); these files would be embedded with '{}' in {} \
                 ({}): use the index's model (drop --model/--model-dir) and its --hop, or index into another --index",
                dir.display(),
                stored.model,
                describe_space(&stored.family, &stored.frontend),
                settings.model,
                emb.dir().display(),
                describe_space(&settings.family, &settings.frontend),
            );
        }
        model = Some((emb, hop));
    }
    let stats: HashMap<PathBuf, Stat> = todo.iter().cloned().collect();
    let files: Vec<PathBuf> = todo.into_iter().map(|(p, _)| p).collect();
    let bar = progress_bar(ctx, files.len() as u64);
    let opts = PipelineOptions {
        hop_s: model.as_ref().map(|m| m.1),
        batch: 4,
        decoders: (ctx.threads / 2).max(1),
        queue: 32,
        prints: true,
    };
    let started = Instant::now();
    let commit_every = std::env::var("AVX_COMMIT_FILES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(COMMIT_EVERY_FILES);
    let mut since_commit = 0usize;
    let mut last_commit = Instant::now();
    let mut write_error: Option<anyhow::Error> = None;
    let mut on_file = |outcome: FileOutcome| {
        if write_error.is_some() {
            return;
        }
        let res: Result<()> = (|| {
            match outcome {
                FileOutcome::Embedded(f) => {
                    let st = stats[&f.path];
                    let hash = match hashes.get(&f.path) {
                        Some(h) => *h,
                        None => content_hash(&f.path)
                            .with_context(|| format!("{}: cannot read", f.path.display()))?,
                    };
                    if let Some(p) = &f.print {
                        prints.append(hash, p)?;
                    }
                    let (seconds, windows) = (f.info.duration_s, f.windows.len() as u64);
                    let stored = writer.upsert(FileRecord {
                        path: f.path.clone(),
                        size: st.size,
                        mtime_ns: st.mtime_ns,
                        content_hash: hash,
                        duration_s: f.info.duration_s,
                        sample_rate: f.info.sample_rate,
                        channels: f.info.channels,
                        codec: f.info.codec.clone(),
                        windows: f
                            .windows
                            .iter()
                            .zip(&f.window_vectors)
                            .map(|((s, e), v)| WindowRecord {
                                start_s: *s as f32,
                                end_s: *e as f32,
                                vector: v.clone(),
                            })
                            .collect(),
                        vector: f.vector,
                    });
                    match stored {
                        Ok(_) => {
                            summary.seconds_of_audio += seconds;
                            summary.windows += windows;
                        }
                        // A vector the index refuses is this file's failure, not the run's.
                        Err(e) if e.is_per_record() => {
                            let st = stats[&f.path];
                            writer.record_failure(&f.path, st.size, st.mtime_ns, &e.to_string())?;
                            failed(ctx, bar.as_ref(), &mut summary, f.path, e.to_string());
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                FileOutcome::Failed(path, err) => {
                    let st = stats[&path];
                    let msg = err.to_string();
                    writer.record_failure(&path, st.size, st.mtime_ns, &msg)?;
                    failed(ctx, bar.as_ref(), &mut summary, path, msg);
                }
            }
            since_commit += 1;
            if since_commit >= commit_every || last_commit.elapsed() >= COMMIT_EVERY {
                writer.commit()?;
                prints.sync()?;
                since_commit = 0;
                last_commit = Instant::now();
            }
            Ok(())
        })();
        if let Some(bar) = &bar {
            bar.inc(1);
            let hours = summary.seconds_of_audio / 3600.0;
            let rate = bar.position() as f64 / started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{hours:.2} h of audio, {rate:.1} files/s"));
        }
        if let Err(e) = res {
            write_error = Some(e);
        }
    };
    let pipeline = match model.as_mut() {
        Some((emb, _)) => embed_files(emb, &files, &opts, &cancel, &mut on_file),
        None => Ok(()),
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if let Some(e) = write_error {
        return Err(
            e.context("writing the index failed; everything committed before this point is kept")
        );
    }
    let interrupted = cancel.load(Ordering::SeqCst);
    if !interrupted {
        print_unprinted(&unprinted, &mut prints, &cancel)?;
    }
    prints.sync()?;
    if !interrupted {
        for p in &to_remove {
            if writer.remove(p)? {
                summary.removed += 1;
            }
        }
    }
    writer
        .commit()
        .context("final commit failed; earlier batches are kept")?;
    writer.set_policy(policy);
    if !interrupted {
        if ctx.progress_visible() && !files.is_empty() {
            eprintln!("avx: updating the search graph ...");
        }
        writer.commit().context(
            "index maintenance (compaction, graph build) failed; all vectors are committed",
        )?;
    }
    pipeline.context("the model failed; files finished before the failure are committed")?;

    report(ctx, &summary, started.elapsed(), interrupted)?;
    if interrupted {
        eprintln!("avx: interrupted: finished files are committed; run the same command again to continue");
        return Ok(Outcome::PartialFailure);
    }
    Ok(if summary.failed.is_empty() {
        Outcome::Found
    } else {
        Outcome::PartialFailure
    })
}

/// Prints files indexed without a sound print (by an older avx), in parallel; a file that fails to decode now
/// keeps no print (`avx dupes` judges it by its vectors).
fn print_unprinted(
    files: &[(PathBuf, u128)],
    prints: &mut avx_core::prints::PrintWriter,
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
        for (h, p) in got {
            if let Some(p) = p {
                prints.append(h, &p)?;
            }
        }
    }
    Ok(())
}

/// Lists a failed file (on stderr now, in the summary at the end).
fn failed(
    ctx: &Ctx,
    bar: Option<&indicatif::ProgressBar>,
    summary: &mut Summary,
    path: PathBuf,
    msg: String,
) {
    if let Some(bar) = bar {
        bar.suspend(|| eprintln!("avx: failed: {msg}"));
    } else if ctx.chatty() {
        eprintln!("avx: failed: {msg}");
    }
    summary.failed.push((path, msg));
}

fn progress_bar(ctx: &Ctx, n: u64) -> Option<indicatif::ProgressBar> {
    if !ctx.progress_visible() || n == 0 {
        return None;
    }
    let bar = indicatif::ProgressBar::new(n);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} files  {msg}  ETA {eta}")
            .expect("valid template"),
    );
    Some(bar)
}

fn report(ctx: &Ctx, s: &Summary, took: Duration, interrupted: bool) -> Result<()> {
    let mut out = Out::new();
    if ctx.global.json {
        for (p, e) in &s.failed {
            out.json(&json!({"type": "failure", "path": p.to_string_lossy(), "error": e}))?;
        }
        out.json(&json!({
            "type": "summary",
            "new": s.new, "changed": s.changed, "removed": s.removed, "moved": s.moved,
            "unchanged": s.unchanged, "failed": s.failed.len(), "skipped_failed": s.skipped_failed,
            "seconds_of_audio": s.seconds_of_audio, "windows": s.windows,
            "elapsed_s": took.as_secs_f64(), "interrupted": interrupted,
        }))?;
        return Ok(out.flush()?);
    }
    if !ctx.chatty() {
        return Ok(());
    }
    eprintln!(
        "indexed in {:.1} s: {} new, {} changed, {} removed, {} moved, {} unchanged, {} failed{}",
        took.as_secs_f64(),
        s.new,
        s.changed,
        s.removed,
        s.moved,
        s.unchanged,
        s.failed.len(),
        if s.skipped_failed > 0 {
            format!(
                " ({} earlier failures skipped; --retry-failed tries them again)",
                s.skipped_failed
            )
        } else {
            String::new()
        }
    );
    for (_, e) in &s.failed {
        eprintln!("  failed: {e}");
    }
    Ok(())
}
