//! [`Predictor`]: the own entity predicted with the game's movement rule and reconciled with
//! each update's `ack_seq` (PROTOCOL.md §13.3–13.4), as the JavaScript client's `Predictor`.
//! The rule comes from the welcome ([`Predictor::from_welcome`], protocol v4's `move_rule`) or
//! from the game itself ([`Predictor::with_step`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tickstream_shared::{MoveRule, Welcome4};

use crate::Vec2;

/// One input as a step function sees it: the direction and buttons the game sent.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepInput {
    /// Movement direction x, as sent (not normalised).
    pub dx: f32,
    /// Movement direction y, as sent.
    pub dy: f32,
    /// The input's button bits.
    pub buttons: u32,
}

type Dir = StepInput;

/// A game's own step: the own entity's position one tick later under an input.
pub type StepFn = Arc<dyn Fn(Vec2, &StepInput) -> Vec2 + Send + Sync>;

/// How the predictor steps the own entity.
#[derive(Clone)]
enum Rule {
    /// [`MoveRule::Walk`] in a `width × height` world.
    Walk { width: f32, height: f32, speed: f32 },
    /// The game's own step function.
    Game(StepFn),
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Walk {
                width,
                height,
                speed,
            } => f
                .debug_struct("Walk")
                .field("width", width)
                .field("height", height)
                .field("speed", speed)
                .finish(),
            Self::Game(_) => f.write_str("Game(step fn)"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Stepped {
    tick: u32,
    seq: u32,
    dir: Dir,
}

/// Predicts the own entity ahead of the server.
///
/// Run a local tick clock ahead of the newest update by the round trip plus a tick
/// ([`lead_tick`]); [`Predictor::note_input`] every input sent,
/// [`Predictor::advance_to`] the local tick each frame, and [`Predictor::reconcile`] on every
/// update with the server's position of the own entity. Once an input is acknowledged and
/// nothing newer was sent, the prediction is the server's position exactly.
///
/// ```
/// use tickstream_client::{Predictor, Vec2};
///
/// let mut p = Predictor::new(1000.0, 1000.0, 5.0);
/// p.reconcile(100, 0, Vec2::new(10.0, 10.0)); // the server: tick 100, no input applied yet
/// p.note_input(1, 1.0, 0.0); // walk right, from the next tick
/// p.advance_to(102);
/// assert_eq!(p.position(), Some(Vec2::new(20.0, 10.0)), "two ticks of 5 units");
/// // Tick 101 applied input 1: the server agrees, and tick 102 is replayed on top.
/// p.reconcile(101, 1, Vec2::new(15.0, 10.0));
/// assert_eq!(p.position(), Some(Vec2::new(20.0, 10.0)));
/// ```
#[derive(Debug, Clone)]
pub struct Predictor {
    rule: Rule,
    max_history: usize,
    pos: Option<Vec2>,
    /// The last local tick stepped.
    tick: Option<u32>,
    /// The newest input sent: in force from the next local tick on.
    current: (u32, Dir),
    /// Sent inputs not yet known to be superseded on the server, by seq.
    inputs: BTreeMap<u32, Dir>,
    /// One entry per local tick after the last reconciled update: the input in force.
    history: VecDeque<Stepped>,
}

impl Predictor {
    /// A predictor for [`MoveRule::Walk`] in an arena of `width × height` world units at the
    /// game's player `speed` per tick ([`Predictor::from_welcome`] reads all three from a v4
    /// welcome).
    #[must_use]
    pub fn new(width: f32, height: f32, speed: f32) -> Self {
        Self::with_rule(Rule::Walk {
            width,
            height,
            speed,
        })
    }

    /// A predictor for the rule the welcome publishes; `None` when the game publishes none
    /// ([`MoveRule::None`]): then predict with the game's own [`Predictor::with_step`], or
    /// show the own entity where the server puts it.
    ///
    /// ```
    /// use tickstream_client::{Predictor, Vec2};
    /// use tickstream_shared::{MoveRule, Welcome4};
    /// # let w = tickstream_shared::Welcome { protocol: 4, entity: tickstream_shared::EntityId(1),
    /// #     tick_rate_hz: 30, tick: tickstream_shared::Tick(0), world_width: 100.0,
    /// #     world_height: 100.0, view_radius: 0.0, game: "mine".into(), kinds: vec![],
    /// #     fields: vec![], event_kinds: vec![], resume_token: String::new(), resumed: false };
    /// let welcome = Welcome4 { welcome: w, move_rule: MoveRule::Walk { speed: 3.0 } };
    /// let mut p = Predictor::from_welcome(&welcome).expect("the game publishes its rule");
    /// p.reconcile(10, 0, Vec2::new(0.0, 0.0));
    /// p.note_input(1, 1.0, 0.0);
    /// p.advance_to(11);
    /// assert_eq!(p.position(), Some(Vec2::new(3.0, 0.0)));
    /// ```
    #[must_use]
    pub fn from_welcome(welcome: &Welcome4) -> Option<Self> {
        match welcome.move_rule {
            MoveRule::Walk { speed } => {
                Some(Self::new(welcome.world_width, welcome.world_height, speed))
            }
            MoveRule::None => None,
        }
    }

    /// A predictor running the game's own step function: where the own entity is one tick
    /// after `pos` under the input in force. It must be the server's rule exactly (same
    /// arithmetic, same clamping), or the prediction is corrected every update.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use tickstream_client::{Predictor, Vec2};
    ///
    /// // A game whose players only move along x, twice as fast with button 1.
    /// let mut p = Predictor::with_step(Arc::new(|pos: Vec2, i: &tickstream_client::StepInput| {
    ///     let speed = if i.buttons & 1 != 0 { 4.0 } else { 2.0 };
    ///     Vec2::new(pos.x + i.dx.signum() * speed * f32::from(u8::from(i.dx != 0.0)), pos.y)
    /// }));
    /// p.reconcile(0, 0, Vec2::new(0.0, 0.0));
    /// p.note_step_input(1, tickstream_client::StepInput { dx: 1.0, dy: 0.0, buttons: 1 });
    /// p.advance_to(2);
    /// assert_eq!(p.position(), Some(Vec2::new(8.0, 0.0)));
    /// ```
    #[must_use]
    pub fn with_step(step: StepFn) -> Self {
        Self::with_rule(Rule::Game(step))
    }

    /// Prediction off: the own entity stays at the server's newest position (a game that
    /// publishes no rule and brings no step function).
    #[must_use]
    pub fn off() -> Self {
        Self::with_step(Arc::new(|pos, _| pos))
    }

    fn with_rule(rule: Rule) -> Self {
        let still = Dir::default();
        Self {
            rule,
            max_history: 512,
            pos: None,
            tick: None,
            current: (0, still),
            inputs: BTreeMap::from([(0, still)]),
            history: VecDeque::new(),
        }
    }

    /// The predicted position, once reconciled with a first update.
    #[must_use]
    pub fn position(&self) -> Option<Vec2> {
        self.pos
    }

    /// The last local tick stepped.
    #[must_use]
    pub fn tick(&self) -> Option<u32> {
        self.tick
    }

    /// Records input `seq` (no buttons) as sent; it is in force from the next tick stepped.
    pub fn note_input(&mut self, seq: u32, dx: f32, dy: f32) {
        self.note_step_input(seq, StepInput { dx, dy, buttons: 0 });
    }

    /// Records input `seq` with its buttons (for a step function that reads them).
    pub fn note_step_input(&mut self, seq: u32, input: StepInput) {
        self.inputs.insert(seq, input);
        self.current = (seq, input);
    }

    /// One tick of the rule.
    fn step(&self, p: Vec2, d: Dir) -> Vec2 {
        match &self.rule {
            Rule::Walk {
                width,
                height,
                speed,
            } => walk(p, d, *width, *height, *speed),
            Rule::Game(step) => step(p, &d),
        }
    }

    /// Steps the prediction up to local tick `t` with the newest input.
    pub fn advance_to(&mut self, t: u32) {
        let (Some(from), Some(mut pos)) = (self.tick, self.pos) else {
            return;
        };
        if t <= from {
            return;
        }
        // After a long pause step at most `max_history` ticks; the next update corrects it.
        let from = from.max(t.saturating_sub(self.max_history as u32));
        let (seq, dir) = self.current;
        for tick in from + 1..=t {
            pos = self.step(pos, dir);
            self.history.push_back(Stepped { tick, seq, dir });
        }
        while self.history.len() > self.max_history {
            self.history.pop_front();
        }
        self.pos = Some(pos);
        self.tick = Some(t);
    }

    /// Reconciles with an update for tick `tick` that acknowledges input `ack` and has the own
    /// entity at `server` (world units): replays the ticks after it. Returns the lead feedback:
    /// +1 when inputs reach the server later than predicted (run further ahead), −1 when
    /// earlier, else 0.
    pub fn reconcile(&mut self, tick: u32, ack: u32, server: Vec2) -> i32 {
        let mut feedback = 0;
        if let Some(at) = self.history.iter().take_while(|h| h.tick <= tick).last() {
            feedback = match at.seq.cmp(&ack) {
                std::cmp::Ordering::Greater => 1,
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
            };
        }
        while self.history.front().is_some_and(|h| h.tick <= tick) {
            self.history.pop_front();
        }
        let acked = self.inputs.get(&ack).copied().unwrap_or_default();
        let mut pos = server;
        for h in &self.history {
            let dir = if h.seq < ack { acked } else { h.dir };
            pos = self.step(pos, dir);
        }
        self.pos = Some(pos);
        if self.tick.is_none_or(|t| t < tick) {
            self.tick = Some(tick);
            self.history.clear();
        }
        self.inputs = self.inputs.split_off(&ack);
        feedback
    }
}

/// [`MoveRule::Walk`]'s step: normalise `(dx, dy)`, move `speed`, clamp into the arena.
fn walk(p: Vec2, d: Dir, width: f32, height: f32, speed: f32) -> Vec2 {
    if d.dx == 0.0 && d.dy == 0.0 {
        return p;
    }
    let (dx, dy) = (f64::from(d.dx), f64::from(d.dy));
    let inv = 1.0 / (dx * dx + dy * dy).sqrt();
    let speed = f64::from(speed);
    let x = (f64::from(p.x) + dx * inv * speed).clamp(0.0, f64::from(width));
    let y = (f64::from(p.y) + dy * inv * speed).clamp(0.0, f64::from(height));
    Vec2::new(x as f32, y as f32)
}

/// The local tick for prediction: where an input sent now is expected to be applied, from the
/// tick arriving now ([`crate::ServerClock::tick_at`]), the round trip, and a lead adjusted by
/// [`Predictor::reconcile`]'s feedback (the JavaScript client adds `feedback × 0.25`, kept
/// within −4..=8). Never before `newest_tick + 1`.
///
/// ```
/// use std::time::Duration;
/// use tickstream_client::prediction::lead_tick;
///
/// // 100 ms round trip at 30 Hz: 3 ticks ahead, plus one.
/// assert_eq!(lead_tick(200.0, Duration::from_millis(100), 30, 0.0, 199), 204);
/// ```
#[must_use]
pub fn lead_tick(arriving: f64, rtt: Duration, tick_rate_hz: u16, adjust: f64, newest: u32) -> u32 {
    let rtt_ticks = rtt.as_secs_f64() * f64::from(tick_rate_hz);
    let estimate = (arriving + rtt_ticks + 1.0 + adjust).floor().max(0.0) as u32;
    estimate.max(newest + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_input_the_server_got_early_replays_with_the_acknowledged_input() {
        let mut p = Predictor::new(100.0, 100.0, 5.0);
        p.reconcile(10, 0, Vec2::new(50.0, 50.0));
        p.advance_to(11); // standing still at tick 11
        p.note_input(1, 0.0, 1.0);
        p.advance_to(13);
        assert_eq!(p.position(), Some(Vec2::new(50.0, 60.0)), "two ticks down");
        // The server applied input 1 already at tick 11: earlier than predicted.
        let feedback = p.reconcile(11, 1, Vec2::new(50.0, 55.0));
        assert_eq!(feedback, -1, "inputs arrive earlier: lead less");
        assert_eq!(p.position(), Some(Vec2::new(50.0, 65.0)), "replayed 12, 13");
    }

    #[test]
    fn moves_clamp_to_the_arena() {
        let mut p = Predictor::new(10.0, 10.0, 5.0);
        p.reconcile(1, 0, Vec2::new(8.0, 5.0));
        p.note_input(1, 1.0, 0.0);
        p.advance_to(3);
        assert_eq!(
            p.position(),
            Some(Vec2::new(10.0, 5.0)),
            "clamped at the edge"
        );
    }
}
