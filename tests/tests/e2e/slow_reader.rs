//! A client that stops reading costs the server bounded memory, does not slow anyone else,
//! converges once it reads again, and is dropped with 4000 if it stays behind too long.

use std::time::{Duration, Instant};

use tickstream_server::metrics as m;
use tickstream_shared::close_code;
use tickstream_tests::{TestServer, disconnects, rss_bytes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_is_bounded_and_converges_when_it_reads_again() -> anyhow::Result<()> {
    // A big world (about 80 KB per update, 2.4 MB/s) so that the socket buffers fill quickly
    // and the server, not the kernel, must hold back.
    let server = TestServer::start_with(|c| {
        c.game.npc_count = 20_000;
        c.server.slow_client_timeout_ms = 60_000;
    })
    .await?;
    let mut stalled = server.join("stall").await?;
    let mut reader = server.join("stall").await?;
    stalled.next_update().await?;
    for _ in 0..10 {
        reader.next_update().await?;
    }
    let rss_start = rss_bytes()?;
    // `stalled` reads nothing for 6 s while `reader` keeps up.
    reader
        .assert_updates_flow(
            Duration::from_secs(6),
            "another client in the room stopped reading",
        )
        .await?;
    let growth = rss_bytes()?.saturating_sub(rss_start);
    assert!(
        growth < 48 << 20,
        "memory grew by {} MiB while a client stalled on 2.4 MB/s of updates",
        growth >> 20
    );
    // Reading again: buffered frames, then a merged delta that skips ticks, then live ones.
    let target = server.handle.snapshot("stall").await.expect("ticked").tick;
    while stalled.replica.tick().is_none_or(|t| target.is_after(t)) {
        stalled.next_update().await?;
    }
    assert!(
        stalled.max_tick_gap > 1,
        "the stalled client received merged deltas (largest tick gap {})",
        stalled.max_tick_gap
    );
    // Caught up: from here on the client is never ahead of the room's latest tick.
    stalled.keep_history(64);
    stalled.next_update().await?;
    let snap = server.handle.snapshot("stall").await.expect("ticked");
    while stalled.replica.tick().is_none_or(|t| snap.tick.is_after(t)) {
        stalled.next_update().await?;
    }
    assert_eq!(
        stalled.history.get(&snap.tick.0),
        Some(&snap.entities),
        "the stalled client's replica converged to the server's world"
    );
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_behind_for_too_long_is_disconnected() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start_with(|c| {
        c.game.npc_count = 20_000;
        c.server.slow_client_timeout_ms = 1_000;
    })
    .await?;
    let too_slow = disconnects(close_code::TOO_SLOW);
    let metrics = server.baseline(&[&too_slow, m::UPDATES_MERGED]).await?;
    let stalled = server.join("kick").await?;
    let other = server.join("kick").await?.watch_updates();
    let deadline = Instant::now() + Duration::from_secs(30);
    // The stalled client never reads; within seconds the server must give up on it.
    while server.handle.open_connections() > 1 {
        assert!(
            Instant::now() < deadline,
            "the stalled client was never disconnected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    metrics
        .assert_rose(m::UPDATES_MERGED, 1.0, "the stalled client skipped ticks")
        .await?;
    metrics
        .assert_rose(&too_slow, 1.0, "the stalled client was closed with 4000")
        .await?;
    other
        .finish("a client in the same room stalling until it was dropped")
        .await?;
    drop(stalled);
    server.stop().await;
    Ok(())
}
