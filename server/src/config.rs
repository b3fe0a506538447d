//! Configuration: built-in defaults, overridden by a TOML file, then by environment variables
//! and command-line flags (see `docs/CONFIG.md` for every setting).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use crate::sim::{CoinsParams, GameParams};

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown or mistyped keys.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: Box<toml::de::Error>,
    },
    /// A value is out of its allowed range.
    #[error("invalid setting {key}: {reason}")]
    Invalid {
        /// The setting's name.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Everything the server needs to run.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Network listeners, TLS and per-connection limits.
    pub server: ServerConfig,
    /// The reference arena's settings (the `arena` game).
    pub game: GameParams,
    /// The coin game's settings (the `coins` game).
    pub coins: CoinsParams,
    /// Which game each room runs, and the room lifecycle: resume, events, disposal.
    pub rooms: RoomsConfig,
    /// What the server logs and how.
    pub log: LogConfig,
    /// Running as an Agones game server: off by default.
    pub agones: AgonesConfig,
    /// How updates are sent: the per-client bandwidth budget.
    pub sync: SyncConfig,
}

/// How updates are sent to each client.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// The most update bytes (WebSocket payload) one client is sent per second; 0, the
    /// default, sets no limit. Off by default because a budget trades freshness for bytes: with
    /// one, an update that would exceed it carries the entities of highest accumulated priority
    /// (nearer and longer unsent first) and the rest follow on later ticks. Each client then
    /// builds its own update (no shared body), which costs server CPU in broadcast rooms.
    pub max_bytes_per_client_per_sec: u32,
}

/// The Agones lifecycle through the SDK sidecar's HTTP gateway (`docs/DEPLOY.md`). Off by
/// default: with `enabled = false` nothing tries to reach a sidecar.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgonesConfig {
    /// Report to the Agones SDK sidecar: Ready once the listeners are bound, Health pings,
    /// counts, labels, Shutdown. Needs the `agones` cargo feature (on by default).
    pub enabled: bool,
    /// The sidecar's HTTP gateway. Unset: `127.0.0.1` on the port in `AGONES_SDK_HTTP_PORT`
    /// (which Agones sets in the game server's container), else on 9358, the SDK's default.
    pub sdk_address: Option<SocketAddr>,
    /// How often the server sends a Health ping, in milliseconds. Agones marks a game server
    /// Unhealthy after `failureThreshold` (3) missed periods of `periodSeconds` (5 s) by
    /// default; a ping every 2 s leaves two chances within each of its periods. Counts are
    /// checked and pushed on the same period.
    pub health_period_ms: u64,
    /// The longest one call to the sidecar may take, in milliseconds, before it counts as an
    /// error. Shorter than the health period so that a hung sidecar never delays a ping.
    pub request_timeout_ms: u64,
    /// Shut down (tell Agones, then drain and exit 0) once every room is empty after at least
    /// one player had joined: one match per game server. Off: the server serves until Agones
    /// or a signal stops it.
    pub shutdown_when_empty: bool,
    /// The GameServer label naming the room an allocation asked for; the server opens that
    /// room when the label appears. Empty ignores labels.
    pub room_label: String,
    /// The GameServer label naming the game that room runs (a game the server has); without
    /// it, the room's `[[rooms.rule]]` or `rooms.default_game` decides.
    pub game_label: String,
    /// The Agones Counter (`spec.counters`) kept at the number of players; empty does not
    /// report players.
    pub players_counter: String,
    /// The Agones Counter kept at the number of rooms alive; empty does not report rooms.
    pub rooms_counter: String,
}

impl Default for AgonesConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            sdk_address: None,
            health_period_ms: 2_000,
            request_timeout_ms: 1_000,
            shutdown_when_empty: false,
            room_label: "tickstream.dev/room".into(),
            game_label: "tickstream.dev/game".into(),
            players_counter: "players".into(),
            rooms_counter: "rooms".into(),
        }
    }
}

impl AgonesConfig {
    /// The port the sidecar's HTTP gateway listens on by default.
    pub const DEFAULT_SDK_HTTP_PORT: u16 = 9358;

    /// The sidecar's address: `sdk_address`, else `127.0.0.1:$AGONES_SDK_HTTP_PORT`, else
    /// `127.0.0.1:9358` (also when `AGONES_SDK_HTTP_PORT` is not a port number).
    #[must_use]
    pub fn sdk_address(&self) -> SocketAddr {
        if let Some(addr) = self.sdk_address {
            return addr;
        }
        let port = std::env::var("AGONES_SDK_HTTP_PORT")
            .ok()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(Self::DEFAULT_SDK_HTTP_PORT);
        SocketAddr::from(([127, 0, 0, 1], port))
    }
}

/// Which game each room runs, and how long rooms and dropped players are kept.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomsConfig {
    /// The game of a room no rule matches: the reference arena.
    pub default_game: String,
    /// How long a dropped player's entity waits for its `Resume`, in milliseconds (then the
    /// game is told the player left and the token is refused with 4005). Twenty seconds covers
    /// a phone switching between Wi-Fi and mobile data, or a tunnel.
    pub resume_grace_ms: u64,
    /// How long a room with no players at all (not even dropped ones) lives on, in
    /// milliseconds, before it is disposed. Thirty seconds lets a group that all dropped at
    /// once come back to the same room, and frees memory soon after a match ends.
    pub empty_timeout_ms: u64,
    /// One-shot events waiting for one client's writer; one more closes the connection with
    /// 4004. A writer takes all of them with every update, so 256 means several seconds of a
    /// busy game without the client reading.
    pub max_pending_events: usize,
    /// Events kept per player to re-send after a resume. 256 covers a grace period of a
    /// busy game; a resume that needs older ones is refused (4005) rather than served with a
    /// gap.
    pub event_history: usize,
    /// Rules giving rooms their game and player cap, by exact name (such a room is started with
    /// the server and never disposed) or by name prefix (rooms created on join); the first
    /// matching rule wins. By default rooms named `coins…` run the coin game.
    pub rule: Vec<RoomRule>,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        Self {
            default_game: "arena".into(),
            resume_grace_ms: 20_000,
            empty_timeout_ms: 30_000,
            max_pending_events: 256,
            event_history: 256,
            rule: vec![RoomRule {
                name: None,
                prefix: Some("coins".into()),
                game: "coins".into(),
                // A 300-unit field with 40 coins is a game for a few dozen; every pickup is
                // an event to every player.
                max_players: Some(64),
            }],
        }
    }
}

/// One `[[rooms.rule]]`: exactly one of `name` and `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomRule {
    /// This exact room: started with the server and kept while it runs.
    pub name: Option<String>,
    /// Rooms whose name starts with this, created on join.
    pub prefix: Option<String>,
    /// The game they run.
    pub game: String,
    /// Their player cap (default `server.max_players_per_room`).
    pub max_players: Option<usize>,
}

impl RoomRule {
    /// True when this rule applies to the room `room`.
    #[must_use]
    pub fn matches(&self, room: &str) -> bool {
        match (&self.name, &self.prefix) {
            (Some(name), _) => name == room,
            (None, Some(prefix)) => room.starts_with(prefix.as_str()),
            (None, None) => false,
        }
    }
}

/// Listeners, TLS and the limits that protect the server from its peers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The wss:// listener. Loopback by default: exposing a server is a deliberate act.
    pub listen: SocketAddr,
    /// An optional plain ws:// listener: for local benchmarks and for running behind a
    /// TLS-terminating proxy. Off by default so that nothing is served unencrypted by accident.
    pub ws_listen: Option<SocketAddr>,
    /// PEM certificate chain for the wss listener. Without it (and `tls_key`), a self-signed
    /// certificate for localhost is generated at start-up.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key matching `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Open connections across all listeners; one more gets HTTP 503. 10,000 is far above what
    /// one process serves at 30 Hz and well below the default file-descriptor limit we raise to.
    pub max_connections: usize,
    /// Open connections from one IP address; one more gets HTTP 503. 32 lets a household or
    /// an office behind one NAT play together while one host cannot take every slot.
    pub max_connections_per_ip: usize,
    /// The shared secret join tokens are signed with (at least 16 bytes). Unset, the server is
    /// open: anyone may join any room (and a warning says so at start-up).
    pub join_secret: Option<String>,
    /// Browser origins (`scheme://host[:port]`, exactly as browsers send `Origin`) allowed to
    /// connect; a listed origin is required of every request that carries an `Origin` header
    /// (native clients send none). Empty allows every origin, with a warning at start-up.
    pub allowed_origins: Vec<String>,
    /// Addresses the per-address cap does not apply to. The host itself by default: local load
    /// tests, and a reverse proxy on the same host through which every player arrives.
    pub per_ip_exempt: Vec<std::net::IpAddr>,
    /// Reverse proxies whose `X-Forwarded-For` header names the client. A connection from one
    /// of these addresses is counted under the per-address cap (and logged) as the right-most
    /// forwarded address that is not itself a trusted proxy; without a usable header, as the
    /// proxy. Empty by default: no peer's header is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Rooms alive at once; a join that would create one more is refused with 1013.
    pub max_rooms: usize,
    /// Live rooms that one address may have created by joining new names; its next new room is
    /// refused with 1013 (counted as `room_creation_limit`), while joining existing rooms stays
    /// open. Without it, one peer could fill `max_rooms`. `per_ip_exempt` addresses are not
    /// limited, nor are rooms opened by the operator or configured ones.
    pub max_rooms_per_ip: usize,
    /// Players in one room; one more is refused with 1013.
    pub max_players_per_room: usize,
    /// Time for the TLS handshake and the HTTP upgrade request, in milliseconds: a peer that
    /// opens a socket and stalls holds a connection slot only this long.
    pub handshake_timeout_ms: u64,
    /// The largest HTTP request head (request line and headers) read before the upgrade, in
    /// bytes; a longer one is answered 431 and counted (`head_too_large`). A browser's upgrade
    /// request is well under 2 KiB; 16 KiB leaves room for long cookies while 10,000
    /// connections trickling headers hold at most about 160 MiB. At least 8192 (hyper's
    /// smallest read buffer).
    pub max_request_head_bytes: usize,
    /// Time from the upgrade to the `Join` message, in milliseconds (close code 4001). Ten
    /// seconds covers a slow mobile start; a silent socket holds a slot no longer.
    pub join_timeout_ms: u64,
    /// Largest client message, in bytes, whether in one frame or reassembled from fragments
    /// (close code 1009 beyond it). Every protocol message fits in 256 bytes; 4 KiB leaves
    /// room for protocol growth while bounding what a peer can make the server buffer.
    pub max_message_bytes: usize,
    /// How often the server pings a client, in milliseconds. Keeps NAT and proxy mappings
    /// alive and lets a silent client prove it is still there.
    pub ping_interval_ms: u64,
    /// How long a client may send nothing at all (no input, ping or pong), in milliseconds,
    /// before close code 4003. Twice the ping interval: a live client answers every ping.
    pub idle_timeout_ms: u64,
    /// How long a client may stay unable to take its updates before it is disconnected with
    /// close code 4000, in milliseconds. Five seconds rides out a mobile network hiccup.
    pub slow_client_timeout_ms: u64,
    /// Sustained messages per second a client may send (close code 1008 beyond it). Inputs at
    /// 20–60 Hz plus pings fit comfortably.
    pub max_messages_per_sec: u32,
    /// Messages a client may send in a burst above the sustained rate.
    pub message_burst: u32,
    /// After the server sends a close frame, how long it keeps reading (and discarding) what
    /// the peer still sends before dropping the socket, in milliseconds. Dropping a socket
    /// with unread bytes resets the connection, which can destroy the close frame on its way.
    /// 0 drops at once.
    pub close_linger_ms: u64,
    /// The most bytes read during that time; a peer that keeps sending is dropped after them.
    pub close_linger_bytes: usize,
    /// The ops listener: Prometheus `/metrics`, `/healthz` and `/readyz`, plain HTTP. Loopback
    /// port 7444 by default: a scraper on the same host (or a sidecar) reaches it, the internet
    /// does not. `"off"` in the file or on the command line disables it (and the recorder).
    #[serde(deserialize_with = "optional_addr")]
    pub metrics_listen: Option<SocketAddr>,
    /// From the shutdown signal to the process exit at the latest, in milliseconds: sessions
    /// get their 1001 close and rooms finish their tick well within it; ten seconds leaves a
    /// wide margin under Kubernetes' default 30 s termination grace.
    pub shutdown_grace_ms: u64,
    /// After the shutdown signal, how long sessions keep playing while `/readyz` answers 503 and
    /// new upgrades are refused, before every session is closed with 1001, in milliseconds.
    /// Gives a load balancer that polls `/readyz` time to stop sending players here. Zero by
    /// default: orchestrators stop routing to a terminating pod themselves, and clients
    /// reconnect on 1001 at once.
    pub drain_delay_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7443)),
            ws_listen: None,
            tls_cert: None,
            tls_key: None,
            max_connections: 10_000,
            max_connections_per_ip: 32,
            join_secret: None,
            allowed_origins: Vec::new(),
            per_ip_exempt: vec![
                std::net::IpAddr::from([127, 0, 0, 1]),
                std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            ],
            trusted_proxies: Vec::new(),
            max_rooms: 1_000,
            max_rooms_per_ip: 8,
            max_players_per_room: 5_000,
            handshake_timeout_ms: 5_000,
            max_request_head_bytes: 16 * 1024,
            join_timeout_ms: 10_000,
            max_message_bytes: 4_096,
            ping_interval_ms: 15_000,
            idle_timeout_ms: 30_000,
            slow_client_timeout_ms: 5_000,
            max_messages_per_sec: 60,
            message_burst: 120,
            close_linger_ms: 1_000,
            close_linger_bytes: 1 << 20,
            metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], 7444))),
            shutdown_grace_ms: 10_000,
            drain_delay_ms: 0,
        }
    }
}

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

/// A listener address that can be switched off: `"off"` (or the empty string) is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalAddr(pub Option<SocketAddr>);

impl FromStr for OptionalAddr {
    type Err = std::net::AddrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "" | "off" => Ok(Self(None)),
            addr => addr.parse().map(|a| Self(Some(a))),
        }
    }
}

impl fmt::Display for OptionalAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => f.write_str("off"),
        }
    }
}

fn optional_addr<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse::<OptionalAddr>()
        .map(|a| a.0)
        .map_err(|e| serde::de::Error::custom(format!("{e}: expected an address or \"off\"")))
}

/// Overrides from the command line or the environment; `None` leaves the value as it is.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen` / `TICKSTREAM_LISTEN`.
    pub listen: Option<SocketAddr>,
    /// `--ws-listen` / `TICKSTREAM_WS_LISTEN`.
    pub ws_listen: Option<SocketAddr>,
    /// `--tls-cert` / `TICKSTREAM_TLS_CERT`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key` / `TICKSTREAM_TLS_KEY`.
    pub tls_key: Option<PathBuf>,
    /// `--tick-rate` / `TICKSTREAM_TICK_RATE`.
    pub tick_rate_hz: Option<u16>,
    /// `--max-connections` / `TICKSTREAM_MAX_CONNECTIONS`.
    pub max_connections: Option<usize>,
    /// `--metrics-listen` / `TICKSTREAM_METRICS_LISTEN` (`off` disables it).
    pub metrics_listen: Option<OptionalAddr>,
    /// `--shutdown-grace-ms` / `TICKSTREAM_SHUTDOWN_GRACE_MS`.
    pub shutdown_grace_ms: Option<u64>,
    /// `--drain-delay-ms` / `TICKSTREAM_DRAIN_DELAY_MS`.
    pub drain_delay_ms: Option<u64>,
    /// `--log` / `TICKSTREAM_LOG`.
    pub log_filter: Option<String>,
    /// `--log-format` / `TICKSTREAM_LOG_FORMAT`.
    pub log_format: Option<LogFormat>,
    /// `TICKSTREAM_JOIN_SECRET` (or `--join-secret`).
    pub join_secret: Option<String>,
}

impl Config {
    /// Defaults, then `file` if given, then `overrides`; validated.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut config = match file {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        config.apply(overrides);
        config.validate()?;
        Ok(config)
    }

    /// Parses a TOML file; missing keys keep their defaults, unknown keys are errors.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Applies command-line and environment overrides.
    pub fn apply(&mut self, o: &Overrides) {
        let s = &mut self.server;
        if let Some(v) = &o.join_secret {
            s.join_secret = Some(v.clone());
        }
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
            self.game.tick_rate_hz = v;
        }
        if let Some(v) = &o.log_filter {
            self.log.filter = v.clone();
        }
        if let Some(v) = o.log_format {
            self.log.format = v;
        }
    }

    /// Refuses settings the server cannot run with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, reason: &str| {
            Err(ConfigError::Invalid {
                key,
                reason: reason.to_owned(),
            })
        };
        let s = &self.server;
        if s.tls_cert.is_some() != s.tls_key.is_some() {
            return invalid("server.tls_cert", "tls_cert and tls_key go together");
        }
        if s.join_secret.as_ref().is_some_and(|k| k.len() < 16) {
            return invalid("server.join_secret", "must be at least 16 bytes");
        }
        for (key, cap) in [
            ("server.max_connections", s.max_connections),
            ("server.max_connections_per_ip", s.max_connections_per_ip),
            ("server.max_rooms", s.max_rooms),
            ("server.max_rooms_per_ip", s.max_rooms_per_ip),
            ("server.max_players_per_room", s.max_players_per_room),
        ] {
            if cap == 0 {
                return invalid(key, "a cap must be at least 1");
            }
        }
        if s.max_request_head_bytes < 8192 {
            return invalid(
                "server.max_request_head_bytes",
                "must be at least 8192 bytes (the smallest buffer hyper reads requests with)",
            );
        }
        if s.max_message_bytes < 64 || s.max_message_bytes > 1 << 20 {
            return invalid(
                "server.max_message_bytes",
                "must be between 64 bytes (a Join) and 1 MiB",
            );
        }
        if s.ping_interval_ms == 0 || s.idle_timeout_ms <= s.ping_interval_ms {
            return invalid(
                "server.idle_timeout_ms",
                "pings must be on, and the idle timeout longer than the ping interval",
            );
        }
        if s.max_messages_per_sec == 0 || s.message_burst == 0 {
            return invalid(
                "server.max_messages_per_sec",
                "rate limits must be at least 1",
            );
        }
        if s.drain_delay_ms >= s.shutdown_grace_ms {
            return invalid(
                "server.drain_delay_ms",
                "must be shorter than server.shutdown_grace_ms: sessions need time to close",
            );
        }
        let a = &self.agones;
        if a.enabled && !cfg!(feature = "agones") {
            return invalid(
                "agones.enabled",
                "this server was built without the `agones` cargo feature",
            );
        }
        if !(100..=60_000).contains(&a.health_period_ms) {
            return invalid("agones.health_period_ms", "must be 100 to 60000");
        }
        if a.request_timeout_ms == 0 || a.request_timeout_ms >= a.health_period_ms {
            return invalid(
                "agones.request_timeout_ms",
                "must be at least 1 and shorter than agones.health_period_ms",
            );
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.filter) {
            return invalid("log.filter", &e.to_string());
        }
        let r = &self.rooms;
        if r.max_pending_events == 0 || r.event_history == 0 {
            return invalid(
                "rooms.max_pending_events",
                "event queues must hold at least one event",
            );
        }
        for rule in &r.rule {
            match (&rule.name, &rule.prefix) {
                (Some(name), None) if crate::net::session::valid_room_name(name) => {}
                (Some(_), None) => {
                    return invalid("rooms.rule.name", "must be 1-64 of [A-Za-z0-9_.-]");
                }
                (None, Some(_)) => {}
                _ => return invalid("rooms.rule", "needs exactly one of name and prefix"),
            }
            if rule.max_players == Some(0) {
                return invalid("rooms.rule.max_players", "must be at least 1");
            }
        }
        self.coins
            .validate()
            .map_err(|reason| ConfigError::Invalid {
                key: "coins",
                reason,
            })?;
        self.game.validate().map_err(|reason| ConfigError::Invalid {
            key: "game",
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(
            Config::from_toml("").expect("parses"),
            Config::default(),
            "defaults"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(
            Config::from_toml("[server]\nlisten_typo = \"1.2.3.4:5\"").is_err(),
            "a typo is an error, not silently ignored"
        );
    }

    #[test]
    fn overrides_win_over_the_file() {
        let mut c = Config::from_toml("[server]\nlisten = \"127.0.0.1:1\"").expect("parses");
        c.apply(&Overrides {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 2))),
            ..Overrides::default()
        });
        assert_eq!(c.server.listen.port(), 2, "the flag wins");
    }

    #[test]
    fn a_view_radius_too_fine_for_the_world_is_refused() {
        let mut c = Config::default();
        c.game.view_radius = 0.5;
        let err = c.validate().expect_err("0.5 units in a 1000-unit world");
        assert!(
            err.to_string().contains("view_radius"),
            "names the setting: {err}"
        );
        c.game.view_radius = 1.0;
        c.validate().expect("1 unit is 1/1000 of the world: fine");
        c.game.view_radius = 0.0;
        c.validate().expect("0 means everything");
    }

    #[test]
    fn the_default_ops_port_is_no_common_exporters() {
        let port = Config::default()
            .server
            .metrics_listen
            .map(|a| a.port())
            .expect("on by default");
        // 9090-9099 are Prometheus' own components, 9100 and up the exporters' registry
        // (node_exporter 9100 first of all): a host running any of them must start us as is.
        assert!(
            !(9090..=9999).contains(&port),
            "port {port} is in the range common exporters take by default"
        );
    }

    #[test]
    fn the_metrics_listener_can_be_switched_off() {
        let c = Config::from_toml("[server]\nmetrics_listen = \"off\"").expect("parses");
        assert_eq!(c.server.metrics_listen, None, "off in the file");
        let c = Config::from_toml("[server]\nmetrics_listen = \"0.0.0.0:9200\"").expect("parses");
        assert_eq!(
            c.server.metrics_listen,
            Some(SocketAddr::from(([0, 0, 0, 0], 9200))),
            "an address in the file"
        );
        assert!(
            Config::from_toml("[server]\nmetrics_listen = \"nine\"").is_err(),
            "garbage is an error"
        );
        let mut c = Config::default();
        c.apply(&Overrides {
            metrics_listen: Some("off".parse().expect("parses")),
            ..Overrides::default()
        });
        assert_eq!(c.server.metrics_listen, None, "off on the command line");
        assert_eq!(
            OptionalAddr(None).to_string().parse::<OptionalAddr>(),
            Ok(OptionalAddr(None)),
            "off round-trips"
        );
    }

    #[test]
    fn log_settings_come_from_file_and_flags() {
        let mut c = Config::from_toml("[log]\nformat = \"json\"").expect("parses");
        assert_eq!(c.log.format, LogFormat::Json, "json from the file");
        c.apply(&Overrides {
            log_format: Some("text".parse().expect("parses")),
            log_filter: Some("debug".into()),
            ..Overrides::default()
        });
        assert_eq!(c.log.format, LogFormat::Text, "the flag wins");
        assert_eq!(c.log.filter, "debug", "the filter flag wins");
        assert!(
            "xml".parse::<LogFormat>().is_err(),
            "unknown formats are errors"
        );
        c.log.filter = "tickstream_server=loud".into();
        assert!(c.validate().is_err(), "an invalid filter is refused");
    }

    #[test]
    fn the_drain_delay_fits_in_the_grace_period() {
        let mut c = Config::default();
        c.server.drain_delay_ms = 2_000;
        c.validate().expect("2 s of delay in 10 s of grace");
        c.server.drain_delay_ms = c.server.shutdown_grace_ms;
        assert!(c.validate().is_err(), "no time left to close the sessions");
    }

    #[test]
    fn agones_is_off_by_default_and_its_periods_are_checked() {
        let c = Config::default();
        assert!(!c.agones.enabled, "Agones is off by default");
        let c = Config::from_toml(
            "[agones]\nsdk_address = \"127.0.0.1:1234\"\nhealth_period_ms = 500\nrequest_timeout_ms = 400",
        )
        .expect("parses");
        c.validate().expect("a valid [agones] section");
        assert_eq!(
            c.agones.sdk_address(),
            SocketAddr::from(([127, 0, 0, 1], 1234)),
            "an explicit address wins over the environment"
        );
        let mut c = Config::default();
        c.agones.request_timeout_ms = c.agones.health_period_ms;
        assert!(
            c.validate().is_err(),
            "a call may not take as long as the health period"
        );
        let mut c = Config::default();
        c.agones.health_period_ms = 10;
        assert!(c.validate().is_err(), "a 10 ms health period is refused");
    }

    #[test]
    fn half_a_tls_pair_is_refused() {
        let mut c = Config::default();
        c.server.tls_cert = Some("cert.pem".into());
        assert!(
            c.validate().is_err(),
            "a certificate without a key is an error"
        );
    }
}

#[cfg(test)]
mod asset_tests {
    use super::*;

    fn asset(name: &str) -> Config {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../assets")
            .join(name);
        let config = Config::from_file(&path).expect("asset parses");
        config.validate().expect("asset is valid");
        config
    }

    #[test]
    fn the_shipped_config_is_the_defaults() {
        assert_eq!(
            asset("config.toml"),
            Config::default(),
            "assets/config.toml documents the defaults"
        );
    }

    #[test]
    fn every_setting_in_the_shipped_config_is_documented() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let config = std::fs::read_to_string(root.join("assets/config.toml")).expect("reads");
        let docs = std::fs::read_to_string(root.join("docs/CONFIG.md")).expect("reads");
        // Keys at their default, and the optional ones shown commented out (`# ws_listen = …`).
        let keys = config.lines().filter_map(|line| {
            let line = line.trim_start_matches("# ");
            let (key, _) = line.split_once(" = ")?;
            key.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_')
                .then_some(key)
        });
        let mut n = 0;
        for key in keys {
            n += 1;
            assert!(
                docs.contains(&format!("| `{key}` |")),
                "docs/CONFIG.md documents `{key}`"
            );
        }
        assert!(n > 20, "found the settings ({n})");
    }

    #[test]
    fn the_reference_scenarios_differ_only_in_the_view_radius() {
        let a = asset("scenarios/reference-a.toml");
        let b = asset("scenarios/reference-b.toml");
        assert_eq!(a, Config::default(), "variant A is the default game");
        assert_eq!(b.game.view_radius, 150.0, "variant B sees 150 units");
        let mut b_as_a = b.clone();
        b_as_a.game.view_radius = 0.0;
        assert_eq!(b_as_a, a, "nothing else differs");
    }
}
