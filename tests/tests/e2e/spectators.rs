//! Spectators (protocol v6): a connection watches a room without an entity, sees exactly what
//! the server holds (the whole room, or what a followed player sees), is not a player, is
//! capped, can be delayed, and is refused clearly where it does not belong.

use std::time::Duration;

use tickstream_client::{Incoming, connect};
use tickstream_shared::{
    ClientMsg, EntityId, EntityState, Follow, Input, Spectate, Tick, close_code,
};
use tickstream_tests::{TestServer, TestSpectator, until_closed};

/// 150 units on the 1/64 grid, squared.
const R2: u64 = (150 * 64) * (150 * 64);

fn in_view(c: &EntityState, e: &EntityState) -> bool {
    let (dx, dy) = (u64::from(c.x.abs_diff(e.x)), u64::from(c.y.abs_diff(e.y)));
    dx * dx + dy * dy <= R2
}

/// Applies spectator updates until the view is at `tick` (or past it: then `false`).
async fn reach(s: &mut TestSpectator, tick: Tick) -> anyhow::Result<bool> {
    if let Some(at) = s.replica.tick()
        && !tick.is_after(at)
    {
        return Ok(at == tick);
    }
    loop {
        let (_, at) = s.next_update().await?;
        if at == tick {
            return Ok(true);
        }
        if at.is_after(tick) {
            return Ok(false);
        }
    }
}

/// The spectator's view equals the server's world (or the followed player's view of it) at
/// the same tick, compared several times while the players move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spectator_sees_the_room_and_what_a_followed_player_sees() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| {
        c.game.view_radius = 150.0;
        c.server.max_players_per_room = 2;
    })
    .await?;
    let mut a = server.join("watched").await?;
    let mut b = server.join("watched").await?;
    a.input(1.0, 0.3).await?;
    b.input(-0.5, 1.0).await?;
    // The room is full of players; a spectator is not a player.
    let mut s = TestSpectator::spectate(&server.wss_url, "watched", None)
        .await?
        .map_err(|(code, reason)| anyhow::anyhow!("refused: {code} {reason}"))?;
    assert_eq!(s.spectating.welcome.protocol, 6);
    assert_eq!(s.spectating.follow, None);
    assert_eq!(s.spectating.delay_ms, 0);
    assert!(!s.spectating.recording);
    assert!(s.spectating.welcome.resume_token.is_empty());
    assert_eq!(s.spectating.welcome.game, "arena");
    let mut compared = 0;
    let mut counted = false;
    for round in 0..6 {
        if round == 3 {
            s.follow(Some(a.welcome.entity)).await?;
        }
        for _ in 0..5 {
            s.next_update().await?;
            a.next_update().await?;
            b.next_update().await?;
        }
        let snap = server.handle.snapshot("watched").await.expect("ticked");
        let room = server
            .handle
            .rooms()
            .into_iter()
            .find(|r| r.name == "watched");
        // `/rooms` counts the spectator apart from the players (set at the room's next tick).
        counted |= room.is_some_and(|r| (r.players, r.spectators) == (2, 1));
        if !reach(&mut s, snap.tick).await? {
            eprintln!("round {round}: the view skipped tick {:?}", snap.tick);
            continue;
        }
        let expected: Vec<EntityState> = if round < 3 {
            snap.entities.clone()
        } else {
            let own = snap.get(a.welcome.entity).expect("a is in the room");
            snap.entities
                .iter()
                .filter(|e| in_view(own, e))
                .copied()
                .collect()
        };
        if round == 3 && s.replica.entities() != &expected[..] {
            // The Follow may have been read after this tick was built.
            continue;
        }
        assert_eq!(s.replica.entities(), &expected[..], "round {round}");
        compared += 1;
    }
    assert!(compared >= 4, "compared the view {compared} times");
    assert!(counted, "the room lists 2 players and 1 spectator");
    assert!(
        s.replica.entities().len() < 500,
        "following a player shows that player's view, not the room"
    );
    // Back to the whole room.
    s.follow(None).await?;
    let mut whole = false;
    for _ in 0..30 {
        s.next_update().await?;
        if s.replica.entities().len() >= 502 {
            whole = true;
            break;
        }
    }
    assert!(whole, "Follow(None) shows the whole room again");
    server.stop().await;
    Ok(())
}

/// Spectators get the events every player gets, numbered from 1 for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spectator_gets_the_room_events() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let mut p = server.join("coins-watch").await?;
    let mut s = TestSpectator::spectate(&server.wss_url, "coins-watch", Some(p.welcome.entity))
        .await?
        .map_err(|(code, reason)| anyhow::anyhow!("refused: {code} {reason}"))?;
    assert_eq!(s.spectating.follow, Some(p.welcome.entity));
    // A second player joins: everyone hears of it.
    let q = server.join("coins-watch").await?;
    for _ in 0..30 {
        s.next_update().await?;
        p.next_update().await?;
        if !s.events.is_empty() {
            break;
        }
    }
    let joined = s.events.first().expect("the spectator heard of the join");
    assert_eq!(joined.seq, 1, "a spectator's events are numbered from 1");
    assert_eq!(
        joined.entity, q.welcome.entity,
        "it is the second player's join"
    );
    server.stop().await;
    Ok(())
}

/// With `rooms.spectator_delay_ms`, spectators watch that far behind the players.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_spectator_watches_behind_the_players() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| c.rooms.spectator_delay_ms = 1000).await?;
    let mut p = server.join("delayed").await?;
    let mut s = TestSpectator::spectate(&server.wss_url, "delayed", None)
        .await?
        .map_err(|(code, reason)| anyhow::anyhow!("refused: {code} {reason}"))?;
    assert_eq!(s.spectating.delay_ms, 1000, "30 ticks at 30 Hz");
    let started = std::time::Instant::now();
    let (_, first) = s.next_update().await?;
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "the first update waits out the delay ({:?})",
        started.elapsed()
    );
    for _ in 0..20 {
        s.next_update().await?;
    }
    let live = server.handle.room("delayed").expect("room").tick();
    let (_, seen) = s.next_update().await?;
    let behind = live.since(seen);
    assert!(
        (25..=40).contains(&behind),
        "the spectator is about 30 ticks behind (live {live:?}, seen {seen:?}, first {first:?})"
    );
    p.next_update().await?;
    server.stop().await;
    Ok(())
}

/// The cap, a missing room, old protocols and messages a spectator or player must not send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spectators_are_refused_clearly() -> anyhow::Result<()> {
    let server = TestServer::start_with(|c| c.rooms.max_spectators_per_room = 1).await?;
    let _p = server.join("capped").await?;
    let _first = TestSpectator::spectate(&server.wss_url, "capped", None)
        .await?
        .map_err(|(code, reason)| anyhow::anyhow!("refused: {code} {reason}"))?;
    let Err((code, reason)) = TestSpectator::spectate(&server.wss_url, "capped", None).await?
    else {
        anyhow::bail!("a second spectator got in over the cap");
    };
    assert_eq!(code, close_code::TRY_AGAIN, "{reason}");
    assert!(reason.contains("spectator"), "{reason}");

    let Err((code, _)) = TestSpectator::spectate(&server.wss_url, "nobody-here", None).await?
    else {
        anyhow::bail!("spectated a room that does not exist");
    };
    assert_eq!(
        code,
        close_code::NO_SUCH_ROOM,
        "a spectator never creates a room"
    );
    assert!(
        server.handle.room("nobody-here").is_none(),
        "and no room was created"
    );

    // A spectator that sends an input: 1002.
    let mut s = TestSpectator::spectate(&server.wss_url, "capped", None).await?;
    if let Ok(s) = &mut s {
        let input = Input {
            seq: 1,
            dx: 1.0,
            dy: 0.0,
            buttons: 0,
        };
        s.client.send(&ClientMsg::Input(input)).await?;
        let (code, _, _) = s.until_closed().await?;
        assert_eq!(code, close_code::PROTOCOL_ERROR);
    }

    // Spectate over v5: 1002.
    let mut old = connect(&server.wss_url, &TestServer::options().protocol(5)).await?;
    old.send(&ClientMsg::Spectate(Spectate {
        room: "capped".into(),
        follow: None,
    }))
    .await?;
    assert_eq!(until_closed(&mut old).await?.0, close_code::PROTOCOL_ERROR);

    // Follow from a player: 1002.
    let mut player = connect(&server.wss_url, &TestServer::options()).await?;
    player
        .send(&ClientMsg::Join(tickstream_shared::Join {
            room: "capped".into(),
        }))
        .await?;
    player
        .send(&ClientMsg::Follow(Follow {
            entity: Some(EntityId(1)),
        }))
        .await?;
    assert_eq!(
        until_closed(&mut player).await?.0,
        close_code::PROTOCOL_ERROR
    );
    server.stop().await;
    Ok(())
}

/// A recorded match served back (`replay FILE --serve`): a spectator watches it from its first
/// tick, sees exactly the recorded world (each update's checksum is the recorded checksum of
/// its tick: a whole-room view's checksum is the world's), and is let go with 1000 at the end;
/// players are refused with 4007, and a room handed over by a draining server with 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spectator_watches_a_recording_served_back() -> anyhow::Result<()> {
    use std::collections::HashMap;
    use tickstream_server::config::HandoffConfig;
    use tickstream_server::ops::handoff::{HANDOFF_PATH, Handoff};
    use tickstream_server::record::{Record, RecordReader};
    use tickstream_server::replay::serve::PlaybackSource;
    use tickstream_server::room::SavedRoom;
    use tickstream_server::sim::{Coins, CoinsParams, Game};

    let dir = std::env::temp_dir().join(format!("tickstream-playback-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let live = TestServer::start_with(|c| c.recording.dir = Some(dir.clone())).await?;
    let mut players = Vec::new();
    for (i, (dx, dy)) in [(1.0, 0.0), (0.0, 1.0), (-1.0, -0.5)]
        .into_iter()
        .enumerate()
    {
        let mut p = live.join("coins-rec").await?;
        p.input(dx, dy).await?;
        players.push((i, p));
    }
    for _ in 0..60 {
        for (_, p) in &mut players {
            p.next_update().await?;
        }
    }
    drop(players);
    live.stop().await;
    let file = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tsrec"))
        .expect("the match was recorded");
    let mut recorded = HashMap::new();
    let mut reader = RecordReader::new(std::io::BufReader::new(std::fs::File::open(&file)?))?;
    while let Some(r) = reader.next_record()? {
        if let Record::Step { tick, checksum } = r {
            recorded.insert(tick, checksum);
        }
    }
    assert!(recorded.len() >= 60, "{} steps recorded", recorded.len());

    const SECRET: &str = "the handoff secret of this test";
    let served = TestServer::start_playback_with(PlaybackSource::open(&file, 4.0)?, |c| {
        c.handoff.secret = Some(SECRET.into());
    })
    .await?;
    let mut s = TestSpectator::spectate(&served.wss_url, "coins-rec", None)
        .await?
        .map_err(|(code, reason)| anyhow::anyhow!("refused: {code} {reason}"))?;
    assert!(s.spectating.recording, "Spectating says it is a recording");
    assert_eq!(s.spectating.welcome.game, "coins");
    let mut matched = 0;
    let (code, reason) = loop {
        let got = tokio::time::timeout(Duration::from_secs(20), s.client.recv()).await??;
        match got {
            Incoming::Msg(tickstream_shared::ServerMsg::Update3(u)) => {
                s.replica.apply3(&u)?;
                let tick = s.replica.tick().expect("applied").0;
                assert_eq!(
                    Some(&u.checksum.0),
                    recorded.get(&tick),
                    "tick {tick}: the spectator sees the recorded world"
                );
                matched += 1;
            }
            Incoming::Close { code, reason } => break (code, reason),
            Incoming::Msg(_) => {}
        }
    };
    assert_eq!(code, close_code::NORMAL, "{reason}");
    assert_eq!(reason, "the recording ended");
    assert!(
        matched * 10 >= recorded.len() * 9,
        "{matched} of {} recorded ticks watched",
        recorded.len()
    );
    // Players are refused.
    let mut player = connect(&served.wss_url, &TestServer::options()).await?;
    player
        .send(&ClientMsg::Join(tickstream_shared::Join {
            room: "coins-rec".into(),
        }))
        .await?;
    assert_eq!(
        until_closed(&mut player).await?.0,
        close_code::SPECTATORS_ONLY
    );
    // So is a room a draining server hands over: this server hosts no players.
    let predecessor = Handoff::new(&HandoffConfig {
        secret: Some(SECRET.into()),
        ..HandoffConfig::default()
    })
    .expect("a secret is set");
    let world = Coins::new(CoinsParams::default())
        .create("adopted", 1)
        .save()
        .expect("the coin game saves");
    let room = SavedRoom {
        name: "adopted".into(),
        game: "coins".into(),
        tick: 1,
        rng: 1,
        world,
        players: vec![],
    };
    let ops = format!("http://{}", served.metrics_addr);
    let (status, text) = predecessor.post(&ops, HANDOFF_PATH, room.encode()).await?;
    assert_eq!(status, 503, "a handed-over room is refused: {text}");
    assert!(text.contains("spectators only"), "and says why: {text}");
    assert!(
        served.handle.room("adopted").is_none(),
        "no room was started for it"
    );
    // The room starts over for the next spectator.
    let mut again = TestSpectator::spectate(&served.wss_url, "coins-rec", None)
        .await?
        .map_err(|(code, reason)| anyhow::anyhow!("refused: {code} {reason}"))?;
    let (_, first) = again.next_update().await?;
    assert!(
        first.0 <= 5,
        "the next spectator watches from the start (tick {first:?})"
    );
    served.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Spectator bots (`tickstream-bot --spectators N`) watch the bots' rooms with every update
/// verified, at the tick rate, and the summary reports them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spectator_bots_watch_the_bots_rooms() -> anyhow::Result<()> {
    use tickstream_bot::load::{LoadConfig, run};
    let server = TestServer::start().await?;
    let cfg = LoadConfig {
        url: server.wss_url.clone(),
        bots: 12,
        rooms: 2,
        spectators: 6,
        duration: Duration::from_secs(5),
        room: "coins-spectated".into(),
        connect: TestServer::options(),
        ramp: Duration::from_secs(1),
        ..LoadConfig::default()
    };
    let s = tokio::time::timeout(Duration::from_secs(120), run(cfg, |_| {})).await?;
    eprintln!("{s}");
    assert!(s.passed(), "a clean run: {s}");
    assert_eq!((s.spectators_requested, s.spectators_connected), (6, 6));
    assert_eq!(s.spectator_desyncs, 0);
    assert!(
        s.spectator_updates_per_sec_min > 25.0,
        "spectators get updates at the tick rate: {s}"
    );
    assert!(
        s.to_string().contains("spectators    6 watching of 6"),
        "{s}"
    );
    server.stop().await;
    Ok(())
}
