//! A room's spectators (protocol v6): connections that watch the room without an entity.
//!
//! A spectator gets the tick frames the players get, built around the entity it follows (what
//! that player sees) or, following none, the whole room; and the events the game addresses to
//! every player, numbered per spectator from 1. With `rooms.spectator_delay_ms` it watches that
//! far behind the live game (against ghosting): while the room has spectators it holds the
//! snapshots and events of the delay, and builds the spectators' frames from the oldest. A room
//! without spectators holds nothing, so the first spectator's first update comes one delay
//! after it arrives.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tickstream_shared::{EntityId, GameEvent, Tick, close_code};

use super::super::link::{ClientLink, Published, WHOLE_ROOM};
use crate::metrics as m;
use crate::sim::{Audience, Emitted};
use crate::sync::{Snapshot, TickFrame};

/// One watching connection.
struct Spectator {
    link: Arc<ClientLink>,
    /// The seq the next event gets.
    next_event_seq: u32,
    /// When its previous update was first found still waiting.
    stalled_since: Option<Instant>,
}

/// A tick the spectators have not been shown yet (with a delay).
struct Held {
    snap: Arc<Snapshot>,
    events: Vec<Emitted>,
}

/// Builds the frame of a snapshot given the two before it.
pub(super) type BuildFrame<'a> =
    dyn Fn(Arc<Snapshot>, Option<Arc<Snapshot>>, Option<Arc<Snapshot>>) -> TickFrame + 'a;

/// What one publish needs besides the tick: how to build a frame from snapshots, and the
/// limits that apply to every client of the room.
pub(super) struct PublishCtx<'a> {
    /// Builds the frame of a snapshot given the two before it (the room's view radius and
    /// bandwidth budget).
    pub(super) build: &'a BuildFrame<'a>,
    /// Events waiting for one writer before it is closed with 4004.
    pub(super) max_pending_events: usize,
    /// How long a spectator may stay behind before 4000.
    pub(super) slow_client_timeout: Duration,
    /// The time of this tick.
    pub(super) now: Instant,
}

/// The spectators of one room and, with a delay, what they have not been shown yet.
pub(super) struct Spectators {
    max: usize,
    delay_ticks: u32,
    tick_rate_hz: u16,
    list: Vec<Spectator>,
    /// Events for every player since the last publish (kept only while there are spectators).
    events: Vec<Emitted>,
    /// With a delay: the ticks not shown yet, oldest first; at most `delay_ticks + 1`.
    held: VecDeque<Held>,
    /// With a delay: the last two snapshots shown, newest first (the shared bodies of the
    /// next frame are built from them).
    shown: [Option<Arc<Snapshot>>; 2],
    gauge: metrics::Gauge,
}

impl Spectators {
    /// At most `max` spectators, watching `delay` behind (rounded up to whole ticks).
    pub(super) fn new(max: usize, delay: Duration, tick_rate_hz: u16) -> Self {
        let ticks = (delay.as_millis() * u128::from(tick_rate_hz)).div_ceil(1000);
        Self {
            max,
            delay_ticks: u32::try_from(ticks).unwrap_or(u32::MAX),
            tick_rate_hz,
            list: Vec::new(),
            events: Vec::new(),
            held: VecDeque::new(),
            shown: [None, None],
            gauge: metrics::gauge!(m::SPECTATORS),
        }
    }

    /// The delay in milliseconds, as whole ticks make it (what `Spectating` says).
    pub(super) fn delay_ms(&self) -> u32 {
        let ms = (u64::from(self.delay_ticks) * 1000).div_ceil(u64::from(self.tick_rate_hz.max(1)));
        u32::try_from(ms).unwrap_or(u32::MAX)
    }

    /// The tick a spectator arriving now starts watching from, the room being at `live`.
    pub(super) fn start_tick(&self, live: Tick) -> Tick {
        Tick(live.0.saturating_sub(self.delay_ticks))
    }

    /// True when one more spectator would be over the cap.
    pub(super) fn is_full(&self) -> bool {
        self.list.len() >= self.max
    }

    /// Spectators watching.
    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    /// Adds a spectator whose `Spectating` is already queued on `link`.
    pub(super) fn add(&mut self, link: Arc<ClientLink>) {
        self.list.push(Spectator {
            link,
            next_event_seq: 1,
            stalled_since: None,
        });
        self.gauge.increment(1.0);
    }

    /// The spectators' links.
    pub(super) fn links(&self) -> impl Iterator<Item = &Arc<ClientLink>> {
        self.list.iter().map(|s| &s.link)
    }

    /// Forgets the spectators whose session ended.
    pub(super) fn drop_gone(&mut self) {
        let before = self.list.len();
        self.list.retain(|s| !s.link.is_gone());
        let gone = before - self.list.len();
        if gone > 0 {
            self.gauge.decrement(gone as f64);
        }
        if self.list.is_empty() {
            self.forget();
        }
    }

    /// Closes every spectator with `code` and forgets them.
    pub(super) fn close_all(&mut self, code: u16, reason: &str) {
        for s in &self.list {
            s.link.close(code, reason);
        }
        self.gauge.decrement(self.list.len() as f64);
        self.list.clear();
        self.forget();
    }

    /// Drops everything held for spectators (there are none left to show it to).
    fn forget(&mut self) {
        self.events.clear();
        self.held.clear();
        self.shown = [None, None];
    }

    /// Keeps the events among `emitted` that every player receives, for the spectators' next
    /// update.
    pub(super) fn collect(&mut self, emitted: &[Emitted]) {
        if self.list.is_empty() {
            return;
        }
        self.events.extend(
            emitted
                .iter()
                .filter(|e| matches!(e.to, Audience::Everyone))
                .cloned(),
        );
    }

    /// Shows the spectators the live tick `frame` (or, with a delay, the tick that is now one
    /// delay old, if any). Returns how many updates replaced one a spectator had not taken.
    pub(super) fn publish(&mut self, frame: &Arc<TickFrame>, cx: &PublishCtx<'_>) -> u64 {
        if self.list.is_empty() {
            return 0;
        }
        let events = std::mem::take(&mut self.events);
        if self.delay_ticks == 0 {
            return self.send(frame, &events, cx);
        }
        let live = frame.snap.tick;
        self.held.push_back(Held {
            snap: Arc::clone(&frame.snap),
            events,
        });
        let mut merged = 0;
        while self
            .held
            .front()
            .is_some_and(|h| live.since(h.snap.tick) >= self.delay_ticks)
        {
            let Some(h) = self.held.pop_front() else {
                break;
            };
            let [prev, pre] = std::mem::take(&mut self.shown);
            let delayed = Arc::new((cx.build)(Arc::clone(&h.snap), prev.clone(), pre));
            self.shown = [Some(h.snap), prev];
            merged += self.send(&delayed, &h.events, cx);
        }
        merged
    }

    /// Hands `frame` and `events` to every spectator; closes those that stayed behind too long
    /// (4000) or whose event queue overflowed (4004).
    fn send(&mut self, frame: &Arc<TickFrame>, events: &[Emitted], cx: &PublishCtx<'_>) -> u64 {
        let mut merged = 0;
        let mut batch = Vec::with_capacity(events.len());
        for s in &mut self.list {
            let link = &s.link;
            batch.clear();
            for e in events {
                batch.push(GameEvent {
                    seq: s.next_event_seq,
                    kind: e.kind,
                    entity: e.entity,
                    value: e.value,
                    text: e.text.clone(),
                });
                s.next_event_seq = s.next_event_seq.wrapping_add(1);
            }
            if !link.push_events(&batch, cx.max_pending_events) && link.closing_code().is_none() {
                link.close(
                    close_code::EVENTS_OVERFLOW,
                    "event queue overflow: events not taken in time",
                );
                continue;
            }
            let update = Published {
                frame: Arc::clone(frame),
                entity: followed(link),
                ack_seq: 0,
                spectator: true,
            };
            merged += u64::from(super::hand_over(
                link,
                update,
                &mut s.stalled_since,
                cx.now,
                cx.slow_client_timeout,
            ));
        }
        merged
    }
}

/// The entity a spectator's frame is built around: the one it follows, or [`WHOLE_ROOM`].
fn followed(link: &ClientLink) -> EntityId {
    link.follow().unwrap_or(WHOLE_ROOM)
}
