//! A panic in one room's game closes that room's clients with 1011; other rooms keep ticking.

use std::time::{Duration, Instant};

use tickstream_server::metrics as m;
use tickstream_shared::close_code;
use tickstream_tests::{TestServer, disconnects};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_room_closes_only_its_clients() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server =
        TestServer::start_with(|c| c.game.fault_panic_room = Some("doomed".into())).await?;
    let fine = server.join("fine").await?.watch_updates();
    let internal = disconnects(close_code::INTERNAL);
    let metrics = server.baseline(&[&internal, m::ROOM_PANICS]).await?;
    let mut doomed = server.join("doomed").await?;
    // The doomed room panics at its 30th tick, about a second in.
    let (code, reason, error) = doomed.until_closed().await?;
    assert_eq!(
        code,
        close_code::INTERNAL,
        "the doomed room's client gets 1011 ({reason})"
    );
    assert_eq!(
        error,
        Some(close_code::INTERNAL),
        "after an Error message with 1011"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.handle.room("doomed").is_some() {
        assert!(
            Instant::now() < deadline,
            "the failed room left the registry"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    metrics
        .assert_rose(m::ROOM_PANICS, 1.0, "one room panicked")
        .await?;
    metrics
        .assert_rose(&internal, 1.0, "its client was closed with 1011")
        .await?;
    // The other room never stopped.
    let mut fine = fine.finish("another room panicking").await?;
    fine.assert_updates_flow(Duration::from_secs(1), "after another room panicked")
        .await?;
    server.stop().await;
    Ok(())
}
