//! A bot's pure parts: its window, its report and its error texts.

use super::connection::drop_time;
use super::*;

#[test]
fn the_window_is_half_open() {
    let start = Instant::now();
    let w = Window {
        start,
        end: start + Duration::from_secs(10),
    };
    assert!(w.contains(start), "start is inside");
    assert!(!w.contains(w.end), "end is outside");
    assert_eq!(
        w.measured_since(start - Duration::from_secs(3)),
        Duration::from_secs(10),
        "joined before the window: the whole window"
    );
    assert_eq!(
        w.measured_since(start + Duration::from_secs(4)),
        Duration::from_secs(6),
        "joined inside: the rest"
    );
    assert_eq!(
        w.measured_since(w.end + Duration::from_secs(1)),
        Duration::ZERO,
        "joined after: nothing"
    );
}

#[test]
fn error_kinds_are_stable_keys() {
    assert_eq!(
        BotError::Connect(ConnectError::Status(403)).kind(),
        "http_403"
    );
    assert_eq!(
        BotError::Closed {
            code: 1008,
            reason: String::new()
        }
        .kind(),
        "close_1008"
    );
    assert_eq!(
        BotError::Server {
            code: 4002,
            reason: String::new()
        }
        .kind(),
        "server_error_4002"
    );
    assert_eq!(BotError::Late.kind(), "late");
    assert_eq!(
        BotError::OwnEntityMissing(EntityId(3)).kind(),
        "own_entity_missing"
    );
}

#[test]
fn resume_failures_are_keyed_by_close_code() {
    let refused = |e| ResumeFailure::Refused(e).kind();
    assert_eq!(
        refused(BotError::Server {
            code: 4005,
            reason: "unknown token".into()
        }),
        "close_4005",
        "an Error message"
    );
    assert_eq!(
        refused(BotError::Closed {
            code: 1013,
            reason: "room is full".into()
        }),
        "close_1013",
        "a close frame"
    );
    assert_eq!(refused(BotError::Late), "late", "anything else by its kind");
    assert_eq!(ResumeFailure::NotResumed.kind(), "not_resumed");
    assert_eq!(
        ResumeFailure::OtherEntity {
            was: EntityId(1),
            now: EntityId(2)
        }
        .kind(),
        "other_entity"
    );
}

fn welcome(entity: u32, resumed: bool, token: &str) -> Welcome {
    Welcome {
        protocol: tickstream_shared::PROTOCOL_VERSION,
        entity: EntityId(entity),
        tick_rate_hz: 30,
        tick: tickstream_shared::Tick(1),
        world_width: 100.0,
        world_height: 100.0,
        view_radius: 0.0,
        game: "arena".into(),
        kinds: vec!["player".into(), "npc".into()],
        fields: vec![],
        event_kinds: vec!["joined".into(), "left".into()],
        resume_token: token.into(),
        resumed,
    }
}

#[test]
fn a_resume_must_come_back_resumed_as_the_same_entity() {
    let mut p = Player::new(0, "r");
    assert!(
        matches!(p.hello(), ClientMsg::Join(j) if j.room == "r"),
        "the first connection joins"
    );
    assert!(
        matches!(p.welcomed(&welcome(5, false, "t1"), false), Ok(Ok(()))),
        "a fresh join"
    );
    match p.hello() {
        ClientMsg::Resume(r) => assert_eq!(
            (r.room.as_str(), r.token.as_str(), r.last_event_seq),
            ("r", "t1", 0),
            "the resume carries the room, the latest token and the last event"
        ),
        other => panic!("a drop resumes, not {other:?}"),
    }
    assert!(
        matches!(p.welcomed(&welcome(5, true, "t2"), true), Ok(Ok(()))),
        "same entity, resumed"
    );
    assert!(
        matches!(p.hello(), ClientMsg::Resume(r) if r.token == "t2"),
        "the new token replaces the used one"
    );
    assert!(
        matches!(
            p.welcomed(&welcome(5, false, "t3"), true),
            Err(ResumeFailure::NotResumed)
        ),
        "a welcome as a new player fails the resume"
    );
    assert!(
        matches!(p.hello(), ClientMsg::Join(_)),
        "after a failed resume the bot joins afresh"
    );
    assert!(
        matches!(p.welcomed(&welcome(5, false, "t6"), false), Ok(Ok(()))),
        "joined again"
    );
    assert!(
        matches!(
            p.welcomed(&welcome(6, true, "t4"), true),
            Err(ResumeFailure::OtherEntity { .. })
        ),
        "another entity fails the resume"
    );
    assert!(
        matches!(
            p.welcomed(&welcome(7, true, "t5"), false),
            Ok(Err(BotError::Unexpected(_)))
        ),
        "a resumed welcome answering Join is a protocol error"
    );
}

#[test]
fn drops_are_planned_only_with_churn_and_not_near_the_end() {
    let now = Instant::now();
    let mut cfg = BotConfig {
        index: 0,
        room: "r".into(),
        verify: true,
        start_at: now,
        window: Window {
            start: now,
            end: now + Duration::from_secs(3600),
        },
        join_timeout: Duration::from_secs(1),
        close_grace: Duration::from_secs(1),
        churn: None,
        residuals: false,
    };
    let mut p = Player::new(0, "r");
    assert_eq!(drop_time(&cfg, &mut p), None, "no churn, no drop");
    cfg.churn = Some(Churn {
        mean_interval: Duration::from_millis(100),
        reconnect_delay: Duration::from_millis(10),
    });
    p.churn = Some(ChurnSchedule::for_bot(0, Duration::from_millis(100)));
    let at = drop_time(&cfg, &mut p).expect("a drop within an hour");
    assert!(
        at <= Instant::now() + Duration::from_secs(1),
        "within ten means: {:?}",
        at.saturating_duration_since(Instant::now())
    );
    cfg.window.end = Instant::now() + CHURN_QUIET;
    assert_eq!(
        drop_time(&cfg, &mut p),
        None,
        "no drop without time left to resume"
    );
}
