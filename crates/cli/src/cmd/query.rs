//! `avx similar FILE` and `avx search TEXT`: one query vector, nearest neighbours, a result list (the query
//! itself is `avx_core::query`).

use anyhow::Result;
use avx_core::query::{self, QueryOptions};
use avx_index::Index;

use crate::cli::{ResultArgs, SearchArgs, SimilarArgs};
use crate::context::{absolute, Ctx};
use crate::output::{print_hits, Out};
use crate::Outcome;

pub fn similar(ctx: &Ctx, args: SimilarArgs) -> Result<Outcome> {
    let index = ctx.open_index()?;
    let query = absolute(&args.file)?;
    let vector = match query::stored_vector(&index, &query) {
        Some(v) => v,
        None => query::file_vector(&mut ctx.embedder_for_index(&index)?, &query)?,
    };
    run_query(ctx, &index, &vector, &args.results, Some(&query))
}

pub fn search(ctx: &Ctx, args: SearchArgs) -> Result<Outcome> {
    let index = ctx.open_index()?;
    let text = args.text.join(" ");
    if text.trim().is_empty() {
        anyhow::bail!("the search text is empty");
    }
    let vector = query::text_vector(&mut ctx.embedder_for_index(&index)?, &text)?;
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
    print_hits(&mut Out::new(), &hits, args.format, ctx.global.json)?;
    Ok(if hits.is_empty() {
        Outcome::NothingFound
    } else {
        Outcome::Found
    })
}
