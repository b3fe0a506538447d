//! [`SdkClient`]: the sidecar's HTTP gateway, one short connection per call.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::error::status_error;
use super::{GameServer, SdkError, parse_watch_line};

/// The largest answer to a single call, and the longest line of the watch stream: a
/// GameServer is a few kilobytes; anything far bigger is not the sidecar talking.
pub const MAX_BODY: usize = 1 << 20;

/// A client of the sidecar's HTTP gateway: one short connection per call, each bounded by
/// the request timeout (a sidecar that restarts never leaves a stale connection behind).
#[derive(Debug, Clone)]
pub struct SdkClient {
    addr: SocketAddr,
    timeout: Duration,
}

impl SdkClient {
    /// A client of the sidecar at `addr`, giving each call `timeout`.
    #[must_use]
    pub fn new(addr: SocketAddr, timeout: Duration) -> Self {
        Self { addr, timeout }
    }

    /// The sidecar's address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `POST /ready`: the game server takes players.
    pub async fn ready(&self) -> Result<(), SdkError> {
        self.call(Method::POST, "/ready", "{}").await.map(drop)
    }

    /// `POST /health`: one health ping.
    pub async fn health(&self) -> Result<(), SdkError> {
        self.call(Method::POST, "/health", "{}").await.map(drop)
    }

    /// `POST /shutdown`: asks Agones to shut this game server down.
    pub async fn shutdown(&self) -> Result<(), SdkError> {
        self.call(Method::POST, "/shutdown", "{}").await.map(drop)
    }

    /// `GET /gameserver`: the GameServer now.
    pub async fn game_server(&self) -> Result<GameServer, SdkError> {
        let body = self.call(Method::GET, "/gameserver", "").await?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// `PATCH /v1beta1/counters/{name}` with `{"count": "N"}`: sets a Counter's count (int64
    /// values travel as strings in protobuf's JSON mapping).
    pub async fn set_counter(&self, name: &str, count: u64) -> Result<(), SdkError> {
        let body = serde_json::json!({ "count": count.to_string() }).to_string();
        let path = format!("/v1beta1/counters/{name}");
        self.call(Method::PATCH, &path, &body).await.map(drop)
    }

    /// `GET /watch/gameserver`: calls `on_update` with every GameServer the stream carries,
    /// until the stream fails or ends; returns why. Connecting and the answer's head are
    /// bounded by the request timeout; the stream itself may stay quiet for as long as the
    /// GameServer does not change.
    pub async fn watch(&self, mut on_update: impl FnMut(GameServer)) -> SdkError {
        let (sender, conn) = match tokio::time::timeout(self.timeout, self.handshake()).await {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => return e,
            Err(_) => return SdkError::Timeout(self.timeout),
        };
        // The connection is driven beside the stream, on this task: it ends with the watch.
        let mut conn = std::pin::pin!(conn);
        let mut sender = sender;
        let req = match self.request(Method::GET, "/watch/gameserver", "") {
            Ok(req) => req,
            Err(e) => return e,
        };
        let head = tokio::time::timeout(self.timeout, sender.send_request(req));
        let resp = tokio::select! {
            resp = head => match resp {
                Ok(Ok(resp)) => resp,
                Ok(Err(e)) => return e.into(),
                Err(_) => return SdkError::Timeout(self.timeout),
            },
            done = &mut conn => return closed(done),
        };
        let status = resp.status();
        if !status.is_success() {
            let body = tokio::select! {
                body = tokio::time::timeout(self.timeout, read_limited(resp)) => {
                    body.unwrap_or(Err(SdkError::Timeout(self.timeout)))
                }
                done = &mut conn => Err(closed(done)),
            };
            return match body {
                Ok(body) => status_error(status, &body),
                Err(e) => e,
            };
        }
        let mut body = resp.into_body();
        let mut pending = BytesMut::new();
        loop {
            let frame = tokio::select! {
                frame = body.frame() => frame,
                done = &mut conn => return closed(done),
            };
            let data = match frame {
                None => return SdkError::Closed,
                Some(Err(e)) => return e.into(),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue,
                },
            };
            pending.extend_from_slice(&data);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line = pending.split_to(end + 1);
                let line = line.trim_ascii();
                if line.is_empty() {
                    continue;
                }
                match parse_watch_line(line) {
                    Ok(gs) => on_update(gs),
                    Err(e) => return e,
                }
            }
            if pending.len() > MAX_BODY {
                return SdkError::TooLarge;
            }
        }
    }

    async fn handshake(
        &self,
    ) -> Result<
        (
            hyper::client::conn::http1::SendRequest<Full<Bytes>>,
            hyper::client::conn::http1::Connection<TokioIo<TcpStream>, Full<Bytes>>,
        ),
        SdkError,
    > {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|cause| SdkError::Connect {
                addr: self.addr,
                cause,
            })?;
        let _ = tcp.set_nodelay(true);
        Ok(hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?)
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: &str,
    ) -> Result<Request<Full<Bytes>>, SdkError> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))?;
        let headers = req.headers_mut();
        if let Ok(host) = HeaderValue::from_str(&self.addr.to_string()) {
            headers.insert(HOST, host);
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(req)
    }

    /// One request and its whole answer within the timeout; a non-2xx status is an error.
    async fn call(&self, method: Method, path: &str, body: &str) -> Result<Bytes, SdkError> {
        let exchange = async {
            let (mut sender, conn) = self.handshake().await?;
            let req = self.request(method, path, body)?;
            let answer = async {
                let resp = sender.send_request(req).await?;
                let status = resp.status();
                let body = read_limited(resp).await?;
                Ok::<_, SdkError>((status, body))
            };
            // The connection is driven beside the request, on this task: nothing outlives the
            // call.
            let (status, body) = tokio::select! {
                answer = answer => answer?,
                done = conn => return Err(closed(done)),
            };
            check_status(status, body)
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| SdkError::Timeout(self.timeout))?
    }
}

/// Why a connection future ended before its answer did.
fn closed(done: Result<(), hyper::Error>) -> SdkError {
    match done {
        Ok(()) => SdkError::Closed,
        Err(e) => SdkError::Http(e),
    }
}

/// A whole answer's body, up to [`MAX_BODY`].
async fn read_limited(resp: Response<Incoming>) -> Result<Bytes, SdkError> {
    let mut body = resp.into_body();
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if out.len() + data.len() > MAX_BODY {
                return Err(SdkError::TooLarge);
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

fn check_status(status: StatusCode, body: Bytes) -> Result<Bytes, SdkError> {
    if status.is_success() {
        Ok(body)
    } else {
        Err(status_error(status, &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_missing_sidecar_is_an_error_not_a_hang() {
        // A port nothing listens on: bind one, note it, close it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let addr = listener.local_addr().expect("has an address");
        drop(listener);
        let sdk = SdkClient::new(addr, Duration::from_millis(500));
        let err = sdk.health().await.expect_err("nothing listens");
        assert!(
            matches!(err, SdkError::Connect { .. } | SdkError::Timeout(_)),
            "refused or timed out: {err}"
        );
        let err = sdk.watch(|_| {}).await;
        assert!(
            matches!(err, SdkError::Connect { .. } | SdkError::Timeout(_)),
            "the watch fails the same way: {err}"
        );
    }

    #[tokio::test]
    async fn a_hung_sidecar_times_out() {
        // Accepts connections (the kernel does) and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("has an address");
        let sdk = SdkClient::new(addr, Duration::from_millis(200));
        let err = sdk.ready().await.expect_err("no answer");
        assert!(
            matches!(err, SdkError::Timeout(_)),
            "a timeout, not a hang: {err}"
        );
        drop(listener);
    }
}
