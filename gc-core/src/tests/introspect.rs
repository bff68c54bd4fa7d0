//! Introspection against hand-built graphs with known answers: objects,
//! referents, referrers, SAVEALL/garbage, census, backref chains, DOT.

use std::cell::{Cell, RefCell};

use super::node::{Node, PlainNode, take_dropped, take_finalized};
use crate::{
    AnyTrace, DebugFlags, Gc, backref_chain, census, census_growth, clear_garbage, collect, freeze,
    garbage, objects, referents, referrers, set_debug, to_dot, unfreeze, unsize,
};

fn reset() {
    set_debug(DebugFlags::empty());
    clear_garbage();
    collect();
    take_dropped();
    take_finalized();
}

/// Whether `list` holds `g`'s object.
fn holds<T: crate::Trace + 'static>(list: &[Gc<dyn AnyTrace>], g: &Gc<T>) -> bool {
    list.iter()
        .any(|o| core::ptr::addr_eq(Gc::as_ptr(o), Gc::as_ptr(g)))
}

fn ids(list: &[Gc<dyn AnyTrace>]) -> Vec<usize> {
    list.iter()
        .map(|o| o.clone().downcast::<PlainNode>().ok().unwrap().id)
        .collect()
}

#[test]
fn objects_lists_the_tracked_objects_of_a_generation() {
    reset();
    let a = PlainNode::plain(1);
    let b = PlainNode::plain(2);
    let leaf = Gc::new(5u64);
    let young = objects(Some(0));
    assert_eq!(ids(&young), [1, 2], "list order, untracked leaves left out");
    assert!(!holds(&young, &leaf));
    crate::collect_generation(0);
    assert!(objects(Some(0)).is_empty());
    assert_eq!(ids(&objects(Some(1))), [1, 2]);
    freeze();
    assert!(objects(None).is_empty(), "frozen objects are not listed");
    unfreeze();
    assert_eq!(objects(None).len(), 2);
    assert!(std::panic::catch_unwind(|| objects(Some(3))).is_err());
    drop((a, b));
}

#[test]
fn referents_and_referrers_follow_the_edges() {
    reset();
    let a = PlainNode::plain(1);
    let b = PlainNode::plain(2);
    let c = PlainNode::plain(3);
    a.link(&b);
    a.link(&c);
    a.link(&b);
    c.link(&b);
    assert_eq!(ids(&referents(&a)), [2, 3, 2], "visit order, repeats kept");
    assert!(referents(&b).is_empty());
    assert!(referents(&Gc::new(1u8)).is_empty());
    let mut referring = ids(&referrers(&b));
    referring.sort_unstable();
    assert_eq!(referring, [1, 3]);
    assert!(referrers(&a).is_empty());
    // A frozen referrer is not scanned.
    freeze();
    let d = PlainNode::plain(4);
    d.link(&c);
    assert_eq!(ids(&referrers(&c)), [4]);
    unfreeze();
    let mut referring = ids(&referrers(&c));
    referring.sort_unstable();
    assert_eq!(referring, [1, 4]);
}

#[test]
fn saveall_keeps_garbage_unfinalized_until_cleared() {
    reset();
    let a = Node::new(1);
    let b = Node::new(2);
    a.link(&b);
    b.link(&a);
    let weak = Gc::downgrade(&a);
    drop((a, b));
    set_debug(DebugFlags::SAVEALL);
    assert_eq!(collect(), 2, "saved objects count as collected");
    assert!(take_finalized().is_empty() && take_dropped().is_empty());
    assert!(
        weak.upgrade().is_some(),
        "kept alive, weak references intact"
    );
    let saved = garbage();
    assert_eq!(saved.len(), 2);
    assert!(Gc::type_name(&saved[0]).contains("Node"));
    // Still garbage: the next collection saves nothing new (held by the list).
    assert_eq!(collect(), 0);
    set_debug(DebugFlags::empty());
    drop(saved);
    clear_garbage();
    assert!(garbage().is_empty());
    assert_eq!(collect(), 2, "a cycle again, collected normally");
    assert_eq!(take_finalized(), [1, 2]);
    assert_eq!(take_dropped(), [1, 2]);

    // Saved objects leave the graph pass clean: cleared right away, they
    // are collected by the next collection (the trace verifier would trip
    // over a stale mark or count).
    let c = Node::new(3);
    c.link(&c);
    drop(c);
    set_debug(DebugFlags::SAVEALL);
    assert_eq!(collect(), 1);
    set_debug(DebugFlags::empty());
    clear_garbage();
    assert_eq!(collect(), 1);
    assert_eq!(take_dropped(), [3]);
}

#[test]
fn census_counts_types_and_growth() {
    reset();
    let kept: Vec<_> = (0..3).map(PlainNode::plain).collect();
    let count = |name: &str| {
        census()
            .iter()
            .find(|(n, _)| n.ends_with(name))
            .map_or(0, |&(_, c)| c)
    };
    assert_eq!(count("Node<false>"), 3);
    census_growth();
    let more: Vec<_> = (10..15).map(PlainNode::plain).collect();
    let growth = census_growth();
    let node = growth
        .iter()
        .find(|(n, ..)| n.ends_with("Node<false>"))
        .unwrap();
    assert_eq!((node.1, node.2), (8, 5));
    drop(more);
    let shrink = census_growth();
    let node = shrink
        .iter()
        .find(|(n, ..)| n.ends_with("Node<false>"))
        .unwrap();
    assert_eq!((node.1, node.2), (3, -5));
    assert!(census_growth().is_empty(), "nothing changed since");
    drop(kept);
}

#[test]
fn backref_chain_finds_the_nearest_root() {
    reset();
    let target = PlainNode::plain(1);
    let mid = PlainNode::plain(2);
    mid.link(&target);
    let registry = PlainNode::plain(3);
    registry.link(&mid);
    let far = PlainNode::plain(4); // a longer way in, through a cycle
    far.link(&registry);
    drop(mid);
    // (The chain's handles are dropped at once: held, they would be roots.)
    let chain = ids(&backref_chain(&target, 10).unwrap());
    assert_eq!(chain, [3, 2, 1], "root, .., target");
    assert!(
        backref_chain(&target, 1).is_none(),
        "the root is 2 references away"
    );
    // The target itself held from the stack by a second handle is a root.
    let second = target.clone();
    assert_eq!(ids(&backref_chain(&target, 0).unwrap()), [1]);
    drop(second);
    // Garbage has no root.
    let g1 = PlainNode::plain(5);
    let g2 = PlainNode::plain(6);
    g1.link(&g2);
    g2.link(&g1);
    let weak = Gc::downgrade(&g1);
    drop((g1, g2));
    let g1 = weak.upgrade().unwrap();
    assert!(backref_chain(&g1, 10).is_none());
    drop((g1, target, registry, far));
    collect();
}

#[test]
fn to_dot_draws_nodes_edges_roots_and_garbage() {
    reset();
    let a = PlainNode::plain(1);
    let b = PlainNode::plain(2);
    a.link(&b);
    b.link(&a);
    let c = PlainNode::plain(3);
    b.link(&c);
    let dot = to_dot(&[unsize!(a.clone() => dyn AnyTrace)], 10);
    let lines: Vec<&str> = dot.lines().collect();
    assert!(lines[0].starts_with("digraph"));
    let nodes: Vec<&&str> = lines.iter().filter(|l| l.contains("label=")).collect();
    assert_eq!(nodes.len(), 3, "{dot}");
    assert!(nodes.iter().all(|l| l.contains("Node<false>")));
    assert_eq!(
        lines.iter().filter(|l| l.contains(" -> ")).count(),
        3,
        "{dot}"
    );
    assert_eq!(lines.iter().filter(|l| l.contains("lightblue")).count(), 1);
    assert!(!dot.contains("salmon"), "everything is reachable: {dot}");
    // Drop the outside handles: a, b, c are garbage now.
    let weak = Gc::downgrade(&a);
    drop((a, b, c));
    let a = weak.upgrade().unwrap();
    let dot = to_dot(&[unsize!(a => dyn AnyTrace)], 10);
    assert_eq!(
        dot.matches("salmon").count(),
        2,
        "b and c are garbage: {dot}"
    );
    collect();
}

thread_local! {
    static SEEN_DURING_FINALIZER: Cell<Option<(usize, usize, bool)>> = const { Cell::new(None) };
}

/// Introspection from a finalizer is sound; the garbage being finalized is
/// on the collector's own list, not in any generation.
#[test]
fn introspection_works_inside_a_finalizer() {
    reset();
    let keep = PlainNode::plain(100);
    let a = Node::new(1);
    a.link(&a);
    a.on_finalize.set(Some(|node| {
        let all = objects(None);
        let in_lists = all
            .iter()
            .any(|o| core::ptr::addr_eq(Gc::as_ptr(o), node as *const Node));
        let refs = node
            .edges
            .borrow()
            .first()
            .map_or(0, |me| referents(me).len());
        SEEN_DURING_FINALIZER.with(|s| s.set(Some((all.len(), refs, in_lists))));
        let _ = (census(), to_dot(&all, 3));
    }));
    drop(a);
    assert_eq!(collect(), 1);
    let (listed, refs, in_lists) = SEEN_DURING_FINALIZER.with(Cell::get).unwrap();
    assert_eq!(listed, 1, "only `keep`");
    assert_eq!(refs, 1, "the garbage's own edge is still traceable");
    assert!(!in_lists);
    drop(keep);
}

#[test]
fn dyn_objects_are_listed_with_their_concrete_type() {
    reset();
    let any: Gc<dyn AnyTrace> = unsize!(PlainNode::plain(9) => dyn AnyTrace);
    let all = objects(None);
    assert_eq!(all.len(), 1);
    assert!(core::ptr::addr_eq(Gc::as_ptr(&all[0]), Gc::as_ptr(&any)));
    assert_eq!(ids(&all), [9]);
    let _ = RefCell::new(()); // keep the import used under every cfg
}

/// From a callback and from a `Drop` running inside a collection.
#[test]
fn introspection_works_from_callbacks_and_drops() {
    reset();
    thread_local! {
        static SEEN: Cell<usize> = const { Cell::new(0) };
    }
    let keep = PlainNode::plain(50);
    let id = crate::add_callback(|_, _| {
        let listed = objects(None).len();
        let growth = census_growth().len();
        SEEN.with(|s| s.set(s.get() + listed + growth));
    });
    let a = PlainNode::plain(1);
    a.link(&a);
    a.on_drop.set(Some(|node| {
        // The value is being dropped: its edges are still there to read.
        let referring = node
            .edges
            .borrow()
            .first()
            .map_or(0, |e| referrers(e).len());
        SEEN.with(|s| s.set(s.get() + 1000 + referring));
    }));
    drop(a);
    assert_eq!(collect(), 1);
    assert!(crate::remove_callback(id));
    assert!(
        SEEN.with(Cell::get) >= 1000,
        "the Drop ran its introspection"
    );
    assert_eq!(take_dropped(), [1]);
    drop(keep);
}
