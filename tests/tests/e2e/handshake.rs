//! The upgrade: subprotocol negotiated over wss and ws; refusals as HTTP statuses.

use tickstream_bot::connect::{ConnectError, ConnectOptions, connect};
use tickstream_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_upgrade_negotiates_the_subprotocol() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let client = connect(&server.wss_url, &TestServer::options()).await?;
    assert_eq!(
        client.subprotocol(),
        Some("tickstream.v2"),
        "the server echoes tickstream.v2"
    );
    let plain = connect(&server.ws_url, &ConnectOptions::default()).await?;
    assert_eq!(
        plain.subprotocol(),
        Some("tickstream.v2"),
        "plain ws negotiates it too"
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
    let server = TestServer::start().await?;
    let opts = ConnectOptions {
        subprotocol: None,
        ..TestServer::options()
    };
    let err = refused(connect(&server.wss_url, &opts).await);
    assert_eq!(
        err.http_status(),
        Some(400),
        "no subprotocol: 400, got {err}"
    );
    let opts = ConnectOptions {
        subprotocol: Some("tickstream.v0".into()),
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
        server.handle.room_names().len(),
        0,
        "no refused client made a room"
    );
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
    Ok(tickstream_tests::RawUpgrade::send(ws_url, None, extra)
        .await?
        .status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_off_the_allowlist_get_403() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| {
        c.server.allowed_origins = vec!["https://game.example".into()];
    })
    .await?;
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
    server.stop().await;
    Ok(())
}
