//! Rooms nobody plays in cost nothing, and one address cannot create rooms without bound.

use std::time::{Duration, Instant};

use tickstream_shared::close_code;
use tickstream_tests::{STEP_TIMEOUT, TestClient, TestServer, series};
use tokio::task::JoinSet;

/// Joins each of `names` over plain ws, sixteen at a time, and closes each client with 1000
/// (a player that leaves for good: no resume grace keeps it).
async fn join_and_leave(server: &TestServer, names: &[String]) -> anyhow::Result<()> {
    for chunk in names.chunks(16) {
        let mut running = JoinSet::new();
        for name in chunk {
            let (url, name) = (server.ws_url.clone(), name.clone());
            running.spawn(async move {
                let mut c = TestClient::join(&url, &name).await?;
                c.next_update().await?;
                c.client.close(close_code::NORMAL, "bye").await?;
                anyhow::Ok(())
            });
        }
        while let Some(done) = running.join_next().await {
            done??;
        }
    }
    Ok(())
}

/// Polls until `check` holds, within [`STEP_TIMEOUT`].
async fn until(what: &str, mut check: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    while !check() {
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_created_and_left_stop_ticking() -> anyhow::Result<()> {
    // One address (127.0.0.1, exempt from the per-address room limit, as a load test is)
    // creates 300 rooms and leaves them; they stay listed for the empty timeout (30 s).
    let server = TestServer::start_with(|c| c.server.max_rooms = 400).await?;
    let names: Vec<String> = (0..300).map(|i| format!("left-{i}")).collect();
    join_and_leave(&server, &names).await?;
    let rooms = || names.iter().filter_map(|n| server.handle.room(n));
    until("every room is empty", || {
        rooms().count() == names.len() && rooms().all(|r| r.players() == 0)
    })
    .await?;
    let before: Vec<u32> = rooms().map(|r| r.tick().0).collect();
    // Nine ticks' time at 30 Hz: a room that simulated would have moved on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after: Vec<u32> = rooms().map(|r| r.tick().0).collect();
    assert_eq!(rooms().count(), names.len(), "the rooms are still alive");
    let ticking = before.iter().zip(&after).filter(|(b, a)| b != a).count();
    assert_eq!(ticking, 0, "{ticking} of 300 empty rooms kept simulating");
    // The same measure sees a room that has a player again.
    let mut back = server.join("left-7").await?;
    let first = back.next_update().await?.tick;
    let mut later = back.next_update().await?.tick;
    while !later.is_after(first) {
        later = back.next_update().await?.tick;
    }
    let info = server.handle.room("left-7").expect("alive");
    assert!(
        info.tick().is_after(tickstream_shared::Tick(before[7])),
        "a room with a player simulates again"
    );
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_creates_a_bounded_number_of_rooms() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start_with(|c| {
        c.server.max_rooms_per_ip = 2;
        // The test's clients come from 127.0.0.1: make it an address like any other.
        c.server.per_ip_exempt = Vec::new();
        c.rooms.empty_timeout_ms = 200;
    })
    .await?;
    let limit = series(
        tickstream_server::metrics::REJECTED_JOINS,
        "reason",
        "room_creation_limit",
    );
    let metrics = server.baseline(&[&limit]).await?;
    let first = server.join("mine-1").await?;
    let second = server.join("mine-2").await?;
    let third = TestClient::enter(
        &server.wss_url,
        tickstream_shared::ClientMsg::Join(tickstream_shared::Join {
            room: "mine-3".into(),
        }),
    )
    .await?;
    match third {
        Err((code, reason)) => assert_eq!(
            code,
            close_code::TRY_AGAIN,
            "a third new room from the address is refused with 1013 ({reason})"
        ),
        Ok(_) => panic!("a third new room from one address must be refused"),
    }
    metrics
        .assert_rose(&limit, 1.0, "a room beyond the address's limit")
        .await?;
    let again = server.join("mine-1").await?;
    assert_eq!(
        again.welcome.game, first.welcome.game,
        "an existing room still takes joins"
    );
    // Once one of its rooms is disposed, the address may create another.
    let mut second = second;
    second.client.close(close_code::NORMAL, "bye").await?;
    until("mine-2 is disposed", || {
        server.handle.room("mine-2").is_none()
    })
    .await?;
    let third = server.join("mine-3").await?;
    drop((first, again, third));
    server.stop().await;
    Ok(())
}
