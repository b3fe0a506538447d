//! Capacity caps: connections across the server (HTTP 503 beyond it), rooms and players per
//! room (close 1013 beyond them). Players already in keep playing.

use std::time::{Duration, Instant};

use tickstream_client::connect;
use tickstream_shared::{ClientMsg, Join, close_code};
use tickstream_tests::{RawUpgrade, TestServer, disconnects, error_code, rejected_connections};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_beyond_max_connections_gets_503() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start_with(|c| c.server.max_connections = 3).await?;
    // The well-behaved client holds the first of the three slots.
    let good = server.join("capped").await?.watch_updates();
    let (cap, unavailable) = (
        rejected_connections("connection_cap"),
        rejected_connections("unavailable"),
    );
    let metrics = server.baseline(&[&cap, &unavailable]).await?;
    let mut held = Vec::new();
    for i in 0..2 {
        let up = RawUpgrade::send(&server.ws_url, None, "").await?;
        assert_eq!(up.status, 101, "connection {} of 3 is accepted", i + 2);
        held.push(up.stream);
    }
    let up = RawUpgrade::send(&server.ws_url, None, "").await?;
    assert_eq!(up.status, 503, "a fourth connection over ws gets 503");
    match connect(&server.wss_url, &TestServer::options()).await {
        Err(e) => assert_eq!(
            e.http_status(),
            Some(503),
            "a fourth connection over wss gets 503, got {e}"
        ),
        Ok(_) => panic!("a fourth connection over wss must be refused"),
    }
    metrics
        .assert_rose(&cap, 2.0, "two connections over the cap")
        .await?;
    metrics
        .assert_rose(&unavailable, 2.0, "both were answered 503")
        .await?;
    // A freed slot can be taken again.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let up = RawUpgrade::send(&server.ws_url, None, "").await?;
        if up.status == 101 {
            held.push(up.stream);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed slot became available again (last answer {})",
            up.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    good.finish("connections refused at the connection cap")
        .await?;
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_and_player_caps_answer_1013() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start_with(|c| {
        c.server.max_rooms = 1;
        c.server.max_players_per_room = 1;
    })
    .await?;
    let first = server.join("only").await?.watch_updates();
    let try_again = disconnects(close_code::TRY_AGAIN);
    let metrics = server.baseline(&[&try_again]).await?;
    for room in ["only", "another"] {
        let mut c = connect(&server.wss_url, &TestServer::options()).await?;
        c.send(&ClientMsg::Join(Join { room: room.into() })).await?;
        let code = error_code(&mut c).await?;
        assert_eq!(code, close_code::TRY_AGAIN, "{room}: full, 1013");
    }
    metrics
        .assert_rose(&try_again, 2.0, "a full room and one room too many")
        .await?;
    first
        .finish("joins refused at the room and player caps")
        .await?;
    server.stop().await;
    Ok(())
}
