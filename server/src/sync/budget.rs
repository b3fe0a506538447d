//! A per-client bandwidth budget (`sync.max_bytes_per_client_per_sec`): when a client's next
//! update would cost more than its budget allows, send the entities that matter most and carry
//! the rest to later ticks.
//!
//! The choice follows Glenn Fiedler's *priority accumulator* (Gaffer On Games, "State
//! Synchronization"): every entity whose state the client does not hold exactly gains priority
//! each tick it waits, more when it is near the client's own entity; the update takes entities
//! in order of priority while the budget's tokens last, and an entity sent starts again from
//! zero. So nearer entities are refreshed more often, and none waits for ever: its priority
//! grows until it is first.
//!
//! The server keeps an exact copy of what the client holds (`held`), because with a budget that
//! is no longer the world at some tick:
//!
//! - an entity entering the view is a *pending spawn* until it is chosen;
//! - a held entity not chosen keeps, in v2, the state the client holds; in v3 it takes the
//!   state the client *predicts* (residual (0, 0): one bit, or none in the sparse form), so
//!   the client's extrapolation runs on and the next correction is a small residual;
//! - despawns, the client's own entity, and events are always sent.
//!
//! The frame is then an ordinary v2 or v3 delta from `held` to the chosen state, and its
//! checksum covers exactly that state: the client verifies what it holds, nothing else.

use tickstream_shared::codec::varint_len;
use tickstream_shared::delta::diff_into;
use tickstream_shared::delta3::{diff3_into, predict, residual_len};
use tickstream_shared::{Delta, Delta3, EntityId, EntityState, view_checksum};

/// Tokens (bits) a client may save up: four ticks of its budget, so that no second carries
/// much more than the budget, and never less than the largest single spawn, so that every
/// entity fits eventually.
fn token_cap(bits_per_tick: u64) -> i64 {
    (bits_per_tick * 4).max(MAX_SPAWN_BITS) as i64
}

/// A spawn is at most this long: gap, kind, two coordinates, mask and eight fields.
const MAX_SPAWN_BITS: u64 = 8 * (5 + 1 + 5 + 5 + 1 + 8 * 5);

/// The distance, in grid points, at which an entity gains priority half as fast as one next to
/// the client's own entity (50 world units).
const NEAR: f64 = 50.0 * 64.0;

fn zigzag(v: i32) -> u64 {
    u64::from(((v << 1) ^ (v >> 31)) as u32)
}

/// Bits of a field mask and the fields it selects (each a zigzag varint).
fn fields_bits(values: &[i32; 8], mask: u8) -> u64 {
    let mut bytes = 1;
    for (i, v) in values.iter().enumerate() {
        if mask & (1 << i) != 0 {
            bytes += varint_len(zigzag(*v));
        }
    }
    8 * bytes
}

fn spawn_bits(e: &EntityState) -> u64 {
    let mut mask = 0u8;
    for (i, v) in e.fields.iter().enumerate() {
        if *v != 0 {
            mask |= 1 << i;
        }
    }
    8 * (2 + 1 + varint_len(e.x.into()) + varint_len(e.y.into())) + fields_bits(&e.fields, mask)
}

/// Bits of the field changes from `from` to `to` (v3 sends differences, v2 new values).
fn field_change_bits(from: &EntityState, to: &EntityState, v3: bool) -> u64 {
    if from.fields == to.fields {
        return 0;
    }
    let mut mask = 0u8;
    let mut values = [0i32; 8];
    for (i, (old, new)) in from.fields.iter().zip(&to.fields).enumerate() {
        if old != new {
            mask |= 1 << i;
            values[i] = if v3 { new.wrapping_sub(*old) } else { *new };
        }
    }
    16 + fields_bits(&values, mask)
}

/// One entity of the client's view this tick, before the choice.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The state the client will hold if the entity is not chosen (`None`: it does not hold
    /// it, a pending spawn).
    default: Option<EntityState>,
    /// The state in the world.
    truth: EntityState,
    /// What sending the truth costs beyond the default, in bits (0: the default is the truth).
    cost: u64,
    /// Its accumulated priority after this tick's growth.
    priority: f64,
    /// Always sent: the client's own entity.
    forced: bool,
    /// Chosen this tick.
    sent: bool,
}

/// The budget's state for one client: what it holds, what it held one update earlier, the
/// priorities and the tokens.
#[derive(Debug, Default, Clone)]
pub struct Budget {
    /// Exactly what the client holds, ascending by id.
    held: Vec<EntityState>,
    /// v3: what it held one update earlier (its prediction extrapolates from both).
    pre_held: Vec<EntityState>,
    /// Accumulated priority of every entity in view that the client does not hold exactly,
    /// ascending by id (absent: 0).
    priority: Vec<(EntityId, f64)>,
    /// Bits the client may still be sent; below zero after an update larger than the tokens
    /// (despawns, its own entity and events are never held back).
    tokens: i64,
    /// Scratch: this tick's entries.
    entries: Vec<Entry>,
    /// Scratch: indices of the entries to choose from, by priority.
    order: Vec<u32>,
    /// Scratch: the state the client will hold after this update.
    next: Vec<EntityState>,
    /// Scratch: the v2 delta.
    delta: Delta,
    /// Scratch: the v3 delta.
    delta3: Delta3,
}

/// What the budgeted update is built from, besides the view.
#[derive(Debug, Clone, Copy)]
pub struct BudgetInput {
    /// The client's own entity, always sent.
    pub own: EntityId,
    /// Where the own entity is (priority grows faster near it).
    pub center: Option<(u32, u32)>,
    /// Ticks since the last update (0: the first), and between the two before (v3).
    pub ticks_since: u32,
    /// Ticks between the client's last two updates (0 after its first).
    pub last_gap: u32,
    /// The protocol version.
    pub protocol: u16,
    /// The budget in bits per tick.
    pub bits_per_tick: u64,
}

impl Budget {
    /// Chooses this tick's update for a client whose view in the world is `view` (ascending
    /// by id): builds the delta from what it holds and returns it with the checksum of what it
    /// will hold. Call [`Budget::spent`] with the frame's size afterwards.
    pub fn choose<'v>(
        &mut self,
        view: impl Iterator<Item = &'v EntityState>,
        input: BudgetInput,
    ) -> (u32, BudgetDelta<'_>) {
        let v3 = input.protocol >= 3;
        let k = input.ticks_since.max(1);
        let cap = token_cap(input.bits_per_tick);
        self.tokens = (self.tokens + (input.bits_per_tick * u64::from(k)) as i64).min(cap);
        self.entries.clear();
        let (mut ih, mut ip, mut iq) = (0usize, 0usize, 0usize);
        let mut despawns = 0u64;
        let weight = |e: &EntityState| match input.center {
            Some((cx, cy)) => {
                let dx = f64::from(e.x) - f64::from(cx);
                let dy = f64::from(e.y) - f64::from(cy);
                1.0 + 2.0 * NEAR / (NEAR + dx.hypot(dy))
            }
            None => 1.0,
        };
        for t in view {
            // Held entities before `t` left the view: despawned, by the diff.
            while ih < self.held.len() && self.held[ih].id < t.id {
                ih += 1;
                despawns += 1;
            }
            while iq < self.priority.len() && self.priority[iq].0 < t.id {
                iq += 1;
            }
            let acc = match self.priority.get(iq) {
                Some((id, p)) if *id == t.id => *p,
                _ => 0.0,
            };
            let held = self
                .held
                .get(ih)
                .filter(|h| h.id == t.id && h.kind == t.kind);
            if self.held.get(ih).is_some_and(|h| h.id == t.id) {
                ih += 1;
                despawns += u64::from(held.is_none());
            }
            let default = held.map(|h| {
                if !v3 {
                    return *h;
                }
                while ip < self.pre_held.len() && self.pre_held[ip].id < h.id {
                    ip += 1;
                }
                let (px, py) = match self.pre_held.get(ip) {
                    Some(p) if p.id == h.id && p.kind == h.kind => (p.x, p.y),
                    _ => (h.x, h.y),
                };
                let mut d = *h;
                d.x = predict(h.x, px, k, input.last_gap);
                d.y = predict(h.y, py, k, input.last_gap);
                d
            });
            let cost = match default {
                None => spawn_bits(t),
                Some(d) if d == *t => 0,
                Some(d) => {
                    let moved = d.x != t.x || d.y != t.y;
                    let pos = if !moved {
                        0
                    } else if v3 {
                        let rx = i64::from(t.x) - i64::from(d.x);
                        let ry = i64::from(t.y) - i64::from(d.y);
                        residual_len(rx, ry).saturating_sub(1)
                    } else {
                        8 * 5
                    };
                    pos + field_change_bits(&d, t, v3)
                }
            };
            self.entries.push(Entry {
                default,
                truth: *t,
                cost,
                priority: if cost == 0 { 0.0 } else { acc + weight(t) },
                forced: t.id == input.own,
                sent: false,
            });
        }
        despawns += (self.held.len() - ih) as u64;
        // The forced part: header, list counts, despawns, the motion's default codes, the own
        // entity. What is left of the tokens goes to the entities by priority.
        let mut spend = 8 * 24 + 16 * despawns + if v3 { self.held.len() as u64 } else { 0 };
        self.order.clear();
        for (i, e) in self.entries.iter().enumerate() {
            if e.forced {
                spend += e.cost;
            } else if e.cost > 0 {
                self.order.push(i as u32);
            }
        }
        let entries = &mut self.entries;
        self.order.sort_unstable_by(|a, b| {
            let (ea, eb) = (&entries[*a as usize], &entries[*b as usize]);
            eb.priority
                .total_cmp(&ea.priority)
                .then(ea.truth.id.cmp(&eb.truth.id))
        });
        let mut left = self.tokens - spend as i64;
        for (chosen, &i) in self.order.iter().enumerate() {
            let e = &mut entries[i as usize];
            // Wait for tokens rather than let small entries starve a large one, unless the
            // tokens are full and nothing else went (an entry larger than the cap).
            if (e.cost as i64) > left && !(chosen == 0 && self.tokens >= cap) {
                break;
            }
            left -= e.cost as i64;
            e.sent = true;
        }
        // The next held state, and the priorities carried over.
        self.next.clear();
        self.priority.clear();
        for e in &self.entries {
            let up_to_date = e.cost == 0 || e.forced || e.sent;
            let state = if up_to_date { Some(e.truth) } else { e.default };
            if let Some(s) = state {
                self.next.push(s);
            }
            if !up_to_date {
                self.priority.push((e.truth.id, e.priority));
            }
        }
        let checksum = view_checksum(&self.next);
        if v3 {
            diff3_into(
                &self.pre_held,
                &self.held,
                &self.next,
                k,
                input.last_gap,
                &mut self.delta3,
            );
        } else {
            diff_into(&self.held, &self.next, &mut self.delta);
        }
        // pre ← held ← next; the oldest becomes the next scratch.
        std::mem::swap(&mut self.pre_held, &mut self.held);
        std::mem::swap(&mut self.held, &mut self.next);
        let delta = if v3 {
            BudgetDelta::V3(&self.delta3)
        } else {
            BudgetDelta::V2(&self.delta)
        };
        (checksum, delta)
    }

    /// Takes a sent frame of `bytes` from the tokens.
    pub fn spent(&mut self, bytes: usize) {
        self.tokens -= 8 * bytes as i64;
    }

    /// What the client holds.
    #[must_use]
    pub fn held(&self) -> &[EntityState] {
        &self.held
    }
}

/// The delta [`Budget::choose`] built.
#[derive(Debug)]
pub enum BudgetDelta<'a> {
    /// Protocol v2.
    V2(&'a Delta),
    /// Protocol v3.
    V3(&'a Delta3),
}
