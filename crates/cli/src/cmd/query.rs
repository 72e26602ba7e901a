//! `avx similar FILE` and `avx search TEXT`: one query vector, nearest neighbours, a result list (the query
//! itself is `avx_core::query`).

use anyhow::Result;
use avx_core::query::{self, QueryOptions};
use avx_index::Index;

use crate::cli::{ResultArgs, SearchArgs, SimilarArgs};
use crate::context::{absolute, Ctx};
use crate::output::print_result_list;
use crate::Outcome;

pub fn similar(ctx: &Ctx, args: SimilarArgs) -> Result<Outcome> {
    if let Some(url) = args.db.db.clone() {
        return crate::cmd::db::similar(ctx, args, &url);
    }
    let index = ctx.open_index()?;
    let query = absolute(&args.file)?;
    let vector = match query::stored_vector(&index, &query) {
        Some(v) => v,
        None => {
            let (mut emb, hop) = ctx.embedder_for_index(&index)?;
            query::file_vector(&mut emb, &query, Some(hop))?
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
    ctx.prefer_query_text_variant(&mut emb);
    let vector = query::text_vector(&mut emb, &args.text.join(" "))?;
    run_query(ctx, &index, &vector, &args.results, None)
}

fn run_query(
    ctx: &Ctx,
    index: &Index,
    vector: &[f32],
    args: &ResultArgs,
    exclude: Option<&std::path::Path>,
) -> Result<Outcome> {
    let within = args.within.as_deref().map(absolute).transpose()?;
    let hits = query::neighbours(
        index,
        vector,
        &QueryOptions {
            k: args.k,
            segments: args.segments,
            exact: args.exact,
            ef: args.ef.map(|ef| ef as usize),
            approximate: args.approximate,
            within: within.as_deref(),
            exclude,
        },
    )?;
    Ok(if print_result_list(&hits, args.format, ctx.global.json)? {
        Outcome::Found
    } else {
        Outcome::NothingFound
    })
}
