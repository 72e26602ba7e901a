//! `avx push URL`: the local index into a PostgreSQL/pgvector table (`avx_pg::push`), with a progress bar and
//! a summary; and `avx merge OUT IDX...` (`avx_index::merge`).

use anyhow::{Context as _, Result};
use avx_pg::{PushOptions, Target};
use serde_json::json;

use crate::cli::{MergeArgs, PushArgs};
use crate::context::{absolute, Ctx};
use crate::output::Out;
use crate::Outcome;

pub fn run(ctx: &Ctx, args: PushArgs) -> Result<Outcome> {
    let index = ctx.open_index()?;
    let target = Target::parse(&args.url)?;
    let roots = args
        .roots
        .iter()
        .map(|r| absolute(r))
        .collect::<Result<Vec<_>>>()?;
    let opts = PushOptions {
        table: args.table,
        segments: args.segments,
        hnsw_m: args.hnsw_m,
        hnsw_ef_construction: args.hnsw_ef_construction,
        roots,
        batch_files: args.batch as usize,
        ..PushOptions::new(
            args.source
                .unwrap_or_else(|| avx_pg::default_source(index.dir())),
        )
    };
    let bar = ctx.progress_visible().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} files  {per_sec}  ETA {eta}",
            )
            .expect("valid template"),
        );
        bar
    });
    let report = avx_pg::push(&target, &index, &opts, &mut |p| {
        if let Some(bar) = &bar {
            bar.set_length(p.files_total);
            bar.set_position(p.files_done);
        }
    })
    .with_context(|| {
        format!(
            "push of {} failed; batches committed so far are kept, run it again to finish",
            index.dir().display()
        )
    })?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let hnsw = report.hnsw_build.map(|d| d.map(|d| d.as_secs_f64()));
    if ctx.global.json {
        let mut out = Out::new();
        out.json(&json!({
            "type": "summary",
            "target": target.to_string(), "table": opts.table,
            "upserted": report.upserted, "deleted": report.deleted, "unchanged": report.unchanged,
            "windows": report.windows, "upload_s": report.upload.as_secs_f64(),
            "hnsw_build_s": hnsw[0], "hnsw_build_windows_s": hnsw[1],
        }))?;
        out.flush()?;
    } else if ctx.chatty() {
        let rate = report.upserted as f64 / report.upload.as_secs_f64().max(1e-9);
        eprintln!(
            "pushed to {target} table {}: {} written ({:.0} files/s), {} deleted, {} unchanged{}",
            opts.table,
            report.upserted,
            rate,
            report.deleted,
            report.unchanged,
            if report.windows > 0 {
                format!(", {} windows", report.windows)
            } else {
                String::new()
            }
        );
        if let Some(s) = hnsw[0] {
            eprintln!("the database built its HNSW index in {s:.1} s");
        }
    }
    Ok(Outcome::Found)
}

pub fn merge(ctx: &Ctx, args: MergeArgs) -> Result<Outcome> {
    let report = avx_index::merge(&args.out, &args.inputs, &mut |_, _| {})
        .with_context(|| format!("cannot merge into {}", args.out.display()))?;
    if ctx.global.json {
        let mut out = Out::new();
        out.json(&json!({
            "type": "summary", "files": report.files, "failed": report.failed, "conflicts": report.conflicts,
        }))?;
        out.flush()?;
    } else if ctx.chatty() {
        eprintln!(
            "merged {} indexes into {}: {} files, {} failures carried over, {} paths in more than one input (the last listed won)",
            args.inputs.len(),
            args.out.display(),
            report.files,
            report.failed,
            report.conflicts
        );
    }
    Ok(Outcome::Found)
}
