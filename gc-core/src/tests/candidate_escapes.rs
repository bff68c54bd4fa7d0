//! Garbage must not escape *automatic* collections, which skip their graph
//! passes when no object of their set is a candidate (`collect::candidates`):
//! every strong decrement that does not reach 0 — the collector's own
//! temporary handle included — must leave a counted candidate behind.

use std::cell::RefCell;

use super::node::{Node, take_dropped};
use crate::{Gc, Weak, collect, collect_generation, freeze, set_threshold, stats, unfreeze};

thread_local! {
    static RESCUED: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
}

/// Small thresholds for the test, the defaults again when it ends.
struct Thresholds;

impl Thresholds {
    fn small() -> Thresholds {
        collect();
        take_dropped();
        set_threshold(5, 2, 2);
        Thresholds
    }
}

impl Drop for Thresholds {
    fn drop(&mut self) {
        set_threshold(2000, 10, 10);
        unfreeze();
        collect();
    }
}

/// A node in a cycle with itself, knowing itself weakly.
fn self_cycle(id: usize, on_finalize: fn(&Node)) -> Gc<Node> {
    let node = Node::new(id);
    node.link(&node);
    *node.weak.borrow_mut() = Some(Gc::downgrade(&node));
    node.on_finalize.set(Some(on_finalize));
    node
}

fn upgrade_self(node: &Node) -> Gc<Node> {
    node.weak
        .borrow()
        .as_ref()
        .and_then(Weak::upgrade)
        .expect("a finalizer on the cycle path can upgrade its own Weak")
}

/// Allocates tracked filler (kept alive, never a candidate) until `id` is
/// dropped, at most `limit` objects; only automatic collections run
/// meanwhile. Returns whether `id` was dropped.
fn dropped_by_automatic_collections(id: usize, limit: usize) -> bool {
    let collections = || stats().iter().map(|g| g.collections).sum::<usize>();
    let before = collections();
    let mut filler = Vec::new();
    let mut dropped = Vec::new();
    while !dropped.contains(&id) && filler.len() < limit {
        filler.push(Node::new(1_000_000 + filler.len()));
        dropped.extend(take_dropped());
    }
    assert!(
        collections() > before,
        "the filler triggered automatic collections"
    );
    drop(filler);
    dropped.contains(&id)
}

/// The finalizer stores a new object that points back at its own object
/// (moving the upgraded handle in: no decrement), so the object is
/// resurrected into a new cycle `R <-> G` that becomes garbage when the
/// collector's hold goes.
fn resurrect_into_new_cycle(node: &Node) {
    let me = upgrade_self(node);
    let partner = Node::new(node.id + 1);
    partner.edges.borrow_mut().push(me);
    node.edges.borrow_mut().push(partner);
}

#[test]
fn resurrection_into_a_new_cycle_is_found_by_automatic_collections() {
    let _thresholds = Thresholds::small();
    drop(self_cycle(10, resurrect_into_new_cycle));
    assert_eq!(collect(), 0, "resurrected");
    assert!(take_dropped().is_empty());
    // From here on no manual collection: the new cycle must not leak.
    assert!(
        dropped_by_automatic_collections(10, if cfg!(miri) { 300 } else { 5_000 }),
        "the cycle the finalizer made escaped every automatic collection"
    );
}

/// Keeps its object alive from a thread-local and freezes the heap.
fn freeze_and_rescue(node: &Node) {
    freeze();
    let me = upgrade_self(node);
    RESCUED.with(|r| r.borrow_mut().push(me));
}

#[test]
fn freeze_from_a_finalizer_in_a_young_collection_keeps_candidates_counted() {
    let _thresholds = Thresholds::small();
    // A candidate (its outside handle dropped) in generation 0.
    drop(self_cycle(20, freeze_and_rescue));
    collect_generation(0);
    assert!(take_dropped().is_empty(), "resurrected into generation 1");
    // The rescued handle goes: garbage again, and already flagged.
    RESCUED.with(|r| r.borrow_mut().clear());
    assert!(
        dropped_by_automatic_collections(20, if cfg!(miri) { 300 } else { 5_000 }),
        "the object resurrected next to a freeze() escaped every automatic collection"
    );
}

/// A full collection clears the flags of its set, though a frozen object
/// (outside every set) may be what keeps a flagged object alive: the
/// permanent generation holds no candidate for such a cycle, and once
/// `unfreeze()` returns it to the oldest generation the cycle is garbage
/// with no candidate anywhere.
#[test]
fn a_cycle_through_a_frozen_object_is_found_after_unfreeze() {
    let _thresholds = Thresholds::small();
    let frozen = Node::new(30);
    freeze();
    let young = Node::new(31);
    young.edges.borrow_mut().push(frozen); // moved: no decrement
    let peer = young.clone();
    // Borrowed, never cloned: no decrement on the frozen object.
    young.edges.borrow()[0].edges.borrow_mut().push(peer); // moved
    drop(young); // the last outside handle: `young` flagged
    collect(); // `young` is kept by the frozen object: its flag goes
    assert!(take_dropped().is_empty());
    unfreeze();
    assert!(
        dropped_by_automatic_collections(31, if cfg!(miri) { 300 } else { 5_000 }),
        "the cycle through a thawed object escaped every automatic collection"
    );
}
