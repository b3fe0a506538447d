//! The state a session and its room share.
//!
//! Delivery semantics:
//! - **Input** (session → room): latest wins. The room reads the newest input once per tick;
//!   an input overwritten before a tick was never in force and is never acknowledged.
//! - **Update** (room → writer): latest wins, at most one frame waiting. The room builds a
//!   client's next frame only once the writer has taken the previous one; while it waits, the
//!   client's baseline stays put and its next delta covers every tick it missed.
//! - **Control** (session → writer: welcome, pong, error): ordered, bounded; written before any
//!   waiting update.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tickstream_shared::codec::encode_server;
use tickstream_shared::{ErrorMsg, Input, ServerMsg};
use tokio::sync::Notify;

/// Most control messages waiting for one writer; more are dropped (a client that floods pings
/// loses pongs, not the server memory).
pub const MAX_CONTROL_QUEUE: usize = 16;

/// A frame for the writer, other than a state update.
#[derive(Debug)]
pub enum Outgoing {
    /// An encoded `ServerMsg` (welcome, pong, error) as a binary frame.
    Message(Vec<u8>),
    /// A WebSocket pong answering a ping, with the ping's payload.
    Pong(Vec<u8>),
}

#[derive(Debug, Default)]
struct Outbox {
    control: VecDeque<Outgoing>,
    update: Option<Vec<u8>>,
    /// A buffer the writer finished with, for the room's next frame.
    spare: Option<Vec<u8>>,
    close: Option<(u16, String)>,
}

/// What the writer should do next.
#[derive(Debug)]
pub enum WriterJob {
    /// Write a control frame.
    Control(Outgoing),
    /// Write this update frame, then hand the buffer back with [`ClientLink::recycle`].
    Update(Vec<u8>),
    /// Send a close frame with this code and reason, then stop.
    Close(u16, String),
}

/// One client's shared state. Every field is bounded: one input, one update, a short queue.
#[derive(Debug)]
pub struct ClientLink {
    /// The connection's id, for logs.
    pub conn_id: u64,
    input: Mutex<Option<Input>>,
    outbox: Mutex<Outbox>,
    /// Wakes the writer; a permit is stored if it is not waiting, so no wake-up is lost.
    wake: Notify,
    /// Wakes the session supervisor when the connection must end.
    kill: Notify,
    /// Set by the session when the connection is gone: the room drops the client.
    gone: AtomicBool,
}

impl ClientLink {
    /// A link for a new connection.
    #[must_use]
    pub fn new(conn_id: u64) -> Self {
        Self {
            conn_id,
            input: Mutex::new(None),
            outbox: Mutex::new(Outbox::default()),
            wake: Notify::new(),
            kill: Notify::new(),
            gone: AtomicBool::new(false),
        }
    }

    fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        // A panic while holding this lock cannot leave the outbox inconsistent (every update
        // is a plain assignment), so a poisoned lock is still usable.
        self.outbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores the newest validated input (session side).
    pub fn set_input(&self, input: Input) {
        *self.input.lock().unwrap_or_else(|p| p.into_inner()) = Some(input);
    }

    /// Takes the newest input, if one arrived since the last tick (room side).
    pub fn take_input(&self) -> Option<Input> {
        self.input.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Queues a control frame; false (and nothing queued) when the queue is full or the
    /// connection is closing.
    pub fn push_control(&self, out: Outgoing) -> bool {
        let mut ob = self.outbox();
        if ob.close.is_some() || ob.control.len() >= MAX_CONTROL_QUEUE {
            return false;
        }
        ob.control.push_back(out);
        drop(ob);
        self.wake.notify_one();
        true
    }

    /// Builds the next update frame in place if the writer took the previous one. Returns
    /// `Ok(false)` (and does not call `build`) while a frame is still waiting.
    pub fn offer_update<E>(
        &self,
        build: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<bool, E> {
        let mut ob = self.outbox();
        if ob.update.is_some() || ob.close.is_some() {
            return Ok(false);
        }
        let mut buf = ob.spare.take().unwrap_or_default();
        buf.clear();
        build(&mut buf)?;
        ob.update = Some(buf);
        drop(ob);
        self.wake.notify_one();
        Ok(true)
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
        if let Some(error) = error {
            ob.control.push_back(Outgoing::Message(error));
        }
        ob.close = Some((code, reason.to_owned()));
        drop(ob);
        self.wake.notify_one();
        self.kill.notify_one();
    }

    /// The code the connection is closing with, if any.
    #[must_use]
    pub fn closing_code(&self) -> Option<u16> {
        self.outbox().close.as_ref().map(|(c, _)| *c)
    }

    /// The writer's next job, or `None` when there is nothing to write.
    pub fn next_job(&self) -> Option<WriterJob> {
        let mut ob = self.outbox();
        if let Some(c) = ob.control.pop_front() {
            return Some(WriterJob::Control(c));
        }
        if let Some(u) = ob.update.take() {
            return Some(WriterJob::Update(u));
        }
        ob.close
            .as_ref()
            .map(|(code, reason)| WriterJob::Close(*code, reason.clone()))
    }

    /// Hands a written update buffer back for reuse.
    pub fn recycle(&self, buf: Vec<u8>) {
        self.outbox().spare = Some(buf);
    }

    /// Waits until the writer may have something to do.
    pub async fn writer_wait(&self) {
        self.wake.notified().await;
    }

    /// Waits until the connection must end (after [`ClientLink::close_with`]).
    pub async fn killed(&self) {
        self.kill.notified().await;
    }

    /// Marks the connection gone (session side); the room drops the client at its next tick.
    pub fn mark_gone(&self) {
        self.gone.store(true, Ordering::Release);
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

    #[test]
    fn at_most_one_update_waits() {
        let link = ClientLink::new(1);
        let first = link.offer_update(|b| {
            b.push(1);
            Ok::<(), ()>(())
        });
        assert_eq!(first, Ok(true), "the first frame is accepted");
        let second = link.offer_update(|_| -> Result<(), ()> { panic!("must not build") });
        assert_eq!(second, Ok(false), "a second frame waits for the writer");
        match link.next_job() {
            Some(WriterJob::Update(b)) => {
                assert_eq!(b, vec![1], "the writer gets the first frame");
                link.recycle(b);
            }
            other => panic!("expected an update job, got {other:?}"),
        }
        assert_eq!(
            link.offer_update(|_| Ok::<(), ()>(())),
            Ok(true),
            "slot is free again"
        );
    }

    #[test]
    fn control_queue_is_bounded_and_comes_first() {
        let link = ClientLink::new(1);
        link.offer_update(|_| Ok::<(), ()>(())).expect("builds");
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
            matches!(link.next_job(), Some(WriterJob::Control(_))),
            "control first"
        );
    }

    #[test]
    fn close_replaces_everything_with_the_error() {
        let link = ClientLink::new(1);
        link.push_control(Outgoing::Pong(vec![]));
        link.offer_update(|_| Ok::<(), ()>(())).expect("builds");
        link.close_with(4000, "too slow", Some(vec![9]));
        assert!(
            matches!(link.next_job(), Some(WriterJob::Control(Outgoing::Message(m))) if m == vec![9]),
            "error first"
        );
        assert!(
            matches!(link.next_job(), Some(WriterJob::Close(4000, _))),
            "then the close"
        );
        assert_eq!(link.closing_code(), Some(4000), "the code is kept");
    }
}
