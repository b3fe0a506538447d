//! Rooms: each runs the game its rule names, refuses a player over its cap with 1013, is
//! listed at `GET /rooms` while it lives, and is disposed after staying empty (unless the
//! configuration names it).

use std::time::{Duration, Instant};

use tickstream_server::config::RoomRule;
use tickstream_shared::close_code;
use tickstream_tests::{TestClient, TestServer, http_get};

fn rule(name: Option<&str>, prefix: Option<&str>, game: &str, max: Option<usize>) -> RoomRule {
    RoomRule {
        name: name.map(Into::into),
        prefix: prefix.map(Into::into),
        game: game.into(),
        max_players: max,
    }
}

/// `GET /rooms` as JSON.
async fn rooms(server: &TestServer) -> anyhow::Result<serde_json::Value> {
    let (status, body) = http_get(server.metrics_addr, "/rooms").await?;
    anyhow::ensure!(status == 200, "/rooms answered {status}: {body}");
    Ok(serde_json::from_str(&body)?)
}

fn room<'a>(list: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    list["rooms"].as_array()?.iter().find(|r| r["name"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_listed_capped_and_disposed() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| {
        c.rooms.empty_timeout_ms = 500;
        c.rooms
            .rule
            .insert(0, rule(None, Some("duel"), "arena", Some(2)));
        c.rooms
            .rule
            .push(rule(Some("lobby"), None, "coins", Some(50)));
    })
    .await?;

    // The configured room exists before anyone joins.
    let list = rooms(&server).await?;
    let lobby = room(&list, "lobby").expect("the configured room is listed at start-up");
    assert_eq!(
        lobby["game"], "coins",
        "the lobby runs its rule's game: {lobby}"
    );
    assert_eq!(lobby["capacity"], 50, "with its rule's cap: {lobby}");
    assert_eq!(lobby["players"], 0, "and nobody in it: {lobby}");

    // Two rooms of different games with players, as /rooms shows them during play.
    let mut a = server.join("duel-1").await?;
    let b = server.join("duel-1").await?;
    let c = server.join("coins-7").await?;
    assert_eq!(a.welcome.game, "arena", "duel rooms run the arena");
    assert_eq!(c.welcome.game, "coins", "coins rooms run the coin game");
    let full = TestClient::enter(
        &server.wss_url,
        tickstream_shared::ClientMsg::Join(tickstream_shared::Join {
            room: "duel-1".into(),
        }),
    )
    .await?;
    match full {
        Err((code, reason)) => {
            assert_eq!(code, close_code::TRY_AGAIN, "a full room answers 1013");
            assert!(reason.contains("full"), "and says it is full: {reason:?}");
        }
        Ok(_) => panic!("a third player entered a room capped at 2"),
    }
    a.next_update().await?;
    let list = rooms(&server).await?;
    let duel = room(&list, "duel-1").expect("duel-1 is listed");
    assert_eq!(duel["players"], 2, "two players in duel-1: {duel}");
    assert_eq!(duel["capacity"], 2, "capped at two: {duel}");
    assert_eq!(duel["tick_rate_hz"], 30, "at 30 Hz: {duel}");
    let coins = room(&list, "coins-7").expect("coins-7 is listed");
    assert_eq!(coins["game"], "coins", "coins-7 runs coins: {coins}");
    assert_eq!(coins["players"], 1, "one player in coins-7: {coins}");

    // Everyone leaves: the rooms go after the empty timeout, the configured one stays.
    for mut client in [a, b, c] {
        client.client.close(close_code::NORMAL, "bye").await?;
    }
    let start = Instant::now();
    loop {
        let list = rooms(&server).await?;
        if room(&list, "duel-1").is_none() && room(&list, "coins-7").is_none() {
            assert!(
                room(&list, "lobby").is_some(),
                "the configured room stays: {list}"
            );
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "empty rooms were disposed: {list}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "not before the empty timeout ({:?})",
        start.elapsed()
    );
    server.stop().await;
    Ok(())
}
