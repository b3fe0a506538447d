//! Slow and silent connections: a peer that opens a socket and sends nothing, or half an HTTP
//! request, is dropped within the handshake timeout; one that upgrades and never joins gets
//! 4001. Each holds its slot no longer, and a player in the meantime keeps its updates.

use std::time::{Duration, Instant};

use tickstream_tests::{STEP_TIMEOUT, TestServer, rejected_connections};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (EOF or a reset).
async fn until_dropped(s: &mut TcpStream) -> anyhow::Result<()> {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(STEP_TIMEOUT, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_half_requests_are_dropped_at_the_handshake_timeout() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start_with(|c| c.server.handshake_timeout_ms = 500).await?;
    let good = server.join("slowloris").await?.watch_updates();
    let timeout = rejected_connections("handshake_timeout");
    let metrics = server.baseline(&[&timeout]).await?;
    let ws = server
        .ws_url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws");
    let wss = server
        .wss_url
        .trim_start_matches("wss://")
        .trim_end_matches("/ws");
    let opened = Instant::now();
    // Nothing at all, over TLS and over plain ws.
    let mut silent_tls = TcpStream::connect(wss).await?;
    let mut silent_ws = TcpStream::connect(ws).await?;
    // Half an HTTP request, never finished.
    let mut half = TcpStream::connect(ws).await?;
    half.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: web")
        .await?;
    for (what, s) in [
        ("a silent TLS connection", &mut silent_tls),
        ("a silent plain connection", &mut silent_ws),
        ("half an HTTP request", &mut half),
    ] {
        until_dropped(s).await?;
        let after = opened.elapsed();
        assert!(
            after >= Duration::from_millis(400),
            "{what}: dropped at the handshake timeout of 500 ms, not before ({after:?})"
        );
    }
    metrics
        .assert_rose(
            &timeout,
            3.0,
            "three connections that never finished a handshake",
        )
        .await?;
    good.finish("slow and silent connections").await?;
    server.stop().await;
    Ok(())
}
