//! The command line: clap definitions, logging set-up, and one file per
//! command. Each command returns `Result<(), Error>`; `main` prints the
//! error as one line and exits with its code.

mod check;
mod completions;
mod demo;
mod explain;
pub mod logging;
mod ls;
mod preflight;
pub mod remote;
mod run;
mod url;
mod warm;

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
    /// Configuration file [default: $PRELOADD_CONFIG, else ./preload.toml].
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
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
    /// Request pages through the running daemon, so that visitors meet
    /// snapshots.
    ///
    /// The pages come from FILE, stdin (`-`) or a sitemap. Exit 1 when any
    /// page failed (5xx or no answer), after the others were warmed.
    Warm(warm::WarmArgs),
    /// Drop (or, with --soft, mark stale) snapshots through the running
    /// daemon's admin listener, and print how many.
    Invalidate(remote::InvalidateArgs),
    /// List the snapshots kept (target, size, age, state, tags, expiry):
    /// from the running daemon, or from the cache dir, read without
    /// changing it, when none runs.
    Ls(ls::LsArgs),
    /// Say what decides one URL's fate: its key, route, snapshot, state,
    /// tags, and the reason of its last PASS.
    Explain(explain::ExplainArgs),
    /// Print a shell completion script (bash, zsh or fish) on stdout.
    Completions {
        #[arg(value_enum)]
        shell: completions::Shell,
    },
    /// Start a slow demo app with the daemon in front of it, and a walkthrough.
    Demo,
}

/// Runs the command the command line names.
pub fn run(cli: Cli) -> Result<(), Error> {
    // The environment is read here rather than by clap, so that a command
    // can tell a `--config` on its command line (which `demo` refuses) from
    // the default.
    let config = || {
        cli.config
            .clone()
            .or_else(|| std::env::var_os("PRELOADD_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("preload.toml"))
    };
    match cli.command {
        None | Some(Command::Run) => run::run(&config()),
        Some(Command::Check) => check::check(&config()),
        Some(Command::Url {
            path,
            params,
            prefix,
        }) => url::url(&config(), prefix, &path, &params),
        Some(Command::Warm(ref args)) => warm::warm(&config(), args),
        Some(Command::Completions { shell }) => {
            completions::completions(shell);
            Ok(())
        }
        Some(Command::Invalidate(ref args)) => remote::invalidate(&config(), &args.selector()),
        Some(Command::Ls(ref args)) => ls::ls(&config(), args),
        Some(Command::Explain(ref args)) => explain::explain(&config(), args),
        Some(Command::Demo) => match cli.config {
            Some(_) => Err(Error::Usage(
                "demo: --config is not used: the demo writes a temporary config of its own".into(),
            )),
            None => demo::demo(),
        },
    }
}

/// The runtime of the daemon and of the commands: one worker per core
/// the process may use, or as many as `TOKIO_WORKER_THREADS` says. With
/// one, the current-thread scheduler: the main task and the connections
/// then share the one thread the core can run, with
/// no wake-up handed between threads and no work-stealing queue, which
/// saves a HIT some 290 of its 5,900 instructions (callgrind,
/// `scripts/hit_instructions.sh` under `taskset -c 0`).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    let mut builder = match workers()? {
        1 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(n);
            builder
        }
    };
    Ok(builder.enable_all().build()?)
}

/// How many threads run the runtime's tasks (see [`runtime`]). A
/// `TOKIO_WORKER_THREADS` that is no count is a usage error, not tokio's
/// panic at start.
fn workers() -> Result<usize, Error> {
    const NAME: &str = "TOKIO_WORKER_THREADS";
    let Some(value) = std::env::var_os(NAME) else {
        return Ok(std::thread::available_parallelism().map_or(1, |n| n.get()));
    };
    value
        .to_str()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::Usage(format!("{NAME}={value:?}: not a number of threads above 0")))
}
