//! The refcount path: freeing at the last handle, weak handles, unwrap.

use super::node::{Node, chain, take_dropped, take_finalized};
use core::cell::RefCell;

use crate::{Gc, Weak, heap_stats};

#[test]
fn last_handle_frees_immediately() {
    take_dropped();
    let a = Node::new(1);
    let b = a.clone();
    drop(a);
    assert!(take_dropped().is_empty());
    drop(b);
    assert_eq!(take_dropped(), [1]);
}

#[test]
fn finalizer_runs_before_drop_on_refcount_path() {
    take_dropped();
    take_finalized();
    drop(Node::new(5));
    assert_eq!(take_finalized(), [5]);
    assert_eq!(take_dropped(), [5]);
}

#[test]
fn memory_returns_to_pool() {
    let before = heap_stats().bytes_in_use;
    let a = Gc::new(7u64);
    assert_eq!(heap_stats().bytes_in_use, before + 16);
    drop(a);
    assert_eq!(heap_stats().bytes_in_use, before);
}

#[test]
fn weak_keeps_memory_not_value() {
    take_dropped();
    let a = Node::new(9);
    let w = Gc::downgrade(&a);
    assert_eq!(w.strong_count(), 1);
    assert_eq!(Gc::weak_count(&a), 1);
    drop(a);
    assert_eq!(take_dropped(), [9]);
    assert!(w.upgrade().is_none());
    assert_eq!(w.strong_count(), 0);
    assert_eq!(w.weak_count(), 0);
    drop(w);
}

#[test]
fn weak_upgrade_in_refcount_finalizer_fails() {
    // The finalizer of the dying object cannot reach it through a weak.
    let a = Node::new(1);
    *a.weak.borrow_mut() = Some(Gc::downgrade(&a));
    a.on_finalize.set(Some(|n| {
        assert!(n.weak.borrow().as_ref().unwrap().upgrade().is_none())
    }));
    drop(a);
    take_dropped();
    take_finalized();
}

#[test]
fn dangling_weak() {
    let w: Weak<Node> = Weak::new();
    assert!(w.upgrade().is_none());
    assert_eq!(w.strong_count(), 0);
    assert!(w.ptr_eq(&w.clone()));
}

#[test]
fn try_unwrap_and_into_inner() {
    let a = Gc::new(String::from("x"));
    let b = a.clone();
    let a = Gc::try_unwrap(a).unwrap_err();
    drop(b);
    assert_eq!(Gc::try_unwrap(a).unwrap(), "x");

    take_dropped();
    let n = Node::new(3);
    let w = Gc::downgrade(&n);
    let node = Gc::into_inner(n).unwrap();
    assert!(w.upgrade().is_none());
    assert!(take_dropped().is_empty());
    drop(node);
    assert_eq!(take_dropped(), [3]);
    take_finalized();
}

#[test]
fn new_cyclic_self_weak() {
    let g = Gc::new_cyclic(|w: &Weak<Node>| {
        assert!(w.upgrade().is_none());
        Node {
            id: 4,
            edges: Default::default(),
            weak: core::cell::RefCell::new(Some(w.clone())),
            on_finalize: Default::default(),
            on_drop: Default::default(),
        }
    });
    let me = g.weak.borrow().as_ref().unwrap().upgrade().unwrap();
    assert!(Gc::ptr_eq(&me, &g));
    assert!(Gc::is_tracked(&g));
    drop((me, g));
    assert_eq!(take_dropped(), [4]);
    take_finalized();
}

/// The last `Weak` frees an untracked block whose value is gone without
/// looking at the dead value (its layout was recorded when it went): under
/// `-Zmiri-recursive-validation` a reference to a dropped `Box` is UB.
#[test]
fn weak_outliving_an_untracked_value_frees_its_block() {
    let before = heap_stats();
    let small = Gc::new(Box::new(5u32));
    let large = Gc::new((Box::new(6u8), [7u64; 80]));
    let moved = Gc::new(Box::new(8u16));
    let weaks = (
        Gc::downgrade(&small),
        Gc::downgrade(&large),
        Gc::downgrade(&moved),
    );
    assert_eq!(**small + u32::from(*large.0) + large.1[79] as u32, 18);
    drop((small, large));
    assert_eq!(Gc::try_unwrap(moved).map(|b| *b), Ok(8));
    assert!(weaks.0.upgrade().is_none() && weaks.1.upgrade().is_none());
    assert!(
        heap_stats().bytes_in_use > before.bytes_in_use,
        "weaks hold the blocks"
    );
    drop(weaks);
    let after = heap_stats();
    assert_eq!(after.bytes_in_use, before.bytes_in_use);
    assert_eq!(after.blocks_in_use, before.blocks_in_use);
}

#[test]
fn new_cyclic_panic_frees_block() {
    let before = heap_stats().bytes_in_use;
    let r = std::panic::catch_unwind(|| Gc::<u64>::new_cyclic(|_| panic!("boom")));
    assert!(r.is_err());
    assert_eq!(heap_stats().bytes_in_use, before);
}

#[test]
fn untracked_and_tracked() {
    let leaf = Gc::new(1u32);
    assert!(!Gc::is_tracked(&leaf));
    let node = Node::new(1);
    assert!(Gc::is_tracked(&node));
    drop(node);
    take_dropped();
    take_finalized();
}

#[test]
fn trashcan_deep_chain() {
    #[cfg(miri)]
    const N: usize = 300;
    #[cfg(not(miri))]
    const N: usize = 1_000_000;
    take_dropped();
    drop(chain(N));
    assert_eq!(take_dropped().len(), N);
    take_finalized();
}

#[repr(align(64))]
struct OverAligned(RefCell<Option<Gc<OverAligned>>>);

// SAFETY: visits its one owned `Gc` once.
unsafe impl crate::Trace for OverAligned {
    fn trace(&self, tracer: &mut crate::Tracer) {
        self.0.trace(tracer);
    }
}

#[test]
fn over_aligned_values_are_aligned_and_collected() {
    #[repr(align(32))]
    struct Leaf(u8);
    // SAFETY: a leaf owns no `Gc`.
    unsafe impl crate::Trace for Leaf {
        fn trace(&self, _: &mut crate::Tracer) {}
        fn may_contain_gc() -> bool {
            false
        }
    }
    let leaf = Gc::new(Leaf(3));
    assert_eq!(Gc::as_ptr(&leaf).addr() % 32, 0);
    assert_eq!(leaf.0, 3);

    let node = Gc::new(OverAligned(RefCell::new(None)));
    assert_eq!(Gc::as_ptr(&node).addr() % 64, 0);
    *node.0.borrow_mut() = Some(node.clone());
    let weak = Gc::downgrade(&node);
    drop(node);
    assert_eq!(crate::collect(), 1);
    assert!(weak.upgrade().is_none());
}
