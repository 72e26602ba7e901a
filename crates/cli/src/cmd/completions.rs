//! `avx completions SHELL` and `avx man`, generated from the clap definitions.

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::Cli;
use crate::Outcome;

pub fn completions(shell: clap_complete::Shell) -> Result<Outcome> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "avx", &mut std::io::stdout());
    Ok(Outcome::Found)
}

pub fn man() -> Result<Outcome> {
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
    Ok(Outcome::Found)
}
