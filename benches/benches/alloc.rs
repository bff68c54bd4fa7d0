//! Pool allocation + free per size class: `Gc<[u8; K]>` next to
//! `Box<[u8; K]>`, with K chosen so that the untracked object (8-byte
//! refcount header + K bytes) exactly fills the 16, 24, 32, 40, 56, 64, 72,
//! 128, 256 and 512 byte size classes (8-byte steps up to 128, 16-byte
//! steps above), plus a 1024-byte payload that bypasses the pools (objects
//! over 512 bytes go to the global allocator).
//!
//! Two shapes per class: `alloc_drop` (one object allocated and freed at a
//! time: the pool's hot free-list path) and `batch_1000` (1000 objects
//! allocated, then freed in allocation order: pool refill and full-pool
//! bookkeeping), each reported per object.
//!
//! `cargo bench --bench alloc` (add `-- --quick` for a fast look).

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use pygc::Gc;

/// Size of the untracked object header (strong + weak counts).
const HEADER: usize = 8;

fn one_class<const K: usize>(g: &mut BenchmarkGroup<'_, WallTime>, class: &str) {
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("alloc_drop/{class}/Box"), |b| {
        b.iter(|| drop(black_box(Box::new(black_box([0u8; K])))))
    });
    g.bench_function(format!("alloc_drop/{class}/Gc"), |b| {
        b.iter(|| drop(black_box(Gc::new(black_box([0u8; K])))))
    });
    const BATCH: usize = 1000;
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut boxes: Vec<Box<[u8; K]>> = Vec::with_capacity(BATCH);
    g.bench_function(format!("batch_1000/{class}/Box"), |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                boxes.push(Box::new(black_box([0u8; K])));
            }
            boxes.clear();
        })
    });
    let mut gcs: Vec<Gc<[u8; K]>> = Vec::with_capacity(BATCH);
    g.bench_function(format!("batch_1000/{class}/Gc"), |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                gcs.push(Gc::new(black_box([0u8; K])));
            }
            gcs.clear();
        })
    });
}

fn size_classes(c: &mut Criterion) {
    let mut g = c.benchmark_group("size_class");
    one_class::<{ 16 - HEADER }>(&mut g, "16");
    one_class::<{ 24 - HEADER }>(&mut g, "24");
    one_class::<{ 32 - HEADER }>(&mut g, "32");
    one_class::<{ 40 - HEADER }>(&mut g, "40");
    one_class::<{ 56 - HEADER }>(&mut g, "56");
    one_class::<{ 64 - HEADER }>(&mut g, "64");
    one_class::<{ 72 - HEADER }>(&mut g, "72");
    one_class::<{ 128 - HEADER }>(&mut g, "128");
    one_class::<{ 256 - HEADER }>(&mut g, "256");
    one_class::<{ 512 - HEADER }>(&mut g, "512");
    one_class::<1024>(&mut g, "large_1032");
    g.finish();
}

criterion_group!(benches, size_classes);
criterion_main!(benches);
