//! The upgrade: subprotocol negotiated over wss and ws; refusals as HTTP statuses.

use tickstream_client::{ConnectError, ConnectOptions, connect};
use tickstream_tests::{RawUpgrade, TestServer, rejected_connections};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_upgrade_negotiates_the_subprotocol() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let client = connect(&server.wss_url, &TestServer::options()).await?;
    assert_eq!(
        client.subprotocol(),
        Some(tickstream_shared::SUBPROTOCOL),
        "the server echoes the newest, tickstream.v5"
    );
    let plain = connect(&server.ws_url, &ConnectOptions::default()).await?;
    assert_eq!(
        plain.subprotocol(),
        Some("tickstream.v5"),
        "plain ws negotiates it too (offering every version, the client's default, gets the highest)"
    );
    let v2 = connect(&server.ws_url, &TestServer::options_v2()).await?;
    assert_eq!(
        v2.subprotocol(),
        Some("tickstream.v2"),
        "a deployed v2 client gets v2"
    );
    server.stop().await;
    Ok(())
}

/// The error of a connection attempt that must fail.
fn refused<T>(result: Result<T, ConnectError>) -> ConnectError {
    match result {
        Ok(_) => panic!("the upgrade must be refused"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_without_the_subprotocol_is_refused_with_400() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start().await?;
    let good = server.join("handshake").await?.watch_updates();
    let (no_subprotocol, not_found) = (
        rejected_connections("no_subprotocol"),
        rejected_connections("not_found"),
    );
    let metrics = server.baseline(&[&no_subprotocol, &not_found]).await?;
    let opts = ConnectOptions {
        subprotocols: Vec::new(),
        ..TestServer::options()
    };
    let err = refused(connect(&server.wss_url, &opts).await);
    assert_eq!(
        err.http_status(),
        Some(400),
        "no subprotocol: 400, got {err}"
    );
    let opts = ConnectOptions {
        subprotocols: vec!["tickstream.v0".into()],
        ..TestServer::options()
    };
    let err = refused(connect(&server.wss_url, &opts).await);
    assert_eq!(
        err.http_status(),
        Some(400),
        "another subprotocol: 400, got {err}"
    );
    let wrong_path = server.wss_url.replace("/ws", "/nope");
    let err = refused(connect(&wrong_path, &TestServer::options()).await);
    assert_eq!(err.http_status(), Some(404), "another path: 404, got {err}");
    assert_eq!(
        server.handle.room_names(),
        vec!["handshake".to_owned()],
        "no refused client made a room"
    );
    metrics
        .assert_rose(&no_subprotocol, 2.0, "two upgrades without tickstream.v2")
        .await?;
    metrics
        .assert_rose(&not_found, 1.0, "one upgrade of another path")
        .await?;
    good.finish("refused upgrades").await?;
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_not_trusted_fails_the_tls_handshake() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let strict = ConnectOptions::default();
    let result = connect(&server.wss_url, &strict).await;
    assert!(
        result.is_err(),
        "the self-signed certificate is not trusted by default"
    );
    server.stop().await;
    Ok(())
}

/// The HTTP status of an upgrade request over plain ws with the given extra header lines.
async fn upgrade_status(ws_url: &str, extra: &str) -> anyhow::Result<u16> {
    Ok(RawUpgrade::send(ws_url, None, extra).await?.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_off_the_allowlist_get_403() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start_with(|c| {
        c.server.allowed_origins = vec!["https://game.example".into()];
    })
    .await?;
    let good = server.join("origins").await?.watch_updates();
    let origin = rejected_connections("origin");
    let metrics = server.baseline(&[&origin]).await?;
    let url = &server.ws_url;
    assert_eq!(
        upgrade_status(url, "Origin: https://evil.example\r\n").await?,
        403,
        "an origin not on the list"
    );
    assert_eq!(
        upgrade_status(url, "Origin: https://game.example\r\n").await?,
        101,
        "the listed origin"
    );
    assert_eq!(
        upgrade_status(url, "").await?,
        101,
        "no Origin header: a native client"
    );
    metrics
        .assert_rose(&origin, 1.0, "one origin off the list")
        .await?;
    good.finish("upgrades from origins off the list").await?;
    server.stop().await;
    Ok(())
}

/// The HTTP status of an upgrade request over plain ws with `version` as its
/// `Sec-WebSocket-Version` (none for `None`).
async fn status_with_version(ws_url: &str, version: Option<&str>) -> anyhow::Result<u16> {
    let up = RawUpgrade::send_request(ws_url, None, |addr| {
        let version = version
            .map(|v| format!("Sec-WebSocket-Version: {v}\r\n"))
            .unwrap_or_default();
        format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{version}\
             Sec-WebSocket-Protocol: tickstream.v2\r\n\r\n"
        )
    })
    .await?;
    Ok(up.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_version_other_than_13_gets_400() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start().await?;
    let good = server.join("versions").await?.watch_updates();
    let bad_handshake = rejected_connections("bad_handshake");
    let metrics = server.baseline(&[&bad_handshake]).await?;
    let url = &server.ws_url;
    assert_eq!(
        status_with_version(url, Some("12")).await?,
        400,
        "version 12 (before RFC 6455)"
    );
    assert_eq!(
        status_with_version(url, Some("14")).await?,
        400,
        "a version after 13"
    );
    assert_eq!(
        status_with_version(url, None).await?,
        400,
        "no version at all"
    );
    assert_eq!(
        status_with_version(url, Some("13")).await?,
        101,
        "version 13 is upgraded"
    );
    metrics
        .assert_rose(&bad_handshake, 3.0, "three upgrades with a bad version")
        .await?;
    good.finish("upgrades with a bad WebSocket version").await?;
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_over_the_limit_gets_431() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start().await?;
    let too_large = rejected_connections("head_too_large");
    let metrics = server.baseline(&[&too_large]).await?;
    let addr = server
        .ws_url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws")
        .to_owned();
    let stream = tokio::net::TcpStream::connect(&addr).await?;
    let (mut rd, mut wr) = stream.into_split();
    // A valid upgrade request, but for one 64 KiB header (the default limit is 16 KiB). It
    // is written beside the read: the server answers as soon as it has seen too much.
    let head = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: tickstream.v2\r\nX-Padding: {}\r\n\r\n",
        "p".repeat(64 * 1024)
    );
    let writer = tokio::spawn(async move {
        for chunk in head.as_bytes().chunks(4096) {
            if wr.write_all(chunk).await.is_err() {
                break;
            }
        }
        wr
    });
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 1024];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(tickstream_tests::STEP_TIMEOUT, read).await?;
    let _ = writer.await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "a 64 KiB request head is answered 431, got {answer:?}"
    );
    metrics
        .assert_rose(&too_large, 1.0, "a request head over the limit")
        .await?;
    server.stop().await;
    Ok(())
}
