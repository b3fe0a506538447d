//! Accept loops: TLS (or plain), the HTTP upgrade, then the session, under a connection cap.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::upgrade::is_upgrade_request;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tickstream_shared::WS_PATH;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use super::NetCtx;
use super::ip_limit::{ConnPermit, IpPermit, canonical, forwarded_client};
use super::rejection::Rejection;
use super::session;
use super::upgrade::{Refusal, UpgradeSlot, answer};

/// The header a reverse proxy names the client in.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Accepts connections until shutdown. `tls` is `None` for the plain ws listener.
pub(crate) async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, ctx: Arc<NetCtx>) {
    let mut shutdown = ctx.shutdown.clone();
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => {
                backoff = Duration::from_millis(5);
                x
            }
            Err(e) => {
                // Usually out of file descriptors: wait for some to free up instead of
                // spinning on the error.
                tracing::warn!(error = %e, "accept failed; backing off {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let global = Arc::clone(&ctx.conn_limit).try_acquire_owned().ok();
        let trusted = &ctx.server.trusted_proxies;
        let admission = match global {
            // Behind a trusted proxy the client's address is in the request's headers: its
            // per-address slot is taken once they are read.
            Some(global) if !trusted.is_empty() && trusted.contains(&canonical(peer.ip())) => {
                Admission::Proxied(global)
            }
            Some(global) => match ctx.ip_limits.acquire(peer.ip()) {
                Some(ip) => Admission::Admitted(ConnPermit::new(global, ip)),
                None => {
                    Rejection::PerIpCap.count();
                    tracing::debug!(%peer, "per-address connection cap reached");
                    Admission::Refused
                }
            },
            None => {
                Rejection::ConnectionCap.count();
                tracing::debug!(%peer, "connection cap reached");
                Admission::Refused
            }
        };
        let refusing = match &admission {
            Admission::Admitted(_) | Admission::Proxied(_) => None,
            // Over the cap: answer 503 to a bounded number of peers, drop the rest at once.
            Admission::Refused => match Arc::clone(&ctx.refusal_limit).try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    Rejection::OverCapacity.count();
                    tracing::debug!(%peer, "over capacity: connection dropped");
                    continue;
                }
            },
        };
        let ctx2 = Arc::clone(&ctx);
        let tls = tls.clone();
        // Every line about this connection (including the session's) carries the peer.
        // (`client`: the address a trusted proxy forwarded for, when it did.)
        let span = tracing::debug_span!("conn", %peer, client = tracing::field::Empty);
        span.in_scope(|| tracing::debug!(tls = tls.is_some(), "connection accepted"));
        ctx.tasks.spawn(
            async move {
                let _refusing = refusing;
                let timeout = ctx2.handshake_timeout;
                match tls {
                    Some(acceptor) => {
                        match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => {
                                serve(stream, true, peer, admission, ctx2).await;
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                Rejection::Tls.count();
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                Rejection::HandshakeTimeout.count();
                            }
                        }
                    }
                    None => serve(tcp, false, peer, admission, ctx2).await,
                }
            }
            .instrument(span),
        );
    }
}

/// What a connection holds from the accept on.
enum Admission {
    /// Its slots under the global and the per-address caps.
    Admitted(ConnPermit),
    /// From a trusted proxy: its global slot; the per-address one is taken for the forwarded
    /// client when the upgrade request's headers have been read.
    Proxied(OwnedSemaphorePermit),
    /// At a cap: every upgrade gets 503.
    Refused,
}

/// Serves HTTP on one connection; if it upgrades, runs the WebSocket session on it while
/// holding the connection's permit. `buffered`: `io` holds written bytes until flushed (TLS).
async fn serve<S>(io: S, buffered: bool, peer: SocketAddr, admission: Admission, ctx: Arc<NetCtx>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let slot: UpgradeSlot = UpgradeSlot::default();
    let accepting = !matches!(admission, Admission::Refused);
    // Behind a trusted proxy: the forwarded client's slot, kept when its request upgraded.
    let proxied: Option<Arc<Mutex<Option<IpPermit>>>> =
        matches!(admission, Admission::Proxied(_)).then(Arc::default);
    let svc_slot = Arc::clone(&slot);
    let svc_ctx = Arc::clone(&ctx);
    let svc_proxied = proxied.clone();
    let service = service_fn(move |req: Request<Incoming>| {
        let open = accepting && svc_ctx.accepting();
        let resp = match &svc_proxied {
            None => answer(req, open, &svc_ctx.server.allowed_origins, &svc_slot),
            Some(kept) => answer_proxied(req, open, peer, &svc_ctx, &svc_slot, kept),
        };
        async move { Ok::<_, std::convert::Infallible>(resp) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.handshake_timeout)
        // hyper answers a longer request head with 431 and ends the connection with a
        // parse error, counted below.
        .max_buf_size(ctx.server.max_request_head_bytes)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    // The whole exchange is bounded, not just the header read.
    match tokio::time::timeout(ctx.handshake_timeout, conn).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            if e.is_timeout() {
                // hyper's header read timeout: the request never completed.
                Rejection::HandshakeTimeout.count();
            } else if e.is_parse_too_large() {
                Rejection::HeadTooLarge.count();
            }
            tracing::debug!(error = %e, "HTTP connection error");
            return;
        }
        Err(_) => {
            Rejection::HandshakeTimeout.count();
            return;
        }
    }
    let fut = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    let permit = match admission {
        Admission::Admitted(permit) => Some(permit),
        Admission::Proxied(global) => proxied
            .and_then(|kept| kept.lock().unwrap_or_else(|p| p.into_inner()).take())
            .map(|ip| ConnPermit::new(global, ip)),
        Admission::Refused => None,
    };
    let (Some((fut, token, protocol)), Some(permit)) = (fut, permit) else {
        return;
    };
    match fut.await {
        Ok(ws) => session::run(ws, buffered, ctx, permit, token, protocol).await,
        Err(e) => tracing::debug!(error = %e, "upgrade failed"),
    }
}

/// Answers one request that came through a trusted proxy: takes a per-address slot for the
/// client it forwards for (503 when that address is at its cap), and keeps the slot in `kept`
/// if the request upgraded.
fn answer_proxied(
    req: Request<Incoming>,
    open: bool,
    peer: SocketAddr,
    ctx: &NetCtx,
    slot: &UpgradeSlot,
    kept: &Mutex<Option<IpPermit>>,
) -> Response<Full<Bytes>> {
    let s = &ctx.server;
    let client = forwarded_client(
        peer.ip(),
        req.headers()
            .get_all(X_FORWARDED_FOR)
            .iter()
            .map(HeaderValue::as_bytes),
        &s.trusted_proxies,
    );
    tracing::Span::current().record("client", tracing::field::display(client));
    // Only an upgrade takes a slot; everything else is answered (or refused) as it would be.
    if !open || req.uri().path() != WS_PATH || !is_upgrade_request(&req) {
        return answer(req, open, &s.allowed_origins, slot);
    }
    let Some(ip) = ctx.ip_limits.acquire(client) else {
        Rejection::PerIpCap.count();
        tracing::debug!(%client, "per-address connection cap reached");
        return Refusal::Unavailable.response();
    };
    let resp = answer(req, open, &s.allowed_origins, slot);
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        *kept.lock().unwrap_or_else(|p| p.into_inner()) = Some(ip);
    }
    resp
}
