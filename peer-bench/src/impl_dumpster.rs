//! dumpster 2.1, `unsync` module: refcounting + a cycle search from dropped
//! handles, run automatically by its default collect condition
//! (dropped-since-last-collect > existing).

use std::cell::RefCell;

use dumpster::unsync::Gc;
use dumpster::{TraceWith, Visitor};

use crate::workloads::{Tally, workload_fns};

pub type P<T> = Gc<T>;
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

// SAFETY: visits each owned `Gc` (the two links) once, in a fixed order;
// `Node` owns its fields (tree-like ownership), the tally holds no pointer.
unsafe impl<V: Visitor> TraceWith<V> for Node {
    fn accept(&self, visitor: &mut V) -> Result<(), ()> {
        self.next.accept(visitor)?;
        self.other.accept(visitor)
    }
}

/// Immutable tree node of `tree_build_drop_bottom_up` (children set once,
/// in the constructor).
pub struct Tree {
    left: Option<P<Tree>>,
    right: Option<P<Tree>>,
    _tally: Tally,
}

// SAFETY: visits each owned `Gc` (the two children) once, in a fixed order.
unsafe impl<V: Visitor> TraceWith<V> for Tree {
    fn accept(&self, visitor: &mut V) -> Result<(), ()> {
        self.left.accept(visitor)?;
        self.right.accept(visitor)
    }
}

const COLLECTS_CYCLES: bool = true;
const AUTO_COLLECT: bool = true;

fn collect() {
    dumpster::unsync::collect();
}

workload_fns!();
