//! The `weakref` module's counterparts: `finalize`, `WeakValueMap`,
//! `WeakSet`.

use core::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use super::node::{Node, PlainNode, ring, ring_of, take_dropped, take_finalized};
use crate::heap::heap;
use crate::{Gc, Weak, collect, finalize};

/// A shared log of events.
type Log = Rc<RefCell<Vec<&'static str>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn push(log: &Log, what: &'static str) -> impl FnOnce() + 'static {
    let log = log.clone();
    move || log.borrow_mut().push(what)
}

#[test]
fn finalize_runs_on_the_refcount_path_after_the_drop() {
    let events = log();
    let g = Node::new(1);
    let weak = Gc::downgrade(&g);
    let w = weak.clone();
    let l = events.clone();
    let handle = finalize(&g, move || {
        assert!(w.upgrade().is_none(), "weak references are dead");
        l.borrow_mut().push("callback");
    });
    assert!(handle.alive());
    assert_eq!(heap().finalize_table.objects(), 1);
    drop(g);
    assert_eq!(*events.borrow(), ["callback"]);
    assert_eq!(take_dropped(), [1], "dropped before the callback ran");
    assert!(!handle.alive());
    assert!(!handle.call() && !handle.detach());
    assert_eq!(heap().finalize_table.objects(), 0, "entry removed on death");
    take_finalized();

    // Untracked objects too, and several callbacks run in order.
    let leaf = Gc::new(String::from("leaf"));
    let _a = finalize(&leaf, push(&events, "a"));
    let _b = finalize(&leaf, push(&events, "b"));
    drop(leaf);
    assert_eq!(*events.borrow(), ["callback", "a", "b"]);
    assert_eq!(heap().finalize_table.objects(), 0);
}

#[test]
fn finalize_runs_after_a_garbage_cycle_is_cleared_and_dropped() {
    let events = log();
    let first = ring(10, 3);
    let peer = first.edges.borrow()[0].clone();
    let w = Gc::downgrade(&first);
    let wp = Gc::downgrade(&peer);
    let l = events.clone();
    let handle = finalize(&first, move || {
        assert!(w.upgrade().is_none(), "weak references were cleared");
        assert!(wp.upgrade().is_none(), "the peer's too");
        assert_eq!(take_dropped(), [10, 11, 12], "after every drop");
        l.borrow_mut().push("first");
    });
    let _peer_handle = finalize(&peer, push(&events, "peer"));
    drop((first, peer));
    assert!(events.borrow().is_empty());
    assert!(handle.alive());
    assert_eq!(collect(), 3);
    assert_eq!(events.borrow().len(), 2);
    assert!(events.borrow().contains(&"first") && events.borrow().contains(&"peer"));
    assert!(!handle.alive());
    assert_eq!(heap().finalize_table.objects(), 0);
    take_finalized();
}

#[test]
fn finalize_in_a_cycle_without_finalizers_takes_the_fast_path() {
    let events = log();
    let first = ring_of::<false>(20, 2);
    let handle = finalize(&first, push(&events, "plain"));
    drop(first);
    assert_eq!(collect(), 2);
    assert_eq!(*events.borrow(), ["plain"]);
    assert!(!handle.alive());
    take_dropped();
}

#[test]
fn call_detach_and_alive() {
    let events = log();
    let g = Node::new(1);
    let called = finalize(&g, push(&events, "called"));
    let detached = finalize(&g, push(&events, "detached"));
    let dropped_handle = finalize(&g, push(&events, "kept"));
    drop(dropped_handle); // does not cancel
    assert!(called.call());
    assert_eq!(*events.borrow(), ["called"]);
    assert!(!called.alive() && !called.call());
    assert!(detached.detach());
    assert!(!detached.alive() && !detached.detach() && !detached.call());
    let clone = called.clone();
    assert!(!clone.alive());
    assert_eq!(format!("{clone:?}"), "FinalizeHandle { alive: false }");
    drop(g);
    assert_eq!(*events.borrow(), ["called", "kept"]);

    // Detaching the only callback clears the object's flag.
    let h = Gc::new(5u8);
    let only = finalize(&h, || unreachable!());
    assert!(h.header().has_finalize_callbacks());
    assert!(only.detach());
    assert!(!h.header().has_finalize_callbacks());
    assert_eq!(heap().finalize_table.objects(), 0);
    drop(h);
    take_dropped();
    take_finalized();
}

#[test]
fn a_callback_owning_its_object_keeps_it_alive() {
    let g = Gc::new(7u32);
    let held = g.clone();
    let handle = finalize(&g, move || drop(held));
    drop(g);
    assert!(
        handle.alive(),
        "the callback's handle keeps the object alive"
    );
    assert!(handle.call());
    assert!(!handle.alive());
}

#[test]
fn a_panicking_callback_during_collect_is_contained_and_resumed() {
    let events = log();
    let first = ring(30, 2);
    let second = ring(40, 2);
    let _a = finalize(&first, || panic!("callback panic"));
    let _b = finalize(&second, push(&events, "second"));
    drop((first, second));
    let result = catch_unwind(AssertUnwindSafe(collect));
    let payload = result.expect_err("the panic is resumed");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"callback panic"));
    assert_eq!(*events.borrow(), ["second"], "the other callback still ran");
    assert_eq!(take_dropped(), [30, 31, 40, 41]);
    assert!(!heap().collecting.get());
    assert_eq!(crate::stats()[2].collected, 4, "bookkeeping completed");
    assert_eq!(collect(), 0);
    take_finalized();
}

#[test]
fn a_panicking_callback_on_the_refcount_path_lets_the_others_run() {
    let events = log();
    let g = Node::new(1);
    let _a = finalize(&g, || panic!("refcount panic"));
    let _b = finalize(&g, push(&events, "b"));
    let result = catch_unwind(AssertUnwindSafe(move || drop(g)));
    assert!(result.is_err());
    assert_eq!(*events.borrow(), ["b"]);
    assert_eq!(take_dropped(), [1]);
    assert_eq!(heap().finalize_table.objects(), 0);
    take_finalized();
}

#[test]
fn callbacks_may_allocate_register_and_collect() {
    thread_local! {
        static KEPT: RefCell<Vec<Gc<Node>>> = const { RefCell::new(Vec::new()) };
    }
    let events = log();
    let first = ring(50, 2);
    let l = events.clone();
    let _h = finalize(&first, move || {
        // Allocate a new cycle (maybe at a freed address), register on it,
        // and collect from inside the collection (returns 0).
        let fresh = ring(60, 2);
        let _inner = finalize(&fresh, push(&l, "fresh"));
        assert_eq!(collect(), 0, "nested collect does nothing");
        KEPT.with(|k| k.borrow_mut().push(fresh));
        l.borrow_mut().push("outer");
    });
    drop(first);
    assert_eq!(collect(), 2);
    assert_eq!(*events.borrow(), ["outer"]);
    assert_eq!(heap().finalize_table.objects(), 1, "fresh is registered");
    KEPT.with(|k| k.borrow_mut().clear());
    assert_eq!(collect(), 2);
    assert_eq!(*events.borrow(), ["outer", "fresh"]);
    assert_eq!(heap().finalize_table.objects(), 0);

    // A refcount-path callback that collects: a real collection.
    let cycle = ring(70, 2);
    drop(cycle);
    let g = Gc::new(1u8);
    let collected = Rc::new(Cell::new(0));
    let c = collected.clone();
    let _h = finalize(&g, move || c.set(collect()));
    drop(g);
    assert_eq!(collected.get(), 2);
    take_dropped();
    take_finalized();
}

#[test]
fn a_reused_address_never_fires_a_stale_callback() {
    let events = log();
    for _ in 0..50 {
        let g = Gc::new(1u64);
        let _h = finalize(&g, push(&events, "old"));
        drop(g);
    }
    assert_eq!(events.borrow().len(), 50);
    for _ in 0..50 {
        let g = Gc::new(2u64);
        assert!(!g.header().has_finalize_callbacks());
        drop(g);
    }
    assert_eq!(events.borrow().len(), 50);
    assert_eq!(heap().finalize_table.objects(), 0);
}

#[test]
fn registering_on_a_condemned_object_never_runs() {
    thread_local! {
        static SMUGGLED: RefCell<Option<Gc<PlainNode>>> = const { RefCell::new(None) };
    }
    let first = ring_of::<false>(80, 2);
    first.on_drop.set(Some(|node| {
        let peer = node.edges.borrow()[0].clone();
        SMUGGLED.with(|s| *s.borrow_mut() = Some(peer));
    }));
    drop(first);
    assert_eq!(collect(), 2);
    let zombie = SMUGGLED.with(|s| s.borrow_mut().take()).expect("smuggled");
    let handle = finalize(&zombie, || unreachable!("condemned"));
    assert!(!handle.alive());
    drop(zombie);
    assert_eq!(heap().finalize_table.objects(), 0);
    take_dropped();
}

#[test]
fn try_unwrap_is_a_death() {
    let events = log();
    let g = Gc::new(String::from("x"));
    let _h = finalize(&g, push(&events, "unwrapped"));
    assert_eq!(Gc::try_unwrap(g).as_deref(), Ok("x"));
    assert_eq!(*events.borrow(), ["unwrapped"]);
    assert_eq!(heap().finalize_table.objects(), 0);
}

#[test]
fn callbacks_run_for_resurrected_objects_only_when_they_die() {
    thread_local! {
        static SAVED: RefCell<Option<Gc<Node>>> = const { RefCell::new(None) };
    }
    let events = log();
    let first = ring(90, 2);
    first.on_finalize.set(Some(|node| {
        let me = node.weak.borrow().as_ref().and_then(Weak::upgrade);
        SAVED.with(|s| *s.borrow_mut() = me);
    }));
    *first.weak.borrow_mut() = Some(Gc::downgrade(&first));
    let handle = finalize(&first, push(&events, "died"));
    drop(first);
    assert_eq!(collect(), 0, "resurrected");
    assert!(handle.alive());
    assert!(events.borrow().is_empty());
    SAVED.with(|s| s.borrow_mut().take());
    assert_eq!(collect(), 2);
    assert_eq!(*events.borrow(), ["died"]);
    take_dropped();
    take_finalized();
}
