//! `Weak`: counts, identity, `Debug`, and when the collector clears it.

use std::cell::RefCell;

use super::node::{Node, take_dropped, take_finalized};
use crate::{Gc, Weak, collect};

#[test]
fn weak_count_counts_weak_handles_while_the_value_lives() {
    let untracked = Gc::new(1u32);
    let w = Gc::downgrade(&untracked);
    assert_eq!(w.weak_count(), 1);
    let w2 = w.clone();
    assert_eq!((w.weak_count(), w2.weak_count()), (2, 2));
    let _extra = untracked.clone();
    assert_eq!(w.weak_count(), 2, "strong handles do not count");
    drop(w2);
    assert_eq!(w.weak_count(), 1);
    drop((untracked, _extra));
    assert_eq!(w.weak_count(), 0, "0 once the value is gone");
    assert_eq!(Weak::<u32>::new().weak_count(), 0);

    let tracked = Node::new(1);
    let w = Gc::downgrade(&tracked);
    let _w2 = Gc::downgrade(&tracked);
    let _w3 = w.clone();
    assert_eq!(w.weak_count(), 3);
    assert_eq!(Gc::weak_count(&tracked), 3);
    drop(tracked);
    assert_eq!(w.weak_count(), 0);
    take_dropped();
    take_finalized();
}

#[test]
fn strong_count_follows_the_strong_handles() {
    let a = Gc::new(String::from("a"));
    let w = Gc::downgrade(&a);
    let b = a.clone();
    assert_eq!(w.strong_count(), 2);
    drop(b);
    assert_eq!(w.strong_count(), 1);
    drop(a);
    assert_eq!(w.strong_count(), 0);
}

#[test]
fn ptr_eq_compares_identity() {
    let a = Gc::new(7u8);
    let b = Gc::new(7u8); // equal value, other object
    let wa = Gc::downgrade(&a);
    assert!(wa.ptr_eq(&wa.clone()));
    assert!(wa.ptr_eq(&Gc::downgrade(&a)));
    assert!(!wa.ptr_eq(&Gc::downgrade(&b)));
    assert!(!Gc::downgrade(&b).ptr_eq(&wa));
    let none: Weak<u8> = Weak::new();
    assert!(none.ptr_eq(&Weak::new()), "dangling weaks are equal");
    assert!(!none.ptr_eq(&wa));
    assert!(!wa.ptr_eq(&none));
    drop(a);
    assert!(
        wa.ptr_eq(&wa.clone()),
        "still the same (dead) object once the value is gone"
    );
}

#[test]
fn debug_output() {
    let a = Gc::new(3i64);
    let w = Gc::downgrade(&a);
    assert_eq!(format!("{w:?}"), "(Weak)");
    assert_eq!(format!("{:?}", Weak::<i64>::new()), "(Weak)");
    assert_eq!(format!("{:?}", Some(w)), "Some((Weak))");
}

/// On the finalizer path (the garbage's type has a finalizer), weak
/// references are cleared after the finalizers but before any `Drop`: a
/// finalizer upgrades its `Weak` to a peer, a `Drop` gets `None`.
#[test]
fn weak_references_cleared_between_finalizers_and_drops() {
    thread_local! {
        static SEEN: RefCell<Vec<(&'static str, usize, bool)>> =
            const { RefCell::new(Vec::new()) };
    }
    fn upgrade_peer(n: &Node, phase: &'static str) {
        let peer = n.weak.borrow().as_ref().and_then(Weak::upgrade);
        SEEN.with(|s| s.borrow_mut().push((phase, n.id, peer.is_some())));
    }
    collect();
    take_dropped();
    take_finalized();
    let a = Node::new(1);
    let b = Node::new(2);
    a.link(&b);
    b.link(&a);
    *a.weak.borrow_mut() = Some(Gc::downgrade(&b));
    *b.weak.borrow_mut() = Some(Gc::downgrade(&a));
    for n in [&a, &b] {
        n.on_finalize.set(Some(|n| upgrade_peer(n, "finalize")));
        n.on_drop.set(Some(|n| upgrade_peer(n, "drop")));
    }
    let outside = Gc::downgrade(&a);
    drop((a, b));
    assert_eq!(collect(), 2);
    let mut seen = SEEN.with(|s| s.borrow_mut().split_off(0));
    seen.sort_unstable();
    assert_eq!(
        seen,
        [
            ("drop", 1, false),
            ("drop", 2, false),
            ("finalize", 1, true),
            ("finalize", 2, true),
        ],
        "finalizers reach their peer, drops do not"
    );
    assert!(outside.upgrade().is_none());
    assert_eq!(take_finalized(), [1, 2]);
    assert_eq!(take_dropped(), [1, 2]);
}

/// A `Weak` has no finalizer: an object holding only weak handles takes
/// the no-finalizer paths (no `FINALIZER` bit in its header).
#[test]
fn a_weak_has_no_finalizer() {
    let target = Gc::new(1u8);
    let holder = Gc::new(Gc::downgrade(&target));
    assert!(!holder.header().has_finalizer());
    // Wrappers forward their content's finalizer, so they ask the `Weak`.
    let wrapped = Gc::new(RefCell::new(Gc::downgrade(&target)));
    assert!(!wrapped.header().has_finalizer());
    drop((holder, wrapped, target));
}

/// The block of a dead object stays allocated while any `Weak` is left and
/// goes back with the last one.
#[test]
fn the_last_weak_frees_the_block() {
    let target = Gc::new(String::from("gone"));
    let first = Gc::downgrade(&target);
    let second = first.clone();
    drop(target);
    let held = crate::heap_stats().blocks();
    drop(first);
    assert_eq!(crate::heap_stats().blocks(), held, "one Weak left: kept");
    drop(second);
    assert_eq!(
        crate::heap_stats().blocks(),
        held - 1,
        "freed with the last"
    );
}
