//! `tickstream-bot --misbehave`: each probe gets the documented answer, and a well-behaved
//! client in the same room keeps its updates.

use std::time::Duration;

use tickstream_bot::misbehave::{Mode, probe};
use tickstream_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_get_the_documented_answers() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| c.server.handshake_timeout_ms = 1_000).await?;
    let mut good = server.join("probed").await?;
    good.next_update().await?;
    // The stall probe needs the socket buffers to fill, which takes minutes on loopback; the
    // slow-reader tests cover that behaviour with a larger world.
    for mode in [Mode::Garbage, Mode::Oversize, Mode::Flood, Mode::Slowloris] {
        for url in [&server.ws_url, &server.wss_url] {
            let outcome = probe(mode, url, &TestServer::options(), "probed").await;
            assert!(outcome.as_expected, "{url}: {outcome}");
        }
    }
    let got = good.updates_during(Duration::from_secs(1)).await?;
    assert!(
        got >= 28,
        "the good client kept its update rate ({got} in 1 s)"
    );
    server.stop().await;
    Ok(())
}
