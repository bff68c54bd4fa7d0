//! Cycle-collector costs of pygc, reported per object (criterion's
//! throughput line: elements/s → ns per object = 1e9 / rate):
//!
//! - `full/cycles_1m`: one `collect()` over 1M unreachable two-object
//!   cycles (2M objects);
//! - `full/ring_1m`: one `collect()` over a 1M-object unreachable ring;
//! - `gen0/survivor_10k`, `gen0/garbage_10k`: `collect_generation(0)` over
//!   10k objects in generation 0 that all survive (kept alive by a `Vec`) or
//!   are all garbage (5k two-object cycles) — CPython's figures are about
//!   16 ns per survivor and 70 ns per garbage object;
//! - `young/no_old_heap`, `young/with_old_heap`: 500k short-lived
//!   two-object cycles created and dropped with automatic collection only,
//!   without and with a live old heap of 1M objects (a complete binary tree
//!   of depth 20). The ratio with/without is issue 4's generational target
//!   (≤ 1.3).
//!
//! Garbage is built with automatic collection paused (untimed set-up), so
//! the timed routine sees all of it.
//!
//! `cargo bench --bench collect` (add `-- --quick` for a fast look).

use std::cell::RefCell;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use pygc::{Gc, Trace};

/// A tracked node with two links.
#[derive(Trace)]
struct Node {
    value: u64,
    next: RefCell<Option<Gc<Node>>>,
    other: RefCell<Option<Gc<Node>>>,
}

fn node(value: u64) -> Gc<Node> {
    Gc::new(Node {
        value,
        next: RefCell::new(None),
        other: RefCell::new(None),
    })
}

/// `n` unreachable two-object cycles, built with automatic collection paused.
fn garbage_cycles(n: usize) {
    let _pause = pygc::pause();
    for i in 0..n as u64 {
        let a = node(i);
        let b = node(i);
        *a.next.borrow_mut() = Some(b.clone());
        *b.next.borrow_mut() = Some(a);
    }
}

/// An unreachable ring of `n` objects, built with automatic collection paused.
fn garbage_ring(n: usize) {
    let _pause = pygc::pause();
    let first = node(0);
    let mut prev = first.clone();
    for i in 1..n as u64 {
        let next = node(i);
        *prev.next.borrow_mut() = Some(next.clone());
        prev = next;
    }
    *prev.next.borrow_mut() = Some(first);
}

/// A complete binary tree of `depth` levels (2^depth - 1 objects).
fn tree(depth: u32) -> Gc<Node> {
    let n = node(u64::from(depth));
    if depth > 1 {
        *n.next.borrow_mut() = Some(tree(depth - 1));
        *n.other.borrow_mut() = Some(tree(depth - 1));
    }
    n
}

/// 500k short-lived two-object cycles, automatic collection only.
fn young_garbage(cycles: usize) {
    for i in 0..cycles as u64 {
        let a = node(i);
        let b = node(i);
        *a.next.borrow_mut() = Some(b.clone());
        *b.next.borrow_mut() = Some(a.clone());
        drop(black_box(a));
        drop(black_box(b));
    }
}

fn full(c: &mut Criterion) {
    let mut g = c.benchmark_group("full");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    pygc::collect();
    g.throughput(Throughput::Elements(2_000_000));
    g.bench_function("cycles_1m", |b| {
        b.iter_batched(
            || garbage_cycles(1_000_000),
            |()| pygc::collect(),
            BatchSize::PerIteration,
        )
    });
    g.throughput(Throughput::Elements(1_000_000));
    g.bench_function("ring_1m", |b| {
        b.iter_batched(
            || garbage_ring(1_000_000),
            |()| pygc::collect(),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn gen0(c: &mut Criterion) {
    const N: usize = 10_000;
    let mut g = c.benchmark_group("gen0");
    g.throughput(Throughput::Elements(N as u64));
    pygc::collect();
    g.bench_function("survivor_10k", |b| {
        b.iter_batched(
            || {
                let _pause = pygc::pause();
                (0..N as u64).map(node).collect::<Vec<_>>()
            },
            |live| {
                pygc::collect_generation(0);
                live // dropped after timing
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("garbage_10k", |b| {
        b.iter_batched(
            || garbage_cycles(N / 2),
            |()| pygc::collect_generation(0),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn young(c: &mut Criterion) {
    const CYCLES: usize = 500_000;
    let mut g = c.benchmark_group("young");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(2 * CYCLES as u64));
    pygc::collect();
    g.bench_function("no_old_heap", |b| b.iter(|| young_garbage(CYCLES)));
    let old = tree(20); // 1,048,575 live objects
    g.bench_function("with_old_heap", |b| b.iter(|| young_garbage(CYCLES)));
    black_box(old.value);
    drop(old);
    pygc::collect();
    g.finish();
}

criterion_group!(benches, full, gen0, young);
criterion_main!(benches);
