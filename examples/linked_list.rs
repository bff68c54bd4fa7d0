//! A doubly linked list with strong back-pointers: every node holds its
//! `prev` and `next` neighbours as `Gc`s, so every pair of neighbours is a
//! reference cycle. Refcounting alone frees none of it when the list is
//! dropped; `pygc::collect()` (Python's `gc.collect()`) frees all of it.
//!
//! The Python it mirrors:
//!
//! ```python
//! class Node:
//!     def __init__(self, value):
//!         self.value, self.prev, self.next = value, None, None
//! ```
//!
//! Run with `cargo run --release --example linked_list`.

use std::cell::RefCell;

use pygc::{Gc, Trace};

const NODES: usize = 100_000;

/// One node: both neighbours are strong references, like Python attributes.
#[derive(Trace)]
struct Node {
    value: i64,
    prev: RefCell<Option<Gc<Node>>>,
    next: RefCell<Option<Gc<Node>>>,
}

/// The list itself: a plain Rust value holding the two ends.
#[derive(Default)]
struct LinkedList {
    head: Option<Gc<Node>>,
    tail: Option<Gc<Node>>,
    len: usize,
}

impl LinkedList {
    fn push_back(&mut self, value: i64) {
        let node = Gc::new(Node {
            value,
            prev: RefCell::new(self.tail.clone()),
            next: RefCell::new(None),
        });
        match self.tail.take() {
            Some(old_tail) => *old_tail.next.borrow_mut() = Some(node.clone()),
            None => self.head = Some(node.clone()),
        }
        self.tail = Some(node);
        self.len += 1;
    }

    /// Walks head to tail through `next`, summing the values.
    fn sum_forward(&self) -> i64 {
        let mut sum = 0;
        let mut cursor = self.head.clone();
        while let Some(node) = cursor {
            sum += node.value;
            cursor = node.next.borrow().clone();
        }
        sum
    }

    /// Walks tail to head through `prev`, summing the values.
    fn sum_backward(&self) -> i64 {
        let mut sum = 0;
        let mut cursor = self.tail.clone();
        while let Some(node) = cursor {
            sum += node.value;
            cursor = node.prev.borrow().clone();
        }
        sum
    }
}

fn main() {
    let before = pygc::heap_stats().bytes_in_use;

    println!("1. Build a doubly linked list of {NODES} nodes (prev and next are both Gc)");
    let mut list = LinkedList::default();
    for i in 0..NODES {
        list.push_back(i as i64);
    }
    let head = list.head.clone().expect("a head");
    println!(
        "    {} nodes; sum forward = {}, sum backward = {}; the head has {} strong handles",
        list.len,
        list.sum_forward(),
        list.sum_backward(),
        Gc::strong_count(&head)
    );
    println!(
        "    heap in use: {} KiB",
        pygc::heap_stats().bytes_in_use.saturating_sub(before) / 1024
    );

    println!("2. Drop the list (like `del lst`): refcounting alone frees nothing");
    let watch = Gc::downgrade(&head);
    drop(head);
    drop(list);
    let still_alive = watch.upgrade().is_some();
    println!("    a Weak to the old head still upgrades: {still_alive}");
    println!(
        "    heap in use: {} KiB (each node is kept alive by its neighbours)",
        pygc::heap_stats().bytes_in_use.saturating_sub(before) / 1024
    );

    println!("3. pygc::collect() finds the unreachable cycles");
    let freed = pygc::collect();
    println!("    freed {freed} nodes");
    println!(
        "    the Weak to the old head upgrades: {}",
        watch.upgrade().is_some()
    );
    println!(
        "    heap in use: {} KiB",
        pygc::heap_stats().bytes_in_use.saturating_sub(before) / 1024
    );
}
