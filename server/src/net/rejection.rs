//! [`Rejection`]: why a connection was refused before its WebSocket session, one typed reason
//! per `reason` label of `tickstream_rejected_connections_total`.

use crate::metrics as m;

/// Why a connection was refused before the upgrade completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Another path than `/ws` (404).
    NotFound,
    /// Not a WebSocket upgrade request (426).
    NotUpgrade,
    /// No supported `tickstream.vN` offered (400).
    NoSubprotocol,
    /// A bad `Sec-WebSocket-Key` or version (400).
    BadHandshake,
    /// At the connection cap or draining (503).
    Unavailable,
    /// A browser `Origin` not on the allowlist (403).
    Origin,
    /// At `server.max_connections`: answered 503.
    ConnectionCap,
    /// Over the cap with too many peers already being answered 503: dropped at once.
    OverCapacity,
    /// The address is at `server.max_connections_per_ip`.
    PerIpCap,
    /// The TLS handshake failed.
    Tls,
    /// TLS or the HTTP request did not complete within `server.handshake_timeout_ms`.
    HandshakeTimeout,
    /// The request head was longer than `server.max_request_head_bytes` (431).
    HeadTooLarge,
}

impl Rejection {
    /// Every reason, for creating the metric series at zero.
    pub const ALL: [Self; 12] = [
        Self::NotFound,
        Self::NotUpgrade,
        Self::NoSubprotocol,
        Self::BadHandshake,
        Self::Unavailable,
        Self::Origin,
        Self::ConnectionCap,
        Self::OverCapacity,
        Self::PerIpCap,
        Self::Tls,
        Self::HandshakeTimeout,
        Self::HeadTooLarge,
    ];

    /// The `reason` label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::NotUpgrade => "not_upgrade",
            Self::NoSubprotocol => "no_subprotocol",
            Self::BadHandshake => "bad_handshake",
            Self::Unavailable => "unavailable",
            Self::Origin => "origin",
            Self::ConnectionCap => "connection_cap",
            Self::OverCapacity => "over_capacity",
            Self::PerIpCap => "per_ip_cap",
            Self::Tls => "tls",
            Self::HandshakeTimeout => "handshake_timeout",
            Self::HeadTooLarge => "head_too_large",
        }
    }

    /// Counts one refusal for this reason.
    pub fn count(self) {
        metrics::counter!(m::REJECTED_CONNECTIONS, "reason" => self.label()).increment(1);
    }

    /// Creates every reason's series at zero, so that each exists from the first scrape.
    pub fn register() {
        for r in Self::ALL {
            metrics::counter!(m::REJECTED_CONNECTIONS, "reason" => r.label()).increment(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct() {
        let mut labels: Vec<&str> = Rejection::ALL.iter().map(|r| r.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), Rejection::ALL.len(), "one label per reason");
    }
}
