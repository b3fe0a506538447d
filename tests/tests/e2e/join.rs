//! Join: the welcome, then a first update that spawns the whole view.

use tickstream_shared::{EntityId, view_checksum};
use tickstream_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_gets_a_welcome_then_the_full_state() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut c = server.join("lobby").await?;
    let w = c.welcome.clone();
    assert_eq!(w.protocol, 2, "protocol version");
    assert_eq!(w.game, "arena", "rooms run the reference arena by default");
    assert_eq!(w.kinds, ["player", "npc"], "the arena's entity kinds");
    assert!(w.fields.is_empty(), "the arena has no game fields");
    assert_eq!(w.resume_token.len(), 32, "a 128-bit resume token in hex");
    assert!(!w.resumed, "a join is not a resume");
    assert_eq!(w.tick_rate_hz, 30, "default tick rate");
    assert_eq!(
        (w.world_width, w.world_height),
        (1000.0, 1000.0),
        "arena size"
    );
    assert_eq!(
        w.entity,
        EntityId(500),
        "the first player follows the 500 NPCs"
    );
    let first = c.next_update().await?;
    assert!(
        first.delta.despawns.is_empty(),
        "nothing to despawn in a first update"
    );
    assert!(
        first.delta.changes.is_empty(),
        "nothing to change in a first update"
    );
    assert_eq!(
        first.delta.spawns.len(),
        501,
        "500 NPCs and the player are spawned"
    );
    assert_eq!(
        first.checksum.0,
        view_checksum(c.replica.entities()),
        "the checksum covers the whole view"
    );
    c.own()?;
    let second = c.next_update().await?;
    assert!(second.tick.is_after(first.tick), "ticks advance");
    assert!(
        second.delta.spawns.is_empty(),
        "the second update spawns nothing new"
    );
    assert!(!second.delta.changes.is_empty(), "NPCs move every tick");
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn players_see_each_other_join_and_leave() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut a = server.join("pair").await?;
    a.next_update().await?;
    let b = server.join("pair").await?;
    let b_id = b.welcome.entity;
    while a.replica.get(b_id).is_none() {
        a.next_update().await?;
    }
    drop(b);
    while a.replica.get(b_id).is_some() {
        a.next_update().await?;
    }
    assert_eq!(
        a.replica.entities().len(),
        501,
        "back to the NPCs and one player"
    );
    server.stop().await;
    Ok(())
}
