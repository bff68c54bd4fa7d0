//! `std::rc::Rc` + `RefCell`: the baseline. No cycle collection: workloads
//! that leave cycles behind are `n/a`.

use std::cell::RefCell;
use std::rc::Rc;

use crate::workloads::{Tally, workload_fns};

pub type P<T> = Rc<T>;
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

/// Immutable tree node of `tree_build_drop_bottom_up` (children set once,
/// in the constructor).
pub struct Tree {
    #[allow(dead_code)]
    left: Option<P<Tree>>,
    #[allow(dead_code)]
    right: Option<P<Tree>>,
    _tally: Tally,
}

const COLLECTS_CYCLES: bool = false;
const AUTO_COLLECT: bool = false;

fn collect() {}

workload_fns!();
