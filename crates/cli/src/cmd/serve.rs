//! `avx serve`: parses the flags, resolves the index and its model through [`Ctx`], and hands them to
//! `avx_server`, which owns everything else.

use std::io::Write as _;

use anyhow::{Context as _, Result};
use avx_server::{ServeConfig, Server};

use crate::cli::ServeArgs;
use crate::context::{absolute, Ctx};
use crate::Outcome;

pub fn run(ctx: &Ctx, args: ServeArgs) -> Result<Outcome> {
    let index = ctx.open_index()?;
    let (mut model, hop) = ctx.embedder_for_index(&index)?;
    drop(index);
    // Text queries use the same text tower as `avx search` (int8 when the model has it; --variant overrides).
    ctx.prefer_query_text_variant(&mut model);
    let cfg = ServeConfig {
        bind: args.bind,
        token: args.token,
        cors: args.cors,
        upload_limit: args.upload_limit.saturating_mul(1024 * 1024),
        threads: ctx.threads.clamp(1, 2),
        hop_s: Some(hop),
        motifs: args.motifs.map(|m| absolute(&m)).transpose()?,
    };
    let server = Server::start(&ctx.index_dir(), model, cfg)
        .with_context(|| format!("cannot serve the index {}", ctx.index_dir().display()))?;
    let url = match server.token() {
        Some(t) => format!("{}?token={t}", server.url()),
        None => server.url(),
    };
    // Always printed (also with --quiet): a client needs the address, and the port when bound to port 0. Write
    // errors are ignored: a closed stderr must not stop the server.
    let mut err = std::io::stderr();
    let _ = writeln!(err, "avx: serving {} at {url}", ctx.index_dir().display());
    if let Some(t) = server.token() {
        let _ = writeln!(
            err,
            "avx: token: {t} (send `Authorization: Bearer {t}`, or open the link above)"
        );
    }
    let _ = writeln!(err, "avx: press Ctrl-C to stop");
    if args.open {
        open_browser(&url);
    }
    server.wait();
    Ok(Outcome::Found)
}

/// Opens `url` with the desktop's opener; failing to is not an error (the address is printed).
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if std::process::Command::new(opener).arg(url).spawn().is_err() {
        let _ = writeln!(
            std::io::stderr(),
            "avx: cannot start {opener}: open {url} yourself"
        );
    }
}
