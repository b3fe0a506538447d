//! [`SdkError`]: why a call to the sidecar failed, and [`CounterRefusal`]: which failures are
//! the Fleet and the server disagreeing about a Counter rather than the sidecar failing.

use std::net::SocketAddr;
use std::time::Duration;

use hyper::StatusCode;
use serde::Deserialize;

use super::client::MAX_BODY;

/// Why a call to the sidecar failed.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// Nothing listens at the sidecar's address (not started yet, or gone).
    #[error("cannot connect to the Agones sidecar at {addr}: {cause}")]
    Connect {
        /// The sidecar's address.
        addr: SocketAddr,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The HTTP exchange failed (the connection broke, or the answer was not HTTP).
    #[error("HTTP exchange with the Agones sidecar failed: {}", with_causes(.0))]
    Http(hyper::Error),
    /// No complete answer within the request timeout.
    #[error("the Agones sidecar did not answer within {0:?}")]
    Timeout(Duration),
    /// The sidecar answered with an error status.
    #[error("the Agones sidecar answered {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
        /// The `message` of the gRPC status the gateway wrote as the body
        /// (`{"code":2,"message":"…","details":[]}`), when the body is one.
        message: Option<String>,
    },
    /// The answer was not the JSON expected.
    #[error("the Agones sidecar's answer is not the expected JSON: {0}")]
    Json(serde_json::Error),
    /// The answer (or one line of the watch stream) exceeded [`MAX_BODY`].
    #[error("the Agones sidecar's answer exceeds {MAX_BODY} bytes")]
    TooLarge,
    /// The watch stream carried an error object.
    #[error("the watch stream reported an error: {0}")]
    Stream(String),
    /// The sidecar closed the connection before or while answering.
    #[error("the Agones sidecar closed the connection")]
    Closed,
    /// The request could not be built (a counter name that is not a valid URI path).
    #[error("invalid request: {0}")]
    Request(hyper::http::Error),
}

// Each cause is part of its variant's message and not a `source()` too, so that it is printed
// once however the error is reported (a log line's `%e`, or a chain of sources).
impl From<hyper::Error> for SdkError {
    fn from(e: hyper::Error) -> Self {
        Self::Http(e)
    }
}

impl From<serde_json::Error> for SdkError {
    fn from(e: serde_json::Error) -> Self {
        Self::Json(e)
    }
}

impl From<hyper::http::Error> for SdkError {
    fn from(e: hyper::http::Error) -> Self {
        Self::Request(e)
    }
}

/// An error and its sources, as one message: hyper's message names only its kind ("connection
/// error") and keeps what happened (the I/O error) as its source, which no longer follows.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

impl SdkError {
    /// Why the sidecar refused to set a Counter, when its answer says the refusal is about the
    /// Counter itself (retrying the same call cannot succeed) rather than the sidecar failing.
    ///
    /// Agones' SDK server (v1.56, `pkg/sdkserver/sdkserver.go`, `UpdateCounter`) refuses with
    /// plain Go errors, which gRPC reports as `Unknown` and the HTTP gateway
    /// (grpc-gateway's `HTTPStatusFromCode`) as **500**, whatever the reason, so the status
    /// alone cannot tell a missing Counter from a sidecar that has not read its GameServer
    /// yet: the message does. `counter not found: NAME` is the cluster's sidecar,
    /// `not found. NAME Counter not found` the local one (`sdk-server --local`,
    /// `localsdk.go`); `out of range. Count must be within range [0,Capacity]…` both;
    /// `CountsAndLists not enabled` a cluster with the feature gate off. A 404 is a sidecar
    /// without the route at all (an Agones before Counters), or one that some day answers
    /// `NOT_FOUND` as its API comments promise.
    #[must_use]
    pub fn counter_refusal(&self) -> Option<CounterRefusal> {
        let Self::Status {
            status, message, ..
        } = self
        else {
            return None;
        };
        let message = message.as_deref().unwrap_or_default();
        if message.starts_with("counter not found")
            || message.contains("Counter not found")
            || message.contains("CountsAndLists not enabled")
            || *status == 404
        {
            Some(CounterRefusal::Undeclared)
        } else if message.starts_with("out of range") {
            Some(CounterRefusal::OverCapacity)
        } else {
            None
        }
    }
}

/// Why the sidecar will not take a Counter's count: the Fleet and the server disagree, which
/// no retry mends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterRefusal {
    /// The GameServer declares no such Counter (`spec.counters`), or Counters are off.
    Undeclared,
    /// The count is beyond the Counter's capacity.
    OverCapacity,
}

impl CounterRefusal {
    /// The `reason` label of [`crate::metrics::AGONES_COUNTER_REFUSALS`].
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Undeclared => "undeclared",
            Self::OverCapacity => "over_capacity",
        }
    }

    /// Every refusal, for creating the metric's series at zero.
    pub const ALL: [Self; 2] = [Self::Undeclared, Self::OverCapacity];
}

/// The error for an answer with a non-2xx `status`: its body's start, and the gRPC status
/// message in it, which [`SdkError::counter_refusal`] reads.
pub(super) fn status_error(status: StatusCode, body: &[u8]) -> SdkError {
    /// The body grpc-gateway writes for an error: a `google.rpc.Status`.
    #[derive(Deserialize)]
    struct GrpcStatus {
        message: String,
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    SdkError::Status {
        status: status.as_u16(),
        body: text.trim().to_owned(),
        message: serde_json::from_slice::<GrpcStatus>(body)
            .ok()
            .map(|s| s.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics as m;

    #[test]
    fn agones_refusals_are_told_from_failures_by_their_message() {
        let answer = |status: u16, body: &str| {
            status_error(
                StatusCode::from_u16(status).expect("a status"),
                body.as_bytes(),
            )
        };
        // What Agones' gateway writes (sdkserver.go, a Go error → gRPC Unknown → 500).
        let undeclared = answer(
            500,
            r#"{"code":2, "message":"counter not found: rooms", "details":[]}"#,
        );
        assert_eq!(
            undeclared.counter_refusal(),
            Some(CounterRefusal::Undeclared),
            "{undeclared}"
        );
        let over = answer(
            500,
            r#"{"code":2,"message":"out of range. Count must be within range [0,Capacity]. Found Count: 11, Capacity: 10","details":[]}"#,
        );
        assert_eq!(
            over.counter_refusal(),
            Some(CounterRefusal::OverCapacity),
            "{over}"
        );
        // The local SDK server's wording (localsdk.go), and the feature gate off.
        for body in [
            r#"{"code":2,"message":"not found. rooms Counter not found","details":[]}"#,
            r#"{"code":2,"message":"CountsAndLists not enabled","details":[]}"#,
        ] {
            assert_eq!(
                answer(500, body).counter_refusal(),
                Some(CounterRefusal::Undeclared),
                "{body}"
            );
        }
        // A sidecar without the route (grpc-gateway's routing error).
        assert_eq!(
            answer(404, r#"{"code":5,"message":"Not Found","details":[]}"#).counter_refusal(),
            Some(CounterRefusal::Undeclared),
            "a 404"
        );
        // A sidecar that cannot read its GameServer (sdkserver.go, gameServer()), a proxy's HTML, a
        // timeout: retried.
        for err in [
            answer(
                500,
                r#"{"code":2,"message":"could not retrieve GameServer default/gs-1: not found","details":[]}"#,
            ),
            answer(502, "<html>bad gateway</html>"),
            SdkError::Timeout(Duration::from_secs(1)),
        ] {
            assert_eq!(err.counter_refusal(), None, "{err} is not a refusal");
        }
    }

    #[test]
    fn refusal_labels_are_the_metric_series() {
        let labels: Vec<&str> = CounterRefusal::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(
            labels,
            m::AGONES_COUNTER_REFUSAL_REASONS,
            "every refusal has its series created at zero"
        );
    }

    /// `cause` appears once in `err`'s whole chain (what `{:#}` of an error report prints: the
    /// message, then each `source()` after a colon).
    fn assert_printed_once(err: &SdkError, cause: &str) {
        let chain = with_causes(err);
        assert!(!cause.is_empty(), "a cause to look for in {chain}");
        assert_eq!(
            chain.matches(cause).count(),
            1,
            "the cause is printed once, however the error is reported: {chain}"
        );
    }

    #[tokio::test]
    async fn each_cause_is_printed_once() {
        let refused = SdkError::Connect {
            addr: "127.0.0.1:9358".parse().expect("an address"),
            cause: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "nobody home"),
        };
        assert_printed_once(&refused, "nobody home");

        let json =
            serde_json::from_str::<super::super::GameServer>("{not json").expect_err("not JSON");
        let text = json.to_string();
        assert_printed_once(&SdkError::from(json), &text);

        let request = hyper::Request::builder()
            .uri("/v1beta1/counters/not a path")
            .body(())
            .expect_err("spaces are not a URI");
        let text = request.to_string();
        assert_printed_once(&SdkError::from(request), &text);

        // A sidecar that answers something that is not HTTP: hyper's error, and its own cause.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("has an address");
        let garbage = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut tcp, _) = listener.accept().await.expect("accepts");
            // The request, then an answer that is not HTTP, then wait for the client to hang up.
            let mut buf = [0_u8; 1024];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp.write_all(b"NOT HTTP AT ALL\r\n\r\n").await;
            while tcp.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        });
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .expect("handshakes");
        let conn = tokio::spawn(conn);
        let request = hyper::Request::post("/health")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
            .expect("a request");
        let hyper_error = sender.send_request(request).await.expect_err("not HTTP");
        let text = hyper_error.to_string();
        let err = SdkError::from(hyper_error);
        assert_printed_once(&err, &text);
        let _ = conn.await;
        garbage.await.expect("the stand-in ends");
    }
}
