//! rust-cc 0.6: refcounting + a cycle collector over buffered possible
//! roots, with its default `auto-collect` feature (collects when allocated
//! bytes pass an adaptive threshold).

use std::cell::RefCell;

use rust_cc::{Cc, Context, Finalize, Trace};

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

// SAFETY: traces each `Cc` exclusively owned by the node (the two links)
// once, the same ones every time; `Tally`'s `Drop` touches no `Cc`.
unsafe impl Trace for Node {
    fn trace(&self, ctx: &mut Context<'_>) {
        self.next.trace(ctx);
        self.other.trace(ctx);
    }
}

impl Finalize for Node {}

/// Immutable tree node of `tree_build_drop_bottom_up` (children set once,
/// in the constructor).
pub struct Tree {
    left: Option<P<Tree>>,
    right: Option<P<Tree>>,
    _tally: Tally,
}

// SAFETY: traces each `Cc` owned by the tree node (the two children) once,
// the same ones every time; `Tally`'s `Drop` touches no `Cc`.
unsafe impl Trace for Tree {
    fn trace(&self, ctx: &mut Context<'_>) {
        self.left.trace(ctx);
        self.right.trace(ctx);
    }
}

impl Finalize for Tree {}

const COLLECTS_CYCLES: bool = true;
const AUTO_COLLECT: bool = true;

fn collect() {
    rust_cc::collect_cycles();
}

workload_fns!();
