//! gc 0.5 (rust-gc): tracing mark-and-sweep, no refcount freeing: memory is
//! reclaimed only by collections, which run automatically when the heap
//! passes its adaptive byte threshold. Interior mutability needs its
//! `GcCell` (a `RefCell` is not `Trace` there).

// gc_derive 0.5 wraps its impls in a `const _`, which this lint flags.
#![allow(non_local_definitions)]

use gc::{Finalize, Gc, GcCell, Trace};

use crate::workloads::{Tally, workload_fns};

pub type P<T> = Gc<T>;
/// The interior-mutability cell of `Node`'s links.
type NodeCell<T> = GcCell<T>;

#[derive(Trace, Finalize)]
pub struct Node {
    /// Payload (gives the node a realistic size; never read).
    #[allow(dead_code)]
    value: u64,
    next: GcCell<Option<P<Node>>>,
    other: GcCell<Option<P<Node>>>,
    #[unsafe_ignore_trace]
    _tally: Tally,
}

/// Immutable tree node of `tree_build_drop_bottom_up` (children set once,
/// in the constructor).
#[derive(Trace, Finalize)]
pub struct Tree {
    left: Option<P<Tree>>,
    right: Option<P<Tree>>,
    #[unsafe_ignore_trace]
    _tally: Tally,
}

const COLLECTS_CYCLES: bool = true;
const AUTO_COLLECT: bool = true;

fn collect() {
    gc::force_collect();
}

workload_fns!();
