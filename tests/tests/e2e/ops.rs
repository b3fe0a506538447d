//! The ops listener of an in-process server: probes, the exposition, and `/readyz` turning 503
//! the moment a drain starts while `/metrics` and `/healthz` keep answering.

use std::time::Duration;

use tickstream_client::ConnectError;
use tickstream_client::connect;
use tickstream_server::metrics as m;
use tickstream_tests::{STEP_TIMEOUT, TestServer, http_get};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_metrics_answer() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let addr = server.metrics_addr;
    assert_eq!(http_get(addr, "/healthz").await?.0, 200, "alive");
    assert_eq!(http_get(addr, "/readyz").await?.0, 200, "ready");
    assert_eq!(http_get(addr, "/nope").await?.0, 404, "unknown path");
    // A client in a room makes every kind of series move at least once.
    let mut client = server.join("ops").await?;
    client.next_update().await?;
    let (status, body) = http_get(addr, "/metrics").await?;
    assert_eq!(status, 200, "metrics");
    for name in m::ALL {
        assert!(
            body.contains(&format!("# HELP {name} ")),
            "{name} is described in the exposition:\n{body}"
        );
    }
    assert!(
        body.contains("tickstream_tick_budget_seconds 0.0333"),
        "the tick budget of 30 Hz:\n{body}"
    );
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_503_as_the_drain_starts() -> anyhow::Result<()> {
    // A drain delay keeps the server in its draining state long enough to look at it.
    let mut server = TestServer::start_with(|c| c.server.drain_delay_ms = 3_000).await?;
    let addr = server.metrics_addr;
    let mut client = server.join("drain").await?;
    client.next_update().await?;
    server.begin_stop();
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    while http_get(addr, "/readyz").await?.0 != 503 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "/readyz never turned 503"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!server.handle.accepting(), "the handle agrees");
    assert_eq!(http_get(addr, "/healthz").await?.0, 200, "still alive");
    assert_eq!(http_get(addr, "/metrics").await?.0, 200, "still scrapable");
    match connect(&server.ws_url, &TestServer::options()).await {
        Err(ConnectError::Status(503)) => {}
        other => panic!("a new player during the drain delay gets HTTP 503, got {other:?}"),
    }
    client.next_update().await?;
    let (code, reason, error) = client.until_closed().await?;
    assert_eq!(code, 1001, "closed as going away: {reason}");
    assert_eq!(error, Some(1001), "the error message agrees");
    assert!(server.stopped().await, "the run ended");
    Ok(())
}
