//! Area of interest: a client's replica holds exactly the entities within its view radius,
//! as entities cross the edge both ways.

use tickstream_shared::EntityState;
use tickstream_tests::TestServer;

/// 150 units on the 1/64 grid, squared.
const R2: u64 = (150 * 64) * (150 * 64);

fn in_view(c: &EntityState, e: &EntityState) -> bool {
    let (dx, dy) = (u64::from(c.x.abs_diff(e.x)), u64::from(c.y.abs_diff(e.y)));
    dx * dx + dy * dy <= R2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replica_holds_exactly_the_view() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| c.game.view_radius = 150.0).await?;
    let mut c = server.join("aoi").await?;
    c.keep_history(300);
    assert_eq!(
        c.welcome.view_radius, 150.0,
        "the welcome announces the radius"
    );
    let (mut spawned, mut despawned, mut checked) = (0usize, 0usize, 0);
    for i in 0..240 {
        if i % 40 == 0 {
            let dirs = [
                (1.0, 0.0),
                (0.0, 1.0),
                (-1.0, 0.0),
                (0.0, -1.0),
                (1.0, 1.0),
                (-1.0, -1.0),
            ];
            let (dx, dy) = dirs[(i / 40) % dirs.len()];
            c.input(dx, dy).await?;
        }
        let u = c.next_update().await?;
        if i > 0 {
            spawned += u.delta.spawns.len();
            despawned += u.delta.despawns.len();
        }
        let own = c.own()?;
        for e in c.replica.entities() {
            assert!(
                in_view(&own, e),
                "tick {:?}: {e:?} is beyond the radius of {own:?}",
                u.tick
            );
        }
        if i % 30 == 29 {
            // Nothing inside the radius is missing: compare with the server's own world.
            let snap = server.handle.snapshot("aoi").await.expect("ticked");
            while c.replica.tick().is_none_or(|t| snap.tick.is_after(t)) {
                c.next_update().await?;
            }
            let own_then = snap.get(c.welcome.entity).expect("own entity exists");
            let expected: Vec<EntityState> = snap
                .entities
                .iter()
                .filter(|e| in_view(own_then, e))
                .copied()
                .collect();
            assert_eq!(
                c.history.get(&snap.tick.0),
                Some(&expected),
                "the view at tick {:?}",
                snap.tick
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 8, "compared with the server eight times");
    assert!(spawned > 10, "entities entered the view ({spawned})");
    assert!(despawned > 10, "entities left the view ({despawned})");
    server.stop().await;
    Ok(())
}
