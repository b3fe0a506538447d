//! [`Overrides`]: the settings a flag or an environment variable can override, derived with
//! `clap` so that the binary's flags, their environment variables and their help text are
//! written once.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{Config, LogFormat, OptionalAddr};

/// Overrides from the command line or the environment (flags win); `None` leaves the value of
/// the file or the default as it is.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// wss listener address [default: 127.0.0.1:7443].
    #[arg(long, env = "TICKSTREAM_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Plain ws listener address (off unless set).
    #[arg(long, env = "TICKSTREAM_WS_LISTEN")]
    pub ws_listen: Option<SocketAddr>,
    /// PEM certificate chain (with --tls-key); without both, a self-signed certificate for
    /// localhost is generated.
    #[arg(long, env = "TICKSTREAM_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key.
    #[arg(long, env = "TICKSTREAM_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Simulation ticks per second [default: 30].
    #[arg(
        long = "tick-rate",
        env = "TICKSTREAM_TICK_RATE",
        value_name = "TICK_RATE"
    )]
    pub tick_rate_hz: Option<u16>,
    /// Open connections allowed [default: 10000].
    #[arg(long, env = "TICKSTREAM_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Ops listener for /metrics, /healthz and /readyz, or `off` [default: 127.0.0.1:7444].
    #[arg(long, env = "TICKSTREAM_METRICS_LISTEN", value_name = "ADDR|off")]
    pub metrics_listen: Option<OptionalAddr>,
    /// Longest time from SIGTERM/SIGINT to exit, in milliseconds [default: 10000].
    #[arg(long, env = "TICKSTREAM_SHUTDOWN_GRACE_MS")]
    pub shutdown_grace_ms: Option<u64>,
    /// After SIGTERM/SIGINT, keep sessions playing this long (with /readyz at 503) before
    /// closing them with 1001, in milliseconds [default: 0].
    #[arg(long, env = "TICKSTREAM_DRAIN_DELAY_MS")]
    pub drain_delay_ms: Option<u64>,
    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `tickstream_server=debug`
    /// [default: info].
    #[arg(long = "log", env = "TICKSTREAM_LOG", value_name = "LOG")]
    pub log_filter: Option<String>,
    /// Log format [default: text].
    #[arg(long, env = "TICKSTREAM_LOG_FORMAT", value_name = "text|json")]
    pub log_format: Option<LogFormat>,
    /// Secret that join tokens are signed with (prefer the environment variable: a flag is
    /// visible in the process list). Unset, anyone may join any room.
    #[arg(long, env = "TICKSTREAM_JOIN_SECRET", hide_env_values = true)]
    pub join_secret: Option<String>,
    /// Record every room's match into this directory, for `tickstream-server replay FILE`
    /// (see docs/RECORDING.md) [default: off].
    #[arg(long = "record", env = "TICKSTREAM_RECORD", value_name = "DIR")]
    pub record_dir: Option<PathBuf>,
    /// Secret shared with a successor for handing rooms over on a drain (prefer the
    /// environment variable). Unset, rooms are not handed over and none are accepted.
    #[arg(long, env = "TICKSTREAM_HANDOFF_SECRET", hide_env_values = true)]
    pub handoff_secret: Option<String>,
    /// The successor's ops listener, `http://HOST:PORT`, that draining rooms go to (with
    /// --handoff-successor-url).
    #[arg(long, env = "TICKSTREAM_HANDOFF_SUCCESSOR", value_name = "URL")]
    pub handoff_successor: Option<String>,
    /// The WebSocket URL the successor's players connect to (`wss://HOST:PORT/ws`).
    #[arg(long, env = "TICKSTREAM_HANDOFF_SUCCESSOR_URL", value_name = "URL")]
    pub handoff_successor_url: Option<String>,
}

impl Overrides {
    /// Writes every override that was given into `config`.
    pub fn apply_to(&self, config: &mut Config) {
        let o = self;
        let s = &mut config.server;
        if let Some(v) = &o.join_secret {
            s.join_secret = Some(v.clone());
        }
        let h = &mut config.handoff;
        if let Some(v) = &o.handoff_secret {
            h.secret = Some(v.clone());
        }
        if let Some(v) = &o.handoff_successor {
            h.successor = Some(v.clone());
        }
        if let Some(v) = &o.handoff_successor_url {
            h.successor_url = Some(v.clone());
        }
        let s = &mut config.server;
        if let Some(v) = o.listen {
            s.listen = v;
        }
        if let Some(v) = o.ws_listen {
            s.ws_listen = Some(v);
        }
        if let Some(v) = &o.tls_cert {
            s.tls_cert = Some(v.clone());
        }
        if let Some(v) = &o.tls_key {
            s.tls_key = Some(v.clone());
        }
        if let Some(v) = o.max_connections {
            s.max_connections = v;
        }
        if let Some(v) = o.metrics_listen {
            s.metrics_listen = v.0;
        }
        if let Some(v) = o.shutdown_grace_ms {
            s.shutdown_grace_ms = v;
        }
        if let Some(v) = o.drain_delay_ms {
            s.drain_delay_ms = v;
        }
        if let Some(v) = o.tick_rate_hz {
            config.game.tick_rate_hz = v;
        }
        if let Some(v) = &o.log_filter {
            config.log.filter = v.clone();
        }
        if let Some(v) = o.log_format {
            config.log.format = v;
        }
        if let Some(v) = &o.record_dir {
            config.recording.dir = Some(v.clone());
        }
    }
}
