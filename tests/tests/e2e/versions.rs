//! Deployed clients keep working: v2, v3, v4, v5 and v6 clients play in one room, every update of
//! each verified, with no desync, and the gauge counts the sessions of each version.

use std::time::Duration;

use tickstream_bot::load::{LoadConfig, run};
use tickstream_tests::{STEP_TIMEOUT, TestServer, series};

/// Bots per version.
const BOTS: u32 = 12;

async fn bots(server: &TestServer, protocol: u16, room: &str) -> tickstream_bot::Summary {
    let cfg = LoadConfig {
        url: server.ws_url.clone(),
        // Five versions of 12: within the 64 a coins room takes.
        bots: BOTS,
        duration: Duration::from_secs(4),
        room: room.into(),
        connect: TestServer::options().protocol(protocol),
        verify_every: 1,
        ramp: Duration::from_millis(500),
        ..LoadConfig::default()
    };
    tokio::time::timeout(Duration::from_secs(120), run(cfg, |_| {}))
        .await
        .expect("the bots finish")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_every_version_share_a_room_without_desync() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start().await?;
    let n = f64::from(BOTS);
    for room in ["versions", "coins-versions"] {
        let (v2, v3, v4, v5, v6, gauge) = tokio::join!(
            bots(&server, 2, room),
            bots(&server, 3, room),
            bots(&server, 4, room),
            bots(&server, 5, room),
            bots(&server, 6, room),
            async {
                // Polled until every bot of both versions is connected (or the step times out).
                let by = |v: u16| series("tickstream_sessions_by_protocol", "protocol", v);
                let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
                loop {
                    let seen = (
                        server.metric(&by(2)).await.unwrap_or(0.0),
                        server.metric(&by(3)).await.unwrap_or(0.0),
                        server.metric(&by(4)).await.unwrap_or(0.0),
                        server.metric(&by(5)).await.unwrap_or(0.0),
                        server.metric(&by(6)).await.unwrap_or(0.0),
                    );
                    if seen == (n, n, n, n, n) || tokio::time::Instant::now() >= deadline {
                        break seen;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        );
        for (v, s) in [(2, &v2), (3, &v3), (4, &v4), (5, &v5), (6, &v6)] {
            assert_eq!(
                s.bots_connected, BOTS,
                "{room}: every v{v} bot connected: {s:?}"
            );
            assert_eq!(s.verified_bots, BOTS, "{room}: every v{v} bot verified");
            assert_eq!(s.desyncs, 0, "{room}: no v{v} desync: {s:?}");
            assert_eq!(s.errors, 0, "{room}: no v{v} error: {s:?}");
            assert!(
                s.updates_received > u64::from(BOTS) * 60,
                "{room}: v{v} updates flowed: {s:?}"
            );
        }
        assert!(
            v3.bytes_per_update * 2.0 < v2.bytes_per_update,
            "{room}: v3 updates are much smaller: v2 {} B, v3 {} B",
            v2.bytes_per_update,
            v3.bytes_per_update
        );
        // v4 changes only the welcome: its updates are v3's.
        assert!(
            (v4.bytes_per_update - v3.bytes_per_update).abs() < v3.bytes_per_update * 0.2,
            "{room}: v4 updates are v3's: v3 {} B, v4 {} B",
            v3.bytes_per_update,
            v4.bytes_per_update
        );
        // In this test's own process, the gauges count only its bots.
        assert_eq!(
            gauge,
            (n, n, n, n, n),
            "{room}: sessions by protocol (v2, v3, v4, v5, v6) while every bot was connected"
        );
    }
    server.stop().await;
    Ok(())
}
