//! `std::rc::Rc` + `RefCell`: the baseline. No cycle collection: workloads
//! that leave cycles behind are `n/a`.

use std::cell::RefCell;
use std::rc::Rc;

use crate::workloads::{Tally, workload_fns};

pub type P<T> = Rc<T>;

pub struct Node {
    /// Payload (gives the node a realistic size; never read).
    #[allow(dead_code)]
    value: u64,
    next: RefCell<Option<P<Node>>>,
    other: RefCell<Option<P<Node>>>,
    _tally: Tally,
}

const COLLECTS_CYCLES: bool = false;
const AUTO_COLLECT: bool = false;

#[inline]
fn new_u64(v: u64) -> P<u64> {
    Rc::new(v)
}

#[inline]
fn node(value: u64) -> P<Node> {
    Rc::new(Node {
        value,
        next: RefCell::new(None),
        other: RefCell::new(None),
        _tally: Tally::new(),
    })
}

fn collect() {}

workload_fns!();
