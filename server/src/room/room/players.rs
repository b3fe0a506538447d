//! The room's players: joins, welcomes, resumes within the grace period, drops, and the
//! numbered one-shot events each player is sent and can have replayed.

use super::*;

impl Room {
    /// Numbers the emitted events per player, keeps them for replay and hands them to the
    /// connected players' writers. A writer that has let its queue fill is disconnected (4004).
    pub(super) fn deliver_events(&mut self) {
        if self.emitted.is_empty() {
            return;
        }
        self.spectators.collect(&self.emitted);
        let history = self.settings.event_history;
        let pending = self.settings.max_pending_events;
        let mut delivered = 0u64;
        let mut batch = Vec::new();
        for (_, p) in &mut self.players {
            batch.clear();
            for e in &self.emitted {
                if let Audience::Player(id) = e.to
                    && id != p.entity
                {
                    continue;
                }
                let event = GameEvent {
                    seq: p.next_event_seq,
                    kind: e.kind,
                    entity: e.entity,
                    value: e.value,
                    text: e.text.clone(),
                };
                p.next_event_seq = p.next_event_seq.wrapping_add(1);
                if p.history.len() >= history {
                    p.history.pop_front();
                }
                p.history.push_back(event.clone());
                batch.push(event);
            }
            delivered += batch.len() as u64;
            if let Some(link) = &p.link
                && !link.push_events(&batch, pending)
                && link.closing_code().is_none()
            {
                tracing::debug!(room = %self.info.name, conn = link.conn_id, "event queue overflow");
                link.close(
                    close_code::EVENTS_OVERFLOW,
                    "event queue overflow: events not taken in time",
                );
            }
        }
        self.emitted.clear();
        self.metrics.events.increment(delivered);
    }

    pub(super) fn add_player(&mut self, link: Arc<ClientLink>) -> Result<Joined, JoinError> {
        if self.players.len() >= self.settings.max_players {
            return Err(JoinError::RoomFull);
        }
        let entity = self.with_game(|w, ctx| w.join(ctx));
        if let Some(r) = &mut self.recorder {
            r.join(self.tick, entity);
        }
        let entity = entity.ok_or(JoinError::OutOfIds)?;
        let key = self.players.insert(Player {
            link: None,
            entity,
            ack_seq: 0,
            stalled_since: None,
            token_hash: [0; 32],
            dropped_at: None,
            next_event_seq: 1,
            history: VecDeque::new(),
        });
        // The game's own join event was numbered before this player existed; the player's
        // events start with the welcome.
        if !self.welcome(key, link, false) {
            self.players.remove(key);
            self.with_game(|w, ctx| w.leave(entity, ctx));
            if let Some(r) = &mut self.recorder {
                r.leave(self.tick, entity);
            }
            return Err(JoinError::Busy);
        }
        tracing::debug!(room = %self.info.name, entity = entity.0, "player joined");
        Ok(Joined {
            entity,
            room: Arc::clone(&self.info),
            ack_seq: 0,
        })
    }

    pub(super) fn resume(
        &mut self,
        link: Arc<ClientLink>,
        token: &str,
        last_event_seq: u32,
        now: Instant,
    ) -> Result<Joined, JoinError> {
        const UNKNOWN: JoinError =
            JoinError::ResumeRefused("unknown, used or expired resume token");
        let hash = token_hash(token);
        let key = *self.tokens.get(&hash).ok_or(UNKNOWN)?;
        // `tokens` only names live players (an entry goes with its player), but a stale one
        // is refused like an unknown token rather than trusted.
        let Some(p) = self.players.get(key) else {
            self.tokens.remove(&hash);
            return Err(UNKNOWN);
        };
        if p.dropped_at
            .is_some_and(|t| now.saturating_duration_since(t) > self.settings.resume_grace)
        {
            return Err(JoinError::ResumeRefused("the resume grace period is over"));
        }
        if last_event_seq >= p.next_event_seq {
            return Err(JoinError::ResumeRefused(
                "last_event_seq is ahead of the server",
            ));
        }
        let first_kept = p.history.front().map_or(p.next_event_seq, |e| e.seq);
        if last_event_seq.wrapping_add(1) < first_kept {
            return Err(JoinError::ResumeRefused(
                "the events since last_event_seq are no longer kept",
            ));
        }
        let replay: Vec<GameEvent> = p
            .history
            .iter()
            .filter(|e| e.seq > last_event_seq)
            .cloned()
            .collect();
        let (entity, ack_seq) = (p.entity, p.ack_seq);
        if let Some(old) = &p.link {
            // The old connection may not have noticed it is dead yet: this one replaces it.
            old.close(close_code::NORMAL, "resumed on another connection");
        }
        if !link.push_events(&replay, self.settings.max_pending_events.max(replay.len())) {
            return Err(JoinError::Busy);
        }
        if !self.welcome(key, Arc::clone(&link), true) {
            return Err(JoinError::Busy);
        }
        if let Some(r) = &mut self.recorder {
            r.resume(self.tick, entity);
        }
        tracing::debug!(room = %self.info.name, conn = link.conn_id, entity = entity.0, replayed = replay.len(), "player resumed");
        Ok(Joined {
            entity,
            room: Arc::clone(&self.info),
            ack_seq,
        })
    }

    /// Sends the welcome with a fresh resume token and attaches `link` to the player; false
    /// (nothing changed) when the link cannot take it.
    fn welcome(&mut self, key: PlayerKey, link: Arc<ClientLink>, resumed: bool) -> bool {
        let Some(token) = new_resume_token() else {
            tracing::error!("the operating system supplies no randomness for resume tokens");
            return false;
        };
        let info = self.settings.game.info();
        let Some(p) = self.players.get(key) else {
            return false;
        };
        let welcome = Welcome {
            entity: p.entity,
            resume_token: token.clone(),
            resumed,
            ..self.describe(link.protocol)
        };
        // v4 adds the movement rule; older versions get the welcome they always had.
        let welcome = if link.protocol >= 4 {
            ServerMsg::Welcome4(Welcome4 {
                welcome,
                move_rule: info.move_rule,
            })
        } else {
            ServerMsg::Welcome(welcome)
        };
        let mut buf = Vec::new();
        if encode_server(&welcome, &mut buf).is_err() || !link.push_control(Outgoing::Message(buf))
        {
            return false;
        }
        let Some(p) = self.players.get_mut(key) else {
            return false;
        };
        let hash = token_hash(&token);
        self.tokens.remove(&p.token_hash);
        self.tokens.insert(hash, key);
        p.token_hash = hash;
        p.link = Some(link);
        p.dropped_at = None;
        p.stalled_since = None;
        true
    }

    /// Detaches players whose session ended (keeping their entity for the grace period) and
    /// removes those whose grace period is over.
    pub(super) fn drop_gone_players(&mut self, now: Instant) {
        let grace = self.settings.resume_grace;
        let mut leaving = Vec::new();
        for (key, p) in &mut self.players {
            if let Some(link) = p.link.take_if(|l| l.is_gone()) {
                if link.has_left() {
                    leaving.push(key);
                    continue;
                }
                p.dropped_at = Some(now);
                p.stalled_since = None;
                tracing::debug!(room = %self.info.name, entity = p.entity.0, "player dropped");
            }
            if p.dropped_at
                .is_some_and(|t| now.saturating_duration_since(t) >= grace)
            {
                leaving.push(key);
            }
        }
        for key in leaving {
            if let Some(p) = self.players.remove(key) {
                self.tokens.remove(&p.token_hash);
                self.with_game(|w, ctx| w.leave(p.entity, ctx));
                if let Some(r) = &mut self.recorder {
                    r.leave(self.tick, p.entity);
                }
                tracing::debug!(room = %self.info.name, entity = p.entity.0, "player left");
            }
        }
    }
}
