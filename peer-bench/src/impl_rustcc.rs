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

const COLLECTS_CYCLES: bool = true;
const AUTO_COLLECT: bool = true;

fn collect() {
    rust_cc::collect_cycles();
}

workload_fns!();
