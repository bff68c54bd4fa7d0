//! The `weakref` module at 1M entries: `WeakValueMap` and `WeakKeyMap`
//! insert / get / purge per entry, and a full collection of a heap holding
//! 1M `WeakKeyMap` entries (ephemerons) next to one holding the same
//! objects linked by ordinary edges (within 2× is the target), with the
//! keys held from the stack and by one tracked object.
//!
//! `cargo bench --bench weakref` (add `-- --quick` for a fast look).

use std::cell::RefCell;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pygc::{Gc, Trace, WeakKeyMap, WeakValueMap, collect};

const N: usize = 1_000_000;

/// A tracked key.
#[derive(Trace)]
struct Key {
    value: RefCell<Option<Gc<Value>>>,
}

/// A tracked value.
#[derive(Trace)]
struct Value {
    back: Option<Gc<Key>>,
}

fn keys() -> Vec<Gc<Key>> {
    (0..N)
        .map(|_| {
            Gc::new(Key {
                value: RefCell::new(None),
            })
        })
        .collect()
}

fn weak_value_map(c: &mut Criterion) {
    let mut g = c.benchmark_group("weak_value_map_1M");
    g.sample_size(10).throughput(Throughput::Elements(N as u64));
    let values: Vec<Gc<u64>> = (0..N as u64).map(Gc::new).collect();
    g.bench_function("insert", |b| {
        b.iter_batched(
            WeakValueMap::new,
            |mut map| {
                for (i, v) in values.iter().enumerate() {
                    map.insert(i, v.clone());
                }
                map
            },
            BatchSize::PerIteration,
        )
    });
    let mut map = WeakValueMap::new();
    for (i, v) in values.iter().enumerate() {
        map.insert(i, v.clone());
    }
    g.bench_function("get", |b| {
        b.iter(|| {
            for i in 0..N {
                black_box(map.get(&i));
            }
        })
    });
    drop(map);
    g.bench_function("purge_after_all_died", |b| {
        b.iter_batched(
            || {
                let values: Vec<Gc<u64>> = (0..N as u64).map(Gc::new).collect();
                let mut map = WeakValueMap::new();
                for (i, v) in values.iter().enumerate() {
                    map.insert(i, v.clone());
                }
                (map, values)
            },
            |(mut map, values)| {
                drop(values); // N deaths, counted
                map.insert(N, Gc::new(0)); // one purge
                map
            },
            BatchSize::PerIteration,
        )
    });
}

fn weak_key_map(c: &mut Criterion) {
    let mut g = c.benchmark_group("weak_key_map_1M");
    g.sample_size(10).throughput(Throughput::Elements(N as u64));
    let keys = keys();
    g.bench_function("insert", |b| {
        b.iter_batched(
            WeakKeyMap::new,
            |mut map| {
                for k in &keys {
                    map.insert(k.clone(), Value { back: None });
                }
                map
            },
            BatchSize::PerIteration,
        )
    });
    let mut map = WeakKeyMap::new();
    for k in &keys {
        map.insert(k.clone(), Value { back: None });
    }
    g.bench_function("get", |b| {
        b.iter(|| {
            for k in &keys {
                black_box(map.get(k));
            }
        })
    });
    drop(map);
}

/// A tracked holder: keys inside it are reachable only through it, so the
/// collector cannot tell them alive before its walk reaches them.
#[derive(Trace)]
struct Holder {
    keys: Vec<Gc<Key>>,
}

fn full_collection(c: &mut Criterion) {
    let mut g = c.benchmark_group("collect_1M_keys_and_values");
    g.sample_size(10);
    // Ordinary edges: each key owns its value.
    let keys_a = keys();
    for k in &keys_a {
        *k.value.borrow_mut() = Some(Gc::new(Value { back: None }));
    }
    g.bench_function("edges", |b| b.iter(|| black_box(collect())));
    drop(keys_a);
    collect();
    // Ephemerons: each key's value lives in a WeakKeyMap entry.
    let keys_b = keys();
    let mut map = WeakKeyMap::new();
    for k in &keys_b {
        map.insert(k.clone(), Value { back: None });
    }
    g.bench_function("ephemerons", |b| b.iter(|| black_box(collect())));
    drop((map, keys_b));
    collect();
    // The same two heaps with the keys held by one tracked object instead
    // of the stack: the keys are reached by the collector's walk, not known
    // to be roots beforehand.
    let held_a = Gc::new(Holder { keys: keys() });
    for k in &held_a.keys {
        *k.value.borrow_mut() = Some(Gc::new(Value { back: None }));
    }
    g.bench_function("edges_keys_in_a_gc", |b| b.iter(|| black_box(collect())));
    drop(held_a);
    collect();
    let held_b = Gc::new(Holder { keys: keys() });
    let mut map = WeakKeyMap::new();
    for k in &held_b.keys {
        map.insert(k.clone(), Value { back: None });
    }
    // `insert` cloned each key; only the holder's handles stay.
    g.bench_function("ephemerons_keys_in_a_gc", |b| {
        b.iter(|| black_box(collect()))
    });
    drop((map, held_b));
}

criterion_group!(benches, weak_value_map, weak_key_map, full_collection);
criterion_main!(benches);
