//! The `weakref` module's counterparts: `finalize`, `WeakValueMap`,
//! `WeakSet`, `WeakKeyMap` (ephemerons).

use core::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use super::node::{Node, PlainNode, ring, ring_of, take_dropped, take_finalized};
use crate::header::Flags;
use crate::heap::heap;
use crate::weak_entries::PURGE_MIN;
use crate::{Gc, Trace, Tracer, Weak, WeakKeyMap, WeakSet, WeakValueMap, collect, finalize};

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

/// Test sizes (smaller under Miri).
const MANY: usize = if cfg!(miri) { 200 } else { 100_000 };

#[test]
fn weak_value_map_basics() {
    let mut map = WeakValueMap::new();
    let a = Node::new(1);
    let b = Node::new(2);
    assert!(map.insert("a", a.clone()).is_none());
    assert!(map.insert("b", b.clone()).is_none());
    assert_eq!(map.len(), 2);
    assert!(Gc::ptr_eq(&map.get("a").unwrap(), &a));
    assert!(map.contains_key("b"));
    let old = map.insert("a", b.clone()).expect("a was alive");
    assert!(Gc::ptr_eq(&old, &a));
    drop((old, a));
    assert_eq!(take_dropped(), [1], "the map held a weakly");
    assert_eq!(map.len(), 2, "both entries hold b");
    let mut seen: Vec<_> = map.iter().map(|(k, v)| (*k, v.id)).collect();
    seen.sort_unstable();
    assert_eq!(seen, [("a", 2), ("b", 2)]);
    let removed = map.remove("a").expect("b is alive");
    assert!(Gc::ptr_eq(&removed, &b));
    drop((removed, b));
    assert_eq!(take_dropped(), [2]);
    assert_eq!(map.len(), 0);
    assert_eq!(map.slots(), 1, "the dead entry waits for a purge");
    assert!(map.is_empty());
    assert!(map.get("b").is_none() && !map.contains_key("b"));
    assert!(map.remove("b").is_none());
    assert_eq!(map.iter().count(), 0);
    assert_eq!((map.len(), map.slots()), (0, 0));

    // Overwriting and removing dead entries keeps the count exact.
    map.insert("x", Node::new(3));
    assert_eq!((map.len(), map.slots()), (0, 1));
    let c = Node::new(4);
    assert!(
        map.insert("x", c.clone()).is_none(),
        "the old value was dead"
    );
    assert_eq!(map.len(), 1);
    map.clear();
    assert!(map.is_empty() && map.get("x").is_none());
    assert_eq!(heap().finalize_table.objects(), 0, "cleared entries detach");
    map.insert("y", c.clone());
    drop(map);
    assert_eq!(heap().finalize_table.objects(), 0, "a dropped map detaches");
    drop(c);
    take_dropped();
    take_finalized();
}

#[test]
fn weak_value_map_get_or_insert_with_rebuilds_only_dead_entries() {
    let mut map = WeakValueMap::new();
    let made = Cell::new(0);
    let make = |id| {
        made.set(made.get() + 1);
        Node::new(id)
    };
    let a = map.get_or_insert_with("k", || make(1));
    let again = map.get_or_insert_with("k", || make(2));
    assert!(Gc::ptr_eq(&a, &again), "a live value is returned as is");
    assert_eq!(made.get(), 1, "make runs only for a missing entry");
    drop((a, again));
    assert_eq!(take_dropped(), [1], "the map holds its values weakly");
    assert_eq!((map.len(), map.slots()), (0, 1));
    let b = map.get_or_insert_with("k", || make(3));
    assert_eq!((b.id, made.get()), (3, 2), "a dead entry is rebuilt");
    assert_eq!((map.len(), map.slots()), (1, 1), "the death count is exact");
    assert_eq!(
        heap().finalize_table.objects(),
        1,
        "only the live value is watched"
    );
    drop(b);
    assert_eq!(take_dropped(), [3]);
    assert_eq!(map.len(), 0);
    drop(map);
    take_finalized();
}

#[test]
fn weak_value_map_retain_and_debug() {
    let values: Vec<_> = (0..6).map(Node::new).collect();
    let mut map = WeakValueMap::new();
    for v in &values {
        map.insert(v.id, v.clone());
    }
    map.insert(99, Node::new(99)); // dead
    map.retain(|k, v| {
        assert_eq!(*k, v.id);
        k % 2 == 0
    });
    assert_eq!((map.len(), map.slots()), (3, 3));
    let leaf_map = {
        let mut m = WeakValueMap::new();
        let v = Gc::new(5u8);
        m.insert(1u8, v.clone());
        (format!("{m:?}"), m)
    };
    assert_eq!(leaf_map.0, "{1: 5}");
    assert_eq!(format!("{:?}", leaf_map.1), "{}");

    // `keep` dropping the last other handle of an entry it keeps.
    let holder: RefCell<Vec<Gc<Node>>> = RefCell::new(values);
    map.retain(|k, _| {
        if *k == 2 {
            holder.borrow_mut().retain(|v| v.id != 2);
        }
        true
    });
    assert_eq!((map.len(), map.slots()), (2, 2), "2 died inside retain");
    drop(holder);
    assert_eq!(map.len(), 0);
    take_dropped();
    take_finalized();
}

#[test]
fn weak_set_basics() {
    let mut set = WeakSet::new();
    let a = Node::new(1);
    let b = Node::new(2);
    assert!(set.insert(a.clone()));
    assert!(!set.insert(a.clone()));
    assert!(set.insert(b.clone()));
    assert_eq!(set.len(), 2);
    assert!(set.contains(&a) && set.contains(&b));
    assert!(!set.contains(&Node::new(3)));
    assert!(set.remove(&b));
    assert!(!set.remove(&b) && !set.contains(&b));
    drop(b);
    assert_eq!(set.len(), 1);
    assert!(Gc::ptr_eq(&set.iter().next().unwrap(), &a));
    drop(a);
    assert!(set.is_empty());
    assert_eq!(set.iter().count(), 0);
    let keep: Vec<_> = (10..14).map(Node::new).collect();
    for n in &keep {
        set.insert(n.clone());
    }
    set.retain(|n| n.id < 12);
    assert_eq!((set.len(), set.slots()), (2, 2));
    set.clear();
    assert!(set.is_empty());
    set.insert(keep[0].clone());
    drop(set);
    assert_eq!(heap().finalize_table.objects(), 0);
    drop(keep);
    take_dropped();
    take_finalized();
}

#[test]
fn entries_in_a_garbage_cycle_vanish_after_collect() {
    let mut map = WeakValueMap::new();
    let mut set = WeakSet::new();
    let first = ring(100, 3);
    let peer = first.edges.borrow()[0].clone();
    map.insert(1, first.clone());
    map.insert(2, peer.clone());
    set.insert(first.clone());
    set.insert(peer.clone());
    let survivor = Node::new(200);
    map.insert(3, survivor.clone());
    set.insert(survivor.clone());
    drop((first, peer));
    assert_eq!(
        (map.len(), set.len()),
        (3, 3),
        "the cycle is alive until collected"
    );
    assert_eq!(collect(), 3);
    assert_eq!((map.len(), set.len()), (1, 1));
    assert!(map.get(&1).is_none() && map.get(&2).is_none());
    assert_eq!(map.get(&3).map(|n| n.id), Some(200));
    assert!(set.contains(&survivor));
    take_dropped();
    take_finalized();
}

/// A node holding a map and a set (the maps inside `Gc` objects).
struct Registry {
    by_id: RefCell<WeakValueMap<usize, Node>>,
    members: RefCell<WeakSet<Node>>,
    /// Makes the registry part of a cycle.
    me: RefCell<Option<Gc<Registry>>>,
}

// SAFETY: visits its one owned `Gc` once (the maps own none).
unsafe impl Trace for Registry {
    fn trace(&self, tracer: &mut Tracer) {
        self.by_id.borrow().trace(tracer);
        self.members.borrow().trace(tracer);
        self.me.trace(tracer);
    }
}

#[test]
fn maps_inside_gc_objects() {
    assert!(!<WeakValueMap<usize, Node>>::may_contain_gc());
    assert!(
        <WeakValueMap<Gc<Node>, Node>>::may_contain_gc(),
        "keys are strong"
    );
    assert!(!<WeakSet<Node>>::may_contain_gc());

    let registry = Gc::new(Registry {
        by_id: RefCell::new(WeakValueMap::new()),
        members: RefCell::new(WeakSet::new()),
        me: RefCell::new(None),
    });
    let node = Node::new(1);
    // The registry's entries point back at a node whose cycle holds the
    // registry only weakly: the map adds no strong edge.
    registry.by_id.borrow_mut().insert(1, node.clone());
    registry.members.borrow_mut().insert(node.clone());
    *registry.me.borrow_mut() = Some(registry.clone());
    drop(registry);
    assert_eq!(collect(), 1, "the registry's self-cycle");
    assert_eq!(heap().finalize_table.objects(), 0, "its entries detached");
    drop(node);
    assert_eq!(take_dropped(), [1]);

    // Strong keys are traced: a key cycling back through the map's owner.
    struct Owner {
        map: RefCell<WeakValueMap<Gc<Owner>, u32>>,
    }
    impl PartialEq for Owner {
        fn eq(&self, other: &Self) -> bool {
            core::ptr::eq(self, other)
        }
    }
    impl Eq for Owner {}
    impl core::hash::Hash for Owner {
        fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
            core::ptr::from_ref(self).hash(state);
        }
    }
    // SAFETY: visits the keys of its map (through the map's impl).
    unsafe impl Trace for Owner {
        fn trace(&self, tracer: &mut Tracer) {
            self.map.borrow().trace(tracer);
        }
    }
    let owner = Gc::new(Owner {
        map: RefCell::new(WeakValueMap::new()),
    });
    let value = Gc::new(7u32);
    owner.map.borrow_mut().insert(owner.clone(), value.clone());
    drop(owner);
    assert_eq!(collect(), 1, "owner -> key owner: a cycle through the map");
    drop(value);
    take_finalized();
}

#[test]
fn purges_are_amortized() {
    // Many live values die at once: no work per death; the next insert
    // purges once.
    let mut map = WeakValueMap::new();
    let values: Vec<_> = (0..MANY).map(|i| Gc::new(i as u64)).collect();
    for (i, v) in values.iter().enumerate() {
        map.insert(i, v.clone());
    }
    assert_eq!((map.len(), map.purges()), (MANY, 0));
    drop(values);
    assert_eq!((map.len(), map.slots(), map.purges()), (0, MANY, 0));
    map.insert(MANY, Gc::new(0));
    assert_eq!(map.purges(), 1);
    assert_eq!(map.slots(), 1);

    // Values that die at once: a purge every PURGE_MIN or so inserts, each
    // sweeping O(PURGE_MIN) entries.
    let mut map = WeakValueMap::new();
    for i in 0..MANY {
        map.insert(i, Gc::new(i as u64));
    }
    assert!(
        map.purges() <= MANY / PURGE_MIN + 1,
        "{} purges",
        map.purges()
    );
    assert!(map.slots() <= 2 * PURGE_MIN);
    assert_eq!(map.len(), 0);

    // A large live population with churn: a purge only after more deaths
    // than live entries.
    let mut set = WeakSet::new();
    let live: Vec<_> = (0..MANY).map(|i| Gc::new(i as u64)).collect();
    for g in &live {
        set.insert(g.clone());
    }
    for i in 0..MANY {
        set.insert(Gc::new(i as u64));
    }
    assert_eq!(
        set.purges(),
        0,
        "{MANY} deaths among {MANY} live: not due yet"
    );
    set.insert(Gc::new(0));
    assert_eq!(set.purges(), 0, "half dead: not more than half");
    set.insert(Gc::new(0));
    assert_eq!(set.purges(), 1);
    assert_eq!(
        (set.len(), set.slots()),
        (MANY, MANY + 1),
        "the last one died after"
    );
    assert_eq!(
        heap().finalize_table.objects(),
        MANY,
        "the set's live entries"
    );
    drop(set);
    assert_eq!(heap().finalize_table.objects(), 0, "a dropped set detaches");
    let mut set = WeakSet::new();
    for g in &live {
        set.insert(g.clone());
    }
    drop(live);
    assert_eq!(set.len(), 0);
    assert_eq!(
        heap().finalize_table.objects(),
        0,
        "deaths take the entries"
    );
}

/// A `Node` value (not yet in a `Gc`) with `edges`.
fn node_value(id: usize, edges: Vec<Gc<Node>>) -> Node {
    Node {
        id,
        edges: RefCell::new(edges),
        weak: RefCell::new(None),
        on_finalize: Cell::new(None),
        on_drop: Cell::new(None),
    }
}

#[test]
fn weak_key_map_basics() {
    let mut map = WeakKeyMap::new();
    let a = Node::new(1);
    let b = Node::new(2);
    assert!(map.insert(a.clone(), node_value(10, vec![])).is_none());
    assert!(map.insert(b.clone(), node_value(20, vec![])).is_none());
    assert_eq!(map.len(), 2);
    assert_eq!(map.get(&a).map(|v| v.id), Some(10));
    assert!(map.contains_key(&b) && !map.contains_key(&Node::new(3)));
    let old = map
        .insert(a.clone(), node_value(11, vec![]))
        .expect("replaced");
    assert_eq!(old.id, 10);
    drop(old);
    assert_eq!(take_dropped(), [3, 10], "the replaced value is released");
    drop(b);
    assert_eq!(take_dropped(), [2, 20], "a key's death releases its value");
    assert_eq!(map.len(), 1);
    assert!(map.get(&a).is_some());
    let mut seen: Vec<_> = map.iter().map(|(k, v)| (k.id, v.id)).collect();
    seen.sort_unstable();
    assert_eq!(seen, [(1, 11)]);
    assert_eq!(map.remove(&a).map(|v| v.id), Some(11));
    assert_eq!(take_dropped(), [11]);
    assert!(map.remove(&a).is_none() && map.is_empty());
    map.insert(a.clone(), node_value(12, vec![]));
    map.retain(|_, v| v.id != 12);
    assert_eq!((map.len(), map.slots()), (0, 0));
    assert_eq!(take_dropped(), [12]);
    map.insert(a.clone(), node_value(13, vec![]));
    drop(map);
    assert_eq!(take_dropped(), [13], "a dropped map releases its values");
    assert_eq!(heap().finalize_table.objects(), 0);
    assert!(!a.header().is_ephemeron_key());
    drop(a);
    take_dropped();
    take_finalized();
}

#[test]
fn a_value_referencing_its_own_key_does_not_keep_it_alive() {
    let mut map = WeakKeyMap::new();
    let key = Node::new(1);
    map.insert(key.clone(), node_value(2, vec![key.clone()]));
    assert!(key.header().is_ephemeron_key());
    // Survives collections of every generation while the key is held.
    for generation in 0..3 {
        crate::collect_generation(generation);
        assert_eq!(map.get(&key).map(|v| v.id), Some(2));
    }
    assert_eq!(collect(), 0);
    assert!(take_dropped().is_empty());
    drop(key);
    assert_eq!(map.len(), 1, "alive until collected");
    assert_eq!(collect(), 2, "key and value");
    assert_eq!(take_dropped(), [1, 2]);
    assert_eq!(take_finalized(), [1, 2]);
    assert!(map.is_empty());
    assert_eq!(map.iter().count(), 0);
    assert_eq!(heap().finalize_table.objects(), 0);
}

#[test]
fn a_cycle_through_the_value_and_other_objects_is_collected() {
    let mut map = WeakKeyMap::new();
    let key = Node::new(1);
    let middle = Node::new(2);
    middle.link(&key); // value -> middle -> key
    map.insert(key.clone(), node_value(3, vec![middle.clone()]));
    drop(middle);
    assert_eq!(collect(), 0);
    drop(key);
    assert_eq!(collect(), 3);
    assert_eq!(take_dropped(), [1, 2, 3]);
    assert!(map.is_empty());
    take_finalized();
}

#[test]
fn chains_of_ephemerons_live_while_their_first_key_does() {
    // k0 -> v0 -> k1 -> v1 -> ... -> k0: each key only reachable through
    // the previous entry's value (a cycle only ephemerons close); keys allocated in both orders so the mark
    // walk meets them ahead of and behind itself.
    for reversed in [false, true] {
        let mut map = WeakKeyMap::new();
        let n = 20;
        let mut keys: Vec<_> = (0..n).map(|i| Node::new(100 + i)).collect();
        if reversed {
            keys.reverse();
        }
        for i in 0..n {
            // The last value closes the cycle back to the first key.
            let next = vec![keys[(i + 1) % n].clone()];
            map.insert(keys[i].clone(), node_value(200 + i, next));
        }
        let first = keys[0].clone();
        drop(keys);
        assert_eq!(collect(), 0, "all reachable from the first key");
        assert_eq!(map.len(), n);
        assert!(take_dropped().is_empty());
        drop(first);
        assert_eq!(collect(), 2 * n);
        assert_eq!(take_dropped().len(), 2 * n);
        assert!(map.is_empty());
        take_finalized();
    }
}

#[test]
fn a_value_held_from_outside_keeps_its_key() {
    let mut map = WeakKeyMap::new();
    let key = Node::new(1);
    map.insert(key.clone(), node_value(2, vec![key.clone()]));
    let value = map.get(&key).unwrap();
    drop(key);
    assert_eq!(collect(), 0, "value (held) -> key");
    assert_eq!(map.len(), 1);
    drop(value);
    assert_eq!(collect(), 2);
    assert!(map.is_empty());
    take_dropped();
    take_finalized();
}

#[test]
fn an_untracked_or_plain_value() {
    let mut map = WeakKeyMap::new();
    let key = PlainNode::plain(1);
    map.insert(key.clone(), String::from("meta"));
    assert_eq!(collect(), 0);
    assert_eq!(map.get(&key).as_deref().map(String::as_str), Some("meta"));
    drop(key);
    assert!(map.is_empty());
    // Untracked keys: refcount only (a value referencing one keeps it).
    let mut leafs = WeakKeyMap::new();
    let leaf = Gc::new(5u32);
    leafs.insert(leaf.clone(), node_value(3, vec![]));
    assert_eq!(collect(), 0);
    assert!(leafs.get(&leaf).is_some());
    drop(leaf);
    assert!(leafs.is_empty());
    assert_eq!(take_dropped(), [1, 3]);
}

thread_local! {
    /// Where `resurrecting_key`'s finalizer puts its key back.
    static RESURRECTED: RefCell<Option<Gc<Node>>> = const { RefCell::new(None) };
}

/// A node whose finalizer resurrects it (stores a handle to itself in
/// `RESURRECTED`, read with `take_resurrected`).
fn resurrecting_key(id: usize) -> Gc<Node> {
    let key = Node::new(id);
    *key.weak.borrow_mut() = Some(Gc::downgrade(&key));
    key.on_finalize.set(Some(|node| {
        let me = node.weak.borrow().as_ref().and_then(Weak::upgrade);
        RESURRECTED.with(|s| *s.borrow_mut() = me);
    }));
    key
}

/// The node `resurrecting_key`'s finalizer saved.
fn take_resurrected() -> Gc<Node> {
    RESURRECTED
        .with(|s| s.borrow_mut().take())
        .expect("the finalizer ran and resurrected the key")
}

#[test]
fn a_resurrected_key_keeps_its_value() {
    let mut map = WeakKeyMap::new();
    let key = resurrecting_key(1);
    map.insert(key.clone(), node_value(2, vec![key.clone()]));
    drop(key);
    assert_eq!(collect(), 0, "the key's finalizer resurrected it");
    let key = take_resurrected();
    assert_eq!(map.get(&key).map(|v| v.id), Some(2), "and its value");
    assert!(take_dropped().is_empty());
    drop(key);
    assert_eq!(collect(), 2);
    assert!(map.is_empty());
    assert_eq!(take_dropped(), [1, 2]);
    take_finalized();
}

#[test]
fn a_finalizer_reads_a_weak_key_map() {
    thread_local! {
        static MAP: RefCell<WeakKeyMap<Node, Node>> = RefCell::new(WeakKeyMap::new());
        static SEEN: Cell<usize> = const { Cell::new(0) };
    }
    let key = Node::new(1);
    key.on_finalize.set(Some(|node| {
        let me = node.weak.borrow().as_ref().and_then(Weak::upgrade).unwrap();
        let id = MAP.with(|m| m.borrow().get(&me).map(|v| v.id));
        SEEN.with(|s| s.set(id.unwrap_or(0)));
    }));
    *key.weak.borrow_mut() = Some(Gc::downgrade(&key));
    MAP.with(|m| {
        m.borrow_mut()
            .insert(key.clone(), node_value(2, vec![key.clone()]))
    });
    drop(key);
    assert_eq!(collect(), 2);
    assert_eq!(
        SEEN.with(Cell::get),
        2,
        "the entry is readable from finalizers"
    );
    assert!(MAP.with(|m| m.borrow().is_empty()));
    take_dropped();
    take_finalized();
}

#[test]
fn a_map_inside_its_own_key() {
    struct Holder {
        map: RefCell<WeakKeyMap<Holder, Node>>,
        id: usize,
    }
    impl Drop for Holder {
        fn drop(&mut self) {
            HOLDERS_DROPPED.with(|d| d.set(d.get() + self.id));
        }
    }
    thread_local! {
        static HOLDERS_DROPPED: Cell<usize> = const { Cell::new(0) };
    }
    // SAFETY: the map owns no `Gc`.
    unsafe impl Trace for Holder {
        fn trace(&self, tracer: &mut Tracer) {
            self.map.borrow().trace(tracer);
        }
        fn may_contain_gc() -> bool {
            true // a tracked key
        }
    }
    let holder = Gc::new(Holder {
        map: RefCell::new(WeakKeyMap::new()),
        id: 1,
    });
    assert!(Gc::is_tracked(&holder));
    let value = Gc::new(node_value(2, vec![]));
    drop(value);
    take_dropped();
    // The value references another node that references the holder.
    let back = Gc::new(Holder {
        map: RefCell::new(WeakKeyMap::new()),
        id: 10,
    });
    back.map
        .borrow_mut()
        .insert(holder.clone(), node_value(3, vec![]));
    holder
        .map
        .borrow_mut()
        .insert(holder.clone(), node_value(4, vec![]));
    drop(holder);
    assert_eq!(HOLDERS_DROPPED.with(Cell::get), 1, "refcount death");
    assert_eq!(take_dropped(), [3, 4]);
    assert!(back.map.borrow().is_empty());
    drop(back);
    take_finalized();
}

#[test]
fn frozen_keys_keep_their_values() {
    let mut map = WeakKeyMap::new();
    let key = Node::new(1);
    map.insert(key.clone(), node_value(2, vec![key.clone()]));
    crate::freeze();
    drop(key);
    assert_eq!(collect(), 0, "frozen: never examined");
    assert_eq!(map.len(), 1);
    crate::unfreeze();
    assert_eq!(collect(), 2);
    assert!(map.is_empty());
    take_dropped();
    take_finalized();
}

#[test]
fn weak_key_map_purges_are_amortized() {
    let mut map = WeakKeyMap::new();
    for i in 0..MANY {
        map.insert(Gc::new(i as u64), i);
    }
    assert!(
        map.purges() <= MANY / PURGE_MIN + 1,
        "{} purges",
        map.purges()
    );
    assert!(map.slots() <= 2 * PURGE_MIN);
    assert_eq!(map.len(), 0);
    // Garbage keys with self-referencing values: one collection.
    let mut map = WeakKeyMap::new();
    let keys: Vec<_> = (0..MANY / 10).map(Node::new).collect();
    for k in &keys {
        map.insert(k.clone(), node_value(k.id, vec![k.clone()]));
    }
    drop(keys);
    assert_eq!(collect(), 2 * (MANY / 10));
    assert_eq!(map.len(), 0);
    take_dropped();
    take_finalized();
}

#[test]
#[cfg_attr(
    miri,
    ignore = "leaks by design (a heap with objects alive at thread exit); passes Miri's UB checks"
)]
fn thread_exit_with_live_maps_and_callbacks() {
    type Kept = (WeakKeyMap<Node, Node>, WeakSet<Node>, Gc<Node>);
    thread_local! {
        static KEPT: RefCell<Option<Kept>> = const { RefCell::new(None) };
    }
    std::thread::spawn(|| {
        let key = Node::new(1);
        let mut map = WeakKeyMap::new();
        map.insert(key.clone(), node_value(2, vec![key.clone()]));
        let mut set = WeakSet::new();
        set.insert(key.clone());
        let _pending = finalize(&key, || {});
        // A garbage cycle with callbacks, never collected, and maps dropped
        // by a thread-local destructor, before or after the heap's.
        let cycle = ring(3, 2);
        let _cycle_handle = finalize(&cycle, || {});
        let mut values = WeakValueMap::new();
        values.insert(0, cycle.clone());
        drop(cycle);
        KEPT.with(|k| *k.borrow_mut() = Some((map, set, key)));
        drop(values);
    })
    .join()
    .expect("thread exit is sound");
}

/// Keys that only a tracked object holds are not roots: the collector
/// finds them reachable in its walk, and the ephemeron fixpoint after it
/// brings their values back. Removing entries from the middle of the heap's
/// dense pair array moves other pairs into their slots; every entry left
/// must still keep its value.
#[test]
fn keys_found_by_the_walk_keep_their_values_after_removals() {
    let mut map = WeakKeyMap::new();
    let holder = Node::new(1);
    holder.link(&holder); // only a collection frees it
    let keys: Vec<_> = (0..8).map(|i| Node::new(10 + i)).collect();
    for (i, key) in keys.iter().enumerate() {
        holder.link(key);
        map.insert(key.clone(), node_value(20 + i, vec![]));
    }
    drop(map.remove(&keys[3]));
    drop(map.remove(&keys[0]));
    assert_eq!(take_dropped(), [20, 23]);
    assert_eq!(heap().finalize_table.ephemerons().as_slice().len(), 6);
    drop(keys);
    for generation in 0..3 {
        assert_eq!(crate::collect_generation(generation), 0);
    }
    assert!(take_dropped().is_empty(), "every entry keeps its value");
    assert_eq!(map.len(), 6);
    drop(holder);
    assert_eq!(collect(), 1 + 8 + 6, "the holder, its keys, their values");
    assert!(map.is_empty());
    assert!(heap().finalize_table.ephemerons().as_slice().is_empty());
    take_dropped();
    take_finalized();
}

/// `WeakValueMap::entry`: a dead value's entry is vacant and its slot is
/// reused; replacing or removing through an entry detaches the old value's
/// death count, so `len` stays exact whatever dies afterwards.
#[test]
fn weak_value_map_entries_keep_len_exact() {
    use crate::weak_value_map::Entry;
    let mut map = WeakValueMap::new();
    let a = Node::new(1);
    let b = Node::new(2);
    assert!(Gc::ptr_eq(&map.entry("a").or_insert(a.clone()), &a));
    assert!(Gc::ptr_eq(&map.entry("a").or_insert(b.clone()), &a));
    {
        let Entry::Occupied(mut entry) = map.entry("a") else {
            panic!("a is alive")
        };
        assert!(Gc::ptr_eq(&entry.insert(b.clone()), &a));
        assert!(Gc::ptr_eq(entry.get(), &b));
    }
    drop(a); // the replaced value's death must not touch the entry
    assert_eq!(map.len(), 1);
    assert!(Gc::ptr_eq(&map.get("a").unwrap(), &b));
    drop(b);
    assert_eq!(map.len(), 0, "the entry's value died");
    let Entry::Vacant(entry) = map.entry("a") else {
        panic!("a dead value's entry is vacant")
    };
    let c = entry.insert(Node::new(3));
    assert_eq!((map.len(), map.slots()), (1, 1), "the dead slot was reused");
    let Entry::Occupied(entry) = map.entry("a") else {
        panic!("c is alive")
    };
    assert_eq!(entry.remove_entry().0, "a");
    drop(c); // removed: its death counts nowhere
    assert_eq!((map.len(), map.slots()), (0, 0));
    map.insert("d", Node::new(4)); // dies at once
    let Entry::Vacant(entry) = map.entry("d") else {
        panic!("dead")
    };
    assert_eq!(entry.into_key(), "d");
    assert_eq!((map.len(), map.slots()), (0, 0));
    take_dropped();
    take_finalized();
}

/// A key whose value owns no `Gc` is treated like an untracked key even
/// when it is tracked (downcast from a boxed `Gc<dyn AnyTrace>`): its entry
/// gets no ephemeron edge (such a key has no edge at all, which is what
/// lets `Gc::drop` note no candidate for it), and the value lives while the
/// entry does.
#[test]
fn a_leaf_key_gets_no_ephemeron_edge() {
    let key = super::node::tracked_u64(9);
    let mut map = WeakKeyMap::new();
    map.insert(key.clone(), node_value(1, vec![]));
    assert!(heap().finalize_table.ephemerons().as_slice().is_empty());
    assert!(!key.header().is_ephemeron_key());
    assert_eq!(collect(), 0);
    assert_eq!(
        map.get(&key).map(|v| v.id),
        Some(1),
        "a root while it lives"
    );
    drop(key);
    assert!(map.is_empty(), "the key's death ends the entry");
    assert_eq!(take_dropped(), [1]);
    take_finalized();
}

/// `WeakKeyMap::get_or_insert_with`: `make` runs only for a key without an
/// entry, and `len` stays exact as keys die and new ones come.
#[test]
fn weak_key_map_get_or_insert_with_makes_only_what_is_missing() {
    let mut map = WeakKeyMap::new();
    let first = Node::new(1);
    let made = map.get_or_insert_with(first.clone(), || node_value(10, vec![]));
    let same = map.get_or_insert_with(first.clone(), || unreachable!());
    assert!(Gc::ptr_eq(&made, &same));
    drop((made, same, first));
    assert_eq!(take_dropped(), [1, 10]);
    assert_eq!(map.len(), 0);
    let second = Node::new(2);
    let value = map.get_or_insert_with(second.clone(), || node_value(20, vec![]));
    assert_eq!(value.id, 20);
    assert_eq!(map.len(), 1);
    drop((value, second));
    assert!(map.is_empty());
    take_dropped();
    take_finalized();
}

/// Values of entries whose keys are roots are marked before the mark walk
/// starts, so the walk moves none of them to the unreachable list (the
/// fixpoint after the walk would bring them back, at a cost).
#[test]
fn values_of_root_keys_are_never_moved() {
    let mut map = WeakKeyMap::new();
    let keys: Vec<_> = (0..8).map(Node::new).collect();
    for (i, key) in keys.iter().enumerate() {
        map.insert(key.clone(), node_value(100 + i, vec![]));
    }
    assert_eq!(collect(), 0);
    assert_eq!(heap().last_walk.get(), (0, 0), "no value moved");
    assert_eq!(map.len(), 8);
    drop(keys);
    assert!(map.is_empty());
    take_dropped();
    take_finalized();
}

/// A key resurrected by its finalizer is re-examined after the finalizers
/// (the re-check pass, whose set is the unreachable objects only) while its
/// value, held from outside, is not in that set: the pass must leave no
/// mark on such a value (a stale `REACHABLE` would make the next
/// collection keep it without looking).
#[test]
fn the_recheck_leaves_no_mark_on_a_value_outside_its_set() {
    let mut map = WeakKeyMap::new();
    let key = resurrecting_key(1);
    key.link(&key); // garbage only as a cycle
    map.insert(key.clone(), node_value(2, vec![]));
    let value = map.get(&key).unwrap(); // held from outside
    drop(key);
    assert_eq!(collect(), 0, "the key's finalizer resurrected it");
    let flags = Gc::tracked_prefix(&value).unwrap();
    assert!(
        !flags.has(Flags::REACHABLE) && !flags.has(Flags::VISITED),
        "no mark left on the value"
    );
    let key = take_resurrected();
    key.edges.borrow_mut().clear();
    drop((key, value));
    collect();
    assert!(map.is_empty());
    take_dropped();
    take_finalized();
}

/// A key whose refcount death the trashcan deferred (strong count 0, value
/// intact, off every list) still has its entry while a collection started
/// by a `Drop` runs: its edge to the value must not count, or the value,
/// still owned by the entry, would look like garbage and be collected
/// before the key's death releases it.
#[test]
fn a_dying_keys_entry_is_not_an_edge() {
    thread_local! {
        static COLLECTED: Cell<Option<usize>> = const { Cell::new(None) };
    }
    let mut map: WeakKeyMap<Node, PlainNode> = WeakKeyMap::new();
    let depth = crate::release::TRASHCAN_DEPTH as usize;
    let chain: Vec<_> = (0..=depth + 5).map(Node::new).collect();
    for pair in chain.windows(2) {
        pair[0].link(&pair[1]);
    }
    // The node the trashcan defers (dropped `depth` levels down) is a key.
    // A value without a finalizer: no re-check pass after the graph passes
    // would look at it again.
    map.insert(
        chain[depth].clone(),
        PlainNode {
            id: 999,
            edges: RefCell::new(Vec::new()),
            weak: RefCell::new(None),
            on_finalize: Cell::new(None),
            on_drop: Cell::new(None),
        },
    );
    // Dropped after that deferral, before the trashcan drains: collects.
    let collector = Node::new(5_000);
    collector.on_drop.set(Some(|_| {
        COLLECTED.with(|c| c.set(Some(collect())));
    }));
    chain[10].link(&collector);
    drop(collector);
    let head = chain[0].clone();
    drop(chain);
    drop(head);
    assert_eq!(
        COLLECTED.with(Cell::get),
        Some(0),
        "the entry's value was not garbage"
    );
    assert!(take_dropped().contains(&999), "released with its key");
    assert!(map.is_empty());
    take_finalized();
}
