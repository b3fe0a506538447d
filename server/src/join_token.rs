//! Join tokens: who may enter which room, signed by the game's backend.
//!
//! With `server.join_secret` set, a client's upgrade URL carries `?token=…` and its `Join` is
//! accepted only if the token is genuine (HMAC-SHA256 with the shared secret), names that room,
//! has not expired and has not been used before. A game backend mints tokens with the same
//! secret; `tickstream-server token` mints one for development and tests.
//!
//! Format: `base64url(payload) "." base64url(HMAC-SHA256(secret, payload))`, both without
//! padding, where `payload` is the UTF-8 text `v1:{room}:{player}:{expires}:{nonce}`: the room
//! name, a player id (1–64 of `[A-Za-z0-9_.-]`), the expiry in Unix seconds, and a nonce
//! (8–64 of `[A-Za-z0-9_-]`) that makes each token single-use. `docs/SECURITY.md` has an
//! example in Python.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

/// Tokens remembered as used (until they expire); beyond this, new joins are refused with
/// 1013 rather than forgetting a token that could then be replayed.
pub const MAX_REMEMBERED: usize = 1_000_000;

/// Why a token was refused; each is counted, and closes the session with 1008 (policy),
/// except [`TokenError::Full`], a momentary limit, which closes with 1013 (try again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The server requires tokens and the upgrade URL had none.
    #[error("a join token is required")]
    Missing,
    /// Not two base64url parts, or a payload that does not parse.
    #[error("malformed join token")]
    Malformed,
    /// The signature does not match the payload.
    #[error("join token signature is invalid")]
    BadSignature,
    /// The expiry has passed.
    #[error("join token has expired")]
    Expired,
    /// The token names another room.
    #[error("join token is for another room")]
    WrongRoom,
    /// The token was used before.
    #[error("join token was already used")]
    Reused,
    /// Too many unexpired tokens are remembered to check reuse.
    #[error("too many join tokens in flight; try again")]
    Full,
}

impl TokenError {
    /// Every variant, for creating metric series at zero.
    pub const ALL: [Self; 7] = [
        Self::Missing,
        Self::Malformed,
        Self::BadSignature,
        Self::Expired,
        Self::WrongRoom,
        Self::Reused,
        Self::Full,
    ];

    /// The metric label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::WrongRoom => "wrong_room",
            Self::Reused => "reused",
            Self::Full => "full",
        }
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The room it admits to.
    pub room: String,
    /// The player id the backend gave.
    pub player: String,
    /// Expiry, Unix seconds.
    pub expires: u64,
}

fn valid_chars(s: &str, extra: &[u8], max: usize, min: usize) -> bool {
    (min..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

/// Mints a token (the backend's side; here for the `token` command and tests).
#[must_use]
pub fn mint(secret: &[u8], room: &str, player: &str, expires: u64, nonce: &str) -> String {
    let payload = format!("v1:{room}:{player}:{expires}:{nonce}");
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, payload.as_bytes());
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload.as_bytes()),
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    )
}

/// A fresh random nonce (16 bytes, base64url).
#[must_use]
pub fn random_nonce() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    // The system RNG failing leaves the zero nonce; reuse detection then refuses the second
    // such token, which is safe.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Verifies tokens and remembers the used ones until they expire.
pub struct JoinTokens {
    key: hmac::Key,
    used: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for JoinTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinTokens").finish_non_exhaustive()
    }
}

impl JoinTokens {
    /// A verifier for tokens signed with `secret`.
    #[must_use]
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            used: Mutex::new(HashMap::new()),
        }
    }

    /// Checks `token` for a join to `room` at `now` (Unix seconds) and marks it used.
    pub fn admit(&self, token: Option<&str>, room: &str, now: u64) -> Result<Claims, TokenError> {
        let token = token.ok_or(TokenError::Missing)?;
        let (payload_b64, tag_b64) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload_b64)
            .map_err(|_| TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag_b64)
            .map_err(|_| TokenError::Malformed)?;
        hmac::verify(&self.key, &payload, &tag).map_err(|_| TokenError::BadSignature)?;
        let text = std::str::from_utf8(&payload).map_err(|_| TokenError::Malformed)?;
        let mut parts = text.split(':');
        let (Some("v1"), Some(t_room), Some(player), Some(expires), Some(nonce), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        let expires: u64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        if !valid_chars(player, b"_.-", 64, 1) || !valid_chars(nonce, b"_-", 64, 8) {
            return Err(TokenError::Malformed);
        }
        if t_room != room {
            return Err(TokenError::WrongRoom);
        }
        if expires <= now {
            return Err(TokenError::Expired);
        }
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        if used.contains_key(nonce) {
            return Err(TokenError::Reused);
        }
        if used.len() >= MAX_REMEMBERED {
            used.retain(|_, exp| *exp > now);
            if used.len() >= MAX_REMEMBERED {
                return Err(TokenError::Full);
            }
        }
        used.insert(nonce.to_owned(), expires);
        Ok(Claims {
            room: room.to_owned(),
            player: player.to_owned(),
            expires,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a test secret of enough length";

    #[test]
    fn a_fresh_token_admits_once() {
        let tokens = JoinTokens::new(SECRET);
        let t = mint(SECRET, "lobby", "p1", 1_000, "nonce-0001");
        let claims = tokens.admit(Some(&t), "lobby", 999).expect("admitted");
        assert_eq!(claims.player, "p1", "the player id comes through");
        assert_eq!(
            tokens.admit(Some(&t), "lobby", 999),
            Err(TokenError::Reused),
            "once only"
        );
    }

    #[test]
    fn every_failure_has_its_reason() {
        let tokens = JoinTokens::new(SECRET);
        let t = mint(SECRET, "lobby", "p1", 1_000, "nonce-0002");
        assert_eq!(
            tokens.admit(None, "lobby", 1),
            Err(TokenError::Missing),
            "missing"
        );
        assert_eq!(
            tokens.admit(Some("x"), "lobby", 1),
            Err(TokenError::Malformed),
            "no dot"
        );
        assert_eq!(
            tokens.admit(Some(&t), "other", 1),
            Err(TokenError::WrongRoom),
            "room"
        );
        assert_eq!(
            tokens.admit(Some(&t), "lobby", 1_000),
            Err(TokenError::Expired),
            "expiry"
        );
        let forged = mint(
            b"another secret entirely",
            "lobby",
            "p1",
            1_000,
            "nonce-0003",
        );
        assert_eq!(
            tokens.admit(Some(&forged), "lobby", 1),
            Err(TokenError::BadSignature),
            "key"
        );
        let mut tampered = t.clone();
        tampered.insert(2, 'A');
        assert!(
            tokens.admit(Some(&tampered), "lobby", 1).is_err(),
            "a changed byte fails"
        );
        let bad = mint(SECRET, "lobby", "p:1", 1_000, "nonce-0004");
        assert_eq!(
            tokens.admit(Some(&bad), "lobby", 1),
            Err(TokenError::Malformed),
            "fields"
        );
    }
}
