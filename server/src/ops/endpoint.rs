//! The ops listener: plain HTTP/1.1 for Prometheus and the orchestrator's probes, on its own
//! port so that the game listeners' caps, TLS and drain never hide the server from its
//! operators.
//!
//! | path | answer |
//! |---|---|
//! | `/metrics` | the Prometheus text exposition (format 0.0.4) |
//! | `/healthz` | 200 while the process runs: it is alive (liveness probe) |
//! | `/readyz` | 200 while accepting players, 503 from the first moment of a drain (readiness probe) |
//! | `/rooms` | JSON: every live room's name, game, players, capacity and tick rate |
//! | `POST /internal/handoff` | with `[handoff]` on: a draining predecessor's room, signed ([`super::handoff`]) |
//! | `POST /internal/successor` | with `[handoff]` on: where this server's rooms go when it drains, signed |
//!
//! It answers until the server's run ends, through the whole drain.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::handoff::Handoff;
use crate::net::NetCtx;

/// Ops connections served at once; a scraper or two and the probes need a handful, and a
/// misbehaving client must not exhaust file descriptors through this port.
const MAX_OPS_CONNECTIONS: usize = 64;

/// Time for a request's headers to arrive.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest an ops connection stays open (Prometheus reconnects as needed).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// The content type of the Prometheus text format.
const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves the ops endpoints until the task running it is aborted, which also ends every open
/// ops connection (they are tasks of this one).
pub(crate) async fn serve(
    listener: TcpListener,
    metrics: PrometheusHandle,
    ctx: Arc<NetCtx>,
    handoff: Option<Arc<Handoff>>,
) {
    let limit = Arc::new(Semaphore::new(MAX_OPS_CONNECTIONS));
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "ops listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            tracing::debug!(%peer, "ops listener: too many connections; dropping one");
            continue;
        };
        let metrics = metrics.clone();
        let ctx = Arc::clone(&ctx);
        let handoff = handoff.clone();
        conns.spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req: Request<Incoming>| {
                let internal =
                    req.method() == Method::POST && req.uri().path().starts_with("/internal/");
                let (ctx, handoff) = (Arc::clone(&ctx), handoff.clone());
                let resp = (!internal).then(|| answer(&req, &metrics, &ctx));
                async move {
                    let resp = match (resp, handoff) {
                        (Some(resp), _) => resp,
                        (None, Some(h)) => h.answer(req, &ctx.registry).await,
                        (None, None) => text(StatusCode::NOT_FOUND, "not found: handoff is off\n"),
                    };
                    Ok::<_, Infallible>(resp)
                }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(tcp), service);
            // A connection past its lifetime is simply dropped; the scraper opens a new one.
            if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_LIFETIME, conn).await {
                tracing::debug!(%peer, error = %e, "ops connection error");
            }
        });
    }
}

/// Answers one ops request.
fn answer(
    req: &Request<Incoming>,
    metrics: &PrometheusHandle,
    ctx: &NetCtx,
) -> Response<Full<Bytes>> {
    let ready = ctx.accepting();
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut resp = text(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD\n");
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    match req.uri().path() {
        "/metrics" => {
            let mut resp = Response::new(Full::new(Bytes::from(super::recorder::render(metrics))));
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(EXPOSITION));
            resp
        }
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/rooms" => {
            let rooms = serde_json::json!({ "rooms": ctx.registry.summaries() });
            let mut resp = Response::new(Full::new(Bytes::from(rooms.to_string())));
            let headers = resp.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        "/readyz" if ready => text(StatusCode::OK, "ready\n"),
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "draining\n"),
        _ => text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics, /healthz, /readyz or /rooms\n",
        ),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    // Probes must see the state now, not a proxy's copy of it.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
