//! The per-address connection cap: one host cannot take every slot; other hosts (other
//! loopback addresses stand in for them) are unaffected, and a freed slot can be reused.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tickstream_tests::{STEP_TIMEOUT, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Sends an upgrade request from `local` and returns the HTTP status with the open stream.
async fn upgrade_from(local: &str, server: SocketAddr) -> anyhow::Result<(u16, TcpStream)> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{local}:0").parse()?)?;
    let mut s = socket.connect(server).await?;
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: tickstream.v1\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        tokio::time::timeout(STEP_TIMEOUT, s.read_exact(&mut b)).await??;
        head.push(b[0]);
    }
    let status = String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, s))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_slot() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| c.server.max_connections_per_ip = 3).await?;
    let addr: SocketAddr = server
        .ws_url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws")
        .parse()?;
    let mut held = Vec::new();
    for i in 0..3 {
        let (status, s) = upgrade_from("127.0.0.2", addr).await?;
        assert_eq!(status, 101, "connection {i} from 127.0.0.2 is accepted");
        held.push(s);
    }
    let (status, _) = upgrade_from("127.0.0.2", addr).await?;
    assert_eq!(
        status, 503,
        "a fourth from the same address is refused before the upgrade"
    );
    let (status, _other) = upgrade_from("127.0.0.3", addr).await?;
    assert_eq!(status, 101, "another address still gets in");
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, s) = upgrade_from("127.0.0.2", addr).await?;
        if status == 101 {
            held.push(s);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed slot became available again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
    Ok(())
}
