//! Merging reports and printing the summary.

use super::*;
use crate::bot::BotError;
use crate::rtt::record_rtt;
use tickstream_shared::{EntityId, ReplicaError};

fn report(index: u32, updates: u64, measured_s: u64) -> BotReport {
    let mut r = BotReport::new(index, index % 2 == 0);
    r.joined = true;
    r.measured = Duration::from_secs(measured_s);
    r.updates = updates;
    r.update_bytes = updates * 100;
    r.bytes = updates * 100 + 20;
    r
}

#[test]
fn rates_are_per_bot_means() {
    let mut a = Aggregator::new(3, Duration::ZERO, Duration::from_secs(10));
    a.add(&report(0, 300, 10)); // 30 Hz
    a.add(&report(1, 100, 5)); // 20 Hz, joined halfway
    a.add(&BotReport::new(2, true)); // never joined
    let s = a.finish();
    assert_eq!(s.bots_connected, 2, "two joined");
    assert_eq!(s.verified_bots, 1, "bot 0 verifies, bot 2 never joined");
    assert_eq!(s.updates_received, 400, "all updates");
    assert!((s.update_hz - 25.0).abs() < 1e-9, "mean of 30 and 20 Hz");
    assert!((s.update_hz_min - 20.0).abs() < 1e-9, "lowest bot");
    assert!(
        (s.bytes_per_update - 100.0).abs() < 1e-9,
        "update bytes / updates"
    );
    let per_bot_s = (300.0 * 100.0 + 20.0 + 100.0 * 100.0 + 20.0) / 15.0;
    assert!(
        (s.bytes_per_bot_per_sec - per_bot_s).abs() < 1e-9,
        "all bytes over the bots' presence"
    );
    assert!(!s.passed(), "a bot did not connect");
}

#[test]
fn errors_and_desyncs_are_counted_by_kind() {
    let mut a = Aggregator::new(2, Duration::ZERO, Duration::from_secs(1));
    let mut r = report(0, 1, 1);
    r.errors.push(BotError::Closed {
        code: 1008,
        reason: "rate".into(),
    });
    r.errors.push(BotError::Late);
    a.add(&r);
    let mut r = report(1, 1, 1);
    r.desync = Some(ReplicaError::UnknownChange(EntityId(3)));
    a.add(&r);
    a.add_error("task".into(), || "bot 9 panicked".into());
    let s = a.finish();
    assert_eq!(s.errors, 3, "two from the report, one added");
    assert_eq!(s.errors_by_kind.get("close_1008"), Some(&1), "by kind");
    assert_eq!(s.errors_by_kind.get("late"), Some(&1), "by kind");
    assert_eq!(s.desyncs, 1, "one bot desynced");
    assert_eq!(s.desync_samples.len(), 1, "with its message");
    assert!(!s.passed(), "errors fail the run");
}

#[test]
fn rtt_percentiles_merge_across_bots() {
    let mut a = Aggregator::new(2, Duration::ZERO, Duration::from_secs(1));
    let mut r = report(0, 1, 1);
    for _ in 0..99 {
        record_rtt(&mut r.rtt_us, 10_000);
    }
    a.add(&r);
    let mut r = report(1, 1, 1);
    record_rtt(&mut r.rtt_us, 500_000);
    a.add(&r);
    let s = a.finish();
    assert_eq!(s.rtt_ms.samples, 100, "all samples");
    assert!(
        (s.rtt_ms.p50 - 10.0).abs() < 0.1,
        "p50 ≈ 10 ms: {}",
        s.rtt_ms.p50
    );
    assert!(
        (s.rtt_ms.max - 500.0).abs() < 5.0,
        "max ≈ 500 ms: {}",
        s.rtt_ms.max
    );
    assert!(s.passed(), "clean run");
}

#[test]
fn rooms_games_events_and_resumes_are_merged() {
    use crate::bot::ResumeFailure;
    use crate::events::EventError;
    let mut a = Aggregator::new(3, Duration::ZERO, Duration::from_secs(1));
    for (i, room, game) in [
        (0, "r-0", "arena"),
        (1, "r-1", "coins"),
        (2, "r-1", "coins"),
    ] {
        let mut r = report(i, 1, 1);
        r.room = room.into();
        r.game = Some(game.into());
        r.events = 3;
        r.events_by_kind.insert("joined".into(), 2);
        r.events_by_kind.insert("left".into(), 1);
        r.drops = 2;
        r.resumes = 2;
        a.add(&r);
    }
    let mut r = BotReport::new(3, false);
    r.room = "r-2".into();
    r.drops = 1;
    r.resume_failures
        .push(ResumeFailure::Refused(BotError::Server {
            code: 4005,
            reason: "unknown token".into(),
        }));
    r.resume_failures.push(ResumeFailure::NotResumed);
    r.event_errors = 1;
    r.event_error_samples.push(EventError::Gap {
        expected: 2,
        got: 3,
    });
    a.add(&r);
    let mut s = a.finish();
    s.room = "r".into();
    s.churn_interval_s = Some(2.0);
    let room = |n: &str| s.rooms.get(n).cloned().unwrap_or_default();
    assert_eq!(
        room("r-1"),
        RoomSummary {
            game: "coins".into(),
            bots: 2,
            connected: 2
        },
        "two bots in r-1"
    );
    assert_eq!(room("r-2").connected, 0, "the bot in r-2 never joined");
    assert_eq!(s.games.get("coins"), Some(&2), "bots by game");
    assert_eq!(s.games.get("arena"), Some(&1), "bots by game");
    assert_eq!(s.events_received, 9, "events of all bots");
    assert_eq!(s.events_by_kind.get("joined"), Some(&6), "by kind");
    assert_eq!((s.drops, s.resumes), (7, 6), "drops and resumes");
    assert_eq!(s.resume_failures, 2, "two failures");
    assert_eq!(
        s.resume_failures_by_kind.get("close_4005"),
        Some(&1),
        "a refusal by its close code"
    );
    assert_eq!(
        s.resume_failures_by_kind.get("not_resumed"),
        Some(&1),
        "a welcome that did not resume"
    );
    assert_eq!(s.event_errors, 1, "one event error");
    assert!(!s.passed(), "failed resumes and event errors fail the run");
    let text = s.to_string();
    for want in [
        "3 rooms \"r-0\" … \"r-2\"",
        "r-1 2/2 coins",
        "arena 1, coins 2",
        "events        9 (joined 6, left 3)",
        "7 drops (mean 2.0 s per bot), 6 resumed, 2 failed",
        "close_4005: 1",
        "bot 3: event gap: expected seq 2, got 3",
    ] {
        assert!(text.contains(want), "the text has {want:?}:\n{text}");
    }
    let json = serde_json::to_value(&s).expect("serializes");
    assert_eq!(json["rooms"]["r-1"]["connected"], 2, "rooms in the JSON");
    assert_eq!(json["resume_failures_by_kind"]["close_4005"], 1, "by kind");
}

#[test]
fn without_events_or_resumes_a_clean_run_passes() {
    let mut a = Aggregator::new(1, Duration::ZERO, Duration::from_secs(1));
    a.add(&report(0, 1, 1));
    let s = a.finish();
    assert!(s.passed(), "no events, no churn: {s}");
    assert!(
        !s.to_string().contains("churn"),
        "no churn line without churn"
    );
}

#[test]
fn an_empty_run_has_zero_rates() {
    let s = Aggregator::new(0, Duration::ZERO, Duration::from_secs(1)).finish();
    assert_eq!(s.update_hz_min, 0.0, "no infinity leaks out");
    assert_eq!(s.bytes_per_update, 0.0, "no NaN");
    assert!(serde_json::to_string(&s).is_ok(), "serializes");
}
