//! A plain HTTP/1.1 GET, for the server's ops endpoints (`/metrics`, `/readyz`) and
//! Prometheus' API: what the benchmark and the tests read besides the game protocol.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

/// Why a GET failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No answer within the time allowed.
    #[error("GET http://{addr}{path} timed out after {timeout:?}")]
    Timeout {
        /// The server.
        addr: SocketAddr,
        /// The path and query.
        path: String,
        /// The time allowed.
        timeout: Duration,
    },
    /// The connection could not be made.
    #[error("GET http://{addr}{path}: {cause}")]
    Connect {
        /// The server.
        addr: SocketAddr,
        /// The path and query.
        path: String,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("GET http://{addr}{path}: {reason}")]
    Http {
        /// The server.
        addr: SocketAddr,
        /// The path and query.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// GETs `path_and_query` from `addr`; returns the status and the body (lossy UTF-8).
pub async fn get(
    addr: SocketAddr,
    path_and_query: &str,
    timeout: Duration,
) -> Result<(u16, String), HttpError> {
    let path = path_and_query.to_owned();
    match tokio::time::timeout(timeout, exchange(addr, path_and_query)).await {
        Ok(result) => result,
        Err(_) => Err(HttpError::Timeout {
            addr,
            path,
            timeout,
        }),
    }
}

async fn exchange(addr: SocketAddr, path: &str) -> Result<(u16, String), HttpError> {
    let http = |reason: String| HttpError::Http {
        addr,
        path: path.to_owned(),
        reason,
    };
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|cause| HttpError::Connect {
            addr,
            path: path.to_owned(),
            cause,
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| http(e.to_string()))?;
    let conn = tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .map_err(|e| http(e.to_string()))?;
    let result = async {
        let resp = sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok::<_, hyper::Error>((status, String::from_utf8_lossy(&body).into_owned()))
    }
    .await
    .map_err(|e| http(e.to_string()));
    conn.abort();
    result
}
