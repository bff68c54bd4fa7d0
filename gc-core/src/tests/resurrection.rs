//! PEP 442 finalizers on the cycle path: once per object, resurrection,
//! weak references cleared only after finalizers.

use std::cell::RefCell;

use super::node::{Node, take_dropped, take_finalized};
use crate::{Gc, collect};

thread_local! {
    static RESCUED: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
}

fn rescue_self(n: &Node) {
    let me = n.weak.borrow().as_ref().and_then(crate::Weak::upgrade);
    RESCUED.with(|r| r.borrow_mut().extend(me));
}

fn reset() {
    collect();
    take_dropped();
    take_finalized();
}

fn self_cycle(id: usize) -> Gc<Node> {
    let a = Node::new(id);
    a.link(&a);
    *a.weak.borrow_mut() = Some(Gc::downgrade(&a));
    a
}

/// CPython test_gc: test_resurrection_is_transitive / finalizers run once.
#[test]
fn resurrected_object_is_finalized_once() {
    reset();
    let a = self_cycle(1);
    a.on_finalize.set(Some(rescue_self));
    drop(a);
    assert_eq!(collect(), 0, "resurrected objects are not counted");
    assert_eq!(take_finalized(), [1]);
    assert!(take_dropped().is_empty());
    let rescued = RESCUED.with(|r| r.borrow_mut().pop()).unwrap();
    assert!(Gc::is_finalized(&rescued));
    assert_eq!(rescued.id, 1);
    drop(rescued);
    assert_eq!(collect(), 1);
    assert!(
        take_finalized().is_empty(),
        "a finalizer runs once per object, ever"
    );
    assert_eq!(take_dropped(), [1]);
}

/// CPython test_gc: test_resurrection_is_transitive.
#[test]
fn resurrection_is_transitive() {
    reset();
    let a = self_cycle(1);
    let b = Node::new(2);
    let c = Node::new(3);
    a.link(&b);
    b.link(&c);
    c.link(&a);
    a.on_finalize.set(Some(rescue_self));
    drop((a, b, c));
    assert_eq!(collect(), 0);
    assert_eq!(take_finalized(), [1, 2, 3]);
    assert!(take_dropped().is_empty());
    RESCUED.with(|r| r.borrow_mut().clear());
    assert_eq!(collect(), 3);
    assert!(take_finalized().is_empty());
    assert_eq!(take_dropped(), [1, 2, 3]);
}

/// CPython test_gc: test_resurrection_does_not_block_cleanup_of_other_objects.
#[test]
fn resurrection_does_not_block_other_cycles() {
    reset();
    let a = self_cycle(1);
    a.on_finalize.set(Some(rescue_self));
    let x = Node::new(10);
    let y = Node::new(11);
    x.link(&y);
    y.link(&x);
    drop((a, x, y));
    assert_eq!(collect(), 2);
    assert_eq!(take_dropped(), [10, 11]);
    RESCUED.with(|r| r.borrow_mut().clear());
    assert_eq!(collect(), 1);
    assert_eq!(take_dropped(), [1]);
    take_finalized();
}

/// Weak references are cleared after finalizers: a finalizer can upgrade a
/// weak to its peer; afterwards the weak is dead.
#[test]
fn weak_to_peer_upgrades_inside_finalizer() {
    reset();
    thread_local!(static SEEN: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) });
    let a = Node::new(1);
    let b = Node::new(2);
    a.link(&b);
    b.link(&a);
    *a.weak.borrow_mut() = Some(Gc::downgrade(&b));
    a.on_finalize.set(Some(|n| {
        let peer = n
            .weak
            .borrow()
            .as_ref()
            .unwrap()
            .upgrade()
            .expect("peer upgrades in finalizer");
        SEEN.with(|s| s.borrow_mut().push(peer.id));
    }));
    let outside = Gc::downgrade(&a);
    drop((a, b));
    assert_eq!(collect(), 2);
    assert_eq!(SEEN.with(|s| s.borrow().clone()), [2]);
    assert!(
        outside.upgrade().is_none(),
        "weak cleared once the cycle is freed"
    );
    assert_eq!(take_dropped(), [1, 2]);
    take_finalized();
}

/// A finalizer that allocates, and calls collect (which returns 0).
#[test]
fn finalizer_allocates_and_nested_collect_returns_zero() {
    reset();
    thread_local!(static NESTED: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) });
    crate::set_threshold(1, 10, 10);
    let a = self_cycle(1);
    a.on_finalize.set(Some(|_| {
        for i in 100..110 {
            let n = Node::new(i);
            n.link(&n);
        }
        NESTED.with(|s| s.borrow_mut().push(collect()));
    }));
    drop(a);
    assert_eq!(collect(), 1);
    assert_eq!(NESTED.with(|s| s.borrow().clone()), [0]);
    crate::set_threshold(2000, 10, 10);
    assert_eq!(collect(), 10);
    take_dropped();
    take_finalized();
}
