//! One module per subcommand; each exposes `run(&Ctx, args) -> anyhow::Result<Outcome>`.

pub mod cluster;
pub mod completions;
pub mod db;
pub mod debug;
pub mod dupes;
pub mod embed;
pub mod export;
pub mod index;
pub mod info;
pub mod model;
pub mod push;
pub mod query;
pub mod recurring;
pub mod serve;
pub mod tag;
pub mod timeline;
