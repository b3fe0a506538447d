//! Signing internal requests with the handoff secret, and checking them once.
//!
//! A request carries three headers: `x-tickstream-timestamp` (Unix milliseconds),
//! `x-tickstream-nonce` (16–64 of `[0-9a-f]`, random per request) and `x-tickstream-signature`,
//! the lowercase hex of HMAC-SHA256(secret, `"tickstream-handoff-v1\n" path "\n" timestamp
//! "\n" nonce "\n" body`). The path is signed so that a signature for one endpoint is worth
//! nothing at another; the body so that nothing in it can be changed; the timestamp and the
//! nonce so that a request is accepted once, within the window, and never again.

use std::collections::HashMap;
use std::sync::Mutex;

use ring::hmac;

/// The header with the Unix time in milliseconds.
pub const TIMESTAMP: &str = "x-tickstream-timestamp";
/// The header with the request's nonce.
pub const NONCE: &str = "x-tickstream-nonce";
/// The header with the signature.
pub const SIGNATURE: &str = "x-tickstream-signature";

/// Nonces remembered at once; beyond it requests are refused until old ones expire, rather
/// than a nonce being forgotten while its request could still be replayed. A drain sends one
/// request per room.
pub const MAX_NONCES: usize = 100_000;

/// Why a signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is missing or malformed, or the signature does not match.
    #[error("missing or invalid signature")]
    Unauthorized,
    /// The timestamp is outside the window, or the nonce was seen before.
    #[error("stale or replayed request")]
    Replayed,
}

/// The three headers of a signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// Unix milliseconds.
    pub timestamp: String,
    /// Random hex.
    pub nonce: String,
    /// Hex HMAC.
    pub signature: String,
}

/// Signs and checks requests with one secret.
pub struct Signer {
    key: hmac::Key,
    /// How far a timestamp may be from now, in milliseconds.
    max_skew_ms: u64,
    /// Nonces seen, with the time (Unix ms) after which they can no longer be replayed.
    seen: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").finish_non_exhaustive()
    }
}

fn message(path: &str, timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut m = format!("tickstream-handoff-v1\n{path}\n{timestamp}\n{nonce}\n").into_bytes();
    m.extend_from_slice(body);
    m
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Signer {
    /// A signer with `secret`, accepting timestamps within `max_skew_ms` of now.
    #[must_use]
    pub fn new(secret: &[u8], max_skew_ms: u64) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            max_skew_ms,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The headers for a request to `path` with `body`, at `now_ms`, with a fresh nonce
    /// (`None` if the OS has no randomness).
    #[must_use]
    pub fn sign(&self, path: &str, body: &[u8], now_ms: u64) -> Option<Signed> {
        use ring::rand::SecureRandom;
        let mut raw = [0u8; 16];
        ring::rand::SystemRandom::new().fill(&mut raw).ok()?;
        let nonce = hex(&raw);
        let timestamp = now_ms.to_string();
        let tag = hmac::sign(&self.key, &message(path, &timestamp, &nonce, body));
        Some(Signed {
            timestamp,
            nonce,
            signature: hex(tag.as_ref()),
        })
    }

    /// Accepts a request once: a valid signature over `path` and `body`, a timestamp within the
    /// window around `now_ms`, and a nonce not seen before (remembered from now on).
    pub fn verify(
        &self,
        path: &str,
        body: &[u8],
        signed: &Signed,
        now_ms: u64,
    ) -> Result<(), SignatureError> {
        let nonce_ok = (16..=64).contains(&signed.nonce.len())
            && signed
                .nonce
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let ts: u64 = signed
            .timestamp
            .parse()
            .map_err(|_| SignatureError::Unauthorized)?;
        let tag = unhex(&signed.signature).ok_or(SignatureError::Unauthorized)?;
        if !nonce_ok {
            return Err(SignatureError::Unauthorized);
        }
        // Constant-time comparison inside ring.
        hmac::verify(
            &self.key,
            &message(path, &signed.timestamp, &signed.nonce, body),
            &tag,
        )
        .map_err(|_| SignatureError::Unauthorized)?;
        if ts.abs_diff(now_ms) > self.max_skew_ms {
            return Err(SignatureError::Replayed);
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, until| *until >= now_ms);
        if seen.contains_key(&signed.nonce) || seen.len() >= MAX_NONCES {
            return Err(SignatureError::Replayed);
        }
        // A timestamp is good until `ts + skew`; past that the window refuses it anyway.
        seen.insert(signed.nonce.clone(), ts.saturating_add(self.max_skew_ms));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_780_000_000_000;

    #[test]
    fn a_signed_request_is_accepted_once() {
        let s = Signer::new(b"0123456789abcdef", 30_000);
        let signed = s
            .sign("/internal/handoff", b"room", NOW)
            .expect("randomness");
        assert_eq!(
            s.verify("/internal/handoff", b"room", &signed, NOW + 10),
            Ok(()),
            "genuine"
        );
        assert_eq!(
            s.verify("/internal/handoff", b"room", &signed, NOW + 20),
            Err(SignatureError::Replayed),
            "the same nonce again"
        );
    }

    #[test]
    fn anything_changed_is_refused() {
        let s = Signer::new(b"0123456789abcdef", 30_000);
        let other = Signer::new(b"another secret!!", 30_000);
        let signed = s
            .sign("/internal/handoff", b"room", NOW)
            .expect("randomness");
        let refused = |r| assert_eq!(r, Err(SignatureError::Unauthorized));
        refused(other.verify("/internal/handoff", b"room", &signed, NOW));
        refused(s.verify("/internal/handoff", b"rooM", &signed, NOW));
        refused(s.verify("/internal/successor", b"room", &signed, NOW));
        let mut later = signed.clone();
        later.timestamp = (NOW + 1).to_string();
        refused(s.verify("/internal/handoff", b"room", &later, NOW));
        let stale = s
            .sign("/internal/handoff", b"room", NOW - 60_000)
            .expect("randomness");
        assert_eq!(
            s.verify("/internal/handoff", b"room", &stale, NOW),
            Err(SignatureError::Replayed),
            "outside the window"
        );
    }
}
