//! [`ServerConfig`]: the `[server]` section, and [`OptionalAddr`], a listener that can be off.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use super::{ConfigError, invalid};

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

impl ServerConfig {
    /// Refuses listener settings and limits the server cannot run with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return invalid("server.tls_cert", "tls_cert and tls_key go together");
        }
        if self.join_secret.as_ref().is_some_and(|k| k.len() < 16) {
            return invalid("server.join_secret", "must be at least 16 bytes");
        }
        for (key, cap) in [
            ("server.max_connections", self.max_connections),
            ("server.max_connections_per_ip", self.max_connections_per_ip),
            ("server.max_rooms", self.max_rooms),
            ("server.max_rooms_per_ip", self.max_rooms_per_ip),
            ("server.max_players_per_room", self.max_players_per_room),
        ] {
            if cap == 0 {
                return invalid(key, "a cap must be at least 1");
            }
        }
        if self.max_request_head_bytes < 8192 {
            return invalid(
                "server.max_request_head_bytes",
                "must be at least 8192 bytes (the smallest buffer hyper reads requests with)",
            );
        }
        if self.max_message_bytes < 64 || self.max_message_bytes > 1 << 20 {
            return invalid(
                "server.max_message_bytes",
                "must be between 64 bytes (a Join) and 1 MiB",
            );
        }
        if self.ping_interval_ms == 0 {
            return invalid("server.ping_interval_ms", "pings must be on (at least 1)");
        }
        if self.idle_timeout_ms <= self.ping_interval_ms {
            return invalid(
                "server.idle_timeout_ms",
                "must be longer than server.ping_interval_ms",
            );
        }
        if self.max_messages_per_sec == 0 {
            return invalid("server.max_messages_per_sec", "must be at least 1");
        }
        if self.message_burst == 0 {
            return invalid("server.message_burst", "must be at least 1");
        }
        if self.drain_delay_ms >= self.shutdown_grace_ms {
            return invalid(
                "server.drain_delay_ms",
                "must be shorter than server.shutdown_grace_ms: sessions need time to close",
            );
        }
        Ok(())
    }
}
