//! The delta format: what changed in one client's view between two ticks.
//!
//! A [`Delta`] holds four lists, each sorted by entity id: despawns (the id only), spawns (the
//! full [`EntityState`]), position changes (differences in grid points) and field changes (the
//! new values of the game fields that changed, under a bit mask). A client applies them in that
//! order. Because the lists are sorted, ids are sent as the gap to the previous id in the same
//! list, which is one byte for the dense ids a room hands out; each position change picks the
//! smallest of four forms, and unchanged fields cost nothing. `docs/PROTOCOL.md` gives the exact
//! bytes.
//!
//! [`diff`] is the pure function that computes a delta between two views; applying its result
//! to the first view gives the second (a property test checks this).

use bincode::de::{Decode, Decoder};
use bincode::enc::{Encode, Encoder};
use bincode::error::{DecodeError, EncodeError};

use crate::entity::{Fields, MAX_FIELDS};
use crate::{EntityId, EntityState};

/// The most entries one list of a delta may hold; a decoder refuses longer lists before it
/// allocates anything.
pub const MAX_LIST_LEN: usize = 1 << 16;

/// Change form 0: both coordinates changed, each fits 12 signed bits; 3 bytes follow.
pub const FORM_XY12: u64 = 0;
/// Change form 1: only x changed and fits 16 signed bits; 2 bytes follow.
pub const FORM_X16: u64 = 1;
/// Change form 2: only y changed and fits 16 signed bits; 2 bytes follow.
pub const FORM_Y16: u64 = 2;
/// Change form 3: anything else; two zigzag varints follow.
pub const FORM_WIDE: u64 = 3;

/// One entity's position change, in grid points. At least one of `dx`, `dy` is non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The entity that moved.
    pub id: EntityId,
    /// New x minus old x, in grid points.
    pub dx: i32,
    /// New y minus old y, in grid points.
    pub dy: i32,
}

/// One entity's game-field change: the new value of every field whose bit is set in `mask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldChange {
    /// The entity whose fields changed.
    pub id: EntityId,
    /// Bit `i` set: field `i` changed. Never 0.
    pub mask: u8,
    /// The new values; entries whose bit is clear are 0 and are not sent.
    pub values: Fields,
}

impl FieldChange {
    /// Writes the changed values into `fields`.
    pub fn apply_to(&self, fields: &mut Fields) {
        for (i, f) in fields.iter_mut().enumerate() {
            if self.mask & (1 << i) != 0 {
                *f = self.values[i];
            }
        }
    }
}

/// What changed in a view between two ticks. Each list is strictly ascending by id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delta {
    /// Entities that left the view (or were destroyed).
    pub despawns: Vec<EntityId>,
    /// Entities that entered the view (or were created), with their full state.
    pub spawns: Vec<EntityState>,
    /// Entities in both views whose position changed.
    pub changes: Vec<Change>,
    /// Entities in both views whose game fields changed.
    pub field_changes: Vec<FieldChange>,
}

impl Delta {
    /// True when nothing changed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.despawns.is_empty()
            && self.spawns.is_empty()
            && self.changes.is_empty()
            && self.field_changes.is_empty()
    }

    /// Empties all lists, keeping their allocations.
    pub fn clear(&mut self) {
        self.despawns.clear();
        self.spawns.clear();
        self.changes.clear();
        self.field_changes.clear();
    }
}

/// The delta that turns view `base` into view `cur`. Both must be sorted by id.
#[must_use]
pub fn diff(base: &[EntityState], cur: &[EntityState]) -> Delta {
    let mut out = Delta::default();
    diff_into(base, cur, &mut out);
    out
}

/// [`diff`] into a reused [`Delta`]: the server's hot path allocates nothing once warm.
pub fn diff_into(base: &[EntityState], cur: &[EntityState], out: &mut Delta) {
    diff_core(base.len(), |i| &base[i], cur.len(), |j| &cur[j], out);
}

/// [`diff_into`] between two views given as indices into snapshots: the view `base_idx` of
/// `base` and the view `cur_idx` of `cur`, each index list ascending (and so ascending by id,
/// as snapshots are). A client's view is then four bytes per entity instead of a copy of the
/// entity, and building the next one copies indices only.
///
/// # Panics
///
/// If an index is out of its snapshot's bounds (the caller's invariant: the indices came from
/// a query over that very snapshot).
pub fn diff_into_indexed(
    base: &[EntityState],
    base_idx: &[u32],
    cur: &[EntityState],
    cur_idx: &[u32],
    out: &mut Delta,
) {
    diff_core(
        base_idx.len(),
        |i| &base[base_idx[i] as usize],
        cur_idx.len(),
        |j| &cur[cur_idx[j] as usize],
        out,
    );
}

/// The merge both diffs share: `b(i)` for `i < nb` is the base view, `c(j)` for `j < nc` the
/// current one, each ascending by id.
#[inline(always)]
fn diff_core<'a, 'b>(
    nb: usize,
    b: impl Fn(usize) -> &'a EntityState,
    nc: usize,
    c: impl Fn(usize) -> &'b EntityState,
    out: &mut Delta,
) {
    out.clear();
    let (mut i, mut j) = (0, 0);
    loop {
        match (i < nb, j < nc) {
            (true, true) => {
                let (b, c) = (b(i), c(j));
                if b.id == c.id {
                    if b.kind != c.kind {
                        // A kind never changes in place: the id now names a different entity.
                        out.despawns.push(b.id);
                        out.spawns.push(*c);
                    } else {
                        if b.x != c.x || b.y != c.y {
                            out.changes.push(Change {
                                id: c.id,
                                dx: grid_diff(c.x, b.x),
                                dy: grid_diff(c.y, b.y),
                            });
                        }
                        if b.fields != c.fields {
                            out.field_changes
                                .push(field_change(c.id, &b.fields, &c.fields));
                        }
                    }
                    i += 1;
                    j += 1;
                } else if b.id < c.id {
                    out.despawns.push(b.id);
                    i += 1;
                } else {
                    out.spawns.push(*c);
                    j += 1;
                }
            }
            (true, false) => {
                out.despawns.push(b(i).id);
                i += 1;
            }
            (false, true) => {
                out.spawns.push(*c(j));
                j += 1;
            }
            (false, false) => break,
        }
    }
}

fn field_change(id: EntityId, old: &Fields, new: &Fields) -> FieldChange {
    let mut mask = 0u8;
    let mut values = [0; MAX_FIELDS];
    for i in 0..MAX_FIELDS {
        if old[i] != new[i] {
            mask |= 1 << i;
            values[i] = new[i];
        }
    }
    FieldChange { id, mask, values }
}

/// Writes the fields selected by `mask` as zigzag varints, after the mask itself.
pub(crate) fn encode_fields<E: Encoder>(
    mask: u8,
    values: &Fields,
    e: &mut E,
) -> Result<(), EncodeError> {
    mask.encode(e)?;
    for (i, v) in values.iter().enumerate() {
        if mask & (1 << i) != 0 {
            v.encode(e)?;
        }
    }
    Ok(())
}

/// Reads a mask and the fields it selects; the others are 0.
pub(crate) fn decode_fields<D: Decoder>(d: &mut D) -> Result<(u8, Fields), DecodeError> {
    let mask = u8::decode(d)?;
    let mut values = [0; MAX_FIELDS];
    for (i, v) in values.iter_mut().enumerate() {
        if mask & (1 << i) != 0 {
            *v = i32::decode(d)?;
        }
    }
    Ok((mask, values))
}

/// The mask of the non-zero fields: what a spawn sends.
pub(crate) fn nonzero_mask(values: &Fields) -> u8 {
    values
        .iter()
        .enumerate()
        .fold(0, |m, (i, v)| if *v != 0 { m | (1 << i) } else { m })
}

/// `new - old` for grid coordinates; coordinates beyond ±2^31 grid points (33 million units)
/// are outside any arena the server accepts, so the saturation never shows.
fn grid_diff(new: u32, old: u32) -> i32 {
    let d = i64::from(new) - i64::from(old);
    d.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

fn fits_bits(v: i32, bits: u32) -> bool {
    let lim = 1i32 << (bits - 1);
    (-lim..lim).contains(&v)
}

/// Writes the ids' gap encoding state: each id as the distance from "previous id + 1".
pub(crate) struct GapEncoder {
    next: u64,
}

impl GapEncoder {
    pub(crate) fn new() -> Self {
        Self { next: 0 }
    }

    /// The gap for `id`; ids must be strictly ascending (the builder guarantees it).
    pub(crate) fn gap(&mut self, id: EntityId) -> Result<u64, EncodeError> {
        let id = u64::from(id.0);
        let gap = id
            .checked_sub(self.next)
            .ok_or(EncodeError::Other("delta ids are not strictly ascending"))?;
        self.next = id + 1;
        Ok(gap)
    }
}

/// Turns gaps back into ids, refusing any id past `u32::MAX`.
pub(crate) struct GapDecoder {
    next: u64,
}

impl GapDecoder {
    pub(crate) fn new() -> Self {
        Self { next: 0 }
    }

    pub(crate) fn id(&mut self, gap: u64) -> Result<EntityId, DecodeError> {
        let id = self
            .next
            .checked_add(gap)
            .filter(|id| *id <= u64::from(u32::MAX))
            .ok_or(DecodeError::Other("entity id out of range"))?;
        self.next = id + 1;
        Ok(EntityId(id as u32))
    }
}

pub(crate) fn encode_len<E: Encoder>(len: usize, e: &mut E) -> Result<(), EncodeError> {
    if len > MAX_LIST_LEN {
        return Err(EncodeError::Other("delta list longer than MAX_LIST_LEN"));
    }
    (len as u32).encode(e)
}

pub(crate) fn decode_len<T, D: Decoder>(d: &mut D) -> Result<usize, DecodeError> {
    let len = u32::decode(d)? as usize;
    if len > MAX_LIST_LEN {
        return Err(DecodeError::Other("delta list longer than MAX_LIST_LEN"));
    }
    d.claim_container_read::<T>(len)?;
    Ok(len)
}

impl Encode for Delta {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        encode_despawns(&self.despawns, e)?;
        encode_spawns(&self.spawns, e)?;
        encode_len(self.changes.len(), e)?;
        let mut gaps = GapEncoder::new();
        for c in &self.changes {
            let gap = gaps.gap(c.id)?;
            if gap > (u64::MAX >> 2) {
                return Err(EncodeError::Other("entity id gap too large"));
            }
            let (dx, dy) = (c.dx, c.dy);
            if dy == 0 && dx != 0 && fits_bits(dx, 16) {
                ((gap << 2) | FORM_X16).encode(e)?;
                (dx as i16).to_le_bytes().encode(e)?;
            } else if dx == 0 && dy != 0 && fits_bits(dy, 16) {
                ((gap << 2) | FORM_Y16).encode(e)?;
                (dy as i16).to_le_bytes().encode(e)?;
            } else if dx != 0 && dy != 0 && fits_bits(dx, 12) && fits_bits(dy, 12) {
                ((gap << 2) | FORM_XY12).encode(e)?;
                let packed = (dx as u32 & 0xFFF) | ((dy as u32 & 0xFFF) << 12);
                let b = packed.to_le_bytes();
                [b[0], b[1], b[2]].encode(e)?;
            } else if dx != 0 || dy != 0 {
                ((gap << 2) | FORM_WIDE).encode(e)?;
                dx.encode(e)?;
                dy.encode(e)?;
            } else {
                return Err(EncodeError::Other("a change must move at least one field"));
            }
        }
        encode_field_changes(&self.field_changes, e)
    }
}

/// The despawn list, gap-coded ids: the same in every protocol version.
pub(crate) fn encode_despawns<E: Encoder>(ids: &[EntityId], e: &mut E) -> Result<(), EncodeError> {
    encode_len(ids.len(), e)?;
    let mut gaps = GapEncoder::new();
    for id in ids {
        gaps.gap(*id)?.encode(e)?;
    }
    Ok(())
}

/// The spawn list: gap-coded id, kind, position and the non-zero fields.
pub(crate) fn encode_spawns<E: Encoder>(
    spawns: &[EntityState],
    e: &mut E,
) -> Result<(), EncodeError> {
    encode_len(spawns.len(), e)?;
    let mut gaps = GapEncoder::new();
    for s in spawns {
        gaps.gap(s.id)?.encode(e)?;
        s.kind.encode(e)?;
        s.x.encode(e)?;
        s.y.encode(e)?;
        encode_fields(nonzero_mask(&s.fields), &s.fields, e)?;
    }
    Ok(())
}

/// The field-change list: gap-coded id, then the mask and the values under it.
pub(crate) fn encode_field_changes<E: Encoder>(
    changes: &[FieldChange],
    e: &mut E,
) -> Result<(), EncodeError> {
    encode_len(changes.len(), e)?;
    let mut gaps = GapEncoder::new();
    for f in changes {
        if f.mask == 0 {
            return Err(EncodeError::Other("a field change must change a field"));
        }
        gaps.gap(f.id)?.encode(e)?;
        encode_fields(f.mask, &f.values, e)?;
    }
    Ok(())
}

/// Reads what [`encode_despawns`] wrote.
pub(crate) fn decode_despawns<D: Decoder>(d: &mut D) -> Result<Vec<EntityId>, DecodeError> {
    let n = decode_len::<EntityId, D>(d)?;
    let mut despawns = Vec::with_capacity(n);
    let mut ids = GapDecoder::new();
    for _ in 0..n {
        // As bincode's own Vec does: the claim bounded the allocation; the bytes each
        // entry reads are counted as they are read.
        d.unclaim_bytes_read(size_of::<EntityId>());
        despawns.push(ids.id(u64::decode(d)?)?);
    }
    Ok(despawns)
}

/// Reads what [`encode_spawns`] wrote.
pub(crate) fn decode_spawns<D: Decoder>(d: &mut D) -> Result<Vec<EntityState>, DecodeError> {
    let n = decode_len::<EntityState, D>(d)?;
    let mut spawns = Vec::with_capacity(n);
    let mut ids = GapDecoder::new();
    for _ in 0..n {
        d.unclaim_bytes_read(size_of::<EntityState>());
        let id = ids.id(u64::decode(d)?)?;
        let kind = u8::decode(d)?;
        let x = u32::decode(d)?;
        let y = u32::decode(d)?;
        let (_, fields) = decode_fields(d)?;
        spawns.push(EntityState {
            id,
            kind,
            x,
            y,
            fields,
        });
    }
    Ok(spawns)
}

/// Reads what [`encode_field_changes`] wrote.
pub(crate) fn decode_field_changes<D: Decoder>(d: &mut D) -> Result<Vec<FieldChange>, DecodeError> {
    let n = decode_len::<FieldChange, D>(d)?;
    let mut field_changes = Vec::with_capacity(n);
    let mut ids = GapDecoder::new();
    for _ in 0..n {
        d.unclaim_bytes_read(size_of::<FieldChange>());
        let id = ids.id(u64::decode(d)?)?;
        let (mask, values) = decode_fields(d)?;
        if mask == 0 {
            return Err(DecodeError::Other("a field change must change a field"));
        }
        field_changes.push(FieldChange { id, mask, values });
    }
    Ok(field_changes)
}

/// Sign-extends the low 12 bits of `v`.
fn sext12(v: u32) -> i32 {
    ((v << 20) as i32) >> 20
}

impl<Context> Decode<Context> for Delta {
    fn decode<D: Decoder<Context = Context>>(d: &mut D) -> Result<Self, DecodeError> {
        let despawns = decode_despawns(d)?;
        let spawns = decode_spawns(d)?;
        let n = decode_len::<Change, D>(d)?;
        let mut changes = Vec::with_capacity(n);
        let mut ids = GapDecoder::new();
        for _ in 0..n {
            d.unclaim_bytes_read(size_of::<Change>());
            let header = u64::decode(d)?;
            let id = ids.id(header >> 2)?;
            let (dx, dy) = match header & 3 {
                FORM_XY12 => {
                    let b = <[u8; 3]>::decode(d)?;
                    let packed = u32::from_le_bytes([b[0], b[1], b[2], 0]);
                    (sext12(packed), sext12(packed >> 12))
                }
                FORM_X16 => (i32::from(i16::from_le_bytes(<[u8; 2]>::decode(d)?)), 0),
                FORM_Y16 => (0, i32::from(i16::from_le_bytes(<[u8; 2]>::decode(d)?))),
                _ => (i32::decode(d)?, i32::decode(d)?),
            };
            if dx == 0 && dy == 0 {
                return Err(DecodeError::Other("a change must move at least one field"));
            }
            changes.push(Change { id, dx, dy });
        }
        let field_changes = decode_field_changes(d)?;
        Ok(Delta {
            despawns,
            spawns,
            changes,
            field_changes,
        })
    }
}
bincode::impl_borrow_decode!(Delta);

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: u32, kind: u8, x: u32, y: u32) -> EntityState {
        EntityState::new(EntityId(id), kind, x, y)
    }

    #[test]
    fn diff_finds_spawns_changes_and_despawns() {
        let base = [e(1, 1, 10, 10), e(2, 1, 20, 20), e(4, 0, 5, 5)];
        let cur = [e(2, 1, 25, 20), e(3, 1, 30, 30), e(4, 0, 5, 5)];
        let d = diff(&base, &cur);
        assert_eq!(d.despawns, vec![EntityId(1)], "entity 1 left");
        assert_eq!(d.spawns, vec![e(3, 1, 30, 30)], "entity 3 entered");
        assert_eq!(
            d.changes,
            vec![Change {
                id: EntityId(2),
                dx: 5,
                dy: 0
            }],
            "only entity 2 moved, only in x"
        );
    }

    #[test]
    fn kind_change_is_despawn_then_spawn() {
        let d = diff(&[e(1, 0, 1, 1)], &[e(1, 1, 1, 1)]);
        assert_eq!(d.despawns, vec![EntityId(1)], "old entity goes");
        assert_eq!(d.spawns, vec![e(1, 1, 1, 1)], "new entity comes");
    }

    #[test]
    fn only_changed_fields_are_sent() {
        let a = e(1, 1, 10, 10).with_field(0, 100).with_field(2, 7);
        let b = e(1, 1, 10, 10).with_field(0, 90).with_field(2, 7);
        let d = diff(&[a], &[b]);
        assert!(d.changes.is_empty(), "the position did not change");
        assert_eq!(
            d.field_changes,
            vec![FieldChange {
                id: EntityId(1),
                mask: 0b1,
                values: [90, 0, 0, 0, 0, 0, 0, 0],
            }],
            "only field 0 changed"
        );
        assert!(diff(&[a], &[a]).is_empty(), "unchanged fields cost nothing");
    }

    #[test]
    fn indexed_views_diff_like_copied_ones() {
        let base = [e(1, 1, 1, 1), e(2, 1, 2, 2), e(3, 1, 3, 3), e(5, 0, 5, 5)];
        let cur = [e(2, 1, 2, 9), e(3, 1, 3, 3), e(4, 1, 4, 4), e(5, 0, 5, 5)];
        let (bi, ci) = ([0u32, 1, 3], [0u32, 2, 3]);
        let copied = |s: &[EntityState], idx: &[u32]| -> Vec<EntityState> {
            idx.iter().map(|i| s[*i as usize]).collect()
        };
        let mut out = Delta::default();
        diff_into_indexed(&base, &bi, &cur, &ci, &mut out);
        assert_eq!(
            out,
            diff(&copied(&base, &bi), &copied(&cur, &ci)),
            "same delta as from copies"
        );
    }

    #[test]
    fn sign_extension() {
        assert_eq!(sext12(0xFFF), -1, "all ones is -1");
        assert_eq!(sext12(0x800), -2048, "the minimum");
        assert_eq!(sext12(0x7FF), 2047, "the maximum");
    }
}
