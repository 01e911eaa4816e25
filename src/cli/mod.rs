//! The command line: clap definitions, logging set-up, and one file per
//! command. Each command returns `Result<(), Error>`; `main` prints the
//! error as one line and exits with its code.

mod check;
mod demo;
pub mod logging;
mod preflight;
pub mod remote;
mod run;
mod url;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::Error;

/// A caching reverse proxy that serves preloaded page snapshots.
///
/// preloadd recognizes preload URLs (`/_preload/...` and `[[route]]`s with
/// `snapshot = true`), fetches each page from the app once, keeps a snapshot
/// on disk and serves it from then on; everything else is passed through.
#[derive(Debug, Parser)]
#[command(name = "preloadd", version)]
pub struct Cli {
    /// Configuration file.
    #[arg(
        long,
        global = true,
        env = "PRELOADD_CONFIG",
        default_value = "preload.toml"
    )]
    pub config: PathBuf,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `preloadd=debug,hyper=warn` (overrides RUST_LOG).
    #[arg(long, global = true, value_parser = logging::parse_level)]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (the default).
    Run,
    /// Validate the configuration and print the effective settings.
    Check,
    /// Print the preload URL of PATH with extra parameter strings joined by
    /// the `static_preload` rule.
    Url {
        /// Upstream path, e.g. /events/
        path: String,
        /// Query strings to append ("a=1&b=2", "?c=3&", ""); empty ones are skipped.
        #[arg(allow_hyphen_values = true)]
        params: Vec<String>,
        /// Preload prefix (default: the config's, else /_preload).
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Drop (or, with --soft, mark stale) snapshots through the running
    /// daemon's admin listener, and print how many.
    Invalidate(remote::InvalidateArgs),
    /// Start a slow demo app with the daemon in front of it, and a walkthrough.
    Demo,
}

/// Runs the command the command line names.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.command.unwrap_or(Command::Run) {
        Command::Run => run::run(&cli.config),
        Command::Check => check::check(&cli.config),
        Command::Url {
            path,
            params,
            prefix,
        } => url::url(&cli.config, prefix, &path, &params),
        Command::Invalidate(args) => remote::invalidate(&cli.config, &args.selector()),
        Command::Demo => demo::demo(),
    }
}

/// A multi-thread runtime with one worker per core the process may use.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
