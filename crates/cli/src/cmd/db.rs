//! `--db URL` on `avx similar`, `avx search` and `avx dupes`: the same queries against a table filled by
//! `avx push` (`avx_pg::Db`), printed by the same functions as the local ones. The query's embedding still runs
//! here, with the table's model.

use anyhow::{Context as _, Result};
use avx_core::FileRef;
use avx_embed::Embedder;
use avx_pg::{Db, DbQuery, Target};

use crate::cli::{DbArgs, DupesArgs, ResultArgs, SearchArgs, SimilarArgs};
use crate::context::{absolute, Ctx};
use crate::output::print_result_list;
use crate::Outcome;

fn open(args: &DbArgs, url: &str) -> Result<Db> {
    let target = Target::parse(url)?;
    Ok(Db::open(&target, &args.table)?)
}

/// The table's model, loaded here, with the hop of its windows; a model that makes other vectors is an error
/// naming both.
fn embedder(ctx: &Ctx, db: &Db, table: &str) -> Result<(Embedder, f64)> {
    ctx.embedder_for_space(db.settings(), &format!("table {table}"))
}

pub fn similar(ctx: &Ctx, args: SimilarArgs, url: &str) -> Result<Outcome> {
    let mut db = open(&args.db, url)?;
    let query = absolute(&args.file)?;
    let (mut emb, hop) = embedder(ctx, &db, &args.db.table)?;
    let vector = avx_core::query::file_vector(&mut emb, &query, Some(hop))?;
    run(ctx, &mut db, &vector, &args.results, Some(&query))
}

pub fn search(ctx: &Ctx, args: SearchArgs, url: &str) -> Result<Outcome> {
    let mut db = open(&args.db, url)?;
    let (mut emb, _) = embedder(ctx, &db, &args.db.table)?;
    ctx.prefer_query_text_variant(&mut emb);
    let vector = avx_core::query::text_vector(&mut emb, &args.text.join(" "))?;
    run(ctx, &mut db, &vector, &args.results, None)
}

fn run(
    ctx: &Ctx,
    db: &mut Db,
    vector: &[f32],
    args: &ResultArgs,
    exclude: Option<&std::path::Path>,
) -> Result<Outcome> {
    let within = args.within.as_deref().map(absolute).transpose()?;
    let hits = db.search(&DbQuery {
        vector,
        k: args.k,
        segments: args.segments,
        exact: args.exact,
        ef_search: args.ef,
        within: within.as_deref(),
        exclude,
    })?;
    // Hits carry the files table's row id (`id` column), not a local index id.
    let rows: Vec<avx_core::Hit> = hits
        .into_iter()
        .enumerate()
        .map(|(i, h)| avx_core::Hit {
            rank: i + 1,
            id: h.id,
            path: h.path,
            score: h.score,
            duration_s: h.duration_s,
            window: h.window,
        })
        .collect();
    Ok(if print_result_list(&rows, args.format, ctx.global.json)? {
        Outcome::Found
    } else {
        Outcome::NothingFound
    })
}

pub fn dupes(ctx: &Ctx, args: DupesArgs, url: &str) -> Result<Outcome> {
    let mut db = open(&args.db, url)?;
    let within = args.within.as_deref().map(absolute).transpose()?;
    let vectors = db
        .vectors(args.segments, within.as_deref())
        .context("cannot read the table's vectors")?;
    let st = db.settings();
    let dim = st.dim as usize;
    // Rows come ordered by path: a new path is a new file (its number is the file id the grouping needs).
    let mut files = Vec::with_capacity(vectors.len());
    let mut windows = Vec::with_capacity(vectors.len());
    let mut data = Vec::with_capacity(vectors.len() * dim);
    let mut file = 0u64;
    for (i, v) in vectors.iter().enumerate() {
        if i > 0 && vectors[i - 1].path != v.path {
            file += 1;
        }
        files.push(FileRef {
            id: file,
            path: v.path.clone(),
        });
        windows.push(v.window);
        data.extend_from_slice(&v.vector);
    }
    let family = avx_embed::family::family_of(&st.family, &st.frontend);
    let opts = crate::cmd::dupes::options(&args, within.as_deref());
    // The index the table was pushed from, when it is on this machine: its sound prints confirm candidates.
    let local = if ctx.index_dir().join("meta.redb").exists() {
        Some(ctx.open_index()?)
    } else {
        None
    };
    let groups = avx_core::dupes::groups_of_rows(
        &files,
        &windows,
        &data,
        dim,
        &family,
        &opts,
        local.as_ref(),
    )?;
    crate::cmd::dupes::print_groups(ctx, &groups)
}
