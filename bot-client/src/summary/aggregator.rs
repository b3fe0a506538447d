//! [`Aggregator`]: bot reports merged into one [`Summary`].

use super::*;

/// Merges [`BotReport`]s into a [`Summary`]; each report is added once, at the end of its bot.
#[derive(Debug)]
pub struct Aggregator {
    summary: Summary,
    hz_sum: f64,
    hz_bots: u32,
    presence_s: f64,
    update_bytes: u64,
    wire_bytes: u64,
    socket_bytes: u64,
    residuals: BTreeMap<(i64, i64), u64>,
    rtt_us: Histogram<u64>,
}

impl Aggregator {
    /// An empty aggregate for a run of `bots_requested` bots.
    #[must_use]
    pub fn new(bots_requested: u32, warmup: Duration, window: Duration) -> Self {
        Self {
            summary: Summary {
                bots_requested,
                warmup_s: warmup.as_secs_f64(),
                duration_s: window.as_secs_f64(),
                update_hz_min: f64::INFINITY,
                ..Summary::default()
            },
            hz_sum: 0.0,
            hz_bots: 0,
            presence_s: 0.0,
            update_bytes: 0,
            wire_bytes: 0,
            socket_bytes: 0,
            residuals: BTreeMap::new(),
            rtt_us: rtt_histogram(),
        }
    }

    /// Adds one bot's report.
    pub fn add(&mut self, r: &BotReport) {
        let s = &mut self.summary;
        let room = s.rooms.entry(r.room.clone()).or_default();
        room.bots += 1;
        if r.joined {
            room.connected += 1;
            if let Some(game) = &r.game {
                if room.game.is_empty() {
                    room.game.clone_from(game);
                }
                *s.games.entry(game.clone()).or_insert(0) += 1;
            }
            s.bots_connected += 1;
            if r.verified {
                s.verified_bots += 1;
            }
            let secs = r.measured.as_secs_f64();
            if secs > 0.0 {
                let hz = r.updates as f64 / secs;
                self.hz_sum += hz;
                self.hz_bots += 1;
                s.update_hz_min = s.update_hz_min.min(hz);
                self.presence_s += secs;
            }
        }
        s.updates_received += r.updates;
        s.bytes_received += r.bytes;
        self.update_bytes += r.update_bytes;
        self.wire_bytes += r.wire_bytes;
        self.socket_bytes += r.socket_bytes;
        for (k, n) in &r.residuals {
            *self.residuals.entry(*k).or_insert(0) += n;
        }
        merge_rtt(&mut self.rtt_us, &r.rtt_us);
        if let Some(d) = &r.desync {
            s.desyncs += 1;
            if s.desync_samples.len() < MAX_SAMPLES {
                s.desync_samples.push(format!("bot {}: {d}", r.index));
            }
        }
        s.events_received += r.events;
        s.shots += r.shots;
        s.hits_confirmed += r.hits_confirmed;
        for (kind, n) in &r.events_by_kind {
            *s.events_by_kind.entry(kind.clone()).or_insert(0) += n;
        }
        s.event_errors += r.event_errors;
        for e in &r.event_error_samples {
            if s.event_error_samples.len() < MAX_SAMPLES {
                s.event_error_samples.push(format!("bot {}: {e}", r.index));
            }
        }
        s.drops += u64::from(r.drops);
        s.resumes += u64::from(r.resumes);
        for failure in &r.resume_failures {
            s.resume_failures += 1;
            *s.resume_failures_by_kind.entry(failure.kind()).or_insert(0) += 1;
            if s.resume_failure_samples.len() < MAX_SAMPLES {
                s.resume_failure_samples
                    .push(format!("bot {}: {failure}", r.index));
            }
        }
        if r.moves > 0 {
            s.moved += 1;
        }
        if let Some(ms) = r.move_gap_ms_max {
            s.move_gap_ms_max = Some(s.move_gap_ms_max.map_or(ms, |m| m.max(ms)));
        }
        s.move_state_errors += r.move_state_errors;
        for e in &r.move_state_error_samples {
            if s.move_state_error_samples.len() < MAX_SAMPLES {
                s.move_state_error_samples
                    .push(format!("bot {}: {e}", r.index));
            }
        }
        for e in &r.errors {
            self.add_error(e.kind(), || format!("bot {}: {e}", r.index));
        }
    }

    /// Counts an error that no report carries (a bot task that panicked).
    pub fn add_error(&mut self, kind: String, message: impl FnOnce() -> String) {
        let s = &mut self.summary;
        s.errors += 1;
        *s.errors_by_kind.entry(kind).or_insert(0) += 1;
        if s.error_samples.len() < MAX_SAMPLES {
            s.error_samples.push(message());
        }
    }

    /// The summary of everything added.
    #[must_use]
    pub fn finish(self) -> Summary {
        let mut s = self.summary;
        if self.hz_bots > 0 {
            s.update_hz = self.hz_sum / f64::from(self.hz_bots);
        } else {
            s.update_hz_min = 0.0;
        }
        if self.presence_s > 0.0 {
            s.bytes_per_bot_per_sec = s.bytes_received as f64 / self.presence_s;
            s.wire_bytes_per_bot_per_sec = self.wire_bytes as f64 / self.presence_s;
            s.socket_bytes_per_bot_per_sec = self.socket_bytes as f64 / self.presence_s;
        }
        s.entity_updates = self.residuals.values().sum();
        if s.entity_updates > 0 {
            let total = s.entity_updates as f64;
            s.residual_entropy_bits = self
                .residuals
                .values()
                .map(|&n| {
                    let p = n as f64 / total;
                    -p * p.log2()
                })
                .sum();
        }
        if s.shots > 0 {
            s.hit_ratio = s.hits_confirmed as f64 / s.shots as f64;
        }
        if s.updates_received > 0 {
            s.bytes_per_update = self.update_bytes as f64 / s.updates_received as f64;
        }
        let h = &self.rtt_us;
        if !h.is_empty() {
            let ms = |us: u64| us as f64 / 1000.0;
            s.rtt_ms = RttMs {
                samples: h.len(),
                p50: ms(h.value_at_quantile(0.50)),
                p90: ms(h.value_at_quantile(0.90)),
                p99: ms(h.value_at_quantile(0.99)),
                max: ms(h.max()),
                mean: h.mean() / 1000.0,
            };
        }
        s
    }
}
