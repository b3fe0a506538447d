//! The game seam end to end with the second game: a coins room runs the coin game, whose
//! replicated fields (score, rotation) and events (collected) reach every player, and whose
//! unchanged fields cost nothing.

use std::time::{Duration, Instant};

use tickstream_server::sim::coins::{
    EVENT_COLLECTED, FIELD_ROTATION, FIELD_SCORE, KIND_COIN, KIND_PLAYER,
};
use tickstream_shared::quant::dequantize;
use tickstream_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coin_room_replicates_scores_and_sends_collected_events() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut player = server.join("coins-e2e").await?;
    let mut other = server.join("coins-e2e").await?;
    let w = &player.welcome;
    assert_eq!(w.game, "coins", "rooms named coins… run the coin game");
    assert_eq!(w.kinds, ["player", "coin"], "its entity kinds");
    let names: Vec<&str> = w.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["score", "rotation"], "its fields");
    assert!(
        (w.fields[1].scale - std::f32::consts::TAU / 65536.0).abs() < 1e-9,
        "rotation travels as 1/65536 turns"
    );
    assert_eq!(
        w.event_kinds[usize::from(EVENT_COLLECTED)],
        "collected",
        "event names"
    );
    let me = w.entity;

    // Standing still, nothing changes: the updates carry no field changes at all.
    for _ in 0..5 {
        player.next_update().await?;
    }
    let score_at_rest = player.own()?.fields[FIELD_SCORE];
    for _ in 0..10 {
        let u = player.next_update().await?;
        if player.own()?.fields[FIELD_SCORE] == score_at_rest {
            assert!(
                u.delta.field_changes.is_empty(),
                "unchanged fields cost nothing: {:?}",
                u.delta.field_changes
            );
        }
    }

    // Walk to the nearest coin until this player collects one (a later one than any it may
    // have spawned on, so that the other player is in the room to see it).
    let walk_from = player.events.len();
    let mut last = (0.0f32, 0.0f32, 0u32);
    let start = Instant::now();
    let collected = loop {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the player reached a coin"
        );
        player.next_update().await?;
        if let Some(e) = player.events[walk_from..]
            .iter()
            .find(|e| e.kind == EVENT_COLLECTED && e.entity == me)
        {
            break e.clone();
        }
        let own = player.own()?;
        let (x, y) = (dequantize(own.x), dequantize(own.y));
        let nearest = player
            .replica
            .entities()
            .iter()
            .filter(|e| e.kind == KIND_COIN)
            .map(|c| (dequantize(c.x) - x, dequantize(c.y) - y))
            .min_by(|a, b| (a.0.hypot(a.1)).total_cmp(&b.0.hypot(b.1)))
            .expect("there are coins");
        let len = nearest.0.hypot(nearest.1).max(1e-9);
        let (dx, dy) = ((nearest.0 / len) as f32, (nearest.1 / len) as f32);
        last = (dx, dy, player.input(dx, dy).await?);
    };
    assert!(collected.value >= 1, "the event carries the new score");
    // The score field catches up with the event in the same or a later update.
    while player.own()?.fields[FIELD_SCORE] < collected.value {
        player.next_update().await?;
    }
    // The rotation field is the last input's heading, in 1/65536 turns.
    player.until_acked(last.2).await?;
    let heading = f64::from(last.1)
        .atan2(f64::from(last.0))
        .rem_euclid(std::f64::consts::TAU);
    let expected = (heading / std::f64::consts::TAU * 65536.0).round() as i32 & 0xFFFF;
    let got = player.own()?.fields[FIELD_ROTATION];
    let off = (got - expected)
        .rem_euclid(65536)
        .min((expected - got).rem_euclid(65536));
    assert!(off <= 2, "rotation {got} follows the heading {expected}");
    assert_eq!(
        player.own()?.kind,
        KIND_PLAYER,
        "the own entity is a player"
    );

    // The other player sees the same event and the same score through its own replica.
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the other player saw the collection: events {:?}, score {:?}",
            other.events,
            other.replica.get(me)
        );
        other.next_update().await?;
        let seen = other
            .events
            .iter()
            .any(|e| e.kind == EVENT_COLLECTED && e.entity == me && e.value == collected.value);
        let score = other.replica.get(me).map(|e| e.fields[FIELD_SCORE]);
        if seen && score >= Some(collected.value) {
            break;
        }
    }
    server.stop().await;
    Ok(())
}
