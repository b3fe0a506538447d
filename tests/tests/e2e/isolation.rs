//! A panic in one room's game closes that room's clients with 1011; other rooms keep ticking.

use std::time::{Duration, Instant};

use tickstream_server::config::RoomRule;
use tickstream_server::metrics as m;
use tickstream_server::sim::{Arena, Game, GameInfo, GameWorld, PlayerInput, StepCtx};
use tickstream_server::{Config, builtin_games};
use tickstream_shared::{EntityId, EntityState, close_code};
use tickstream_tests::{TestServer, disconnects};

/// The arena, except that its step panics at tick 30: a game with a bug.
struct Doomed {
    info: GameInfo,
    arena: Arena,
}

impl Game for Doomed {
    fn info(&self) -> &GameInfo {
        &self.info
    }

    fn create(&self, room: &str, seed: u32) -> Box<dyn GameWorld> {
        Box::new(DoomedWorld(self.arena.create(room, seed)))
    }
}

struct DoomedWorld(Box<dyn GameWorld>);

impl GameWorld for DoomedWorld {
    fn join(&mut self, ctx: &mut StepCtx<'_>) -> Option<EntityId> {
        self.0.join(ctx)
    }

    fn leave(&mut self, player: EntityId, ctx: &mut StepCtx<'_>) {
        self.0.leave(player, ctx);
    }

    fn input(&mut self, player: EntityId, input: PlayerInput) {
        self.0.input(player, input);
    }

    fn step(&mut self, ctx: &mut StepCtx<'_>) {
        assert!(
            ctx.tick.0 != 30,
            "injected fault: the game panics at tick 30"
        );
        self.0.step(ctx);
    }

    fn replicate(&self, out: &mut Vec<EntityState>) {
        self.0.replicate(out);
    }

    fn entity_count(&self) -> usize {
        self.0.entity_count()
    }
}

/// The built-in games and `doomed`, which rooms named `doomed…` run.
fn with_doomed(config: &Config) -> tickstream_server::sim::GameCatalog {
    let arena = Arena::new(config.game.clone());
    let mut info = arena.info().clone();
    info.name = "doomed".into();
    builtin_games(config).with(Doomed { info, arena })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_room_closes_only_its_clients() -> anyhow::Result<()> {
    if tickstream_tests::own_process!() {
        return Ok(());
    }
    let server = TestServer::start_with_games(
        |c| {
            c.rooms.rule.push(RoomRule {
                name: None,
                prefix: Some("doomed".into()),
                game: "doomed".into(),
                max_players: None,
            });
        },
        with_doomed,
    )
    .await?;
    let fine = server.join("fine").await?.watch_updates();
    let internal = disconnects(close_code::INTERNAL);
    let metrics = server.baseline(&[&internal, m::ROOM_PANICS]).await?;
    let mut doomed = server.join("doomed").await?;
    // The doomed room panics at its 30th tick, about a second in.
    let (code, reason, error) = doomed.until_closed().await?;
    assert_eq!(
        code,
        close_code::INTERNAL,
        "the doomed room's client gets 1011 ({reason})"
    );
    assert_eq!(
        error,
        Some(close_code::INTERNAL),
        "after an Error message with 1011"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.handle.room("doomed").is_some() {
        assert!(
            Instant::now() < deadline,
            "the failed room left the registry"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    metrics
        .assert_rose(m::ROOM_PANICS, 1.0, "one room panicked")
        .await?;
    metrics
        .assert_rose(&internal, 1.0, "its client was closed with 1011")
        .await?;
    // The other room never stopped.
    let mut fine = fine.finish("another room panicking").await?;
    fine.assert_updates_flow(Duration::from_secs(1), "after another room panicked")
        .await?;
    server.stop().await;
    Ok(())
}
