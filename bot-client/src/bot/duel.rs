//! A bot's play in the `duel` game: walk, and fire only at what its own screen shows.
//!
//! The reader task is the bot's eyes: after each update it places the update on a
//! [`ServerClock`], records the view in an [`Interpolator`] and looks at the world as a player
//! would see it, at the render tick. The bot walks straight in a heading that changes now and
//! then (and turns back from the walls). When its interpolated view shows another player under
//! its aim (within [`AIM_TOLERANCE`] of the ray from its own displayed position along its
//! heading, with both states that bracket the render tick received), it fires: one input with
//! the fire button, its heading as direction, and the render tick as the view time (`Input5`).
//! It sends nothing more until the server judged that shot (a `hit` or `miss` event for it), so
//! that no newer input replaces the shot before the server reads it (inputs are latest-wins).
//!
//! Shots fired within the measured window (but not in its last [`QUIET`], so that their
//! judgement arrives before the bot leaves) count as `shots`; the `hit`s among their
//! judgements as `hits_confirmed`.

use std::time::{Duration, Instant};

use tickstream_client::{Interpolator, ServerClock, View};
use tickstream_shared::{GameEvent, Mulberry32, Welcome};

use super::Window;

/// How far from the aim ray a displayed target may be for the bot to fire (world units): half
/// the duel's hit radius, so that a shot judged exactly as displayed always hits.
pub const AIM_TOLERANCE: f64 = 1.0;
/// Targets nearer than this along the ray are not aimed at (they could be behind the shooter by
/// the time the shot is judged without lag compensation); farther than `MAX_RANGE` neither.
pub const MIN_RANGE: f64 = 5.0;
/// The duel's shot range, less a margin.
pub const MAX_RANGE: f64 = 590.0;
/// No shot is counted in the last this-long of the window: its judgement must arrive first.
pub const QUIET: Duration = Duration::from_secs(1);
/// A shot not judged within this long is given up on (counted, not confirmed).
pub const JUDGEMENT_TIMEOUT: Duration = Duration::from_secs(2);
/// How many update ticks the bot remembers, to tell whether two consecutive ticks bracket the
/// render tick (the render delay is a few ticks).
pub const RECENT_TICKS: usize = 32;
/// Button bit 0 fires in the duel.
pub const BUTTON_FIRE: u32 = 1;

/// An input the reader asks the writer to send now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DuelCmd {
    /// Direction x.
    pub dx: f32,
    /// Direction y.
    pub dy: f32,
    /// Button bits.
    pub buttons: u32,
    /// The render tick shown when the bot decided (sent as the view time).
    pub render_tick: f64,
}

/// The shot waiting for its judgement.
#[derive(Debug, Clone, Copy)]
struct Pending {
    sent: Instant,
    counted: bool,
}

/// What a duel bot sees and decides, for one connection.
pub struct DuelBrain {
    clock: ServerClock,
    interp: Interpolator,
    rng: Mulberry32,
    /// Unit vector the bot walks and aims along.
    heading: (f64, f64),
    next_turn: Option<Instant>,
    pending: Option<Pending>,
    hit_kind: Option<u16>,
    miss_kind: Option<u16>,
    world: (f64, f64),
    /// The ticks of the last updates received, newest last (at most [`RECENT_TICKS`]).
    recent: std::collections::VecDeque<u32>,
    base: Instant,
    window: Window,
    /// Shots counted (see the module's docs).
    pub shots: u64,
    /// Counted shots the server judged hits.
    pub hits_confirmed: u64,
}

impl DuelBrain {
    /// A brain for bot `index` over a connection welcomed with `welcome`; `base` is the zero
    /// of its clock.
    #[must_use]
    pub fn new(index: u32, welcome: &Welcome, base: Instant, window: Window) -> Self {
        let kind = |name: &str| {
            welcome
                .event_kinds
                .iter()
                .position(|k| k == name)
                .and_then(|i| u16::try_from(i).ok())
        };
        Self {
            clock: ServerClock::new(welcome.tick_rate_hz),
            // Players walk 5 units a tick: anything faster is a teleport.
            interp: Interpolator::new(5.0),
            rng: Mulberry32::new(0xD0E1_0000 ^ index),
            heading: (1.0, 0.0),
            next_turn: None,
            pending: None,
            hit_kind: kind("hit"),
            miss_kind: kind("miss"),
            world: (
                f64::from(welcome.world_width),
                f64::from(welcome.world_height),
            ),
            recent: std::collections::VecDeque::with_capacity(RECENT_TICKS),
            base,
            window,
            shots: 0,
            hits_confirmed: 0,
        }
    }

    /// Takes a judgement: a `hit` or `miss` event ends the wait for the pending shot.
    pub fn on_event(&mut self, e: &GameEvent) {
        let hit = Some(e.kind) == self.hit_kind;
        if !hit && Some(e.kind) != self.miss_kind {
            return;
        }
        if let Some(p) = self.pending.take()
            && hit
            && p.counted
        {
            self.hits_confirmed += 1;
        }
    }

    /// After update `tick` was applied to `view` at `now`: what to send, if anything.
    pub fn on_update(&mut self, view: &View, tick: u32, now: Instant) -> Option<DuelCmd> {
        let now_s = now.saturating_duration_since(self.base).as_secs_f64();
        self.clock.observe(tick, now_s);
        self.interp.record(tick, view.replica());
        if self.recent.len() == RECENT_TICKS {
            self.recent.pop_front();
        }
        self.recent.push_back(tick);
        let r = self.clock.render_tick_at(now_s)?;
        self.interp.prune(r);
        if let Some(p) = self.pending {
            if now.saturating_duration_since(p.sent) < JUDGEMENT_TIMEOUT {
                return None;
            }
            // Lost (the connection is about to end, or the server ignored it): given up on.
            self.pending = None;
        }
        let own = self.interp.position_at(view.own(), r)?;
        let (x, y) = (f64::from(own.x), f64::from(own.y));
        if self.turn_due(x, y, now) {
            return Some(self.walk(r));
        }
        // Fire only at what is on screen between two received consecutive states: not
        // extrapolated, and not guessed across ticks the server merged into one update.
        let below = r.floor();
        let received = |t: f64| self.recent.iter().any(|&k| f64::from(k) == t);
        let bracketed =
            r <= f64::from(tick) && received(below) && (r == below || received(below + 1.0));
        if !bracketed || !self.target_under_aim(view, x, y, r) {
            return None;
        }
        let counted = self.window.contains(now) && now + QUIET < self.window.end;
        if counted {
            self.shots += 1;
        }
        self.pending = Some(Pending { sent: now, counted });
        let mut cmd = self.walk(r);
        cmd.buttons = BUTTON_FIRE;
        Some(cmd)
    }

    /// Whether to change heading now (randomly every 1–3 s, or away from a wall it is about
    /// to reach), and if so picks the new one.
    fn turn_due(&mut self, x: f64, y: f64, now: Instant) -> bool {
        let (w, h) = self.world;
        let margin = 30.0;
        let (hx, hy) = self.heading;
        let at_wall = (x < margin && hx < 0.0)
            || (x > w - margin && hx > 0.0)
            || (y < margin && hy < 0.0)
            || (y > h - margin && hy > 0.0);
        let timed = self.next_turn.is_none_or(|t| now >= t);
        if !at_wall && !timed {
            return false;
        }
        // Toward the middle, give or take a quarter turn; anywhere when not at a wall.
        let to_centre = (h / 2.0 - y).atan2(w / 2.0 - x);
        let a = if at_wall {
            to_centre + (self.rng.next_f64() - 0.5) * std::f64::consts::FRAC_PI_2
        } else {
            self.rng.next_f64() * std::f64::consts::TAU
        };
        self.heading = (a.cos(), a.sin());
        let secs = 1.0 + 2.0 * self.rng.next_f64();
        self.next_turn = Some(now + Duration::from_secs_f64(secs));
        true
    }

    /// Walking along the heading, no buttons.
    fn walk(&self, r: f64) -> DuelCmd {
        DuelCmd {
            dx: self.heading.0 as f32,
            dy: self.heading.1 as f32,
            buttons: 0,
            render_tick: r,
        }
    }

    /// Whether another player is displayed at render tick `r` within [`AIM_TOLERANCE`] of the
    /// ray from `(x, y)` along the heading.
    fn target_under_aim(&self, view: &View, x: f64, y: f64, r: f64) -> bool {
        let (hx, hy) = self.heading;
        self.interp.entities().any(|(id, _)| {
            if id == view.own() {
                return false;
            }
            let Some(p) = self.interp.position_at(id, r) else {
                return false;
            };
            let (rx, ry) = (f64::from(p.x) - x, f64::from(p.y) - y);
            let along = rx * hx + ry * hy;
            let (px, py) = (rx - hx * along, ry - hy * along);
            (MIN_RANGE..=MAX_RANGE).contains(&along) && (px * px + py * py).sqrt() <= AIM_TOLERANCE
        })
    }
}
