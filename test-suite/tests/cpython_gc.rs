//! Ports of CPython's `Lib/test/test_gc.py` to pygc. Each test names the
//! CPython test it mirrors.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::{Value, dict, finalized, instance, list, live, preclean, tuple};
use pygc::{CollectPhase, Gc, Weak};

/// test_gc.GCTests.test_list: `l = []; l.append(l); del l; gc.collect() == 1`.
#[test]
fn test_list() {
    preclean();
    let l = list();
    l.append(&l);
    drop(l);
    assert_eq!(pygc::collect(), 1);
    assert_eq!(pygc::collect(), 0, "a second collection finds nothing");
    assert_eq!(live(), 0);
}

/// test_gc.GCTests.test_dict: `d = {}; d[1] = d; del d; gc.collect() == 1`.
#[test]
fn test_dict() {
    preclean();
    let d = dict();
    d.set("1", &d);
    drop(d);
    assert_eq!(pygc::collect(), 1);
    assert_eq!(live(), 0);
}

/// test_gc.GCTests.test_tuple: a tuple holding a list that holds the tuple.
#[test]
fn test_tuple() {
    preclean();
    let l = list();
    let t = tuple(vec![l.clone()]);
    l.append(&t);
    drop((t, l));
    assert_eq!(pygc::collect(), 2);
    assert_eq!(live(), 0);
}

/// test_gc.GCTests.test_instance: `a = A(); a.a = a; del a`. (In CPython the
/// instance and its `__dict__` are two objects; here the attributes live
/// inside the instance, so one.)
#[test]
fn test_instance() {
    preclean();
    let a = instance();
    a.set("a", &a);
    drop(a);
    assert_eq!(pygc::collect(), 1);
    assert_eq!(live(), 0);
}

/// test_gc.GCTests.test_get_count.
#[test]
fn test_get_count() {
    preclean();
    let [a, b, c] = pygc::count();
    let x = list();
    let [d, e, f] = pygc::count();
    assert_eq!((b, c), (0, 0));
    assert_eq!((e, f), (0, 0));
    assert!(a < 5);
    assert!(d > a, "at least one object was created");
    drop(x);
}

/// test_gc.GCTests.test_collect_generations.
#[test]
fn test_collect_generations() {
    preclean();
    let x = list();
    pygc::collect_generation(0);
    let [_, b, c] = pygc::count();
    pygc::collect_generation(1);
    let [_, e, f] = pygc::count();
    pygc::collect_generation(2);
    let [_, h, i] = pygc::count();
    assert_eq!((b, c), (1, 0));
    assert_eq!((e, f), (0, 1));
    assert_eq!((h, i), (0, 0));
    drop(x);
}

/// test_gc.GCTests.test_get_stats.
#[test]
fn test_get_stats() {
    preclean();
    let _paused = pygc::pause();
    let old = pygc::stats();
    pygc::collect_generation(0);
    let new = pygc::stats();
    assert_eq!(new[0].collections, old[0].collections + 1);
    assert_eq!(new[1].collections, old[1].collections);
    assert_eq!(new[2].collections, old[2].collections);
    pygc::collect_generation(2);
    let new = pygc::stats();
    assert_eq!(new[0].collections, old[0].collections + 1);
    assert_eq!(new[1].collections, old[1].collections);
    assert_eq!(new[2].collections, old[2].collections + 1);
}

/// test_gc.GCTests.test_set_threshold / threshold 0 disables automatic
/// collection.
#[test]
fn test_threshold_zero() {
    preclean();
    pygc::set_threshold(0, 10, 10);
    let before = pygc::stats();
    for _ in 0..5000 {
        let l = list();
        l.append(&l);
    }
    assert_eq!(
        pygc::stats(),
        before,
        "no automatic collection at threshold 0"
    );
    assert_eq!(live(), 5000);
    assert_eq!(pygc::collect(), 5000, "manual collection still works");
    pygc::set_threshold(2000, 10, 10);
}

/// test_gc.GCTests.test_indirect_calls_with_gc_disabled: automatic
/// collection happens when enabled, never while disabled; `collect` works
/// in both states.
#[test]
fn test_indirect_calls_with_gc_disabled() {
    preclean();
    let happened = Rc::new(RefCell::new(false));
    let h = happened.clone();
    let id = pygc::add_callback(move |phase, _| {
        if phase == CollectPhase::Start {
            *h.borrow_mut() = true;
        }
    });
    let mut junk = Vec::new();
    let mut i = 0;
    while !*happened.borrow() {
        i += 1;
        assert!(i <= 10_000, "gc didn't happen after 10000 iterations");
        junk.push(list()); // this will eventually trigger gc
    }
    *happened.borrow_mut() = false;
    pygc::disable();
    for _ in 0..10_000 {
        junk.push(list());
    }
    assert!(
        !*happened.borrow(),
        "no automatic collection while disabled"
    );
    assert!(pygc::count()[0] > pygc::threshold()[0]);
    pygc::collect();
    assert!(*happened.borrow(), "explicit collect works while disabled");
    pygc::enable();
    pygc::remove_callback(id);
}

/// test_gc.GCTests.test_del: a finalizer that allocates, with threshold 1.
#[test]
fn test_del() {
    preclean();
    pygc::set_threshold(1, 10, 10);
    let a = instance();
    a.instance().del.set(Some(|inst| {
        // `dir(self)`: allocate while finalizing.
        let names = list();
        for _ in inst.attrs.borrow().keys() {
            names.append(&list());
        }
    }));
    a.set("x", &list());
    drop(a);
    pygc::disable();
    pygc::set_threshold(2000, 10, 10);
    pygc::enable();
    assert_eq!(live(), 0);
}

/// test_gc.GCTests.test_is_tracked: atoms are untracked, containers tracked.
#[test]
fn test_is_tracked() {
    assert!(!Gc::is_tracked(&Gc::new(1i64)));
    assert!(!Gc::is_tracked(&Gc::new(String::from("a"))));
    assert!(!Gc::is_tracked(&Gc::new(vec![1, 2, 3])));
    assert!(Gc::is_tracked(&list()));
    assert!(Gc::is_tracked(&dict()));
    assert!(
        Gc::is_tracked(&Gc::new(Value::Int(1))),
        "the type can hold a Gc"
    );
}

thread_local! {
    static STORAGE: RefCell<Option<Gc<Value>>> = const { RefCell::new(None) };
    static WEAK_SELF: RefCell<Option<Weak<Value>>> = const { RefCell::new(None) };
}

/// Gives `obj` a `__del__` that stores a new strong handle to it in
/// `STORAGE` (reached through a weak reference), resurrecting it.
fn resurrect_in_del(obj: &Gc<Value>) {
    WEAK_SELF.with(|w| *w.borrow_mut() = Some(Gc::downgrade(obj)));
    obj.instance().del.set(Some(|_| {
        let me = WEAK_SELF.with(|w| w.borrow().as_ref().and_then(Weak::upgrade));
        STORAGE.with(|s| *s.borrow_mut() = me);
    }));
}

/// Drops what `resurrect_in_del` kept.
fn release_resurrected() {
    STORAGE.with(|s| s.borrow_mut().take());
    WEAK_SELF.with(|w| *w.borrow_mut() = None);
}

/// test_gc.GCTests.test_is_finalized (Lazarus), on the cycle path: a
/// refcount-path finalizer cannot resurrect (the strong count is 0), so the
/// object is kept in a self-cycle here.
#[test]
fn test_is_finalized() {
    preclean();
    let lazarus = instance();
    lazarus.set("me", &lazarus);
    lazarus.set("weak_me", &list()); // unrelated attribute
    resurrect_in_del(&lazarus);
    assert!(!Gc::is_finalized(&lazarus));
    drop(lazarus);
    pygc::collect();
    let lazarus = STORAGE
        .with(|s| s.borrow_mut().take())
        .expect("resurrected");
    assert!(Gc::is_finalized(&lazarus));
    WEAK_SELF.with(|w| *w.borrow_mut() = None);
    lazarus.instance().attrs.borrow_mut().clear();
}

/// test_gc.GCTests.test_resurrection_only_happens_once_per_object.
#[test]
fn test_resurrection_only_happens_once_per_object() {
    preclean();
    let a = instance();
    a.set("me", &a);
    resurrect_in_del(&a);
    drop(a);
    let before = finalized();
    assert_eq!(pygc::collect(), 0, "resurrected");
    assert_eq!(finalized(), before + 1);
    release_resurrected();
    assert_eq!(pygc::collect(), 1, "collected the second time");
    assert_eq!(finalized(), before + 1, "no second __del__");
    assert_eq!(live(), 0);
}

/// test_gc.GCTests.test_resurrection_is_transitive.
#[test]
fn test_resurrection_is_transitive() {
    preclean();
    let a = instance();
    let b = instance();
    a.set("b", &b);
    b.set("a", &a);
    let c = list();
    b.set("c", &c);
    resurrect_in_del(&a);
    let weak_c = Gc::downgrade(&c);
    drop((a, b, c));
    assert_eq!(pygc::collect(), 0);
    assert!(
        weak_c.upgrade().is_some(),
        "reachable from the resurrected object"
    );
    release_resurrected();
    assert_eq!(pygc::collect(), 3);
    assert_eq!(live(), 0);
}

/// test_gc.GCTests.test_resurrection_does_not_block_cleanup_of_other_objects.
#[test]
fn test_resurrection_does_not_block_cleanup_of_other_objects() {
    preclean();
    let a = instance();
    a.set("me", &a);
    resurrect_in_del(&a);
    let x = list();
    let y = list();
    x.append(&y);
    y.append(&x);
    drop((a, x, y));
    assert_eq!(pygc::collect(), 2, "the independent cycle is freed");
    release_resurrected();
    assert_eq!(pygc::collect(), 1);
    assert_eq!(live(), 0);
}

/// test_gc: weak references to garbage are cleared — here after the
/// finalizers, so a finalizer can still reach its peer through a `Weak`.
#[test]
fn test_weakref_cleared_after_finalizers() {
    preclean();
    thread_local!(static PEER_SEEN: RefCell<bool> = const { RefCell::new(false) });
    let a = instance();
    let b = list();
    a.set("b", &b);
    b.append(&a);
    WEAK_SELF.with(|w| *w.borrow_mut() = Some(Gc::downgrade(&b)));
    a.instance().del.set(Some(|_| {
        let peer = WEAK_SELF.with(|w| w.borrow().as_ref().and_then(Weak::upgrade));
        PEER_SEEN.with(|p| *p.borrow_mut() = peer.is_some());
    }));
    let outside = Gc::downgrade(&a);
    drop((a, b));
    assert_eq!(pygc::collect(), 2);
    assert!(
        PEER_SEEN.with(|p| *p.borrow()),
        "the weak to the peer upgraded inside __del__"
    );
    assert!(
        outside.upgrade().is_none(),
        "cleared once the garbage is freed"
    );
    WEAK_SELF.with(|w| *w.borrow_mut() = None);
}

/// test_gc.GCTests.test_trashcan: deeply nested containers are freed
/// without overflowing the stack.
#[test]
fn test_trashcan() {
    preclean();
    let n = if cfg!(miri) { 200 } else { 100_000 };
    let mut top = list();
    for _ in 0..n {
        let outer = list();
        outer.append(&top);
        top = outer;
    }
    drop(top);
    assert_eq!(live(), 0);
}

/// test_gc.GCTests.test_freeze.
#[test]
fn test_freeze() {
    preclean();
    let keep = list();
    pygc::freeze();
    assert!(pygc::freeze_count() > 0);
    assert_eq!(pygc::count(), [0, 0, 0]);
    pygc::unfreeze();
    assert_eq!(pygc::freeze_count(), 0);
    drop(keep);
}

/// test_gc.GCCallbackTests.test_collect / test_collect_generation /
/// test_collect_garbage.
#[test]
fn test_gc_callbacks() {
    preclean();
    let visit = Rc::new(RefCell::new(Vec::new()));
    let v1 = visit.clone();
    let v2 = visit.clone();
    let id1 = pygc::add_callback(move |phase, info| v1.borrow_mut().push((1, phase, *info)));
    let id2 = pygc::add_callback(move |phase, info| v2.borrow_mut().push((2, phase, *info)));

    pygc::collect();
    let seen = visit.borrow().clone();
    assert_eq!(seen.iter().filter(|v| v.0 == 1).count(), 2);
    assert_eq!(seen.iter().filter(|v| v.0 == 2).count(), 2);
    assert_eq!(
        seen.iter().filter(|v| v.1 == CollectPhase::Start).count(),
        2
    );
    assert_eq!(seen.iter().filter(|v| v.1 == CollectPhase::Stop).count(), 2);
    assert_eq!(
        seen.iter().map(|v| v.0).collect::<Vec<_>>(),
        [1, 2, 1, 2],
        "registration order"
    );

    visit.borrow_mut().clear();
    pygc::collect_generation(1);
    assert!(visit.borrow().iter().all(|v| v.2.generation == 1));

    // test_collect_garbage: the Stop info reports what was collected.
    visit.borrow_mut().clear();
    for _ in 0..3 {
        let l = list();
        l.append(&l);
    }
    let collected = pygc::collect();
    assert_eq!(collected, 3);
    for v in visit.borrow().iter() {
        match v.1 {
            CollectPhase::Start => assert_eq!(v.2.collected, 0),
            CollectPhase::Stop => assert_eq!(v.2.collected, collected),
        }
        assert_eq!(v.2.uncollectable, 0);
    }
    assert!(pygc::remove_callback(id1));
    assert!(pygc::remove_callback(id2));
}

/// A callback added by a callback runs from the next phase on.
#[test]
fn test_callback_added_by_callback() {
    preclean();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let added = Rc::new(RefCell::new(None));
    let a = added.clone();
    let id = pygc::add_callback(move |phase, _| {
        l.borrow_mut().push(("outer", phase));
        if a.borrow().is_none() {
            let l2 = l.clone();
            *a.borrow_mut() = Some(pygc::add_callback(move |phase, _| {
                l2.borrow_mut().push(("inner", phase))
            }));
        }
    });
    pygc::collect();
    assert_eq!(
        *log.borrow(),
        [
            ("outer", CollectPhase::Start),
            ("outer", CollectPhase::Stop),
            ("inner", CollectPhase::Stop)
        ]
    );
    pygc::remove_callback(id);
    pygc::remove_callback(added.borrow_mut().take().unwrap());
}
