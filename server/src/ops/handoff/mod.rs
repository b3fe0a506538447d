//! Handing rooms over between processes: the ops listener's internal endpoints and the client
//! a draining server offers its rooms with (`docs/DEPLOY.md`, "Rolling updates").
//!
//! # Layout
//!
//! - [`signature`]: [`Signer`], HMAC-SHA256 with the shared secret over the path, a timestamp,
//!   a nonce (remembered, so a request is accepted once) and the body.
//! - this file: [`Handoff`], both sides. As a [`Successor`] it POSTs a saved room to the
//!   successor's `/internal/handoff` and returns the URL players resume at; as the successor
//!   it answers `POST /internal/handoff` (restore the room, 200 once it runs) and
//!   `POST /internal/successor` (set where this server's rooms go, at run time).
//!
//! | answer | to `/internal/handoff` |
//! |---|---|
//! | 200 | the room runs here from its next tick |
//! | 401 | unsigned, or signed with another secret (counted `unauthorized`) |
//! | 409 | a stale timestamp or a nonce seen before (`replayed`), or the room runs here (`exists`) |
//! | 413 | larger than `handoff.max_bytes` (`too_big`) |
//! | 422 | a saved-room format this build does not read (`unknown_version`) or bad bytes (`malformed`) |
//! | 503 | this server cannot run it: unknown game, room cap, draining itself, restore failed (`refused`) |

pub mod signature;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub use signature::{SignatureError, Signed, Signer};

use crate::config::HandoffConfig;
use crate::config::handoff_config::{check_ws_url, successor_addr};
use crate::metrics as m;
use crate::room::handoff::HandoffResult;
use crate::room::{AdoptError, HandoffError, Registry, SaveError, SavedRoom, Successor};

/// Where rooms are handed over to.
pub const HANDOFF_PATH: &str = "/internal/handoff";
/// Where the successor is set at run time.
pub const SUCCESSOR_PATH: &str = "/internal/successor";

/// The largest `/internal/successor` body: two URLs.
const MAX_SUCCESSOR_BODY: usize = 4096;

/// Internal request bodies read at once; more wait their turn. Bodies are read before their
/// signature can be checked, so this (times `handoff.max_bytes`) bounds what unauthenticated
/// peers can make the server hold; a drain's rooms arrive one after another well within it.
const MAX_READING: usize = 4;

/// Where this server's rooms go.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Target {
    /// The successor's ops base URL, `http://HOST:PORT`.
    pub successor: String,
    /// The WebSocket URL its players connect to.
    pub successor_url: String,
}

/// Both sides of a handoff, with the shared secret.
#[derive(Debug)]
pub struct Handoff {
    signer: Signer,
    /// Where rooms go now; set by the configuration or `POST /internal/successor`.
    target: RwLock<Option<Target>>,
    /// The longest one room's offer may take.
    timeout: Duration,
    /// The largest saved room sent or accepted.
    max_bytes: usize,
    /// Permits to read a body ([`MAX_READING`]).
    reading: tokio::sync::Semaphore,
}

/// The Unix time in milliseconds.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Handoff {
    /// The handoff of `config`, or `None` when it is off (no secret).
    #[must_use]
    pub fn new(config: &HandoffConfig) -> Option<Arc<Self>> {
        let secret = config.secret.as_ref()?;
        let target = match (&config.successor, &config.successor_url) {
            (Some(successor), Some(successor_url)) => Some(Target {
                successor: successor.clone(),
                successor_url: successor_url.clone(),
            }),
            _ => None,
        };
        Some(Arc::new(Self {
            signer: Signer::new(secret.as_bytes(), config.max_skew_ms),
            target: RwLock::new(target),
            timeout: Duration::from_millis(config.timeout_ms),
            max_bytes: config.max_bytes,
            reading: tokio::sync::Semaphore::new(MAX_READING),
        }))
    }

    /// Where rooms go now, if anywhere.
    #[must_use]
    pub fn target(&self) -> Option<Target> {
        self.target
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sets where rooms go, after checking both URLs.
    pub fn set_target(&self, target: Target) -> Result<(), String> {
        successor_addr(&target.successor)?;
        check_ws_url(&target.successor_url)?;
        tracing::info!(successor = %target.successor, url = %target.successor_url, "handoff successor set");
        *self.target.write().unwrap_or_else(|p| p.into_inner()) = Some(target);
        Ok(())
    }

    /// POSTs `body`, signed, to `path` on the ops listener `base` (`http://HOST:PORT`), within
    /// the timeout; the answer's status and (bounded) body.
    pub async fn post(
        &self,
        base: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(StatusCode, String), HandoffError> {
        let addr = successor_addr(base).map_err(HandoffError::Unreachable)?;
        let signed = self
            .signer
            .sign(path, &body, now_ms())
            .ok_or_else(|| HandoffError::Unreachable("no randomness for a nonce".into()))?;
        let exchange = async {
            let tcp = TcpStream::connect(&addr)
                .await
                .map_err(|e| HandoffError::Unreachable(format!("{addr}: {e}")))?;
            let _ = tcp.set_nodelay(true);
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .map_err(|e| HandoffError::Unreachable(e.to_string()))?;
            let mut req = Request::builder()
                .method(Method::POST)
                .uri(path)
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| HandoffError::Unreachable(e.to_string()))?;
            let headers = req.headers_mut();
            for (name, value) in [
                (HOST.as_str(), addr.as_str()),
                (CONTENT_TYPE.as_str(), "application/octet-stream"),
                (signature::TIMESTAMP, signed.timestamp.as_str()),
                (signature::NONCE, signed.nonce.as_str()),
                (signature::SIGNATURE, signed.signature.as_str()),
            ] {
                if let Ok(v) = HeaderValue::from_str(value) {
                    headers.insert(name, v);
                }
            }
            let answer = async {
                let resp = sender.send_request(req).await?;
                let status = resp.status();
                let text = Limited::new(resp.into_body(), 4096)
                    .collect()
                    .await
                    .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                    .unwrap_or_default();
                Ok::<_, hyper::Error>((status, text))
            };
            // The connection is driven beside the request, on this task: nothing outlives it.
            tokio::select! {
                answer = answer => answer.map_err(|e| HandoffError::Unreachable(e.to_string())),
                done = conn => Err(HandoffError::Unreachable(format!("connection closed: {done:?}"))),
            }
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| HandoffError::Timeout)?
    }

    async fn offer(&self, room: &str, saved: Vec<u8>) -> HandoffResult {
        let target = self.target().ok_or(HandoffError::NoSuccessor)?;
        if saved.len() > self.max_bytes {
            return Err(HandoffError::TooBig);
        }
        let (status, text) = self.post(&target.successor, HANDOFF_PATH, saved).await?;
        if status == StatusCode::OK {
            Ok(target.successor_url)
        } else if status == StatusCode::PAYLOAD_TOO_LARGE {
            Err(HandoffError::TooBig)
        } else {
            tracing::debug!(room, %status, answer = %text.trim(), "successor refused");
            Err(HandoffError::Refused(format!("{status}: {}", text.trim())))
        }
    }

    /// Answers a `POST` to one of the internal paths.
    pub async fn answer(
        &self,
        req: Request<Incoming>,
        registry: &Registry,
    ) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_owned();
        let limit = if path == HANDOFF_PATH {
            self.max_bytes
        } else {
            MAX_SUCCESSOR_BODY
        };
        let (parts, body) = req.into_parts();
        // Unsigned requests are refused before their body is read.
        let verdict = match signed_headers(&parts.headers) {
            None => Err(SignatureError::Unauthorized),
            Some(signed) => {
                let Ok(_permit) = self.reading.acquire().await else {
                    return text(StatusCode::SERVICE_UNAVAILABLE, "closing\n");
                };
                let body = match Limited::new(body, limit).collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(_) => {
                        if path == HANDOFF_PATH {
                            received("too_big");
                        }
                        return text(StatusCode::PAYLOAD_TOO_LARGE, "too big\n");
                    }
                };
                self.signer
                    .verify(&path, &body, &signed, now_ms())
                    .map(|()| body)
            }
        };
        let body = match verdict {
            Ok(body) => body,
            Err(e) => return self.refused(&path, e),
        };
        if path == SUCCESSOR_PATH {
            return match serde_json::from_slice::<Target>(&body)
                .map_err(|e| e.to_string())
                .and_then(|t| self.set_target(t))
            {
                Ok(()) => text(StatusCode::OK, "ok\n"),
                Err(e) => text(StatusCode::BAD_REQUEST, &format!("{e}\n")),
            };
        }
        let saved = match SavedRoom::decode(&body) {
            Ok(saved) => saved,
            Err(e) => {
                let label = match e {
                    SaveError::UnknownVersion(_) => "unknown_version",
                    _ => "malformed",
                };
                tracing::warn!(error = %e, "a room handed over was refused");
                received(label);
                return text(StatusCode::UNPROCESSABLE_ENTITY, &format!("{e}\n"));
            }
        };
        let (name, players, tick) = (saved.name.clone(), saved.players.len(), saved.tick);
        match registry.adopt(saved).await {
            Ok(()) => {
                received("ok");
                tracing::info!(room = %name, players, tick, "room taken over from a draining predecessor");
                text(StatusCode::OK, "ok\n")
            }
            Err(e) => {
                received(e.label());
                tracing::warn!(room = %name, error = %e, "a room handed over was refused");
                let status = match e {
                    AdoptError::Exists(_) => StatusCode::CONFLICT,
                    _ => StatusCode::SERVICE_UNAVAILABLE,
                };
                text(status, &format!("{e}\n"))
            }
        }
    }
}

impl Handoff {
    /// The answer to a request whose signature failed; counted for `/internal/handoff`.
    fn refused(&self, path: &str, e: SignatureError) -> Response<Full<Bytes>> {
        tracing::warn!(%path, error = %e, "internal request refused (is handoff.secret the same on both?)");
        let (status, label) = match e {
            SignatureError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            SignatureError::Replayed => (StatusCode::CONFLICT, "replayed"),
        };
        if path == HANDOFF_PATH {
            received(label);
        }
        text(status, &format!("{e}\n"))
    }
}

impl Successor for Handoff {
    fn hand_over<'a>(
        &'a self,
        room: &'a str,
        saved: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = HandoffResult> + Send + 'a>> {
        Box::pin(self.offer(room, saved))
    }
}

fn received(outcome: &'static str) {
    metrics::counter!(m::HANDOFFS_RECEIVED, "outcome" => outcome).increment(1);
}

fn signed_headers(h: &HeaderMap) -> Option<Signed> {
    let get = |name: &str| h.get(name)?.to_str().ok().map(str::to_owned);
    Some(Signed {
        timestamp: get(signature::TIMESTAMP)?,
        nonce: get(signature::NONCE)?,
        signature: get(signature::SIGNATURE)?,
    })
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_owned())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}
