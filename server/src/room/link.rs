//! The state a session and its room share.
//!
//! Delivery semantics:
//! - **Input** (session → room): latest wins. The room reads the newest input once per tick;
//!   an input overwritten before a tick was never in force and is never acknowledged.
//! - **Update** (room → writer): latest wins. The room publishes each tick's [`TickFrame`]
//!   (shared by all its clients) to every link, replacing one the writer has not taken yet; the
//!   writer builds its client's frame from the newest one when it is ready, so a slow client's
//!   next delta covers every tick it missed and nothing queues.
//! - **Control** (session → writer: welcome, pong, error): ordered, bounded; written before any
//!   waiting update. Answers wait for room rather than being dropped.
//! - **Events** (room → writer): ordered, reliable, bounded. The room appends each player's
//!   numbered one-shot events; the writer takes all of them into its next update frame. A queue
//!   that reaches its bound means the writer is not keeping up: the room closes the connection
//!   with 4004 rather than drop an event (a resume can still recover them from the history).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use tickstream_shared::codec::encode_server;
use tickstream_shared::{EntityId, ErrorMsg, GameEvent, Input, ServerMsg};

use crate::sim::ViewTime;
use tokio::sync::Notify;

use crate::sync::TickFrame;

/// Most control messages waiting for one writer. A reader with an answer (a pong) for a full
/// queue waits for room, so a client that floods pings is slowed down, never answered only in
/// part, and the server's memory stays bounded.
pub const MAX_CONTROL_QUEUE: usize = 16;

/// A frame for the writer, other than a state update.
#[derive(Debug)]
pub enum Outgoing {
    /// An encoded `ServerMsg` (welcome, pong, error) as a binary frame.
    Message(Vec<u8>),
    /// A WebSocket pong answering a ping, with the ping's payload.
    Pong(Vec<u8>),
    /// A WebSocket ping (liveness).
    Ping,
}

/// The newest tick published for one client.
#[derive(Debug, Clone)]
pub struct Published {
    /// The tick's shared frame.
    pub frame: Arc<TickFrame>,
    /// The client's own entity.
    pub entity: EntityId,
    /// The client's latest input applied at or before this tick.
    pub ack_seq: u32,
    /// The client watches as a spectator: its view is the whole room while its `entity` is
    /// not in the snapshot.
    pub spectator: bool,
}

#[derive(Debug, Default)]
struct Outbox {
    control: VecDeque<Outgoing>,
    update: Option<Published>,
    events: Vec<GameEvent>,
    close: Option<(u16, String)>,
    /// The writer's waker while it waits for a job (registered under this lock after it
    /// found none, so no job can slip in between): whoever gives it one wakes it, once.
    writer: Option<Waker>,
}

impl Outbox {
    /// The waiting writer's waker, if it waits: to be woken once the lock is released.
    fn wake_writer(&mut self) -> Option<Waker> {
        self.writer.take()
    }
}

/// What the writer should do next.
#[derive(Debug)]
pub enum WriterJob {
    /// Write a control frame.
    Control(Outgoing),
    /// Build and write the client's update for this tick.
    Update(Published),
    /// Send a close frame with this code and reason, then stop.
    Close(u16, String),
}

/// One client's shared state. Every field is bounded: one input, one update, a short queue.
#[derive(Debug)]
pub struct ClientLink {
    /// The connection's id, for logs.
    pub conn_id: u64,
    /// The protocol version the upgrade agreed on: what the welcome names and how the writer
    /// encodes updates.
    pub protocol: u16,
    /// The newest input and the view time it came with (protocol v5).
    input: Mutex<Option<(Input, Option<ViewTime>)>>,
    outbox: Mutex<Outbox>,
    /// Wakes the session supervisor when the connection must end.
    kill: Notify,
    /// Wakes a reader waiting for room in the control queue (the writer took a frame).
    space: Notify,
    /// Set by the session when the connection is gone: the room drops the client.
    gone: AtomicBool,
    /// Set when the client closed with 1000 or 1001: it left for good, no resume grace.
    left: AtomicBool,
    /// The entity a spectator follows: [`NO_FOLLOW`], or the entity's id (session side sets
    /// it, the room reads it each tick it publishes).
    follow: AtomicU64,
}

/// [`ClientLink`]'s `follow` when the spectator watches the whole room.
const NO_FOLLOW: u64 = u64::MAX;

/// The entity a spectator's view is built around when it follows none: an id no built-in
/// game hands out (their ids stop before `u32::MAX`), so the view is the whole room.
pub const WHOLE_ROOM: EntityId = EntityId(u32::MAX);

impl ClientLink {
    /// A link for a new connection speaking the newest protocol.
    #[must_use]
    pub fn new(conn_id: u64) -> Self {
        Self::with_protocol(conn_id, tickstream_shared::PROTOCOL_VERSION)
    }

    /// A link for a new connection speaking protocol `protocol`.
    #[must_use]
    pub fn with_protocol(conn_id: u64, protocol: u16) -> Self {
        Self {
            conn_id,
            protocol,
            input: Mutex::new(None),
            outbox: Mutex::new(Outbox::default()),
            kill: Notify::new(),
            space: Notify::new(),
            gone: AtomicBool::new(false),
            left: AtomicBool::new(false),
            follow: AtomicU64::new(NO_FOLLOW),
        }
    }

    /// A spectator's new choice of view, from the next update on.
    pub fn set_follow(&self, follow: Option<EntityId>) {
        let v = follow.map_or(NO_FOLLOW, |e| u64::from(e.0));
        self.follow.store(v, Ordering::Release);
    }

    /// The entity a spectator follows (`None`: the whole room).
    #[must_use]
    pub fn follow(&self) -> Option<EntityId> {
        let v = self.follow.load(Ordering::Acquire);
        u32::try_from(v).ok().map(EntityId)
    }

    fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        // A panic while holding this lock cannot leave the outbox inconsistent (every update
        // is a plain assignment), so a poisoned lock is still usable.
        self.outbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores the newest validated input (session side).
    pub fn set_input(&self, input: Input) {
        self.set_input_at(input, None);
    }

    /// Stores the newest validated input with the time the client was displaying when it
    /// made it (session side; the room clamps the time into its history).
    pub fn set_input_at(&self, input: Input, view: Option<ViewTime>) {
        *self.input.lock().unwrap_or_else(|p| p.into_inner()) = Some((input, view));
    }

    /// Takes the newest input, if one arrived since the last tick (room side).
    pub fn take_input(&self) -> Option<(Input, Option<ViewTime>)> {
        self.input.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Queues a control frame; false (and nothing queued) when the queue is full or the
    /// connection is closing.
    pub fn push_control(&self, out: Outgoing) -> bool {
        self.try_push_control(out).is_ok()
    }

    /// Queues a control frame, waiting while the queue is full: an answer (a pong) is never
    /// dropped, and a peer that sends faster than it reads stops being read instead. False
    /// when the connection is closing.
    pub async fn push_control_waiting(&self, mut out: Outgoing) -> bool {
        loop {
            // Registered before the check, so a frame taken in between still wakes us.
            let space = self.space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            match self.try_push_control(out) {
                Ok(()) => return true,
                Err(None) => return false,
                Err(Some(back)) => out = back,
            }
            space.await;
        }
    }

    /// Queues `out`, or gives it back when the queue is full (`Some`) or the connection is
    /// closing (`None`).
    fn try_push_control(&self, out: Outgoing) -> Result<(), Option<Outgoing>> {
        let mut ob = self.outbox();
        if ob.close.is_some() {
            return Err(None);
        }
        if ob.control.len() >= MAX_CONTROL_QUEUE {
            return Err(Some(out));
        }
        ob.control.push_back(out);
        let writer = ob.wake_writer();
        drop(ob);
        if let Some(w) = writer {
            w.wake();
        }
        Ok(())
    }

    /// Publishes a tick for the writer, replacing one it has not taken yet. Returns false when
    /// it replaced one (the client is behind: its next delta merges the ticks) or the
    /// connection is closing.
    pub fn publish(&self, update: Published) -> bool {
        let mut ob = self.outbox();
        if ob.close.is_some() {
            return false;
        }
        let fresh = ob.update.replace(update).is_none();
        let writer = ob.wake_writer();
        drop(ob);
        if let Some(w) = writer {
            w.wake();
        }
        fresh
    }

    /// Queues events for the next update frame. False (and nothing queued) when the queue
    /// would hold more than `max` events or the connection is closing.
    pub fn push_events(&self, events: &[GameEvent], max: usize) -> bool {
        if events.is_empty() {
            return true;
        }
        let mut ob = self.outbox();
        if ob.close.is_some() || ob.events.len() + events.len() > max {
            return false;
        }
        ob.events.extend_from_slice(events);
        true
    }

    /// Asks the writer to send a `ServerMsg::Error` with this code and reason, then a close
    /// frame, and the session to end. Later calls keep the first reason.
    pub fn close(&self, code: u16, reason: &str) {
        let mut error = Vec::new();
        let msg = ServerMsg::Error(ErrorMsg {
            code,
            reason: reason.to_owned(),
        });
        // Encoding an error message into a Vec cannot fail; if it ever did, the close frame
        // still carries the code and reason.
        let error = encode_server(&msg, &mut error).ok().map(|()| error);
        self.close_with(code, reason, error);
    }

    /// Like [`ClientLink::close`], with the error message already encoded (or none, to answer
    /// a client's own close frame).
    pub fn close_with(&self, code: u16, reason: &str, error: Option<Vec<u8>>) {
        let mut ob = self.outbox();
        if ob.close.is_some() {
            return;
        }
        ob.update = None;
        ob.control.clear();
        ob.events.clear();
        if let Some(error) = error {
            ob.control.push_back(Outgoing::Message(error));
        }
        ob.close = Some((code, reason.to_owned()));
        let writer = ob.wake_writer();
        drop(ob);
        if let Some(w) = writer {
            w.wake();
        }
        self.kill.notify_one();
        self.space.notify_waiters();
    }

    /// The code the connection is closing with, if any.
    #[must_use]
    pub fn closing_code(&self) -> Option<u16> {
        self.outbox().close.as_ref().map(|(c, _)| *c)
    }

    /// The writer's next job, or `None` when there is nothing to write. An update job moves
    /// the events waiting for it into `events`.
    pub fn next_job(&self, events: &mut Vec<GameEvent>) -> Option<WriterJob> {
        let job = Self::job(&mut self.outbox(), events);
        self.took(job.as_ref());
        job
    }

    /// The writer's next job, waiting for one: one lock per job, and none between a job and
    /// the wait for the next (a tick's update costs the room one lock and one wake-up, and
    /// the writer one lock to take it and one to find nothing more).
    pub async fn next_job_waiting(&self, events: &mut Vec<GameEvent>) -> WriterJob {
        std::future::poll_fn(|cx| {
            let mut ob = self.outbox();
            match Self::job(&mut ob, events) {
                Some(job) => {
                    drop(ob);
                    self.took(Some(&job));
                    Poll::Ready(job)
                }
                None => {
                    match &mut ob.writer {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        slot => *slot = Some(cx.waker().clone()),
                    }
                    Poll::Pending
                }
            }
        })
        .await
    }

    fn job(ob: &mut Outbox, events: &mut Vec<GameEvent>) -> Option<WriterJob> {
        if let Some(c) = ob.control.pop_front() {
            return Some(WriterJob::Control(c));
        }
        if let Some(u) = ob.update.take() {
            events.append(&mut ob.events);
            return Some(WriterJob::Update(u));
        }
        ob.close
            .as_ref()
            .map(|(code, reason)| WriterJob::Close(*code, reason.clone()))
    }

    /// After the writer took `job`: a control frame leaves room in the queue for a reader
    /// waiting to push one.
    fn took(&self, job: Option<&WriterJob>) {
        if matches!(job, Some(WriterJob::Control(_))) {
            self.space.notify_waiters();
        }
    }

    /// Waits until the connection must end (after [`ClientLink::close_with`]).
    pub async fn killed(&self) {
        self.kill.notified().await;
    }

    /// Marks the connection gone (session side); the room drops the client at its next tick.
    pub fn mark_gone(&self) {
        self.gone.store(true, Ordering::Release);
    }

    /// Records that the client itself ended the session on purpose (close 1000 or 1001): its
    /// player leaves at once instead of waiting out the resume grace period.
    pub fn mark_left(&self) {
        self.left.store(true, Ordering::Release);
    }

    /// True when the client closed on purpose (see [`ClientLink::mark_left`]).
    #[must_use]
    pub fn has_left(&self) -> bool {
        self.left.load(Ordering::Acquire)
    }

    /// True once the session has ended.
    #[must_use]
    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::Snapshot;
    use tickstream_shared::Tick;

    fn published(tick: u32) -> Published {
        let snap = Arc::new(Snapshot::of_entities(Tick(tick), vec![], None));
        Published {
            frame: Arc::new(TickFrame::build(snap, None, None, 0.0)),
            entity: EntityId(0),
            ack_seq: 0,
            spectator: false,
        }
    }

    #[test]
    fn the_newest_tick_replaces_a_waiting_one() {
        let link = ClientLink::new(1);
        assert!(link.publish(published(1)), "the first tick is fresh");
        assert!(
            !link.publish(published(2)),
            "the second replaces the first: behind"
        );
        match link.next_job(&mut Vec::new()) {
            Some(WriterJob::Update(p)) => assert_eq!(p.frame.snap.tick, Tick(2), "newest wins"),
            other => panic!("expected an update job, got {other:?}"),
        }
        assert!(
            link.next_job(&mut Vec::new()).is_none(),
            "nothing else waits"
        );
        assert!(
            link.publish(published(3)),
            "taken: the next one is fresh again"
        );
    }

    #[test]
    fn control_queue_is_bounded_and_comes_first() {
        let link = ClientLink::new(1);
        link.publish(published(1));
        for _ in 0..MAX_CONTROL_QUEUE {
            assert!(
                link.push_control(Outgoing::Pong(vec![])),
                "room in the queue"
            );
        }
        assert!(
            !link.push_control(Outgoing::Pong(vec![])),
            "the queue is full"
        );
        assert!(
            matches!(link.next_job(&mut Vec::new()), Some(WriterJob::Control(_))),
            "control first"
        );
    }

    #[test]
    fn events_are_bounded_and_kept_in_order() {
        let link = ClientLink::new(1);
        let ev = |seq| GameEvent {
            seq,
            kind: 0,
            entity: EntityId(0),
            value: 0,
            text: String::new(),
        };
        assert!(link.push_events(&[ev(1), ev(2)], 3), "two fit in three");
        assert!(!link.push_events(&[ev(3), ev(4)], 3), "four do not");
        assert!(link.push_events(&[ev(3)], 3), "three fit");
        let mut out = Vec::new();
        link.publish(published(1));
        assert!(
            matches!(link.next_job(&mut out), Some(WriterJob::Update(_))),
            "the events ride with the update"
        );
        let seqs: Vec<u32> = out.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3], "in order, none lost");
        link.publish(published(2));
        link.next_job(&mut out);
        assert_eq!(out.len(), 3, "taken once");
    }

    #[test]
    fn close_replaces_everything_with_the_error() {
        let link = ClientLink::new(1);
        link.push_control(Outgoing::Pong(vec![]));
        link.publish(published(1));
        link.close_with(4000, "too slow", Some(vec![9]));
        assert!(
            matches!(link.next_job(&mut Vec::new()), Some(WriterJob::Control(Outgoing::Message(m))) if m == vec![9]),
            "error first"
        );
        assert!(
            matches!(
                link.next_job(&mut Vec::new()),
                Some(WriterJob::Close(4000, _))
            ),
            "then the close"
        );
        assert_eq!(link.closing_code(), Some(4000), "the code is kept");
        assert!(
            !link.publish(published(2)),
            "nothing is published once closing"
        );
    }
}
