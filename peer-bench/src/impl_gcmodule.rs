//! gcmodule 0.3: refcounting + CPython-style (non-generational) cycle
//! collector. It never collects by itself: `collect_thread_cycles()` is
//! called by hand (in the young_garbage workloads every 2000 tracked
//! allocations, pygc's default threshold).

use std::cell::RefCell;

use gcmodule::{Cc, Trace, Tracer};

use crate::workloads::{Tally, workload_fns};

pub type P<T> = Cc<T>;
/// The interior-mutability cell of `Node`'s links.
type NodeCell<T> = RefCell<T>;

pub struct Node {
    /// Payload (gives the node a realistic size; never read).
    #[allow(dead_code)]
    value: u64,
    next: RefCell<Option<P<Node>>>,
    other: RefCell<Option<P<Node>>>,
    _tally: Tally,
}

impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        self.next.trace(tracer);
        self.other.trace(tracer);
    }
    fn is_type_tracked() -> bool {
        true
    }
}

/// Immutable tree node of `tree_build_drop_bottom_up` (children set once,
/// in the constructor).
pub struct Tree {
    left: Option<P<Tree>>,
    right: Option<P<Tree>>,
    _tally: Tally,
}

impl Trace for Tree {
    fn trace(&self, tracer: &mut Tracer) {
        self.left.trace(tracer);
        self.right.trace(tracer);
    }
    fn is_type_tracked() -> bool {
        true
    }
}

const COLLECTS_CYCLES: bool = true;
const AUTO_COLLECT: bool = false;

fn collect() {
    gcmodule::collect_thread_cycles();
}

workload_fns!();
