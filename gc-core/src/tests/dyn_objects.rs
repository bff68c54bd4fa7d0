//! Trait objects: `Gc<dyn Trait>` from `unsize!`, `Box<dyn Trait>` edges,
//! `AnyTrace` downcasts. A `dyn` handle's object behaves exactly like the
//! concrete one it came from (collection, finalizer, drop, memory).

use core::cell::{Cell, RefCell};

use crate::{AnyTrace, Finalize, Gc, Trace, Tracer, Weak, collect, heap_stats, unsize};

thread_local! {
    static FINALIZED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    static DROPPED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

fn take(log: &'static std::thread::LocalKey<RefCell<Vec<u32>>>) -> Vec<u32> {
    let mut ids = log.with(|l| core::mem::take(&mut *l.borrow_mut()));
    ids.sort_unstable();
    ids
}

trait Shape: Trace {
    fn id(&self) -> u32;
    /// Links this shape to another (no-op for shapes without edges).
    fn link(&self, _to: Gc<dyn Shape>) {}
}

/// A leaf shape: untracked.
struct Circle(u32);

// SAFETY: owns no `Gc`.
unsafe impl Trace for Circle {
    fn trace(&self, _: &mut Tracer) {}
    fn may_contain_gc() -> bool {
        false
    }
    fn has_finalizer() -> bool {
        false
    }
}

impl Shape for Circle {
    fn id(&self) -> u32 {
        self.0
    }
}

impl Drop for Circle {
    fn drop(&mut self) {
        DROPPED.with(|d| d.borrow_mut().push(self.0));
    }
}

/// A shape with `dyn` edges and a finalizer.
struct Group {
    id: u32,
    members: RefCell<Vec<Gc<dyn Shape>>>,
    boxed: RefCell<Vec<Box<dyn Shape>>>,
}

impl Group {
    fn new(id: u32) -> Gc<Group> {
        Gc::new(Group {
            id,
            members: RefCell::new(Vec::new()),
            boxed: RefCell::new(Vec::new()),
        })
    }
}

// SAFETY: visits the `Gc`s it owns (directly and through the boxes) once.
unsafe impl Trace for Group {
    fn trace(&self, tracer: &mut Tracer) {
        self.members.trace(tracer);
        self.boxed.trace(tracer);
    }
    fn run_finalizer(&self) {
        self.finalize();
    }
}

impl Finalize for Group {
    fn finalize(&self) {
        FINALIZED.with(|f| f.borrow_mut().push(self.id));
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        DROPPED.with(|d| d.borrow_mut().push(self.id));
    }
}

impl Shape for Group {
    fn id(&self) -> u32 {
        self.id
    }
    fn link(&self, to: Gc<dyn Shape>) {
        self.members.borrow_mut().push(to);
    }
}

/// A boxed shape that points back into the heap.
struct Pointer(Gc<dyn Shape>);

// SAFETY: visits its one `Gc`.
unsafe impl Trace for Pointer {
    fn trace(&self, tracer: &mut Tracer) {
        self.0.trace(tracer);
    }
    fn has_finalizer() -> bool {
        false
    }
}

impl Shape for Pointer {
    fn id(&self) -> u32 {
        self.0.id()
    }
}

fn reset() {
    collect();
    take(&FINALIZED);
    take(&DROPPED);
}

#[test]
fn a_dyn_handle_keeps_the_concrete_objects_tracking() {
    reset();
    let circle: Gc<dyn Shape> = unsize!(Gc::new(Circle(1)) => dyn Shape);
    assert!(
        !Gc::is_tracked(&circle),
        "a leaf stays untracked behind dyn"
    );
    let group: Gc<dyn Shape> = unsize!(Group::new(2) => dyn Shape);
    assert!(Gc::is_tracked(&group));
    assert_eq!(circle.id() + group.id(), 3);
    drop((circle, group));
    assert_eq!(take(&FINALIZED), [2], "the concrete finalizer ran");
    assert_eq!(take(&DROPPED), [1, 2]);
}

#[test]
fn cycles_through_dyn_edges_are_collected_and_finalized() {
    reset();
    let a = Group::new(10);
    let b = Group::new(11);
    a.link(unsize!(b.clone() => dyn Shape));
    b.link(unsize!(a.clone() => dyn Shape));
    // A third group reached only through a `Box<dyn Shape>` edge.
    let c = Group::new(12);
    c.boxed
        .borrow_mut()
        .push(Box::new(Pointer(unsize!(a.clone() => dyn Shape))));
    a.boxed
        .borrow_mut()
        .push(Box::new(Pointer(unsize!(c.clone() => dyn Shape))));
    drop((a, b, c));
    assert_eq!(collect(), 3);
    assert_eq!(take(&FINALIZED), [10, 11, 12]);
    assert_eq!(take(&DROPPED), [10, 11, 12]);
}

#[test]
fn weak_handles_unsize_too() {
    reset();
    let group = Group::new(20);
    let weak: Weak<dyn Shape> = unsize!(Gc::downgrade(&group) => dyn Shape);
    assert_eq!(weak.upgrade().map(|g| g.id()), Some(20));
    let dangling: Weak<dyn Shape> = unsize!(Weak::<Circle>::new() => dyn Shape);
    assert!(dangling.upgrade().is_none());
    drop(group);
    assert!(weak.upgrade().is_none());
    assert_eq!(take(&DROPPED), [20]);
}

/// The last `Weak` frees an untracked `dyn` object's block with the layout
/// of its concrete type, recorded before the value went.
#[test]
fn weak_outliving_an_untracked_dyn_value_frees_its_block() {
    reset();
    let before = heap_stats().bytes_in_use;
    let shape: Gc<dyn Shape> = unsize!(Gc::new(Circle(30)) => dyn Shape);
    let weak = Gc::downgrade(&shape);
    drop(shape);
    assert_eq!(take(&DROPPED), [30]);
    assert!(heap_stats().bytes_in_use > before);
    drop(weak);
    assert_eq!(heap_stats().bytes_in_use, before);
}

#[test]
fn any_trace_downcasts_and_names_types() {
    reset();
    let objects: Vec<Gc<dyn AnyTrace>> = vec![
        unsize!(Gc::new(7u64) => dyn AnyTrace),
        unsize!(Group::new(40) => dyn AnyTrace),
    ];
    assert_eq!(Gc::type_name(&objects[0]), "u64");
    assert!(Gc::type_name(&objects[1]).ends_with("dyn_objects::Group"));
    let group = objects[1].clone().downcast::<Group>().ok().unwrap();
    assert_eq!(group.id, 40);
    assert!(objects[0].clone().downcast::<Group>().is_err());
    assert_eq!(*objects[0].clone().downcast::<u64>().ok().unwrap(), 7);
    drop((objects, group));
    assert_eq!(take(&DROPPED), [40]);
}

/// A `dyn` handle smuggled out of a collected cycle by a `Drop` is a
/// zombie like any other: its type is still known, its value is not
/// readable, and it does not downcast.
#[test]
fn a_dyn_zombie_is_safe() {
    thread_local! {
        static SMUGGLED: RefCell<Option<Gc<dyn AnyTrace>>> = const { RefCell::new(None) };
    }
    struct Smuggler {
        peer: RefCell<Option<Gc<dyn AnyTrace>>>,
        armed: Cell<bool>,
    }
    // SAFETY: visits its one `Gc`.
    unsafe impl Trace for Smuggler {
        fn trace(&self, tracer: &mut Tracer) {
            self.peer.trace(tracer);
        }
        fn has_finalizer() -> bool {
            false
        }
    }
    impl Drop for Smuggler {
        fn drop(&mut self) {
            if self.armed.get() {
                SMUGGLED.with(|s| *s.borrow_mut() = self.peer.borrow().clone());
            }
        }
    }
    reset();
    let a = Gc::new(Smuggler {
        peer: RefCell::new(None),
        armed: Cell::new(true),
    });
    let b = Gc::new(Smuggler {
        peer: RefCell::new(Some(unsize!(a.clone() => dyn AnyTrace))),
        armed: Cell::new(true),
    });
    *a.peer.borrow_mut() = Some(unsize!(b.clone() => dyn AnyTrace));
    drop((a, b));
    assert_eq!(collect(), 2);
    let zombie = SMUGGLED.with(|s| s.borrow_mut().take()).unwrap();
    assert!(Gc::try_deref(&zombie).is_none());
    assert!(Gc::type_name(&zombie).ends_with("Smuggler"));
    assert!(zombie.downcast::<u8>().is_err());
}

/// A `Gc<dyn AnyTrace>` made from a box is tracked whatever its concrete
/// type, so a `Gc<u64>` downcast from it is a tracked `u64`: its last drop
/// must take the tracked path (unlink, free the block with the prefix),
/// not `Gc<u64>`'s inline untracked one.
#[test]
fn a_tracked_leaf_from_a_downcast_dies_as_tracked() {
    let before = heap_stats().blocks();
    let number = super::node::tracked_u64(11);
    assert_eq!(*number, 11);
    drop(number);
    assert_eq!(heap_stats().blocks(), before);
    // Had it stayed on its generation list, this would walk a freed block.
    collect();
    // The untracked leaf paths: no `Weak` left (inline), and a `Weak` left
    // (its block waits for it).
    let plain = Gc::new(String::from("plain"));
    let watched = Gc::new(String::from("watched"));
    let weak = Gc::downgrade(&watched);
    drop((plain, watched));
    assert!(weak.upgrade().is_none());
    assert_eq!(heap_stats().blocks(), before + 1);
    drop(weak);
    assert_eq!(heap_stats().blocks(), before);
}
