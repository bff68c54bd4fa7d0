//! Introspection over a 1M-object heap (a complete binary tree of depth 20,
//! built bottom-up): `referrers` of one object (a full scan, as CPython's
//! `gc.get_referrers`) and `census` (objgraph's `most_common_types`). Each
//! should take well under a second.
//!
//! `cargo bench -p pygc-benches --bench introspect` (add `-- --quick`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use pygc::{Gc, Trace};

#[derive(Trace)]
struct Tree {
    left: Option<Gc<Tree>>,
    right: Option<Gc<Tree>>,
}

fn tree(depth: u32) -> Gc<Tree> {
    if depth == 0 {
        Gc::new(Tree {
            left: None,
            right: None,
        })
    } else {
        Gc::new(Tree {
            left: Some(tree(depth - 1)),
            right: Some(tree(depth - 1)),
        })
    }
}

fn introspect(c: &mut Criterion) {
    let root = tree(19); // 2^20 - 1 objects
    let target = root.left.clone().expect("a child");
    let mut group = c.benchmark_group("introspect_1m");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("referrers", |b| {
        b.iter(|| black_box(pygc::referrers(&target)));
    });
    group.bench_function("census", |b| b.iter(|| black_box(pygc::census())));
    group.finish();
    drop((target, root));
}

criterion_group!(benches, introspect);
criterion_main!(benches);
