//! Checking a player's game events: `seq` 1, 2, 3… with no gap and no duplicate, across resumes.
//!
//! The server numbers each player's events from 1 and, after a `Resume`, sends again every event
//! after the `last_event_seq` the client gave. So whatever happens to the connection, a bot must
//! see every number exactly once, in order. [`EventCheck`] is the pure bookkeeping: it holds the
//! last `seq` seen (what a `Resume` carries) and counts events by kind name.

use std::collections::BTreeMap;

use tickstream_shared::GameEvent;

/// An event that breaks the sequence, or that the welcome does not describe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// One or more numbers were skipped: events were lost.
    #[error("event gap: expected seq {expected}, got {got}")]
    Gap {
        /// The next `seq` due.
        expected: u32,
        /// The `seq` that came.
        got: u32,
    },
    /// A number at or below the last one seen: an event delivered twice or out of order.
    #[error("duplicate event: seq {got} after seq {last}")]
    Duplicate {
        /// The last `seq` accepted.
        last: u32,
        /// The `seq` that came again.
        got: u32,
    },
    /// A kind with no name in the welcome's `event_kinds`.
    #[error("event seq {seq} has kind {kind}, but the welcome names {known} kinds")]
    UnknownKind {
        /// The event's `seq`.
        seq: u32,
        /// Its kind.
        kind: u16,
        /// How many kinds the welcome names.
        known: usize,
    },
}

impl EventError {
    /// A short stable key for counting errors by kind: `gap`, `duplicate`, `unknown_kind`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Gap { .. } => "gap",
            Self::Duplicate { .. } => "duplicate",
            Self::UnknownKind { .. } => "unknown_kind",
        }
    }
}

/// One bot's event bookkeeping, kept across its connections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventCheck {
    last_seq: u32,
    kinds: Vec<String>,
    received: u64,
    by_kind: BTreeMap<String, u64>,
}

impl EventCheck {
    /// Nothing seen yet, no kinds known.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A fresh `Join`: a new player, whose events start again at seq 1. Counts are kept.
    pub fn new_player(&mut self, kinds: &[String]) {
        self.last_seq = 0;
        self.kinds = kinds.to_vec();
    }

    /// A resumed connection: the same player, the sequence goes on. The kinds are taken from
    /// the new welcome (they should not change).
    pub fn resumed(&mut self, kinds: &[String]) {
        if self.kinds != kinds {
            self.kinds = kinds.to_vec();
        }
    }

    /// The `seq` of the last event accepted (0 = none): what a `Resume` sends.
    #[must_use]
    pub fn last_seq(&self) -> u32 {
        self.last_seq
    }

    /// Events accepted, over every connection.
    #[must_use]
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Events accepted, by kind name (`kind_N` for a kind the welcome does not name).
    #[must_use]
    pub fn by_kind(&self) -> &BTreeMap<String, u64> {
        &self.by_kind
    }

    /// Checks and counts one event.
    ///
    /// A gap is reported and the sequence continues from the event that came (so one lost
    /// event is one error, not one per later event); a duplicate is reported and not counted.
    /// An event of an unknown kind is counted (under `kind_N`) and reported.
    pub fn check(&mut self, e: &GameEvent) -> Result<(), EventError> {
        let expected = self.last_seq.wrapping_add(1);
        if e.seq < expected {
            return Err(EventError::Duplicate {
                last: self.last_seq,
                got: e.seq,
            });
        }
        self.last_seq = e.seq;
        self.received += 1;
        let name = self.kinds.get(usize::from(e.kind));
        match name {
            Some(n) => match self.by_kind.get_mut(n.as_str()) {
                Some(c) => *c += 1,
                None => {
                    self.by_kind.insert(n.clone(), 1);
                }
            },
            None => *self.by_kind.entry(format!("kind_{}", e.kind)).or_insert(0) += 1,
        }
        if e.seq != expected {
            return Err(EventError::Gap {
                expected,
                got: e.seq,
            });
        }
        if name.is_none() {
            return Err(EventError::UnknownKind {
                seq: e.seq,
                kind: e.kind,
                known: self.kinds.len(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickstream_shared::EntityId;

    fn ev(seq: u32, kind: u16) -> GameEvent {
        GameEvent {
            seq,
            kind,
            entity: EntityId(1),
            value: 0,
            text: String::new(),
        }
    }

    fn kinds() -> Vec<String> {
        vec!["joined".into(), "left".into()]
    }

    #[test]
    fn a_contiguous_sequence_is_accepted_and_counted_by_kind() {
        let mut c = EventCheck::new();
        c.new_player(&kinds());
        for (seq, kind) in [(1, 0), (2, 0), (3, 1)] {
            assert_eq!(c.check(&ev(seq, kind)), Ok(()), "seq {seq} is next");
        }
        assert_eq!(c.last_seq(), 3, "last seq");
        assert_eq!(c.received(), 3, "all counted");
        assert_eq!(c.by_kind().get("joined"), Some(&2), "two joined");
        assert_eq!(c.by_kind().get("left"), Some(&1), "one left");
    }

    #[test]
    fn a_gap_is_one_error_and_the_sequence_goes_on() {
        let mut c = EventCheck::new();
        c.new_player(&kinds());
        assert_eq!(c.check(&ev(1, 0)), Ok(()), "first");
        assert_eq!(
            c.check(&ev(4, 0)),
            Err(EventError::Gap {
                expected: 2,
                got: 4
            }),
            "2 and 3 are missing"
        );
        assert_eq!(c.check(&ev(5, 0)), Ok(()), "continues after the gap");
        assert_eq!(c.received(), 3, "the events that came are counted");
    }

    #[test]
    fn a_first_event_other_than_one_is_a_gap() {
        let mut c = EventCheck::new();
        c.new_player(&kinds());
        assert_eq!(
            c.check(&ev(2, 0)),
            Err(EventError::Gap {
                expected: 1,
                got: 2
            }),
            "events start at 1"
        );
    }

    #[test]
    fn duplicates_are_errors_and_not_counted() {
        let mut c = EventCheck::new();
        c.new_player(&kinds());
        assert_eq!(c.check(&ev(1, 0)), Ok(()), "first");
        assert_eq!(c.check(&ev(2, 0)), Ok(()), "second");
        assert_eq!(
            c.check(&ev(2, 0)),
            Err(EventError::Duplicate { last: 2, got: 2 }),
            "same seq again"
        );
        assert_eq!(
            c.check(&ev(1, 0)),
            Err(EventError::Duplicate { last: 2, got: 1 }),
            "an older seq"
        );
        assert_eq!((c.last_seq(), c.received()), (2, 2), "unchanged");
    }

    #[test]
    fn a_resume_continues_and_a_new_player_restarts() {
        let mut c = EventCheck::new();
        c.new_player(&kinds());
        assert_eq!(c.check(&ev(1, 0)), Ok(()), "first");
        c.resumed(&kinds());
        assert_eq!(c.last_seq(), 1, "a resume keeps the sequence");
        assert_eq!(c.check(&ev(2, 1)), Ok(()), "the next after the resume");
        c.new_player(&kinds());
        assert_eq!(c.last_seq(), 0, "a new player starts over");
        assert_eq!(c.check(&ev(1, 0)), Ok(()), "seq 1 again");
        assert_eq!(c.received(), 3, "counts are kept across players");
    }

    #[test]
    fn an_unknown_kind_is_counted_and_reported() {
        let mut c = EventCheck::new();
        c.new_player(&kinds());
        assert_eq!(
            c.check(&ev(1, 7)),
            Err(EventError::UnknownKind {
                seq: 1,
                kind: 7,
                known: 2
            }),
            "kind 7 has no name"
        );
        assert_eq!(c.by_kind().get("kind_7"), Some(&1), "counted by number");
        assert_eq!(c.check(&ev(2, 0)), Ok(()), "the sequence goes on");
    }

    #[test]
    fn error_kinds_are_stable_keys() {
        assert_eq!(
            EventError::Gap {
                expected: 1,
                got: 2
            }
            .kind(),
            "gap"
        );
        assert_eq!(
            EventError::Duplicate { last: 1, got: 1 }.kind(),
            "duplicate"
        );
        assert_eq!(
            EventError::UnknownKind {
                seq: 1,
                kind: 1,
                known: 0
            }
            .kind(),
            "unknown_kind"
        );
    }
}
