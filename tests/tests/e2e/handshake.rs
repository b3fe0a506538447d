//! The upgrade: subprotocol negotiated over wss and ws; refusals as HTTP statuses.

use tickstream_bot::connect::{ConnectOptions, connect};
use tickstream_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_upgrade_negotiates_the_subprotocol() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let client = connect(&server.wss_url, &TestServer::options()).await?;
    assert_eq!(
        client.subprotocol(),
        Some("tickstream.v1"),
        "the server echoes tickstream.v1"
    );
    let plain = connect(&server.ws_url, &ConnectOptions::default()).await?;
    assert_eq!(
        plain.subprotocol(),
        Some("tickstream.v1"),
        "plain ws negotiates it too"
    );
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_without_the_subprotocol_is_refused_with_400() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let opts = ConnectOptions {
        subprotocol: None,
        ..TestServer::options()
    };
    let Err(err) = connect(&server.wss_url, &opts).await else {
        panic!("the upgrade must be refused");
    };
    assert_eq!(
        err.http_status(),
        Some(400),
        "no subprotocol: 400, got {err}"
    );
    let opts = ConnectOptions {
        subprotocol: Some("tickstream.v0".into()),
        ..TestServer::options()
    };
    let Err(err) = connect(&server.wss_url, &opts).await else {
        panic!("the upgrade must be refused");
    };
    assert_eq!(
        err.http_status(),
        Some(400),
        "another subprotocol: 400, got {err}"
    );
    let wrong_path = server.wss_url.replace("/ws", "/nope");
    let Err(err) = connect(&wrong_path, &TestServer::options()).await else {
        panic!("the upgrade must be refused");
    };
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
