//! Protocol v3's delta: every position is sent as the residual from the client's own
//! prediction of it.
//!
//! A client predicts each entity it holds by extrapolating linearly from the two most recent
//! states of it that it holds, scaled by the ticks since ([`predict`]: integer arithmetic on the
//! grid, rounding half away from zero; an entity held in one state stands still). The server
//! makes the same prediction for that client and sends only the difference, the *residual*,
//! which in a game of steady motion is 0 or ±1 grid point almost always. Residuals are
//! bit-packed with a fixed prefix code ([`write_residual`]): 1 bit for (0, 0), 4 for a step of
//! one along an axis, 5 for one along a diagonal, and an escape with two Exp-Golomb codes for
//! the rest (turns, teleports). Ids of moving entities cost nothing in the *dense* form (one
//! symbol per held entity, in id order) or an Exp-Golomb gap each in the *sparse* form, which
//! the encoder picks when few entities moved. Game fields are sent as the (wrapping) difference
//! from the value the client holds. `docs/PROTOCOL.md` gives the exact bytes.
//!
//! [`diff3_into_packed`], [`diff3_into_indexed`] and [`diff3_into`] are the pure builders;
//! [`crate::Replica`] applies the result.

use bincode::de::read::Reader;
use bincode::de::{Decode, Decoder};
use bincode::enc::write::Writer;
use bincode::enc::{Encode, Encoder};
use bincode::error::{DecodeError, EncodeError};

use crate::codec::{CodecError, encode_into, varint_len};
use crate::delta::{
    decode_despawns, decode_field_changes, decode_len, decode_spawns, encode_despawns,
    encode_field_changes, encode_len, encode_spawns,
};
use crate::entity::MAX_FIELDS;
use crate::{EntityId, EntityState, FieldChange};

/// The Exp-Golomb order of an escaped residual coordinate: turns of a few units per tick cost
/// about 2 × 13 bits, small irregular residuals 2 × 8.
pub const ESCAPE_ORDER: u32 = 7;

/// Ticks since the last update are counted up to this many in a prediction, which keeps
/// `velocity × ticks` below 2^48: exact in a JavaScript number. A client is dropped long before
/// it falls this far behind.
pub const MAX_PREDICT_TICKS: u32 = 1 << 16;

/// The largest |residual| a decoder accepts: any move on the `u32` grid.
const MAX_RESIDUAL: i64 = u32::MAX as i64;

/// The position the client predicts for a coordinate it holds at `cur` and held at `prev` one
/// update earlier, `last_gap` ticks before `cur`, for an update `ticks_since` ticks after
/// `cur`: `cur + round(v × k / g)`, with `v = cur - prev`, `k = min(ticks_since, 65536)`,
/// `g = last_gap`, the division rounded half away from zero, and the result clamped to the
/// grid `0 ..= u32::MAX`. `prev == cur` (one state held, or no motion) predicts `cur`.
#[must_use]
#[inline]
pub fn predict(cur: u32, prev: u32, ticks_since: u32, last_gap: u32) -> u32 {
    let v = i64::from(cur) - i64::from(prev);
    let k = ticks_since.min(MAX_PREDICT_TICKS);
    // The usual case first, and without a branch on the entity's motion: the gap repeats (the
    // same for every entity of an update, so the branch is predicted), the step is `v`, and an
    // entity that stands still (`v == 0`) stays where it is.
    if k == last_gap {
        return (i64::from(cur) + v).clamp(0, MAX_RESIDUAL) as u32;
    }
    if v == 0 || last_gap == 0 {
        return cur;
    }
    let n = v * i64::from(k);
    let g = i64::from(last_gap);
    let q = (2 * n.abs() + g) / (2 * g);
    let step = if n < 0 { -q } else { q };
    (i64::from(cur) + step).clamp(0, MAX_RESIDUAL) as u32
}

/// One held entity whose position differs from its prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    /// The entity's position among the held entities (those the client holds after the
    /// despawns, before the spawns), in id order, from 0.
    pub index: u32,
    /// Actual x minus predicted x, in grid points.
    pub rx: i64,
    /// Actual y minus predicted y, in grid points.
    pub ry: i64,
}

/// The positions of every held entity: predictions plus these residuals.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Motion {
    /// How many entities the client holds after the despawns (a check: a mismatch is a desync).
    pub held: u32,
    /// The sparse form on the wire (gaps between moved entities) instead of the dense one (a
    /// symbol per held entity).
    pub sparse: bool,
    /// The held entities whose residual is not (0, 0), ascending by index; all others are
    /// exactly where predicted.
    pub moves: Vec<Move>,
}

/// What changed in a v3 view between two updates, in the order a client applies it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delta3 {
    /// Entities that left the view, ascending.
    pub despawns: Vec<EntityId>,
    /// The new position of every entity still held.
    pub motion: Motion,
    /// Entities that entered the view, ascending, with their full state.
    pub spawns: Vec<EntityState>,
    /// Held entities whose game fields changed: `values[i]` is the wrapping difference new −
    /// held of field `i` for each bit `i` of `mask`.
    pub field_changes: Vec<FieldChange>,
}

impl Delta3 {
    /// Empties all lists, keeping their allocations.
    pub fn clear(&mut self) {
        self.despawns.clear();
        self.motion.held = 0;
        self.motion.sparse = false;
        self.motion.moves.clear();
        self.spawns.clear();
        self.field_changes.clear();
    }
}

/// [`diff3_into_indexed`] between whole views (every entity of each slice).
pub fn diff3_into(
    pre: &[EntityState],
    base: &[EntityState],
    cur: &[EntityState],
    ticks_since: u32,
    last_gap: u32,
    out: &mut Delta3,
) {
    diff3_core(
        pre_lookup(pre.len(), |i| &pre[i]),
        (base.len(), |i| &base[i]),
        (cur.len(), |i| &cur[i]),
        ticks_since,
        last_gap,
        out,
        |_| {},
    );
}

/// The v3 delta for a client that holds view `base` (sent `last_gap` ticks after view `pre`,
/// the update before it) and is to hold view `cur`, `ticks_since` ticks after `base`. Each
/// view is a snapshot and ascending indices into it, as in [`crate::delta::diff_into_indexed`];
/// `pre` is empty when the client got `base` as its first update.
///
/// # Panics
///
/// If an index is out of its snapshot's bounds (the caller's invariant).
#[allow(clippy::too_many_arguments)]
pub fn diff3_into_indexed(
    pre: (&[EntityState], &[u32]),
    base: (&[EntityState], &[u32]),
    cur: (&[EntityState], &[u32]),
    ticks_since: u32,
    last_gap: u32,
    out: &mut Delta3,
) {
    diff3_core(
        pre_lookup(pre.1.len(), |i| &pre.0[pre.1[i] as usize]),
        (base.1.len(), |i| &base.0[base.1[i] as usize]),
        (cur.1.len(), |i| &cur.0[cur.1[i] as usize]),
        ticks_since,
        last_gap,
        out,
        |_| {},
    );
}

/// [`diff3_into_indexed`] with the previous positions packed beside the view instead of a
/// third snapshot: `prev[i]` is what the client holds as the position one update before
/// `base`'s `i`-th entity (its position in `base` when it was spawned by that update), as
/// [`crate::Replica`] keeps it. Sets `next_prev` to the same for `cur`, for the next update:
/// reading `prev` is one sequential pass over 8 bytes per entity where looking entities up
/// in the older snapshot touched a cache line each.
///
/// # Panics
///
/// If an index is out of its snapshot's bounds or `prev` is shorter than `base`'s view.
pub fn diff3_into_packed(
    prev: &[[u32; 2]],
    base: (&[EntityState], &[u32]),
    cur: (&[EntityState], &[u32]),
    ticks_since: u32,
    last_gap: u32,
    out: &mut Delta3,
    next_prev: &mut Vec<[u32; 2]>,
) {
    assert_eq!(
        prev.len(),
        base.1.len(),
        "one previous position per held entity"
    );
    next_prev.clear();
    next_prev.reserve(cur.1.len());
    diff3_core(
        |i: usize, _: &EntityState| prev[i],
        (base.1.len(), |i| &base.0[base.1[i] as usize]),
        (cur.1.len(), |i| &cur.0[cur.1[i] as usize]),
        ticks_since,
        last_gap,
        out,
        |p| next_prev.push(p),
    );
}

/// The snapshots a client's view moves between when they list the same entities (the same
/// ids and kinds at the same indices), for [`diff3_into_aligned`].
#[derive(Debug, Clone, Copy)]
pub struct Aligned<'a> {
    /// The base snapshot's entities (read only for game fields when `fields_changed` is
    /// `None`).
    pub base: &'a [EntityState],
    /// `base_pos[i]` is `base[i]`'s position.
    pub base_pos: &'a [[u32; 2]],
    /// The positions in the snapshot the client was sent the update before the base, of the
    /// same layout; `None` when the base was its first update.
    pub pre_pos: Option<&'a [[u32; 2]]>,
    /// The new snapshot's entities.
    pub cur: &'a [EntityState],
    /// `cur_pos[i]` is `cur[i]`'s position.
    pub cur_pos: &'a [[u32; 2]],
    /// When known, bit `i` is set exactly when entity `i`'s game fields differ between `base`
    /// and `cur`; `None`: they are compared.
    pub fields_changed: Option<&'a [u64]>,
}

/// What the client holds for [`diff3_into_aligned`]: the view it was last sent and which of
/// its entities that update spawned, both as ascending indices.
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    /// Ascending indices into the base snapshot.
    pub view: &'a [u32],
    /// The entities of `view` that the base update spawned: they stand still in the
    /// prediction; every other one moved from its position in the update before.
    pub spawned: &'a [u32],
}

/// [`diff3_into_packed`] when the snapshots a client's prediction spans (the one before its
/// base, the base and the new one) have one layout (the same ids and kinds at the same
/// indices): the merge compares indices alone, and positions come from the snapshots' packed
/// arrays, which every client of the tick reads (so they stay in the cache), instead of
/// positions each client keeps; the entities themselves are read only for spawns, despawns'
/// ids and changed fields. The result is exactly [`diff3_into_packed`]'s. Sets
/// `next_spawned` to the indices this update spawns, the next update's [`Held::spawned`].
///
/// # Panics
///
/// If an index is out of bounds (the caller's invariant).
#[allow(clippy::too_many_arguments)]
pub fn diff3_into_aligned(
    snaps: Aligned<'_>,
    held: Held<'_>,
    found: &[u32],
    ticks_since: u32,
    last_gap: u32,
    out: &mut Delta3,
    next_spawned: &mut Vec<u32>,
) {
    out.clear();
    out.motion.moves.reserve(held.view.len());
    next_spawned.clear();
    let io = (out, next_spawned);
    if ticks_since.min(MAX_PREDICT_TICKS) == last_gap {
        aligned_merge::<true>(snaps, held, found, ticks_since, last_gap, io);
    } else {
        aligned_merge::<false>(snaps, held, found, ticks_since, last_gap, io);
    }
}

/// [`diff3_into_aligned`]'s merge, compiled for the steady prediction as [`diff3_merge`].
#[inline(always)]
fn aligned_merge<const STEADY: bool>(
    s: Aligned<'_>,
    held: Held<'_>,
    found: &[u32],
    k: u32,
    g: u32,
    (out, next_spawned): (&mut Delta3, &mut Vec<u32>),
) {
    let predict = |cur: u32, prev: u32| {
        if STEADY {
            (2 * i64::from(cur) - i64::from(prev)).clamp(0, MAX_RESIDUAL) as u32
        } else {
            predict(cur, prev, k, g)
        }
    };
    let pre_pos = s.pre_pos.unwrap_or(s.base_pos);
    let (nb, nc) = (held.view.len(), found.len());
    let (mut i, mut j, mut sp) = (0, 0, 0);
    let mut count = 0u32;
    while i < nb && j < nc {
        let (b, c) = (held.view[i], found[j]);
        if b == c {
            while sp < held.spawned.len() && held.spawned[sp] < c {
                sp += 1;
            }
            let fresh = sp < held.spawned.len() && held.spawned[sp] == c;
            let c = c as usize;
            let [bx, by] = s.base_pos[c];
            let [px, py] = if fresh { [bx, by] } else { pre_pos[c] };
            let [cx, cy] = s.cur_pos[c];
            let rx = i64::from(cx) - i64::from(predict(bx, px));
            let ry = i64::from(cy) - i64::from(predict(by, py));
            push_move(&mut out.motion.moves, count, rx, ry);
            let changed = match s.fields_changed {
                Some(bits) => bits[c / 64] >> (c % 64) & 1 == 1,
                None => s.base[c].fields != s.cur[c].fields,
            };
            if changed {
                let (bs, cs) = (&s.base[c], &s.cur[c]);
                out.field_changes
                    .push(field_delta(cs.id, &bs.fields, &cs.fields));
            }
            count += 1;
            i += 1;
            j += 1;
        } else if b < c {
            out.despawns.push(s.cur[b as usize].id);
            i += 1;
        } else {
            out.spawns.push(s.cur[c as usize]);
            next_spawned.push(c);
            j += 1;
        }
    }
    for &b in &held.view[i..] {
        out.despawns.push(s.cur[b as usize].id);
    }
    for &c in &found[j..] {
        out.spawns.push(s.cur[c as usize]);
        next_spawned.push(c);
    }
    out.motion.held = count;
    out.motion.sparse = sparse_is_smaller(&out.motion);
}

/// The previous position of `base`'s entities looked up in the view `pre` (ascending ids):
/// a merge, so the calls must come in ascending order of id. An entity not in `pre`, or of
/// another kind there, is held in one state and stands still.
#[inline(always)]
fn pre_lookup<'a>(
    np: usize,
    p: impl Fn(usize) -> &'a EntityState,
) -> impl FnMut(usize, &EntityState) -> [u32; 2] {
    let mut ip = 0;
    move |_, bs| {
        while ip < np && p(ip).id < bs.id {
            ip += 1;
        }
        match (ip < np).then(|| p(ip)) {
            Some(ps) if ps.id == bs.id && ps.kind == bs.kind => [ps.x, ps.y],
            _ => [bs.x, bs.y],
        }
    }
}

/// The merge of `base` and `cur` into `out`. `prev_of(i, base_i)` gives the previous
/// position of `base`'s `i`-th entity (called once per held entity, in order); `keep(p)` is
/// called once per entity of `cur`, in order, with the position that will be its previous
/// one after this update (its position in `base` if held on, its own if spawned).
#[inline(always)]
fn diff3_core<'b, 'c>(
    prev_of: impl FnMut(usize, &EntityState) -> [u32; 2],
    b: (usize, impl Fn(usize) -> &'b EntityState),
    c: (usize, impl Fn(usize) -> &'c EntityState),
    k: u32,
    g: u32,
    out: &mut Delta3,
    keep: impl FnMut([u32; 2]),
) {
    out.clear();
    out.motion.moves.reserve(b.0);
    // Updates a tick apart after updates a tick apart (the usual case) predict one step of the
    // last motion for every entity: the merge is compiled for that case without the branch.
    if k.min(MAX_PREDICT_TICKS) == g {
        diff3_merge::<true>(prev_of, b, c, k, g, out, keep);
    } else {
        diff3_merge::<false>(prev_of, b, c, k, g, out, keep);
    }
}

/// [`diff3_core`]'s merge; `STEADY` when `min(k, MAX_PREDICT_TICKS) == g`, so that
/// [`predict`] is `cur + (cur - prev)`, clamped to the grid.
#[inline(always)]
fn diff3_merge<'b, 'c, const STEADY: bool>(
    mut prev_of: impl FnMut(usize, &EntityState) -> [u32; 2],
    (nb, b): (usize, impl Fn(usize) -> &'b EntityState),
    (nc, c): (usize, impl Fn(usize) -> &'c EntityState),
    k: u32,
    g: u32,
    out: &mut Delta3,
    mut keep: impl FnMut([u32; 2]),
) {
    let predict = |cur: u32, prev: u32| {
        if STEADY {
            (2 * i64::from(cur) - i64::from(prev)).clamp(0, MAX_RESIDUAL) as u32
        } else {
            predict(cur, prev, k, g)
        }
    };
    let (mut i, mut j) = (0, 0);
    let mut held = 0u32;
    loop {
        match (i < nb, j < nc) {
            (true, true) => {
                let (bs, cs) = (b(i), c(j));
                if bs.id == cs.id {
                    if bs.kind != cs.kind {
                        out.despawns.push(bs.id);
                        out.spawns.push(*cs);
                        keep([cs.x, cs.y]);
                    } else {
                        let [px, py] = prev_of(i, bs);
                        let rx = i64::from(cs.x) - i64::from(predict(bs.x, px));
                        let ry = i64::from(cs.y) - i64::from(predict(bs.y, py));
                        push_move(&mut out.motion.moves, held, rx, ry);
                        if bs.fields != cs.fields {
                            out.field_changes
                                .push(field_delta(cs.id, &bs.fields, &cs.fields));
                        }
                        keep([bs.x, bs.y]);
                        held += 1;
                    }
                    i += 1;
                    j += 1;
                } else if bs.id < cs.id {
                    out.despawns.push(bs.id);
                    i += 1;
                } else {
                    out.spawns.push(*cs);
                    keep([cs.x, cs.y]);
                    j += 1;
                }
            }
            (true, false) => {
                out.despawns.push(b(i).id);
                i += 1;
            }
            (false, true) => {
                let cs = c(j);
                out.spawns.push(*cs);
                keep([cs.x, cs.y]);
                j += 1;
            }
            (false, false) => break,
        }
    }
    out.motion.held = held;
    out.motion.sparse = sparse_is_smaller(&out.motion);
}

/// Records the residual of the held entity `index`, kept only if it is not (0, 0), without a
/// branch on it (it mispredicts): the move is written, then dropped again when it is zero.
#[inline(always)]
fn push_move(moves: &mut Vec<Move>, index: u32, rx: i64, ry: i64) {
    moves.push(Move { index, rx, ry });
    moves.truncate(moves.len() - usize::from(rx | ry == 0));
}

/// True when gaps cost fewer bits than a zero symbol per unmoved entity.
fn sparse_is_smaller(m: &Motion) -> bool {
    let zeros = u64::from(m.held) - m.moves.len() as u64;
    let mut gaps = varint_len(m.moves.len() as u64) * 8;
    let mut next = 0;
    for mv in &m.moves {
        gaps += eg_len(u64::from(mv.index - next), 0);
        next = mv.index + 1;
        if gaps >= zeros {
            return false;
        }
    }
    gaps < zeros
}

fn field_delta(id: EntityId, old: &[i32; MAX_FIELDS], new: &[i32; MAX_FIELDS]) -> FieldChange {
    let mut mask = 0u8;
    let mut values = [0; MAX_FIELDS];
    for i in 0..MAX_FIELDS {
        if old[i] != new[i] {
            mask |= 1 << i;
            values[i] = new[i].wrapping_sub(old[i]);
        }
    }
    FieldChange { id, mask, values }
}

// ---- bits ----

/// Where a [`BitWriter`] puts its bytes.
pub trait BitSink {
    /// Appends `bytes`.
    fn put_bytes(&mut self, bytes: &[u8]) -> Result<(), EncodeError>;
}

impl BitSink for Vec<u8> {
    fn put_bytes(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

impl BitSink for &mut Vec<u8> {
    fn put_bytes(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

/// A bincode writer as a [`BitSink`]: bits go straight into the message being encoded. It
/// counts them, for a check against the length written before them.
struct WriterSink<'a, W: Writer>(&'a mut W, usize);

impl<W: Writer> BitSink for WriterSink<'_, W> {
    fn put_bytes(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        self.1 += bytes.len();
        self.0.write(bytes)
    }
}

/// Bytes a [`BitWriter`] gathers on the stack before it hands them to its sink.
const BIT_CHUNK: usize = 128;

/// Appends bits most significant first, through a small buffer on the stack: encoding an
/// update's motion allocates nothing.
#[derive(Debug)]
pub struct BitWriter<S: BitSink> {
    sink: S,
    buf: [u8; BIT_CHUNK],
    len: usize,
    acc: u64,
    n: u32,
}

impl<S: BitSink> BitWriter<S> {
    /// An empty writer into `sink`.
    pub fn new(sink: S) -> Self {
        Self {
            sink,
            buf: [0; BIT_CHUNK],
            len: 0,
            acc: 0,
            n: 0,
        }
    }

    /// Moves the 32 oldest of the bits held to the buffer.
    #[inline]
    fn flush_word(&mut self) -> Result<(), EncodeError> {
        if self.len + 4 > BIT_CHUNK {
            self.sink.put_bytes(&self.buf[..self.len])?;
            self.len = 0;
        }
        self.n -= 32;
        let word = (self.acc >> self.n) as u32;
        self.buf[self.len..self.len + 4].copy_from_slice(&word.to_be_bytes());
        self.len += 4;
        Ok(())
    }

    /// Appends the low `count` (≤ 32) bits of `bits`.
    #[inline(always)]
    pub fn put(&mut self, bits: u64, count: u32) -> Result<(), EncodeError> {
        debug_assert!(count <= 32 && self.n < 32);
        if count == 0 {
            return Ok(());
        }
        // Fewer than 32 bits are held, so 63 fit; bits above them were flushed already.
        self.acc = (self.acc << count) | (bits & ((1u64 << count) - 1));
        self.n += count;
        if self.n >= 32 {
            self.flush_word()?;
        }
        Ok(())
    }

    /// Appends the low `count` (≤ 64) bits of `bits`.
    pub fn put_long(&mut self, bits: u64, count: u32) -> Result<(), EncodeError> {
        if count > 32 {
            self.put(bits >> 32, count - 32)?;
            self.put(bits & 0xFFFF_FFFF, 32)
        } else {
            self.put(bits, count)
        }
    }

    /// Appends `count` zero bits (a run of unmoved entities in the dense form).
    pub fn put_zeros(&mut self, mut count: u64) -> Result<(), EncodeError> {
        while count > 0 {
            let c = count.min(32) as u32;
            self.put(0, c)?;
            count -= u64::from(c);
        }
        Ok(())
    }

    /// Pads the last byte with zero bits, hands everything to the sink and returns it.
    pub fn finish(mut self) -> Result<S, EncodeError> {
        let tail = self.n.div_ceil(8) as usize;
        let word = ((self.acc << (32 - self.n)) as u32).to_be_bytes();
        self.sink.put_bytes(&self.buf[..self.len])?;
        self.sink.put_bytes(&word[..tail])?;
        Ok(self.sink)
    }
}

/// Reads bits most significant first from a byte slice.
#[derive(Debug)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    next: usize,
    acc: u64,
    n: u32,
    used: usize,
}

fn malformed(what: &'static str) -> DecodeError {
    DecodeError::Other(what)
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `bytes`.
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            next: 0,
            acc: 0,
            n: 0,
            used: 0,
        }
    }

    /// Tops the buffer up to at least 57 bits; zeros past the end (caught by [`Self::done`] and
    /// by [`Self::take`]).
    ///
    /// Away from the end of the section it is one 8-byte load and no branch on the bits held:
    /// the whole bytes that fit are counted as held, and the bits of the next, partly loaded
    /// byte sit below them, where the next refill ORs the same bits in again (Giesen's "bit
    /// readers, variant 4"; `next * 8 == used + n` throughout).
    #[inline]
    fn refill(&mut self) {
        if let Some(chunk) = self.bytes.get(self.next..self.next + 8) {
            let word = u64::from_be_bytes(chunk.try_into().expect("8 bytes"));
            self.acc |= word >> self.n;
            self.next += ((63 - self.n) >> 3) as usize;
            self.n |= 56;
            return;
        }
        while self.n <= 56 {
            let byte = self.bytes.get(self.next).copied().unwrap_or(0);
            self.acc |= u64::from(byte) << (56 - self.n);
            self.n += 8;
            self.next += 1;
        }
    }

    #[inline]
    fn peek(&mut self, count: u32) -> u64 {
        self.refill();
        self.acc >> (64 - count)
    }

    /// Consumes `count` bits. Reading past the end reads zeros and is caught once, by
    /// [`Self::done`]: every loop over codes is bounded by a count the decoder checked, so
    /// the hot path carries no error.
    #[inline]
    fn skip(&mut self, count: u32) {
        self.acc <<= count;
        self.n -= count;
        self.used += count as usize;
    }

    /// Reads `count` (1 ..= 48) bits.
    #[inline]
    pub fn take(&mut self, count: u32) -> u64 {
        let v = self.peek(count);
        self.skip(count);
        v
    }

    /// Reads an Exp-Golomb code of order `k`.
    pub fn exp_golomb(&mut self, k: u32) -> Result<u64, DecodeError> {
        self.refill();
        let zeros = self.acc.leading_zeros();
        if zeros > 34 {
            return Err(malformed("Exp-Golomb code too long"));
        }
        self.skip(zeros);
        let m = self.take(zeros + k + 1);
        Ok(m - (1u64 << k))
    }

    /// Checks that the codes ended inside the section, every byte was used and the padding
    /// bits are zero.
    pub fn done(mut self) -> Result<(), DecodeError> {
        if self.used > self.bytes.len() * 8 {
            return Err(malformed("bit section truncated"));
        }
        let pad = (8 - self.used % 8) % 8;
        if pad > 0 && self.take(pad as u32) != 0 {
            return Err(malformed("non-zero padding bits"));
        }
        if self.used != self.bytes.len() * 8 {
            return Err(malformed("bytes left in the bit section"));
        }
        Ok(())
    }
}

fn eg_len(n: u64, k: u32) -> u64 {
    let m = n + (1u64 << k);
    let b = 64 - u64::from(m.leading_zeros());
    2 * b - u64::from(k) - 1
}

/// Writes an Exp-Golomb code of order `k`: `m = n + 2^k` in binary, after as many zero bits as
/// `m` has bits beyond `k + 1`.
///
/// The zeros are `m`'s own leading zeros when it is written `2b - k - 1` bits wide (`b` its
/// width): one `put` for the codes of a few dozen bits that residuals use.
#[inline]
pub fn write_exp_golomb<S: BitSink>(
    w: &mut BitWriter<S>,
    n: u64,
    k: u32,
) -> Result<(), EncodeError> {
    let m = n + (1u64 << k);
    let b = 64 - m.leading_zeros();
    let len = 2 * b - k - 1;
    if len <= 32 {
        w.put(m, len)
    } else {
        w.put_long(0, b - k - 1)?;
        w.put_long(m, b)
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Writes one residual: `0` for (0, 0); `10ab` for a step along an axis (ab: 00 = +x, 01 = −x,
/// 10 = +y, 11 = −y); `110ab` for a diagonal step (a: x is −1, b: y is −1); `111` then the
/// zigzag of x and of y, each as an Exp-Golomb code of order [`ESCAPE_ORDER`], for the rest.
#[inline]
pub fn write_residual<S: BitSink>(
    w: &mut BitWriter<S>,
    rx: i64,
    ry: i64,
) -> Result<(), EncodeError> {
    write_residual_after_zeros(w, 0, rx, ry)
}

/// The codes of the residuals within ±1 on both axes, `(code, bits)`, at `(rx + 1) * 3 + ry + 1`:
/// one lookup instead of a branch per case (residuals are irregular, so branches on them
/// mispredict).
const SMALL_CODES: [(u8, u8); 9] = [
    (0b11011, 5), // (-1, -1)
    (0b1001, 4),  // (-1, 0)
    (0b11010, 5), // (-1, 1)
    (0b1011, 4),  // (0, -1)
    (0, 1),       // (0, 0)
    (0b1010, 4),  // (0, 1)
    (0b11001, 5), // (1, -1)
    (0b1000, 4),  // (1, 0)
    (0b11000, 5), // (1, 1)
];

/// The entry of [`SMALL_CODES`] for a residual within ±1 on both axes.
#[inline]
fn small_code(rx: i64, ry: i64) -> Option<(u8, u8)> {
    let (x, y) = (rx.wrapping_add(1) as u64, ry.wrapping_add(1) as u64);
    (x <= 2 && y <= 2).then(|| SMALL_CODES[(x * 3 + y) as usize])
}

/// `zeros` zero bits (the unmoved entities before this one in the dense form), then the
/// residual: one `put` for both when they fit in 32 bits, as they almost always do. That case
/// is inlined into the caller's loop; the others are a call.
#[inline(always)]
fn write_residual_after_zeros<S: BitSink>(
    w: &mut BitWriter<S>,
    zeros: u32,
    rx: i64,
    ry: i64,
) -> Result<(), EncodeError> {
    match small_code(rx, ry) {
        Some((code, bits)) if zeros + u32::from(bits) <= 32 => {
            w.put(u64::from(code), zeros + u32::from(bits))
        }
        _ => write_residual_after_many_zeros_or_escaped(w, zeros, rx, ry),
    }
}

/// [`write_residual_after_zeros`] for a residual that needs an escape or follows more zeros
/// than fit in one `put` with it.
#[inline(never)]
fn write_residual_after_many_zeros_or_escaped<S: BitSink>(
    w: &mut BitWriter<S>,
    zeros: u32,
    rx: i64,
    ry: i64,
) -> Result<(), EncodeError> {
    w.put_zeros(u64::from(zeros))?;
    match small_code(rx, ry) {
        Some((code, bits)) => w.put(u64::from(code), u32::from(bits)),
        None => {
            w.put(0b111, 3)?;
            write_exp_golomb(w, zigzag(rx), ESCAPE_ORDER)?;
            write_exp_golomb(w, zigzag(ry), ESCAPE_ORDER)
        }
    }
}

/// The bits [`write_residual`] writes for a residual.
#[must_use]
#[inline]
pub fn residual_len(rx: i64, ry: i64) -> u64 {
    match small_code(rx, ry) {
        Some((_, bits)) => u64::from(bits),
        None => 3 + eg_len(zigzag(rx), ESCAPE_ORDER) + eg_len(zigzag(ry), ESCAPE_ORDER),
    }
}

/// What the first five bits of a residual code say: its length in bits and the residual, or
/// a length of 0 for an escape. One lookup instead of a branch per prefix: residuals are
/// irregular, so a decision tree mispredicts about once per entity.
const RESIDUAL_CODES: [(u8, i8, i8); 32] = {
    let mut t = [(0u8, 0i8, 0i8); 32];
    let mut p = 0;
    while p < 32 {
        t[p] = if p < 0b10000 {
            (1, 0, 0)
        } else if p < 0b11000 {
            let (x, y) = [(1, 0), (-1, 0), (0, 1), (0, -1)][(p >> 1) & 3];
            (4, x, y)
        } else if p < 0b11100 {
            (
                5,
                if p & 2 != 0 { -1 } else { 1 },
                if p & 1 != 0 { -1 } else { 1 },
            )
        } else {
            (0, 0, 0)
        };
        p += 1;
    }
    t
};

/// Reads one residual written by [`write_residual`].
#[inline]
pub fn read_residual(r: &mut BitReader<'_>) -> Result<(i64, i64), DecodeError> {
    let (len, x, y) = RESIDUAL_CODES[r.peek(5) as usize];
    if len != 0 {
        r.skip(u32::from(len));
        Ok((i64::from(x), i64::from(y)))
    } else {
        r.skip(3);
        let x = r.exp_golomb(ESCAPE_ORDER)?;
        let y = r.exp_golomb(ESCAPE_ORDER)?;
        let (rx, ry) = (unzigzag(x), unzigzag(y));
        if rx.abs() > MAX_RESIDUAL || ry.abs() > MAX_RESIDUAL {
            return Err(malformed("residual beyond the grid"));
        }
        Ok((rx, ry))
    }
}

// ---- bytes ----

impl Motion {
    /// Checks the order of the moves and returns the length of the bit section in bits.
    fn bit_len(&self) -> Result<u64, EncodeError> {
        let mut bits = 0u64;
        let mut next = 0u32;
        for m in &self.moves {
            if m.index < next || m.index >= self.held || (self.sparse && m.rx == 0 && m.ry == 0) {
                return Err(EncodeError::Other(
                    "moves out of order, past held, or empty",
                ));
            }
            bits += residual_len(m.rx, m.ry);
            if self.sparse {
                bits += eg_len(u64::from(m.index - next), 0);
            }
            next = m.index + 1;
        }
        if !self.sparse {
            bits += u64::from(self.held) - self.moves.len() as u64;
        }
        Ok(bits)
    }
}

impl Encode for Motion {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        self.encode_tag(e)?;
        // The length comes first, so it is counted, and the bits then go straight into the
        // message: nothing is allocated per update.
        let len = u32::try_from(self.bit_len()?.div_ceil(8))
            .map_err(|_| EncodeError::Other("bit section too long"))?;
        len.encode(e)?;
        let sink = self.write_bits(BitWriter::new(WriterSink(e.writer(), 0)))?;
        debug_assert_eq!(
            sink.1, len as usize,
            "the bit section has the length written"
        );
        Ok(())
    }
}

impl Motion {
    /// The held count with the form, then (sparse) the number of moves.
    fn encode_tag<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        let tag = (u64::from(self.held) << 1) | u64::from(self.sparse);
        u32::try_from(tag)
            .map_err(|_| EncodeError::Other("too many held entities"))?
            .encode(e)?;
        if self.sparse {
            encode_len(self.moves.len(), e)?;
        }
        Ok(())
    }

    /// Writes the bit section (without its length) and returns the sink. Refuses what
    /// [`Motion::bit_len`] refuses, so that a writer that did not count first still checks.
    #[inline]
    fn write_bits<S: BitSink>(&self, mut w: BitWriter<S>) -> Result<S, EncodeError> {
        let mut next = 0u32;
        for m in &self.moves {
            if m.index < next || m.index >= self.held || (self.sparse && m.rx == 0 && m.ry == 0) {
                return Err(EncodeError::Other(
                    "moves out of order, past held, or empty",
                ));
            }
            if self.sparse {
                write_exp_golomb(&mut w, u64::from(m.index - next), 0)?;
                write_residual(&mut w, m.rx, m.ry)?;
            } else {
                write_residual_after_zeros(&mut w, m.index - next, m.rx, m.ry)?;
            }
            next = m.index + 1;
        }
        if !self.sparse {
            w.put_zeros(u64::from(self.held - next))?;
        }
        w.finish()
    }
}

/// Appends `delta` to `out` exactly as its [`Encode`] implementation would, a little faster:
/// the motion's bits are written first, straight into `out`, and their length is put in front
/// of them after, instead of being counted in a pass of its own. The server builds every
/// per-client update body with it.
///
/// # Errors
///
/// What encoding `delta` refuses (lists out of order or too long).
pub fn encode_delta3_into(delta: &Delta3, out: &mut Vec<u8>) -> Result<(), CodecError> {
    /// The parts of a [`Delta3`] around its motion's bit section, for bincode.
    struct Head<'a>(&'a Delta3);
    impl Encode for Head<'_> {
        fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
            encode_despawns(&self.0.despawns, e)?;
            self.0.motion.encode_tag(e)
        }
    }
    struct Tail<'a>(&'a Delta3);
    impl Encode for Tail<'_> {
        fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
            encode_spawns(&self.0.spawns, e)?;
            encode_field_changes(&self.0.field_changes, e)
        }
    }
    encode_into(&Head(delta), out)?;
    // One byte for the length, which is all a section of up to 250 bytes takes; a longer one
    // moves its bits to make room for the rest.
    let at = out.len();
    out.push(0);
    let out = delta
        .motion
        .write_bits(BitWriter::new(out))
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    let len = out.len() - at - 1;
    if len <= 250 {
        out[at] = len as u8;
    } else {
        let len =
            u32::try_from(len).map_err(|_| CodecError::Encode("bit section too long".into()))?;
        let mut prefix = Vec::with_capacity(5);
        encode_into(&len, &mut prefix)?;
        out.splice(at..=at, prefix);
    }
    encode_into(&Tail(delta), out)
}

impl<Context> Decode<Context> for Motion {
    fn decode<D: Decoder<Context = Context>>(d: &mut D) -> Result<Self, DecodeError> {
        let tag = u32::decode(d)?;
        let (held, sparse) = (tag >> 1, tag & 1 == 1);
        if held as usize > crate::delta::MAX_LIST_LEN {
            return Err(malformed("more held entities than a view holds"));
        }
        let count = if sparse { decode_len::<Move, D>(d)? } else { 0 };
        let len = u32::decode(d)? as usize;
        d.claim_bytes_read(len)?;
        // Read the bits where they lie when the reader holds the message (a slice: every
        // decode of a received frame); copy them only from a streaming reader.
        let motion = match d.reader().peek_read(len) {
            Some(bytes) => decode_bits(bytes, held, sparse, count)?,
            None => {
                let mut bytes = vec![0u8; len];
                d.reader().read(&mut bytes)?;
                return decode_bits(&bytes, held, sparse, count);
            }
        };
        d.reader().consume(len);
        Ok(motion)
    }
}
bincode::impl_borrow_decode!(Motion);

/// The moves of a motion's bit section.
fn decode_bits(bytes: &[u8], held: u32, sparse: bool, count: usize) -> Result<Motion, DecodeError> {
    let mut r = BitReader::new(bytes);
    // A move takes at least 4 bits: one allocation, of at most what the section can hold.
    let mut moves = Vec::with_capacity(if sparse {
        count.min(bytes.len() * 2)
    } else {
        (bytes.len() * 2).min(held as usize)
    });
    if sparse {
        let mut next = 0u64;
        for _ in 0..count {
            let index = next + r.exp_golomb(0)?;
            if index >= u64::from(held) {
                return Err(malformed("sparse move past the held entities"));
            }
            let (rx, ry) = read_residual(&mut r)?;
            if rx == 0 && ry == 0 {
                return Err(malformed("sparse move that moves nothing"));
            }
            moves.push(Move {
                index: index as u32,
                rx,
                ry,
            });
            next = index + 1;
        }
    } else {
        for index in 0..held {
            let (rx, ry) = read_residual(&mut r)?;
            // Kept only if not (0, 0), without a branch on it (it mispredicts).
            moves.push(Move { index, rx, ry });
            moves.truncate(moves.len() - usize::from(rx | ry == 0));
        }
    }
    r.done()?;
    Ok(Motion {
        held,
        sparse,
        moves,
    })
}

impl Encode for Delta3 {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        encode_despawns(&self.despawns, e)?;
        self.motion.encode(e)?;
        encode_spawns(&self.spawns, e)?;
        encode_field_changes(&self.field_changes, e)
    }
}

impl<Context> Decode<Context> for Delta3 {
    fn decode<D: Decoder<Context = Context>>(d: &mut D) -> Result<Self, DecodeError> {
        let despawns = decode_despawns(d)?;
        let motion = Motion::decode(d)?;
        let spawns = decode_spawns(d)?;
        let field_changes = decode_field_changes(d)?;
        Ok(Delta3 {
            despawns,
            motion,
            spawns,
            field_changes,
        })
    }
}
bincode::impl_borrow_decode!(Delta3);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prediction_extrapolates_and_rounds_half_away_from_zero() {
        assert_eq!(predict(100, 90, 1, 1), 110, "one tick after one tick");
        assert_eq!(
            predict(100, 90, 2, 1),
            120,
            "a skipped tick doubles the step"
        );
        assert_eq!(predict(100, 95, 1, 2), 103, "2.5 rounds to 3");
        assert_eq!(predict(100, 105, 1, 2), 97, "-2.5 rounds to -3");
        assert_eq!(predict(100, 93, 1, 3), 102, "7/3 = 2.33 rounds to 2");
        assert_eq!(predict(100, 100, 5, 1), 100, "no motion stands still");
        assert_eq!(predict(5, 20, 1, 1), 0, "clamped at 0");
        assert_eq!(
            predict(u32::MAX - 1, u32::MAX - 11, 1, 1),
            u32::MAX,
            "clamped at the top"
        );
        assert_eq!(
            predict(1000, 0, u32::MAX, 1),
            1000 + 1000 * 65_536,
            "ticks are capped"
        );
    }

    #[test]
    fn residuals_round_trip_through_bits() {
        let samples = [
            (0, 0),
            (1, 0),
            (-1, 0),
            (0, 1),
            (0, -1),
            (1, 1),
            (-1, 1),
            (1, -1),
            (-1, -1),
            (2, 0),
            (-320, 320),
            (MAX_RESIDUAL, -MAX_RESIDUAL),
        ];
        let mut w = BitWriter::new(Vec::new());
        for (x, y) in samples {
            write_residual(&mut w, x, y).expect("a Vec takes bits");
        }
        let bytes = w.finish().expect("a Vec takes bits");
        let mut r = BitReader::new(&bytes);
        for s in samples {
            assert_eq!(read_residual(&mut r).expect("decodes"), s, "residual {s:?}");
        }
        r.done().expect("nothing left over");
    }

    /// A random view of up to `n` entities: ids with gaps, some fields set.
    fn random_view(rng: &mut crate::Mulberry32, n: u32) -> Vec<EntityState> {
        let mut id = 0;
        (0..rng.next_u32() % (n + 1))
            .map(|_| {
                id += 1 + rng.next_u32() % 3;
                let mut e = EntityState::new(
                    EntityId(id),
                    1 + (rng.next_u32() % 8 == 0) as u8,
                    rng.next_u32() % 5_000,
                    rng.next_u32() % 5_000,
                );
                e.fields[rng.next_u32() as usize % MAX_FIELDS] = (rng.next_u32() % 4) as i32;
                e
            })
            .collect()
    }

    #[test]
    fn the_direct_encoder_writes_the_bytes_of_encode() {
        let mut rng = crate::Mulberry32::new(16);
        let mut delta = Delta3::default();
        let (mut direct, mut reference) = (Vec::new(), Vec::new());
        // Sparse forms, dense forms, escapes, bit sections past 250 bytes.
        let mut seen = [0u32; 4];
        for round in 0..2_000 {
            // Small and large views (a bit section past 250 bytes takes a 3-byte length), near
            // and far moves (escapes), few and many moves (sparse and dense forms).
            let n = [8, 100, 1_500][round % 3];
            let mut base = random_view(&mut rng, n);
            // A client that held `base` before too predicts that nothing moves: with few
            // moves, the sparse form.
            let still = round % 2 == 0;
            let pre = if still {
                base.clone()
            } else {
                random_view(&mut rng, n)
            };
            let mut cur = base.clone();
            let jitter = [2, 3, 400][(round / 3) % 3];
            for e in &mut cur {
                if !still || rng.next_u32() % 40 == 0 {
                    e.x =
                        e.x.wrapping_add(rng.next_u32() % jitter)
                            .wrapping_sub(jitter / 2);
                    e.y =
                        e.y.wrapping_add(rng.next_u32() % jitter)
                            .wrapping_sub(jitter / 2);
                }
            }
            cur.retain(|_| rng.next_u32() % 10 != 0);
            base.retain(|_| rng.next_u32() % 10 != 0);
            diff3_into(&pre, &base, &cur, 1 + round as u32 % 3, 1, &mut delta);
            let m = &delta.motion;
            seen[0] += u32::from(m.sparse && !m.moves.is_empty());
            seen[1] += u32::from(!m.sparse && !m.moves.is_empty());
            seen[2] += u32::from(m.moves.iter().any(|m| residual_len(m.rx, m.ry) > 5));
            seen[3] += u32::from(m.bit_len().expect("valid") > 8 * 250);
            direct.clear();
            reference.clear();
            direct.push(0xAA);
            reference.push(0xAA);
            encode_delta3_into(&delta, &mut direct).expect("a valid delta encodes");
            encode_into(&delta, &mut reference).expect("a valid delta encodes");
            assert_eq!(direct, reference, "round {round}: the same bytes as Encode");
        }
        assert!(
            seen.iter().all(|&n| n > 50),
            "every case is covered: {seen:?}"
        );
    }

    #[test]
    fn dense_runs_longer_than_a_put_round_trip() {
        let mv = |index, rx, ry| Move { index, rx, ry };
        let delta = Delta3 {
            motion: Motion {
                held: 200,
                sparse: false,
                // 40 zeros before a step, 49 before an escape, 29 before a diagonal step (34
                // bits with it), none before an escape, and 69 to end with.
                moves: vec![
                    mv(40, 1, 0),
                    mv(90, -300, 7),
                    mv(120, -1, -1),
                    mv(121, 2, 0),
                ],
            },
            ..Delta3::default()
        };
        let (mut direct, mut reference) = (Vec::new(), Vec::new());
        encode_delta3_into(&delta, &mut direct).expect("encodes");
        encode_into(&delta, &mut reference).expect("encodes");
        assert_eq!(direct, reference, "the same bytes as Encode");
        let (back, used): (Delta3, usize) =
            bincode::decode_from_slice(&reference, bincode::config::standard()).expect("decodes");
        assert_eq!(used, reference.len(), "every byte read");
        assert_eq!(back, delta, "the delta round-trips");
    }

    #[test]
    fn the_direct_encoder_refuses_what_encode_refuses() {
        let mut delta = Delta3::default();
        delta.motion.held = 3;
        delta.motion.moves = vec![
            Move {
                index: 2,
                rx: 1,
                ry: 0,
            },
            Move {
                index: 1,
                rx: 1,
                ry: 0,
            },
        ];
        assert!(
            encode_delta3_into(&delta, &mut Vec::new()).is_err(),
            "moves out of order"
        );
        assert!(
            encode_into(&delta, &mut Vec::new()).is_err(),
            "moves out of order (Encode)"
        );
        delta.motion.moves = vec![Move {
            index: 3,
            rx: 1,
            ry: 0,
        }];
        assert!(
            encode_delta3_into(&delta, &mut Vec::new()).is_err(),
            "a move past the held entities"
        );
    }

    #[test]
    fn sparse_is_chosen_when_few_moved() {
        let e = |id, x| EntityState::new(EntityId(id), 1, x, 0);
        let base: Vec<_> = (0..100).map(|i| e(i, 10)).collect();
        let mut cur = base.clone();
        cur[50].x = 20;
        let mut out = Delta3::default();
        diff3_into(&[], &base, &cur, 1, 1, &mut out);
        assert!(out.motion.sparse, "one move in a hundred is sparse");
        cur.iter_mut().for_each(|c| c.x = 11);
        diff3_into(&[], &base, &cur, 1, 1, &mut out);
        assert!(!out.motion.sparse, "all moved is dense");
        assert_eq!(out.motion.moves.len(), 100, "every entity moved");
    }
}
