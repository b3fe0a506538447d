//! `tickstream-bot --rooms 3`: the bots spread over three rooms, which the server lists on
//! `GET /rooms` with the right player counts, and the summary counts them the same way.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use tickstream_bot::load::{LoadConfig, run};
use tickstream_tests::{STEP_TIMEOUT, TestServer, http_get};

/// The rooms of `GET /rooms` named `prefix…`: name → (game, players).
async fn rooms(
    server: &TestServer,
    prefix: &str,
) -> anyhow::Result<BTreeMap<String, (String, u64)>> {
    let (status, body) = http_get(server.metrics_addr, "/rooms").await?;
    anyhow::ensure!(status == 200, "GET /rooms answered {status}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body).context("/rooms is JSON")?;
    let list = json["rooms"].as_array().context("a rooms array")?;
    let mut out = BTreeMap::new();
    for r in list {
        let name = r["name"].as_str().context("a room name")?;
        if name.starts_with(prefix) {
            let game = r["game"].as_str().context("a game")?.to_owned();
            let players = r["players"].as_u64().context("a player count")?;
            out.insert(name.to_owned(), (game, players));
        }
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_spread_over_three_rooms_with_equal_shares() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let cfg = LoadConfig {
        url: server.wss_url.clone(),
        bots: 10,
        duration: Duration::from_secs(6),
        room: "spread".into(),
        rooms: 3,
        connect: TestServer::options(),
        ramp: Duration::from_millis(500),
        ..LoadConfig::default()
    };
    let running = tokio::spawn(run(cfg, |_| {}));
    // Bot i is in spread-(i % 3): bots 0, 3, 6, 9 | 1, 4, 7 | 2, 5, 8.
    let want: BTreeMap<String, (String, u64)> = [("spread-0", 4), ("spread-1", 3), ("spread-2", 3)]
        .into_iter()
        .map(|(n, p)| (n.to_owned(), ("arena".to_owned(), p)))
        .collect();
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let got = rooms(&server, "spread").await?;
        if got == want {
            break;
        }
        assert!(
            Instant::now() < deadline && !running.is_finished(),
            "the server's rooms never matched the spread: {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = tokio::time::timeout(Duration::from_secs(120), running).await??;
    eprintln!("{s}");
    assert!(s.passed(), "a clean run: {s}");
    assert_eq!(s.rooms.len(), 3, "three rooms in the summary: {s}");
    for (name, (game, players)) in &want {
        let r = s.rooms.get(name).cloned().unwrap_or_default();
        assert_eq!(
            (r.game.as_str(), u64::from(r.bots), u64::from(r.connected)),
            (game.as_str(), *players, *players),
            "{name} in the summary: {s}"
        );
    }
    assert_eq!(
        s.games.get("arena"),
        Some(&10),
        "every bot played arena: {s}"
    );
    server.stop().await;
    Ok(())
}
