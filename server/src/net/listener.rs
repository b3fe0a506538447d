//! Accept loops: TLS (or plain), the HTTP upgrade, then the session, under a connection cap.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use super::ip_limit::ConnPermit;
use super::session;
use super::upgrade::{UpgradeSlot, answer};
use crate::metrics as m;
use crate::server::ServerCtx;

/// Accepts connections until shutdown. `tls` is `None` for the plain ws listener.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    ctx: Arc<ServerCtx>,
) {
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
        let permit = match global {
            Some(global) => match ctx.ip_limits.acquire(peer.ip()) {
                Some(ip) => Some(ConnPermit::new(global, ip)),
                None => {
                    metrics::counter!(m::REJECTED_CONNECTIONS, "reason" => "per_ip_cap")
                        .increment(1);
                    tracing::debug!(%peer, "per-address connection cap reached");
                    None
                }
            },
            None => {
                metrics::counter!(m::REJECTED_CONNECTIONS, "reason" => "connection_cap")
                    .increment(1);
                tracing::debug!(%peer, "connection cap reached");
                None
            }
        };
        let refusing = match &permit {
            Some(_) => None,
            // Over the cap: answer 503 to a bounded number of peers, drop the rest at once.
            None => match Arc::clone(&ctx.refusal_limit).try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    metrics::counter!(m::REJECTED_CONNECTIONS, "reason" => "over_capacity")
                        .increment(1);
                    tracing::debug!(%peer, "over capacity: connection dropped");
                    continue;
                }
            },
        };
        let ctx2 = Arc::clone(&ctx);
        let tls = tls.clone();
        // Every line about this connection (including the session's) carries the peer.
        let span = tracing::debug_span!("conn", %peer);
        span.in_scope(|| tracing::debug!(tls = tls.is_some(), "connection accepted"));
        ctx.tasks.spawn(async move {
            let _refusing = refusing;
            let timeout = ctx2.handshake_timeout;
            match tls {
                Some(acceptor) => match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => serve(stream, permit, ctx2).await,
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        metrics::counter!(m::REJECTED_CONNECTIONS, "reason" => "tls").increment(1);
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "TLS handshake timed out");
                        metrics::counter!(m::REJECTED_CONNECTIONS, "reason" => "handshake_timeout")
                            .increment(1);
                    }
                },
                None => serve(tcp, permit, ctx2).await,
            }
        }.instrument(span));
    }
}

/// Serves HTTP on one connection; if it upgrades, runs the WebSocket session on it while
/// holding the connection's permit.
async fn serve<S>(io: S, permit: Option<ConnPermit>, ctx: Arc<ServerCtx>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let slot: UpgradeSlot = UpgradeSlot::default();
    let accepting = permit.is_some();
    let svc_slot = Arc::clone(&slot);
    let svc_ctx = Arc::clone(&ctx);
    let service = service_fn(move |req| {
        let open = accepting && svc_ctx.accepting();
        let resp = answer(req, open, &svc_ctx.config.server.allowed_origins, &svc_slot);
        async move { Ok::<_, std::convert::Infallible>(resp) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(ctx.handshake_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    // The whole exchange is bounded, not just the header read.
    match tokio::time::timeout(ctx.handshake_timeout, conn).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            if e.is_timeout() {
                // hyper's header read timeout: the request never completed.
                metrics::counter!(m::REJECTED_CONNECTIONS, "reason" => "handshake_timeout")
                    .increment(1);
            }
            tracing::debug!(error = %e, "HTTP connection error");
            return;
        }
        Err(_) => {
            metrics::counter!(m::REJECTED_CONNECTIONS, "reason" => "handshake_timeout")
                .increment(1);
            return;
        }
    }
    let fut = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    let (Some((fut, token)), Some(permit)) = (fut, permit) else {
        return;
    };
    match fut.await {
        Ok(ws) => session::run(ws, ctx, permit, token).await,
        Err(e) => tracing::debug!(error = %e, "upgrade failed"),
    }
}
