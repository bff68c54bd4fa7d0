//! pygc: refcounting + CPython's generational cycle collector (automatic).

use std::cell::RefCell;

use crate::workloads::{Tally, workload_fns};

pub type P<T> = pygc::Gc<T>;
/// The interior-mutability cell of `Node`'s links.
type NodeCell<T> = RefCell<T>;

#[derive(pygc::Trace)]
pub struct Node {
    /// Payload (gives the node a realistic size; never read).
    #[allow(dead_code)]
    value: u64,
    next: RefCell<Option<P<Node>>>,
    other: RefCell<Option<P<Node>>>,
    #[trace(skip)]
    _tally: Tally,
}

/// Immutable tree node of `tree_build_drop_bottom_up` (children set once,
/// in the constructor).
#[derive(pygc::Trace)]
pub struct Tree {
    left: Option<P<Tree>>,
    right: Option<P<Tree>>,
    #[trace(skip)]
    _tally: Tally,
}

const COLLECTS_CYCLES: bool = true;
/// Automatic collection in `Gc::new` (threshold 2000, 10, 10).
const AUTO_COLLECT: bool = true;

fn collect() {
    pygc::collect();
}

workload_fns!();
