use std::process::ExitCode;

use clap::Parser;
use preloadd::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::logging::init(cli.log_format, cli.log_level.as_deref());
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line per problem (a config may have several).
            for line in err.to_string().lines() {
                eprintln!("preloadd: {line}");
            }
            ExitCode::from(err.exit_code())
        }
    }
}
