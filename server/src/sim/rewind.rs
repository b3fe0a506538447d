//! Lag compensation's memory: where every entity was over the last ticks, as clients saw it.
//!
//! A client draws other entities in the past (PROTOCOL.md §13.2: interpolated between two
//! received states, some ticks behind the newest), and protocol v5 tells the server with every
//! input which fractional tick it was showing ([`ViewTime`]). A game that judges an input
//! against what the player saw (a hitscan shot) asks [`Rewind`] where the entities were at
//! that time: the room records each tick's replicated positions (quantized, exactly what
//! clients received) for `rooms.max_rewind_ms`, and answers by interpolating linearly between
//! the two recorded ticks around the time, as the reference clients do.
//!
//! Nothing here reads a clock: the answer depends only on the recorded states and the time
//! asked for, so a game that uses it stays deterministic. A claimed time is clamped into the
//! history: never older than the oldest kept tick (a client cannot claim an arbitrary past),
//! never newer than the newest.

use std::collections::VecDeque;

use glam::DVec2;
use tickstream_shared::{EntityId, EntityState, Tick, quant};

/// The hard cap on `rooms.max_rewind_ms`: a client may be judged at most this far in the past.
pub const MAX_REWIND_MS: u64 = 1000;

/// A displayed time: tick `tick + frac / 256`, as a v5 input carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ViewTime {
    /// The whole tick.
    pub tick: Tick,
    /// 1/256ths of a tick past `tick`.
    pub frac: u8,
}

impl ViewTime {
    /// Tick `tick + frac / 256`.
    #[must_use]
    pub const fn new(tick: Tick, frac: u8) -> Self {
        Self { tick, frac }
    }

    /// The whole tick `tick`.
    #[must_use]
    pub const fn at(tick: Tick) -> Self {
        Self { tick, frac: 0 }
    }
}

/// One recorded tick: every entity's quantized position, ascending by id.
#[derive(Debug, Clone, Default)]
struct Frame {
    tick: Tick,
    positions: Vec<(EntityId, u32, u32)>,
}

impl Frame {
    fn get(&self, id: EntityId) -> Option<(u32, u32)> {
        self.positions
            .binary_search_by_key(&id, |p| p.0)
            .ok()
            .map(|i| (self.positions[i].1, self.positions[i].2))
    }
}

/// The replicated positions of a room's last ticks, bounded: at most `capacity` ticks (the
/// newest and `capacity − 1` before it), each as many entries as the room has entities.
#[derive(Debug, Clone)]
pub struct Rewind {
    /// Oldest first; consecutive ticks (the room records every tick it publishes).
    frames: VecDeque<Frame>,
    /// Ticks kept; 0 records nothing (a game that does not rewind).
    capacity: usize,
}

impl Default for Rewind {
    fn default() -> Self {
        Self::empty()
    }
}

impl Rewind {
    /// A history that records nothing: every question is answered with nothing.
    #[must_use]
    pub const fn empty() -> Self {
        Self {
            frames: VecDeque::new(),
            capacity: 0,
        }
    }

    /// A history reaching `max_rewind_ms` back at `tick_rate_hz` (capped at
    /// [`MAX_REWIND_MS`]): the newest tick and the whole ticks within that time before it. 0 ms
    /// keeps only the newest tick: every input is judged against the latest state (lag
    /// compensation off).
    #[must_use]
    pub fn new(max_rewind_ms: u64, tick_rate_hz: u16) -> Self {
        let ms = max_rewind_ms.min(MAX_REWIND_MS);
        let ticks = (ms * u64::from(tick_rate_hz)).div_ceil(1000);
        Self {
            frames: VecDeque::new(),
            // At most 240 Hz × 1 s + 1.
            capacity: usize::try_from(ticks).unwrap_or(240) + 1,
        }
    }

    /// How many ticks before the newest one a view time may be (0: lag compensation off).
    #[must_use]
    pub fn window_ticks(&self) -> usize {
        self.capacity.saturating_sub(1)
    }

    /// Records `tick`'s replicated entities (ascending by id); the oldest tick goes when the
    /// history is full, and its buffer is reused.
    pub fn record(&mut self, tick: Tick, entities: &[EntityState]) {
        if self.capacity == 0 {
            return;
        }
        let mut frame = if self.frames.len() >= self.capacity {
            self.frames.pop_front().unwrap_or_default()
        } else {
            Frame::default()
        };
        frame.tick = tick;
        frame.positions.clear();
        frame
            .positions
            .extend(entities.iter().map(|e| (e.id, e.x, e.y)));
        if !frame.positions.is_sorted_by_key(|p| p.0) {
            frame.positions.sort_unstable_by_key(|p| p.0);
        }
        self.frames.push_back(frame);
    }

    /// The newest recorded tick.
    #[must_use]
    pub fn latest(&self) -> Option<Tick> {
        self.frames.back().map(|f| f.tick)
    }

    /// `at` clamped into the history: not before its oldest tick, not after its newest.
    /// `None` when nothing is recorded.
    #[must_use]
    pub fn clamp(&self, at: ViewTime) -> Option<ViewTime> {
        let (oldest, newest) = (self.frames.front()?.tick, self.frames.back()?.tick);
        if at.tick.is_after(newest) || (at.tick == newest && at.frac > 0) {
            return Some(ViewTime::at(newest));
        }
        if oldest.is_after(at.tick) {
            return Some(ViewTime::at(oldest));
        }
        Some(at)
    }

    /// Where entity `id` was displayed at `at` (clamped; `None`: the newest tick), in world
    /// units: linear between the two recorded ticks around it, as clients interpolate. An
    /// entity recorded only at the later of the two is shown there (it had just spawned);
    /// one missing at the later tick had been despawned and is `None`.
    #[must_use]
    pub fn position(&self, id: EntityId, at: Option<ViewTime>) -> Option<DVec2> {
        let (i, t) = self.locate(at)?;
        let lo = &self.frames[i];
        let hi = self.frames.get(i + 1);
        let to_world = |(x, y): (u32, u32)| DVec2::new(quant::dequantize(x), quant::dequantize(y));
        match hi {
            None => lo.get(id).map(to_world),
            Some(hi) => {
                let b = to_world(hi.get(id)?);
                match lo.get(id) {
                    Some(a) => Some(to_world(a).lerp(b, t)),
                    None => Some(b),
                }
            }
        }
    }

    /// Every entity recorded at the tick at or before `at` (clamped), with its position at
    /// `at` as [`Rewind::position`] gives it.
    pub fn positions(&self, at: Option<ViewTime>) -> impl Iterator<Item = (EntityId, DVec2)> + '_ {
        let ids = self
            .locate(at)
            .map(|(i, _)| &self.frames[i].positions[..])
            .unwrap_or_default();
        ids.iter()
            .filter_map(move |&(id, _, _)| Some((id, self.position(id, at)?)))
    }

    /// The index of the recorded tick at or before `at` (clamped) and the fraction of the way
    /// to the next one.
    fn locate(&self, at: Option<ViewTime>) -> Option<(usize, f64)> {
        let newest = self.latest()?;
        let at = self.clamp(at.unwrap_or(ViewTime::at(newest)))?;
        let back = newest.since(at.tick) as usize;
        let i = self.frames.len().checked_sub(1 + back)?;
        Some((i, f64::from(at.frac) / 256.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: f64) -> EntityState {
        EntityState::new(EntityId(1), 0, quant::quantize(x), quant::quantize(10.0))
    }

    fn history(ticks: u32) -> Rewind {
        let mut r = Rewind::new(100, 30); // 3 ticks back
        for t in 1..=ticks {
            r.record(Tick(t), &[at(f64::from(t) * 5.0)]);
        }
        r
    }

    #[test]
    fn positions_are_interpolated_between_recorded_ticks() {
        let r = history(10);
        let p = r.position(EntityId(1), Some(ViewTime::new(Tick(8), 128)));
        assert_eq!(p, Some(DVec2::new(42.5, 10.0)), "half way from tick 8 to 9");
        let p = r.position(EntityId(1), None);
        assert_eq!(
            p,
            Some(DVec2::new(50.0, 10.0)),
            "no view time: the newest tick"
        );
    }

    #[test]
    fn view_times_are_clamped_into_the_history() {
        let r = history(10);
        assert_eq!(r.window_ticks(), 3, "100 ms at 30 Hz is 3 ticks");
        let old = r.position(EntityId(1), Some(ViewTime::at(Tick(2))));
        assert_eq!(
            old,
            Some(DVec2::new(35.0, 10.0)),
            "older than kept: the oldest tick (7)"
        );
        let future = r.position(EntityId(1), Some(ViewTime::new(Tick(4_000_000), 255)));
        assert_eq!(
            future,
            Some(DVec2::new(50.0, 10.0)),
            "the future: the newest tick"
        );
        let late = r.clamp(ViewTime::new(Tick(10), 200));
        assert_eq!(
            late,
            Some(ViewTime::at(Tick(10))),
            "past the newest by a fraction"
        );
        assert_eq!(r.positions(None).count(), 1, "one entity");
    }

    #[test]
    fn zero_keeps_only_the_newest_tick_and_memory_is_bounded() {
        let mut r = Rewind::new(0, 30);
        for t in 1..=100 {
            r.record(Tick(t), &[at(f64::from(t))]);
        }
        assert_eq!(r.frames.len(), 1, "off: one tick");
        let p = r.position(EntityId(1), Some(ViewTime::at(Tick(50))));
        assert_eq!(
            p,
            Some(DVec2::new(100.0, 10.0)),
            "judged at the newest state"
        );
        let capped = Rewind::new(60_000, 240);
        assert_eq!(capped.window_ticks(), 240, "capped at one second");
        assert!(
            Rewind::empty().position(EntityId(1), None).is_none(),
            "empty"
        );
    }

    #[test]
    fn spawned_and_despawned_entities() {
        let mut r = Rewind::new(1000, 30);
        r.record(Tick(1), &[at(5.0)]);
        r.record(Tick(2), &[EntityState::new(EntityId(2), 0, 64, 64)]);
        let view = Some(ViewTime::new(Tick(1), 128));
        assert_eq!(
            r.position(EntityId(1), view),
            None,
            "despawned by the next tick"
        );
        assert_eq!(
            r.position(EntityId(2), view),
            Some(DVec2::new(1.0, 1.0)),
            "spawned: shown where it appeared"
        );
    }
}
