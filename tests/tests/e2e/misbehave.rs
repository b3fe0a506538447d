//! `tickstream-bot --misbehave`: each probe gets the documented answer, counted in its metric,
//! and a well-behaved client in the same room keeps its updates.

use tickstream_bot::misbehave::{Mode, probe};
use tickstream_shared::close_code;
use tickstream_tests::{TestServer, disconnects, rejected_connections};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_get_the_documented_answers() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start_with(|c| c.server.handshake_timeout_ms = 1_000).await?;
    let good = server.join("probed").await?.watch_updates();
    let (protocol, too_big, policy, timeout) = (
        disconnects(close_code::PROTOCOL_ERROR),
        disconnects(close_code::TOO_BIG),
        disconnects(close_code::POLICY),
        rejected_connections("handshake_timeout"),
    );
    let metrics = server
        .baseline(&[&protocol, &too_big, &policy, &timeout])
        .await?;
    // The stall probe needs the socket buffers to fill, which takes minutes on loopback; the
    // slow-reader tests cover that behaviour with a larger world.
    for mode in [Mode::Garbage, Mode::Oversize, Mode::Flood, Mode::Slowloris] {
        for url in [&server.ws_url, &server.wss_url] {
            let outcome = probe(mode, url, &TestServer::options(), "probed").await;
            assert!(outcome.as_expected, "{url}: {outcome}");
        }
    }
    // Each probe ran over ws and over wss.
    metrics
        .assert_rose(&protocol, 2.0, "garbage probes")
        .await?;
    metrics
        .assert_rose(&too_big, 2.0, "oversize probes")
        .await?;
    metrics.assert_rose(&policy, 2.0, "flood probes").await?;
    metrics
        .assert_rose(&timeout, 2.0, "slowloris probes")
        .await?;
    good.finish("the misbehaving probes in the same room")
        .await?;
    server.stop().await;
    Ok(())
}
