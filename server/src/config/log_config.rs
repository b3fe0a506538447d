//! [`LogConfig`]: the `[log]` section.

use std::str::FromStr;

use serde::Deserialize;

use super::{ConfigError, invalid};

/// What the server logs and how.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Which events are logged, in `tracing`'s `EnvFilter` syntax (`info`,
    /// `tickstream_server=debug`, …). `info` logs start-up, room lifecycle and problems, never
    /// anything per tick or per connection; `debug` adds a line per connection event.
    pub filter: String,
    /// `text` for people (the default), `json` (one object per line) for log pipelines.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, coloured on a terminal.
    Text,
    /// One JSON object per line, fields at the top level.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown log format {other:?}: expected text or json"
            )),
        }
    }
}

impl LogConfig {
    /// Refuses a filter `tracing` cannot parse.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match tracing_subscriber::EnvFilter::try_new(&self.filter) {
            Ok(_) => Ok(()),
            Err(e) => invalid("log.filter", e.to_string()),
        }
    }
}
