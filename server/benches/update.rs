//! The hot path: building and encoding one client's update frame.
//!
//! - `radius/N`: a client that sees N entities through the interest grid, up to date (its
//!   baseline is the previous tick): the per-client work of variant B.
//! - `broadcast/N`: every client sees everything and the delta body from the previous tick is
//!   shared: the per-client cost is a header and a copy (variant A).
//! - `tick_frame/N`: what the room does once per tick for all clients (grid or shared body).
//!
//! Each for protocol v2 and v3 (`…/v2/N`, `…/v3/N`).
//!
//! Run with `cargo bench -p tickstream-server --bench update`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use tickstream_server::sim::{ArenaWorld as World, GameParams};
use tickstream_server::sync::{ClientSync, Snapshot, TickFrame};
use tickstream_shared::{EntityId, Tick};

/// Three consecutive ticks of a world of `visible` entities (NPCs and one moving player), the
/// frame for the third, and a client of `protocol` that was sent the first two.
fn setup(visible: u32, radius: f64, protocol: u16) -> (Arc<TickFrame>, ClientSync, EntityId) {
    let mut world = World::new(GameParams {
        npc_count: visible - 1,
        view_radius: radius,
        ..GameParams::default()
    });
    let own = world.add_player().expect("an id is free");
    world.set_direction(own, 1.0, 0.5);
    let mut sync = ClientSync::for_protocol(protocol);
    let mut out = Vec::new();
    let (mut prev, mut pre): (Option<Arc<Snapshot>>, Option<Arc<Snapshot>>) = (None, None);
    for t in 1..=2 {
        world.step();
        let snap = Arc::new(Snapshot::capture_after(&world, Tick(t), prev.as_deref()));
        let f = TickFrame::build(Arc::clone(&snap), prev.clone(), pre.clone(), radius);
        sync.build_frame(&f, own, 0, &[], &mut out)
            .expect("frame builds");
        pre = prev.replace(snap);
    }
    world.step();
    let cur = Arc::new(Snapshot::capture_after(&world, Tick(3), prev.as_deref()));
    let frame = TickFrame::build(cur, prev, pre, radius);
    // The shared body is built once per tick, not per client: outside the timing.
    let _ = frame.shared_body(protocol);
    (Arc::new(frame), sync, own)
}

fn bench_update(c: &mut Criterion) {
    let mut group = c.benchmark_group("client_update");
    let mut out = Vec::with_capacity(16_384);
    for protocol in [2u16, 3] {
        for visible in [50u32, 500] {
            // A radius larger than the arena's diagonal: the view is every entity, but it is
            // found, diffed and encoded per client, as in variant B.
            for (name, radius) in [("radius", 2_000.0), ("broadcast", 0.0)] {
                let (frame, sync, own) = setup(visible, radius, protocol);
                let id = BenchmarkId::new(format!("{name}/v{protocol}"), visible);
                group.bench_with_input(id, &visible, |b, _| {
                    // Each iteration builds tick 3 from a fresh copy of the client's state; the
                    // copy is made outside the timing.
                    b.iter_batched(
                        || sync.clone(),
                        |mut s| {
                            out.clear();
                            s.build_frame(&frame, own, 7, &[], &mut out)
                                .expect("frame builds");
                            black_box(out.len())
                        },
                        BatchSize::SmallInput,
                    );
                });
            }
        }
    }
    group.finish();

    let mut group = c.benchmark_group("tick_frame");
    for protocol in [2u16, 3] {
        for entities in [500u32, 2_500] {
            for (name, radius) in [("radius", 150.0), ("broadcast", 0.0)] {
                let mut world = World::new(GameParams {
                    npc_count: entities,
                    ..GameParams::default()
                });
                let mut snaps = Vec::new();
                for t in 1..=3 {
                    world.step();
                    let after = snaps.last().map(|s: &Arc<Snapshot>| &**s);
                    let snap = Snapshot::capture_after(&world, Tick(t), after);
                    snaps.push(Arc::new(snap));
                }
                let id = BenchmarkId::new(format!("{name}/v{protocol}"), entities);
                group.bench_with_input(id, &entities, |b, _| {
                    b.iter(|| {
                        let f = TickFrame::build(
                            Arc::clone(&snaps[2]),
                            Some(Arc::clone(&snaps[1])),
                            Some(Arc::clone(&snaps[0])),
                            radius,
                        );
                        black_box(f.shared_body(protocol).map(<[u8]>::len))
                    });
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench_update);
criterion_main!(benches);
