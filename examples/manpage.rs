//! Writes the manual pages into DIR: `preloadd.1` and one
//! `preloadd-COMMAND.1` per command, made by `clap_mangen` from the same
//! definitions as `--help` and the completions, so the three never
//! disagree. The Debian package ships them (`packaging/deb/build.sh`):
//!
//!     cargo run --example manpage -- target/deb-assets/man
//!
//! An example rather than a command of the daemon: a hidden subcommand
//! would still be offered by the shell completions.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory;
use preloadd::cli::Cli;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: manpage DIR");
        return ExitCode::from(2);
    };
    let written =
        std::fs::create_dir_all(&dir).and_then(|()| clap_mangen::generate_to(Cli::command(), &dir));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!(
                "manpage: cannot write the pages into {}: {err}",
                dir.display()
            );
            ExitCode::from(1)
        }
    }
}
