//! One module per subcommand; each exposes `run(&Ctx, args) -> anyhow::Result<Outcome>`.

pub mod cluster;
pub mod completions;
pub mod debug;
pub mod dupes;
pub mod embed;
pub mod export;
pub mod index;
pub mod info;
pub mod model;
pub mod query;
pub mod serve;
pub mod tag;
