//! `Gc::get_mut`/`make_mut` and the `GcMut` guard: while it lives the
//! collector never reads the value (under Miri, tracing it would alias the
//! `&mut`); raw-pointer round trips; `unwrap_or_clone`.

use super::node::{Node, PlainNode, take_dropped};
use crate::{AnyTrace, Gc, Weak, collect, set_threshold, stats, unsize};

/// Small thresholds for the test, the defaults again when it ends.
struct Thresholds;

impl Drop for Thresholds {
    fn drop(&mut self) {
        set_threshold(2000, 10, 10);
    }
}

#[test]
fn get_mut_needs_the_only_handle() {
    let mut a = Gc::new(5u32);
    *Gc::get_mut(&mut a).unwrap() += 1;
    assert_eq!(*a, 6);
    let b = a.clone();
    assert!(Gc::get_mut(&mut a).is_none(), "another strong handle");
    drop(b);
    let w = Gc::downgrade(&a);
    assert!(Gc::get_mut(&mut a).is_none(), "a weak handle");
    drop(w);
    assert!(Gc::get_mut(&mut a).is_some());
}

/// The dumpster#31 hole: a `&mut` to a value, and a collection (started by
/// a `Gc::new` made through that `&mut`) that includes the object. The
/// collector must not trace the lent value; what it owns stays alive.
#[test]
fn a_collection_while_the_value_is_lent_does_not_read_it() {
    collect();
    take_dropped();
    let _thresholds = Thresholds;
    set_threshold(1, 1, 1);
    let mut owner = PlainNode::plain(1);
    let before = stats().iter().map(|s| s.collections).sum::<usize>();
    {
        let mut guard = Gc::get_mut(&mut owner).unwrap();
        let edges = guard.edges.get_mut();
        for id in 2..(if cfg!(miri) { 12 } else { 200 }) {
            // Each allocation may run an automatic collection of every
            // generation, `owner` included.
            edges.push(PlainNode::plain(id));
            collect();
        }
    }
    assert!(stats().iter().map(|s| s.collections).sum::<usize>() > before);
    assert!(
        take_dropped().is_empty(),
        "what the lent value owns survived"
    );
    assert_eq!(
        owner.edges.borrow().len(),
        if cfg!(miri) { 10 } else { 198 }
    );
    // The guard is gone: the value is traced again and a cycle through it
    // is found.
    let last = owner.edges.borrow().last().unwrap().clone();
    last.link(&owner);
    drop((owner, last));
    assert!(collect() > 0);
    assert!(!take_dropped().is_empty());
}

/// A forgotten guard leaves the value's edges hidden: a leak, never a
/// wrong free.
#[test]
fn a_forgotten_guard_only_hides_edges() {
    collect();
    take_dropped();
    let mut a = Node::new(1);
    core::mem::forget(Gc::get_mut(&mut a).unwrap());
    let b = Node::new(2);
    a.link(&b);
    b.link(&a);
    let weak = Gc::downgrade(&a);
    drop((a, b));
    assert_eq!(collect(), 0, "the cycle through the hidden value leaks");
    assert!(take_dropped().is_empty());
    // Break it by hand: refcounting still frees a lent object.
    weak.upgrade().unwrap().edges.borrow_mut().clear();
    assert_eq!(take_dropped(), [1, 2]);
}

#[test]
fn make_mut_clones_shared_values_and_disassociates_weaks() {
    let mut a = Gc::new(String::from("spam"));
    let b = a.clone();
    Gc::make_mut(&mut a).push('!');
    assert_eq!((a.as_str(), b.as_str()), ("spam!", "spam"));
    assert!(!Gc::ptr_eq(&a, &b));
    let weak = Gc::downgrade(&a);
    Gc::make_mut(&mut a).push('?');
    assert_eq!(&*a, "spam!?");
    assert!(
        weak.upgrade().is_none(),
        "the weak handle kept the old object"
    );
    let unique = Gc::as_ptr(&a);
    Gc::make_mut(&mut a).push('.');
    assert_eq!(Gc::as_ptr(&a), unique, "no clone when unique");
}

#[test]
fn unwrap_or_clone_moves_or_clones() {
    let a = Gc::new(vec![1, 2]);
    let b = a.clone();
    assert_eq!(Gc::unwrap_or_clone(a), [1, 2]);
    assert_eq!(Gc::unwrap_or_clone(b), [1, 2]);
}

#[test]
fn raw_round_trips_keep_the_counts() {
    take_dropped();
    let node = Node::new(7);
    let other = node.clone();
    let raw = Gc::into_raw(node);
    assert_eq!(Gc::strong_count(&other), 2);
    // SAFETY: `raw` came from `Gc::into_raw` and is used once.
    let node = unsafe { Gc::from_raw(raw) };
    assert!(Gc::ptr_eq(&node, &other));

    let any = unsize!(node => dyn AnyTrace);
    let raw_any = Gc::into_raw(any);
    // SAFETY: as above, same type.
    let any = unsafe { Gc::from_raw(raw_any) };
    assert!(Gc::type_name(&any).ends_with("Node"));
    drop((any, other));
    assert_eq!(take_dropped(), [7]);

    let text: Gc<str> = Gc::from("raw");
    // SAFETY: as above.
    let text = unsafe { Gc::from_raw(Gc::into_raw(text)) };
    assert_eq!(&*text, "raw");

    let strong = Gc::new(3u64);
    let raw_weak = Weak::into_raw(Gc::downgrade(&strong));
    // SAFETY: `raw_weak` came from `Weak::into_raw` and is used once.
    let weak = unsafe { Weak::from_raw(raw_weak) };
    assert_eq!(weak.upgrade().map(|g| *g), Some(3));
    let dangling = Weak::into_raw(Weak::<u64>::new());
    // SAFETY: as above.
    assert!(unsafe { Weak::from_raw(dangling) }.upgrade().is_none());
}
