//! The `tracing` subscriber: readable text by default, one JSON object per line on request.
//!
//! Levels, by habit: `info` for start-up, room lifecycle (started, stopped), the drain and
//! problems; `debug` for a line per connection lifecycle event (accepted, refused, opened,
//! joined, closed); nothing per tick above `trace`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The filter does not parse.
    #[error("invalid log filter {filter:?}: {cause}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// The parse error.
        cause: tracing_subscriber::filter::ParseError,
    },
    /// A global subscriber is already installed.
    #[error("a tracing subscriber is already installed: {0}")]
    Installed(String),
}

/// Installs the global subscriber: text (coloured only on a terminal) or flattened JSON
/// lines, to stdout.
pub fn init(config: &LogConfig) -> Result<(), LogError> {
    let filter = EnvFilter::try_new(&config.filter).map_err(|cause| LogError::Filter {
        filter: config.filter.clone(),
        cause,
    })?;
    let fmt = tracing_subscriber::fmt().with_env_filter(filter);
    let installed = match config.format {
        LogFormat::Text => fmt.with_ansi(std::io::stdout().is_terminal()).try_init(),
        // Fields at the top level, next to `message`, as log pipelines (Loki, Elasticsearch,
        // Cloud Logging) index them; the span (`conn` with the peer) stays a nested object.
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    installed.map_err(|e| LogError::Installed(e.to_string()))
}
