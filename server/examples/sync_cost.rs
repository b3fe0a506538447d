//! The per-client sync work of one protocol version, alone, for instruction counts under
//! callgrind (deterministic, unlike CPU time on a shared machine): a world of 500 NPCs and
//! `players` moving players, every client's frame built every tick ([`build_all`]), and, in
//! `bot` mode, every frame decoded and applied by a replica as the bots do ([`apply_all`]).
//!
//! ```text
//! cargo build --release -p tickstream-server --example sync_cost
//! valgrind --tool=callgrind --toggle-collect='sync_cost::build_all' \
//!     target/release/examples/sync_cost 3 150 20 server 500
//! valgrind --tool=callgrind --toggle-collect='sync_cost::build_reusing' \
//!     target/release/examples/sync_cost 3 150 22 server 500 steady
//! valgrind --tool=callgrind --toggle-collect='sync_cost::apply_all' \
//!     target/release/examples/sync_cost 3 150 20 bot 500
//! ```
//!
//! Arguments: protocol (2 or 3), view radius (0 = broadcast), ticks, `server` or `bot`, players
//! (default 20), and, in `server` mode, `steady` to count only the steady state as a writer
//! sees it: the first two ticks (every view spawned, then the first prediction) are built by
//! [`warm_all`] outside the collection, and each client's frame buffer is reused from tick to
//! tick, as the writer reuses its own. Add `--cache-sim=yes` for the L1 and last-level misses.

use std::sync::Arc;

use tickstream_server::sim::{ArenaWorld as World, GameParams};
use tickstream_server::sync::{ClientSync, Snapshot, TickFrame};
use tickstream_shared::codec::decode_server;
use tickstream_shared::{EntityId, Replica, ServerMsg, Tick};

/// Builds every client's frame for one tick.
#[inline(never)]
fn build_all(
    frame: &TickFrame,
    syncs: &mut [ClientSync],
    players: &[EntityId],
    frames: &mut Vec<Vec<u8>>,
) -> usize {
    let mut total = 0;
    for (sync, &own) in syncs.iter_mut().zip(players) {
        let mut out = Vec::new();
        sync.build_frame(frame, own, 0, &[], &mut out)
            .expect("frame builds");
        total += out.len();
        frames.push(out);
    }
    total
}

/// [`build_all`] under another name, which callgrind does not collect: the ticks before the
/// steady state.
#[inline(never)]
fn warm_all(frame: &TickFrame, syncs: &mut [ClientSync], players: &[EntityId]) {
    for (sync, &own) in syncs.iter_mut().zip(players) {
        let mut out = Vec::new();
        sync.build_frame(frame, own, 0, &[], &mut out)
            .expect("frame builds");
    }
}

/// [`build_all`] into buffers kept from the previous tick, as each writer keeps its own.
#[inline(never)]
fn build_reusing(
    frame: &TickFrame,
    syncs: &mut [ClientSync],
    players: &[EntityId],
    frames: &mut [Vec<u8>],
) -> usize {
    let mut total = 0;
    for ((sync, &own), out) in syncs.iter_mut().zip(players).zip(frames.iter_mut()) {
        out.clear();
        sync.build_frame(frame, own, 0, &[], out)
            .expect("frame builds");
        total += out.len();
    }
    total
}

/// Decodes and applies one tick's frames, one replica per client, as an unverified bot does.
#[inline(never)]
fn apply_all(frames: &[Vec<u8>], replicas: &mut [Replica]) {
    for (f, replica) in frames.iter().zip(replicas.iter_mut()) {
        match decode_server(f).expect("frame decodes") {
            ServerMsg::Update(u) => replica.apply_unverified(&u).expect("applies"),
            ServerMsg::Update3(u) => {
                replica.apply3_unverified(&u).expect("applies");
            }
            other => panic!("expected an update, got {other:?}"),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let protocol: u16 = arg(1, "3").parse().expect("protocol");
    let radius: f64 = arg(2, "150").parse().expect("radius");
    let ticks: u32 = arg(3, "20").parse().expect("ticks");
    let bot = arg(4, "server") == "bot";
    let nplayers: usize = arg(5, "20").parse().expect("players");
    let steady = arg(6, "") == "steady";
    let mut world = World::new(GameParams {
        npc_count: 500,
        view_radius: radius,
        ..GameParams::default()
    });
    let players: Vec<EntityId> = (0..nplayers)
        .map(|i| {
            let p = world.add_player().expect("an id is free");
            world.set_direction(p, 1.0, (i % 20) as f32 * 0.1 - 1.0);
            p
        })
        .collect();
    let mut syncs: Vec<ClientSync> = (0..nplayers)
        .map(|_| ClientSync::for_protocol(protocol))
        .collect();
    let mut replicas: Vec<Replica> = (0..nplayers).map(|_| Replica::new()).collect();
    let (mut prev, mut pre): (Option<Arc<Snapshot>>, Option<Arc<Snapshot>>) = (None, None);
    let mut total = 0usize;
    let mut frames = Vec::with_capacity(nplayers);
    for t in 1..=ticks {
        world.step();
        let snap = Arc::new(Snapshot::capture_after(&world, Tick(t), prev.as_deref()));
        let frame = TickFrame::build(Arc::clone(&snap), prev.clone(), pre.clone(), radius);
        if steady && t <= 2 {
            warm_all(&frame, &mut syncs, &players);
        } else if steady {
            frames.resize_with(nplayers, Vec::new);
            total += build_reusing(&frame, &mut syncs, &players, &mut frames);
        } else {
            frames.clear();
            total += build_all(&frame, &mut syncs, &players, &mut frames);
        }
        if bot {
            apply_all(&frames, &mut replicas);
        }
        pre = prev.replace(snap);
    }
    println!("v{protocol}: {total} bytes in {ticks} ticks for {nplayers} clients");
}
