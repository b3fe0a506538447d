//! Emulated network latency: a relay inside the bot process that holds every byte for a
//! fixed time in each direction.
//!
//! `--latency-ms N` puts [`LatencyRelay`] between the bots and the server: the bots connect to
//! it (same host name, so TLS is checked as usual; the relay's own port on loopback), and it
//! forwards each connection to the server, delivering every chunk read from one side `N` ms
//! later to the other. Both directions are delayed, so a round trip gains `2N` ms, as over a
//! real link with `N` ms of one-way delay; the bytes (TLS, WebSocket, messages) are untouched,
//! so everything the bots measure sees the latency exactly as a player would.
//!
//! Bounded: each direction of a connection holds at most [`MAX_CHUNKS_IN_FLIGHT`] chunks;
//! beyond that the relay stops reading from the sender (TCP back-pressure), as a full link
//! would.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Chunks one direction of one connection holds while they wait out the delay.
pub const MAX_CHUNKS_IN_FLIGHT: usize = 1024;

/// The relay: its listening address, and the task that accepts connections (aborted on drop,
/// with every connection it relays).
#[derive(Debug)]
pub struct LatencyRelay {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl LatencyRelay {
    /// Listens on `listen` (port 0 picks one) and relays every connection to `upstream`,
    /// delaying each direction by `one_way`.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        one_way: Duration,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((client, _)) => {
                            conns.spawn(relay(client, upstream, one_way));
                        }
                        // Out of descriptors and the like: try again shortly.
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    },
                    Some(_) = conns.join_next() => {}
                }
            }
        });
        Ok(Self { addr, task })
    }

    /// Where the bots connect instead of the server.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LatencyRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Relays one connection both ways until either side closes.
async fn relay(client: TcpStream, upstream: SocketAddr, one_way: Duration) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    // Small messages go out at once; the delay is ours to add, not Nagle's.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = pipe(cr, sw, one_way);
    let down = pipe(sr, cw, one_way);
    // Either direction ending ends the connection (both halves drop).
    tokio::select! {
        () = up => {}
        () = down => {}
    }
}

/// Copies `from` to `to`, each chunk `delay` after it was read; ends at EOF (after the chunks
/// in flight are delivered) or an error.
async fn pipe(
    mut from: impl AsyncReadExt + Unpin + Send + 'static,
    mut to: impl AsyncWriteExt + Unpin,
    delay: Duration,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(MAX_CHUNKS_IN_FLIGHT);
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let due = Instant::now() + delay;
                    if tx.send((due, buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    while let Some((due, chunk)) = rx.recv().await {
        tokio::time::sleep_until(due).await;
        if to.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
    reader.abort();
}

/// The URL `url` with its port replaced by `port` (the host stays, so TLS checks the server's
/// name as usual), and the host and port it named; `None` for a URL without a host.
#[must_use]
pub fn via_port(url: &str, port: u16) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let default = if scheme == "wss" { 443 } else { 80 };
    // `[::1]:7443`, `host:7443` or `host`.
    let (host, target) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], authority.to_owned()),
        _ => (authority, format!("{authority}:{default}")),
    };
    if host.is_empty() {
        return None;
    }
    Some((format!("{scheme}://{host}:{port}{path}"), target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_their_host_and_path() {
        assert_eq!(
            via_port("wss://localhost:7443/ws", 9000),
            Some(("wss://localhost:9000/ws".into(), "localhost:7443".into())),
            "port replaced"
        );
        assert_eq!(
            via_port("ws://127.0.0.1/ws", 9000),
            Some(("ws://127.0.0.1:9000/ws".into(), "127.0.0.1:80".into())),
            "default port"
        );
        assert_eq!(
            via_port("ws://[::1]:80/ws", 1),
            Some(("ws://[::1]:1/ws".into(), "[::1]:80".into())),
            "IPv6"
        );
        assert_eq!(via_port("nonsense", 1), None, "no scheme");
    }

    #[tokio::test]
    async fn bytes_arrive_late_and_in_order() {
        let echo = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let upstream = echo.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.expect("accept");
            let mut buf = [0u8; 64];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        });
        let one_way = Duration::from_millis(50);
        let relay = LatencyRelay::start("127.0.0.1:0".parse().expect("addr"), upstream, one_way)
            .await
            .expect("relay");
        let mut c = TcpStream::connect(relay.addr()).await.expect("connect");
        let t0 = Instant::now();
        c.write_all(b"ping").await.expect("write");
        let mut got = [0u8; 4];
        c.read_exact(&mut got).await.expect("read");
        let rtt = t0.elapsed();
        assert_eq!(&got, b"ping", "the bytes come back unchanged");
        assert!(rtt >= 2 * one_way, "delayed both ways: {rtt:?}");
        assert!(rtt < 10 * one_way, "not much more: {rtt:?}");
    }
}
