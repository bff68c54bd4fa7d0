//! A test node with a drop tally, hand-implementing `Trace`.

use core::cell::{Cell, RefCell};

use crate::{Finalize, Gc, Trace, Tracer, Weak};

thread_local! {
    static DROPPED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    static FINALIZED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    static TRACED: Cell<usize> = const { Cell::new(0) };
    static PANIC_AT_TRACE: Cell<usize> = const { Cell::new(0) };
}

/// Makes the `n`-th `trace` call on a node from now panic (0: never).
pub(crate) fn panic_at_trace(n: usize) {
    TRACED.with(|t| t.set(0));
    PANIC_AT_TRACE.with(|p| p.set(n));
}

/// `trace` calls on nodes since the last call (and resets the count).
pub(crate) fn take_traced() -> usize {
    TRACED.with(Cell::take)
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
/// `FINALIZER` is its `Trace::has_finalizer()`: `Node` has a finalizer,
/// [`PlainNode`] has none.
pub(crate) struct Node<const FINALIZER: bool = true> {
    pub(crate) id: usize,
    pub(crate) edges: RefCell<Vec<Gc<Node<FINALIZER>>>>,
    pub(crate) weak: RefCell<Option<Weak<Node<FINALIZER>>>>,
    /// Run in `finalize`.
    pub(crate) on_finalize: Cell<Option<fn(&Node<FINALIZER>)>>,
    /// Run in `drop`.
    pub(crate) on_drop: Cell<Option<fn(&Node<FINALIZER>)>>,
}

/// A node whose type has no finalizer (`has_finalizer() == false`), as
/// `#[derive(Trace)]` makes them without `#[trace(finalize)]`.
pub(crate) type PlainNode = Node<false>;

impl Node {
    pub(crate) fn new(id: usize) -> Gc<Node> {
        Node::with_id(id)
    }
}

impl PlainNode {
    pub(crate) fn plain(id: usize) -> Gc<PlainNode> {
        Node::with_id(id)
    }
}

impl<const FINALIZER: bool> Node<FINALIZER> {
    pub(crate) fn with_id(id: usize) -> Gc<Self> {
        Gc::new(Node {
            id,
            edges: RefCell::new(Vec::new()),
            weak: RefCell::new(None),
            on_finalize: Cell::new(None),
            on_drop: Cell::new(None),
        })
    }

    pub(crate) fn link(&self, to: &Gc<Self>) {
        self.edges.borrow_mut().push(to.clone());
    }
}

impl<const FINALIZER: bool> Finalize for Node<FINALIZER> {
    fn finalize(&self) {
        FINALIZED.with(|f| f.borrow_mut().push(self.id));
        if let Some(f) = self.on_finalize.get() {
            f(self);
        }
    }
}

impl<const FINALIZER: bool> Drop for Node<FINALIZER> {
    fn drop(&mut self) {
        DROPPED.with(|d| d.borrow_mut().push(self.id));
        if let Some(f) = self.on_drop.get() {
            f(self);
        }
    }
}

// SAFETY: visits each owned `Gc` (the edges) once; the `Weak` is no edge.
unsafe impl<const FINALIZER: bool> Trace for Node<FINALIZER> {
    fn trace(&self, tracer: &mut Tracer) {
        let traced = TRACED.with(|t| t.get() + 1);
        TRACED.with(|t| t.set(traced));
        if PANIC_AT_TRACE.with(|p| p.get()) == traced {
            PANIC_AT_TRACE.with(|p| p.set(0));
            panic!("trace panic");
        }
        self.edges.trace(tracer);
    }
    fn has_finalizer() -> bool {
        FINALIZER
    }
    fn run_finalizer(&self) {
        self.finalize();
    }
}

/// Builds a ring of `n` nodes with ids `base..base + n`, returns its first node.
pub(crate) fn ring(base: usize, n: usize) -> Gc<Node> {
    ring_of(base, n)
}

/// [`ring`] of nodes with or without a finalizer.
pub(crate) fn ring_of<const FINALIZER: bool>(base: usize, n: usize) -> Gc<Node<FINALIZER>> {
    let first = Node::with_id(base);
    let mut prev = first.clone();
    for i in 1..n {
        let node = Node::with_id(base + i);
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

/// A tracked `Gc<u64>`: downcast from a `Gc<dyn AnyTrace>` made from a box
/// (whose concrete type `Gc::from` cannot see, so it is tracked).
pub(crate) fn tracked_u64(value: u64) -> Gc<u64> {
    let boxed: Box<dyn crate::AnyTrace> = Box::new(value);
    let number = Gc::<dyn crate::AnyTrace>::from(boxed)
        .downcast::<u64>()
        .unwrap_or_else(|_| panic!("a u64 downcasts to u64"));
    assert!(Gc::is_tracked(&number));
    number
}
