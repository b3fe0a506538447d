//! About 100 real bots over wss for a few seconds: every update verified, no desync.

use std::time::Duration;

use tickstream_bot::load::{LoadConfig, run};
use tickstream_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_bots_see_no_desync() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let cfg = LoadConfig {
        url: server.wss_url.clone(),
        bots: 100,
        duration: Duration::from_secs(4),
        room: "bots".into(),
        connect: TestServer::options(),
        verify_every: 1,
        ramp: Duration::from_secs(1),
        ..LoadConfig::default()
    };
    let summary = tokio::time::timeout(Duration::from_secs(120), run(cfg, |_| {})).await?;
    assert_eq!(
        summary.bots_connected, 100,
        "every bot connected: {summary:?}"
    );
    assert_eq!(summary.desyncs, 0, "no desync: {summary:?}");
    assert_eq!(summary.errors, 0, "no error: {summary:?}");
    assert!(
        summary.updates_received > 100 * 60,
        "updates flowed: {summary:?}"
    );
    server.stop().await;
    Ok(())
}
