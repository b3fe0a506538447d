//! The hot path: building and encoding one client's update frame.
//!
//! - `radius/N`: a client that sees N entities through the interest grid, up to date (its
//!   baseline is the previous tick): the per-client work of variant B.
//! - `broadcast/N`: the same with every client seeing everything, where the delta body is
//!   shared: the per-client cost is a header and a copy (variant A).
//!
//! Run with `cargo bench -p tickstream-server --bench update`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use tickstream_server::sim::{GameParams, World};
use tickstream_server::sync::interest::Grid;
use tickstream_server::sync::{BodyCache, ClientSync, Snapshot};
use tickstream_shared::{EntityId, Tick};

/// A world of `visible` entities (NPCs and one player) that all fit in the view.
fn setup(visible: u32, radius: f64) -> (World, EntityId) {
    let mut world = World::new(GameParams {
        npc_count: visible - 1,
        view_radius: radius,
        ..GameParams::default()
    });
    let own = world.add_player().expect("an id is free");
    world.set_direction(own, 1.0, 0.5);
    (world, own)
}

fn bench_update(c: &mut Criterion) {
    let mut group = c.benchmark_group("client_update");
    for visible in [50u32, 500] {
        // A radius larger than the arena's diagonal: the view is every entity, but it is
        // found, diffed and encoded per client, as in variant B.
        let (mut world, own) = setup(visible, 2_000.0);
        let mut grid = Grid::new(2_000.0);
        let mut cache = BodyCache::default();
        let mut sync = ClientSync::new();
        let mut out = Vec::with_capacity(8192);
        world.step();
        let prev = Arc::new(Snapshot::capture(&world, Tick(1)));
        grid.rebuild(&prev.entities);
        sync.build_frame(&prev, own, Some(&mut grid), 0, &mut cache, &mut out)
            .expect("frame builds");
        world.step();
        let cur = Arc::new(Snapshot::capture(&world, Tick(2)));
        grid.rebuild(&cur.entities);
        group.bench_with_input(BenchmarkId::new("radius", visible), &visible, |b, _| {
            // Every iteration builds tick 2 from a fresh copy of the tick-1 baseline; the copy
            // is made outside the timing.
            b.iter_batched(
                || sync.clone(),
                |mut s| {
                    out.clear();
                    s.build_frame(&cur, own, Some(&mut grid), 7, &mut cache, &mut out)
                        .expect("frame builds");
                    black_box(out.len())
                },
                BatchSize::SmallInput,
            );
        });

        let (mut world, own) = setup(visible, 0.0);
        let mut cache = BodyCache::default();
        let mut sync = ClientSync::new();
        world.step();
        let prev = Arc::new(Snapshot::capture(&world, Tick(1)));
        sync.build_frame(&prev, own, None, 0, &mut cache, &mut out)
            .expect("frame builds");
        world.step();
        let cur = Arc::new(Snapshot::capture(&world, Tick(2)));
        // Warm the shared body, as the first client of a tick does.
        sync.clone()
            .build_frame(&cur, own, None, 0, &mut cache, &mut out)
            .expect("frame builds");
        group.bench_with_input(BenchmarkId::new("broadcast", visible), &visible, |b, _| {
            b.iter_batched(
                || sync.clone(),
                |mut s| {
                    out.clear();
                    s.build_frame(&cur, own, None, 7, &mut cache, &mut out)
                        .expect("frame builds");
                    black_box(out.len())
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, bench_update);
criterion_main!(benches);
