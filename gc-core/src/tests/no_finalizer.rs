//! Garbage whose types have no finalizer (`Trace::has_finalizer() == false`)
//! skips the resurrection re-check: nothing can run user code between
//! finding it and dropping it.

use std::cell::RefCell;

use super::node::{
    Node, PlainNode, panic_at_trace, ring_of, take_dropped, take_finalized, take_traced,
};
use crate::{Gc, collect, collect_generation};

/// Runs `test` on a fresh thread: a heap of its own, so trace counts see
/// only the test's objects.
fn on_fresh_heap(test: fn()) {
    std::thread::spawn(test).join().unwrap();
}

#[test]
fn garbage_without_finalizers_is_traced_once() {
    on_fresh_heap(|| {
        drop(ring_of::<false>(10, 5));
        assert_eq!(collect(), 5);
        assert_eq!(
            take_traced(),
            5,
            "one trace per garbage object (subtract_refs), no re-check"
        );
        assert_eq!(take_dropped(), [10, 11, 12, 13, 14]);
        assert!(take_finalized().is_empty(), "no finalizer is called");

        // The same garbage with finalizers: the re-check traces it again.
        drop(ring_of::<true>(20, 5));
        assert_eq!(collect(), 5);
        assert_eq!(take_traced(), 10);
        assert_eq!(take_finalized(), [20, 21, 22, 23, 24]);
        assert_eq!(take_dropped(), [20, 21, 22, 23, 24]);
    });
}

#[test]
fn a_set_too_small_to_sample_is_traced_once() {
    // `choose_walk` samples 16 objects at each end of sets of 32 or more;
    // a smaller set takes the previous pass's direction and is traced by
    // `subtract_refs` alone.
    on_fresh_heap(|| {
        drop(ring_of::<false>(0, 31));
        assert_eq!(collect(), 31);
        assert_eq!(take_traced(), 31, "no object traced twice");
        take_dropped();
    });
}

#[test]
fn garbage_whose_finalizers_ran_skips_the_recheck() {
    thread_local! {
        static RESCUED: RefCell<Option<Gc<Node>>> = const { RefCell::new(None) };
    }
    on_fresh_heap(|| {
        let a = Node::new(1);
        a.link(&a);
        *a.weak.borrow_mut() = Some(Gc::downgrade(&a));
        a.on_finalize.set(Some(|n| {
            let me = n.weak.borrow().as_ref().and_then(crate::Weak::upgrade);
            RESCUED.with(|r| *r.borrow_mut() = me);
        }));
        drop(a);
        assert_eq!(collect(), 0, "the finalizer resurrected it");
        assert_eq!(take_finalized(), [1]);
        take_traced();

        let rescued = RESCUED.with(|r| r.borrow_mut().take()).unwrap();
        assert!(Gc::is_finalized(&rescued));
        drop(rescued);
        assert_eq!(collect(), 1);
        assert_eq!(take_traced(), 1, "finalized already: no re-check");
        assert!(take_finalized().is_empty());
        assert_eq!(take_dropped(), [1]);
    });
}

#[test]
fn weak_references_are_cleared_before_any_drop() {
    thread_local! {
        static UPGRADED: RefCell<Vec<(usize, bool)>> = const { RefCell::new(Vec::new()) };
    }
    fn try_upgrade_peer(n: &PlainNode) {
        let peer = n.weak.borrow().as_ref().and_then(crate::Weak::upgrade);
        UPGRADED.with(|u| u.borrow_mut().push((n.id, peer.is_some())));
    }
    let a = PlainNode::plain(1);
    let b = PlainNode::plain(2);
    a.link(&b);
    b.link(&a);
    *a.weak.borrow_mut() = Some(Gc::downgrade(&b));
    *b.weak.borrow_mut() = Some(Gc::downgrade(&a));
    a.on_drop.set(Some(try_upgrade_peer));
    b.on_drop.set(Some(try_upgrade_peer));
    let outside = Gc::downgrade(&a);
    drop((a, b));
    assert_eq!(collect_generation(0), 2);
    let mut seen = UPGRADED.with(|u| u.borrow_mut().split_off(0));
    seen.sort_unstable();
    assert_eq!(
        seen,
        [(1, false), (2, false)],
        "a Drop never upgrades a Weak to garbage"
    );
    assert!(outside.upgrade().is_none());
    assert!(take_finalized().is_empty());
    assert_eq!(take_dropped(), [1, 2]);
}

/// Nodes 1–5 with only node 3 referenced from outside, linked so that the
/// mark walk passes some reachable nodes before it reaches 3, whichever way
/// it goes (it moves them to the unreachable list, condemned, and must undo
/// that when 3 reaches them); plus a garbage cycle 6 ⇄ 7. Returns node 3
/// and weak handles to nodes 1–5.
fn revival_graph() -> (Gc<PlainNode>, Vec<crate::Weak<PlainNode>>) {
    let n: Vec<Gc<PlainNode>> = (1..=7).map(PlainNode::plain).collect();
    n[2].link(&n[0]); // 3 → 1
    n[2].link(&n[4]); // 3 → 5
    n[0].link(&n[1]); // 1 → 2
    n[4].link(&n[3]); // 5 → 4
    n[5].link(&n[6]); // 6 → 7
    n[6].link(&n[5]); // 7 → 6
    let weak = n[..5].iter().map(Gc::downgrade).collect();
    (n[2].clone(), weak)
}

/// Checks that nodes 1–5 are alive and unharmed: upgradable, not finalized,
/// and holding exactly their own strong handles (none left by the
/// collector).
fn assert_revived_intact(root: &Gc<PlainNode>, weak: &[crate::Weak<PlainNode>]) {
    for (i, w) in weak.iter().enumerate() {
        let node = w
            .upgrade()
            .unwrap_or_else(|| panic!("node {} upgrades", i + 1));
        // One handle from a peer (node 3: from `root`), one from `node`.
        assert_eq!(
            Gc::strong_count(&node),
            2,
            "node {}: no collector handle left",
            i + 1
        );
        assert!(!Gc::is_finalized(&node), "node {}", i + 1);
    }
    assert_eq!(root.edges.borrow().len(), 2);
}

#[test]
fn revived_objects_are_uncondemned() {
    on_fresh_heap(|| {
        let (root, weak) = revival_graph();
        assert_eq!(collect_generation(0), 2, "only the cycle 6 ⇄ 7 is garbage");
        assert_eq!(take_dropped(), [6, 7]);
        assert_revived_intact(&root, &weak);
        super::candidates::check_bookkeeping();
        drop(root);
        assert_eq!(take_dropped(), [1, 2, 3, 4, 5]);
    });
}

#[test]
fn a_panic_in_the_mark_walk_uncondemns_everything() {
    on_fresh_heap(|| {
        let (root, weak) = revival_graph();
        // Seven traces in subtract_refs, then the mark walk's first: by
        // then the walk has moved (condemned) at least one node.
        panic_at_trace(8);
        let err = std::panic::catch_unwind(|| collect_generation(0)).unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"trace panic"));
        assert!(take_dropped().is_empty(), "nothing was freed");
        assert_revived_intact(&root, &weak);
        super::candidates::check_bookkeeping();
        assert_eq!(collect(), 2, "the next collection finds the cycle");
        assert_eq!(take_dropped(), [6, 7]);
        assert_revived_intact(&root, &weak);
    });
}
