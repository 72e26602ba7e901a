//! `avx info` and `avx verify`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use avx_index::FileStatus;
use serde_json::json;

use crate::context::Ctx;
use crate::output::Out;
use crate::Outcome;

/// The library roots: the deepest common directory of each group of files that share their first two path
/// components (e.g. `/home/me/SFX/...` and `/mnt/radio/...` give two roots).
fn roots<'a>(paths: impl Iterator<Item = &'a Path>) -> Vec<(PathBuf, u64)> {
    let mut groups: BTreeMap<PathBuf, (PathBuf, u64)> = BTreeMap::new();
    for p in paths {
        let parent = p.parent().unwrap_or(p);
        let key: PathBuf = parent.components().take(3).collect();
        groups
            .entry(key)
            .and_modify(|(prefix, n)| {
                *prefix = prefix
                    .components()
                    .zip(parent.components())
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a)
                    .collect();
                *n += 1;
            })
            .or_insert_with(|| (parent.to_path_buf(), 1));
    }
    groups.into_values().collect()
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

pub fn info(ctx: &Ctx) -> Result<Outcome> {
    let index = ctx.open_index()?;
    let s = index.stats();
    let settings = index.settings();
    let ok: Vec<_> = index
        .files()
        .filter(|f| f.status == FileStatus::Ok)
        .collect();
    let hours = ok.iter().map(|f| f.duration_s).sum::<f64>() / 3600.0;
    let roots = roots(ok.iter().map(|f| f.path.as_path()));
    let bytes = dir_size(index.dir());
    let mut out = Out::new();
    if ctx.global.json {
        out.json(&json!({
            "type": "info",
            "index": avx_core::path_json(index.dir()),
            "model": settings.model,
            "dim": settings.dim,
            "pipeline_version": settings.pipeline_version,
            "files": ok.len(),
            "failed": s.failed,
            "hours": hours,
            "windows": s.live_rows[1],
            "roots": roots.iter().map(|(r, n)| json!({"path": avx_core::path_json(r), "files": n})).collect::<Vec<_>>(),
            "graph_points": s.graph_points,
            "tail_rows": s.tail_rows,
            "bytes": bytes,
        }))?;
    } else {
        out.line(format!("index     {}", index.dir().display()))?;
        out.line(format!(
            "model     {} ({} dimensions, pipeline v{})",
            settings.model, settings.dim, settings.pipeline_version
        ))?;
        out.line(format!("files     {} ({} failed)", ok.len(), s.failed))?;
        out.line(format!(
            "audio     {hours:.2} hours in {} windows",
            s.live_rows[1]
        ))?;
        out.line(format!(
            "graph     {} file points, {} window points ({} + {} rows scanned exactly)",
            s.graph_points[0], s.graph_points[1], s.tail_rows[0], s.tail_rows[1]
        ))?;
        out.line(format!("size      {:.1} MB on disk", bytes as f64 / 1e6))?;
        for (r, n) in &roots {
            out.line(format!("root      {} ({n} files)", r.display()))?;
        }
    }
    out.flush()?;
    Ok(Outcome::Found)
}

pub fn verify(ctx: &Ctx) -> Result<Outcome> {
    let dir = ctx.index_dir();
    let report = avx_index::verify(&dir);
    let mut out = Out::new();
    if ctx.global.json {
        for p in &report.problems {
            out.json(
                &json!({"type": "problem", "path": avx_core::path_json(&p.path), "what": p.what}),
            )?;
        }
        out.json(&json!({
            "type": "verify", "ok": report.is_ok(), "problems": report.problems.len(),
            "files": report.files, "rows": report.rows, "bytes_checked": report.bytes_checked,
            "notes": report.notes,
        }))?;
    } else {
        for p in &report.problems {
            out.line(format!("problem: {p}"))?;
        }
        for n in &report.notes {
            out.line(format!("note: {n}"))?;
        }
        out.line(format!(
            "{}: {} files, {} file rows, {} window rows, {:.1} MB checked",
            if report.is_ok() { "ok" } else { "DAMAGED" },
            report.files,
            report.rows[0],
            report.rows[1],
            report.bytes_checked as f64 / 1e6
        ))?;
        if !report.is_ok() {
            out.line(
                "the index is damaged: re-index into a new --index (the audio files are untouched)",
            )?;
        }
    }
    out.flush()?;
    if report.is_ok() {
        Ok(Outcome::Found)
    } else {
        anyhow::bail!(
            "{} problem(s) found in {}",
            report.problems.len(),
            dir.display()
        )
    }
}
