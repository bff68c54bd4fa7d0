//! A tree with parent pointers, built two ways: with `Weak` parents
//! (Python's `weakref.ref(parent)`), which make no cycle, so dropping the
//! root frees the whole tree by refcounting at once; and with strong
//! parents, where every child and its parent form a cycle that only the
//! cycle collector (`pygc::collect()`, Python's `gc.collect()`) frees.
//! `pygc::stats()` (`gc.get_stats()`) before and after shows the difference.
//!
//! Run with `cargo run --release --example tree`.

use std::cell::RefCell;

use pygc::{Gc, Trace, Weak};

const CHILDREN: usize = 100;
const GRANDCHILDREN: usize = 100;
const NODES: usize = 1 + CHILDREN + CHILDREN * GRANDCHILDREN;

/// A node whose parent is a weak reference: no edge for the collector, no
/// cycle.
#[derive(Trace)]
struct WeakParentNode {
    name: String,
    parent: Weak<WeakParentNode>,
    children: RefCell<Vec<Gc<WeakParentNode>>>,
}

/// A node whose parent is a strong reference: parent <-> child cycles.
#[derive(Trace)]
struct StrongParentNode {
    name: String,
    parent: Option<Gc<StrongParentNode>>,
    children: RefCell<Vec<Gc<StrongParentNode>>>,
}

fn weak_child(parent: &Gc<WeakParentNode>, name: String) -> Gc<WeakParentNode> {
    let child = Gc::new(WeakParentNode {
        name,
        parent: Gc::downgrade(parent),
        children: RefCell::default(),
    });
    parent.children.borrow_mut().push(child.clone());
    child
}

fn strong_child(parent: &Gc<StrongParentNode>, name: String) -> Gc<StrongParentNode> {
    let child = Gc::new(StrongParentNode {
        name,
        parent: Some(parent.clone()),
        children: RefCell::default(),
    });
    parent.children.borrow_mut().push(child.clone());
    child
}

/// Collections run and objects collected so far, over all generations.
fn totals() -> (usize, usize) {
    pygc::stats().iter().fold((0, 0), |(runs, found), s| {
        (runs + s.collections, found + s.collected)
    })
}

fn main() {
    println!("1. A tree of {NODES} nodes whose parents are Weak");
    let root = Gc::new(WeakParentNode {
        name: "root".into(),
        parent: Weak::new(),
        children: RefCell::default(),
    });
    let mut leaf = None;
    for i in 0..CHILDREN {
        let child = weak_child(&root, format!("c{i}"));
        for j in 0..GRANDCHILDREN {
            leaf = Some(weak_child(&child, format!("c{i}.{j}")));
        }
    }
    let leaf = leaf.expect("a leaf");
    let parent = leaf.parent.upgrade().expect("a live parent");
    let grandparent = parent.parent.upgrade().expect("a live grandparent");
    println!(
        "    {}'s parent is {}, its parent is {}",
        leaf.name, parent.name, grandparent.name
    );
    let watch = Gc::downgrade(&leaf);
    drop((leaf, parent, grandparent));

    let before = totals();
    drop(root);
    let after = totals();
    println!(
        "    dropped the root: the leaf is alive = {}; collections run: {}, objects collected: {}",
        watch.upgrade().is_some(),
        after.0 - before.0,
        after.1 - before.1
    );
    println!("    weak parents: freed by refcounting at once, no collection needed");

    println!("2. The same tree with strong parents: a cycle per child");
    let root = Gc::new(StrongParentNode {
        name: "root".into(),
        parent: None,
        children: RefCell::default(),
    });
    let mut leaf = None;
    for i in 0..CHILDREN {
        let child = strong_child(&root, format!("c{i}"));
        for j in 0..GRANDCHILDREN {
            leaf = Some(strong_child(&child, format!("c{i}.{j}")));
        }
    }
    let leaf = leaf.expect("a leaf");
    let parent = leaf.parent.clone().expect("a parent");
    println!(
        "    {}'s parent is {}, its parent is {}",
        leaf.name,
        parent.name,
        parent.parent.as_ref().expect("a grandparent").name
    );
    let watch = Gc::downgrade(&leaf);
    drop((leaf, parent));

    let before = totals();
    drop(root);
    println!(
        "    dropped the root: the leaf is alive = {} (every child keeps its parent alive, and back)",
        watch.upgrade().is_some()
    );
    let freed = pygc::collect();
    let after = totals();
    println!(
        "    pygc::collect() freed {freed} nodes; the leaf is alive = {}",
        watch.upgrade().is_some()
    );
    println!(
        "    strong parents: collections run: {}, objects collected: {}",
        after.0 - before.0,
        after.1 - before.1
    );

    println!("3. pygc::stats() now (gc.get_stats())");
    for (generation, s) in pygc::stats().iter().enumerate() {
        println!(
            "    generation {generation}: {} collections, {} objects collected",
            s.collections, s.collected
        );
    }
}
