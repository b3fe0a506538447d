//! Events: one-shot game events reach each player in order, without gaps, complete across a
//! resume; a client that lets its bounded queue overflow is closed with 4004.

use std::time::Duration;

use tickstream_server::sim::arena::{EVENT_JOINED, EVENT_LEFT};
use tickstream_shared::{EntityId, close_code};
use tickstream_tests::{STEP_TIMEOUT, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_arrive_in_order_and_complete_across_a_resume() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| c.game.announce_players = true).await?;
    let mut a = server.join("ev").await?;
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(server.join("ev").await?);
    }
    while a.events.len() < 3 {
        a.next_update().await?;
    }
    let seen: Vec<(u16, EntityId)> = a.events.iter().map(|e| (e.kind, e.entity)).collect();
    let joined: Vec<(u16, EntityId)> = others
        .iter()
        .map(|c| (EVENT_JOINED, c.welcome.entity))
        .collect();
    assert_eq!(seen, joined, "three joins, in join order");

    // While A is away, two more join and one leaves: A must get all three on its return.
    let a_entity = a.welcome.entity;
    let (token_holder, events_before) = (a, 3);
    let mut away = Vec::new();
    let leaver = others.remove(0);
    let leaver_entity = leaver.welcome.entity;
    for _ in 0..2 {
        away.push(server.join("ev").await?);
    }
    let mut leaver = leaver;
    leaver.client.close(close_code::NORMAL, "bye").await?;
    // The joins were answered; the leave is handled at the room's next tick: A, two of the
    // others and the two newcomers are left.
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    while server.handle.room("ev").map(|r| r.players()) != Some(5) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the leaver left the room"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut a = token_holder
        .drop_and_resume(&server.wss_url, "ev")
        .await?
        .map_err(|(code, reason)| anyhow::anyhow!("resume refused: {code} {reason}"))?;
    assert_eq!(a.welcome.entity, a_entity, "A got its entity back");
    while a.events.len() < events_before + 3 {
        // `next_update` checks that every seq follows the previous one.
        a.next_update().await?;
    }
    let missed: Vec<(u16, EntityId)> = a.events[events_before..]
        .iter()
        .map(|e| (e.kind, e.entity))
        .collect();
    assert_eq!(
        missed,
        vec![
            (EVENT_JOINED, away[0].welcome.entity),
            (EVENT_JOINED, away[1].welcome.entity),
            (EVENT_LEFT, leaver_entity),
        ],
        "the events of the time away, in order"
    );
    let seqs: Vec<u32> = a.events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=6).collect::<Vec<u32>>(),
        "seqs 1 to 6, none twice"
    );
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_event_queue_overflows_is_closed_with_4004() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    // A big world fills the socket buffers quickly, so that the stalled client's writer
    // blocks and its events wait in the bounded queue.
    let server = TestServer::start_with(|c| {
        c.game.npc_count = 20_000;
        c.server.slow_client_timeout_ms = 60_000;
        c.rooms.max_pending_events = 3;
        c.game.announce_players = true;
    })
    .await?;
    let code = "tickstream_disconnects_total{code=\"4004\"}";
    let merged = tickstream_server::metrics::UPDATES_MERGED;
    let base = server.baseline(&[code, merged]).await?;
    let mut stalled = server.join("busy").await?;
    stalled.next_update().await?;
    // Not reading: once the socket buffers are full the writer blocks, and the room starts
    // merging this client's ticks (in this test's own process, nothing else merges).
    base.assert_rose(merged, 3.0, "the stalled client's writer is blocked")
        .await?;
    let mut joiners = Vec::new();
    for _ in 0..5 {
        joiners.push(server.join("busy").await?);
    }
    let (code_read, reason, error) = stalled.until_closed().await?;
    assert_eq!(
        code_read,
        close_code::EVENTS_OVERFLOW,
        "the stalled client is closed with 4004 ({reason})"
    );
    assert_eq!(
        error,
        Some(close_code::EVENTS_OVERFLOW),
        "its error message says 4004"
    );
    base.assert_rose(code, 1.0, "the overflow close").await?;
    server.stop().await;
    Ok(())
}
