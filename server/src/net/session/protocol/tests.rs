//! Every session rule, in memory: frames in, actions out, the time as an argument.

use super::*;
use tickstream_shared::codec::{MAX_CLIENT_MESSAGE, encode_client};
use tickstream_shared::{Join, Ping, Resume, Tick};

const LIMITS: Limits = Limits {
    max_message_bytes: 1024,
    max_messages_per_sec: 10,
    message_burst: 20,
    join_timeout: Duration::from_secs(5),
};

/// A session and the time it is at.
struct Session {
    p: Protocol,
    now: Instant,
}

impl Session {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            p: Protocol::new(3, LIMITS, now),
            now,
        }
    }

    /// A session that has joined (its first input `seq` must exceed `ack_seq`).
    fn joined(ack_seq: u32) -> Self {
        let mut s = Self::new();
        let actions = s.send(&join("lobby"));
        assert_eq!(
            actions,
            vec![Action::Join(room("lobby"))],
            "a join asks the registry"
        );
        s.p.entered(Ok(ack_seq));
        assert!(s.p.is_joined(), "joined once the registry answered");
        assert_eq!(s.drain(), vec![], "a join answered yields nothing more");
        s
    }

    fn drain(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.p.poll_action()).collect()
    }

    fn frame(&mut self, opcode: Opcode, fin: bool, payload: &[u8]) -> Vec<Action> {
        self.p.on_frame(self.now, opcode, fin, payload);
        self.drain()
    }

    /// One message in one binary frame, without the message counter's action.
    fn send(&mut self, msg: &ClientMsg) -> Vec<Action> {
        self.frame(Opcode::Binary, true, &bytes(msg))
            .into_iter()
            .filter(|a| !matches!(a, Action::Count(Count::Message { .. })))
            .collect()
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
    }
}

fn bytes(msg: &ClientMsg) -> Vec<u8> {
    let mut out = Vec::new();
    encode_client(msg, &mut out).expect("encodes");
    out
}

fn join(name: &str) -> ClientMsg {
    ClientMsg::Join(Join { room: name.into() })
}

fn resume(name: &str) -> ClientMsg {
    ClientMsg::Resume(Resume {
        room: name.into(),
        token: "t".into(),
        last_event_seq: 4,
    })
}

fn input(seq: u32, dx: f32) -> ClientMsg {
    ClientMsg::Input(Input {
        seq,
        dx,
        dy: 0.0,
        buttons: 0,
    })
}

fn room(name: &str) -> RoomName {
    RoomName::parse(name).expect("a valid name")
}

/// The close among `actions`, as (code, has an error message).
fn closed(actions: &[Action]) -> Option<(u16, bool)> {
    actions.iter().find_map(|a| match a {
        Action::Close {
            code,
            error_message,
            ..
        } => Some((*code, *error_message)),
        _ => None,
    })
}

fn counted(actions: &[Action], c: Count) -> bool {
    actions.contains(&Action::Count(c))
}

#[test]
fn input_before_join_is_a_protocol_error() {
    let mut s = Session::new();
    let a = s.send(&input(1, 0.0));
    assert_eq!(closed(&a), Some((1002, true)), "input first: 1002");
    assert!(counted(&a, Count::DecodeError), "counted as a decode error");
    assert!(s.p.is_closed(), "nothing is read after it");
    assert_eq!(
        s.send(&join("lobby")),
        vec![],
        "a closed session ignores the rest"
    );
}

#[test]
fn input_while_the_join_is_pending_is_a_protocol_error() {
    let mut s = Session::new();
    s.send(&join("lobby"));
    assert_eq!(closed(&s.send(&input(1, 0.0))), Some((1002, true)));
}

#[test]
fn a_second_join_or_resume_is_a_protocol_error() {
    for second in [join("other"), resume("other")] {
        let mut s = Session::joined(0);
        let a = s.send(&second);
        assert_eq!(closed(&a), Some((1002, true)), "{second:?} after a join");
    }
    let mut s = Session::new();
    s.send(&resume("lobby"));
    assert_eq!(
        closed(&s.send(&join("lobby"))),
        Some((1002, true)),
        "a join while a resume is pending"
    );
}

#[test]
fn resume_asks_the_registry_with_its_token() {
    let mut s = Session::new();
    assert_eq!(
        s.send(&resume("lobby")),
        vec![Action::Resume {
            room: room("lobby"),
            token: "t".into(),
            last_event_seq: 4,
        }]
    );
    s.p.entered(Ok(7));
    assert!(s.p.is_joined(), "resumed");
    assert_eq!(s.send(&input(7, 0.0)).len(), 1, "seq 7 was applied already");
    assert_eq!(
        s.send(&input(8, 0.0)),
        vec![Action::Input(Input {
            seq: 8,
            dx: 0.0,
            dy: 0.0,
            buttons: 0
        })],
        "later inputs go through"
    );
}

#[test]
fn a_bad_room_name_closes_4002_at_every_length() {
    // Every length that still fits the decoder's limit, and the characters outside the rule.
    let mut names: Vec<String> = (65..=252).map(|n| "a".repeat(n)).collect();
    names.extend(["".into(), "a b".into(), "é".into(), "lobby/1".into()]);
    for name in names {
        let msg = join(&name);
        assert!(
            bytes(&msg).len() <= MAX_CLIENT_MESSAGE,
            "{} bytes fit a message",
            name.len()
        );
        // A resume carries a token too: it fits for names up to 245 bytes.
        let resume = Some(resume(&name)).filter(|r| bytes(r).len() <= MAX_CLIENT_MESSAGE);
        for msg in std::iter::once(msg).chain(resume) {
            let mut s = Session::new();
            let a = s.send(&msg);
            assert_eq!(
                closed(&a),
                Some((close_code::BAD_ROOM_NAME, true)),
                "a name of {} bytes",
                name.len()
            );
            assert!(
                !counted(&a, Count::DecodeError),
                "a bad name is not a decode error"
            );
        }
    }
    let mut s = Session::new();
    assert_eq!(
        s.send(&join(&"a".repeat(64))),
        vec![Action::Join(room(&"a".repeat(64)))],
        "64 bytes is a valid name"
    );
}

#[test]
fn a_message_over_the_decoder_limit_closes_1009() {
    let mut s = Session::new();
    let a = s.frame(Opcode::Binary, true, &[0u8; MAX_CLIENT_MESSAGE + 1]);
    assert_eq!(closed(&a), Some((1009, true)));
    assert!(counted(&a, Count::DecodeError), "counted");
}

#[test]
fn garbage_closes_1002() {
    let mut s = Session::new();
    let a = s.frame(Opcode::Binary, true, &[0xFF, 0xFF]);
    assert_eq!(closed(&a), Some((1002, true)));
    assert!(
        counted(&a, Count::Message { bytes: 2 }),
        "received, then refused"
    );
}

#[test]
fn the_rate_limit_closes_1008_with_the_time_passed_in() {
    let mut s = Session::joined(0);
    // The join took one token of the burst.
    for i in 1..LIMITS.message_burst {
        let a = s.frame(Opcode::Pong, true, &[]);
        assert_eq!(closed(&a), None, "frame {i} is within the burst");
    }
    s.advance(Duration::from_millis(100));
    assert_eq!(
        closed(&s.frame(Opcode::Pong, true, &[])),
        None,
        "100 ms at 10/s is one more token"
    );
    let a = s.frame(Opcode::Ping, true, &[]);
    assert_eq!(closed(&a), Some((1008, true)), "then the bucket is empty");
    assert!(
        !a.iter().any(|x| matches!(x, Action::PongFrame(_))),
        "a ping over the limit is not answered"
    );
}

#[test]
fn every_ping_is_answered() {
    let mut s = Session::new();
    for i in 0..LIMITS.message_burst {
        let a = s.frame(Opcode::Ping, true, &[i as u8]);
        assert_eq!(a, vec![Action::PongFrame(vec![i as u8])], "ping {i}");
    }
    let mut s = Session::joined(0);
    for t in 1..LIMITS.message_burst {
        let a = s.send(&ClientMsg::Ping(Ping {
            client_time: u64::from(t),
        }));
        assert_eq!(
            a,
            vec![Action::Pong {
                client_time: u64::from(t)
            }],
            "ping message {t}"
        );
    }
    let mut s = Session::new();
    assert_eq!(
        s.send(&ClientMsg::Ping(Ping { client_time: 9 })),
        vec![Action::Pong { client_time: 9 }],
        "a ping message before the join is answered too"
    );
}

#[test]
fn stale_and_invalid_inputs_are_ignored_and_counted() {
    let mut s = Session::joined(0);
    assert_eq!(s.send(&input(2, 0.5)).len(), 1, "seq 2 goes through");
    let cases = [
        (input(2, 0.5), InputError::StaleSeq),
        (input(1, 0.5), InputError::StaleSeq),
        (input(3, f32::NAN), InputError::NotFinite),
        (input(3, 1.5), InputError::OutOfRange),
    ];
    for (msg, why) in cases {
        let a = s.send(&msg);
        assert_eq!(a, vec![Action::Count(Count::RejectedInput(why))], "{msg:?}");
    }
    assert!(!s.p.is_closed(), "refused inputs keep the session open");
    assert_eq!(s.send(&input(3, -1.0)).len(), 1, "seq 3 is still fresh");
}

#[test]
fn a_text_frame_closes_1003() {
    let mut s = Session::joined(0);
    assert_eq!(
        closed(&s.frame(Opcode::Text, true, b"hi")),
        Some((1003, true))
    );
    let mut s = Session::new();
    s.frame(Opcode::Binary, false, &[0]);
    assert_eq!(
        closed(&s.frame(Opcode::Text, true, b"hi")),
        Some((1003, true)),
        "also in the middle of a fragmented message"
    );
}

#[test]
fn fragments_are_reassembled_within_the_limit() {
    let msg = bytes(&join("lobby"));
    let (a, b) = msg.split_at(2);
    let mut s = Session::new();
    assert_eq!(s.frame(Opcode::Binary, false, a), vec![], "first fragment");
    assert_eq!(
        s.frame(Opcode::Continuation, true, b),
        vec![
            Action::Count(Count::Message { bytes: msg.len() }),
            Action::Join(room("lobby"))
        ],
        "the whole message, once"
    );

    let mut s = Session::new();
    s.frame(Opcode::Binary, false, &[0; 600]);
    let a = s.frame(Opcode::Continuation, false, &[0; 600]);
    assert_eq!(
        closed(&a),
        Some((1009, true)),
        "over the limit across fragments"
    );
    assert!(counted(&a, Count::DecodeError), "counted");
}

#[test]
fn broken_fragmentation_closes_1002() {
    let mut s = Session::new();
    assert_eq!(
        closed(&s.frame(Opcode::Continuation, true, &[0])),
        Some((1002, true)),
        "a continuation with nothing to continue"
    );
    let mut s = Session::new();
    s.frame(Opcode::Binary, false, &[0]);
    assert_eq!(
        closed(&s.frame(Opcode::Binary, true, &[0])),
        Some((1002, true)),
        "a new message inside a fragmented one"
    );
}

#[test]
fn control_frames_may_interleave_fragments() {
    let msg = bytes(&join("lobby"));
    let (a, b) = msg.split_at(2);
    let mut s = Session::new();
    s.frame(Opcode::Binary, false, a);
    assert_eq!(
        s.frame(Opcode::Ping, true, b"x"),
        vec![Action::PongFrame(b"x".to_vec())]
    );
    assert!(
        s.frame(Opcode::Continuation, true, b)
            .contains(&Action::Join(room("lobby")))
    );
}

#[test]
fn close_frames_are_echoed_and_1000_or_1001_mean_left() {
    for (code, left) in [(1000u16, true), (1001, true), (4100, false), (4321, false)] {
        let mut s = Session::joined(0);
        let a = s.frame(Opcode::Close, true, &code.to_be_bytes());
        assert_eq!(a.contains(&Action::Left), left, "close {code}");
        assert_eq!(
            closed(&a),
            Some((code, false)),
            "close {code} is echoed, without an error message"
        );
        assert!(s.p.is_closed());
    }
    let mut s = Session::joined(0);
    let a = s.frame(Opcode::Close, true, &[]);
    assert!(a.contains(&Action::Left), "a close without a code is 1000");
    assert_eq!(closed(&a), Some((1000, false)));
}

#[test]
fn join_refusals_map_to_close_codes() {
    let cases = [
        (Refused::Room(JoinError::RoomFull), 1013, Some("room_full")),
        (
            Refused::Room(JoinError::TooManyRooms),
            1013,
            Some("room_cap"),
        ),
        (
            Refused::Room(JoinError::CreationLimit),
            1013,
            Some("room_creation_limit"),
        ),
        (Refused::Room(JoinError::Busy), 1013, Some("room_busy")),
        (Refused::Room(JoinError::OutOfIds), 1013, Some("out_of_ids")),
        (
            Refused::Room(JoinError::UnknownGame),
            1011,
            Some("unknown_game"),
        ),
        (
            Refused::Room(JoinError::RoomFailed),
            1011,
            Some("room_failed"),
        ),
        (Refused::Room(JoinError::ShuttingDown), 1001, None),
        (
            Refused::Room(JoinError::ResumeRefused("no such room")),
            4005,
            None,
        ),
        (Refused::Token(TokenError::Missing), 1008, Some("missing")),
        (Refused::Token(TokenError::Expired), 1008, Some("expired")),
        (Refused::Token(TokenError::Full), 1013, Some("full")),
    ];
    for (refused, code, label) in cases {
        let mut s = Session::new();
        s.send(&join("lobby"));
        s.p.entered(Err(refused));
        let a = s.drain();
        assert_eq!(closed(&a), Some((code, true)), "{refused:?}");
        let labels: Vec<&str> = a
            .iter()
            .filter_map(|x| match x {
                Action::Count(Count::RejectedJoin(l)) => Some(*l),
                _ => None,
            })
            .collect();
        assert_eq!(labels, label.into_iter().collect::<Vec<_>>(), "{refused:?}");
        assert!(!counted(&a, Count::DecodeError), "not a decode error");
    }
}

#[test]
fn the_join_deadline() {
    let mut s = Session::new();
    let deadline = s.p.deadline().expect("a deadline before the join");
    assert_eq!(
        deadline,
        s.now + LIMITS.join_timeout,
        "join_timeout after the upgrade"
    );
    s.p.on_timeout(deadline - Duration::from_millis(1));
    assert_eq!(s.drain(), vec![], "not yet");
    s.p.on_timeout(deadline);
    assert_eq!(closed(&s.drain()), Some((4001, true)), "then 4001");

    let s = Session::joined(0);
    assert_eq!(s.p.deadline(), None, "no deadline once joined");
    let mut s = Session::new();
    s.send(&join("lobby"));
    s.p.on_timeout(s.now + Duration::from_secs(60));
    assert_eq!(
        s.drain(),
        vec![],
        "a join waiting for the registry is not timed out"
    );
}

#[test]
fn framing_violations_and_read_failures() {
    let mut s = Session::joined(0);
    s.p.on_violation(Violation::Unmasked);
    let a = s.drain();
    assert_eq!(closed(&a), Some((1002, true)), "unmasked");
    assert!(counted(&a, Count::DecodeError));

    let mut s = Session::joined(0);
    s.p.on_read_failure(ReadFailure::TooLarge);
    assert_eq!(closed(&s.drain()), Some((1009, true)), "too large");

    let mut s = Session::joined(0);
    s.p.on_read_failure(ReadFailure::Malformed("reserved bits".into()));
    assert_eq!(closed(&s.drain()), Some((1002, true)), "malformed");

    let mut s = Session::joined(0);
    s.p.on_read_failure(ReadFailure::Gone);
    assert_eq!(s.drain(), vec![], "nobody left to tell");
    assert!(s.p.is_closed());
}

#[test]
fn liveness_pings_until_the_idle_limit() {
    let idle = Duration::from_secs(10);
    assert_eq!(liveness(Duration::from_secs(3), idle), Liveness::Ping);
    assert_eq!(liveness(idle, idle), Liveness::Ping, "at the limit");
    assert_eq!(
        liveness(idle + Duration::from_millis(1), idle),
        Liveness::Close(4003, "nothing received for too long")
    );
}

fn input5(seq: u32, view_tick: u32, view_frac: u8) -> ClientMsg {
    ClientMsg::Input5(tickstream_shared::Input5 {
        seq,
        dx: 1.0,
        dy: 0.0,
        buttons: 1,
        view_tick: Tick(view_tick),
        view_frac,
    })
}

#[test]
fn input5_carries_its_view_time_on_v5_only() {
    let mut s = Session::joined(0);
    s.p = Protocol::new(5, LIMITS, s.now);
    s.p.state = State::Joined;
    let plain = Input {
        seq: 1,
        dx: 1.0,
        dy: 0.0,
        buttons: 1,
    };
    assert_eq!(
        s.send(&input5(1, u32::MAX, 255)),
        vec![Action::InputAt(plain, ViewTime::new(Tick(u32::MAX), 255))],
        "any view time is passed on; the room clamps it"
    );
    assert_eq!(
        s.send(&input5(1, 5, 0)).len(),
        1,
        "a stale seq is counted, not passed on"
    );
    assert!(
        matches!(s.send(&input(2, 0.0))[..], [Action::Input(_)]),
        "a plain Input is still taken on v5"
    );
    let mut old = Session::joined(0);
    let closed = old.send(&input5(1, 5, 0));
    assert!(
        matches!(
            closed.last(),
            Some(Action::Close {
                code: close_code::PROTOCOL_ERROR,
                ..
            })
        ),
        "Input5 on a v3 connection is a protocol error: {closed:?}"
    );
}

fn spectate(name: &str, follow: Option<u32>) -> ClientMsg {
    ClientMsg::Spectate(tickstream_shared::Spectate {
        room: name.into(),
        follow: follow.map(EntityId),
    })
}

fn follow(entity: Option<u32>) -> ClientMsg {
    ClientMsg::Follow(tickstream_shared::Follow {
        entity: entity.map(EntityId),
    })
}

#[test]
fn a_v6_spectator_asks_the_registry_then_may_follow_but_not_play() {
    let now = Instant::now();
    let mut s = Session {
        p: Protocol::new(6, LIMITS, now),
        now,
    };
    assert_eq!(
        s.send(&spectate("lobby", Some(7))),
        vec![Action::Spectate {
            room: room("lobby"),
            follow: Some(EntityId(7)),
        }]
    );
    assert_eq!(
        closed(&s.send(&follow(Some(3)))),
        Some((close_code::PROTOCOL_ERROR, true)),
        "Follow before the answer is out of order"
    );

    let mut s = Session {
        p: Protocol::new(6, LIMITS, now),
        now,
    };
    s.send(&spectate("lobby", None));
    s.p.entered(Ok(0));
    assert!(s.p.is_joined());
    assert_eq!(
        s.send(&follow(Some(3))),
        vec![Action::Follow(Some(EntityId(3)))]
    );
    assert_eq!(s.send(&follow(None)), vec![Action::Follow(None)]);
    assert_eq!(
        closed(&s.send(&input(1, 1.0))),
        Some((close_code::PROTOCOL_ERROR, true)),
        "a spectator sends no input"
    );
}

#[test]
fn spectating_is_v6_only_and_follow_is_for_spectators() {
    for version in [2, 3, 4, 5] {
        let now = Instant::now();
        let mut s = Session {
            p: Protocol::new(version, LIMITS, now),
            now,
        };
        assert_eq!(
            closed(&s.send(&spectate("lobby", None))),
            Some((close_code::PROTOCOL_ERROR, true)),
            "v{version}"
        );
    }
    let now = Instant::now();
    let mut s = Session {
        p: Protocol::new(6, LIMITS, now),
        now,
    };
    s.send(&join("lobby"));
    s.p.entered(Ok(0));
    assert_eq!(
        closed(&s.send(&follow(Some(1)))),
        Some((close_code::PROTOCOL_ERROR, true)),
        "a player does not Follow"
    );
}

#[test]
fn spectator_refusals_map_to_their_close_codes() {
    for (e, code) in [
        (JoinError::NoSuchRoom, close_code::NO_SUCH_ROOM),
        (JoinError::SpectatorsOnly, close_code::SPECTATORS_ONLY),
        (JoinError::SpectatorsFull, close_code::TRY_AGAIN),
    ] {
        let now = Instant::now();
        let mut s = Session {
            p: Protocol::new(6, LIMITS, now),
            now,
        };
        s.send(&spectate("lobby", None));
        s.p.entered(Err(Refused::Room(e)));
        let actions = s.drain();
        assert_eq!(closed(&actions), Some((code, true)), "{e:?}");
        assert!(
            counted(&actions, Count::RejectedJoin(e.label())),
            "{e:?} counted"
        );
    }
}
