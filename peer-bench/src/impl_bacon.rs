//! bacon_rajan_cc 0.4: refcounting + Bacon–Rajan synchronous cycle
//! collection over buffered possible roots. It never collects by itself:
//! `collect_cycles()` is called by hand (in the young_garbage workloads
//! every 2000 tracked allocations, pygc's default threshold).

use std::cell::RefCell;

use bacon_rajan_cc::{Cc, Trace, Tracer};

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
}

const COLLECTS_CYCLES: bool = true;
const AUTO_COLLECT: bool = false;

fn collect() {
    bacon_rajan_cc::collect_cycles();
}

workload_fns!();
