//! A connection's reader task: applies every update to the replica, checks events, measures
//! round trips, and hands back what it measured.

use super::*;

/// Lets the reader finish by itself for up to `grace`, then stops it.
pub(super) async fn finish_reader(
    mut reading: JoinHandle<ReadOutcome>,
    stop: oneshot::Sender<()>,
    grace: Duration,
) -> Result<ReadOutcome, JoinError> {
    if let Ok(outcome) = tokio::time::timeout(grace, &mut reading).await {
        return outcome;
    }
    // The reader may have just finished; then nobody receives this, which is fine.
    let _ = stop.send(());
    reading.await
}

/// Reads until the connection ends, the replica desyncs, or `stop` fires.
///
/// `recv` is raced against `stop` only: when `stop` wins, the half-read frame is dropped with
/// the whole connection and nothing reads the stream again, so the lack of cancel safety is
/// harmless. (An update lost that way is one whose events were not counted either: a resume
/// asks for them again.)
pub(super) async fn read_loop(
    mut reader: ConnectionReader,
    ctx: ReadCtx,
    mut stop: oneshot::Receiver<()>,
) -> ReadOutcome {
    let mut out = ReadOutcome {
        updates: 0,
        update_bytes: 0,
        bytes: 0,
        rtt_us: rtt_histogram(),
        desync: None,
        errors: Vec::new(),
        events: ctx.events,
        event_errors: 0,
        event_error_samples: Vec::new(),
        last_ack: ctx.last_ack,
        synced: false,
        wire_bytes: 0,
        socket_bytes: 0,
        residuals: BTreeMap::new(),
        shots: 0,
        hits_confirmed: 0,
        moved: None,
        move_gap: None,
        move_state_errors: Vec::new(),
    };
    let mut duel = ctx.duel;
    let mut after_move = ctx.after_move;
    // Socket bytes are charged to the message whose read brought them in.
    let mut socket_seen = reader.socket_bytes_read();
    let mut errors = ErrorLog::new(&ctx.counters);
    // A fresh view on every welcome: the first update spawns the whole view.
    let mut view = View::new(ctx.own);
    // After an `Error` message, the close (or EOF) that follows is not a second error.
    let mut server_error = false;
    loop {
        let received = tokio::select! {
            biased;
            _ = &mut stop => break,
            received = reader.recv() => received,
        };
        let now = Instant::now();
        match received {
            Ok(Incoming::Msg(msg)) => {
                let len = reader.last_payload_len() as u64;
                let measured = ctx.window.contains(now);
                let socket_now = reader.socket_bytes_read();
                let socket_read = socket_now - socket_seen;
                socket_seen = socket_now;
                let is_update = matches!(msg, ServerMsg::Update(_) | ServerMsg::Update3(_));
                ctx.counters.add_message(len, is_update);
                if measured {
                    out.bytes += len;
                    out.wire_bytes += len + ws_frame_header_len(len);
                    out.socket_bytes += socket_read;
                }
                // The snapshot after a welcome is always verified (by the view): it is where a
                // resume shows whether the server rebuilt the view right.
                let verify = if ctx.verify {
                    Verify::Always
                } else {
                    Verify::FirstOnly
                };
                let applied = match view.apply(&msg, verify) {
                    Ok(Some(applied)) => applied,
                    Ok(None) => match msg {
                        ServerMsg::Error(e) => {
                            server_error = true;
                            errors.push(BotError::Server {
                                code: e.code,
                                reason: e.reason,
                            });
                            continue;
                        }
                        ServerMsg::Welcome(_) | ServerMsg::Welcome4(_) => {
                            errors.push(BotError::Unexpected("a second Welcome"));
                            break;
                        }
                        ServerMsg::Moved(m) => {
                            // The view as it is now is what the successor must continue.
                            let before = BeforeMove {
                                tick: view.replica().tick().map_or(0, |t| t.0),
                                entities: view.replica().entities().to_vec(),
                            };
                            out.moved = Some((m.url, before, ctx.rules, now));
                            continue;
                        }
                        _ => continue,
                    },
                    Err(ViewError::Desync(e)) => {
                        ctx.counters.desynced.store(true, Ordering::Relaxed);
                        out.desync = Some(e);
                        break;
                    }
                    Err(ViewError::OwnEntityMissing(own)) => {
                        errors.push(BotError::OwnEntityMissing(own));
                        break;
                    }
                };
                let events = match &msg {
                    ServerMsg::Update(update) => &update.events,
                    ServerMsg::Update3(update) => {
                        if measured && ctx.residuals {
                            count_residuals(&mut out.residuals, &update.delta.motion);
                        }
                        &update.events
                    }
                    _ => continue,
                };
                if applied.first {
                    out.synced = true;
                    ctx.flags.synced.store(true, Ordering::Release);
                    if let Some((before, rules, at)) = after_move.take() {
                        out.move_gap = Some(now.saturating_duration_since(at));
                        let after = view.replica().entities();
                        out.move_state_errors = rules.check(&before, applied.tick.0, after);
                    }
                }
                for e in events {
                    if let Err(err) = out.events.check(e) {
                        ctx.counters.event_errors.fetch_add(1, Ordering::Relaxed);
                        out.event_errors += 1;
                        if out.event_error_samples.len() < MAX_EVENT_ERROR_SAMPLES {
                            out.event_error_samples.push(err);
                        }
                    }
                }
                if measured {
                    out.updates += 1;
                    out.update_bytes += len;
                }
                if let Some((brain, tx)) = &mut duel {
                    for e in events {
                        brain.on_event(e);
                    }
                    if let Some(cmd) = brain.on_update(&view, applied.tick.0, now) {
                        // The writer takes them at once; a full channel drops a decision,
                        // the next update makes a new one.
                        let _ = tx.try_send(cmd);
                    }
                }
                let ack_seq = applied.ack_seq;
                if ack_seq > out.last_ack {
                    out.last_ack = ack_seq;
                    let now_us = micros_since(ctx.shared.base, now);
                    if measured && let Some(rtt) = ctx.shared.rtt.rtt_us(out.last_ack, now_us) {
                        record_rtt(&mut out.rtt_us, u64::from(rtt));
                    }
                }
            }
            Ok(Incoming::Close { .. }) if out.moved.is_some() => break,
            Err(_) if out.moved.is_some() => break,
            Ok(Incoming::Close { code, reason }) => {
                let asked = ctx.flags.closing.load(Ordering::Acquire);
                let expected = asked && (code == close_code::NORMAL || code == NO_STATUS);
                if !expected && !server_error {
                    errors.push(BotError::Closed { code, reason });
                }
                break;
            }
            Err(e) => {
                // Once closing, a connection dropped without a close frame is no error.
                if !server_error && !ctx.flags.closing.load(Ordering::Acquire) {
                    errors.push(BotError::Recv(e));
                }
                break;
            }
        }
    }
    if let Some((brain, _)) = &duel {
        out.shots = brain.shots;
        out.hits_confirmed = brain.hits_confirmed;
    }
    out.errors = errors.list;
    out
}

/// Adds one update's residuals: (0, 0) for every held entity without a move.
pub(super) fn count_residuals(hist: &mut BTreeMap<(i64, i64), u64>, m: &tickstream_shared::Motion) {
    let still = u64::from(m.held).saturating_sub(m.moves.len() as u64);
    if still > 0 {
        *hist.entry((0, 0)).or_insert(0) += still;
    }
    for mv in &m.moves {
        *hist.entry((mv.rx, mv.ry)).or_insert(0) += 1;
    }
}
