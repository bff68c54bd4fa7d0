//! Cycle collection, generations, counts, thresholds, freeze, callbacks.

use std::cell::RefCell;
use std::rc::Rc;

use super::node::{Node, ring, take_dropped, take_finalized};
use crate::{
    CollectPhase, Gc, add_callback, collect, collect_generation, count, disable, enable, freeze,
    freeze_count, remove_callback, set_threshold, stats, threshold, unfreeze,
};

fn reset() {
    collect();
    take_dropped();
    take_finalized();
}

#[test]
fn self_cycle_collected() {
    reset();
    let a = Node::new(1);
    a.link(&a);
    drop(a);
    assert!(take_dropped().is_empty());
    assert_eq!(collect(), 1);
    assert_eq!(take_dropped(), [1]);
    assert_eq!(collect(), 0);
}

#[test]
fn two_cycle_and_ring() {
    reset();
    let a = Node::new(1);
    let b = Node::new(2);
    a.link(&b);
    b.link(&a);
    drop((a, b));
    let r = ring(10, 50);
    drop(r);
    assert_eq!(collect(), 52);
    assert_eq!(take_dropped().len(), 52);
}

#[test]
fn reachable_cycle_survives() {
    reset();
    let r = ring(0, 10);
    assert_eq!(collect(), 0);
    assert!(take_dropped().is_empty());
    drop(r);
    assert_eq!(collect(), 10);
    take_dropped();
}

#[test]
fn young_collection_keeps_objects_referenced_from_old() {
    reset();
    let old = Node::new(1);
    collect(); // `old` moves to generation 2
    let young = ring(10, 3);
    old.link(&young);
    drop(young);
    assert_eq!(collect_generation(0), 0);
    assert!(take_dropped().is_empty());
    old.edges.borrow_mut().clear();
    assert_eq!(
        collect_generation(0),
        0,
        "the ring was promoted to generation 1"
    );
    assert_eq!(collect_generation(1), 3);
    assert_eq!(take_dropped(), [10, 11, 12]);
}

#[test]
fn counts_follow_cpython() {
    reset();
    // CPython test_get_count: after a full collection gen1/gen2 counts are 0.
    assert_eq!(&count()[1..], [0, 0]);
    let a = count()[0];
    let x = Node::new(1);
    assert_eq!(count()[0], a + 1);
    drop(x);
    assert_eq!(count()[0], a);
    take_dropped();
    // CPython test_collect_generations.
    collect_generation(0);
    assert_eq!(count(), [0, 1, 0]);
    collect_generation(1);
    assert_eq!(count(), [0, 0, 1]);
    collect_generation(2);
    assert_eq!(count(), [0, 0, 0]);
}

#[test]
#[should_panic(expected = "invalid generation")]
fn invalid_generation_panics() {
    collect_generation(3);
}

#[test]
fn stats_count_collections_and_collected() {
    reset();
    let before = stats();
    let a = Node::new(1);
    a.link(&a);
    drop(a);
    collect();
    collect_generation(0);
    let after = stats();
    assert_eq!(after[2].collections, before[2].collections + 1);
    assert_eq!(after[2].collected, before[2].collected + 1);
    assert_eq!(after[0].collections, before[0].collections + 1);
    take_dropped();
}

#[test]
fn automatic_collection_and_threshold_zero() {
    reset();
    set_threshold(10, 10, 10);
    let before = stats()[0].collections;
    for i in 0..30 {
        let a = Node::new(i);
        a.link(&a);
    }
    assert!(
        stats()[0].collections > before,
        "gen0 collected automatically"
    );
    assert!(!take_dropped().is_empty());
    set_threshold(0, 10, 10);
    let before = stats()[0].collections;
    for i in 0..30 {
        drop(Node::new(i));
    }
    assert_eq!(stats()[0].collections, before);
    disable();
    set_threshold(1, 10, 10);
    for i in 0..30 {
        drop(Node::new(i));
    }
    assert_eq!(stats()[0].collections, before);
    enable();
    set_threshold(2000, 10, 10);
    assert_eq!(threshold(), [2000, 10, 10]);
    reset();
}

#[test]
fn pause_guards_nest() {
    {
        let _a = crate::pause();
        {
            let _b = crate::pause();
            assert!(!crate::is_enabled());
        }
        assert!(!crate::is_enabled());
    }
    assert!(crate::is_enabled());
}

#[test]
fn freeze_excludes_from_collection() {
    reset();
    let a = Node::new(1);
    a.link(&a);
    freeze();
    assert_eq!(count(), [0, 0, 0]);
    assert!(freeze_count() >= 1);
    drop(a);
    assert_eq!(collect(), 0, "frozen objects are never scanned");
    unfreeze();
    assert_eq!(freeze_count(), 0);
    assert_eq!(collect(), 1);
    assert_eq!(take_dropped(), [1]);
}

/// Generation 2 has two list codes that alternate between full
/// collections: objects that reached generation 2 before or after either
/// kind of flip (full collection, unfreeze) must all be examined by the
/// next full collection.
#[test]
fn garbage_reaching_generation_2_at_any_point_is_collected() {
    reset();
    let mut held = Vec::new();
    for round in 0..4 {
        // Promoted to generation 2 by young collections, under the current
        // code.
        let r = ring(100 * round, 3);
        collect_generation(0);
        collect_generation(1);
        held.push(r);
        if round == 2 {
            freeze();
            unfreeze();
        }
        // Survives a full collection: takes the other code.
        assert_eq!(collect(), 0);
    }
    let late = ring(900, 2);
    collect_generation(0);
    collect_generation(1);
    drop(held);
    drop(late);
    assert_eq!(collect(), 4 * 3 + 2);
    assert_eq!(take_dropped().len(), 4 * 3 + 2);
    assert_eq!(collect(), 0);
}

/// A complete binary tree whose nodes link to their children, built
/// bottom-up (children allocated first, the edges point backward) or
/// top-down (the edges point forward); `back_to_root` adds an edge from
/// the last leaf to the root, making the whole tree one cycle.
fn binary_tree(base: usize, depth: u32, bottom_up: bool, back_to_root: bool) -> Gc<Node> {
    let mut next_id = base;
    let mut leaves = Vec::new();
    fn build(
        depth: u32,
        bottom_up: bool,
        next_id: &mut usize,
        leaves: &mut Vec<Gc<Node>>,
    ) -> Gc<Node> {
        let fresh = |id: &mut usize| {
            *id += 1;
            Node::new(*id - 1)
        };
        let node = if bottom_up {
            None
        } else {
            Some(fresh(next_id))
        };
        let children: Vec<_> = (0..if depth > 1 { 2 } else { 0 })
            .map(|_| build(depth - 1, bottom_up, next_id, leaves))
            .collect();
        let node = node.unwrap_or_else(|| fresh(next_id));
        for child in &children {
            node.link(child);
        }
        if children.is_empty() {
            leaves.push(node.clone());
        }
        node
    }
    let root = build(depth, bottom_up, &mut next_id, &mut leaves);
    if back_to_root {
        leaves[leaves.len() - 1].link(&root);
    }
    root
}

/// `mark_reachable` walks the list the way most edges point; either way it
/// must find the same unreachable set, with a cycle through the whole graph
/// and an external root in the middle of the list.
#[test]
fn graphs_built_bottom_up_or_top_down_collect_alike() {
    reset();
    for bottom_up in [false, true] {
        let live = binary_tree(0, 8, bottom_up, true);
        let dead = binary_tree(1000, 8, bottom_up, true);
        // An external root on an inner node of a garbage-looking tree.
        let held_subtree = binary_tree(2000, 6, bottom_up, true);
        let inner = held_subtree.edges.borrow()[1].clone();
        drop(held_subtree);
        drop(dead);
        assert_eq!(collect(), 255, "bottom_up = {bottom_up}");
        assert_eq!(take_dropped(), (1000..1255).collect::<Vec<_>>());
        drop(inner);
        assert_eq!(collect(), 63, "bottom_up = {bottom_up}");
        assert_eq!(take_dropped(), (2000..2063).collect::<Vec<_>>());
        drop(live);
        assert_eq!(collect(), 255, "bottom_up = {bottom_up}");
        assert_eq!(take_dropped(), (0..255).collect::<Vec<_>>());
    }
}

#[test]
fn frozen_objects_freed_by_refcount() {
    reset();
    let a = Node::new(1);
    freeze();
    drop(a);
    assert_eq!(take_dropped(), [1]);
    assert_eq!(freeze_count(), 0);
    take_finalized();
}

#[test]
fn callbacks_start_stop_and_self_removal() {
    reset();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let id = add_callback(move |phase, info| {
        l.borrow_mut()
            .push((phase, info.generation, info.collected))
    });
    let a = Node::new(1);
    a.link(&a);
    drop(a);
    assert_eq!(collect_generation(1), 1);
    assert_eq!(
        *log.borrow(),
        [(CollectPhase::Start, 1, 0), (CollectPhase::Stop, 1, 1)]
    );
    assert!(remove_callback(id));
    assert!(!remove_callback(id));
    collect();
    assert_eq!(log.borrow().len(), 2);

    // A callback that removes itself at Start still... runs no more after.
    let calls = Rc::new(RefCell::new(0));
    let c = calls.clone();
    let my_id = Rc::new(RefCell::new(None));
    let mine = my_id.clone();
    let id = add_callback(move |_, _| {
        *c.borrow_mut() += 1;
        if let Some(id) = mine.borrow_mut().take() {
            assert!(remove_callback(id));
        }
    });
    *my_id.borrow_mut() = Some(id);
    collect();
    assert_eq!(
        *calls.borrow(),
        1,
        "removal is effective from the next phase"
    );
    take_dropped();
}

#[test]
fn collect_inside_callback_returns_zero() {
    reset();
    let inner = Rc::new(RefCell::new(Vec::new()));
    let i = inner.clone();
    let id = add_callback(move |_, _| i.borrow_mut().push(collect()));
    let a = Node::new(1);
    a.link(&a);
    drop(a);
    assert_eq!(collect(), 1);
    assert_eq!(*inner.borrow(), [0, 0]);
    remove_callback(id);
    take_dropped();
}

#[test]
fn bounded_memory_with_automatic_collection() {
    reset();
    #[cfg(miri)]
    const N: usize = 3000;
    #[cfg(not(miri))]
    const N: usize = 200_000;
    for i in 0..N {
        let a = Node::new(i);
        let b = Node::new(i);
        a.link(&b);
        b.link(&a);
        if i % 1000 == 0 {
            take_dropped();
        }
    }
    // At most the threshold's worth of cycles is pending at any time.
    let heap = crate::heap::heap();
    let pending = (0..3).map(|g| heap.gens.list(g).len()).sum::<usize>();
    assert!(pending < 10_000, "{pending} objects still tracked");
    reset();
}

#[test]
fn gc_handles_to_untracked_are_not_edges() {
    reset();
    let leaf = Gc::new(5u8);
    let holder = Gc::new(RefCell::new(vec![leaf.clone()]));
    assert_eq!(collect(), 0);
    drop(holder);
    assert_eq!(Gc::strong_count(&leaf), 1);
}

/// Issue 15 (item 6): a `CallbackId` is `Send`, so an id registered on one
/// thread can reach another. Removing it there must not remove that
/// thread's own callback: ids are unique in the process.
#[test]
fn foreign_callback_id_removes_nothing() {
    let id_from_a = std::thread::spawn(|| add_callback(|_, _| {}))
        .join()
        .unwrap();
    std::thread::spawn(move || {
        let calls = Rc::new(RefCell::new(0));
        let c = calls.clone();
        let own = add_callback(move |_, _| *c.borrow_mut() += 1);
        assert_ne!(own, id_from_a, "two threads handed out the same id");
        assert!(
            !remove_callback(id_from_a),
            "another thread's id removed a callback of this thread"
        );
        collect();
        assert_eq!(*calls.borrow(), 2, "this thread's callback still runs");
        assert!(remove_callback(own));
    })
    .join()
    .unwrap();
}

/// The mark stack's memory is kept for the next collection (unless it grew
/// past `MARK_STACK_KEEP` for one unusual graph): a collection that had to
/// trace an object from the stack leaves its capacity behind.
#[test]
fn the_mark_stack_is_kept_between_collections() {
    // x1, x2, x3 in allocation order; only x2 is held from outside. Edges
    // x2 -> x1 (back), x2 -> x3 and x1 -> x3 (forward): the walk goes
    // forward, moves x1 before it reaches x2, and x2's trace then revives
    // x1 from the stack.
    let x1 = Node::new(1);
    let x2 = Node::new(2);
    let x3 = Node::new(3);
    x2.link(&x1);
    x2.link(&x3);
    x1.link(&x3);
    drop((x1, x3));
    let heap = crate::heap::heap();
    drop(heap.mark_stack.take());
    assert_eq!(collect(), 0);
    let stack = heap.mark_stack.take();
    assert!(stack.capacity() > 0, "the stack used was kept");
    heap.mark_stack.set(stack);
    drop(x2);
    collect();
    take_dropped();
    take_finalized();
}

/// An automatic full collection whose candidates are all young collects
/// the young generations first, then the old one if the young collection
/// left it a candidate; what it reports is what both freed.
#[test]
fn a_young_first_full_collection_reports_what_both_phases_freed() {
    use crate::collect::Scan;
    // `old` joins the old generation; a young node and it form a cycle in
    // which only the young node lost a handle (the old one's handle moves
    // into the young one).
    let old = Node::new(1);
    collect();
    let young = Node::new(2);
    old.link(&young);
    young.edges.borrow_mut().push(old);
    drop(young);
    // Young garbage of its own: a ring of three.
    drop(ring(10, 3));
    let collected = crate::heap::heap().collect_with_callbacks(2, Scan::IfCandidates);
    assert_eq!(
        collected,
        3 + 2,
        "the young ring, then the cycle through the old node"
    );
    assert_eq!(take_dropped(), [1, 2, 10, 11, 12]);
    take_finalized();
}

/// The mark walk goes the way most edges point (the edge balance of
/// `subtract_refs`), so a reachable graph moves nothing to the unreachable
/// list, whether it was linked top-down (parents allocated first) or built
/// bottom-up (children first); walking the wrong way would move and revive
/// most of it.
#[test]
fn the_mark_walk_follows_the_edges_and_moves_nothing_reachable() {
    fn last_walk() -> (usize, usize) {
        crate::heap::heap().last_walk.get()
    }
    // More than `choose_walk` samples at both ends of the set.
    let n = if cfg!(miri) { 40 } else { 500 };
    // Top-down: each node links to the next one, allocated after it.
    let nodes: Vec<_> = (0..n).map(Node::new).collect();
    for pair in nodes.windows(2) {
        pair[0].link(&pair[1]);
    }
    let head = nodes[0].clone();
    drop(nodes);
    assert_eq!(collect(), 0);
    assert_eq!(last_walk(), (0, 0), "top-down: walked forward");
    drop(head);
    // Bottom-up: each node links to the one allocated before it.
    let mut tail = Node::new(10_000);
    for id in 1..n {
        let node = Node::new(10_000 + id);
        node.link(&tail);
        tail = node;
    }
    assert_eq!(collect(), 0);
    assert_eq!(last_walk(), (0, 0), "bottom-up: walked backward");
    drop(tail);
    collect();
    take_dropped();
    take_finalized();
}
