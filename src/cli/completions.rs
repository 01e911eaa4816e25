//! `preloadd completions SHELL`: a completion script for the shell, made by
//! `clap_complete` from the same definitions as `--help`, so the two never
//! disagree.

use clap::{CommandFactory, ValueEnum};

use super::Cli;

/// The shells SPEC §8 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Writes the script for `shell` to stdout.
pub fn completions(shell: Shell) {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "preloadd",
        &mut std::io::stdout(),
    );
}
