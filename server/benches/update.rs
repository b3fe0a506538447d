//! The hot path: building and encoding one client's update frame.
//!
//! - `radius/N`: a client that sees N entities through the interest grid, up to date (its
//!   baseline is the previous tick): the per-client work of variant B.
//! - `broadcast/N`: every client sees everything and the delta body from the previous tick is
//!   shared: the per-client cost is a header and a copy (variant A).
//! - `tick_frame/N`: what the room does once per tick for all clients (grid or shared body).
//!
//! Run with `cargo bench -p tickstream-server --bench update`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use tickstream_server::sim::{ArenaWorld as World, GameParams};
use tickstream_server::sync::{ClientSync, Snapshot, TickFrame};
use tickstream_shared::{Delta, EntityId, Tick};

/// Two consecutive ticks of a world of `visible` entities (NPCs and one moving player), the
/// frame for the second, and a client whose baseline is the first.
fn setup(visible: u32, radius: f64) -> (Arc<TickFrame>, ClientSync, EntityId) {
    let mut world = World::new(GameParams {
        npc_count: visible - 1,
        view_radius: radius,
        ..GameParams::default()
    });
    let own = world.add_player().expect("an id is free");
    world.set_direction(own, 1.0, 0.5);
    let mut scratch = Delta::default();
    let mut sync = ClientSync::new();
    let mut out = Vec::new();
    world.step();
    let prev = Arc::new(Snapshot::capture(&world, Tick(1)));
    let first = TickFrame::build(Arc::clone(&prev), None, radius, &mut scratch).expect("builds");
    sync.build_frame(&first, own, 0, &[], &mut out)
        .expect("frame builds");
    world.step();
    let cur = Arc::new(Snapshot::capture(&world, Tick(2)));
    let frame = TickFrame::build(cur, Some(&prev), radius, &mut scratch).expect("builds");
    (Arc::new(frame), sync, own)
}

fn bench_update(c: &mut Criterion) {
    let mut group = c.benchmark_group("client_update");
    let mut out = Vec::with_capacity(16_384);
    for visible in [50u32, 500] {
        // A radius larger than the arena's diagonal: the view is every entity, but it is found,
        // diffed and encoded per client, as in variant B.
        for (name, radius) in [("radius", 2_000.0), ("broadcast", 0.0)] {
            let (frame, sync, own) = setup(visible, radius);
            group.bench_with_input(BenchmarkId::new(name, visible), &visible, |b, _| {
                // Each iteration builds tick 2 from a fresh copy of the tick-1 baseline; the
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
    group.finish();

    let mut group = c.benchmark_group("tick_frame");
    for entities in [500u32, 2_500] {
        for (name, radius) in [("radius", 150.0), ("broadcast", 0.0)] {
            let mut world = World::new(GameParams {
                npc_count: entities,
                ..GameParams::default()
            });
            world.step();
            let prev = Arc::new(Snapshot::capture(&world, Tick(1)));
            world.step();
            let cur = Arc::new(Snapshot::capture(&world, Tick(2)));
            let mut scratch = Delta::default();
            group.bench_with_input(BenchmarkId::new(name, entities), &entities, |b, _| {
                b.iter(|| {
                    let f = TickFrame::build(Arc::clone(&cur), Some(&prev), radius, &mut scratch)
                        .expect("builds");
                    black_box(f.shared_body.as_ref().map(|b| b.1.len()))
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_update);
criterion_main!(benches);
