//! `avx`: the command line. Parses a request, calls `avx_embed` and `avx_index`, prints the result.
//!
//! Exit codes: 0 results found (or success), 1 ran fine but found nothing, 2 error. A closed pipe (`| head`)
//! ends the program quietly.

mod cli;
mod cmd;
mod context;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// What a command reports to `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Results found, or the command did what was asked.
    Found,
    /// Ran fine, nothing found.
    NothingFound,
    /// Ran to the end, but some inputs failed (reported on stderr).
    PartialFailure,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.quiet, cli.global.verbose);
    avx_embed::decode::quiet_caught_panics();
    let result = run(cli);
    match result {
        Ok(Outcome::Found) => ExitCode::from(0),
        Ok(Outcome::NothingFound) => ExitCode::from(1),
        Ok(Outcome::PartialFailure) => ExitCode::from(2),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::from(0);
            }
            eprintln!("avx: error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

/// Log messages of the libraries (the `log` facade) on stderr: warnings by default (a file with damaged packets),
/// more with `-v`, none with `--quiet`; `RUST_LOG` replaces the filter.
fn init_logging(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = if verbose >= 3 {
        level.to_string()
    } else {
        [
            "avx",
            "avx_embed",
            "avx_index",
            "avx_core",
            "avx_server",
            "avx_pg",
        ]
        .map(|c| format!("{c}={level}"))
        .join(",")
    };
    env_logger::Builder::new()
        .parse_filters(&format!("off,{filter}"))
        .parse_env("RUST_LOG")
        .format(|buf, record| {
            use std::io::Write as _;
            let level = match record.level() {
                log::Level::Error => "error",
                log::Level::Warn => "warning",
                log::Level::Info => "info",
                log::Level::Debug => "debug",
                log::Level::Trace => "trace",
            };
            writeln!(buf, "avx: {level}: {}", record.args())
        })
        .init();
}

fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let ctx = context::Ctx::new(cli.global)?;
    match cli.command {
        Command::Index(a) => cmd::index::run(&ctx, a),
        Command::Similar(a) => cmd::query::similar(&ctx, a),
        Command::Search(a) => cmd::query::search(&ctx, a),
        Command::Dupes(a) => cmd::dupes::run(&ctx, a),
        Command::Cluster(a) => cmd::cluster::run(&ctx, a),
        Command::Tag(a) => cmd::tag::run(&ctx, a),
        Command::Recurring(a) => cmd::recurring::run(&ctx, a),
        Command::Timeline(a) => cmd::timeline::run(&ctx, a),
        Command::Export(a) => cmd::export::run(&ctx, a),
        Command::Push(a) => cmd::push::run(&ctx, a),
        Command::Merge(a) => cmd::push::merge(&ctx, a),
        Command::Info => cmd::info::info(&ctx),
        Command::Serve(a) => cmd::serve::run(&ctx, a),
        Command::Verify => cmd::info::verify(&ctx),
        Command::Model(c) => cmd::model::run(&ctx, c),
        Command::Embed(a) => cmd::embed::run(&ctx, a),
        Command::Debug(c) => cmd::debug::run(&ctx, c),
        Command::Completions { shell } => cmd::completions::completions(shell),
        Command::Man => cmd::completions::man(),
    }
}
