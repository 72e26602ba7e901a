//! `avx similar FILE` and `avx search TEXT`: one query vector, nearest neighbours, a result list.

use anyhow::{bail, Context as _, Result};
use avx_index::{Index, Level, SearchOptions};

use crate::cli::{ResultArgs, SearchArgs, SimilarArgs};
use crate::context::{absolute, Ctx};
use crate::output::{print_result_list, HitRow};
use crate::Outcome;

pub fn similar(ctx: &Ctx, args: SimilarArgs) -> Result<Outcome> {
    if let Some(url) = args.db.db.clone() {
        return crate::cmd::db::similar(ctx, args, &url);
    }
    let index = ctx.open_index()?;
    let query = absolute(&args.file)?;
    // An indexed, unchanged query file needs no model: its stored vector is the one avx would compute.
    let stored = index.file_by_path(&query).and_then(|fm| {
        let m = std::fs::metadata(&query).ok()?;
        let mtime = m
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos() as i64;
        (fm.size == m.len() && fm.mtime_ns == mtime)
            .then(|| index.file_vector(fm).map(<[f32]>::to_vec))
            .flatten()
    });
    let vector = match stored {
        Some(v) => v,
        None => {
            let (mut emb, hop) = ctx.embedder_for_index(&index)?;
            emb.embed_file(&query, Some(hop), 4)?.vector
        }
    };
    run_query(ctx, &index, &vector, &args.results, Some(&query))
}

pub fn search(ctx: &Ctx, args: SearchArgs) -> Result<Outcome> {
    if let Some(url) = args.db.db.clone() {
        return crate::cmd::db::search(ctx, args, &url);
    }
    let index = ctx.open_index()?;
    let (mut emb, _) = ctx.embedder_for_index(&index)?;
    let vector = text_vector(&mut emb, &args.text)?;
    run_query(ctx, &index, &vector, &args.results, None)
}

/// The query vector of a search text (words joined by spaces); an audio-only model is an error.
pub fn text_vector(emb: &mut avx_embed::Embedder, words: &[String]) -> Result<Vec<f32>> {
    let text = words.join(" ");
    if text.trim().is_empty() {
        bail!("the search text is empty");
    }
    if !emb.has_text() {
        bail!(
            "model '{}' (the model of this index) is audio-only: it has no text tower, so it cannot search by words; \
             use `avx similar FILE` to search by sound, or index with a CLAP model (`avx model list`) for text",
            emb.name()
        );
    }
    emb.embed_text(&text).context("cannot embed the query text")
}

fn run_query(
    ctx: &Ctx,
    index: &Index,
    vector: &[f32],
    args: &ResultArgs,
    exclude: Option<&std::path::Path>,
) -> Result<Outcome> {
    if vector.len() != index.settings().dim as usize {
        bail!(
            "the query vector has {} dimensions but the index holds {}: use the model the index was built with",
            vector.len(),
            index.settings().dim
        );
    }
    let within = args.within.as_deref().map(absolute).transpose()?;
    let hits = index.search(
        vector,
        &SearchOptions {
            k: args.k,
            level: if args.segments {
                Level::Window
            } else {
                Level::File
            },
            exact: args.exact,
            ef: args.ef.map(|ef| ef as usize),
            path_prefix: within.as_deref(),
            exclude_path: exclude,
            exact_below_rows: if args.approximate {
                0
            } else {
                SearchOptions::default().exact_below_rows
            },
        },
    )?;
    let rows: Vec<HitRow<'_>> = hits
        .iter()
        .enumerate()
        .map(|(i, h)| HitRow {
            rank: i + 1,
            score: h.score,
            path: &h.path,
            duration_s: index.file_by_id(h.file_id).map_or(0.0, |f| f.duration_s),
            window: h.window,
        })
        .collect();
    Ok(if print_result_list(&rows, args.format, ctx.global.json)? {
        Outcome::Found
    } else {
        Outcome::NothingFound
    })
}
