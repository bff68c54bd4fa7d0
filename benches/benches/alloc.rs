//! Pool allocation + free per size class against `Box`, with the object
//! (8-byte refcount header + K-byte value) sized to exactly fill the 16, 24,
//! 32, 40, 56, 64, 72, 128, 256 and 512 byte size classes (8-byte steps up
//! to 128, 16-byte steps above), plus a 1024-byte payload that bypasses the
//! pools (objects over 512 bytes go to the global allocator).
//!
//! Four shapes per class, each reported per object:
//!
//! - `alloc_free`: the allocator alone. The value is `MaybeUninit` (a
//!   `Gc` of a leaf type wrapping it, `Box::new_uninit` on the other side),
//!   so neither side copies a payload: a pool pop + header write + pool
//!   push against `malloc` + `free`. This is the shape issue 11's "pool
//!   allocator ≥ 2× faster than `Box` for every class" is read on.
//! - `alloc_drop`: `Gc::new([0u8; K])` against `Box::new([0u8; K])`, one
//!   object at a time (the pool's hot free-list path). Both sides copy the
//!   K-byte value from the stack into the block; from 72 bytes on that
//!   copy is a large part of either side's time, so this ratio shrinks as
//!   K grows, whatever the allocator costs.
//! - `batch_free_1000` and `batch_1000`: 1000 objects allocated, then
//!   freed in allocation order (pool refill and full-pool bookkeeping),
//!   without and with the payload copy.
//!
//! `cargo bench --bench alloc` (add `-- --quick` for a fast look).

use std::hint::black_box;
use std::mem::MaybeUninit;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use pygc::{Gc, Trace, Tracer};

/// Size of the untracked object header (strong + weak counts).
const HEADER: usize = 8;

/// A value of `K` bytes that nothing writes: allocating a `Gc` of it costs
/// the allocator and the header only.
struct Uninit<const K: usize>(MaybeUninit<[u8; K]>);

// SAFETY: holds no `Gc` (only bytes), so visiting nothing is exact; no
// finalizer.
unsafe impl<const K: usize> Trace for Uninit<K> {
    fn trace(&self, _tracer: &mut Tracer) {}

    fn may_contain_gc() -> bool {
        false
    }

    fn has_finalizer() -> bool {
        false
    }
}

/// Checks, before timing, that a `Gc` of `K` bytes lands in `class`'s
/// blocks: the shapes below measure the class they are named after.
fn assert_lands_in_class<const K: usize>(class: &str) {
    let Ok(block) = class.parse::<usize>() else {
        return; // the large payload has no class
    };
    let before = pygc::heap_stats().blocks_in_use;
    let g = Gc::new(Uninit::<K>(MaybeUninit::uninit()));
    let after = pygc::heap_stats().blocks_in_use;
    let count = |v: &[(usize, usize)]| v.iter().find(|(size, _)| *size == block).map_or(0, |c| c.1);
    assert_eq!(
        count(&after),
        count(&before) + 1,
        "a Gc of {K} bytes is not in class {class}"
    );
    drop(g);
}

fn one_class<const K: usize>(g: &mut BenchmarkGroup<'_, WallTime>, class: &str) {
    assert_lands_in_class::<K>(class);
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("alloc_free/{class}/Box"), |b| {
        b.iter(|| drop(black_box(Box::<[u8; K]>::new_uninit())))
    });
    g.bench_function(format!("alloc_free/{class}/Gc"), |b| {
        b.iter(|| drop(black_box(Gc::new(Uninit::<K>(MaybeUninit::uninit())))))
    });
    g.bench_function(format!("alloc_drop/{class}/Box"), |b| {
        b.iter(|| drop(black_box(Box::new(black_box([0u8; K])))))
    });
    g.bench_function(format!("alloc_drop/{class}/Gc"), |b| {
        b.iter(|| drop(black_box(Gc::new(black_box([0u8; K])))))
    });
    const BATCH: usize = 1000;
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut uninit_boxes: Vec<Box<MaybeUninit<[u8; K]>>> = Vec::with_capacity(BATCH);
    g.bench_function(format!("batch_free_1000/{class}/Box"), |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                uninit_boxes.push(Box::<[u8; K]>::new_uninit());
            }
            black_box(&mut uninit_boxes).clear();
        })
    });
    let mut uninit_gcs: Vec<Gc<Uninit<K>>> = Vec::with_capacity(BATCH);
    g.bench_function(format!("batch_free_1000/{class}/Gc"), |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                uninit_gcs.push(Gc::new(Uninit::<K>(MaybeUninit::uninit())));
            }
            black_box(&mut uninit_gcs).clear();
        })
    });
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
