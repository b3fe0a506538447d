//! [`MoveCheck`]: does the room a bot followed to another process (protocol v5's `Moved`)
//! continue the world it left, or did the successor start another one?
//!
//! Just before the move the bot keeps its replica; the successor's first update is compared
//! with it, extrapolated over the gap in ticks:
//!
//! - the tick goes on (a restarted room starts again from 0);
//! - every entity is still there, except players (who may have left meanwhile);
//! - a player moved at most its walking speed per tick (from the welcome's move rule);
//! - a `score` field never went down, and went up at most once per tick;
//! - an entity that is not a player moved only if a score explains it (a coin that was
//!   collected reappears elsewhere): no more of them moved than the scores went up. A game
//!   without a `score` field is not checked for this.
//!
//! Each broken rule is one error, so a successor that rebuilt the world from its seed is
//! caught several times over.

use tickstream_shared::{EntityId, EntityState, MoveRule, Welcome4, quant};

/// What a bot's replica held just before its room moved.
#[derive(Debug, Clone)]
pub struct BeforeMove {
    /// The last tick applied.
    pub tick: u32,
    /// The whole view then.
    pub entities: Vec<EntityState>,
}

/// One way the successor's first view does not continue the one before the move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoveStateError {
    /// The successor's tick is behind the one before the move.
    #[error("tick {after} after the move, {before} before")]
    TickWentBack {
        /// The tick before.
        before: u32,
        /// The tick after.
        after: u32,
    },
    /// An entity that is not a player is gone.
    #[error("entity {0:?} is gone after the move")]
    Missing(EntityId),
    /// A player moved farther than it can walk in the gap.
    #[error("player {id:?} moved {moved:.1} units in {ticks} ticks (at most {max:.1})")]
    Teleported {
        /// The player.
        id: EntityId,
        /// How far, in world units.
        moved: u64,
        /// The most it could.
        max: u64,
        /// Ticks between the two views.
        ticks: u32,
    },
    /// A score went down or up by more than the gap allows.
    #[error("entity {id:?}: score {before} before, {after} after the move")]
    Score {
        /// The entity.
        id: EntityId,
        /// The score before.
        before: i32,
        /// The score after.
        after: i32,
    },
    /// More non-player entities moved than scores explain.
    #[error("{moved} entities that are not players moved, scores went up by {scored}")]
    Unexplained {
        /// How many moved.
        moved: u64,
        /// The total score increase.
        scored: u64,
    },
}

/// The rules for one game, from its welcome.
#[derive(Debug, Clone, Copy)]
pub struct MoveCheck {
    /// The kind called `player`, if any.
    player_kind: Option<u8>,
    /// World units per tick a player walks (the welcome's rule); `None`: not checked.
    speed: Option<f64>,
    /// The field called `score`, if any.
    score_field: Option<usize>,
}

impl MoveCheck {
    /// The rules for the game `welcome` describes.
    #[must_use]
    pub fn for_welcome(welcome: &Welcome4) -> Self {
        Self {
            player_kind: welcome
                .kinds
                .iter()
                .position(|k| k == "player")
                .and_then(|k| u8::try_from(k).ok()),
            speed: match welcome.move_rule {
                MoveRule::Walk { speed } => Some(f64::from(speed)),
                MoveRule::None => None,
            },
            score_field: welcome.fields.iter().position(|f| f.name == "score"),
        }
    }

    /// Every rule the successor's first view (`tick`, `after`, sorted by id) breaks.
    #[must_use]
    pub fn check(
        &self,
        before: &BeforeMove,
        tick: u32,
        after: &[EntityState],
    ) -> Vec<MoveStateError> {
        let mut errors = Vec::new();
        if tick < before.tick {
            errors.push(MoveStateError::TickWentBack {
                before: before.tick,
                after: tick,
            });
            return errors;
        }
        let ticks = tick - before.tick;
        let (mut moved_others, mut scored) = (0u64, 0u64);
        for b in &before.entities {
            let is_player = Some(b.kind) == self.player_kind;
            let Ok(i) = after.binary_search_by_key(&b.id, |e| e.id) else {
                if !is_player {
                    errors.push(MoveStateError::Missing(b.id));
                }
                continue;
            };
            let a = &after[i];
            let dist_q = (f64::from(a.x) - f64::from(b.x)).hypot(f64::from(a.y) - f64::from(b.y));
            let dist = dist_q / quant::SCALE;
            if is_player {
                // One grid step of rounding at each end.
                if let Some(speed) = self.speed {
                    let max = speed * f64::from(ticks) + 2.0 / quant::SCALE;
                    if dist > max + 1e-9 {
                        errors.push(MoveStateError::Teleported {
                            id: b.id,
                            moved: dist.round() as u64,
                            max: max.round() as u64,
                            ticks,
                        });
                    }
                }
            } else if dist_q > 0.0 {
                moved_others += 1;
            }
            if let Some(f) = self.score_field {
                let (sb, sa) = (b.fields[f], a.fields[f]);
                let up = i64::from(sa) - i64::from(sb);
                if up < 0 || up > i64::from(ticks) {
                    errors.push(MoveStateError::Score {
                        id: b.id,
                        before: sb,
                        after: sa,
                    });
                } else {
                    scored += up as u64;
                }
            }
        }
        if self.score_field.is_some() && moved_others > scored {
            errors.push(MoveStateError::Unexplained {
                moved: moved_others,
                scored,
            });
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tickstream_shared::{FieldSpec, Welcome};

    fn coins_check() -> MoveCheck {
        let welcome = Welcome4 {
            welcome: Welcome {
                protocol: 5,
                entity: EntityId(2),
                tick_rate_hz: 30,
                tick: tickstream_shared::Tick(0),
                world_width: 300.0,
                world_height: 300.0,
                view_radius: 0.0,
                game: "coins".into(),
                kinds: vec!["player".into(), "coin".into()],
                fields: vec![FieldSpec {
                    name: "score".into(),
                    scale: 1.0,
                }],
                event_kinds: vec![],
                resume_token: String::new(),
                resumed: false,
            },
            move_rule: MoveRule::Walk { speed: 4.0 },
        };
        MoveCheck::for_welcome(&welcome)
    }

    fn at(id: u32, kind: u8, x: f64, y: f64, score: i32) -> EntityState {
        EntityState::new(EntityId(id), kind, quant::quantize(x), quant::quantize(y))
            .with_field(0, score)
    }

    fn before() -> BeforeMove {
        BeforeMove {
            tick: 300,
            entities: vec![
                at(0, 1, 10.0, 10.0, 0),
                at(1, 1, 50.0, 50.0, 0),
                at(2, 0, 100.0, 100.0, 3),
            ],
        }
    }

    #[test]
    fn a_continued_world_passes() {
        // Two ticks later: the player walked 8 units, collected coin 0 (which moved).
        let after = [
            at(0, 1, 200.0, 20.0, 0),
            at(1, 1, 50.0, 50.0, 0),
            at(2, 0, 108.0, 100.0, 4),
        ];
        assert_eq!(
            coins_check().check(&before(), 302, &after),
            vec![],
            "continues"
        );
    }

    #[test]
    fn a_restarted_world_is_caught() {
        let c = coins_check();
        let restarted = [
            at(0, 1, 33.0, 7.0, 0),
            at(1, 1, 250.0, 12.0, 0),
            at(2, 0, 180.0, 40.0, 0),
        ];
        assert!(
            matches!(
                c.check(&before(), 1, &restarted)[..],
                [MoveStateError::TickWentBack { .. }]
            ),
            "the tick went back"
        );
        let errors = c.check(&before(), 301, &restarted);
        assert!(
            errors
                .iter()
                .any(|e| matches!(e, MoveStateError::Teleported { .. })),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| matches!(e, MoveStateError::Score { .. })),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| matches!(e, MoveStateError::Unexplained { .. })),
            "{errors:?}"
        );
        let gone = [at(2, 0, 100.0, 100.0, 3)];
        assert_eq!(c.check(&before(), 301, &gone).len(), 2, "two coins gone");
    }
}
