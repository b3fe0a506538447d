//! [`HandoffConfig`]: the `[handoff]` section.

use serde::Deserialize;

use super::{ConfigError, invalid};

/// Handing rooms over to a successor process when this one drains (`docs/DEPLOY.md`, "Rolling
/// updates without dropping a match"). Off unless `secret` is set: without it the server
/// neither sends rooms nor accepts them, and a drain closes players with 1001 as it always did.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HandoffConfig {
    /// The base URL of the successor's ops listener, `http://HOST:PORT`, which serves
    /// `POST /internal/handoff`. Unset: no successor until one is set at run time through
    /// `POST /internal/successor` (under Agones it is allocated during the rollout).
    pub successor: Option<String>,
    /// The WebSocket URL the successor's players connect to (`wss://HOST:PORT/ws`): what a
    /// moved room's v5 players are told in `Moved`. Set together with `successor`.
    pub successor_url: Option<String>,
    /// The secret both processes share (at least 16 bytes; prefer `TICKSTREAM_HANDOFF_SECRET`):
    /// every internal request is signed with it (HMAC-SHA256 over the path, a timestamp, a
    /// nonce and the body). Unset: handoff is off, and the internal endpoints answer 404.
    pub secret: Option<String>,
    /// The longest one room's handoff may take (connect, send, the successor restoring it), in
    /// milliseconds. A room's players wait this long at worst before they get 1001 instead;
    /// 3 s is far above a loopback or in-cluster handoff (milliseconds).
    pub timeout_ms: u64,
    /// The largest saved room sent or accepted, in bytes: 8 MiB holds hundreds of players and
    /// thousands of entities; the bound keeps a bad peer from using the successor's memory.
    pub max_bytes: usize,
    /// How far a signed request's timestamp may be from this server's clock, in milliseconds;
    /// nonces are remembered for twice this, so a captured request cannot be replayed. 30 s
    /// covers clock skew inside a cluster.
    pub max_skew_ms: u64,
}

impl Default for HandoffConfig {
    fn default() -> Self {
        Self {
            successor: None,
            successor_url: None,
            secret: None,
            timeout_ms: 3_000,
            max_bytes: 8 << 20,
            max_skew_ms: 30_000,
        }
    }
}

impl HandoffConfig {
    /// True when the server takes part in handoffs (a secret is set).
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.secret.is_some()
    }

    /// Refuses settings a handoff cannot run with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.secret.as_ref().is_some_and(|k| k.len() < 16) {
            return invalid("handoff.secret", "must be at least 16 bytes");
        }
        if self.successor.is_some() != self.successor_url.is_some() {
            return invalid(
                "handoff.successor",
                "successor and successor_url go together",
            );
        }
        if let Some(s) = &self.successor
            && let Err(e) = successor_addr(s)
        {
            return invalid("handoff.successor", e);
        }
        if let Some(u) = &self.successor_url
            && let Err(e) = check_ws_url(u)
        {
            return invalid("handoff.successor_url", e);
        }
        if self.successor.is_some() && self.secret.is_none() {
            return invalid(
                "handoff.secret",
                "a successor needs the shared secret (TICKSTREAM_HANDOFF_SECRET)",
            );
        }
        if !(100..=60_000).contains(&self.timeout_ms) {
            return invalid("handoff.timeout_ms", "must be 100 to 60000");
        }
        if !(1024..=(256 << 20)).contains(&self.max_bytes) {
            return invalid("handoff.max_bytes", "must be 1 KiB to 256 MiB");
        }
        if !(1_000..=600_000).contains(&self.max_skew_ms) {
            return invalid("handoff.max_skew_ms", "must be 1000 to 600000");
        }
        Ok(())
    }
}

/// `HOST:PORT` of a successor's ops base URL `http://HOST:PORT` (a trailing `/` allowed).
pub fn successor_addr(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("must be http://HOST:PORT (the successor's ops listener)")?;
    let hostport = rest.strip_suffix('/').unwrap_or(rest);
    let ok = !hostport.is_empty()
        && !hostport.contains('/')
        && hostport
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
    if ok {
        Ok(hostport.to_owned())
    } else {
        Err("must be http://HOST:PORT (the successor's ops listener)".into())
    }
}

/// Checks a WebSocket URL players can be sent to: `ws://` or `wss://`, at most 512 bytes.
pub fn check_ws_url(url: &str) -> Result<(), String> {
    let scheme_ok = url.starts_with("ws://") || url.starts_with("wss://");
    if !scheme_ok || url.len() > 512 || url.chars().any(char::is_whitespace) {
        return Err("must be a ws:// or wss:// URL of at most 512 bytes".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_addresses() {
        assert_eq!(
            successor_addr("http://10.0.0.5:7444").as_deref(),
            Ok("10.0.0.5:7444")
        );
        assert_eq!(successor_addr("http://b:7444/").as_deref(), Ok("b:7444"));
        for bad in [
            "https://b:7444",
            "http://b",
            "http://b:0",
            "http://:1",
            "b:7444",
            "http://b:1/x",
        ] {
            assert!(successor_addr(bad).is_err(), "{bad} is refused");
        }
    }

    #[test]
    fn a_successor_needs_its_url_and_the_secret() {
        let mut c = HandoffConfig {
            successor: Some("http://b:7444".into()),
            ..HandoffConfig::default()
        };
        assert!(c.validate().is_err(), "no successor_url");
        c.successor_url = Some("wss://b:7443/ws".into());
        assert!(c.validate().is_err(), "no secret");
        c.secret = Some("0123456789abcdef".into());
        assert_eq!(c.validate().ok(), Some(()), "complete");
        c.secret = Some("short".into());
        assert!(c.validate().is_err(), "a short secret");
    }
}
