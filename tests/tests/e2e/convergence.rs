//! After many ticks a client's replica equals the server's own world.

use tickstream_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_equals_the_server_world_after_many_ticks() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut c = server.join("converge").await?;
    c.keep_history(300);
    let mut moving = true;
    for i in 0..150 {
        if i % 30 == 0 {
            // Some inputs so the player moves too.
            moving = !moving;
            c.input(if moving { 1.0 } else { -0.5 }, 0.25).await?;
        }
        c.next_update().await?;
    }
    let snap = server
        .handle
        .snapshot("converge")
        .await
        .expect("the room has ticked");
    while c.replica.tick().is_none_or(|t| snap.tick.is_after(t)) {
        c.next_update().await?;
    }
    let ours = c
        .history
        .get(&snap.tick.0)
        .expect("the client saw that tick");
    assert_eq!(ours.len(), snap.entities.len(), "same number of entities");
    assert_eq!(
        ours, &snap.entities,
        "the replica equals the server's world at tick {:?}",
        snap.tick
    );
    assert!(
        c.updates >= 150,
        "every update applied with a verified checksum"
    );
    server.stop().await;
    Ok(())
}
