//! Pointer fast paths of pygc next to `std::rc::Rc`: allocation + drop,
//! clone + drop, and deref, for an untracked `Gc<u64>` and for a tracked
//! two-link node. Each group holds the `Rc` and `Gc` functions side by side,
//! so `target/criterion/<group>/report` compares them directly.
//!
//! `cargo bench --bench pointer` (add `-- --quick` for a fast look).

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;

use criterion::{Criterion, criterion_group, criterion_main};
use pygc::{Gc, Trace};

/// The tracked node: a payload and two links (same shape as peer-bench's).
#[derive(Trace)]
struct GcNode {
    value: u64,
    next: RefCell<Option<Gc<GcNode>>>,
    other: RefCell<Option<Gc<GcNode>>>,
}

/// The same node on `Rc`.
struct RcNode {
    value: u64,
    next: RefCell<Option<Rc<RcNode>>>,
    other: RefCell<Option<Rc<RcNode>>>,
}

fn gc_node(value: u64) -> Gc<GcNode> {
    Gc::new(GcNode {
        value,
        next: RefCell::new(None),
        other: RefCell::new(None),
    })
}

fn rc_node(value: u64) -> Rc<RcNode> {
    Rc::new(RcNode {
        value,
        next: RefCell::new(None),
        other: RefCell::new(None),
    })
}

fn alloc_drop(c: &mut Criterion) {
    let mut g = c.benchmark_group("alloc_drop");
    g.bench_function("Rc<u64>", |b| {
        b.iter(|| drop(black_box(Rc::new(black_box(7u64)))))
    });
    g.bench_function("Gc<u64>", |b| {
        b.iter(|| drop(black_box(Gc::new(black_box(7u64)))))
    });
    g.bench_function("Rc<Node>", |b| {
        b.iter(|| drop(black_box(rc_node(black_box(7)))))
    });
    g.bench_function("Gc<Node>", |b| {
        b.iter(|| drop(black_box(gc_node(black_box(7)))))
    });
    g.finish();
}

fn clone_drop(c: &mut Criterion) {
    let mut g = c.benchmark_group("clone_drop");
    let rc = Rc::new(7u64);
    let gc = Gc::new(7u64);
    let rc_n = rc_node(7);
    let gc_n = gc_node(7);
    g.bench_function("Rc<u64>", |b| {
        b.iter(|| drop(black_box(Rc::clone(black_box(&rc)))))
    });
    g.bench_function("Gc<u64>", |b| {
        b.iter(|| drop(black_box(Gc::clone(black_box(&gc)))))
    });
    g.bench_function("Rc<Node>", |b| {
        b.iter(|| drop(black_box(Rc::clone(black_box(&rc_n)))))
    });
    g.bench_function("Gc<Node>", |b| {
        b.iter(|| drop(black_box(Gc::clone(black_box(&gc_n)))))
    });
    g.finish();
}

fn deref(c: &mut Criterion) {
    let mut g = c.benchmark_group("deref");
    let rc = Rc::new(7u64);
    let gc = Gc::new(7u64);
    let rc_n = rc_node(7);
    let gc_n = gc_node(7);
    // Links are read too, so the tracked node's deref is not optimised into
    // a plain load of `value`.
    *rc_n.next.borrow_mut() = Some(rc_node(8));
    *gc_n.next.borrow_mut() = Some(gc_node(8));
    g.bench_function("Rc<u64>", |b| b.iter(|| **black_box(&rc)));
    g.bench_function("Gc<u64>", |b| b.iter(|| **black_box(&gc)));
    g.bench_function("Rc<Node>", |b| {
        b.iter(|| {
            let n = black_box(&rc_n);
            n.value + u64::from(n.other.borrow().is_some())
        })
    });
    g.bench_function("Gc<Node>", |b| {
        b.iter(|| {
            let n = black_box(&gc_n);
            n.value + u64::from(n.other.borrow().is_some())
        })
    });
    g.finish();
}

criterion_group!(benches, alloc_drop, clone_drop, deref);
criterion_main!(benches);
