//! Property tests: deltas are exact, encoding round-trips, and no byte string panics a decoder.

use proptest::prelude::*;
use tickstream_shared::codec::{decode_client, decode_server, encode_server};
use tickstream_shared::delta::diff;
use tickstream_shared::delta3::{Aligned, Held, diff3_into, diff3_into_aligned, diff3_into_packed};
use tickstream_shared::messages::ViewChecksum;
use tickstream_shared::{
    Delta3, EntityId, EntityState, Replica, ServerMsg, Tick, Update, Update3, view_checksum,
};

/// One v3 update to build: views `pre`, `base`, `cur`, `cur`'s indices, ticks since, last gap.
type Step<'a> = (
    &'a [EntityState],
    &'a [EntityState],
    &'a [EntityState],
    &'a [u32],
    u32,
    u32,
);

/// A v3 update through the wire: encoded, decoded, applied with its checksum verified.
fn apply3_via_wire(r: &mut Replica, u: Update3) -> Result<(), String> {
    let mut buf = Vec::new();
    encode_server(&ServerMsg::Update3(u), &mut buf).map_err(|e| e.to_string())?;
    let ServerMsg::Update3(decoded) = decode_server(&buf).map_err(|e| e.to_string())? else {
        return Err("a v3 update decodes as a v3 update".into());
    };
    r.apply3(&decoded).map_err(|e| e.to_string())
}

fn update3(
    gap: u32,
    pre: &[EntityState],
    base: &[EntityState],
    cur: &[EntityState],
    k: u32,
    g: u32,
) -> Update3 {
    let mut delta = Delta3::default();
    diff3_into(pre, base, cur, k, g, &mut delta);
    Update3 {
        tick_gap: gap,
        ack_delta: 1,
        checksum: ViewChecksum(view_checksum(cur)),
        delta,
        events: vec![],
    }
}

/// A view: up to 60 entities with ids below 200 (so views overlap), any kind, position and
/// game fields (mostly zero, as games leave most fields unused).
fn view() -> impl Strategy<Value = Vec<EntityState>> {
    let fields = prop::array::uniform8(prop_oneof![3 => Just(0i32), 1 => any::<i32>()]);
    prop::collection::btree_map(
        0u32..200,
        (0u8..2, any::<u32>(), any::<u32>(), fields),
        0..60,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(id, (kind, x, y, fields))| EntityState {
                id: EntityId(id),
                kind,
                x: x % 2_000_000,
                y: y % 2_000_000,
                fields,
            })
            .collect()
    })
}

/// A view and a second one in which some entities stayed, some moved a little, some left and
/// some arrived: the shape of real ticks.
fn two_views() -> impl Strategy<Value = (Vec<EntityState>, Vec<EntityState>)> {
    view().prop_flat_map(|a| (Just(a.clone()), next_view(a)))
}

/// Three views in a row, as a client gets them: what v3's prediction needs.
fn three_views() -> impl Strategy<Value = (Vec<EntityState>, Vec<EntityState>, Vec<EntityState>)> {
    two_views().prop_flat_map(|(a, b)| (Just(a), Just(b.clone()), next_view(b)))
}

/// A view after `a`: some entities stayed, some moved, some changed fields, some left, some
/// arrived.
fn next_view(a: Vec<EntityState>) -> impl Strategy<Value = Vec<EntityState>> {
    (
        Just(a),
        view(),
        prop::collection::vec(
            (
                -3000i32..3000,
                -3000i32..3000,
                0u8..4,
                0usize..8,
                any::<i32>(),
            ),
            60,
        ),
    )
        .prop_map(|(a, extra, moves)| {
            let mut b: Vec<EntityState> = Vec::new();
            for (e, (dx, dy, what, field, value)) in a.iter().zip(moves.iter().cycle()) {
                match what {
                    0 => {}
                    1 => b.push(*e),
                    2 => b.push(e.with_field(*field, *value)),
                    _ => b.push(EntityState {
                        x: e.x.saturating_add_signed(*dx),
                        y: e.y.saturating_add_signed(*dy),
                        ..*e
                    }),
                }
            }
            for e in extra {
                if !a.iter().any(|x| x.id == e.id) {
                    b.push(e);
                }
            }
            b.sort_by_key(|e| e.id);
            b
        })
}

/// Four ticks of one layout (the same ids and kinds), with moving positions and changing
/// fields, and a random view (ascending indices) at each tick; the first view is empty.
fn aligned_world() -> impl Strategy<Value = (Vec<Vec<EntityState>>, Vec<Vec<u32>>)> {
    (0usize..70, any::<u64>()).prop_map(|(n, seed)| {
        let mut rng = tickstream_shared::Mulberry32::new(seed as u32 ^ (seed >> 32) as u32);
        let mut r = move |m: u32| rng.next_u32() % m;
        let mut id = 0;
        let mut first: Vec<EntityState> = (0..n)
            .map(|_| {
                id += 1 + r(3);
                EntityState::new(EntityId(id), (r(3)) as u8, r(4000), r(4000))
            })
            .collect();
        let mut ticks = vec![first.clone()];
        for _ in 0..3 {
            for e in &mut first {
                e.x = (e.x + r(200)).saturating_sub(100);
                e.y = if r(4) == 0 { e.y } else { e.y + r(9) };
                if r(5) == 0 {
                    e.fields[r(8) as usize] = r(1000) as i32 - 500;
                }
            }
            ticks.push(first.clone());
        }
        let mut views = vec![Vec::new()];
        for _ in 0..3 {
            views.push((0..n as u32).filter(|_| r(3) != 0).collect());
        }
        (ticks, views)
    })
}

proptest! {
    #[test]
    fn v3_predicted_updates_give_the_views_also_after_skipped_ticks(
        (a, b, c) in three_views(), g1 in 1u32..4, g2 in 1u32..4, t0 in 1u32..1000,
    ) {
        let mut r = Replica::new();
        apply3_via_wire(&mut r, update3(t0, &[], &[], &a, t0, 0)).map_err(TestCaseError::fail)?;
        prop_assert_eq!(r.entities(), &a[..]);
        apply3_via_wire(&mut r, update3(g1, &[], &a, &b, g1, 0)).map_err(TestCaseError::fail)?;
        prop_assert_eq!(r.entities(), &b[..]);
        apply3_via_wire(&mut r, update3(g2, &a, &b, &c, g2, g1)).map_err(TestCaseError::fail)?;
        prop_assert_eq!(r.entities(), &c[..]);
        prop_assert_eq!(r.tick(), Some(Tick(t0 + g1 + g2)));
        prop_assert_eq!(r.ack_seq(), 3);
    }

    #[test]
    fn v3_packed_previous_positions_give_the_same_deltas(
        (a, b, c) in three_views(), g1 in 1u32..4, g2 in 1u32..4,
    ) {
        // The server keeps each client's previous positions beside its view (8 bytes each)
        // instead of a third snapshot: the deltas must be the same, byte for byte.
        let all = |v: &[EntityState]| (0..v.len() as u32).collect::<Vec<u32>>();
        let (ia, ib, ic) = (all(&a), all(&b), all(&c));
        let (mut packed, mut prev, mut next) = (Delta3::default(), Vec::new(), Vec::new());
        let none: &[EntityState] = &[];
        let steps: [Step; 3] =
            [(none, none, &a, &ia, 5, 0), (none, &a, &b, &ib, g1, 0), (&a, &b, &c, &ic, g2, g1)];
        let mut base_view: &[u32] = &[];
        for (pre, base, cur, cur_view, k, g) in steps {
            let mut expected = Delta3::default();
            diff3_into(pre, base, cur, k, g, &mut expected);
            diff3_into_packed(&prev, (base, base_view), (cur, cur_view), k, g, &mut packed, &mut next);
            prop_assert_eq!(&packed, &expected);
            std::mem::swap(&mut prev, &mut next);
            base_view = cur_view;
        }
    }

    #[test]
    fn v3_aligned_snapshots_give_the_same_deltas(
        world in aligned_world(), gaps in prop::collection::vec(1u32..4, 4), bitmap in any::<bool>(),
    ) {
        // Snapshots with one layout: the index merge over the snapshots' packed positions must
        // give the deltas of the general merge, byte for byte, with and without the fields
        // bitmap, knowing of the client only its view and what its last update spawned.
        let (ticks, views) = world;
        let pos = |v: &[EntityState]| v.iter().map(|e| [e.x, e.y]).collect::<Vec<[u32; 2]>>();
        let (mut expected, mut aligned) = (Delta3::default(), Delta3::default());
        let (mut prev, mut next_prev) = (Vec::new(), Vec::new());
        let (mut spawned, mut next_spawned) = (Vec::new(), Vec::new());
        let mut last_gap = 0;
        for t in 1..ticks.len() {
            let (base, cur) = (&ticks[t - 1], &ticks[t]);
            let (base_view, cur_view) = (&views[t - 1], &views[t]);
            let k = gaps[t - 1];
            diff3_into_packed(&prev, (base, base_view), (cur, cur_view), k, last_gap, &mut expected, &mut next_prev);
            let bits: Vec<u64> = (0..cur.len().div_ceil(64))
                .map(|w| (0..64).filter(|b| w * 64 + b < cur.len() && base[w * 64 + b].fields != cur[w * 64 + b].fields).fold(0, |a, b| a | 1 << b))
                .collect();
            let pre_pos = (t >= 2).then(|| pos(&ticks[t - 2]));
            let (base_pos, cur_pos) = (pos(base), pos(cur));
            let snaps = Aligned {
                base, base_pos: &base_pos, pre_pos: pre_pos.as_deref(), cur, cur_pos: &cur_pos,
                fields_changed: bitmap.then_some(&bits[..]),
            };
            let held = Held { view: base_view, spawned: &spawned };
            diff3_into_aligned(snaps, held, cur_view, k, last_gap, &mut aligned, &mut next_spawned);
            prop_assert_eq!(&aligned, &expected);
            let ids: Vec<EntityId> = next_spawned.iter().map(|&i| cur[i as usize].id).collect();
            let spawn_ids: Vec<EntityId> = expected.spawns.iter().map(|e| e.id).collect();
            prop_assert_eq!(ids, spawn_ids);
            std::mem::swap(&mut prev, &mut next_prev);
            std::mem::swap(&mut spawned, &mut next_spawned);
            last_gap = k;
        }
    }

    #[test]
    fn decoding_mutated_valid_v3_updates_never_panics((a, b, c) in three_views(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut buf = Vec::new();
        encode_server(&ServerMsg::Update3(update3(1, &a, &b, &c, 1, 1)), &mut buf).expect("encodes");
        for (at, byte) in flips {
            let i = at % buf.len();
            buf[i] ^= byte;
        }
        if let Ok(ServerMsg::Update3(u)) = decode_server(&buf) {
            let mut r = Replica::new();
            let _ = r.apply3(&u);
        }
    }

    #[test]
    fn applying_the_delta_from_a_to_b_gives_b((a, b) in two_views()) {
        let mut r = Replica::new();
        let first = Update { tick: Tick(1), ack_seq: 0, checksum: ViewChecksum(view_checksum(&a)), delta: diff(&[], &a), events: vec![] };
        r.apply(&first).expect("the first view applies");
        prop_assert_eq!(r.entities(), &a[..]);
        let second = Update { tick: Tick(2), ack_seq: 3, checksum: ViewChecksum(view_checksum(&b)), delta: diff(&a, &b), events: vec![] };
        // Through the wire, to cover the encoding as well.
        let mut buf = Vec::new();
        encode_server(&ServerMsg::Update(second), &mut buf).expect("encodes");
        let ServerMsg::Update(decoded) = decode_server(&buf).expect("decodes") else {
            panic!("an update decodes as an update");
        };
        r.apply(&decoded).expect("the delta applies with a matching checksum");
        prop_assert_eq!(r.entities(), &b[..]);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode_client(&bytes);
        let _ = decode_server(&bytes);
    }

    #[test]
    fn decoding_mutated_valid_updates_never_panics((a, b) in two_views(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let u = Update { tick: Tick(9), ack_seq: 1, checksum: ViewChecksum(0), delta: diff(&a, &b), events: vec![] };
        let mut buf = Vec::new();
        encode_server(&ServerMsg::Update(u), &mut buf).expect("encodes");
        for (at, byte) in flips {
            let i = at % buf.len();
            buf[i] ^= byte;
        }
        let _ = decode_server(&buf);
    }
}
