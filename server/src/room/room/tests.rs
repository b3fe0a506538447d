//! The room task with games that misbehave, in memory.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tickstream_shared::{EntityState, MoveRule, RoomName};

use super::*;
use crate::room::registry::{Registry, RoomCaps, RoomPolicy};
use crate::sim::{Game, GameCatalog, GameInfo};
use tokio_util::task::TaskTracker;

/// A game whose `join` panics while `panicking` is set, counting the calls it gets.
struct Fragile {
    info: GameInfo,
    panicking: Arc<AtomicBool>,
    joins: Arc<AtomicUsize>,
}

struct FragileWorld {
    panicking: Arc<AtomicBool>,
    joins: Arc<AtomicUsize>,
    next: u32,
}

impl Game for Fragile {
    fn info(&self) -> &GameInfo {
        &self.info
    }

    fn create(&self, _room: &str, _seed: u32) -> Box<dyn GameWorld> {
        Box::new(FragileWorld {
            panicking: Arc::clone(&self.panicking),
            joins: Arc::clone(&self.joins),
            next: 0,
        })
    }
}

impl GameWorld for FragileWorld {
    fn join(&mut self, _ctx: &mut StepCtx<'_>) -> Option<EntityId> {
        self.joins.fetch_add(1, Ordering::SeqCst);
        assert!(
            !self.panicking.load(Ordering::SeqCst),
            "the game's join panics"
        );
        self.next += 1;
        Some(EntityId(self.next))
    }
    fn leave(&mut self, _player: EntityId, _ctx: &mut StepCtx<'_>) {}
    fn input(&mut self, _player: EntityId, _input: crate::sim::PlayerInput) {}
    fn step(&mut self, _ctx: &mut StepCtx<'_>) {}
    fn replicate(&self, _out: &mut Vec<EntityState>) {}
    fn entity_count(&self) -> usize {
        0
    }
}

fn registry(game: Fragile) -> (Registry, watch::Sender<bool>) {
    let policy = RoomPolicy {
        games: GameCatalog::new().with(game),
        default_game: "fragile".into(),
        rules: Vec::new(),
        max_players: 10,
        slow_client_timeout: Duration::from_secs(5),
        resume_grace: Duration::from_secs(5),
        empty_timeout: Duration::from_secs(30),
        max_pending_events: 16,
        event_history: 16,
        max_bytes_per_client_per_sec: 0,
        recording: None,
        max_rewind_ms: 500,
        max_spectators: 4,
        spectator_delay: Duration::ZERO,
        playback: None,
    };
    let caps = RoomCaps {
        max_rooms: 10,
        max_rooms_per_ip: 10,
    };
    let (stop, shutdown) = watch::channel(false);
    let registry = Registry::new(policy, caps, shutdown, TaskTracker::new());
    (registry, stop)
}

/// A game's `join` that panics while the room retires: the join waits for the room's own
/// turn (never run under the registry's lock), the panic there is caught, the room leaves
/// the registry and the name can be used again.
#[tokio::test]
async fn a_join_that_panics_while_the_room_retires_frees_the_name() {
    let panicking = Arc::new(AtomicBool::new(true));
    let joins = Arc::new(AtomicUsize::new(0));
    let game = Fragile {
        info: GameInfo {
            name: "fragile".into(),
            tick_rate_hz: 30,
            world_width: 100.0,
            world_height: 100.0,
            view_radius: 0.0,
            kinds: vec!["player".into()],
            fields: Vec::new(),
            event_kinds: Vec::new(),
            move_rule: MoveRule::None,
        },
        panicking: Arc::clone(&panicking),
        joins: Arc::clone(&joins),
    };
    let (registry, _stop) = registry(game);
    let shared = Arc::clone(registry.shared());
    let settings = shared
        .policy()
        .settings_for("wedge")
        .expect("the game is in the catalog");
    let (tx, rx) = mpsc::channel(4);
    let info = Arc::new(RoomInfo::new("wedge".into(), &settings));
    let world = settings.game.create("wedge", 1);
    let mut room = Room::new(
        RoomStart {
            info: Arc::clone(&info),
            settings,
            rx,
            registry: Arc::clone(&shared),
            shutdown: watch::channel(false).1,
            restore: None,
            playback: None,
        },
        world,
        1,
    );
    shared.insert_for_test("wedge", tx.clone(), Arc::clone(&info));
    // A join arrives just as the empty room's timeout ends.
    let (reply, answer) = oneshot::channel();
    tx.try_send(RoomCmd::Join {
        link: Arc::new(ClientLink::new(1)),
        reply,
    })
    .map_err(|_| "queued")
    .expect("the inbox has room");
    assert!(
        !room.retire(false),
        "a room with a join waiting does not retire"
    );
    assert_eq!(
        joins.load(Ordering::SeqCst),
        0,
        "retire ran no game code (it holds the registry's lock)"
    );
    assert!(registry.room("wedge").is_some(), "still listed");
    // The room's next turn handles the join; the game panics.
    assert!(
        room.guarded(|r| r.handle_commands(Instant::now()))
            .is_none(),
        "the panic is caught and fails the room"
    );
    assert!(
        answer.await.is_err(),
        "the joiner's answer is dropped (it gets 1011)"
    );
    assert!(
        registry.room("wedge").is_none(),
        "the failed room left the registry"
    );
    panicking.store(false, Ordering::SeqCst);
    let joined = registry
        .join(
            &RoomName::parse("wedge").expect("a valid name"),
            Arc::new(ClientLink::new(2)),
            None,
        )
        .await;
    assert!(joined.is_ok(), "the name is usable again: {joined:?}");
}
