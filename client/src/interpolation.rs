//! Drawing remote entities: [`ServerClock`], which tick is arriving now and which to draw, and
//! [`Interpolator`], entities drawn between two known states at that tick (PROTOCOL.md §13.2).
//! The same algorithm as the JavaScript client's `ServerClock` and `Interpolator`:
//!
//! - the clock measures the arrival jitter (how much later than their mean the latest of the
//!   last 64 updates arrived) and renders `1¼ ticks + jitter` behind the arriving tick (at least
//!   [`ClockOptions::min_delay_s`], at most a second), moving render time at 95–105 % speed
//!   instead of stepping it, and at most [`ClockOptions::max_extrapolation_s`] past the newest
//!   tick;
//! - the interpolator extrapolates a moving entity past its newest state for that long, blends
//!   out what a wrong extrapolation drew, keeps game fields by tick (drawn with the position),
//!   and snaps a jump larger than its kind's step (configured per kind, or raised to a speed
//!   the kind keeps up).

use std::collections::{HashMap, VecDeque};

use tickstream_shared::quant::SCALE as GRID_SCALE;
use tickstream_shared::{EntityId, Fields, Replica};

use crate::Vec2;

/// Arrival samples the clock keeps: its jitter is the latest of the last this many updates.
const CLOCK_WINDOW: usize = 64;
/// How much faster or slower than the local clock render time may run while it adapts.
const CLOCK_SLEW: f64 = 0.05;
/// The largest render delay the clock picks by itself, in seconds.
const MAX_DELAY_S: f64 = 1.0;

/// What a [`ServerClock`] may do; the defaults are the JavaScript client's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockOptions {
    /// The least render delay, in seconds. 0: the delay is only what the jitter asks for
    /// (`interpolationDelayMs: "auto"` in the JavaScript client).
    pub min_delay_s: f64,
    /// How far past the newest update render time may go (moving entities extrapolated), in
    /// seconds: 150 ms hides a stall of about twice that, and a wrong guess stays small.
    pub max_extrapolation_s: f64,
}

impl Default for ClockOptions {
    fn default() -> Self {
        Self {
            min_delay_s: 0.0,
            max_extrapolation_s: 0.15,
        }
    }
}

/// Estimates the (fractional) server tick arriving at a local time from the arrival times of
/// updates, the jitter of those arrivals, and the tick to draw remote entities at.
///
/// ```
/// use tickstream_client::ServerClock;
///
/// let mut clock = ServerClock::new(30);
/// clock.observe(300, 10.0); // tick 300 arrived at t = 10 s
/// assert_eq!(clock.tick_at(10.5), Some(315.0), "30 ticks a second later");
/// let render = clock.render_tick_at(10.5).expect("observed");
/// assert!(render < 315.0, "remote entities are drawn a little in the past");
/// ```
#[derive(Debug, Clone)]
pub struct ServerClock {
    hz: f64,
    options: ClockOptions,
    /// Ticks minus local time in ticks, the mean of the arrival samples; `None` before the
    /// first update.
    offset: Option<f64>,
    /// The last [`CLOCK_WINDOW`] arrival samples (a ring), and how many since the last reset.
    samples: [f64; CLOCK_WINDOW],
    count: usize,
    /// How much later than `offset` the latest sample of the window arrived, in ticks.
    late: f64,
    /// The newest tick observed.
    newest: f64,
    /// The render tick handed out last and the local time it was for.
    render: Option<(f64, f64)>,
}

impl ServerClock {
    /// A clock for `tick_rate_hz` (from the welcome), with the default options.
    #[must_use]
    pub fn new(tick_rate_hz: u16) -> Self {
        Self::with_options(tick_rate_hz, ClockOptions::default())
    }

    /// A clock for `tick_rate_hz` with `options`.
    #[must_use]
    pub fn with_options(tick_rate_hz: u16, options: ClockOptions) -> Self {
        Self {
            hz: f64::from(tick_rate_hz.max(1)),
            options,
            offset: None,
            samples: [0.0; CLOCK_WINDOW],
            count: 0,
            late: 0.0,
            newest: 0.0,
            render: None,
        }
    }

    /// Records that the update for `tick` arrived at `now_s` (seconds on any steady clock).
    /// The clock is the plain mean of the first 20 samples, then each moves it by 5 % of its
    /// deviation, bounded to 2 ticks; only one more than a second away (a resume, a stall of
    /// seconds) resets the clock.
    pub fn observe(&mut self, tick: u32, now_s: f64) {
        let sample = f64::from(tick) - now_s * self.hz;
        let offset = match self.offset {
            Some(o) if (sample - o).abs() <= self.hz.max(4.0) => {
                // The mean of the first 20 samples, then 5 % a sample.
                let gain = (1.0 / (self.count + 1) as f64).max(0.05);
                o + (sample - o).clamp(-2.0, 2.0) * gain
            }
            _ => {
                self.count = 0;
                self.newest = f64::from(tick);
                self.render = None;
                sample
            }
        };
        self.offset = Some(offset);
        self.samples[self.count % CLOCK_WINDOW] = sample;
        self.count += 1;
        self.newest = self.newest.max(f64::from(tick));
        let earliest = self.samples[..self.count.min(CLOCK_WINDOW)]
            .iter()
            .fold(offset, |a, &b| a.min(b));
        let prior = if self.count < CLOCK_WINDOW { 1.0 } else { 0.0 };
        self.late = (offset - earliest).max(prior);
    }

    /// The tick arriving at `now_s`, or `None` before the first update.
    #[must_use]
    pub fn tick_at(&self, now_s: f64) -> Option<f64> {
        self.offset.map(|o| now_s * self.hz + o)
    }

    /// The measured arrival jitter in seconds (0 before the first update).
    #[must_use]
    pub fn jitter_s(&self) -> f64 {
        if self.offset.is_some() {
            self.late / self.hz
        } else {
            0.0
        }
    }

    /// The render delay the clock aims at, in ticks: one tick so that two states bracket the
    /// render tick, the jitter so that the newest has arrived, and a quarter tick of margin.
    #[must_use]
    pub fn delay_ticks(&self) -> f64 {
        (1.25 + self.late)
            .min(MAX_DELAY_S * self.hz)
            .max(self.options.min_delay_s * self.hz)
    }

    /// The render delay the clock aims at, in seconds.
    #[must_use]
    pub fn delay_s(&self) -> f64 {
        self.delay_ticks() / self.hz
    }

    /// The tick to draw remote entities at, at `now_s` (call it once per frame; the same
    /// `now_s` gives the same tick), or `None` before the first update.
    pub fn render_tick_at(&mut self, now_s: f64) -> Option<f64> {
        let target = self.tick_at(now_s)? - self.delay_ticks();
        let mut r = match self.render {
            None => target,
            Some((r, at)) => {
                let dt = (now_s - at) * self.hz;
                if dt.is_nan() || dt <= 0.0 {
                    return Some(r);
                }
                // Seconds ahead of where render time would be at the local clock's speed.
                let err = (target - (r + dt)) / self.hz;
                // In the first second after a (re)start the clock is still settling: 25 %.
                let slew = if (self.count as f64) < self.hz {
                    0.25
                } else {
                    CLOCK_SLEW
                };
                if err.abs() > 1.0 {
                    target
                } else {
                    r + dt * (1.0 + err.clamp(-slew, slew))
                }
            }
        };
        r = r.min(self.newest + self.options.max_extrapolation_s * self.hz);
        self.render = Some((r, now_s));
        Some(r)
    }
}

/// Field samples kept per entity: the last changes.
const FIELD_SAMPLES: usize = 8;

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
    /// The game fields by tick: the newest change at or before the render tick is drawn.
    fields: VecDeque<(f64, Fields)>,
    /// Speed per tick of the last move (0 after standing still).
    speed: f32,
    /// What the last frame drew, before the correction, and whether it was past the newest.
    drawn_raw: Vec2,
    drew_past: bool,
    /// A wrong extrapolation's difference still being blended out.
    correction: Vec2,
    /// What the last [`Interpolator::advance`] drew.
    drawn: Vec2,
}

/// An entity as the last [`Interpolator::advance`] drew it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drawn<'a> {
    /// The entity.
    pub id: EntityId,
    /// Its kind.
    pub kind: u8,
    /// Where to draw it, in world units.
    pub pos: Vec2,
    /// Its raw game fields as of the render tick.
    pub fields: &'a Fields,
}

/// Remote entities' recent states by tick, for drawing them a little in the past.
///
/// Call [`Interpolator::record`] after every applied update and, per frame,
/// [`Interpolator::advance`] with [`ServerClock::render_tick_at`], then draw
/// [`Interpolator::drawn`]. [`Interpolator::position_at`] is the raw position at any tick. An
/// entity that did not move is pinned until the tick before it moved again; a jump larger than
/// its kind's step per tick snaps.
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
    /// Configured step per kind (0: `max_step`), and the speed per kind seen steadily.
    kind_step: [f32; 256],
    kind_speed: [f32; 256],
    max_samples: usize,
    max_extrapolation_ticks: f64,
    smoothing_s: f64,
    tracks: HashMap<EntityId, Track>,
    last_tick: Option<u32>,
    /// Updates recorded, and how many the last [`Interpolator::advance`] had seen.
    records: u64,
    records_drawn: u64,
    /// The render tick and local time of the last [`Interpolator::advance`].
    drawn_at: Option<(f64, f64)>,
}

impl Interpolator {
    /// An empty buffer; `max_step` is the largest legitimate move per tick in world units (5 in
    /// the `arena` game, 4 in `coins`) of every kind without a step of its own.
    #[must_use]
    pub fn new(max_step: f32) -> Self {
        Self {
            max_step,
            kind_step: [0.0; 256],
            kind_speed: [0.0; 256],
            max_samples: 32,
            max_extrapolation_ticks: 4.5,
            smoothing_s: 0.2,
            tracks: HashMap::new(),
            last_tick: None,
            records: 0,
            records_drawn: 0,
            drawn_at: None,
        }
    }

    /// Sets the largest legitimate move per tick of `kind` (the JavaScript client's `maxStep`
    /// by kind name); 0 goes back to the default.
    pub fn set_kind_max_step(&mut self, kind: u8, step: f32) {
        self.kind_step[usize::from(kind)] = step;
    }

    /// Sets how far past its newest state a moving entity is drawn, in ticks (the clock's
    /// [`ClockOptions::max_extrapolation_s`] times the tick rate; 4.5 by default: 150 ms at
    /// 30 Hz).
    pub fn set_max_extrapolation_ticks(&mut self, ticks: f64) {
        self.max_extrapolation_ticks = ticks.max(0.0);
    }

    /// The largest legitimate move per tick of `kind`: configured, or raised to a speed the
    /// kind kept up.
    #[must_use]
    pub fn step_of(&self, kind: u8) -> f32 {
        let configured = self.kind_step[usize::from(kind)];
        let step = if configured > 0.0 {
            configured
        } else {
            self.max_step
        };
        step.max(self.kind_speed[usize::from(kind)])
    }

    /// Forgets everything (after a welcome: the view starts over).
    pub fn clear(&mut self) {
        self.tracks.clear();
        self.last_tick = None;
        self.drawn_at = None;
    }

    /// Records the replica after an update for `tick`: entities that left are dropped, new ones
    /// start in place, moved ones get a sample, changed fields a field sample. Works for v2 and
    /// v3 alike, as it reads the replica rather than the delta.
    pub fn record(&mut self, tick: u32, replica: &Replica) {
        let prev = self.last_tick;
        let t = f64::from(tick);
        self.records += 1;
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
                        fields: VecDeque::from([(t, e.fields)]),
                        speed: 0.0,
                        drawn_raw: pos,
                        drew_past: false,
                        correction: Vec2::default(),
                        drawn: pos,
                    },
                );
                continue;
            };
            if track.fields.back().is_some_and(|(_, f)| *f != e.fields) {
                if track.fields.len() == FIELD_SAMPLES {
                    track.fields.pop_front();
                }
                track.fields.push_back((t, e.fields));
            }
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
                track.speed = 0.0;
            }
            let ticks = (t - last.t).max(1.0) as f32;
            let kind = usize::from(track.kind);
            let configured = self.kind_step[kind];
            let step = if configured > 0.0 {
                configured
            } else {
                self.max_step
            }
            .max(self.kind_speed[kind]);
            let speed = pos.distance(last.pos) / ticks;
            let mut snap = speed * ticks > step * ticks * 1.5 + 1.0;
            if snap && track.speed > 0.0 && (speed - track.speed).abs() <= 0.2 * speed {
                // Two moves in a row at the same speed: a kind faster than its step.
                self.kind_speed[kind] = self.kind_speed[kind].max(speed);
                snap = false;
            }
            track.speed = speed;
            samples.push(Sample { t, pos, snap });
            if samples.len() > self.max_samples {
                let extra = samples.len() - self.max_samples;
                samples.drain(..extra);
            }
        }
        self.last_tick = Some(tick);
    }

    /// Where entity `id` is at the fractional tick `t` (extrapolated, if it is moving, for
    /// a bounded time past its newest state), or `None` if not in view.
    #[must_use]
    pub fn position_at(&self, id: EntityId, t: f64) -> Option<Vec2> {
        self.tracks.get(&id).map(|track| self.sample(track, t).0)
    }

    /// The raw game fields of entity `id` as of the fractional tick `t`: the newest change at
    /// or before it. `None` if not in view.
    #[must_use]
    pub fn fields_at(&self, id: EntityId, t: f64) -> Option<&Fields> {
        self.tracks.get(&id).map(|track| fields_at(track, t))
    }

    /// Every entity in view and its kind, in no particular order.
    pub fn entities(&self) -> impl Iterator<Item = (EntityId, u8)> + '_ {
        self.tracks.iter().map(|(id, t)| (*id, t.kind))
    }

    /// Draws every entity at render tick `t` ([`ServerClock::render_tick_at`]) and local time
    /// `now_s`: where new states contradict what the last frame drew past the newest state, the
    /// difference is blended out over about 200 ms instead of drawn in one frame.
    pub fn advance(&mut self, t: f64, now_s: f64) {
        let (before, decay) = match self.drawn_at {
            Some((tick, at)) => (
                Some(tick),
                (-(now_s - at).max(0.0) / self.smoothing_s).exp(),
            ),
            None => (None, 1.0),
        };
        let fresh = self.records != self.records_drawn;
        self.records_drawn = self.records;
        self.drawn_at = Some((t, now_s));
        let mut tracks = std::mem::take(&mut self.tracks);
        for track in tracks.values_mut() {
            if let (true, true, Some(before)) = (fresh, track.drew_past, before)
                && !track.samples.last().is_some_and(|s| s.snap)
            {
                let (p, _) = self.sample(track, before);
                track.correction.x += track.drawn_raw.x - p.x;
                track.correction.y += track.drawn_raw.y - p.y;
            }
            let (raw, past) = self.sample(track, t);
            track.drawn_raw = raw;
            track.drew_past = past;
            let decay = decay as f32;
            track.correction = Vec2::new(track.correction.x * decay, track.correction.y * decay);
            if track.correction.x.abs() + track.correction.y.abs() < 1e-3 {
                track.correction = Vec2::default();
            }
            track.drawn = Vec2::new(raw.x + track.correction.x, raw.y + track.correction.y);
        }
        self.tracks = tracks;
    }

    /// Every entity as the last [`Interpolator::advance`] drew it, in no particular order.
    pub fn drawn(&self) -> impl Iterator<Item = Drawn<'_>> + '_ {
        let t = self.drawn_at.map_or(f64::INFINITY, |(t, _)| t);
        self.tracks.iter().map(move |(id, track)| Drawn {
            id: *id,
            kind: track.kind,
            pos: track.drawn,
            fields: fields_at(track, t),
        })
    }

    /// Drops samples no longer needed to draw at tick `t` or later (two are always kept, for
    /// the velocity of an extrapolation).
    pub fn prune(&mut self, t: f64) {
        for track in self.tracks.values_mut() {
            let s = &mut track.samples;
            let mut drop = 0;
            while drop + 2 < s.len() && s[drop + 1].t <= t {
                drop += 1;
            }
            s.drain(..drop);
        }
    }

    /// The position of `track` at tick `t`, and whether it went past the newest state.
    fn sample(&self, track: &Track, t: f64) -> (Vec2, bool) {
        let newest = self.last_tick.map(f64::from);
        sample(&track.samples, t, newest, self.max_extrapolation_ticks)
    }
}

/// The newest field sample at or before `t` (the oldest kept when all are after it).
fn fields_at(track: &Track, t: f64) -> &Fields {
    const NONE: Fields = [0; tickstream_shared::MAX_FIELDS];
    track
        .fields
        .iter()
        .rev()
        .find(|(at, _)| *at <= t)
        .or(track.fields.front())
        .map_or(&NONE, |(_, f)| f)
}

/// The position at `t`: interpolated between the two samples around it; past the newest, if
/// the entity moved in the newest update (`newest`), extrapolated for at most `limit` ticks.
fn sample(samples: &[Sample], t: f64, newest: Option<f64>, limit: f64) -> (Vec2, bool) {
    let Some(first) = samples.first() else {
        return (Vec2::default(), false);
    };
    if t <= first.t {
        return (first.pos, false);
    }
    for i in (1..samples.len()).rev() {
        let a = samples[i - 1];
        if a.t <= t {
            let b = samples[i];
            if t >= b.t {
                let moving = i == samples.len() - 1 && Some(b.t) == newest && !b.snap;
                if moving && limit > 0.0 && b.t > a.t {
                    let f = ((t - b.t).min(limit) / (b.t - a.t)) as f32;
                    let pos = Vec2::new(
                        b.pos.x + (b.pos.x - a.pos.x) * f,
                        b.pos.y + (b.pos.y - a.pos.y) * f,
                    );
                    return (pos, true);
                }
                return (b.pos, false);
            }
            if b.snap {
                return (a.pos, false);
            }
            let f = ((t - a.t) / (b.t - a.t)) as f32;
            return (
                Vec2::new(
                    a.pos.x + (b.pos.x - a.pos.x) * f,
                    a.pos.y + (b.pos.y - a.pos.y) * f,
                ),
                false,
            );
        }
    }
    (samples.last().map_or(first.pos, |s| s.pos), false)
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
    use tickstream_shared::messages::ViewChecksum;
    use tickstream_shared::{EntityState, Tick, Update};

    fn s(t: f64, x: f32, snap: bool) -> Sample {
        Sample {
            t,
            pos: Vec2::new(x, 0.0),
            snap,
        }
    }

    /// Applies the view `after` (entities as (id, kind, x in units, score)) as the update for
    /// `tick` and records it.
    fn apply(
        replica: &mut Replica,
        interp: &mut Interpolator,
        tick: u32,
        after: &[(u32, u8, f32, i32)],
    ) {
        let after: Vec<EntityState> = after
            .iter()
            .map(|&(id, kind, x, score)| {
                let mut e = EntityState::new(EntityId(id), kind, (x * 64.0) as u32, 0);
                e.fields[0] = score;
                e
            })
            .collect();
        let delta = tickstream_shared::delta::diff(replica.entities(), &after);
        let checksum = ViewChecksum(tickstream_shared::view_checksum(&after));
        let update = Update {
            tick: Tick(tick),
            ack_seq: 0,
            checksum,
            delta,
            events: vec![],
        };
        replica.apply(&update).expect("a consistent update");
        interp.record(tick, replica);
    }

    #[test]
    fn samples_interpolate_pin_and_snap_as_the_javascript_client() {
        let track = [
            s(10.0, 0.0, true),
            s(12.0, 10.0, false),
            s(13.0, 100.0, true),
        ];
        let at = |t| sample(&track, t, Some(13.0), 4.5).0.x;
        assert_eq!(at(9.0), 0.0, "before the first: in place");
        assert_eq!(at(11.0), 5.0, "linear between two");
        assert_eq!(at(12.5), 10.0, "a snap holds the old place");
        assert_eq!(at(14.0), 100.0, "after a snap: the last, not extrapolated");
    }

    #[test]
    fn a_moving_entity_is_extrapolated_for_a_bounded_time_a_still_one_is_not() {
        let track = [
            s(10.0, 0.0, true),
            s(11.0, 5.0, false),
            s(12.0, 10.0, false),
        ];
        assert_eq!(
            sample(&track, 13.0, Some(12.0), 2.0),
            (Vec2::new(15.0, 0.0), true)
        );
        assert_eq!(
            sample(&track, 20.0, Some(12.0), 2.0).0.x,
            20.0,
            "two ticks at most"
        );
        assert_eq!(
            sample(&track, 13.0, Some(13.0), 2.0),
            (Vec2::new(10.0, 0.0), false),
            "stopped"
        );
    }

    #[test]
    fn the_clock_measures_the_jitter_and_its_delay_covers_it_at_any_tick_rate() {
        for hz in [10u16, 30, 60] {
            let mut clock = ServerClock::new(hz);
            let mut seed = 1u32;
            for tick in 0..200u32 {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let jitter = f64::from(seed >> 8) / f64::from(1u32 << 24) * 0.08;
                clock.observe(tick, f64::from(tick) / f64::from(hz) + 0.05 + jitter);
            }
            let j = clock.jitter_s();
            assert!(
                j > 0.025 && j < 0.06,
                "{hz} Hz: about half of 0–80 ms ({j})"
            );
            let expected = 1.25 / f64::from(hz) + j;
            assert!(
                (clock.delay_s() - expected).abs() < 1e-9,
                "{hz} Hz: 1¼ ticks + jitter"
            );
        }
        let mut floor = ServerClock::with_options(
            30,
            ClockOptions {
                min_delay_s: 0.1,
                ..ClockOptions::default()
            },
        );
        floor.observe(1, 0.0);
        assert!((floor.delay_s() - 0.1).abs() < 1e-12, "the minimum");
    }

    #[test]
    fn render_time_never_steps_and_only_a_jump_of_seconds_resets_it() {
        let mut c = ServerClock::new(30);
        assert_eq!(c.tick_at(1.0), None, "nothing before the first update");
        assert_eq!(c.render_tick_at(1.0), None, "nor a render tick");
        for tick in 0..100u32 {
            c.observe(tick, f64::from(tick) / 30.0);
        }
        let mut t = 100.0 / 30.0;
        let mut r = c.render_tick_at(t).expect("observed");
        // A 250 ms stall, then everything at once.
        for tick in 100..108u32 {
            c.observe(tick, t + 0.25);
        }
        for i in 0..120u32 {
            t += 1.0 / 60.0;
            if i % 2 == 0 {
                c.observe(108 + i / 2, t + 0.25 - 1.0 / 30.0);
            }
            let next = c.render_tick_at(t).expect("observed");
            let speed = (next - r) / 0.5;
            assert!(speed <= 1.05 + 1e-9, "frame {i}: at most 105 % ({speed})");
            assert!(
                speed >= 0.95 - 1e-9 || next == c.newest + 4.5,
                "frame {i}: at least 95 % or held ({speed})"
            );
            r = next;
        }
        c.observe(10_000, t);
        let reset = c.render_tick_at(t + 0.001).expect("observed");
        assert!(
            (reset - (10_000.0 - c.delay_ticks())).abs() < 0.1,
            "a jump of seconds resets: {reset}"
        );
        assert_eq!(
            c.render_tick_at(t + 0.001),
            Some(reset),
            "the same time, the same tick"
        );
    }

    #[test]
    fn render_time_goes_at_most_the_extrapolation_limit_past_the_newest_tick() {
        let mut c = ServerClock::with_options(
            30,
            ClockOptions {
                max_extrapolation_s: 0.1,
                ..ClockOptions::default()
            },
        );
        for tick in 0..100u32 {
            c.observe(tick, f64::from(tick) / 30.0);
        }
        let r = c.render_tick_at(99.0 / 30.0 + 5.0).expect("observed");
        assert!((r - 102.0).abs() < 1e-9, "three ticks past tick 99: {r}");
    }

    #[test]
    fn a_wrong_extrapolation_is_blended_out_not_drawn_in_one_frame() {
        let mut replica = Replica::new();
        let mut interp = Interpolator::new(5.0);
        apply(&mut replica, &mut interp, 10, &[(1, 1, 0.0, 0)]);
        apply(&mut replica, &mut interp, 11, &[(1, 1, 5.0, 0)]);
        interp.advance(12.0, 0.0);
        let drawn = |i: &Interpolator| i.drawn().next().expect("one entity").pos.x;
        assert_eq!(drawn(&interp), 10.0, "a tick past the newest");
        // It turned back at tick 12.
        apply(&mut replica, &mut interp, 12, &[(1, 1, 0.0, 0)]);
        let mut x = drawn(&interp);
        for i in 1..60u32 {
            let t = 12.0 + f64::from(i) / 100.0;
            interp.advance(t, f64::from(i) / 60.0);
            let next = drawn(&interp);
            assert!(
                (next - x).abs() < 3.0,
                "frame {i}: no big step ({x} to {next})"
            );
            x = next;
        }
        let truth = interp.position_at(EntityId(1), 12.59).expect("in view").x;
        assert!(
            (x - truth).abs() < 0.5,
            "then where the states say ({x}, {truth})"
        );
    }

    #[test]
    fn game_fields_are_drawn_as_of_the_render_tick() {
        let mut replica = Replica::new();
        let mut interp = Interpolator::new(5.0);
        apply(&mut replica, &mut interp, 10, &[(1, 1, 0.0, 1)]);
        apply(&mut replica, &mut interp, 11, &[(1, 1, 0.0, 2)]);
        apply(&mut replica, &mut interp, 12, &[(1, 1, 0.0, 7)]);
        let score = |i: &Interpolator, t| i.fields_at(EntityId(1), t).expect("in view")[0];
        assert_eq!(score(&interp, 10.5), 1, "the spawn's");
        assert_eq!(score(&interp, 11.5), 2, "tick 11's");
        assert_eq!(score(&interp, 12.0), 7, "the newest");
        interp.advance(11.5, 0.0);
        assert_eq!(
            interp.drawn().next().expect("one").fields[0],
            2,
            "drawn with the position"
        );
    }

    #[test]
    fn the_snap_threshold_is_per_kind_configured_or_learned() {
        let mut replica = Replica::new();
        let mut interp = Interpolator::new(5.0);
        interp.set_kind_max_step(2, 12.0);
        assert_eq!(interp.step_of(2), 12.0, "configured");
        assert_eq!(interp.step_of(0), 5.0, "the default");
        let mut x = 0.0;
        apply(
            &mut replica,
            &mut interp,
            10,
            &[(1, 3, 0.0, 0), (2, 4, 0.0, 0)],
        );
        for tick in 11..=14 {
            x += 12.0;
            apply(
                &mut replica,
                &mut interp,
                tick,
                &[(1, 3, x, 0), (2, 4, 0.0, 0)],
            );
        }
        assert!(interp.step_of(3) >= 12.0, "kind 3 learned its speed");
        let p = interp.position_at(EntityId(1), 13.5).expect("in view");
        assert_eq!(p.x, 42.0, "interpolated, not snapped");
        apply(
            &mut replica,
            &mut interp,
            15,
            &[(1, 3, x, 0), (2, 4, 640.0, 0)],
        );
        assert_eq!(interp.step_of(4), 5.0, "a single jump teaches nothing");
        let p = interp.position_at(EntityId(2), 14.5).expect("in view");
        assert_eq!(p.x, 0.0, "and is a teleport");
    }
}
