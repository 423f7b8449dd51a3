//! Debug logging: off unless asked for with `-v` or `RUST_LOG`, then to standard error.
//!
//! Events name key references in their redacted form, backends, requests (method, URL without
//! its query, status, attempt), auth schemes and where a passphrase came from; never a
//! passphrase, PIN, token, password, private key or secret value.

use tracing_subscriber::EnvFilter;

/// The directives `-v` (1), `-vv` (2) and `-vvv` (3 or more) stand for.
fn verbosity_directives(verbose: u8) -> Option<&'static str> {
    match verbose {
        0 => None,
        1 => Some("hallmark=debug"),
        2 => Some("hallmark=trace"),
        _ => Some("trace"),
    }
}

/// Install the stderr subscriber when `RUST_LOG` is set (non-empty) or `verbose > 0`; do
/// nothing otherwise, so the default output is exactly the commands' own.
pub(crate) fn init(verbose: u8) {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let directives = match (from_env, verbosity_directives(verbose)) {
        (None, None) => return,
        (Some(env), None) => env,
        (None, Some(v)) => v.to_owned(),
        (Some(env), Some(v)) => format!("{env},{v}"),
    };
    let filter = EnvFilter::builder().parse_lossy(directives);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .try_init();
    tracing::debug!(
        version = env!("CARGO_PKG_VERSION"),
        verbose,
        "hallmark debug logging on"
    );
}

#[cfg(test)]
mod tests {
    use super::verbosity_directives;

    #[test]
    fn verbosity_levels() {
        assert_eq!(verbosity_directives(0), None);
        assert_eq!(verbosity_directives(1), Some("hallmark=debug"));
        assert_eq!(verbosity_directives(2), Some("hallmark=trace"));
        assert_eq!(verbosity_directives(7), Some("trace"));
    }
}
