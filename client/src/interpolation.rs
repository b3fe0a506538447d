//! Drawing remote entities: [`ServerClock`], which tick is arriving now, and [`Interpolator`],
//! entities rendered a little in the past between two known states (PROTOCOL.md §13.2). The
//! same behaviour as the JavaScript client's `ServerClock` and `Interpolator`.

use std::collections::HashMap;

use tickstream_shared::quant::SCALE as GRID_SCALE;
use tickstream_shared::{EntityId, Replica};

use crate::Vec2;

/// Estimates the (fractional) server tick arriving at a local time, from the arrival times of
/// updates: a smoothed offset, so render time advances steadily rather than in update steps.
///
/// ```
/// use tickstream_client::ServerClock;
///
/// let mut clock = ServerClock::new(30);
/// clock.observe(300, 10.0); // tick 300 arrived at t = 10 s
/// assert_eq!(clock.tick_at(10.5), Some(315.0), "30 ticks a second later");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ServerClock {
    hz: f64,
    /// Ticks minus local time in ticks; `None` before the first update.
    offset: Option<f64>,
}

impl ServerClock {
    /// A clock for `tick_rate_hz` (from the welcome).
    #[must_use]
    pub fn new(tick_rate_hz: u16) -> Self {
        Self {
            hz: f64::from(tick_rate_hz.max(1)),
            offset: None,
        }
    }

    /// Records that the update for `tick` arrived at `now_s` (seconds on any steady clock).
    pub fn observe(&mut self, tick: u32, now_s: f64) {
        let sample = f64::from(tick) - now_s * self.hz;
        self.offset = match self.offset {
            Some(o) if (sample - o).abs() <= 3.0 => Some(o + (sample - o) * 0.1),
            _ => Some(sample),
        };
    }

    /// The tick arriving at `now_s`, or `None` before the first update.
    #[must_use]
    pub fn tick_at(&self, now_s: f64) -> Option<f64> {
        self.offset.map(|o| now_s * self.hz + o)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    t: f64,
    pos: Vec2,
    /// A jump too large to be a move: drawn at the old place until the new one.
    snap: bool,
}

#[derive(Debug, Clone)]
struct Track {
    kind: u8,
    samples: Vec<Sample>,
}

/// Remote entities' recent states by tick, for drawing them `delay` in the past.
///
/// Call [`Interpolator::record`] after every applied update, and [`Interpolator::position_at`]
/// when drawing, at `render_tick = clock tick − delay` (about two ticks plus jitter: 100 ms at
/// 30 Hz). An entity that did not move is pinned until the tick before it moved again; a jump
/// larger than `max_step` per tick snaps.
///
/// ```
/// use tickstream_client::Interpolator;
/// use tickstream_shared::{EntityId, EntityState, Replica};
///
/// let mut interp = Interpolator::new(5.0);
/// let mut replica = Replica::new();
/// # use tickstream_shared::{Delta, Update, Tick, messages::ViewChecksum};
/// # let mut apply = |replica: &mut Replica, tick: u32, x: u32| {
/// #     let mut next = replica.clone();
/// #     let after = [EntityState::new(EntityId(1), 0, x, 0)];
/// #     let delta = tickstream_shared::delta::diff(replica.entities(), &after);
/// #     let checksum = ViewChecksum(tickstream_shared::view_checksum(&after));
/// #     replica.apply(&Update { tick: Tick(tick), ack_seq: 0, checksum, delta, events: vec![] }).unwrap();
/// # };
/// apply(&mut replica, 10, 0); // entity 1 at x = 0 (grid points: 64 per unit)
/// interp.record(10, &replica);
/// apply(&mut replica, 11, 4 * 64); // at x = 4 one tick later
/// interp.record(11, &replica);
/// let p = interp.position_at(EntityId(1), 10.5).expect("in view");
/// assert_eq!(p.x, 2.0, "halfway");
/// ```
#[derive(Debug, Clone)]
pub struct Interpolator {
    max_step: f32,
    max_samples: usize,
    tracks: HashMap<EntityId, Track>,
    last_tick: Option<u32>,
}

impl Interpolator {
    /// An empty buffer; `max_step` is the largest legitimate move per tick in world units (5 in
    /// the `arena` game, 4 in `coins`).
    #[must_use]
    pub fn new(max_step: f32) -> Self {
        Self {
            max_step,
            max_samples: 32,
            tracks: HashMap::new(),
            last_tick: None,
        }
    }

    /// Forgets everything (after a welcome: the view starts over).
    pub fn clear(&mut self) {
        self.tracks.clear();
        self.last_tick = None;
    }

    /// Records the replica after an update for `tick`: entities that left are dropped, new ones
    /// start in place, moved ones get a sample. Works for v2 and v3 alike, as it reads the
    /// replica rather than the delta.
    pub fn record(&mut self, tick: u32, replica: &Replica) {
        let prev = self.last_tick;
        let t = f64::from(tick);
        self.tracks.retain(|id, _| replica.get(*id).is_some());
        for e in replica.entities() {
            let pos = Vec2::from_grid(e.x, e.y);
            let Some(track) = self.tracks.get_mut(&e.id) else {
                let first = Sample { t, pos, snap: true };
                self.tracks.insert(
                    e.id,
                    Track {
                        kind: e.kind,
                        samples: vec![first],
                    },
                );
                continue;
            };
            let samples = &mut track.samples;
            let Some(mut last) = samples.last().copied() else {
                continue;
            };
            if last.pos == pos {
                continue;
            }
            // Unchanged until the previous update: pin that, so the move is not spread back.
            if let Some(p) = prev
                && last.t < f64::from(p)
            {
                last = Sample {
                    t: f64::from(p),
                    pos: last.pos,
                    snap: false,
                };
                samples.push(last);
            }
            let ticks = (t - last.t).max(1.0) as f32;
            let snap = pos.distance(last.pos) > self.max_step * ticks * 1.5 + 1.0;
            samples.push(Sample { t, pos, snap });
            if samples.len() > self.max_samples {
                let extra = samples.len() - self.max_samples;
                samples.drain(..extra);
            }
        }
        self.last_tick = Some(tick);
    }

    /// Where entity `id` is drawn at the fractional tick `t`, or `None` if not in view.
    #[must_use]
    pub fn position_at(&self, id: EntityId, t: f64) -> Option<Vec2> {
        self.tracks.get(&id).map(|track| sample(&track.samples, t))
    }

    /// Every entity in view and its kind, in no particular order.
    pub fn entities(&self) -> impl Iterator<Item = (EntityId, u8)> + '_ {
        self.tracks.iter().map(|(id, t)| (*id, t.kind))
    }

    /// Drops samples no longer needed to draw at tick `t` or later.
    pub fn prune(&mut self, t: f64) {
        for track in self.tracks.values_mut() {
            let s = &mut track.samples;
            let mut keep = 0;
            while keep + 1 < s.len() && s[keep + 1].t <= t {
                keep += 1;
            }
            s.drain(..keep);
        }
    }
}

fn sample(samples: &[Sample], t: f64) -> Vec2 {
    let Some(first) = samples.first() else {
        return Vec2::default();
    };
    if t <= first.t {
        return first.pos;
    }
    for i in (1..samples.len()).rev() {
        let a = samples[i - 1];
        if a.t <= t {
            let b = samples[i];
            if t >= b.t {
                return b.pos;
            }
            if b.snap {
                return a.pos;
            }
            let f = ((t - a.t) / (b.t - a.t)) as f32;
            return Vec2::new(
                a.pos.x + (b.pos.x - a.pos.x) * f,
                a.pos.y + (b.pos.y - a.pos.y) * f,
            );
        }
    }
    samples.last().map_or(first.pos, |s| s.pos)
}

/// World units per grid point, for [`Vec2::from_grid`].
const UNIT: f32 = 1.0 / GRID_SCALE as f32;

impl Vec2 {
    /// A position from the wire's grid points (1/64 unit) to world units.
    #[must_use]
    pub fn from_grid(x: u32, y: u32) -> Self {
        Self::new(x as f32 * UNIT, y as f32 * UNIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: f64, x: f32, snap: bool) -> Sample {
        Sample {
            t,
            pos: Vec2::new(x, 0.0),
            snap,
        }
    }

    #[test]
    fn samples_interpolate_pin_and_snap_as_the_javascript_client() {
        let track = [
            s(10.0, 0.0, true),
            s(12.0, 10.0, false),
            s(13.0, 100.0, true),
        ];
        assert_eq!(sample(&track, 9.0).x, 0.0, "before the first: in place");
        assert_eq!(sample(&track, 11.0).x, 5.0, "linear between two");
        assert_eq!(sample(&track, 12.5).x, 10.0, "a snap holds the old place");
        assert_eq!(sample(&track, 14.0).x, 100.0, "after the last: the last");
    }

    #[test]
    fn the_clock_follows_small_jitter_and_resets_on_a_jump() {
        let mut c = ServerClock::new(30);
        assert_eq!(c.tick_at(1.0), None, "nothing before the first update");
        c.observe(30, 1.0);
        c.observe(61, 2.0);
        let t = c.tick_at(2.0).expect("observed");
        assert!((t - 60.1).abs() < 1e-9, "smoothed by a tenth: {t}");
        c.observe(600, 3.0);
        assert_eq!(c.tick_at(3.0), Some(600.0), "a jump resets");
    }
}
