//! Candidate counts stay exact: young garbage next to an old heap never
//! makes automatic collections scan the old heap.

use std::cell::{Cell, RefCell};

use crate::{Gc, Trace, Tracer, stats};

thread_local! {
    static OLD_TRACES: Cell<usize> = const { Cell::new(0) };
}

/// An old-heap node: counts how often the collector traces it.
struct Old(Vec<Gc<Old>>);

// SAFETY: visits each owned `Gc` once.
unsafe impl Trace for Old {
    fn trace(&self, tracer: &mut Tracer) {
        OLD_TRACES.with(|t| t.set(t.get() + 1));
        self.0.trace(tracer);
    }
    fn has_finalizer() -> bool {
        false
    }
}

/// Young garbage: two-node cycles.
struct Young(RefCell<Option<Gc<Young>>>);

// SAFETY: visits its one owned `Gc`.
unsafe impl Trace for Young {
    fn trace(&self, tracer: &mut Tracer) {
        self.0.trace(tracer);
    }
    fn has_finalizer() -> bool {
        false
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "needs an old heap and enough young garbage for CPython's rules to run an automatic full collection: too large for Miri"
)]
fn young_garbage_never_makes_automatic_collections_scan_the_old_heap() {
    let n = if cfg!(miri) { 200 } else { 20_000 };
    // An old heap built bottom-up by moving handles: no strong count ever
    // goes down, so no object of it is a candidate. Not settled by an
    // explicit collection: the automatic rules decide.
    let mut level: Vec<Gc<Old>> = (0..n).map(|_| Gc::new(Old(Vec::new()))).collect();
    while level.len() > 1 {
        let mut handles = level.into_iter();
        let mut parents = Vec::new();
        while let Some(left) = handles.next() {
            parents.push(Gc::new(Old(core::iter::once(left)
                .chain(handles.next())
                .collect())));
        }
        level = parents;
    }
    let root = level.pop().unwrap();
    // Old-heap traces made by full collections (young ones may scan the
    // old heap's objects still in generation 1: that is their job).
    thread_local! {
        static FULL_TRACES: Cell<usize> = const { Cell::new(0) };
        static AT_START: Cell<usize> = const { Cell::new(0) };
    }
    let id = crate::add_callback(|phase, info| {
        let now = OLD_TRACES.with(Cell::get);
        if info.generation == 2 {
            match phase {
                crate::CollectPhase::Start => AT_START.with(|s| s.set(now)),
                crate::CollectPhase::Stop => {
                    FULL_TRACES.with(|f| f.set(f.get() + now - AT_START.with(Cell::get)))
                }
            }
        }
    });
    let full_before = stats()[2].collections;
    for _ in 0..(if cfg!(miri) { 300 } else { 150_000 }) {
        let a = Gc::new(Young(RefCell::new(None)));
        let b = Gc::new(Young(RefCell::new(Some(a.clone()))));
        *a.0.borrow_mut() = Some(b);
    }
    assert!(crate::remove_callback(id));
    assert!(
        stats()[2].collections > full_before,
        "automatic full collections ran"
    );
    assert_eq!(
        FULL_TRACES.with(Cell::get),
        0,
        "none of them scanned the old heap: nothing in it lost a strong handle"
    );
    drop(root);
}
