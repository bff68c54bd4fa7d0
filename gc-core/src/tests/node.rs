//! A test node with a drop tally, hand-implementing `Trace`.

use core::cell::{Cell, RefCell};

use crate::{Finalize, Gc, Trace, Tracer, Weak};

thread_local! {
    static DROPPED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    static FINALIZED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Ids dropped since the last call (and clears the tally).
pub(crate) fn take_dropped() -> Vec<usize> {
    let mut v = DROPPED.with(|d| core::mem::take(&mut *d.borrow_mut()));
    v.sort_unstable();
    v
}

/// Ids finalized since the last call.
pub(crate) fn take_finalized() -> Vec<usize> {
    let mut v = FINALIZED.with(|d| core::mem::take(&mut *d.borrow_mut()));
    v.sort_unstable();
    v
}

/// A graph node: owns edges, may hold a weak to a peer, records drops.
pub(crate) struct Node {
    pub(crate) id: usize,
    pub(crate) edges: RefCell<Vec<Gc<Node>>>,
    pub(crate) weak: RefCell<Option<Weak<Node>>>,
    /// Run in `finalize`.
    pub(crate) on_finalize: Cell<Option<fn(&Node)>>,
    /// Run in `drop`.
    pub(crate) on_drop: Cell<Option<fn(&Node)>>,
}

impl Node {
    pub(crate) fn new(id: usize) -> Gc<Node> {
        Gc::new(Node {
            id,
            edges: RefCell::new(Vec::new()),
            weak: RefCell::new(None),
            on_finalize: Cell::new(None),
            on_drop: Cell::new(None),
        })
    }

    pub(crate) fn link(&self, to: &Gc<Node>) {
        self.edges.borrow_mut().push(to.clone());
    }
}

impl Finalize for Node {
    fn finalize(&self) {
        FINALIZED.with(|f| f.borrow_mut().push(self.id));
        if let Some(f) = self.on_finalize.get() {
            f(self);
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        DROPPED.with(|d| d.borrow_mut().push(self.id));
        if let Some(f) = self.on_drop.get() {
            f(self);
        }
    }
}

// SAFETY: visits each owned `Gc` (the edges) once; the `Weak` is no edge.
unsafe impl Trace for Node {
    fn trace(&self, tracer: &mut Tracer) {
        self.edges.trace(tracer);
    }
    fn run_finalizer(&self) {
        self.finalize();
    }
}

/// Builds a ring of `n` nodes with ids `base..base + n`, returns its first node.
pub(crate) fn ring(base: usize, n: usize) -> Gc<Node> {
    let first = Node::new(base);
    let mut prev = first.clone();
    for i in 1..n {
        let node = Node::new(base + i);
        prev.link(&node);
        prev = node;
    }
    prev.link(&first);
    first
}

/// Builds a singly linked chain of `n` nodes (ids `0..n`, each linking to
/// the previous one) and returns its head (id `n - 1`).
pub(crate) fn chain(n: usize) -> Gc<Node> {
    let mut head = Node::new(0);
    for i in 1..n {
        let node = Node::new(i);
        node.link(&head);
        head = node;
    }
    head
}
