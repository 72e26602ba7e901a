//! `avx index PATH...`: opens (or creates) the index, then walks, plans and applies with [`avx_core::sync`],
//! showing a progress bar and printing the summary.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use avx_core::path_json;
use avx_core::sync::{self, ApplyOptions, Progress, RealDisk, Report, WalkOptions};
use avx_embed::Embedder;
use avx_index::{Index, IndexSettings, OpenOptions};
use serde_json::json;

use crate::cli::IndexArgs;
use crate::context::{describe_space, Ctx};
use crate::output::Out;
use crate::Outcome;

/// Commit after this many embedded files (`AVX_COMMIT_FILES` overrides it: crash tests use small batches).
const COMMIT_EVERY_FILES: usize = 64;

pub fn run(ctx: &Ctx, args: IndexArgs) -> Result<Outcome> {
    if let Some(h) = args.hop {
        if h.is_nan() || h <= 0.0 {
            anyhow::bail!("--hop must be a positive number of seconds");
        }
    }
    let dir = ctx.index_dir();
    // The model is loaded only when something needs embedding: re-indexing an unchanged library, removals and
    // relinks need no model (and so cost no model load). An existing index's model and hop are the defaults.
    let load_model = |stored: Option<&IndexSettings>| -> Result<(Embedder, IndexSettings, f64)> {
        let mut emb = ctx.embedder(stored.map(|s| s.model.as_str()))?;
        let stored_hop = stored.and_then(|s| avx_embed::family::frontend_text_hop(&s.frontend));
        let hop = args
            .hop
            .or(stored_hop)
            .unwrap_or_else(|| emb.spec().default_hop_seconds());
        // Once, before any file: otherwise every file fails with the same message.
        emb.spec()
            .check_hop(hop)
            .map_err(|m| anyhow::anyhow!("--hop: {m} for {}", emb.name()))?;
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
    index.refresh()?; // the state as of the lock

    let chatty = ctx.chatty();
    let mut warn = |m: String| {
        if chatty {
            eprintln!("avx: warning: {m}");
        }
    };
    let walk = sync::walk(
        &WalkOptions {
            paths: &args.paths,
            exclude: &args.exclude,
            follow_links: args.follow_links,
            shard: args.shard,
        },
        &mut warn,
    )
    .map_err(|e| match e {
        avx_core::CoreError::Io { path, source } => {
            anyhow::Error::new(source).context(format!("{}: cannot open", path.display()))
        }
        e => e.into(),
    })?;
    let plan = sync::plan(
        &walk,
        index.files().map(sync::Known::from),
        &RealDisk,
        args.retry_failed,
    );

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

    let stored = index.settings().clone();
    let loader = || -> Result<(Embedder, f64)> {
        if let Some(m) = model {
            return Ok(m);
        }
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
        Ok((emb, hop))
    };
    let opts = ApplyOptions {
        commit_every_files: std::env::var("AVX_COMMIT_FILES")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(COMMIT_EVERY_FILES),
        decoders: (ctx.threads / 2).max(1),
        graph: args.graph,
        ..ApplyOptions::default()
    };
    let to_embed = plan.embed.len() as u64;
    let bar = progress_bar(ctx, to_embed);
    let started = Instant::now();
    let mut hours = 0.0;
    let show_graph_note = ctx.progress_visible() && to_embed > 0;
    let mut on_progress = |p: Progress<'_>| match p {
        Progress::Stored {
            seconds_of_audio, ..
        } => {
            hours += seconds_of_audio / 3600.0;
            if let Some(bar) = &bar {
                bar.inc(1);
                let rate = bar.position() as f64 / started.elapsed().as_secs_f64().max(1e-3);
                bar.set_message(format!("{hours:.2} h of audio, {rate:.1} files/s"));
            }
        }
        Progress::Failed { message, .. } => {
            if let Some(bar) = &bar {
                bar.inc(1);
                bar.suspend(|| eprintln!("avx: failed: {message}"));
            } else if chatty {
                eprintln!("avx: failed: {message}");
            }
        }
        Progress::Maintenance => {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            if show_graph_note {
                eprintln!("avx: updating the search graph ...");
            }
        }
    };
    let result = sync::apply(&mut writer, plan, &opts, loader, &cancel, &mut on_progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = result?;

    print_report(ctx, &report, started.elapsed())?;
    if report.interrupted {
        eprintln!("avx: interrupted: finished files are committed; run the same command again to continue");
        return Ok(Outcome::PartialFailure);
    }
    Ok(if report.failed.is_empty() {
        Outcome::Found
    } else {
        Outcome::PartialFailure
    })
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

fn print_report(ctx: &Ctx, s: &Report, took: Duration) -> Result<()> {
    let mut out = Out::new();
    if ctx.global.json {
        for (p, e) in &s.failed {
            out.json(&json!({"type": "failure", "path": path_json(p), "error": e}))?;
        }
        out.json(&json!({
            "type": "summary",
            "new": s.new, "changed": s.changed, "removed": s.removed, "moved": s.moved,
            "unchanged": s.unchanged, "failed": s.failed.len(), "skipped_failed": s.skipped_failed,
            "seconds_of_audio": s.seconds_of_audio, "windows": s.windows,
            "elapsed_s": took.as_secs_f64(), "interrupted": s.interrupted,
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
