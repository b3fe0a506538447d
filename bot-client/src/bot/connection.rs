//! One connection of a bot: open it (connect, `Join` or `Resume`, `Welcome`), then play it
//! with a writer (this task) and a reader task until it ends.

use super::*;

/// Opens a connection with the client library (connect, `hello`, `Welcome`), within the
/// window: a bot still connecting at its end is [`BotError::Late`].
pub(super) async fn open(
    cfg: &BotConfig,
    connector: &Connector,
    hello: &ClientMsg,
) -> Result<(Connection, tickstream_shared::Welcome4), BotError> {
    let opening = tickstream_client::open(connector, hello, cfg.join_timeout);
    match tokio::time::timeout_at(cfg.window.end.into(), opening).await {
        Err(_) => Err(BotError::Late),
        Ok(opened) => opened.map_err(BotError::from),
    }
}

/// Plays one connection from its welcome to its end, and adds what it measured to `report`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn connection(
    cfg: &BotConfig,
    client: Connection,
    welcome: &tickstream_shared::Welcome4,
    shared: &Arc<Shared>,
    counters: &Arc<BotCounters>,
    player: &mut Player,
    report: &mut BotReport,
    errors: &mut ErrorLog<'_>,
) -> ConnEnd {
    let resumed = welcome.resumed;
    let (reader, mut writer) = client.split();
    let flags = Arc::new(ConnFlags::default());
    // In the duel the reader decides what to send; elsewhere the writer plays the schedule.
    let (duel, mut duel_rx) = if welcome.game == "duel" {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let brain = duel::DuelBrain::new(cfg.index, welcome, shared.base, cfg.window);
        (Some((brain, tx)), Some(rx))
    } else {
        (None, None)
    };
    let (stop, stopped) = oneshot::channel();
    let mut reading = tokio::spawn(read_loop(
        reader,
        ReadCtx {
            shared: Arc::clone(shared),
            flags: Arc::clone(&flags),
            counters: Arc::clone(counters),
            verify: cfg.verify,
            window: cfg.window,
            own: welcome.entity,
            events: std::mem::take(&mut player.events),
            last_ack: player.last_ack,
            residuals: cfg.residuals,
            duel,
            rules: MoveCheck::for_welcome(welcome),
            after_move: player.after_move.take(),
        },
        stopped,
    ));
    let drop_at = drop_time(cfg, player);
    let end = write_loop(
        cfg,
        &mut writer,
        shared,
        &flags,
        &mut player.schedule,
        drop_at,
        &mut reading,
        (welcome.protocol, duel_rx.as_mut()),
    )
    .await;
    let mut dropped = false;
    let outcome = match end {
        WriteEnd::Deadline => {
            flags.closing.store(true, Ordering::Release);
            // A failure here means the connection is already gone, which no longer matters.
            let _ = writer.close(close_code::NORMAL, "").await;
            finish_reader(reading, stop, cfg.close_grace).await
        }
        WriteEnd::Drop => {
            dropped = true;
            flags.closing.store(true, Ordering::Release);
            let outcome = finish_reader(reading, stop, Duration::ZERO).await;
            // The reader's half went with its task; with this one the socket closes, without
            // a close frame, as when a phone loses its network.
            drop(writer);
            outcome
        }
        WriteEnd::PeerClosed => finish_reader(reading, stop, cfg.close_grace).await,
        WriteEnd::ReaderDone(outcome) => {
            // Echo a queued close, or close ourselves after a desync or a reader error.
            let _ = writer.send_pending_control().await;
            let _ = writer.close(close_code::NORMAL, "").await;
            *outcome
        }
        WriteEnd::Failed(e) => {
            let outcome = finish_reader(reading, stop, Duration::ZERO).await;
            // The reader usually saw the cause (a close, an EOF); report the write only if not.
            if let Ok(o) = &outcome
                && o.errors.is_empty()
                && o.desync.is_none()
            {
                errors.push(BotError::Send(e));
            }
            outcome
        }
    };
    let o = match outcome {
        Ok(o) => o,
        Err(e) => {
            errors.push(BotError::Task(e.to_string()));
            return ConnEnd::Over;
        }
    };
    report.updates += o.updates;
    report.update_bytes += o.update_bytes;
    report.bytes += o.bytes;
    report.wire_bytes += o.wire_bytes;
    report.socket_bytes += o.socket_bytes;
    for (r, n) in o.residuals {
        *report.residuals.entry(r).or_insert(0) += n;
    }
    if report.rtt_us.add(&o.rtt_us).is_err() {
        // Only if the histogram cannot grow; then the samples are lost, not the run.
        for v in o.rtt_us.iter_recorded() {
            report
                .rtt_us
                .saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
    report.event_errors += o.event_errors;
    report.shots += o.shots;
    report.hits_confirmed += o.hits_confirmed;
    for e in o.event_error_samples {
        if report.event_error_samples.len() < MAX_EVENT_ERROR_SAMPLES {
            report.event_error_samples.push(e);
        }
    }
    player.events = o.events;
    player.last_ack = o.last_ack;
    if let Some(gap) = o.move_gap {
        let ms = gap.as_secs_f64() * 1e3;
        report.move_gap_ms_max = Some(report.move_gap_ms_max.map_or(ms, |m: f64| m.max(ms)));
    }
    report.move_state_errors += o.move_state_errors.len() as u64;
    for e in o.move_state_errors {
        if report.move_state_error_samples.len() < MAX_EVENT_ERROR_SAMPLES {
            report.move_state_error_samples.push(e);
        }
    }
    if resumed && o.synced {
        report.resumes += 1;
        counters.resumes.fetch_add(1, Ordering::Relaxed);
    }
    let stopped_by_error = o.desync.is_some() || !o.errors.is_empty();
    if o.desync.is_some() {
        report.desync = o.desync;
    }
    // Already counted live by the reader.
    errors.list.extend(o.errors);
    match o.moved {
        Some((url, before, rules, at)) if !stopped_by_error => {
            player.after_move = Some((before, rules, at));
            ConnEnd::Moved(url)
        }
        _ if dropped && !stopped_by_error => ConnEnd::Dropped,
        _ => ConnEnd::Over,
    }
}

/// When to drop this connection (churn), or `None`: never, or too close to the end for a
/// resume to fit.
pub(super) fn drop_time(cfg: &BotConfig, player: &mut Player) -> Option<Instant> {
    let churn = cfg.churn?;
    let at = Instant::now() + player.churn.as_mut()?.next_interval();
    let latest = cfg
        .window
        .end
        .checked_sub(churn.reconnect_delay + CHURN_QUIET)?;
    (at < latest).then_some(at)
}
