//! Where log lines go and which ones: `--log-format text|json`, and
//! `--log-level`, else `RUST_LOG`, else `info` (SPEC §7).
//!
//! A filter that does not say what the operator meant must not start a
//! daemon that logs something else in silence: `--log-level` is checked by
//! clap ([`parse_level`]), so a typo is a usage error (exit 2) before
//! anything starts; a `RUST_LOG` is the environment's, so a bad directive
//! in it is reported on stderr and the valid rest is used.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;

use super::LogFormat;

/// The value parser of `--log-level`: comma-separated levels (`info`) or
/// `target=level` directives (`preloadd=debug,hyper=warn`). A bare word is
/// taken as a level, never as a target name as `RUST_LOG` would: an
/// operator who writes `--log-level verbose` means a level, and reading it
/// as "log only the target `verbose`" would silence the daemon.
pub fn parse_level(value: &str) -> Result<String, String> {
    const HELP: &str = "use error, warn, info, debug, trace or off, or target=level \
                        such as preloadd=debug";
    let mut directives = Vec::new();
    for item in value.split(',').map(str::trim) {
        let (target, level) = match item.split_once('=') {
            Some((target, level)) => (Some(target.trim()), level.trim()),
            None => (None, item),
        };
        // `LevelFilter` reads "" as `off`; nobody means that.
        let known = !level.is_empty() && level.parse::<LevelFilter>().is_ok();
        if !known || target.is_some_and(str::is_empty) {
            return Err(format!("invalid log level {item:?}: {HELP}"));
        }
        directives.push(match target {
            Some(target) => format!("{target}={level}"),
            None => level.to_string(),
        });
    }
    let directives = directives.join(",");
    EnvFilter::builder()
        .parse(&directives)
        .map_err(|e| format!("invalid log filter {value:?}: {e}"))?;
    Ok(directives)
}

/// Logs to stderr, as text or JSON lines. `level` was checked by
/// [`parse_level`].
pub fn init(format: LogFormat, level: Option<&str>) {
    let info = || EnvFilter::new("info");
    let filter = match level {
        Some(level) => EnvFilter::try_new(level).unwrap_or_else(|_| info()),
        None => from_env(std::env::var("RUST_LOG").ok().as_deref()).unwrap_or_else(info),
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The filter of `RUST_LOG`, if it is set and not empty. A bad directive
/// is reported on stderr (logging is not up yet) and left out; the valid
/// ones are kept, over a default of `info`.
fn from_env(value: Option<&str>) -> Option<EnvFilter> {
    let value = value.map(str::trim).filter(|v| !v.is_empty())?;
    let builder = || EnvFilter::builder().with_default_directive(LevelFilter::INFO.into());
    let mut valid = Vec::new();
    for directive in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match builder().parse(directive) {
            Ok(_) => valid.push(directive),
            Err(err) => {
                eprintln!("preloadd: RUST_LOG: ignoring the invalid directive {directive:?}: {err}")
            }
        }
    }
    builder().parse(valid.join(",")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_target_directives_are_accepted() {
        for ok in ["info", "DEBUG", "off", "preloadd=debug", "info,hyper=warn"] {
            assert_eq!(parse_level(ok).as_deref(), Ok(ok), "{ok}");
        }
        assert_eq!(
            parse_level("trace, preloadd = info").as_deref(),
            Ok("trace,preloadd=info")
        );
    }

    #[test]
    fn a_word_that_is_no_level_is_refused() {
        for bad in [
            "nonsense",
            "verbose",
            "",
            "info,",
            "preloadd=loud",
            "=debug",
            "preloadd",
        ] {
            let err = parse_level(bad).expect_err(bad);
            assert!(err.starts_with("invalid log"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_bad_rust_log_keeps_its_valid_directives() {
        assert!(from_env(None).is_none());
        assert!(from_env(Some("  ")).is_none());
        let filter = from_env(Some("preloadd=debug,hyper=loud")).expect("lossy");
        assert!(filter.to_string().contains("preloadd=debug"), "{filter}");
    }
}
