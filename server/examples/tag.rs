//! A game of tag on Tickstream's game seam, as the README's "Write your own game" walks
//! through: one player is "it"; touching another passes it on.
//!
//! ```text
//! cargo run --release -p tickstream-server --example tag
//! tickstream-bot --url wss://127.0.0.1:7443/ws --insecure --room tag-1 --bots 8
//! ```
//!
//! Every room whose name starts with `tag` runs this game; the others run the built-in ones.

use glam::DVec2;
use tickstream_server::config::RoomRule;
use tickstream_server::sim::{Audience, Game, GameInfo, GameWorld, PlayerInput, StepCtx};
use tickstream_server::{Config, Server, builtin_games};
use tickstream_shared::{EntityId, EntityState, FieldSpec, MoveRule, quant};

/// Field 0: 1 while this player is "it".
const FIELD_IT: usize = 0;
/// Event 0: `entity` is now "it".
const EVENT_TAGGED: u16 = 0;

struct Tag {
    info: GameInfo,
}

impl Tag {
    fn new() -> Self {
        Self {
            info: GameInfo {
                name: "tag".into(),
                tick_rate_hz: 30,
                world_width: 200.0,
                world_height: 200.0,
                view_radius: 0.0,
                kinds: vec!["player".into()],
                fields: vec![FieldSpec {
                    name: "it".into(),
                    scale: 1.0,
                }],
                event_kinds: vec!["tagged".into()],
                // `step` walks players 90 units per second, clamped to the field: the built-in
                // rule, so clients predict it from the welcome.
                move_rule: MoveRule::Walk { speed: 90.0 / 30.0 },
            },
        }
    }
}

impl Game for Tag {
    fn info(&self) -> &GameInfo {
        &self.info
    }

    fn create(&self, _room: &str, _seed: u32) -> Box<dyn GameWorld> {
        Box::new(TagWorld::default())
    }
}

struct Player {
    id: EntityId,
    pos: DVec2,
    dir: DVec2,
}

#[derive(Default)]
struct TagWorld {
    /// In id order: the room replicates them as they are.
    players: Vec<Player>,
    it: Option<EntityId>,
    next_id: u32,
    /// Ticks left before "it" may tag again (no tagging straight back).
    cooldown: u32,
}

impl GameWorld for TagWorld {
    fn join(&mut self, ctx: &mut StepCtx<'_>) -> Option<EntityId> {
        let id = EntityId(self.next_id);
        self.next_id = self.next_id.checked_add(1)?;
        // Randomness only from the room's generator: the same joins give the same game.
        let pos = DVec2::new(ctx.rng.next_f64() * 200.0, ctx.rng.next_f64() * 200.0);
        self.players.push(Player {
            id,
            pos,
            dir: DVec2::ZERO,
        });
        if self.it.is_none() {
            self.it = Some(id);
            ctx.emit(Audience::Everyone, EVENT_TAGGED, id, 0, "first in is it");
        }
        Some(id)
    }

    fn leave(&mut self, player: EntityId, ctx: &mut StepCtx<'_>) {
        self.players.retain(|p| p.id != player);
        if self.it == Some(player) {
            self.it = self.players.first().map(|p| p.id);
            if let Some(next) = self.it {
                ctx.emit(Audience::Everyone, EVENT_TAGGED, next, 0, "it left");
            }
        }
    }

    fn input(&mut self, player: EntityId, input: PlayerInput) {
        if let Some(p) = self.players.iter_mut().find(|p| p.id == player) {
            let dir = DVec2::new(f64::from(input.dx), f64::from(input.dy));
            p.dir = dir.normalize_or_zero();
        }
    }

    fn step(&mut self, ctx: &mut StepCtx<'_>) {
        let speed = 90.0 * ctx.dt; // units per second × the fixed tick length
        for p in &mut self.players {
            p.pos = (p.pos + p.dir * speed).clamp(DVec2::ZERO, DVec2::splat(200.0));
        }
        self.cooldown = self.cooldown.saturating_sub(1);
        let Some(it) = self.it else { return };
        let Some(chaser) = self.players.iter().find(|p| p.id == it).map(|p| p.pos) else {
            return;
        };
        if self.cooldown > 0 {
            return;
        }
        if let Some(caught) = self
            .players
            .iter()
            .find(|p| p.id != it && p.pos.distance(chaser) < 4.0)
        {
            self.it = Some(caught.id);
            self.cooldown = 30;
            ctx.emit(Audience::Everyone, EVENT_TAGGED, caught.id, 0, "tagged");
        }
    }

    fn replicate(&self, out: &mut Vec<EntityState>) {
        for p in &self.players {
            let it = i32::from(self.it == Some(p.id));
            out.push(
                EntityState::new(p.id, 0, quant::quantize(p.pos.x), quant::quantize(p.pos.y))
                    .with_field(FIELD_IT, it),
            );
        }
    }

    fn entity_count(&self) -> usize {
        self.players.len()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config = Config::default();
    config.rooms.rule.push(RoomRule {
        name: None,
        prefix: Some("tag".into()),
        game: "tag".into(),
        max_players: Some(16),
    });
    let games = builtin_games(&config).with(Tag::new());
    let server = Server::bind_with_games(config, games).await?;
    println!(
        "tag rooms on wss://{}/ws (rooms named tag…)",
        server.wss_addr()?
    );
    // Ctrl-C or SIGTERM drains, as the server binary does.
    server
        .run(tickstream_server::ops::signal::shutdown_signal())
        .await;
    Ok(())
}
