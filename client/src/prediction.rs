//! [`Predictor`]: the own entity predicted with the server's movement rule and reconciled with
//! each update's `ack_seq` (PROTOCOL.md §13.3–13.4), as the JavaScript client's `Predictor`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::Vec2;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Dir {
    dx: f32,
    dy: f32,
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
    width: f32,
    height: f32,
    speed: f32,
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
    /// A predictor for an arena of `width × height` world units (from the welcome) and the
    /// game's player `speed` per tick (5 in `arena`, 4 in `coins`; the welcome does not say).
    #[must_use]
    pub fn new(width: f32, height: f32, speed: f32) -> Self {
        let still = Dir { dx: 0.0, dy: 0.0 };
        Self {
            width,
            height,
            speed,
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

    /// Records input `seq` as sent; it is in force from the next tick stepped.
    pub fn note_input(&mut self, seq: u32, dx: f32, dy: f32) {
        let dir = Dir { dx, dy };
        self.inputs.insert(seq, dir);
        self.current = (seq, dir);
    }

    /// The server's step: normalise `(dx, dy)`, move `speed`, clamp into the arena.
    fn step(&self, p: Vec2, d: Dir) -> Vec2 {
        if d.dx == 0.0 && d.dy == 0.0 {
            return p;
        }
        let (dx, dy) = (f64::from(d.dx), f64::from(d.dy));
        let inv = 1.0 / (dx * dx + dy * dy).sqrt();
        let speed = f64::from(self.speed);
        let x = (f64::from(p.x) + dx * inv * speed).clamp(0.0, f64::from(self.width));
        let y = (f64::from(p.y) + dy * inv * speed).clamp(0.0, f64::from(self.height));
        Vec2::new(x as f32, y as f32)
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
        let acked = self
            .inputs
            .get(&ack)
            .copied()
            .unwrap_or(Dir { dx: 0.0, dy: 0.0 });
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
