//! Handing rooms over on a deploy, with two real server processes on loopback: the first gets
//! SIGTERM and hands each room to the second, and every bot follows its room there (protocol
//! v5's `Moved`) with the same entity, no desync, no event gap and a world that continues.
//! And what happens when it cannot: the successor down, a wrong secret, a game that cannot
//! save its world. Whatever fails, players get today's 1001 and the first server exits 0.

mod support;

use std::time::{Duration, Instant};

use support::{
    STEP_TIMEOUT, ServerProcess, assert_all_closed_with_1001, http_get, join_and_wait_for_close,
};
use tickstream_bot::{LoadConfig, load};

const SECRET: &str = "the handoff secret of this test";

/// A config file whose rooms run the coin game (every other setting from the flags).
fn coins_config() -> anyhow::Result<std::path::PathBuf> {
    let path = std::env::temp_dir().join(format!("tickstream-handoff-{}.toml", std::process::id()));
    std::fs::write(&path, "[rooms]\ndefault_game = \"coins\"\n")?;
    Ok(path)
}

/// The successor: the coin game, the shared secret (or `secret`).
fn successor(config: &str, secret: &str) -> anyhow::Result<ServerProcess> {
    ServerProcess::start_with_env(
        &["--config", config],
        &[("TICKSTREAM_HANDOFF_SECRET", secret)],
    )
}

/// The first server, handing over to `next` (ops `http://…`, players `ws://…/ws`).
fn predecessor(config: &str, next_ops: &str, next_url: &str) -> anyhow::Result<ServerProcess> {
    ServerProcess::start_with_env(
        &[
            "--config",
            config,
            "--handoff-successor",
            next_ops,
            "--handoff-successor-url",
            next_url,
            "--shutdown-grace-ms",
            "10000",
        ],
        &[("TICKSTREAM_HANDOFF_SECRET", SECRET)],
    )
}

/// The value of the series `name{labels}` in a Prometheus exposition.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bot_follows_its_room_to_the_successor_on_sigterm() -> anyhow::Result<()> {
    let config = coins_config()?;
    let config = config.to_str().unwrap_or_default();
    let b = successor(config, SECRET)?;
    let mut a = predecessor(config, &format!("http://{}", b.metrics), &b.ws_url())?;
    let bots = 100;
    let run = tokio::spawn(load::run(
        LoadConfig {
            url: a.ws_url(),
            bots,
            room: "deploy".into(),
            rooms: 4,
            duration: Duration::from_secs(18),
            ramp: Duration::from_secs(2),
            ..LoadConfig::default()
        },
        |_| {},
    ));
    tokio::time::sleep(Duration::from_secs(10)).await;
    a.signal("TERM")?;
    let signalled = Instant::now();
    let status = a.exited(STEP_TIMEOUT).await?;
    let exited_after = signalled.elapsed();
    assert!(status.success(), "the first server exits 0: {status}");
    let summary = tokio::time::timeout(Duration::from_secs(60), run).await??;
    eprintln!("{summary}");
    assert_eq!(summary.bots_connected, bots, "every bot joined");
    assert_eq!(
        summary.moved, bots,
        "every bot followed its room:\n{summary}"
    );
    assert_eq!(summary.desyncs, 0, "no desync:\n{summary}");
    assert_eq!(summary.event_errors, 0, "no event gap:\n{summary}");
    assert_eq!(
        summary.move_state_errors, 0,
        "the world continued:\n{summary}"
    );
    assert_eq!(
        summary.resume_failures, 0,
        "every resume kept its entity:\n{summary}"
    );
    assert_eq!(summary.errors, 0, "no error:\n{summary}");
    let gap = summary.move_gap_ms_max.unwrap_or(f64::MAX);
    assert!(
        gap < 10_000.0,
        "every bot was on the successor within 10 s ({gap} ms)"
    );
    assert!(
        a.logged("room handed over to the successor"),
        "the first server logged the handoffs:\n{}",
        a.log_text()
    );
    let (_, metrics) = http_get(b.metrics, "/metrics").await?;
    assert_eq!(
        metric(
            &metrics,
            "tickstream_handoffs_received_total{outcome=\"ok\"}"
        ),
        Some(4.0),
        "the successor took four rooms"
    );
    eprintln!("SIGTERM to exit of the first server: {exited_after:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_successor_down_players_get_1001() -> anyhow::Result<()> {
    let config = coins_config()?;
    let config = config.to_str().unwrap_or_default();
    // A port nobody listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut a = predecessor(config, &format!("http://{free}"), "ws://127.0.0.1:9/ws")?;
    let mut players = Vec::new();
    for _ in 0..5 {
        players.push(join_and_wait_for_close(&a.ws_url(), "stranded").await?);
    }
    a.signal("TERM")?;
    for closed in assert_all_closed_with_1001(players).await? {
        assert_eq!(closed.moved, None, "nowhere to move: {closed:?}");
        assert_eq!(closed.error, Some(1001), "the drain's Error: {closed:?}");
    }
    assert!(a.exited(STEP_TIMEOUT).await?.success(), "exit 0");
    assert!(
        a.log_text().contains("\"outcome\":\"unreachable\""),
        "the failure is logged with its outcome:\n{}",
        a.log_text()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successor_with_another_secret_refuses_and_counts() -> anyhow::Result<()> {
    let config = coins_config()?;
    let config = config.to_str().unwrap_or_default();
    let b = successor(config, "not the same secret at all")?;
    let mut a = predecessor(config, &format!("http://{}", b.metrics), &b.ws_url())?;
    let mut players = Vec::new();
    for _ in 0..5 {
        players.push(join_and_wait_for_close(&a.ws_url(), "refused").await?);
    }
    a.signal("TERM")?;
    for closed in assert_all_closed_with_1001(players).await? {
        assert_eq!(closed.moved, None, "refused: no move: {closed:?}");
    }
    assert!(a.exited(STEP_TIMEOUT).await?.success(), "exit 0");
    let (_, metrics) = http_get(b.metrics, "/metrics").await?;
    assert_eq!(
        metric(
            &metrics,
            "tickstream_handoffs_received_total{outcome=\"unauthorized\"}"
        ),
        Some(1.0),
        "the successor counted the refusal:\n{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "tickstream_handoffs_received_total{outcome=\"ok\"}"
        ),
        Some(0.0),
        "and took nothing"
    );
    let (_, rooms) = http_get(b.metrics, "/rooms").await?;
    assert!(
        !rooms.contains("refused"),
        "the room does not run there: {rooms}"
    );
    assert!(
        a.log_text().contains("\"outcome\":\"refused\""),
        "the predecessor logged the refusal:\n{}",
        a.log_text()
    );
    Ok(())
}

/// A game that does not implement save and restore.
mod unsaveable {
    use tickstream_server::sim::{Game, GameInfo, GameWorld, PlayerInput, StepCtx};
    use tickstream_shared::{EntityId, EntityState, MoveRule};

    pub struct Still(pub GameInfo);

    pub struct StillWorld(Vec<EntityId>, u32);

    impl Game for Still {
        fn info(&self) -> &GameInfo {
            &self.0
        }
        fn create(&self, _room: &str, _seed: u32) -> Box<dyn GameWorld> {
            Box::new(StillWorld(Vec::new(), 0))
        }
    }

    impl GameWorld for StillWorld {
        fn join(&mut self, _ctx: &mut StepCtx<'_>) -> Option<EntityId> {
            self.1 += 1;
            self.0.push(EntityId(self.1));
            Some(EntityId(self.1))
        }
        fn leave(&mut self, player: EntityId, _ctx: &mut StepCtx<'_>) {
            self.0.retain(|p| *p != player);
        }
        fn input(&mut self, _player: EntityId, _input: PlayerInput) {}
        fn step(&mut self, _ctx: &mut StepCtx<'_>) {}
        fn replicate(&self, out: &mut Vec<EntityState>) {
            out.extend(self.0.iter().map(|id| EntityState::new(*id, 0, 64, 64)));
        }
        fn entity_count(&self) -> usize {
            self.0.len()
        }
    }

    pub fn game() -> Still {
        Still(GameInfo {
            name: "still".into(),
            tick_rate_hz: 20,
            world_width: 100.0,
            world_height: 100.0,
            view_radius: 0.0,
            kinds: vec!["player".into()],
            fields: vec![],
            event_kinds: vec![],
            move_rule: MoveRule::None,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_game_without_save_drains_as_today() -> anyhow::Result<()> {
    let bind = || async {
        let mut config = tickstream_server::Config::default();
        config.server.listen = "127.0.0.1:0".parse()?;
        config.server.ws_listen = Some("127.0.0.1:0".parse()?);
        config.server.metrics_listen = Some("127.0.0.1:0".parse()?);
        config.rooms.default_game = "still".into();
        config.handoff.secret = Some(SECRET.into());
        let games = tickstream_server::server::builtin_games(&config).with(unsaveable::game());
        anyhow::Ok(tickstream_server::Server::bind_with_games(config, games).await?)
    };
    let (a, b) = (bind().await?, bind().await?);
    let a_url = format!("ws://{}/ws", a.ws_addr().expect("ws")?);
    let b_url = format!("ws://{}/ws", b.ws_addr().expect("ws")?);
    let b_ops = format!("http://{}", b.metrics_addr().expect("ops")?);
    a.handle()
        .set_successor(&b_ops, &b_url)
        .map_err(anyhow::Error::msg)?;
    let b_handle = b.handle();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let a_run = tokio::spawn(a.run(async move {
        let _ = stopped.await;
    }));
    tokio::spawn(b.run(std::future::pending()));
    let player = join_and_wait_for_close(&a_url, "still").await?;
    let _ = stop.send(());
    let closed = assert_all_closed_with_1001(vec![player]).await?;
    assert_eq!(closed[0].moved, None, "not moved: {:?}", closed[0]);
    assert_eq!(
        closed[0].error,
        Some(1001),
        "drained as today: {:?}",
        closed[0]
    );
    tokio::time::timeout(STEP_TIMEOUT, a_run).await??;
    assert!(
        b_handle.room("still").is_none(),
        "nothing arrived at the successor"
    );
    let text = tickstream_server::ops::install_recorder().render();
    assert!(
        metric(&text, "tickstream_handoffs_total{outcome=\"unsupported\"}")
            .is_some_and(|n| n >= 1.0),
        "counted as unsupported:\n{text}"
    );
    Ok(())
}

/// `tickstream-server set-successor …` with this secret: its exit status and output.
fn set_successor(
    at: &ServerProcess,
    next: &ServerProcess,
    secret: &str,
) -> anyhow::Result<std::process::Output> {
    Ok(
        std::process::Command::new(env!("CARGO_BIN_EXE_tickstream-server"))
            .args(["set-successor", "--at", &format!("http://{}", at.metrics)])
            .args(["--successor", &format!("http://{}", next.metrics)])
            .args(["--successor-url", &next.ws_url()])
            .env("TICKSTREAM_HANDOFF_SECRET", secret)
            .output()?,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_successor_can_be_set_at_run_time_with_a_signed_request() -> anyhow::Result<()> {
    let config = coins_config()?;
    let config = config.to_str().unwrap_or_default();
    let b = successor(config, SECRET)?;
    // Started without a successor, as a game server is before the rollout allocates one.
    let mut a = successor(config, SECRET)?;
    let wrong = set_successor(&a, &b, "a secret of the wrong kind")?;
    assert!(
        !wrong.status.success(),
        "another secret is refused: {wrong:?}"
    );
    let right = set_successor(&a, &b, SECRET)?;
    assert!(
        right.status.success(),
        "the shared secret is accepted: {right:?}"
    );
    let player = join_and_wait_for_close(&a.ws_url(), "later").await?;
    a.signal("TERM")?;
    let closed = assert_all_closed_with_1001(vec![player]).await?;
    assert_eq!(
        closed[0].moved.as_deref(),
        Some(b.ws_url().as_str()),
        "moved where it was told"
    );
    assert!(a.exited(STEP_TIMEOUT).await?.success(), "exit 0");
    let (_, rooms) = http_get(b.metrics, "/rooms").await?;
    assert!(
        rooms.contains("\"later\""),
        "the room runs on the successor: {rooms}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_successor_refuses_a_room_it_has_and_formats_it_cannot_read() -> anyhow::Result<()> {
    use tickstream_server::config::HandoffConfig;
    use tickstream_server::ops::handoff::{HANDOFF_PATH, Handoff};
    use tickstream_server::room::SavedRoom;
    use tickstream_server::sim::{Coins, CoinsParams, Game};

    let mut config = tickstream_server::Config::default();
    config.server.listen = "127.0.0.1:0".parse()?;
    config.server.metrics_listen = Some("127.0.0.1:0".parse()?);
    config.handoff.secret = Some(SECRET.into());
    let b = tickstream_server::Server::bind(config).await?;
    let ops = format!("http://{}", b.metrics_addr().expect("ops")?);
    let b_handle = b.handle();
    tokio::spawn(b.run(std::future::pending()));
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
        tick: 1234,
        rng: 99,
        world,
        players: vec![],
    };
    let post = |bytes: Vec<u8>| predecessor.post(&ops, HANDOFF_PATH, bytes);

    let (status, _) = post(room.encode()).await?;
    assert_eq!(status, 200, "the room is taken");
    let info = b_handle.room("adopted").expect("and runs here");
    assert!(
        info.tick().0 >= 1234,
        "from its saved tick on ({})",
        info.tick().0
    );
    let (status, text) = post(room.encode()).await?;
    assert_eq!(status, 409, "a room it already has is refused: {text}");

    let mut newer = room.encode();
    newer[4..6].copy_from_slice(&(tickstream_server::room::SAVE_VERSION + 1).to_le_bytes());
    let (status, text) = post(newer).await?;
    assert_eq!(
        status, 422,
        "a format from a newer build is refused: {text}"
    );
    assert!(text.contains("version"), "and says why: {text}");

    let metrics = tickstream_server::ops::install_recorder().render();
    for outcome in ["ok", "exists", "unknown_version"] {
        let series = format!("tickstream_handoffs_received_total{{outcome=\"{outcome}\"}}");
        assert!(
            metric(&metrics, &series).is_some_and(|n| n >= 1.0),
            "{series} counted:\n{metrics}"
        );
    }
    Ok(())
}
