//! A connection's writer: inputs on the scenario's schedule, control replies, the close frame
//! at the deadline, and the drop when churning.

use super::*;

#[allow(clippy::too_many_arguments)]
pub(super) async fn write_loop(
    cfg: &BotConfig,
    writer: &mut ConnectionWriter,
    shared: &Shared,
    flags: &ConnFlags,
    schedule: &mut InputSchedule,
    drop_at: Option<Instant>,
    reading: &mut JoinHandle<ReadOutcome>,
    (protocol, mut duel): (u16, Option<&mut tokio::sync::mpsc::Receiver<duel::DuelCmd>>),
) -> WriteEnd {
    let dueling = duel.is_some();
    let mut ticker = tokio::time::interval(INPUT_INTERVAL);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = tokio::time::sleep_until(cfg.window.end.into());
    tokio::pin!(deadline);
    let churn = tokio::time::sleep_until(drop_at.unwrap_or(cfg.window.end).into());
    tokio::pin!(churn);
    loop {
        // Every branch is cancel safe: a sleep, a join handle, a channel receive, a tick.
        tokio::select! {
            biased;
            () = &mut deadline => return WriteEnd::Deadline,
            outcome = &mut *reading => return WriteEnd::ReaderDone(Box::new(outcome)),
            () = &mut churn, if drop_at.is_some() => {
                // Drop only a connection that has shown its snapshot, so every resume has
                // something to compare with.
                if flags.synced.load(Ordering::Acquire) {
                    return WriteEnd::Drop;
                }
                churn.as_mut().reset((Instant::now() + SYNC_POLL).into());
            }
            Some(control) = writer.next_control() => {
                let close = control.is_close();
                if let Err(e) = writer.send_control(control).await {
                    return WriteEnd::Failed(e);
                }
                if close {
                    return WriteEnd::PeerClosed;
                }
            }
            Some(cmd) = async { duel.as_mut()?.recv().await }, if dueling => {
                let input = schedule.next_input_with(cmd.dx, cmd.dy, cmd.buttons);
                shared.rtt.record(input.seq, micros_since(shared.base, Instant::now()));
                // From v5 on the input says what the bot was looking at.
                let msg = if protocol >= 5 {
                    ClientMsg::Input5(tickstream_shared::Input5::new(input, cmd.render_tick))
                } else {
                    ClientMsg::Input(input)
                };
                if let Err(e) = writer.send(&msg).await {
                    return WriteEnd::Failed(e);
                }
            }
            _ = ticker.tick(), if !dueling => {
                let input = schedule.next_input();
                // Recorded before sending: the acknowledgement cannot come sooner.
                shared.rtt.record(input.seq, micros_since(shared.base, Instant::now()));
                if let Err(e) = writer.send(&ClientMsg::Input(input)).await {
                    return WriteEnd::Failed(e);
                }
            }
        }
    }
}
